//! The head of a classifier twin in registers: its last dense layer (at most 16 outputs), the
//! requantization to int8 logits, their dequantization and the `f32` softmax, without the
//! logits ever leaving the vector (one sample's latency: the stored-then-reloaded logits and
//! the scalar softmax were a third of M1's int8 `forward`). The same bits as
//! [`super::dense`], [`crate::quant::QuantParams::dequantize`] and [`crate::Softmax`] one after
//! the other.

use core::arch::x86_64::*;

use super::vnni::{bounds, dense_vectors, mask16, requant16, rq_lanes};
use super::{Requant, Sizes};

/// `softmax(dequantize(dense(x)))` for a dense layer of at most 16 outputs with the
/// fixed-point requantization: `scale` is the logits' scale (their zero point is the
/// requantization's output zero point), `y` gets the probabilities.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI; `sz.n_out() <= 16`, `y.len() == sz.n_out()`, `w`
/// packed as [`super::vnni::dense_layer`] reads it, `rq` with `sz.n_out()` outputs.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
pub(super) unsafe fn dense_softmax<S: Sizes>(
    sz: S,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    scale: f32,
    y: &mut [f32],
) {
    let n = sz.n_out();
    assert!(n <= 16 && y.len() == n);
    let k = mask16(n);
    let [acc] = dense_vectors::<1, S>(sz, x, w, offset);
    let (_, lo, hi) = bounds(rq);
    // SAFETY: lanes `k` are the layer's outputs (this function's contract).
    let rq16 = unsafe { rq_lanes(rq, 0, k) };
    // `q - zero point`, what `QuantParams::dequantize` converts: the requantized value before
    // the zero point is added back.
    let zero = _mm512_setzero_si512();
    let centered = requant16(acc, &rq16, zero, lo, hi);
    let logits = _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(centered));
    // Softmax as `Softmax::apply`: the maximum, the exponentials of the differences, their
    // sum in the same pairs as its tree, one division per lane. The maximum is taken on the
    // integers, beside their conversion: rounding is monotonic, so the largest product by the
    // (positive) scale is the product of the largest integer.
    let m = scale * _mm512_mask_reduce_max_epi32(k, centered) as f32;
    let e = _mm512_maskz_mov_ps(k, exp_neg(_mm512_sub_ps(logits, _mm512_set1_ps(m))));
    let sum = tree_sum(e);
    // Two 256-bit divisions rather than one of 512 bits: about 11 cycles of latency instead of
    // 18 on Ice Lake, and this is the end of the chain.
    let sums = _mm256_set1_ps(sum);
    let half = |h: __m256| _mm256_div_ps(h, sums);
    let low = half(_mm512_castps512_ps256(e));
    let p = if n > 8 {
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(e)));
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castps_pd(_mm512_castps256_ps512(low)),
            _mm256_castps_pd(half(high)),
        ))
    } else {
        _mm512_castps256_ps512(low)
    };
    // One whole store and plain copies: a masked store cannot forward to the loads of the
    // caller's copies (they would wait for it to reach the cache).
    let mut all = [0f32; 16];
    // SAFETY: `all` has 16 lanes.
    unsafe { _mm512_storeu_ps(all.as_mut_ptr(), p) };
    y.copy_from_slice(&all[..n]);
}

/// The sum of 16 lanes as `Softmax`'s tree adds at most 16 values: lane `j` plus lane `j + 8`
/// (its eight partial sums), then `p_j + p_(j+4)`, then pairs of neighbours, then the two.
/// Lanes beyond the values hold `+0`, which leaves every sum as `-0` does there.
#[target_feature(enable = "avx512f")]
#[inline]
fn tree_sum(v: __m512) -> f32 {
    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    let p = _mm256_add_ps(_mm512_castps512_ps256(v), high);
    let q = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps::<1>(p));
    // (q0 + q1, q2 + q3) in lanes 0 and 2.
    let pairs = _mm_add_ps(q, _mm_movehdup_ps(q));
    _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehl_ps(pairs, pairs)))
}

/// [`crate::math::exp_neg`] on 16 lanes: the same operations in the same order, so the same
/// bits (every product and sum rounded on its own, as Rust's `f32` arithmetic is).
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn exp_neg(x: __m512) -> __m512 {
    let c = _mm512_set1_ps;
    let lo = c(-87.336_54);
    let shift = c(12_582_912.0);
    let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, lo);
    let xc = _mm512_mask_mov_ps(x, below, lo);
    let big = _mm512_add_ps(_mm512_mul_ps(xc, c(core::f32::consts::LOG2_E)), shift);
    let n = _mm512_sub_ps(big, shift);
    let r = _mm512_sub_ps(
        _mm512_sub_ps(xc, _mm512_mul_ps(n, c(0.693_359_4))),
        _mm512_mul_ps(n, c(-2.121_944_4e-4)),
    );
    let r2 = _mm512_mul_ps(r, r);
    let a = _mm512_add_ps(_mm512_mul_ps(c(1.987_569_1e-4), r), c(1.398_199_9e-3));
    let b = _mm512_add_ps(_mm512_mul_ps(c(8.333_452e-3), r), c(4.166_579_6e-2));
    let cc = _mm512_add_ps(_mm512_mul_ps(c(1.666_666_5e-1), r), c(0.5));
    let p = _mm512_add_ps(
        _mm512_mul_ps(a, _mm512_mul_ps(r2, r2)),
        _mm512_add_ps(_mm512_mul_ps(b, r2), cc),
    );
    let e = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, r2), r), c(1.0));
    let ni = _mm512_sub_epi32(_mm512_castps_si512(big), _mm512_set1_epi32(0x4B40_0000));
    let scale = _mm512_slli_epi32::<23>(_mm512_add_epi32(ni, _mm512_set1_epi32(127)));
    let v = _mm512_mul_ps(e, _mm512_castsi512_ps(scale));
    _mm512_maskz_mov_ps(!below, v)
}
