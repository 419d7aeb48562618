//! hls4ml's remaining activations and its batch normalization (hls4ml 1.3, Vivado/Vitis backend,
//! `io_parallel`), bit for bit: Tanh, Softplus, ELU and SELU with their lookup tables built as
//! the C simulation builds them, LeakyReLU and PReLU with their parameters typed as hls4ml
//! types them, and `nnet::normalize` (BatchNormalization). Line numbers are in the installed
//! `site-packages/hls4ml/templates/vivado/nnet_utils/` (`nnet_activation.h`,
//! `nnet_batchnorm.h`); `scripts/hls4ml/README.md` has the details and the fixtures
//! (`tests/fixtures/hls4ml/mlp_*.json`, checked by `tests/hls4ml_activations.rs`).
//!
//! The tables are computed in `float` with the C library the C simulation ran on (glibc 2.36):
//! `std::exp(float)` is glibc's `expf` ([`expf`]), `tanh(float)` is glibc's `tanhf`
//! ([`tanhf`], with glibc's `expm1f`, [`expm1f`]), and Softplus's `std::log(double)` is
//! `libm::log` (glibc's `log` differs from it in rare last bits, which never survive the rounding
//! to `float` here: checked on every `float` in `[-16, 16]`).
//!
//! Tables live in structs sized by const generics ([`TanhTable`], [`SoftplusTable`],
//! [`EluTable`], [`SeluTable`]); the functions allocate nothing. Parameters (`alpha`) are
//! [`Value`]s: the raw bits together with hls4ml's `param_t`.
//!
//! Limits: products and sums are formed in `i128` and must fit in an `i64` with their exact
//! fractional bits (always so for hls4ml's types, at most 32 bits wide); else these functions
//! panic.

use super::tables::{centered_input, expf, lookup_table};
use super::{Fixed, Spec, Value};

