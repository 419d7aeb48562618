//! AVX-512 VNNI int8 kernels: `vpdpbusd` (16 lanes of four u8 x i8 products each) and the
//! fixed-point requantization on 16 lanes.

use core::arch::x86_64::*;

use super::{Requant, Sizes};

mod block;
mod once;

pub(super) use block::dense_block;

/// The sign bits of a word's four bytes: `x ^ FLIP` is `x + 128` in each byte, the unsigned
/// operand of `vpdpbusd`. Flipped on the scalar word before it is broadcast: as a vector xor
/// after the broadcast, LLVM rewrites the pair into a `<64 x i8>` byte shuffle, and with
/// AVX-512 VBMI enabled at compile time (`-C target-cpu=native` on Sapphire Rapids) its x86
/// backend (LLVM 22, rustc 1.95) then loops forever legalizing that shuffle.
pub(super) const FLIP: i32 = 0x8080_8080u32 as i32;

/// The first `n` of 16 lanes.
#[inline(always)]
pub(super) fn mask16(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// The first `n` of 64 byte lanes.
#[inline(always)]
pub(super) fn mask64(n: usize) -> __mmask64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// `r`'s 16 lanes as bytes to `p`, lanes `k`: one plain 16-byte store when all are, since the
/// next layer's 4-byte loads of them cannot be forwarded from a masked store (they wait for it
/// to reach the cache).
///
/// # Safety
/// The CPU must have AVX-512F; lanes `k` of `p` writable (all 16 if `k` is all ones).
#[inline(always)]
unsafe fn store_bytes(p: *mut i8, k: __mmask16, r: __m512i) {
    // SAFETY: as this function's.
    unsafe {
        if k == 0xffff {
            _mm_storeu_si128(p as *mut __m128i, _mm512_cvtepi32_epi8(r));
        } else {
            _mm512_mask_cvtepi32_storeu_epi8(p, k, r);
        }
    }
}

/// The first `min(n, 16)` floats from `p` as lanes, the others 0, read one by one (volatile,
/// so that LLVM does not merge the reads back into one vector load).
///
/// # Safety
/// The CPU must have AVX-512F; `min(n, 16)` floats readable from `p`.
#[inline(always)]
unsafe fn load_lanes(p: *const f32, n: usize) -> __m512 {
    let e = |i: usize| {
        if i < n {
            // SAFETY: `i < min(n, 16)`: a readable float.
            unsafe { p.add(i).read_volatile() }
        } else {
            0.0
        }
    };
    _mm512_setr_ps(
        e(0),
        e(1),
        e(2),
        e(3),
        e(4),
        e(5),
        e(6),
        e(7),
        e(8),
        e(9),
        e(10),
        e(11),
        e(12),
        e(13),
        e(14),
        e(15),
    )
}

/// `acc += sum over full quads q of (x[4q..] + 128) . w[q][o0 + j][..]`, for the `acc.len()`
/// outputs from `o0` (at most 64).
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn dense_acc(x: &[i8], w: &[i8], n_out: usize, o0: usize, acc: &mut [i32]) {
    match acc.len().div_ceil(16) {
        1 => dense_acc_g::<1>(x, w, n_out, o0, acc),
        2 => dense_acc_g::<2>(x, w, n_out, o0, acc),
        3 => dense_acc_g::<3>(x, w, n_out, o0, acc),
        _ => dense_acc_g::<4>(x, w, n_out, o0, acc),
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dense_acc_g<const G: usize>(x: &[i8], w: &[i8], n_out: usize, o0: usize, acc: &mut [i32]) {
    let cnt = acc.len();
    let masks: [__mmask16; G] = core::array::from_fn(|g| mask16(cnt.saturating_sub(16 * g)));
    // SAFETY: every load and store is masked to the `cnt` outputs from `o0`, which exist in
    // `acc` and, for each quad, in `w` (`q * n_out * 4 + (o0 + cnt) * 4 <= 4 * full * n_out`).
    unsafe {
        let mut a: [__m512i; G] =
            core::array::from_fn(|g| _mm512_maskz_loadu_epi32(masks[g], acc.as_ptr().add(16 * g)));
        for (q, xq) in x.chunks_exact(4).enumerate() {
            let word = i32::from_le_bytes([xq[0] as u8, xq[1] as u8, xq[2] as u8, xq[3] as u8]);
            let xv = _mm512_set1_epi32(word ^ FLIP);
            let base = w.as_ptr().add(q * n_out * 4 + o0 * 4) as *const i32;
            for g in 0..G {
                let wv = _mm512_maskz_loadu_epi32(masks[g], base.add(16 * g));
                a[g] = _mm512_dpbusd_epi32(a[g], xv, wv);
            }
        }
        for g in 0..G {
            _mm512_mask_storeu_epi32(acc.as_mut_ptr().add(16 * g), masks[g], a[g]);
        }
    }
}

/// The requantization of 16 outputs (or one channel's 16 positions), prepared: what
/// [`requant16`] needs per lane, computed once from the multipliers and shifts.
#[derive(Clone, Copy)]
pub(super) struct Rq16 {
    /// The multipliers, and their copies in the odd lanes' low halves.
    m: __m512i,
    m_odd: __m512i,
    /// Whether any lane shifts left (else the left shift is skipped).
    shifts_left: bool,
    /// Left and right shifts (one of them 0).
    left: __m512i,
    right: __m512i,
    /// `2^right - 1`, and half of it (rounded down).
    mask: __m512i,
    half: __m512i,
}

/// [`Rq16`] from multipliers `m` and shifts `s`.
#[target_feature(enable = "avx512f")]
#[inline]
fn rq16(m: __m512i, s: __m512i) -> Rq16 {
    let zero = _mm512_setzero_si512();
    let one = _mm512_set1_epi32(1);
    let right = _mm512_max_epi32(_mm512_sub_epi32(zero, s), zero);
    let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
    Rq16 {
        m,
        m_odd: _mm512_srli_epi64::<32>(m),
        shifts_left: true,
        left: _mm512_max_epi32(s, zero),
        right,
        mask,
        half: _mm512_srai_epi32::<1>(mask),
    }
}

/// [`Rq16`] of outputs `o..o + 16` (lanes `k`): from the prepared shifts where the layer has
/// them ([`super::Prep`]: loads instead of arithmetic), else from the shifts.
///
/// # Safety
/// Lanes `k` of outputs `o..` exist in the requantization's slices.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn rq_lanes(rq: &Requant<'_>, o: usize, k: __mmask16) -> Rq16 {
    // SAFETY: masked to lanes `k`, which exist (this function's contract).
    rq_loaded(rq, |v| unsafe {
        _mm512_maskz_loadu_epi32(k, v.as_ptr().add(o))
    })
}

/// [`rq_lanes`] of `G` groups of 16 outputs from `o` (group `g` with lanes `masks[g]`), built
/// in place: `array::from_fn` of them was a call and a `memmove` of half a kilobyte per group
/// on every use.
///
/// # Safety
/// The CPU must have AVX-512F; lanes `masks[g]` of outputs `o + 16 g..` must exist.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn rq_groups<const G: usize>(
    rq: &Requant<'_>,
    o: usize,
    masks: &[__mmask16; G],
) -> [Rq16; G] {
    // SAFETY: as this function's (group 0 seeds the array, the others overwrite it).
    let mut groups = [unsafe { rq_lanes(rq, o, masks[0]) }; G];
    for (g, p) in groups.iter_mut().enumerate().skip(1) {
        // SAFETY: as this function's.
        *p = unsafe { rq_lanes(rq, o + 16 * g, masks[g]) };
    }
    groups
}

/// [`Rq16`] of channels `c..c + n` (`n <= 4`) in slots of four lanes, channel `c + i` in lanes
/// `4 i..4 i + 4` (the pooled outputs of four channels in one vector). Panics if a channel is
/// missing from one of the requantization's slices.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn rq_slots(rq: &Requant<'_>, c: usize, n: usize) -> Rq16 {
    let has = |v: &[i32]| n <= 4 && c + n <= v.len();
    assert!(
        has(rq.multiplier)
            && has(rq.shift)
            && rq
                .prep
                .is_none_or(|p| has(p.left) && has(p.right) && has(p.mask) && has(p.half)),
        "a requantization for channels {c}..{}",
        c + n
    );
    let slot = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    // SAFETY: masked to the `n` channels from `c`, which every slice has (checked above).
    rq_loaded(rq, |v| unsafe {
        _mm512_permutexvar_epi32(slot, _mm512_maskz_loadu_epi32(mask16(n), v.as_ptr().add(c)))
    })
}

