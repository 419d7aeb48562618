//! `int8-floor`: how fast can one sample of M1's int8 twin go on this machine?
//!
//! Issue 17 asks M1's int8 forward at one sample to take at most 0.6 of the `f32` forward's
//! time. nn's twin runs one kernel per layer (quantize, three dense layers, the head with the
//! softmax), each a function that reads its input from memory. This probe builds M1's twin as
//! `nn-bench` does (same seed, same calibration), then runs hand-fused versions of its forward:
//! one `target_feature` function, every activation in registers, the weights repacked from the
//! twin's public fields, so that nothing but the arithmetic's dependency chain is left. Four
//! variants, each adding one technique:
//!
//! 1. `fused`: the operations nn's kernels do (TFLite's two roundings in every requantization,
//!    the softmax's polynomial exponential after the maximum): the same probabilities, bit for
//!    bit, as the twin's `forward` (checked).
//! 2. `+ one rounding`: every requantization as one 64-bit addition and one shift (the zero
//!    point folded in; for the logits, of any sign, one correction of negative products): the
//!    same int8 logits and probabilities (checked).
//! 3. `+ exp table`: the exponentials read from a 256-entry table of the int8 logits'
//!    differences to their maximum (what TFLite's int8 softmax does), a gather: other bits
//!    (checked to 1e-6).
//! 4. `+ no maximum`: the exponential of `scale (c - c_max)` for the largest representable
//!    logit `c_max`, as the product of two 16-entry tables (no reduction before it): other bits
//!    (checked to 1e-6; valid while `255 scale` stays below 80).
//!
//! It prints each variant's ns per sample beside nn's `f32` and int8 `forward`, measured in the
//! same run, alternating, median of repetitions. Run:
//! `cargo run --release -p nn-bench --bin int8-floor`. x86-64 with AVX-512 VNNI only.

use std::hint::black_box;
use std::time::Instant;

nn_models::m1! { struct M1 }

#[cfg(target_arch = "x86_64")]
mod fused {
    use core::arch::x86_64::*;

    /// The requantization of 16 outputs, as vectors of their parameters.
    #[repr(C, align(64))]
    #[derive(Clone, Copy, Default)]
    pub struct Group {
        /// Biases minus the flipped input's weight sums.
        pub offset: [i32; 16],
        /// Multipliers, and those of the odd outputs in the even lanes.
        pub m: [i32; 16],
        pub m_odd: [i32; 16],
        /// Right shift, `2^right - 1` and half of it (two roundings).
        pub right: [i32; 16],
        pub mask: [i32; 16],
        pub half: [i32; 16],
        /// One rounding: `2^30 + 2^(30 + right) + zero_point 2^(31 + right)` of the even and
        /// the odd outputs, `right - 1`.
        pub k_even: [i64; 8],
        pub k_odd: [i64; 8],
        pub right_1: [i32; 16],
        /// The clamp (absolute, and minus the zero point) and the zero point.
        pub lo: [i32; 16],
        pub hi: [i32; 16],
        pub lo_c: [i32; 16],
        pub hi_c: [i32; 16],
        pub zp: [i32; 16],
    }

    /// M1's twin repacked: weights `[quad][output (16 per group)][4]`, then the groups.
    #[repr(C, align(64))]
    pub struct Net {
        pub w1: [i8; 4 * 64 * 4],
        pub w2: [i8; 16 * 32 * 4],
        pub w3: [i8; 8 * 32 * 4],
        pub w4: [i8; 8 * 16 * 4],
        pub g1: [Group; 4],
        pub g2: [Group; 2],
        pub g3: [Group; 2],
        pub g4: Group,
        /// `exp(-scale (255 - j))` (variant 3); `exp(-scale b)`, `exp(-16 scale a)` (variant 4).
        pub table: [f32; 256],
        pub e0: [f32; 16],
        pub e1: [f32; 16],
        /// The input's quantization, the logits' scale.
        pub in_scale: f32,
        pub in_zp: i32,
        pub scale: f32,
    }

    #[inline(always)]
    unsafe fn ld<T>(p: &[T]) -> __m512i {
        _mm512_load_si512(p.as_ptr() as *const __m512i)
    }

    /// The high halves of the 64-bit lanes of `even` and `odd`, in the lanes of their outputs.
    #[inline(always)]
    unsafe fn high(even: __m512i, odd: __m512i) -> __m512i {
        let idx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        _mm512_permutex2var_epi32(even, idx, odd)
    }

