//! The requantization of a folded ReLU's outputs with one rounding instead of two: where an
//! output's clamp starts at or above its zero point and every lane shifts right (by at most
//! 23), TFLite's two roundings (the doubling high multiply, then the division by `2^right`)
//! give the bytes of a single floor division, with the zero point in its constants: seven
//! vector operations before the clamp, where [`super::requant16`] takes fourteen and adds the
//! zero point after it.
//! Used where the requantization dominates, the dense layers of a batch (M1's: 16 to 64 inputs
//! per output), with the constants derived on each call ([`once`]), and the one-sample dense
//! layer, with the constants the twin derived when it was built ([`prepared`],
//! `simd::Prep::once`; M1 (a) on a Zen 4: 143 -> 137 ns; derived on each call it had been
//! slower, 145 -> 156 ns on an Ice Lake and 143 -> 151 on the Zen 4, and so was a choice between
//! the two requantizations after the accumulation, whose registers then spilled). Tried in
//! every kernel (its constants then kept beside [`Rq16`]'s), the convolutions and M4's lanes
//! kernel ran slower (M2's batch 550 -> 570, M4's 1,860 -> 1,960 ns/sample); in the fused head,
//! with a correction for negative values (the logits are not clamped at their zero point), M1
//! (a) went from 137 to 140 ns.

use core::arch::x86_64::*;

use super::super::Requant;
use super::Rq16;

/// [`Rq16`]'s multipliers and the single rounding's constants (no left shift: every lane
/// shifts right), the output's zero point folded in.
#[derive(Clone, Copy)]
pub(in super::super) struct Once {
    m: __m512i,
    m_odd: __m512i,
    /// `2^30 + 2^(30 + right) + zero_point 2^(31 + right)` for the even and the odd lanes, as
    /// 64-bit lanes.
    k_even: __m512i,
    k_odd: __m512i,
    /// `right - 1` per lane.
    r_minus_1: __m512i,
}

/// The largest right shift [`once`] takes: with it, `|x m| < 2^62` plus the constants
/// (`|zero_point| 2^(31 + right) <= 2^61`) stays below `2^63`.
const MAX_RIGHT: i32 = 23;

/// The single rounding for requantization `p` of the output of `rq`, lanes `k`: `None` unless
/// the output is clamped at or above its zero point and every lane of `k` shifts right, by
/// at most [`MAX_RIGHT`].
#[target_feature(enable = "avx512f")]
#[inline]
pub(in super::super) fn once(p: &Rq16, rq: &Requant<'_>, k: __mmask16) -> Option<Once> {
    let one = _mm512_set1_epi32(1);
    let out_of_range = _mm512_mask_cmplt_epi32_mask(k, p.right, one)
        | _mm512_mask_cmpgt_epi32_mask(k, p.right, _mm512_set1_epi32(MAX_RIGHT));
    if rq.out.range.0 < rq.out.zero_point || out_of_range != 0 {
        return None;
    }
    let r_minus_1 = _mm512_sub_epi32(p.right, one);
    // Per 64-bit lane, from the right shift `r` of its low (even) or high (odd) half:
    // 2^30 + 2^(30 + r) + zero_point 2^(31 + r).
    let low = _mm512_set1_epi64(0xFFFF_FFFF);
    let constants = |r: __m512i| {
        let (nudge, one64) = (_mm512_set1_epi64(1 << 30), _mm512_set1_epi64(1));
        let half = _mm512_sllv_epi64(one64, _mm512_add_epi64(r, _mm512_set1_epi64(30)));
        let zero_point = _mm512_sllv_epi64(
            _mm512_set1_epi64(rq.out.zero_point as i64),
            _mm512_add_epi64(r, _mm512_set1_epi64(31)),
        );
        _mm512_add_epi64(_mm512_add_epi64(nudge, half), zero_point)
    };
    Some(Once {
        m: p.m,
        m_odd: p.m_odd,
        k_even: constants(_mm512_and_si512(p.right, low)),
        k_odd: constants(_mm512_srli_epi64::<32>(p.right)),
        r_minus_1,
    })
}