/// [`Rq16`] with every per-output vector read by `load` (from the prepared shifts where the
/// layer has them, else computed from the shifts).
#[target_feature(enable = "avx512f")]
#[inline]
fn rq_loaded(rq: &Requant<'_>, load: impl Fn(&[i32]) -> __m512i) -> Rq16 {
    let m = load(rq.multiplier);
    match rq.prep {
        Some(p) => {
            let left = load(p.left);
            Rq16 {
                m,
                m_odd: _mm512_srli_epi64::<32>(m),
                shifts_left: _mm512_test_epi32_mask(left, left) != 0,
                left,
                right: load(p.right),
                mask: load(p.mask),
                half: load(p.half),
            }
        }
        None => rq16(m, load(rq.shift)),
    }
}

/// [`Rq16`] of channel `c` in every lane (a convolution's positions, a head's samples):
/// broadcast from the prepared shifts where the layer has them. Always inlined (a
/// `target_feature` function cannot be), so that a kernel's loop over its channels keeps the
/// parameters as broadcast loads instead of a call per channel.
///
/// # Safety
/// The CPU must have AVX-512F (the caller's `target_feature`, into which this inlines).
#[inline(always)]
pub(super) unsafe fn rq_channel(rq: &Requant<'_>, c: usize) -> Rq16 {
    let m = _mm512_set1_epi32(rq.multiplier[c]);
    match rq.prep {
        // The odd lanes' copy of a broadcast multiplier is the multiplier itself.
        Some(p) => Rq16 {
            m,
            m_odd: m,
            shifts_left: p.left[c] != 0,
            left: _mm512_set1_epi32(p.left[c]),
            right: _mm512_set1_epi32(p.right[c]),
            mask: _mm512_set1_epi32(p.mask[c]),
            half: _mm512_set1_epi32(p.half[c]),
        },
        None => rq16(m, _mm512_set1_epi32(rq.shift[c])),
    }
}

