//! The head of a classifier twin in registers: its last dense layer (at most 16 outputs), the
//! requantization to int8 logits, their dequantization and the `f32` softmax, without the
//! logits ever leaving the vector (one sample's latency: the stored-then-reloaded logits and
//! the scalar softmax were a third of M1's int8 `forward`). The same bits as
//! [`super::dense`], [`crate::quant::QuantParams::dequantize`] and [`crate::Softmax`] one after
//! the other.

use core::arch::x86_64::*;

use super::vnni::{
    bounds, dense_vectors, load_words, mask16, requant16, rq_channel, rq_lanes, FLIP,
};
use super::{Requant, Sizes};
use generic_array::typenum::Unsigned;

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

/// [`dense_softmax`] on `x.len() / I` samples (at most 16) at once, the samples in the lanes
/// of every vector (a batch's head): the samples' quads of inputs are transposed in registers
/// ([`transposed`]), each output is one accumulator vector (two chains where there are at most
/// 8 outputs) with its requantization's parameters broadcast, and the softmax runs across the
/// output vectors, so that the maximum and the sums are vertical operations in the pairs of
/// `Softmax`'s tree. The probabilities go to `y` (`n` samples of `O` values) in its order, by
/// one masked permutation per output and 16 floats ([`OutOrder`]). The same bits as
/// [`dense_softmax`] per sample.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI; `O <= 16`, `I % 4 == 0`, `x.len() == n I` and
/// `y.len() == n O` with `n <= 16` (else a panic), `w` packed as [`super::vnni::dense_layer`]
/// reads it, `rq` with `O` outputs.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn dense_softmax_lanes<I: Unsigned, O: Unsigned>(
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    scale: f32,
    y: &mut [f32],
) {
    let (n_in, n_out) = (I::USIZE, O::USIZE);
    let n = x.len() / n_in;
    assert!(n_out <= 16 && n_in % 4 == 0 && n <= 16 && x.len() == n * n_in);
    assert!(y.len() == n * n_out && offset.len() >= n_out && w.len() >= n_in * n_out);
    let flip = _mm512_set1_epi32(FLIP);
    let wp = w.as_ptr() as *const i32;
    // Two chains per output where there are at most 8: even quads into `a`, odd into `b`.
    let two = n_out <= 8;
    let mut a = [_mm512_setzero_si512(); 16];
    let mut b = [_mm512_setzero_si512(); 16];
    for o in 0..n_out {
        a[o] = _mm512_set1_epi32(offset[o]);
    }
    let quads = n_in / 4;
    // Blocks of 8 or 16 quads of the samples, transposed in registers (the samples in a
    // vector's lanes, in the order `lane_sample` gives); quads past the input are 0, and so
    // are their weights' products (`q < quads` below).
    let block = const { block_quads(I::USIZE) };
    let wide = block == 16;
    let mut c0 = 0;
    while c0 < quads {
        let cols = if wide {
            transposed::<16>(x, n_in, n, c0)
        } else {
            transposed::<8>(x, n_in, n, c0)
        };
        let mut j = 0;
        while j < block && c0 + j < quads {
            // Two quads a step, the second only where it exists (an odd count of quads:
            // its column is 0 and its weights are not read).
            let (q0, q1) = (c0 + j, c0 + j + 1);
            let (x0, x1) = (
                _mm512_xor_si512(cols[j], flip),
                _mm512_xor_si512(cols[j + 1], flip),
            );
            for o in 0..n_out {
                // SAFETY: the weights of quad `q < quads` are words `q n_out + o`, inside
                // `w` (checked above).
                unsafe {
                    let w0 = _mm512_set1_epi32(*wp.add(q0 * n_out + o));
                    a[o] = _mm512_dpbusd_epi32(a[o], x0, w0);
                    if q1 < quads {
                        let w1 = _mm512_set1_epi32(*wp.add(q1 * n_out + o));
                        if two {
                            b[o] = _mm512_dpbusd_epi32(b[o], x1, w1);
                        } else {
                            a[o] = _mm512_dpbusd_epi32(a[o], x1, w1);
                        }
                    }
                }
            }
            j += 2;
        }
        c0 += block;
    }
    let (_, lo, hi) = bounds(rq);
    let zero = _mm512_setzero_si512();
    let sv = _mm512_set1_ps(scale);
    let mut centered = [zero; 16];
    let mut top = _mm512_set1_epi32(i32::MIN);
    for o in 0..n_out {
        let acc = if two {
            _mm512_add_epi32(a[o], b[o])
        } else {
            a[o]
        };
        // SAFETY: this function's `target_feature` includes AVX-512F.
        let params = unsafe { rq_channel(rq, o) };
        centered[o] = requant16(acc, &params, zero, lo, hi);
        top = _mm512_max_epi32(top, centered[o]);
    }
    // As `dense_softmax`: the maximum on the integers, the exponentials of the differences.
    let m = _mm512_mul_ps(sv, _mm512_cvtepi32_ps(top));
    let mut e = [_mm512_setzero_ps(); 16];
    for o in 0..n_out {
        let logits = _mm512_mul_ps(sv, _mm512_cvtepi32_ps(centered[o]));
        e[o] = exp_neg(_mm512_sub_ps(logits, m));
    }
    // `Softmax`'s tree: partial sums `p_j = e_j + e_(j+8)`, then `((p0 + p4) + (p1 + p5)) +
    // ((p2 + p6) + (p3 + p7))`; a missing value is `-0` there, which leaves a sum unchanged,
    // so its addition is skipped.
    let add = |a: Option<__m512>, b: Option<__m512>| match (a, b) {
        (Some(a), Some(b)) => Some(_mm512_add_ps(a, b)),
        (a, None) => a,
        (None, b) => b,
    };
    let value = |j: usize| (j < n_out).then(|| e[j]);
    let p: [Option<__m512>; 8] = core::array::from_fn(|j| add(value(j), value(j + 8)));
    let sum = add(
        add(add(p[0], p[4]), add(p[1], p[5])),
        add(add(p[2], p[6]), add(p[3], p[7])),
    )
    .unwrap_or(_mm512_setzero_ps());
    // The probabilities in the order of `y` (sample by sample), 16 floats a vector: element
    // `i` of vector `k` is output `o = (16 k + i) % n_out` of sample `(16 k + i) / n_out`, taken
    // from its lane of vector `o` by one masked permutation per output.
    let mut probs = [_mm512_setzero_ps(); 16];
    for o in 0..n_out {
        probs[o] = _mm512_div_ps(e[o], sum);
    }
    let order = const { &OutOrder::of(O::USIZE, block_quads(I::USIZE)) };
    let total = n * n_out;
    for k in 0..n_out {
        if 16 * k < total {
            // SAFETY: 16 readable words.
            let idx = unsafe { _mm512_loadu_si512(order.lane[k].as_ptr() as *const __m512i) };
            let mut v = _mm512_setzero_ps();
            for (&m, &po) in order.mask[k].iter().zip(&probs).take(n_out) {
                v = _mm512_mask_permutexvar_ps(v, m, idx, po);
            }
            // SAFETY: lanes below `total - 16 k` of `y` from `16 k`, inside `y` (checked
            // above).
            unsafe {
                if 16 * k + 16 <= total {
                    _mm512_storeu_ps(y.as_mut_ptr().add(16 * k), v);
                } else {
                    _mm512_mask_storeu_ps(y.as_mut_ptr().add(16 * k), mask16(total - 16 * k), v);
                }
            }
        }
    }
}

