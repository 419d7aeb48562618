//! hls4ml's table-driven activations, Sigmoid and Softmax (`nnet_activation.h` of hls4ml 1.3,
//! Vivado/Vitis backend, `io_parallel`), bit for bit: the tables built as its C simulation
//! builds them (in `float`, with glibc's `expf`, reproduced by [`expf`]), and the lookups with
//! its index arithmetic and bit slicing.
//!
//! Tables live in structs sized by const generics ([`SigmoidTable`], [`SoftmaxTables`]); the
//! lookups allocate nothing.

use super::{Fixed, Spec};

/// glibc's `expf` (2.27 and later; the fixtures' C simulation ran on glibc 2.36, x86-64), the
/// `float` exponential hls4ml's tables call through `std::exp(float)`: Szabolcs Nagy's
/// algorithm from Arm's optimized-routines (`sysdeps/ieee754/flt-32/e_expf.c` and
/// `e_exp2f_data.c`, MIT; musl uses the same code): `x * 32 / ln 2 = k + r`,
/// `exp(x) = 2^(k/32) * p(r)` in `double` with a cubic `p`, rounded once to `float`. Its error is
/// at most 0.502 ulp, so it is not always the correctly rounded value, and neither
/// `libm::expf` (a different algorithm) nor `exp` in `f64` rounded to `f32` reproduces it:
/// on 60 million sampled `float`s this function matched the system's `expf` everywhere, the
/// other two differed 517,920 and 4,639 times. (glibc's FMA build gave the same results on
/// those samples.)
pub fn expf(x: f32) -> f32 {
    const N: f64 = 32.0;
    // tab[i] = bits(2^(i/32)) - (i << 47).
    const TAB: [u64; 32] = [
        0x3ff0000000000000,
        0x3fefd9b0d3158574,
        0x3fefb5586cf9890f,
        0x3fef9301d0125b51,
        0x3fef72b83c7d517b,
        0x3fef54873168b9aa,
        0x3fef387a6e756238,
        0x3fef1e9df51fdee1,
        0x3fef06fe0a31b715,
        0x3feef1a7373aa9cb,
        0x3feedea64c123422,
        0x3feece086061892d,
        0x3feebfdad5362a27,
        0x3feeb42b569d4f82,
        0x3feeab07dd485429,
        0x3feea47eb03a5585,
        0x3feea09e667f3bcd,
        0x3fee9f75e8ec5f74,
        0x3feea11473eb0187,
        0x3feea589994cce13,
        0x3feeace5422aa0db,
        0x3feeb737b0cdc5e5,
        0x3feec49182a3f090,
        0x3feed503b23e255d,
        0x3feee89f995ad3ad,
        0x3feeff76f2fb5e47,
        0x3fef199bdd85529c,
        0x3fef3720dcef9069,
        0x3fef5818dcfba487,
        0x3fef7c97337b9b5f,
        0x3fefa4afa2a490da,
        0x3fefd0765b6e4540,
    ];
    let bits = x.to_bits();
    let abstop = (bits >> 20) & 0x7ff;
    if abstop >= 0x42b {
        // |x| >= 88 or NaN.
        if bits == f32::NEG_INFINITY.to_bits() {
            return 0.0;
        }
        if abstop >= 0x7f8 {
            return x + x;
        }
        if x > f32::from_bits(0x42b17217) {
            return f32::INFINITY; // x > log(0x1p128)
        }
        if x < f32::from_bits(0xc2cff1b4) {
            return 0.0; // x < log(0x1p-150)
        }
    }
    let inv_ln2_n = f64::from_bits(0x3ff71547652b82fe) * N;
    let c0 = f64::from_bits(0x3fac6af84b912394) / (N * N * N);
    let c1 = f64::from_bits(0x3fcebfce50fac4f3) / (N * N);
    let c2 = f64::from_bits(0x3fe62e42ff0c52d6) / N;
    let shift = f64::from_bits(0x4338000000000000); // 0x1.8p52
    let xd = x as f64;
    let z = inv_ln2_n * xd;
    let kd = z + shift;
    let ki = kd.to_bits();
    let kd = kd - shift;
    let r = z - kd;
    let t = TAB[(ki % 32) as usize].wrapping_add(ki << 47);
    let s = f64::from_bits(t);
    let z = c0 * r + c1;
    let r2 = r * r;
    let y = c2 * r + 1.0;
    let y = z * r2 + y;
    (y * s) as f32
}