/// The fixed-point requantization of 16 accumulators (TFLite's
/// `MultiplyByQuantizedMultiplier`, lane for lane as [`super::super::fixed`]), clamped to
/// `[lo, hi]` and plus the zero point (`lo`, `hi` are the output's clamp minus its zero
/// point, so that the sum cannot overflow).
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn requant16(acc: __m512i, p: &Rq16, zp: __m512i, lo: __m512i, hi: __m512i) -> __m512i {
    let x = if p.shifts_left {
        _mm512_sllv_epi32(acc, p.left)
    } else {
        acc
    };
    // The doubling high multiply: (x * m + 2^30) >> 31 on 64 bits, which rounds halves toward
    // +infinity as gemmlowp's nudge and truncating division do (m > 0, so the one saturating
    // case cannot occur). The odd lanes move down by a shuffle; bits 31..62 of each product
    // are the high half of its double, gathered by one two-source permutation. (Shuffles
    // run beside `vpdpbusd` and the multiplies, which share a port with the shifts.)
    let nudge = _mm512_set1_epi64(1 << 30);
    let even = _mm512_add_epi64(_mm512_mul_epi32(x, p.m), nudge);
    let odd = _mm512_add_epi64(
        _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(x), p.m_odd),
        nudge,
    );
    let high = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    let h = _mm512_permutex2var_epi32(
        _mm512_add_epi64(even, even),
        high,
        _mm512_add_epi64(odd, odd),
    );
    // Rounding divide by 2^right, halves away from zero (gemmlowp's `RoundingDivideByPOT`):
    // one more where the remainder exceeds half the divisor (half plus one for negatives).
    let one = _mm512_set1_epi32(1);
    let rem = _mm512_and_si512(h, p.mask);
    let negative = _mm512_cmplt_epi32_mask(h, _mm512_setzero_si512());
    let threshold = _mm512_mask_add_epi32(p.half, negative, p.half, one);
    let shifted = _mm512_srav_epi32(h, p.right);
    let up = _mm512_cmpgt_epi32_mask(rem, threshold);
    let r = _mm512_mask_add_epi32(shifted, up, shifted, one);
    _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, lo), hi), zp)
}

