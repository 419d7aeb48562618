//! AVX2 int8 kernels: four u8 x i8 products per 32-bit lane from bytes widened to `i16` and
//! two `vpmaddwd` (exact: `vpmaddubsw` would saturate), and the fixed-point requantization on
//! 8 lanes.

use core::arch::x86_64::*;

use super::{ConvBlock, Requant};

/// Lanes `0..n` of 8 selected (the high bit of each 32-bit lane), for masked loads.
#[target_feature(enable = "avx2")]
#[inline]
fn mask8(n: usize) -> __m256i {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), idx)
}

/// `acc + sum of the four products a[l][t] * b[l][t]` in each lane `l`: `a` unsigned bytes,
/// `b` signed bytes, widened to 16 bits (even and odd bytes apart) and multiplied pairwise.
#[target_feature(enable = "avx2")]
#[inline]
fn dot(acc: __m256i, a_even: __m256i, a_odd: __m256i, b: __m256i) -> __m256i {
    let b_even = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(b));
    let b_odd = _mm256_srai_epi16::<8>(b);
    _mm256_add_epi32(
        acc,
        _mm256_add_epi32(
            _mm256_madd_epi16(a_even, b_even),
            _mm256_madd_epi16(a_odd, b_odd),
        ),
    )
}

/// The even and odd bytes of `a` as unsigned 16-bit values.
#[target_feature(enable = "avx2")]
#[inline]
fn split(a: __m256i) -> (__m256i, __m256i) {
    (
        _mm256_and_si256(a, _mm256_set1_epi16(0xff)),
        _mm256_srli_epi16::<8>(a),
    )
}

/// As [`super::vnni::dense_acc`], 8 outputs per vector.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dense_acc(x: &[i8], w: &[i8], n_out: usize, o0: usize, acc: &mut [i32]) {
    match acc.len().div_ceil(8) {
        1 => dense_acc_g::<1>(x, w, n_out, o0, acc),
        2 => dense_acc_g::<2>(x, w, n_out, o0, acc),
        3 => dense_acc_g::<3>(x, w, n_out, o0, acc),
        4 => dense_acc_g::<4>(x, w, n_out, o0, acc),
        5 => dense_acc_g::<5>(x, w, n_out, o0, acc),
        6 => dense_acc_g::<6>(x, w, n_out, o0, acc),
        7 => dense_acc_g::<7>(x, w, n_out, o0, acc),
        _ => dense_acc_g::<8>(x, w, n_out, o0, acc),
    }
}

#[target_feature(enable = "avx2")]
fn dense_acc_g<const G: usize>(x: &[i8], w: &[i8], n_out: usize, o0: usize, acc: &mut [i32]) {
    let cnt = acc.len();
    let masks: [__m256i; G] = core::array::from_fn(|g| mask8(cnt.saturating_sub(8 * g)));
    // SAFETY: every load and store is masked to the `cnt` outputs from `o0`, which exist in
    // `acc` and, for each quad, in `w`.
    unsafe {
        let mut a: [__m256i; G] =
            core::array::from_fn(|g| _mm256_maskload_epi32(acc.as_ptr().add(8 * g), masks[g]));
        let flip = _mm256_set1_epi32(0x8080_8080u32 as i32);
        for (q, xq) in x.chunks_exact(4).enumerate() {
            let word = i32::from_le_bytes([xq[0] as u8, xq[1] as u8, xq[2] as u8, xq[3] as u8]);
            let (xe, xo) = split(_mm256_xor_si256(_mm256_set1_epi32(word), flip));
            let base = w.as_ptr().add(q * n_out * 4 + o0 * 4) as *const i32;
            for g in 0..G {
                let wv = _mm256_maskload_epi32(base.add(8 * g), masks[g]);
                a[g] = dot(a[g], xe, xo, wv);
            }
        }
        for g in 0..G {
            _mm256_maskstore_epi32(acc.as_mut_ptr().add(8 * g), masks[g], a[g]);
        }
    }
}

/// As [`super::vnni`]'s `requant16`, on 8 lanes: the 64-bit products are shifted left by one
/// so that the high 32 bits are the doubling high multiply (no 64-bit arithmetic shift here).
#[target_feature(enable = "avx2")]
#[inline]
fn requant8(
    acc: __m256i,
    m: __m256i,
    s: __m256i,
    zp: __m256i,
    lo: __m256i,
    hi: __m256i,
) -> __m256i {
    let zero = _mm256_setzero_si256();
    let left = _mm256_max_epi32(s, zero);
    let right = _mm256_max_epi32(_mm256_sub_epi32(zero, s), zero);
    let x = _mm256_sllv_epi32(acc, left);
    let nudge = _mm256_set1_epi64x(1 << 30);
    let even = _mm256_slli_epi64::<1>(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge));
    let odd = _mm256_slli_epi64::<1>(_mm256_add_epi64(
        _mm256_mul_epi32(_mm256_srli_epi64::<32>(x), _mm256_srli_epi64::<32>(m)),
        nudge,
    ));
    let h = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
    let one = _mm256_set1_epi32(1);
    let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    let rem = _mm256_and_si256(h, mask);
    let threshold = _mm256_add_epi32(_mm256_srai_epi32::<1>(mask), _mm256_srli_epi32::<31>(h));
    let r = _mm256_sub_epi32(
        _mm256_srav_epi32(h, right),
        _mm256_cmpgt_epi32(rem, threshold),
    );
    let r = _mm256_min_epi32(
        _mm256_max_epi32(r, _mm256_set1_epi32(-1024)),
        _mm256_set1_epi32(1024),
    );
    _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, zp), lo), hi)
}