/// hls4ml's sigmoid table (`init_sigmoid_table`, `nnet_activation.h` 81-92) with
/// Defines a lookup table type `$name<N>`: `N` entries of `table_t`, entry `ii` the `f32`
/// `$value(ii, N)` converted as hls4ml's `table_t(float)` (through `double`).
macro_rules! lookup_table {
    ($(#[$doc:meta])* $name:ident, $value:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name<const N: usize> {
            table: [i64; N],
            spec: Spec,
        }

        impl<const N: usize> $name<N> {
            /// The table in type `table_spec` (hls4ml's `table_t`, by default `ap_fixed<18,8>`);
            /// `N` is the layer's `table_size` (1024 by default).
            pub fn new(table_spec: Spec) -> Self {
                let value: fn(usize, usize) -> f32 = $value;
                let mut table = [0i64; N];
                for (ii, t) in table.iter_mut().enumerate() {
                    // table_t real_val = <float>: float -> double -> ap_fixed.
                    *t = table_spec.from_f64(value(ii, N) as f64).raw;
                }
                $name {
                    table,
                    spec: table_spec,
                }
            }

            /// The raw entries.
            pub fn raw(&self) -> &[i64; N] {
                &self.table
            }

            /// `table_t`.
            pub fn spec(&self) -> Spec {
                self.spec
            }
        }
    };
}

pub(crate) use lookup_table;

/// `float in_val = 2 * half * (ii - float(N) / 2.0) / float(N)` (the arithmetic in `double`):
/// the input of entry `ii` of a table over `[-half, half)`.
pub(crate) fn centered_input(ii: usize, n: usize, half: f64) -> f32 {
    let nf = n as f32 as f64;
    (2.0 * half * (ii as f64 - nf / 2.0) / nf) as f32
}

lookup_table!(
    /// `N = table_size` entries of type `table_t`: entry `ii` is
    /// `table_t(float(1.0 / (1 + expf(-in))))` with `in = float(16.0 * (ii - N / 2.0) / N)` (the
    /// table covers `[-8, 8)`; `1 + expf` in `float`, the division in `double`, line 79).
    SigmoidTable,
    |ii, n| {
        let e = 1.0f32 + expf(-centered_input(ii, n, 8.0));
        (1.0f64 / e as f64) as f32
    }
);

impl<const N: usize> SigmoidTable<N> {
    /// hls4ml's index (`sigmoid`, lines 114-122): `data_round = int(x * N / 16)` (the exact
    /// product, divided keeping the fractional bits and converted to `int`, both truncating
    /// toward zero), `index = data_round + N / 2` clamped to `[0, N - 1]`. For `N = 1024`:
    /// `clamp(trunc(64 x) + 512, 0, 1023)`.
    pub fn index(x: i64, x_spec: Spec) -> usize {
        let f = x_spec.frac_bits();
        let num = x as i128 * N as i128;
        let q = if f >= 0 {
            if f >= 100 {
                0
            } else {
                num / (16i128 << f)
            }
        } else {
            (num << (-f).min(40)) / 16
        };
        // `int` keeps the low 32 bits; `+ 8 * N / 16` is unsigned arithmetic, read back as int.
        let index = (q as i32).wrapping_add((8 * N / 16) as i32);
        index.clamp(0, N as i32 - 1) as usize
    }
}