/// The clamp of an output, minus its zero point, and the zero point, as vectors.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn bounds(rq: &Requant<'_>) -> (__m512i, __m512i, __m512i) {
    let z = rq.out.zero_point;
    (
        _mm512_set1_epi32(z),
        _mm512_set1_epi32(rq.out.range.0 - z),
        _mm512_set1_epi32(rq.out.range.1 - z),
    )
}

/// A whole dense layer of at most 64 outputs (the `in % 4` last inputs as one more quad), with the
/// fixed-point requantization: accumulators stay in registers (two per vector when there are
/// few, for independent chains) and go straight to bytes. `sz` gives the sizes: as a layer
/// type's constants, this is one copy per layer shape with the masks and loop counts folded.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI; `sz.n_out() <= 64`, `x.len() == sz.n_in()`,
/// `y.len() == sz.n_out()`, `w` packed (module docs: the `in % 4` last inputs' weights as
/// `[out][in % 4]` after the quads).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
pub(super) unsafe fn dense_layer<S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    match sz.n_out().div_ceil(16) {
        1 => dense_layer_g::<1, S>(sz, x, w, offset, rq, y),
        2 => dense_layer_g::<2, S>(sz, x, w, offset, rq, y),
        3 => dense_layer_g::<3, S>(sz, x, w, offset, rq, y),
        _ => dense_layer_g::<4, S>(sz, x, w, offset, rq, y),
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn dense_layer_g<const G: usize, S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let n_out = sz.n_out();
    assert!(y.len() == n_out);
    let once = rq.prep.map_or(&[][..], |p| p.once);
    if once.len() == n_out && rq.out.range.0 >= rq.out.zero_point {
        let acc = dense_vectors::<G, S>(sz, x, w, offset);
        let (lo_abs, hi_abs) = (
            _mm512_set1_epi32(rq.out.range.0),
            _mm512_set1_epi32(rq.out.range.1),
        );
        for (g, &acc) in acc.iter().enumerate() {
            let k = mask16(n_out.saturating_sub(16 * g));
            // SAFETY: lanes `k` are outputs of the layer, which exist in `y`, `rq`'s slices
            // and `once` (one constant per output).
            unsafe {
                let p = rq_lanes(rq, 16 * g, k);
                let r = once::requant16_once(acc, &once::prepared(&p, once, 16 * g, k));
                let r = _mm512_min_epi32(_mm512_max_epi32(r, lo_abs), hi_abs);
                store_bytes(y.as_mut_ptr().add(16 * g), k, r);
            }
        }
        return;
    }
    let acc = dense_vectors::<G, S>(sz, x, w, offset);
    let (zp, lo, hi) = bounds(rq);
    for (g, &acc) in acc.iter().enumerate() {
        let k = mask16(n_out.saturating_sub(16 * g));
        // SAFETY: lanes `k` are outputs of the layer, which exist in `y` and `rq`'s slices.
        unsafe {
            let r = requant16(acc, &rq_lanes(rq, 16 * g, k), zp, lo, hi);
            store_bytes(y.as_mut_ptr().add(16 * g), k, r);
        }
    }
}

/// The accumulators of a dense layer of at most `16 G` outputs (`offset` plus the products,
/// output `16 g + l` in lane `l` of vector `g`; lanes beyond `sz.n_out()` 0): independent
/// chains per vector (quad `q` of inputs feeds chain `q % C`: four for at most two vectors,
/// whose one sample is a latency chain, else two) added at the end.
///
/// Panics unless `x.len() == sz.n_in()` and `sz.n_out() <= 16 G`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
pub(super) fn dense_vectors<const G: usize, S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
) -> [__m512i; G] {
    if G <= 2 {
        dense_chains::<G, 4, S>(sz, x, w, offset)
    } else {
        dense_chains::<G, 2, S>(sz, x, w, offset)
    }
}