/// The first `n <= 8` lanes of `r` (each in the int8 range) as bytes at `dst`.
///
/// # Safety
/// `dst..dst + n` must be writable.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn store_bytes(dst: *mut i8, r: __m256i, n: usize) {
    let p = _mm256_packs_epi16(_mm256_packs_epi32(r, r), _mm256_setzero_si256());
    let low = _mm256_cvtsi256_si32(p) as u32 as u64;
    let high = _mm256_extract_epi32::<4>(p) as u32 as u64;
    let bytes = (low | (high << 32)).to_le_bytes();
    // SAFETY: forwarded from the caller.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr() as *const i8, dst, n.min(8)) };
}

/// As [`super::vnni::requantize`], 8 lanes at a time.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn requantize(acc: &[i32], rq: &Requant<'_>, o0: usize, y: &mut [i8]) {
    let zp = _mm256_set1_epi32(rq.out.zero_point);
    let lo = _mm256_set1_epi32(rq.out.range.0);
    let hi = _mm256_set1_epi32(rq.out.range.1);
    let n = acc.len().min(y.len());
    let mut j = 0;
    while j < n {
        let k = mask8(n - j);
        // SAFETY: masked to the lanes that exist in `acc`, `y` and the multipliers and shifts
        // of outputs `o0 + j..`.
        unsafe {
            let a = _mm256_maskload_epi32(acc.as_ptr().add(j), k);
            let m = _mm256_maskload_epi32(rq.multiplier.as_ptr().add(o0 + j), k);
            let s = _mm256_maskload_epi32(rq.shift.as_ptr().add(o0 + j), k);
            store_bytes(y.as_mut_ptr().add(j), requant8(a, m, s, zp, lo, hi), n - j);
        }
        j += 8;
    }
}

/// 8 positions x 4 weights from four unfolded rows at position `p`.
///
/// # Safety
/// Each of the four rows must have 8 readable bytes at `p`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn patch(rows: *const i8, stride: usize, p: usize) -> __m256i {
    // SAFETY: forwarded from the caller.
    unsafe {
        let a = _mm_loadl_epi64(rows.add(p) as *const __m128i);
        let b = _mm_loadl_epi64(rows.add(stride + p) as *const __m128i);
        let c = _mm_loadl_epi64(rows.add(2 * stride + p) as *const __m128i);
        let d = _mm_loadl_epi64(rows.add(3 * stride + p) as *const __m128i);
        let ab = _mm_unpacklo_epi8(a, b);
        let cd = _mm_unpacklo_epi8(c, d);
        _mm256_set_m128i(_mm_unpackhi_epi16(ab, cd), _mm_unpacklo_epi16(ab, cd))
    }
}

/// As [`super::vnni::conv_block`], 8 positions per vector.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn conv_block(
    b: &ConvBlock<'_>,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let channels = offset.len();
    let mut c0 = 0;
    while c0 < channels {
        match channels - c0 {
            1 => conv_g::<1>(b, w, offset, rq, y, c0),
            2 => conv_g::<2>(b, w, offset, rq, y, c0),
            3 => conv_g::<3>(b, w, offset, rq, y, c0),
            4 => conv_g::<4>(b, w, offset, rq, y, c0),
            5 => conv_g::<5>(b, w, offset, rq, y, c0),
            6 => conv_g::<6>(b, w, offset, rq, y, c0),
            7 => conv_g::<7>(b, w, offset, rq, y, c0),
            _ => conv_g::<8>(b, w, offset, rq, y, c0),
        }
        c0 += 8;
    }
}

#[target_feature(enable = "avx2")]
fn conv_g<const G: usize>(
    b: &ConvBlock<'_>,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
    c0: usize,
) {
    let zp = _mm256_set1_epi32(rq.out.zero_point);
    let lo = _mm256_set1_epi32(rq.out.range.0);
    let hi = _mm256_set1_epi32(rq.out.range.1);
    let quads = b.quads();
    let rows = b.rows.as_ptr();
    // The filters' weights, four by four, for the G channels side by side.
    let mut buf = [const { core::mem::MaybeUninit::<[i32; G]>::uninit() }; super::MAX_QUADS];
    for (q, slot) in buf.iter_mut().enumerate().take(quads) {
        let mut ws = [0i32; G];
        for (j, v) in ws.iter_mut().enumerate() {
            *v = b.weight_quad(w, c0 + j, q);
        }
        slot.write(ws);
    }
    // SAFETY: the first `quads` entries were written just above (`quads <= MAX_QUADS`:
    // `Unfold` fits every row in the scratch).
    let quads_of: &[[i32; G]] =
        unsafe { core::slice::from_raw_parts(buf.as_ptr() as *const [i32; G], quads) };
    let mut p = 0;
    while p < b.positions {
        let mut a: [__m256i; G] = core::array::from_fn(|j| _mm256_set1_epi32(offset[c0 + j]));
        for (q, wq) in quads_of.iter().enumerate() {
            // SAFETY: rows `4q..4q + 4` exist and have at least 16 bytes from `p`.
            let (ve, vo) = split(unsafe { patch(rows.add(4 * q * b.stride), b.stride, p) });
            for j in 0..G {
                a[j] = dot(a[j], ve, vo, _mm256_set1_epi32(wq[j]));
            }
        }
        for (j, a) in a.iter().enumerate() {
            let c = c0 + j;
            let m = _mm256_set1_epi32(rq.multiplier[c]);
            let s = _mm256_set1_epi32(rq.shift[c]);
            let r = requant8(*a, m, s, zp, lo, hi);
            let dst = c * b.plane_len + b.first + p;
            // SAFETY: the positions of this chunk are in channel `c`'s plane.
            unsafe { store_bytes(y.as_mut_ptr().add(dst), r, b.positions - p) };
        }
        p += 8;
    }
}