/// The quads of inputs [`dense_softmax_lanes`] transposes at a time for `n_in` inputs: 16 where
/// there are more than 8, else 8.
const fn block_quads(n_in: usize) -> usize {
    if n_in / 4 > 8 {
        16
    } else {
        8
    }
}

/// Where [`dense_softmax_lanes`] takes each float of its output, for `n_out` (1 to 16) outputs and
/// blocks of `q` quads: vector `k` of 16 floats (of `n_out`) takes element `i` from lane
/// `lane[k][i]` (its sample's) of output `o`'s vector, for the bits `i` of `mask[k][o]`.
struct OutOrder {
    lane: [[i32; 16]; 16],
    mask: [[__mmask16; 16]; 16],
}

impl OutOrder {
    const fn of(n_out: usize, q: usize) -> OutOrder {
        let mut order = OutOrder {
            lane: [[0; 16]; 16],
            mask: [[0; 16]; 16],
        };
        // Evaluated for every dense layer type the head function is instantiated for, also
        // those it never runs (more than 16 outputs): empty there.
        if n_out == 0 || n_out > 16 {
            return order;
        }
        let mut k = 0;
        while k < n_out {
            let mut i = 0;
            while i < 16 {
                let (s, o) = ((16 * k + i) / n_out, (16 * k + i) % n_out);
                let mut l = 0;
                while l < 16 {
                    if lane_sample(l, q) == s {
                        order.lane[k][i] = l as i32;
                    }
                    l += 1;
                }
                order.mask[k][o] |= 1 << i;
                i += 1;
            }
            k += 1;
        }
        order
    }
}