/// hls4ml's Sigmoid (`sigmoid`, `nnet_activation.h` 96-123): `y = (res_T) table[index(x)]`
/// (see [`SigmoidTable::index`]).
pub fn sigmoid<const N: usize>(
    x: &[i64],
    x_spec: Spec,
    table: &SigmoidTable<N>,
    out_spec: Spec,
    y: &mut [i64],
) {
    for (y, &x) in y.iter_mut().zip(x) {
        let t = table.table[SigmoidTable::<N>::index(x, x_spec)];
        *y = out_spec.cast(Fixed::from_raw(t), table.spec).raw;
    }
}

/// The types of hls4ml's Softmax (its config struct, `core_templates.py` 229-247 and
/// `SoftmaxConfigTemplate.format` 293-337).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxPrecision {
    /// `data_T`: the input's type (the previous layer's `result_t`).
    pub input: Spec,
    /// `res_T`: the output type.
    pub result: Spec,
    /// `exp_table_t`.
    pub exp_table: Spec,
    /// `inv_table_t`.
    pub inv_table: Spec,
    /// `accum_t`: the exponentials and every node of the sum tree.
    pub accum: Spec,
    /// `inv_inp_t`: the sum's type, which indexes the inverse table.
    pub inv_inp: Spec,
    /// `inp_norm_t` (stable only): the type of `max - x`, which indexes the exponential table;
    /// see [`SoftmaxPrecision::hls4ml_inp_norm`].
    pub inp_norm: Spec,
    /// `exp_scale` (a `float`; 1.0 by default): the exponential table holds
    /// `exp(±value * exp_scale)`.
    pub exp_scale: f32,
}

impl SoftmaxPrecision {
    /// hls4ml's defaults (`fpga_backend.py` 118-149): `exp_table_t`, `inv_table_t`, `accum_t`
    /// and `inv_inp_t` all `ap_fixed<18,8,AP_RND,AP_SAT>`, `inp_norm_t` derived from the input
    /// ([`SoftmaxPrecision::hls4ml_inp_norm`]), `exp_scale = 1`.
    pub fn hls4ml_default(input: Spec, result: Spec) -> SoftmaxPrecision {
        let t = Spec::ap_fixed(18, 8)
            .with_quant(super::Quant::Rnd)
            .with_overflow(super::Overflow::Sat);
        SoftmaxPrecision {
            input,
            result,
            exp_table: t,
            inv_table: t,
            accum: t,
            inv_inp: t,
            inp_norm: SoftmaxPrecision::hls4ml_inp_norm(input),
            exp_scale: 1.0,
        }
    }

    /// The `inp_norm_t` hls4ml derives for the stable softmax (`core_templates.py` 320-329):
    /// `ap_ufixed<W - 1, I - 1>` of a signed input `ap_fixed<W, I>`, `ap_ufixed<W, I>` of an
    /// unsigned one (`AP_TRN`, `AP_WRAP`: a difference of `2^(I-1)` or more wraps).
    pub const fn hls4ml_inp_norm(input: Spec) -> Spec {
        let s = input.is_signed() as i16;
        Spec::ap_ufixed(input.width() - s as u8, input.int_bits() - s)
    }

    /// The exponential table's size hls4ml uses for the stable softmax: `min(table_size,
    /// 2^(W - 1))` for a signed input of `W` bits, `table_size` otherwise.
    pub fn hls4ml_stable_exp_table_size(input: Spec, table_size: usize) -> usize {
        if input.is_signed() {
            table_size.min(1usize << (input.width() - 1).min(62))
        } else {
            table_size
        }
    }
}

/// `log2(n)` for a power of two `n >= 2` (hls4ml's `ceillog2`, which the slicing below needs to
/// be exact: other sizes index past the table in hls4ml).
#[inline]
fn address_bits(n: usize) -> u32 {
    assert!(
        n >= 2 && n.is_power_of_two(),
        "softmax tables need a power-of-two size"
    );
    n.trailing_zeros()
}