/// [`once`] from the prepared constants of the group of outputs `o..o + m` (`k` the mask of
/// its `m <= 16` first lanes, `p` their [`Rq16`]; `constants` as `simd::Prep::once` keeps them,
/// the even outputs' first): two loads instead of the arithmetic.
///
/// # Safety
/// The group's `m` constants exist in `constants` from `o`; every output shifts right (the
/// constants' contract).
#[target_feature(enable = "avx512f")]
#[inline]
pub(in super::super) unsafe fn prepared(
    p: &Rq16,
    constants: &[i64],
    o: usize,
    k: __mmask16,
) -> Once {
    let n = k.count_ones();
    let even = n.div_ceil(2);
    // SAFETY: masked to the group's `n` constants, which exist (this function's contract).
    let (k_even, k_odd) = unsafe {
        (
            _mm512_maskz_loadu_epi64(((1u32 << even) - 1) as __mmask8, constants.as_ptr().add(o)),
            _mm512_maskz_loadu_epi64(
                ((1u32 << (n / 2)) - 1) as __mmask8,
                constants.as_ptr().add(o + even as usize),
            ),
        )
    };
    Once {
        m: p.m,
        m_odd: p.m_odd,
        k_even,
        k_odd,
        r_minus_1: _mm512_sub_epi32(p.right, _mm512_set1_epi32(1)),
    }
}

/// [`super::requant16`] with one rounding, before the clamp: the requantized value plus the
/// zero point (the same bytes, clamped to the output's range, where [`once`] gave `p`).
///
/// With x the accumulator (a right shift leaves it as it is), h = floor((x m + 2^30) / 2^31)
/// (the doubling high multiply) and right >= 1, a
/// non-negative h divided by 2^right rounding halves up is floor((h + 2^(right - 1)) / 2^right),
/// which is floor(v / 2^(31 + right)) for v = x m + 2^30 + 2^(30 + right): the high half of v
/// (floor(v / 2^32); |x m| < 2^62, so v < 2^63) shifted right by `right - 1`. A negative h
/// gives a negative v, kept negative by the shift: clamped to `lo >= 0`, as the two roundings'
/// result is (h + 2^(right - 1) < 2^right, so it is at most 0). The zero point `z` joins as
/// `z 2^(31 + right)` in v (an integer multiple of the divisor: floor(v / d) + z exactly).
#[target_feature(enable = "avx512f")]
#[inline]
pub(in super::super) fn requant16_once(acc: __m512i, p: &Once) -> __m512i {
    let even = _mm512_add_epi64(_mm512_mul_epi32(acc, p.m), p.k_even);
    let odd = _mm512_add_epi64(
        _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(acc), p.m_odd),
        p.k_odd,
    );
    let high = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    let v = _mm512_permutex2var_epi32(even, high, odd);
    _mm512_srav_epi32(v, p.r_minus_1)
}

#[cfg(test)]
mod tests {
    use super::super::super::super::fixed;
    use super::super::super::{Isa8, Rounding};
    use super::super::{requant16, rq_lanes};
    use super::*;
    use crate::quant::ops::Output;