/// glibc's `expm1f` (2.36, `sysdeps/ieee754/flt-32/s_expm1f.c`, Sun's fdlibm as converted to
/// `float` by Cygnus, five-term polynomial). The `libm` crate's `expm1f` (FreeBSD's newer
/// two-term version) differs from it on 1,155 `float`s in `[-16, 16]`; this port equals the
/// system's `expm1f` on every finite `float` and on the infinities (checked exhaustively,
/// 4.28e9 values). Its only use here is [`tanhf`].
#[allow(clippy::excessive_precision)] // glibc's literals, as written there
pub fn expm1f(x: f32) -> f32 {
    const O_THRESHOLD: f32 = 8.8721679688e+01; // 0x42b17180
    const LN2_HI: f32 = 6.9313812256e-01; // 0x3f317180
    const LN2_LO: f32 = 9.0580006145e-06; // 0x3717f7d1
    const INVLN2: f32 = 1.4426950216e+00; // 0x3fb8aa3b
    const Q1: f32 = -3.3333335072e-02; // 0xbd088889
    const Q2: f32 = 1.5873016091e-03; // 0x3ad00d01
    const Q3: f32 = -7.9365076090e-05; // 0xb8a670cd
    const Q4: f32 = 4.0082177293e-06; // 0x36867e54
    const Q5: f32 = -2.0109921195e-07; // 0xb457edbb
    let mut x = x;
    let bits = x.to_bits();
    let negative = bits & 0x8000_0000 != 0;
    let hx = bits & 0x7fff_ffff;
    // Huge and non-finite arguments.
    if hx >= 0x4195_b844 {
        // |x| >= 27 ln 2
        if hx >= 0x42b1_7218 {
            if hx > 0x7f80_0000 {
                return x + x; // NaN
            }
            if hx == 0x7f80_0000 {
                return if negative { -1.0 } else { x };
            }
            if x > O_THRESHOLD {
                return f32::INFINITY;
            }
        }
        if negative {
            return -1.0;
        }
    }
    // Argument reduction.
    let k: i32;
    let mut c = 0.0f32;
    if hx > 0x3eb1_7218 {
        // |x| > ln 2 / 2
        let (hi, lo);
        if hx < 0x3f85_1592 {
            // and |x| < 1.5 ln 2
            if negative {
                (hi, lo, k) = (x + LN2_HI, -LN2_LO, -1);
            } else {
                (hi, lo, k) = (x - LN2_HI, LN2_LO, 1);
            }
        } else {
            k = (INVLN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
            let t = k as f32;
            hi = x - t * LN2_HI; // exact
            lo = t * LN2_LO;
        }
        x = hi - lo;
        c = (hi - x) - lo;
    } else if hx < 0x3300_0000 {
        return x; // |x| < 2^-25
    } else {
        k = 0;
    }
    // x is now in the primary range.
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    let t = 3.0 - r1 * hfx;
    let mut e = hxs * ((r1 - t) / (6.0 - x * t));
    if k == 0 {
        return x - (x * e - hxs);
    }
    e = x * (e - c) - c;
    e -= hxs;
    if k == -1 {
        return 0.5 * (x - e) - 0.5;
    }
    if k == 1 {
        return if x < -0.25 {
            -2.0 * (e - (x + 0.5))
        } else {
            1.0 + 2.0 * (x - e)
        };
    }
    // Adds k to the exponent of y.
    let scale = |y: f32| f32::from_bits((y.to_bits() as i32).wrapping_add(k << 23) as u32);
    if k <= -2 || k > 56 {
        return scale(1.0 - (e - x)) - 1.0;
    }
    if k < 23 {
        let t = f32::from_bits((0x3f80_0000 - (0x0100_0000 >> k)) as u32); // 1 - 2^-k
        scale(t - (e - x))
    } else {
        let t = f32::from_bits(((0x7f - k) << 23) as u32); // 2^-k
        scale((x - (e + t)) + 1.0)
    }
}

/// glibc's `tanhf` (2.36, `sysdeps/ieee754/flt-32/s_tanhf.c`, fdlibm): for `|x| < 22`,
/// `1 - 2 / (expm1f(2|x|) + 2)` if `|x| >= 1`, else `-t / (t + 2)` with `t = expm1f(-2|x|)`;
/// `±1` beyond; the sign of `x`. The `float` `tanh` hls4ml's tanh table calls (the call
/// `tanh(in_val)` with a `float` argument, `nnet_activation.h` 431, picks `std::tanh(float)`:
/// checked, the table holds `float` results). Equal to the system's `tanhf` on every `float` in
/// `[-16, 16]` (checked exhaustively); the `libm` crate's `tanhf` (musl's algorithm) differs on
/// 17 million of them.
pub fn tanhf(x: f32) -> f32 {
    let jx = x.to_bits() as i32;
    let ix = jx & 0x7fff_ffff;
    if ix >= 0x7f80_0000 {
        // tanh(±inf) = ±1, tanh(NaN) = NaN
        return if jx >= 0 {
            1.0 / x + 1.0
        } else {
            1.0 / x - 1.0
        };
    }
    let z = if ix < 0x41b0_0000 {
        // |x| < 22
        if ix == 0 {
            return x;
        }
        if ix < 0x2400_0000 {
            return x * (1.0 + x); // |x| < 2^-55
        }
        if ix >= 0x3f80_0000 {
            let t = expm1f(2.0 * libm::fabsf(x));
            1.0 - 2.0 / (t + 2.0)
        } else {
            let t = expm1f(-2.0 * libm::fabsf(x));
            -t / (t + 2.0)
        }
    } else {
        1.0
    };
    if jx >= 0 {
        z
    } else {
        -z
    }
}

/// `int(x * n / d)` as hls4ml's table lookups compute it (`data * CONFIG_T::table_size / d`
/// assigned to an `int`): the exact product (`ap_fixed * unsigned`), `ap_fixed / int` (the raw
/// value divided, truncating toward zero, keeping the fractional bits), then `int` (truncation
/// toward zero, the low 32 bits). The two truncations make one: `trunc(x * n / d)`.
fn scaled_int(x: i64, x_spec: Spec, n: usize, d: i64) -> i32 {
    let f = x_spec.frac_bits();
    let num = x as i128 * n as i128;
    let q = if f >= 0 {
        if f >= 100 {
            0
        } else {
            num / ((d as i128) << f)
        }
    } else {
        (num << (-f).min(40)) / d as i128
    };
    q as i32
}

/// The index of a table over `[-range/2, range/2)` (Tanh: `range = 8`, lines 458-464;
/// Softplus: `range = 16`, lines 597-602): `data_round = int(x * N / range)`,
/// `index = data_round + (range / 2) * N / range` (unsigned arithmetic read back as `int`),
/// clamped to `[0, N - 1]`.
fn centered_index<const N: usize>(x: i64, x_spec: Spec, range: usize) -> usize {
    let data_round = scaled_int(x, x_spec, N, range as i64);
    let index = data_round.wrapping_add(((range / 2) * N / range) as u32 as i32);
    index.clamp(0, N as i32 - 1) as usize
}

/// The index of a table over `(-8, 0]` for `x < 0` (ELU line 699, SELU line 757):
/// `index = int(x * N / -8)`, i.e. `trunc(-x * N / 8)`.
fn negative_index<const N: usize>(x: i64, x_spec: Spec) -> i32 {
    scaled_int(x, x_spec, N, -8)
}

/// `(out) (a * b)`: the exact product of two typed raw values converted into `out`.
fn mul_into(a: i64, a_spec: Spec, b: i64, b_spec: Spec, out: Spec) -> i64 {
    let p = i64::try_from(a as i128 * b as i128).expect("fixed-point product wider than 64 bits");
    out.from_scaled(p, a_spec.frac_bits() + b_spec.frac_bits())
        .raw
}

/// `float in_val = -8.0 * ii / float(N)` (in `double`): the input of entry `ii` of a table over
/// `(-8, 0]` (ELU line 666, SELU line 723).
fn negative_input(ii: usize, n: usize) -> f32 {
    (-8.0 * ii as f64 / n as f32 as f64) as f32
}

lookup_table!(
    /// hls4ml's tanh table (`init_tanh_table`, `nnet_activation.h` 425-436): entry `ii` is
    /// `table_t(tanhf(in))` with `in = float(8.0 * (ii - N / 2.0) / N)`: the table covers
    /// `[-4, 4)` in steps of `8 / N` ([`tanhf`] is glibc's).
    TanhTable,
    |ii, n| tanhf(centered_input(ii, n, 4.0))
);

lookup_table!(
    /// hls4ml's softplus table (`init_softplus_table`, `nnet_activation.h` 561-574): entry
    /// `ii` is `table_t(softplus_fcn_float(in))` with `in = float(16.0 * (ii - N / 2.0) / N)`
    /// (the table covers `[-8, 8)`) and `softplus_fcn_float(x) = float(std::log(double(expf(x))
    /// + 1.0))` (line 561: `std::exp(float)` is `expf`, `+ 1.` makes it `double`, `std::log` is
    /// the `double` `log`).
    SoftplusTable,
    |ii, n| {
        let e = expf(centered_input(ii, n, 8.0)) as f64;
        libm::log(e + 1.0) as f32
    }
);

lookup_table!(
    /// hls4ml's ELU table (`init_elu_table`, `nnet_activation.h` 659-672): entry `ii` is
    /// `table_t(float(double(expf(in)) - 1.0))` (`elu_fcn_float`, line 659) with
    /// `in = float(-8.0 * ii / N)`: `exp(x) - 1` over `(-8, 0]`, entry 0 at `x = 0`. `alpha`
    /// is applied at lookup time ([`elu`]).
    EluTable,
    |ii, n| (expf(negative_input(ii, n)) as f64 - 1.0) as f32
);

lookup_table!(
    /// hls4ml's SELU table (`init_selu_table`, `nnet_activation.h` 714-729): entry `ii` is
    /// `table_t(float(1.0507009873554804934 * (1.6732632423543772848 * (double(expf(in)) -
    /// 1.0))))` (`selu_fcn_float`, lines 714-716, in `double`) with `in = float(-8.0 * ii / N)`:
    /// `lambda * alpha * (exp(x) - 1)` over `(-8, 0]`.
    SeluTable,
    |ii, n| {
        let e = expf(negative_input(ii, n)) as f64;
        #[allow(clippy::excessive_precision)]
        let v = 1.0507009873554804934193349852946 * (1.6732632423543772848170429916717 * (e - 1.0));
        v as f32
    }
);

impl<const N: usize> TanhTable<N> {
    /// hls4ml's index (`tanh`, lines 455-464): `data_round = int(x * N / 8)` (truncating
    /// toward zero), `index = data_round + N / 2` clamped to `[0, N - 1]`. For `N = 1024`:
    /// `clamp(trunc(128 x) + 512, 0, 1023)`; inputs in `(-8/N, 8/N)` all give `N / 2`.
    pub fn index(x: i64, x_spec: Spec) -> usize {
        centered_index::<N>(x, x_spec, 8)
    }
}

impl<const N: usize> SoftplusTable<N> {
    /// hls4ml's index (`softplus`, lines 594-602): `data_round = int(x * N / 16)` (truncating
    /// toward zero), `index = data_round + N / 2` clamped to `[0, N - 1]`.
    pub fn index(x: i64, x_spec: Spec) -> usize {
        centered_index::<N>(x, x_spec, 16)
    }
}

impl<const N: usize> EluTable<N> {
    /// hls4ml's index for `x < 0` (`elu`, lines 699-701): `index = int(x * N / -8)`
    /// (`floor(-x * N / 8)` for `x < 0`), then `if (index > N - 1) index = N - 1`, a
    /// comparison with an `unsigned`: an index that wrapped negative in the `int` (only for
    /// inputs with more than about 28 integer bits) also becomes `N - 1`.
    pub fn index(x: i64, x_spec: Spec) -> usize {
        let index = negative_index::<N>(x, x_spec);
        if index as u32 > (N - 1) as u32 {
            N - 1
        } else {
            index as usize
        }
    }
}

impl<const N: usize> SeluTable<N> {
    /// hls4ml's index for `x < 0` (`selu`, lines 757-764): `index = int(x * N / -8)`
    /// (`floor(-x * N / 8)`), clamped to `[0, N - 1]`.
    pub fn index(x: i64, x_spec: Spec) -> usize {
        negative_index::<N>(x, x_spec).clamp(0, N as i32 - 1) as usize
    }
}

/// hls4ml's Tanh (`tanh`, `nnet_activation.h` 438-467): `y = (res_T) table[index(x)]` (see
/// [`TanhTable::index`]). `x_spec` is the input's type, `out_spec` the layer's `result_t`.
pub fn tanh<const N: usize>(
    x: &[i64],
    x_spec: Spec,
    table: &TanhTable<N>,
    out_spec: Spec,
    y: &mut [i64],
) {
    for (y, &x) in y.iter_mut().zip(x) {
        let t = table.table[TanhTable::<N>::index(x, x_spec)];
        *y = out_spec.cast(Fixed::from_raw(t), table.spec).raw;
    }
}

/// hls4ml's Softplus (`softplus`, `nnet_activation.h` 576-605): `y = (res_T) table[index(x)]`
/// (see [`SoftplusTable::index`]).
pub fn softplus<const N: usize>(
    x: &[i64],
    x_spec: Spec,
    table: &SoftplusTable<N>,
    out_spec: Spec,
    y: &mut [i64],
) {
    for (y, &x) in y.iter_mut().zip(x) {
        let t = table.table[SoftplusTable::<N>::index(x, x_spec)];
        *y = out_spec.cast(Fixed::from_raw(t), table.spec).raw;
    }
}

/// hls4ml's ELU (`elu`, `nnet_activation.h` 674-705): `x >= 0 -> (res_T) x`, else
/// `(res_T) (alpha * table[index(x)])`, the exact product of `param_t` and `table_t` (see
/// [`EluTable::index`]). hls4ml passes `alpha` as a `double` literal (Keras's `alpha`, printed
/// by Python) into a `param_t` argument: `Value::from_f64(alpha, param_t)`. The two-argument
/// `elu` (line 707, `ap_uint<1>` alpha 1) is `alpha = Value::from_f64(1.0, ap_ufixed<1,1>)`.
pub fn elu<const N: usize>(
    x: &[i64],
    x_spec: Spec,
    alpha: Value,
    table: &EluTable<N>,
    out_spec: Spec,
    y: &mut [i64],
) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x >= 0 {
            out_spec.cast(Fixed::from_raw(x), x_spec).raw
        } else {
            let t = table.table[EluTable::<N>::index(x, x_spec)];
            mul_into(alpha.fixed.raw, alpha.spec, t, table.spec, out_spec)
        };
    }
}