    /// TFLite's requantization as nn's `requant16` does it (right shifts only), clamped, the
    /// zero point added (`CENTER`: not added, the clamp minus the zero point).
    #[inline(always)]
    unsafe fn twice<const CENTER: bool>(acc: __m512i, g: &Group) -> __m512i {
        let nudge = _mm512_set1_epi64(1 << 30);
        let even = _mm512_add_epi64(_mm512_mul_epi32(acc, ld(&g.m)), nudge);
        let odd = _mm512_add_epi64(
            _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(acc), ld(&g.m_odd)),
            nudge,
        );
        let h = high(_mm512_add_epi64(even, even), _mm512_add_epi64(odd, odd));
        let one = _mm512_set1_epi32(1);
        let rem = _mm512_and_si512(h, ld(&g.mask));
        let negative = _mm512_cmplt_epi32_mask(h, _mm512_setzero_si512());
        let threshold = _mm512_mask_add_epi32(ld(&g.half), negative, ld(&g.half), one);
        let shifted = _mm512_srav_epi32(h, ld(&g.right));
        let up = _mm512_cmpgt_epi32_mask(rem, threshold);
        let r = _mm512_mask_add_epi32(shifted, up, shifted, one);
        let r = _mm512_min_epi32(_mm512_max_epi32(r, ld(&g.lo_c)), ld(&g.hi_c));
        if CENTER {
            r
        } else {
            _mm512_add_epi32(r, ld(&g.zp))
        }
    }

    /// The same bytes with one rounding: `floor((x m + k - [x m + 2^30 < 0] 2^31) / 2^(31 +
    /// right))`, clamped (`CENTER`: the constants without the zero point, the centred clamp).
    /// For a ReLU's output (clamped at or above the zero point) the correction of negative
    /// products changes no byte (a negative result is clamped either way): `CENTER == false`
    /// leaves it out.
    #[inline(always)]
    unsafe fn once<const CENTER: bool>(acc: __m512i, g: &Group) -> __m512i {
        let fix = |p: __m512i, k: __m512i| {
            if !CENTER {
                return _mm512_add_epi64(p, k);
            }
            let below = _mm512_srai_epi64::<63>(_mm512_add_epi64(p, _mm512_set1_epi64(1 << 30)));
            _mm512_add_epi64(_mm512_add_epi64(p, k), _mm512_slli_epi64::<31>(below))
        };
        let even = fix(_mm512_mul_epi32(acc, ld(&g.m)), ld(&g.k_even));
        let odd = fix(
            _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(acc), ld(&g.m_odd)),
            ld(&g.k_odd),
        );
        let v = _mm512_srav_epi32(high(even, odd), ld(&g.right_1));
        if CENTER {
            _mm512_min_epi32(_mm512_max_epi32(v, ld(&g.lo_c)), ld(&g.hi_c))
        } else {
            _mm512_min_epi32(_mm512_max_epi32(v, ld(&g.lo)), ld(&g.hi))
        }
    }

    /// A requantized vector's 16 bytes plus 128 (the next layer's unsigned input).
    #[inline(always)]
    unsafe fn bytes(v: __m512i) -> __m128i {
        _mm_xor_si128(_mm512_cvtepi32_epi8(v), _mm_set1_epi8(-128))
    }

    /// Quad `j` of `x` in every lane.
    #[inline(always)]
    unsafe fn quad(x: __m128i, j: usize) -> __m512i {
        match j {
            0 => _mm512_broadcastd_epi32(x),
            1 => _mm512_broadcastd_epi32(_mm_shuffle_epi32::<1>(x)),
            2 => _mm512_broadcastd_epi32(_mm_shuffle_epi32::<2>(x)),
            _ => _mm512_broadcastd_epi32(_mm_shuffle_epi32::<3>(x)),
        }
    }

    /// A dense layer's accumulators: `Q` quads of input, `G` groups of 16 outputs, quad `q`
    /// into chain `q % 4`.
    #[inline(always)]
    unsafe fn dense<const Q: usize, const G: usize>(
        x: &[__m128i],
        w: &[i8],
        gs: &[Group],
    ) -> [__m512i; G] {
        let mut a = [[_mm512_setzero_si512(); G]; 4];
        for g in 0..G {
            a[0][g] = ld(&gs[g].offset);
        }
        for q in 0..Q {
            let xq = quad(x[q / 4], q % 4);
            for (g, acc) in a[q % 4].iter_mut().enumerate() {
                let wv = _mm512_load_si512(w.as_ptr().add(64 * (q * G + g)) as *const __m512i);
                *acc = _mm512_dpbusd_epi32(*acc, xq, wv);
            }
        }
        core::array::from_fn(|g| {
            _mm512_add_epi32(
                _mm512_add_epi32(a[0][g], a[1][g]),
                _mm512_add_epi32(a[2][g], a[3][g]),
            )
        })
    }

    /// nn's input quantization (`round(x / scale)` halves away from zero, plus the zero
    /// point, clamped), as bytes plus 128.
    #[inline(always)]
    unsafe fn quantize(x: &[f32; 16], scale: f32, zp: i32) -> __m128i {
        let v = _mm512_div_ps(_mm512_loadu_ps(x.as_ptr()), _mm512_set1_ps(scale));
        let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(v, v);
        let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
        let frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
        let away = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, _mm512_set1_ps(0.5));
        let sign = _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_castps_si512(_mm512_set1_ps(1.0)),
            _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(i32::MIN)),
        ));
        let r = _mm512_maskz_mov_ps(ordered, _mm512_mask_add_ps(t, away, t, sign));
        let big = _mm512_set1_ps(1024.0);
        let r = _mm512_min_ps(
            _mm512_max_ps(r, _mm512_sub_ps(_mm512_setzero_ps(), big)),
            big,
        );
        let q = _mm512_add_epi32(_mm512_cvttps_epi32(r), _mm512_set1_epi32(zp));
        let q = _mm512_min_epi32(
            _mm512_max_epi32(q, _mm512_set1_epi32(-128)),
            _mm512_set1_epi32(127),
        );
        bytes(q)
    }

    /// nn's `exp_neg` (the same operations, the same bits).
    #[inline(always)]
    unsafe fn exp_neg(x: __m512) -> __m512 {
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
        _mm512_maskz_mov_ps(!below, _mm512_mul_ps(e, _mm512_castsi512_ps(scale)))
    }

    /// The sum of the 5 lanes in the pairs of nn's `Softmax` tree (lanes beyond are 0).
    #[inline(always)]
    unsafe fn tree_sum(v: __m512) -> f32 {
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        let p = _mm256_add_ps(_mm512_castps512_ps256(v), high);
        let q = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps::<1>(p));
        let pairs = _mm_add_ps(q, _mm_movehdup_ps(q));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehl_ps(pairs, pairs)))
    }

    /// M1's int8 forward, variant `V` (1 to 4, the module docs of the binary): the
    /// probabilities to `y` and the centred int8 logits to `logits`.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW, VL, DQ, VNNI, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")]
    pub unsafe fn forward<const V: u8>(
        n: &Net,
        x: &[f32; 16],
        y: &mut [f32; 5],
        logits: &mut [i32; 16],
    ) {
        let hidden = |a: __m512i, g: &Group| {
            if V >= 2 {
                bytes(once::<false>(a, g))
            } else {
                bytes(twice::<false>(a, g))
            }
        };
        let x0 = quantize(x, n.in_scale, n.in_zp);
        let a1 = dense::<4, 4>(&[x0], &n.w1, &n.g1);
        let x1: [__m128i; 4] = core::array::from_fn(|g| hidden(a1[g], &n.g1[g]));
        let a2 = dense::<16, 2>(&x1, &n.w2, &n.g2);
        let x2: [__m128i; 2] = core::array::from_fn(|g| hidden(a2[g], &n.g2[g]));
        let a3 = dense::<8, 2>(&x2, &n.w3, &n.g3);
        let x3: [__m128i; 2] = core::array::from_fn(|g| hidden(a3[g], &n.g3[g]));
        let [a4] = dense::<8, 1>(&x3, &n.w4, core::slice::from_ref(&n.g4));
        let c = if V >= 2 {
            once::<true>(a4, &n.g4)
        } else {
            twice::<true>(a4, &n.g4)
        };
        let k: __mmask16 = 0x1f;
        let e = match V {
            1 | 2 => {
                let lg = _mm512_mul_ps(_mm512_set1_ps(n.scale), _mm512_cvtepi32_ps(c));
                let m = n.scale * _mm512_mask_reduce_max_epi32(k, c) as f32;
                _mm512_maskz_mov_ps(k, exp_neg(_mm512_sub_ps(lg, _mm512_set1_ps(m))))
            }
            3 => {
                let m = _mm512_mask_reduce_max_epi32(k, c);
                let j = _mm512_add_epi32(
                    _mm512_sub_epi32(c, _mm512_set1_epi32(m)),
                    _mm512_set1_epi32(255),
                );
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), k, j, n.table.as_ptr())
            }
            _ => {
                let d = _mm512_sub_epi32(ld(&n.g4.hi_c), c);
                let low = _mm512_permutexvar_ps(d, _mm512_loadu_ps(n.e0.as_ptr()));
                let top = _mm512_permutexvar_ps(
                    _mm512_srli_epi32::<4>(d),
                    _mm512_loadu_ps(n.e1.as_ptr()),
                );
                _mm512_maskz_mul_ps(k, low, top)
            }
        };
        let sums = _mm256_set1_ps(tree_sum(e));
        let p = _mm256_div_ps(_mm512_castps512_ps256(e), sums);
        let mut all = [0f32; 8];
        _mm256_storeu_ps(all.as_mut_ptr(), p);
        y.copy_from_slice(&all[..5]);
        _mm512_storeu_si512(logits.as_mut_ptr() as *mut __m512i, c);
    }
}