/// `softmax_real_val_from_idx<T, n>(i)` (`nnet_activation.h` 133-139): the value of type
/// `spec` whose top `log2(n)` bits are `i` and whose other bits are 0, as a `float` (exact).
pub fn softmax_real_val_from_idx(i: usize, spec: Spec, n: usize) -> f32 {
    let bits = address_bits(n);
    let w = spec.width() as u32;
    assert!(w >= bits, "{spec} is narrower than the table's index");
    let mut raw = ((i as u64) & ((1u64 << bits) - 1)) << (w - bits);
    if spec.is_signed() && w < 64 && (raw >> (w - 1)) & 1 == 1 {
        raw |= !0u64 << w; // sign-extend
    }
    spec.to_f64(Fixed::from_raw(raw as i64)) as f32
}

/// `softmax_idx_from_real_val<T, n>(x)` (`nnet_activation.h` 141-146): the top `log2(n)` bits
/// of `x`'s `W` raw bits as an unsigned index: `(raw >> (W - log2 n)) mod n`.
#[inline]
pub fn softmax_idx_from_real_val(x: i64, spec: Spec, n: usize) -> usize {
    let bits = address_bits(n);
    let w = spec.width() as u32;
    assert!(w >= bits, "{spec} is narrower than the table's index");
    ((x >> (w - bits)) as u64 & ((1u64 << bits) - 1)) as usize
}

/// hls4ml's Softmax tables (`init_exp_table` and `init_invert_table`, `nnet_activation.h`
/// 148-172): `E` exponentials of type `exp_table_t` and `I` inverses of type `inv_table_t`.
///
/// - `exp[i] = exp_table_t(expf(±real_val_from_idx<T, E>(i) * exp_scale))` in `float`, with
///   `T = inp_norm_t` and the argument negated for the stable softmax, `T = data_T` (the
///   softmax's input type) and not negated for the latency one.
/// - `inv[i] = inv_table_t(1.0f / real_val_from_idx<inv_inp_t, I>(i))` in `float` (entry 0 is
///   `1 / 0 = inf`: the type's maximum under `AP_SAT`, 0 under `AP_WRAP`).
#[derive(Clone, Debug)]
pub struct SoftmaxTables<const E: usize, const I: usize> {
    /// The raw `exp_table_t` entries.
    pub exp: [i64; E],
    /// The raw `inv_table_t` entries.
    pub inv: [i64; I],
}

impl<const E: usize, const I: usize> SoftmaxTables<E, I> {
    /// The tables of the stable softmax (`softmax_stable`, line 236: `init_exp_table<inp_norm_t>
    /// (exp_table, true)`). hls4ml's `E` is
    /// [`SoftmaxPrecision::hls4ml_stable_exp_table_size`].
    pub fn stable(p: &SoftmaxPrecision) -> Self {
        Self::build(p, p.inp_norm, true)
    }

    /// The tables of the latency softmax (`softmax_latency`, line 192: `init_exp_table<data_T>`).
    pub fn latency(p: &SoftmaxPrecision) -> Self {
        Self::build(p, p.input, false)
    }

    fn build(p: &SoftmaxPrecision, index_spec: Spec, negative: bool) -> Self {
        let mut exp = [0i64; E];
        for (i, e) in exp.iter_mut().enumerate() {
            let mut x = softmax_real_val_from_idx(i, index_spec, E) * p.exp_scale;
            if negative {
                x = -x;
            }
            *e = p.exp_table.from_f64(expf(x) as f64).raw;
        }
        let mut inv = [0i64; I];
        for (i, v) in inv.iter_mut().enumerate() {
            let x = softmax_real_val_from_idx(i, p.inv_inp, I);
            *v = p.inv_table.from_f64((1.0f32 / x) as f64).raw;
        }
        SoftmaxTables { exp, inv }
    }
}