/// SELU's `lambda` as hls4ml types it (`selu`, lines 745-746): `ap_ufixed<16,1>`
/// `1.0507009873554805`, truncated to `34429 * 2^-15`.
pub fn selu_lambda() -> Value {
    Value::from_f64(1.0507009873554805, Spec::ap_ufixed(16, 1))
}

/// hls4ml's SELU (`selu`, `nnet_activation.h` 731-769): `x >= 0 -> (res_T) (lambda * x)`, the
/// exact product with [`selu_lambda`]; else `(res_T) table[index(x)]` (see
/// [`SeluTable::index`]).
pub fn selu<const N: usize>(
    x: &[i64],
    x_spec: Spec,
    table: &SeluTable<N>,
    out_spec: Spec,
    y: &mut [i64],
) {
    let lambda = selu_lambda();
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x >= 0 {
            mul_into(lambda.fixed.raw, lambda.spec, x, x_spec, out_spec)
        } else {
            let t = table.table[SeluTable::<N>::index(x, x_spec)];
            out_spec.cast(Fixed::from_raw(t), table.spec).raw
        };
    }
}

/// hls4ml's LeakyReLU (`leaky_relu`, `nnet_activation.h` 527-539): `x > 0 -> (res_T) x`, else
/// `(res_T) (alpha * x)`, the exact product. hls4ml writes Keras's `negative_slope` into the
/// call as a `double` literal for a `param_t` argument (`core_templates.py` 250-251, 376), so
/// `alpha = Value::from_f64(negative_slope, param_t)` (`param_t` is the layer's `param`
/// precision: `0.1` in `ap_fixed<16,6>` is `102 * 2^-10`).
pub fn leaky_relu(x: &[i64], x_spec: Spec, alpha: Value, out_spec: Spec, y: &mut [i64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x > 0 {
            out_spec.cast(Fixed::from_raw(x), x_spec).raw
        } else {
            mul_into(alpha.fixed.raw, alpha.spec, x, x_spec, out_spec)
        };
    }
}