/// [`dense_vectors`] with `C` chains per vector (`C` a power of two).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn dense_chains<const G: usize, const C: usize, S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
) -> [__m512i; G] {
    let n_out = sz.n_out();
    assert!(x.len() == sz.n_in() && n_out <= 16 * G);
    let quads = sz.n_in() / 4;
    let r = sz.n_in() % 4;
    assert!(offset.len() >= n_out && w.len() >= (4 * quads + r) * n_out);
    let masks: [__mmask16; G] = core::array::from_fn(|g| mask16(n_out.saturating_sub(16 * g)));
    let quad = |q: usize| {
        let xq = &x[4 * q..4 * q + 4];
        let word = i32::from_le_bytes([xq[0] as u8, xq[1] as u8, xq[2] as u8, xq[3] as u8]);
        _mm512_set1_epi32(word ^ FLIP)
    };
    let wp = w.as_ptr() as *const i32;
    // SAFETY: every load is masked to the `n_out` outputs, which exist in `offset` and, for
    // each quad, in `w` (`(q + 1) * n_out * 4 <= len`, the tail's `r * n_out` bytes after them:
    // checked above).
    unsafe {
        let mut a = [[_mm512_setzero_si512(); G]; C];
        for g in 0..G {
            a[0][g] = _mm512_maskz_loadu_epi32(masks[g], offset.as_ptr().add(16 * g));
        }
        let step = |a: &mut [__m512i; G], q: usize| {
            let (xq, wq) = (quad(q), wp.add(q * n_out));
            for g in 0..G {
                a[g] = _mm512_dpbusd_epi32(
                    a[g],
                    xq,
                    _mm512_maskz_loadu_epi32(masks[g], wq.add(16 * g)),
                );
            }
        };
        let mut q = 0;
        while q + C <= quads {
            for (c, a) in a.iter_mut().enumerate() {
                step(a, q + c);
            }
            q += C;
        }
        for (c, a) in a.iter_mut().enumerate() {
            if q + c < quads {
                step(a, q + c);
            }
        }
        if r != 0 {
            // The `r` last inputs as one more quad (the missing bytes' weights are 0), their
            // weights `[out][r]` after the quads spread to one word per output.
            let full = 4 * quads;
            let mut word = 0u32;
            for (t, &v) in x[full..].iter().enumerate() {
                word |= (v as u8 as u32) << (8 * t);
            }
            let xt = _mm512_set1_epi32(word as i32 ^ FLIP);
            let (dwords, bytes) = tail_spread(r);
            let tail = w.as_ptr().add(full * n_out);
            for (g, b) in a[C - 1].iter_mut().enumerate() {
                // Masked to the `r` bytes of each of the group's outputs, inside `w`.
                let n = n_out.saturating_sub(16 * g).min(16) * r;
                let raw = _mm512_maskz_loadu_epi8(mask64(n), tail.add(16 * g * r));
                let wt = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(dwords, raw), bytes);
                *b = _mm512_dpbusd_epi32(*b, xt, wt);
            }
        }
        // Pairwise: C -> C / 2 -> ... -> 1 (integer sums: any order gives the same bits).
        let mut width = C;
        while width > 1 {
            width /= 2;
            for c in 0..width {
                let high = a[c + width];
                for (v, h) in a[c].iter_mut().zip(high) {
                    *v = _mm512_add_epi32(*v, h);
                }
            }
        }
        a[0]
    }
}

