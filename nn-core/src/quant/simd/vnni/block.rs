//! The batch dense layers: blocks of 4 or 8 samples sharing each weight load, their
//! requantization (the single rounding where a folded ReLU allows it) and, where the outputs
//! fill whole vectors, 64-byte stores of packed bytes.

use core::arch::x86_64::*;

use super::super::{Requant, Sizes};
use super::{bounds, load_words, mask16, once, requant16, rq_lanes, store_bytes, FLIP};

/// [`super::dense_layer`] for `N` samples at once (`x` is `N` inputs of `sz.n_in()` bytes, `y` `N`
/// outputs of `sz.n_out()`): each weight vector is loaded once for the `N`, whose accumulator
/// chains run side by side. `N * ceil(n_out / 16)` accumulators: at most 16 are useful.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI; `sz.n_out() <= 64` (32 for `N > 4`, else a
/// panic), `sz.n_in() % 4 == 0`, `x.len() == N * sz.n_in()`, `y.len() == N * sz.n_out()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(in super::super) unsafe fn dense_block<const N: usize, S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    const { assert!(N >= 1 && N <= 8, "dense_block: 1 to 8 samples") };
    let groups = sz.n_out().div_ceil(16);
    if const { N > 4 } {
        // More than four samples: at most two groups (only those are compiled).
        assert!(
            groups <= 2,
            "dense_block: at most 32 outputs for {N} samples"
        );
        match groups {
            1 => dense_block_g::<N, 1, S>(sz, x, w, offset, rq, y),
            _ => dense_block_g::<N, 2, S>(sz, x, w, offset, rq, y),
        }
    } else {
        match groups {
            1 => dense_block_g::<N, 1, S>(sz, x, w, offset, rq, y),
            2 => dense_block_g::<N, 2, S>(sz, x, w, offset, rq, y),
            3 => dense_block_g::<N, 3, S>(sz, x, w, offset, rq, y),
            _ => dense_block_g::<N, 4, S>(sz, x, w, offset, rq, y),
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn dense_block_g<const N: usize, const G: usize, S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let (n_in, n_out) = (sz.n_in(), sz.n_out());
    assert!(x.len() == N * n_in && y.len() == N * n_out);
    let mut masks = [0 as __mmask16; G];
    for (g, m) in masks.iter_mut().enumerate() {
        *m = mask16(n_out.saturating_sub(16 * g));
    }
    let (zp, lo, hi) = bounds(rq);
    let wp = w.as_ptr() as *const i32;
    let xp = x.as_ptr() as *const i32;
    let quads = n_in / 4;
    // The inputs' words plus 128 in each byte, 16 words of each sample at a time: each is then
    // broadcast by a load (no flip and no broadcast from a general register per word).
    let mut flipped = [[0i32; 16]; N];
    let flip = _mm512_set1_epi32(FLIP);
    // SAFETY: every weight, offset, multiplier, shift and output access is masked to the
    // `n_out` outputs; inputs are read as words at `s * n_in + 4q < x.len()` (`n_in % 4 == 0`),
    // masked to the `nq` words of the block; `flipped` holds 16 words per sample.
    unsafe {
        let mut a = [[_mm512_setzero_si512(); G]; N];
        for g in 0..G {
            let off = _mm512_maskz_loadu_epi32(masks[g], offset.as_ptr().add(16 * g));
            for acc in a.iter_mut() {
                acc[g] = off;
            }
        }
        let mut q0 = 0;
        while q0 < quads {
            let nq = (quads - q0).min(16);
            for (s, f) in flipped.iter_mut().enumerate() {
                let v = load_words(xp.add(s * quads + q0), nq);
                _mm512_storeu_si512(f.as_mut_ptr() as *mut __m512i, _mm512_xor_si512(v, flip));
            }
            // Opaque to the optimizer, so that the words are loaded (broadcast from memory)
            // rather than extracted from the vector just stored.
            let fp = core::hint::black_box(flipped.as_ptr());
            // A loop, not unrolled: unrolled, the broadcasts were hoisted and spilled.
            for q in 0..core::hint::black_box(nq) {
                let mut wv = [_mm512_setzero_si512(); G];
                for g in 0..G {
                    wv[g] = _mm512_maskz_loadu_epi32(masks[g], wp.add((q0 + q) * n_out + 16 * g));
                }
                for (s, acc) in a.iter_mut().enumerate() {
                    let xv = _mm512_set1_epi32((*fp.add(s))[q]);
                    for g in 0..G {
                        acc[g] = _mm512_dpbusd_epi32(acc[g], xv, wv[g]);
                    }
                }
            }
            q0 += 16;
        }
        // One rounding where a folded ReLU allows it (M1's int8 batch 87 -> 80 ns/sample: the
        // requantization is most of these layers' work), group by group (one group's
        // parameters live at a time: with all of them, the accumulators spilled).
        let (lo_abs, hi_abs) = (rq.out.range.0, rq.out.range.1);
        if n_out == 16 * G && (N * G).is_multiple_of(4) {
            // Whole vectors: requantized into a second array `r` (the single rounding leaves
            // them unclamped, plus the zero point; the two roundings clamped: both are clamped
            // again below), then four at a time in the output's order (sample by sample, group
            // by group) saturated to bytes by two rounds of packs, put back in order by one
            // permutation, clamped as bytes and stored as 64: six instructions per 64 bytes
            // where four narrowing stores and clamps took sixteen. Every index of `r` and `a`
            // is a constant (the accumulators then stay in registers; written in place, or in
            // loops, they went to the stack in the multiply-add loop).
            let mut r = [[_mm512_setzero_si512(); G]; N];
            macro_rules! requantized {
                ($g:literal) => {
                    if $g < G {
                        let p = rq_lanes(rq, 16 * $g, masks[$g]);
                        let one = once::once(&p, rq, masks[$g]);
                        macro_rules! sample {
                            ($s:literal) => {
                                if $s < N {
                                    r[$s][$g] = match &one {
                                        Some(o) => once::requant16_once(a[$s][$g], o),
                                        None => requant16(a[$s][$g], &p, zp, lo, hi),
                                    };
                                }
                            };
                        }
                        sample!(0);
                        sample!(1);
                        sample!(2);
                        sample!(3);
                        sample!(4);
                        sample!(5);
                        sample!(6);
                        sample!(7);
                    }
                };
            }
            requantized!(0);
            requantized!(1);
            requantized!(2);
            requantized!(3);
            let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
            let (lo8, hi8) = (
                _mm512_set1_epi8(lo_abs as i8),
                _mm512_set1_epi8(hi_abs as i8),
            );
            // By constant indices, as below.
            macro_rules! pack {
                ($i:literal) => {
                    if $i < N * G / 4 {
                        let v = |j: usize| r[(4 * $i + j) / G][(4 * $i + j) % G];
                        let words = (
                            _mm512_packs_epi32(v(0), v(1)),
                            _mm512_packs_epi32(v(2), v(3)),
                        );
                        let bytes =
                            _mm512_permutexvar_epi32(order, _mm512_packs_epi16(words.0, words.1));
                        let clamped = _mm512_min_epi8(_mm512_max_epi8(bytes, lo8), hi8);
                        _mm512_storeu_si512(y.as_mut_ptr().add(64 * $i) as *mut __m512i, clamped);
                    }
                };
            }
            pack!(0);
            pack!(1);
            pack!(2);
            pack!(3);
            return;
        }
        let (lo_abs, hi_abs) = (_mm512_set1_epi32(lo_abs), _mm512_set1_epi32(hi_abs));
        // Each group of 16 outputs by a constant index (the accumulators stay in registers; a
        // loop over the groups left them on the stack).
        macro_rules! finish {
            ($g:literal) => {
                if $g < G {
                    let p = rq_lanes(rq, 16 * $g, masks[$g]);
                    match once::once(&p, rq, masks[$g]) {
                        Some(p) => {
                            for (s, acc) in a.iter().enumerate() {
                                let r = once::requant16_once(acc[$g], &p);
                                let r = _mm512_min_epi32(_mm512_max_epi32(r, lo_abs), hi_abs);
                                store_bytes(y.as_mut_ptr().add(s * n_out + 16 * $g), masks[$g], r);
                            }
                        }
                        None => {
                            for (s, acc) in a.iter().enumerate() {
                                let r = requant16(acc[$g], &p, zp, lo, hi);
                                store_bytes(y.as_mut_ptr().add(s * n_out + 16 * $g), masks[$g], r);
                            }
                        }
                    }
                }
            };
        }
        finish!(0);
        finish!(1);
        finish!(2);
        finish!(3);
    }
}