    /// Both requantizations of `acc` (16 lanes, multipliers `m`, shifts `shift`) against the
    /// scalar one, for an output with zero point `zp` clamped to `[lo, 127]`; returns how
    /// many lanes took the single rounding.
    fn check(acc: [i32; 16], m: [i32; 16], shift: [i32; 16], zp: i32, lo: i32) -> usize {
        let out = Output {
            zero_point: zp,
            range: (lo, 127),
        };
        let rq = Requant {
            multiplier: &m,
            shift: &shift,
            exact: &[],
            rounding: Rounding::FixedPoint,
            out,
            prep: None,
        };
        // SAFETY: the caller checked the CPU (AVX-512F); all 16 lanes exist.
        let (twice, once_) = unsafe {
            let p = rq_lanes(&rq, 0, 0xFFFF);
            let v = _mm512_loadu_si512(acc.as_ptr() as *const __m512i);
            let zpv = _mm512_set1_epi32(zp);
            let (lo_v, hi_v) = (_mm512_set1_epi32(lo - zp), _mm512_set1_epi32(127 - zp));
            let mut twice = [0i32; 16];
            let r = requant16(v, &p, zpv, lo_v, hi_v);
            _mm512_storeu_si512(twice.as_mut_ptr() as *mut __m512i, r);
            let once_ = once(&p, &rq, 0xFFFF).map(|o| {
                let mut y = [0i32; 16];
                let (lo_abs, hi_abs) = (_mm512_set1_epi32(lo), _mm512_set1_epi32(127));
                let r = _mm512_min_epi32(_mm512_max_epi32(requant16_once(v, &o), lo_abs), hi_abs);
                _mm512_storeu_si512(y.as_mut_ptr() as *mut __m512i, r);
                y
            });
            (twice, once_)
        };
        for l in 0..16 {
            let want = (fixed::multiply_by_quantized_multiplier(acc[l], m[l], shift[l]) as i64)
                .clamp((lo - zp) as i64, (127 - zp) as i64)
                + zp as i64;
            assert_eq!(
                twice[l] as i64, want,
                "two roundings, lane {l}: {acc:?} {m:?} {shift:?}"
            );
            if let Some(y) = once_ {
                assert_eq!(
                    y[l] as i64, want,
                    "one rounding, lane {l}: {acc:?} {m:?} {shift:?}"
                );
            }
        }
        // Where it applies: an output clamped at or above its zero point, right shifts of at
        // most `MAX_RIGHT` only.
        let applies = lo >= zp && shift.iter().all(|&s| s < 0 && -s <= MAX_RIGHT);
        assert_eq!(once_.is_some(), applies, "{shift:?} {zp} {lo}");
        if applies {
            16
        } else {
            0
        }
    }

    /// The single rounding against TFLite's two, at every right shift from 1 to 31: at and
    /// beside every tie of both roundings (multiplier 2^30, a halving, with accumulators around
    /// multiples of 2^(right + 1)), at the ends of the int32 range, and at random.
    #[test]
    fn one_rounding_has_the_bytes_of_two() {
        if !Isa8::Vnni.available() {
            return;
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 32) as u32
        };
        let mut once_lanes = 0;
        for right in 1..=31 {
            for (zp, lo) in [
                (0, 0),
                (-128, -128),
                (-7, -3),
                (40, 40),
                (127, 127),
                (-128, -100),
                (-20, -128),
                (90, -128),
            ] {
                for k in [0i64, 1, -1, 2, -3, 1000, -1000] {
                    let base = k << (right + 1).min(31);
                    let acc: [i32; 16] = core::array::from_fn(|l| {
                        (base + l as i64 - 8).clamp(i32::MIN as i64, i32::MAX as i64) as i32
                    });
                    // Lanes with the same shift, and with shifts from `right` down (all right).
                    let same = [-right; 16];
                    let mixed: [i32; 16] =
                        core::array::from_fn(|l| -(1 + (right - 1 + l as i32) % 31));
                    once_lanes += check(acc, [1 << 30; 16], same, zp, lo);
                    once_lanes += check(acc, [1 << 30; 16], mixed, zp, lo);
                    let within: [i32; 16] =
                        core::array::from_fn(|l| -(1 + (right - 1 + l as i32) % MAX_RIGHT));
                    once_lanes += check(acc, [1 << 30; 16], within, zp, lo);
                }
                for _ in 0..200 {
                    let acc: [i32; 16] = core::array::from_fn(|l| match l {
                        0 => i32::MAX,
                        1 => i32::MIN,
                        2..=5 => next() as i32,
                        _ => (next() as i32) >> (next() % 31),
                    });
                    let m: [i32; 16] = core::array::from_fn(|_| (1 << 30) | (next() >> 2) as i32);
                    once_lanes += check(acc, m, [-right; 16], zp, lo);
                }
            }
            // A lane without a right shift (a multiplier of at least one half): two roundings.
            let mut shift = [-right; 16];
            shift[5] = 0;
            check([12_345; 16], [1 << 30; 16], shift, 0, 0);
        }
        assert!(once_lanes > 400_000, "{once_lanes}");
    }
}