/// `n` deterministic inputs of `len` values, as `nn-bench` cuts them.
fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut values = nn_models::bench::Inputs::new(seed);
    (0..n)
        .map(|_| values.by_ref().take(len).collect())
        .collect()
}

/// Median ns per call of `f` over 15 repetitions of `calls` calls.
fn median_ns(calls: usize, mut f: impl FnMut()) -> f64 {
    let mut reps: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() * 1e9 / calls as f64
        })
        .collect();
    reps.sort_by(f64::total_cmp);
    reps[reps.len() / 2]
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use fused::{Group, Net};
    use nn_models::bench::{SEED, THROUGHPUT_SEED};

    if !(std::is_x86_feature_detected!("avx512vnni")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("fma"))
    {
        eprintln!("int8-floor: this CPU has no AVX-512 VNNI; nothing to measure");
        return;
    }
    let net = M1::new(SEED);
    let calib: Vec<nn::Input<M1>> = inputs(64, 16, THROUGHPUT_SEED)
        .iter()
        .map(|v| nn::Input::<M1>::try_from(&v[..]).expect("16 values"))
        .collect();
    let q = net.quantize_int8(&calib).expect("M1 quantizes");

    // Repack the twin's layers.
    let mut n = Box::new(Net {
        w1: [0; 1024],
        w2: [0; 2048],
        w3: [0; 1024],
        w4: [0; 512],
        g1: [Group::default(); 4],
        g2: [Group::default(); 2],
        g3: [Group::default(); 2],
        g4: Group::default(),
        table: [0.0; 256],
        e0: [0.0; 16],
        e1: [0.0; 16],
        in_scale: q.tensors[0].scale,
        in_zp: q.tensors[0].zero_point,
        scale: q.output.output.scale,
    });
    macro_rules! layer {
        ($d:expr, $n_in:expr, $n_out:expr, $w:expr, $gs:expr) => {{
            let d = &$d;
            let groups = $gs.len();
            let (lo, hi) = d.activation.range(d.output);
            let zp = d.output.zero_point;
            for o in 0..16 * groups {
                let g = &mut $gs[o / 16];
                let l = o % 16;
                for i in 0..$n_in {
                    let v = if o < $n_out { d.weight(o, i) } else { 0 };
                    $w[64 * ((i / 4) * groups + o / 16) + 4 * l + i % 4] = v;
                }
                if o >= $n_out {
                    continue;
                }
                let sum: i32 = (0..$n_in).map(|i| d.weight(o, i) as i32).sum();
                g.offset[l] = d.bias[o].wrapping_sub((128 + d.input.zero_point).wrapping_mul(sum));
                let (m, shift) = (d.requant[o].multiplier, d.requant[o].shift);
                assert!(
                    (-23..=-1).contains(&shift),
                    "M1's shifts are right shifts of 1 to 23"
                );
                let r = -shift;
                g.m[l] = m;
                if l % 2 == 1 {
                    g.m_odd[l - 1] = m;
                }
                g.right[l] = r;
                g.mask[l] = (1 << r) - 1;
                g.half[l] = ((1 << r) - 1) >> 1;
                g.right_1[l] = r - 1;
                let center = $n_out == 5;
                assert!(
                    center || lo >= zp,
                    "M1's hidden layers are clamped by their ReLU"
                );
                let z = if center { 0 } else { zp as i64 };
                let k = (1i64 << 30) + (1i64 << (30 + r)) + (z << (31 + r));
                if l % 2 == 0 {
                    g.k_even[l / 2] = k;
                } else {
                    g.k_odd[l / 2] = k;
                }
                (g.lo[l], g.hi[l]) = (lo, hi);
                (g.lo_c[l], g.hi_c[l], g.zp[l]) = (lo - zp, hi - zp, zp);
            }
        }};
    }
    layer!(q.fc1, 16, 64, n.w1, n.g1);
    layer!(q.fc2, 64, 32, n.w2, n.g2);
    layer!(q.fc3, 32, 32, n.w3, n.g3);
    layer!(q.output, 32, 5, n.w4, core::slice::from_mut(&mut n.g4));
    let s = n.scale as f64;
    for j in 0..256 {
        n.table[j] = (-s * (255 - j) as f64).exp() as f32;
    }
    for b in 0..16 {
        n.e0[b] = (-s * b as f64).exp() as f32;
        n.e1[b] = (-s * 16.0 * b as f64).exp() as f32;
    }
    assert!(
        255.0 * s < 80.0,
        "variant 4 needs 255 scale < 80 (here {})",
        255.0 * s
    );

    // Check every variant against the twin on a thousand inputs.
    let mut worst = [0f32; 5];
    for x in inputs(1000, 16, 7) {
        let input = nn::Input::<M1>::try_from(&x[..]).expect("16 values");
        let want = q.forward(&input);
        let want_logits = q.forward_int8(&q.quantize_input(&input));
        let xa: [f32; 16] = x[..].try_into().expect("16 values");
        let zp = q.output.output.zero_point;
        for v in 1..=4u8 {
            let (mut y, mut lg) = ([0f32; 5], [0i32; 16]);
            // SAFETY: the CPU's features were checked above.
            unsafe {
                match v {
                    1 => fused::forward::<1>(&n, &xa, &mut y, &mut lg),
                    2 => fused::forward::<2>(&n, &xa, &mut y, &mut lg),
                    3 => fused::forward::<3>(&n, &xa, &mut y, &mut lg),
                    _ => fused::forward::<4>(&n, &xa, &mut y, &mut lg),
                }
            }
            for (o, w) in want_logits.as_slice().iter().enumerate() {
                assert_eq!(lg[o] + zp, *w as i32, "variant {v}: int8 logit {o}");
            }
            for (o, (a, b)) in y.iter().zip(want.as_slice()).enumerate() {
                if v <= 2 {
                    assert_eq!(a.to_bits(), b.to_bits(), "variant {v}: probability {o}");
                }
                worst[v as usize] = worst[v as usize].max((a - b).abs());
            }
        }
    }
    assert!(
        worst[3] < 1e-6 && worst[4] < 1e-6,
        "table softmax off by {worst:?}"
    );

    let slice = inputs(1, 16, SEED).remove(0);
    let calls = 100_000;
    let mut ns = [[0f64; 6]; 5];
    for round in ns.iter_mut() {
        round[0] = median_ns(calls, || {
            let x = nn::Input::<M1>::try_from(black_box(&slice[..])).expect("16 values");
            black_box(net.forward(&x));
        });
        round[1] = median_ns(calls, || {
            let x = nn::Input::<M1>::try_from(black_box(&slice[..])).expect("16 values");
            black_box(q.forward(&x));
        });
        let mut y = [0f32; 5];
        let mut lg = [0i32; 16];
        macro_rules! variant {
            ($v:literal) => {
                median_ns(calls, || {
                    let x: [f32; 16] = black_box(&slice[..]).try_into().expect("16 values");
                    // SAFETY: the CPU's features were checked above.
                    unsafe { fused::forward::<$v>(black_box(&n), &x, &mut y, &mut lg) };
                    black_box((&y, &lg));
                })
            };
        }
        round[2] = variant!(1);
        round[3] = variant!(2);
        round[4] = variant!(3);
        round[5] = variant!(4);
    }
    let names = [
        "nn f32 forward",
        "nn int8 forward",
        "fused, nn's operations",
        "+ one rounding",
        "+ exp table (gather)",
        "+ no maximum (two tables)",
    ];
    let f32_ns = {
        let mut v: Vec<f64> = ns.iter().map(|r| r[0]).collect();
        v.sort_by(f64::total_cmp);
        v[2]
    };
    println!("M1, one sample, median of 5 rounds (ns), and the ratio to nn's f32 forward:");
    for (i, name) in names.iter().enumerate() {
        let mut v: Vec<f64> = ns.iter().map(|r| r[i]).collect();
        v.sort_by(f64::total_cmp);
        println!("  {name:<28} {:7.1}  {:.2}", v[2], v[2] / f32_ns);
    }
    println!(
        "checked on 1,000 inputs: variants 1-2 the twin's bits, 3-4 within {:.1e}",
        worst[3].max(worst[4])
    );
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    eprintln!("int8-floor: x86-64 only");
}