/// The shuffles that spread `r` (1 to 3) bytes per output, packed one output after the other,
/// to one 32-bit word per output (the other bytes 0): a `vpermd` index that puts the 4r bytes
/// of 128-bit lane `l`'s four outputs at the start of the lane, and a `vpshufb` control that
/// takes byte `t < r` of word `j` from `j r + t` (zero for `t >= r`).
#[target_feature(enable = "avx512f")]
#[inline]
fn tail_spread(r: usize) -> (__m512i, __m512i) {
    let mut dwords = [0i32; 16];
    let mut bytes = [0i8; 64];
    for l in 0..4 {
        for i in 0..4 {
            dwords[4 * l + i] = (l * r + i).min(15) as i32;
        }
        for j in 0..4 {
            for t in 0..4 {
                bytes[16 * l + 4 * j + t] = if t < r { (j * r + t) as i8 } else { -128 };
            }
        }
    }
    // SAFETY: 64 readable bytes each.
    unsafe {
        (
            _mm512_loadu_si512(dwords.as_ptr() as *const __m512i),
            _mm512_loadu_si512(bytes.as_ptr() as *const __m512i),
        )
    }
}

/// Words `p[..n]` (`n <= 16`) in the first lanes of a vector, the others 0: by 16-byte loads
/// where `n` is a multiple of 4, each of which the 16-byte store of a requantized vector
/// that wrote it can forward (a wider load spanning several such stores waits for them to
/// reach the cache), else by one masked load.
///
/// # Safety
/// `p[..n]` must be readable.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn load_words(p: *const i32, n: usize) -> __m512i {
    // SAFETY: `p[..n]` is readable (this function's contract), each piece within it.
    unsafe {
        if !n.is_multiple_of(4) {
            return _mm512_maskz_loadu_epi32(mask16(n), p);
        }
        let piece = |i: usize| _mm_loadu_si128(p.add(4 * i) as *const __m128i);
        let mut v = _mm512_castsi128_si512(piece(0));
        if n <= 4 {
            return _mm512_maskz_mov_epi32(0x000f, v);
        }
        v = _mm512_inserti32x4::<1>(v, piece(1));
        if n <= 8 {
            return _mm512_maskz_mov_epi32(0x00ff, v);
        }
        v = _mm512_inserti32x4::<2>(v, piece(2));
        if n <= 12 {
            return _mm512_maskz_mov_epi32(0x0fff, v);
        }
        _mm512_inserti32x4::<3>(v, piece(3))
    }
}

/// `y[j] = requant(acc[j])` with the multipliers and shifts of outputs `o0 + j`.
///
/// # Safety
/// The CPU must have AVX-512F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn requantize(acc: &[i32], rq: &Requant<'_>, o0: usize, y: &mut [i8]) {
    let (zp, lo, hi) = bounds(rq);
    let n = acc.len().min(y.len());
    let mut j = 0;
    while j < n {
        let k = mask16(n - j);
        // SAFETY: masked to the `n - j` lanes that exist in `acc`, `y` and (outputs `o0 + j..`)
        // in the multipliers and shifts.
        unsafe {
            let a = _mm512_maskz_loadu_epi32(k, acc.as_ptr().add(j));
            let r = requant16(a, &rq_lanes(rq, o0 + j, k), zp, lo, hi);
            store_bytes(y.as_mut_ptr().add(j), k, r);
        }
        j += 16;
    }
}