/// The sample in lane `l` of the vectors [`transposed`] returns for blocks of `q` (8 or 16)
/// quads: the lane's low `log2 q` bits are the sample's high bits, its other bits the
/// sample's low bits.
#[inline(always)]
const fn lane_sample(l: usize, q: usize) -> usize {
    let k = q.trailing_zeros();
    ((l & (q - 1)) << (4 - k)) | (l >> k)
}

/// Quads `c0..c0 + Q` (`Q` 8 or 16) of the first `n` (at most 16) samples of `x` (`n_in` bytes
/// each), one vector per quad with the samples in its lanes ([`lane_sample`]'s order; quads
/// past the input, samples past `n` and vectors past `Q` are 0). Loaded `16 / Q` samples a vector (quad `q` of
/// sample `s` in lane `(s mod 16 / Q) Q + q` of vector `s / (16 / Q)`), then transposed by
/// `log2 Q` rounds of two-source permutations: round `t` pairs the vectors that differ in bit
/// `t` of their index and swaps that bit (a sample's bit) with bit `t` of the lane (a quad's
/// bit), after which vector `q` holds quad `q`.
#[target_feature(enable = "avx512f")]
#[inline]
fn transposed<const Q: usize>(x: &[i8], n_in: usize, n: usize, c0: usize) -> [__m512i; 16] {
    let quads = n_in / 4;
    assert!(n <= 16 && x.len() >= n * n_in && (Q == 8 || Q == 16));
    let cols = quads.saturating_sub(c0).min(Q);
    // Sample `s`'s words, or 0 past the `n` samples (no closure: left out of line, it was a
    // call per sample).
    let mut rows = [_mm512_setzero_si512(); 16];
    for (s, row) in rows.iter_mut().enumerate().take(n) {
        // SAFETY: words `c0..c0 + cols` of sample `s < n`, inside `x` (checked above).
        *row = unsafe { load_words(x.as_ptr().add(s * n_in + 4 * c0) as *const i32, cols) };
    }
    let mut v = [_mm512_setzero_si512(); 16];
    for (r, v) in v.iter_mut().enumerate().take(Q) {
        *v = if Q == 16 {
            rows[r]
        } else {
            _mm512_inserti64x4::<1>(rows[2 * r], _mm512_castsi512_si256(rows[2 * r + 1]))
        };
    }
    let mut t = 0;
    while 1 << t < Q {
        let bit = 1 << t;
        let (mut lo, mut hi) = ([0i32; 16], [0i32; 16]);
        for l in 0..16 {
            let from_b = if l & bit != 0 { 16 } else { 0 };
            lo[l] = ((l & !bit) | from_b) as i32;
            hi[l] = (l | bit | from_b) as i32;
        }
        // SAFETY: 16 readable words each.
        let (lo, hi) = unsafe {
            (
                _mm512_loadu_si512(lo.as_ptr() as *const __m512i),
                _mm512_loadu_si512(hi.as_ptr() as *const __m512i),
            )
        };
        for r in 0..Q {
            if r & bit == 0 {
                let (a, b) = (v[r], v[r | bit]);
                v[r] = _mm512_permutex2var_epi32(a, lo, b);
                v[r | bit] = _mm512_permutex2var_epi32(a, hi, b);
            }
        }
        t += 1;
    }
    v
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