/// hls4ml's PReLU (`prelu`, `nnet_activation.h` 774-786): `x[i] > 0 -> (res_T) x[i]`, else
/// `(res_T) (alpha[i] * x[i])`, the exact product; `alpha` (raw, type `alpha_spec` = the
/// layer's `param_t`) is a weight array read from `a<index>.txt` like any weight, one per input
/// element (Keras's `alpha`, flattened).
pub fn prelu(
    x: &[i64],
    x_spec: Spec,
    alpha: &[i64],
    alpha_spec: Spec,
    out_spec: Spec,
    y: &mut [i64],
) {
    assert_eq!(alpha.len(), x.len(), "one alpha per input");
    for ((y, &x), &a) in y.iter_mut().zip(x).zip(alpha) {
        *y = if x > 0 {
            out_spec.cast(Fixed::from_raw(x), x_spec).raw
        } else {
            mul_into(a, alpha_spec, x, x_spec, out_spec)
        };
    }
}

/// The types of hls4ml's BatchNormalization (its config struct, `core_templates.py` 101-113):
/// `scale_t`, `bias_t` and the layer's `result_t`. There is no accumulator type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchNormPrecision {
    /// `scale_t` (the `s<index>` weights).
    pub scale: Spec,
    /// `bias_t` (the `b<index>` weights).
    pub bias: Spec,
    /// `res_T`, the layer's `result_t`.
    pub result: Spec,
}