/// [`super::quantize`] on 16 lanes: the division, round half away from zero (the integer
/// part plus one where the remainder is at least one half), NaN to 0, clamp. `SCALAR`: the
/// values read one at a time (an input written just before), else 16 a load.
///
/// # Safety
/// The CPU must have AVX-512F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) unsafe fn quantize<const SCALAR: bool>(
    x: &[f32],
    scale: f32,
    zero_point: i32,
    y: &mut [i8],
) {
    let n = x.len().min(y.len());
    let sv = _mm512_set1_ps(scale);
    let zp = _mm512_set1_epi32(zero_point);
    let half = _mm512_set1_ps(0.5);
    let big = _mm512_set1_ps(1024.0);
    let quantized = |j: usize| {
        // SAFETY: masked to the `n - j` values left in `x`.
        unsafe {
            let v = if SCALAR {
                // Sixteen 4-byte loads, each served by whichever store wrote its value: the
                // input is usually written just before (a tensor built from a slice), and a
                // vector load spanning several of those stores waits for them to reach the
                // cache (M1's int8 forward: 141 -> 118 ns with the input built in every call).
                load_lanes(x.as_ptr().add(j), n - j)
            } else {
                _mm512_maskz_loadu_ps(mask16(n - j), x.as_ptr().add(j))
            };
            let v = _mm512_div_ps(v, sv);
            let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(v, v);
            let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
            let frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
            let away = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, half);
            // +-1 with the sign of `v` (integer operations: the float ones need AVX-512 DQ).
            let sign = _mm512_castsi512_ps(_mm512_or_si512(
                _mm512_castps_si512(_mm512_set1_ps(1.0)),
                _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(i32::MIN)),
            ));
            let r = _mm512_mask_add_ps(t, away, t, sign);
            let r = _mm512_maskz_mov_ps(ordered, r);
            let r = _mm512_min_ps(
                _mm512_max_ps(r, _mm512_sub_ps(_mm512_setzero_ps(), big)),
                big,
            );
            let q = _mm512_add_epi32(_mm512_cvttps_epi32(r), zp);
            _mm512_min_epi32(
                _mm512_max_epi32(q, _mm512_set1_epi32(-128)),
                _mm512_set1_epi32(127),
            )
        }
    };
    let mut j = 0;
    // Whole blocks of 64 values as one 64-byte store: the kernel after reads its input in
    // vectors of up to 64 bytes, which a store forwards only when it holds them all.
    while j + 64 <= n {
        let b = |i: usize| _mm512_cvtepi32_epi8(quantized(j + 16 * i));
        let v = _mm512_inserti32x4::<1>(_mm512_castsi128_si512(b(0)), b(1));
        let v = _mm512_inserti32x4::<3>(_mm512_inserti32x4::<2>(v, b(2)), b(3));
        // SAFETY: `j + 64 <= n <= y.len()`.
        unsafe { _mm512_storeu_si512(y.as_mut_ptr().add(j) as *mut __m512i, v) };
        j += 64;
    }
    while j < n {
        // SAFETY: masked to the `n - j` values left in `y`.
        unsafe { store_bytes(y.as_mut_ptr().add(j), mask16(n - j), quantized(j)) };
        j += 16;
    }
}

/// 2 x 2 max pooling with stride 2 of one channel (`plane`: `h` rows of `wd` bytes, `oh`
/// output rows of `ow <= 32`), clamped to `[lo, hi]`: the larger of two rows, then of each
/// pair of bytes (as 16-bit lanes).
///
/// # Safety
/// The CPU must have AVX-512F, BW and VL; `2 * oh <= h`, `2 * ow <= wd`, `ow <= 32`,
/// `out.len() >= oh * ow`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn max_pool_2x2(
    plane: &[i8],
    wd: usize,
    (oh, ow): (usize, usize),
    (lo, hi): (i8, i8),
    out: &mut [i8],
) {
    let load: __mmask64 = if 2 * ow >= 64 {
        !0
    } else {
        (1u64 << (2 * ow)) - 1
    };
    let store: __mmask32 = if ow >= 32 { !0 } else { (1u32 << ow) - 1 };
    let (lo, hi) = (_mm512_set1_epi16(lo as i16), _mm512_set1_epi16(hi as i16));
    for oy in 0..oh {
        // SAFETY: masked to the `2 * ow` bytes of rows `2 oy` and `2 oy + 1` and the `ow`
        // bytes of output row `oy`, all inside the slices (checked by the caller).
        unsafe {
            let r0 = _mm512_maskz_loadu_epi8(load, plane.as_ptr().add(2 * oy * wd));
            let r1 = _mm512_maskz_loadu_epi8(load, plane.as_ptr().add((2 * oy + 1) * wd));
            let v = _mm512_max_epi8(r0, r1);
            let even = _mm512_srai_epi16::<8>(_mm512_slli_epi16::<8>(v));
            let odd = _mm512_srai_epi16::<8>(v);
            let m = _mm512_min_epi16(_mm512_max_epi16(_mm512_max_epi16(even, odd), lo), hi);
            _mm256_mask_storeu_epi8(
                out.as_mut_ptr().add(oy * ow),
                store,
                _mm512_cvtepi16_epi8(m),
            );
        }
    }
}