/// hls4ml's balanced adder tree (`reduce<accum_t, n, Op_add<accum_t>>`, `nnet_common.h`
/// 37-52): the left half holds `2^floor(log2(n - 1))` elements, and every node is
/// `accum_t(a + b)` (rounding and saturation at every node).
fn tree_sum(x: &[i64], accum: Spec) -> i64 {
    let add = |a: i64, b: i64| accum.from_scaled(a + b, accum.frac_bits()).raw;
    match x.len() {
        0 => 0,
        1 => x[0],
        2 => add(x[0], x[1]),
        n => {
            let left = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            add(tree_sum(&x[..left], accum), tree_sum(&x[left..], accum))
        }
    }
}

/// The common end of both softmaxes (`nnet_activation.h` 209-216 and 262-271): `y` holds the
/// exponentials (raw `accum_t`); `exp_sum = inv_inp_t(tree sum)`,
/// `inv = inv_table[idx<inv_inp_t>(exp_sum)]`, `y[i] = res_T(y[i] * inv)` (exact product).
fn normalize<const E: usize, const I: usize>(
    p: &SoftmaxPrecision,
    tables: &SoftmaxTables<E, I>,
    y: &mut [i64],
) {
    let sum = tree_sum(y, p.accum);
    let sum = p.inv_inp.cast(Fixed::from_raw(sum), p.accum).raw;
    let inv = tables.inv[softmax_idx_from_real_val(sum, p.inv_inp, I)];
    let frac = p.accum.frac_bits() + p.inv_table.frac_bits();
    for y in y.iter_mut() {
        *y = p.result.from_scaled(*y * inv, frac).raw;
    }
}

/// hls4ml's default Softmax, `softmax_stable` (`nnet_activation.h` 219-272), over `x` (raw
/// `data_T`) into `y` (raw `res_T`), `x.len() == y.len()`:
/// 1. `x_max` = the largest input (hls4ml's `Op_max` tree; only the value matters);
/// 2. `d[i] = inp_norm_t(x_max - x[i])` (the exact difference, converted with `inp_norm_t`'s
///    modes: by default a difference of `2^(I-1)` or more wraps);
/// 3. `e[i] = accum_t(exp_table[idx<inp_norm_t, E>(d[i])])` ([`softmax_idx_from_real_val`]);
/// 4. `sum = inv_inp_t(tree sum of e, every node accum_t(a + b))`;
/// 5. `inv = inv_table[idx<inv_inp_t, I>(sum)]`; 6. `y[i] = res_T(e[i] * inv)`.
///
/// Panics if `accum_t` is wider than 62 bits or the product of `accum_t` and `inv_table_t`
/// wider than 64.
pub fn softmax_stable<const E: usize, const I: usize>(
    x: &[i64],
    p: &SoftmaxPrecision,
    tables: &SoftmaxTables<E, I>,
    y: &mut [i64],
) {
    check(p);
    let Some(&x_max) = x.iter().max() else {
        return;
    };
    let f = p.input.frac_bits();
    for (y, &x) in y.iter_mut().zip(x) {
        let d = p.inp_norm.from_scaled(x_max - x, f).raw;
        let e = tables.exp[softmax_idx_from_real_val(d, p.inp_norm, E)];
        *y = p.accum.cast(Fixed::from_raw(e), p.exp_table).raw;
    }
    normalize(p, tables, &mut y[..x.len()]);
}

/// hls4ml's `softmax_latency` (`nnet_activation.h` 174-217): as [`softmax_stable`] without the
/// maximum: `e[i] = accum_t(exp_table[idx<data_T, E>(x[i])])` (the top `log2 E` bits of the
/// input itself; negative inputs index the upper half), then steps 4-6.
///
/// Panics as [`softmax_stable`].
pub fn softmax_latency<const E: usize, const I: usize>(
    x: &[i64],
    p: &SoftmaxPrecision,
    tables: &SoftmaxTables<E, I>,
    y: &mut [i64],
) {
    check(p);
    for (y, &x) in y.iter_mut().zip(x) {
        let e = tables.exp[softmax_idx_from_real_val(x, p.input, E)];
        *y = p.accum.cast(Fixed::from_raw(e), p.exp_table).raw;
    }
    normalize(p, tables, &mut y[..x.len()]);
}