/// hls4ml's BatchNormalization (`nnet::normalize`, `nnet_batchnorm.h` 30-63):
/// `y[i] = (res_T) (x[i] * scale[c] + bias[c])` with the product exact (`product::mult`,
/// `decltype(a * w)`) and the sum exact (`ap_fixed`'s `operator+`), one conversion at the end.
/// `scale` and `bias` are hls4ml's folded parameters (`model/layers.py` 1070-1084:
/// `scale = gamma / sqrt(var + eps)`, `bias = beta - scale * mean`, computed by NumPy in
/// `float32` and written to `s<index>.txt` / `b<index>.txt`), raw in `p.scale` / `p.bias`.
///
/// Channels: `c = i / (x.len() / scale.len())`, i.e. `x` is `[C][...]` (nn's channels-first
/// layout) with one scale per channel; a Dense input (hls4ml's `n_filt = -1`) has one scale
/// per element. (hls4ml indexes channels-last arrays with `i % n_filt`; every element is
/// computed on its own, so only the pairing matters.)
pub fn batch_norm(
    x: &[i64],
    x_spec: Spec,
    scale: &[i64],
    bias: &[i64],
    p: &BatchNormPrecision,
    y: &mut [i64],
) {
    assert_eq!(scale.len(), bias.len());
    assert!(
        !scale.is_empty() && x.len().is_multiple_of(scale.len()),
        "x.len() must be a multiple of scale.len()"
    );
    let per_channel = x.len() / scale.len();
    let fp = x_spec.frac_bits() + p.scale.frac_bits();
    let fb = p.bias.frac_bits();
    let f = fp.max(fb);
    for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
        let c = i / per_channel;
        let prod = (x as i128 * scale[c] as i128) << (f - fp);
        let sum = prod + ((bias[c] as i128) << (f - fb));
        let sum = i64::try_from(sum).expect("batch-norm sum wider than 64 bits");
        *y = p.result.from_scaled(sum, f).raw;
    }
}