fn check(p: &SoftmaxPrecision) {
    assert!(
        p.accum.width() <= 62 && p.input.width() <= 62,
        "fixed-point softmax types are limited to 62 bits"
    );
    assert!(
        p.accum.mul_spec(p.inv_table).is_some(),
        "fixed-point product of {} and {} is wider than 64 bits",
        p.accum,
        p.inv_table
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn expf_matches_glibc() {
        // Every 4099th float in [0, 88] and [-88, 0], plus the ends.
        let mut n = 0;
        let mut u = 0u32;
        while u < 0x42b2_0000 {
            for x in [f32::from_bits(u), -f32::from_bits(u)] {
                assert_eq!(expf(x).to_bits(), x.exp().to_bits(), "{x:e}");
                n += 1;
            }
            u += 4099;
        }
        for x in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            88.8,
            -104.0,
            -103.5,
            -87.0,
            f32::MIN_POSITIVE,
        ] {
            assert_eq!(expf(x).to_bits(), x.exp().to_bits(), "{x:e}");
        }
        assert!(expf(f32::NAN).is_nan());
        assert!(n > 500_000);
    }

    #[test]
    fn tree_shapes() {
        // accum ap_fixed<6,3,TRN,SAT>: max 3.875. [3, 3, -3]: ((3 + 3) sat 3.875) - 3 = 0.875;
        // summed left to right the same, but [3, -3, 3, 3, -3]: tree ((3-3)+(3+3 -> 3.875)) + -3.
        let acc = Spec::ap_fixed(6, 3).with_overflow(crate::Overflow::Sat);
        let v = |x: f64| acc.from_f64(x).raw;
        assert_eq!(tree_sum(&[v(3.0), v(3.0), v(-3.0)], acc), v(0.875));
        assert_eq!(
            tree_sum(&[v(3.0), v(-3.0), v(3.0), v(3.0), v(-3.0)], acc),
            v(0.875)
        );
        assert_eq!(
            tree_sum(&[v(-3.0), v(3.0), v(3.0), v(3.0), v(-3.0)], acc),
            v(0.875)
        );
        // (3 + 3 -> 3.875) + (-3 - 3 -> -4) = -0.125.
        assert_eq!(
            tree_sum(&[v(3.0), v(3.0), v(-3.0), v(-3.0)], acc),
            v(-0.125)
        );
    }

    #[test]
    fn index_slicing() {
        let s = Spec::ap_fixed(16, 6);
        assert_eq!(softmax_idx_from_real_val(-1, s, 1024), 1023);
        assert_eq!(softmax_idx_from_real_val(64, s, 1024), 1);
        assert_eq!(softmax_real_val_from_idx(1023, s, 1024), -0.0625);
        assert_eq!(softmax_real_val_from_idx(512, s, 1024), -32.0);
        let u = Spec::ap_ufixed(15, 5);
        assert_eq!(softmax_real_val_from_idx(1023, u, 1024), 31.96875);
        assert_eq!(SigmoidTable::<1024>::index(-15, s), 512); // -0.0146 -> trunc 0
        assert_eq!(SigmoidTable::<1024>::index(-16, s), 511);
        assert_eq!(SigmoidTable::<1024>::index(s.max_raw(), s), 1023);
        assert_eq!(SigmoidTable::<1024>::index(s.min_raw(), s), 0);
        assert_eq!(SigmoidTable::<1000>::index(1 << 10, s), 562); // 1 * 1000 / 16 = 62.5 -> 62
    }
}
