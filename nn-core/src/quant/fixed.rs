//! Fixed-point requantization as TensorFlow Lite's reference kernels do it
//! (`tensorflow/lite/kernels/internal/common.h`, `quantization_util.cc`): a real multiplier
//! `m` becomes an int32 `q` in `[2^30, 2^31)` and a power-of-two `shift` with
//! `m = q * 2^(shift - 31)`, and `x * m` is computed from `x` and `q` with two roundings
//! (gemmlowp's saturating rounding doubling high multiply, then a rounding right shift).

/// The int32 multiplier and the shift of a real multiplier: TFLite's `QuantizeMultiplier`
/// (without `TFLITE_SINGLE_ROUNDING`). `frexp` splits `m` into a fraction in `[0.5, 1)` and an
/// exponent; the fraction times 2^31 is rounded half away from zero (`std::round`); a fraction
/// that rounds up to 2^31 is halved with the exponent raised; exponents below -31 give 0.
pub fn quantize_multiplier(multiplier: f64) -> (i32, i32) {
    if multiplier == 0.0 {
        return (0, 0);
    }
    let (fraction, mut shift) = libm::frexp(multiplier);
    let mut q = libm::round(fraction * (1u64 << 31) as f64) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q = 0;
    }
    (q as i32, shift)
}

/// `a * b / 2^31` rounded to nearest, halves toward +infinity (the nudge of `1 - 2^30` for
/// negative products and C++'s truncating division give -1.5 -> -1), saturated: gemmlowp's
/// `SaturatingRoundingDoublingHighMul` (the one overflow, `i32::MIN * i32::MIN`, gives
/// `i32::MAX`).
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // C++ integer division truncates toward zero, as Rust's does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded half away from zero: gemmlowp's `RoundingDivideByPOT`.
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// `x * q * 2^(shift - 31)`, rounded as TFLite's reference `MultiplyByQuantizedMultiplier`:
/// a left shift for positive shifts (wrapping as the C++ does on int32), the doubling high
/// multiply, then a rounding right shift for negative ones.
pub fn multiply_by_quantized_multiplier(x: i32, q: i32, shift: i32) -> i32 {
    let left = shift.max(0);
    let right = (-shift).max(0);
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left), q),
        right,
    )
}

/// `x * q * 2^shift` for a multiplier below one (`shift <= 0`): TFLite's
/// `MultiplyByQuantizedMultiplierSmallerThanOneExp`, used by the addition.
pub fn multiply_by_quantized_multiplier_smaller_than_one(x: i32, q: i32, shift: i32) -> i32 {
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, q), -shift)
}

/// How an int32 accumulator is scaled back to int8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Integer only: the fixed-point multiplier and shift with gemmlowp's two roundings
    /// ([`multiply_by_quantized_multiplier`]). What TFLite Micro, CMSIS-NN and LiteRT's
    /// optimized kernels do for every layer, and LiteRT's reference kernels for convolutions;
    /// runs without a floating-point unit.
    FixedPoint,
    /// `round(acc * m)` with `m` in `f64`, half away from zero: LiteRT's reference
    /// `FULLY_CONNECTED` int8 kernel (which ignores the fixed-point multiplier it prepares).
    /// For bit-exact comparison with that kernel.
    Double,
    /// onnxruntime's requantization, for bit-exact parity with a QDQ model exported by the
    /// twin's `save_onnx` and run in onnxruntime (CPU): the multiplier
    /// `(input_scale * weight_scale) / output_scale` in `f32` (as `QLinearConv` and `QGemm`
    /// compute it), `f32(acc) * multiplier` clamped in `f32` to the output range less the zero
    /// point, rounded half to even (`cvtps2dq`, MLAS's `MlasRequantizeOutput`), plus the zero
    /// point. Convolutions round this way too (the other modes keep LiteRT's fixed point for
    /// them); the twin also quantizes its input as onnxruntime's `QuantizeLinear` does
    /// (`x / scale` in `f32`, half to even).
    Onnx,
}

/// The requantization of one output channel: an int32 accumulator (in units of
/// `input_scale * weight_scale`) to the output's int8, with the zero point added and the fused
/// activation's clamp.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Requantize {
    /// The fixed-point multiplier ([`quantize_multiplier`]).
    pub multiplier: i32,
    /// Its power-of-two shift.
    pub shift: i32,
    /// The real multiplier, for [`Rounding::Double`].
    pub real: f64,
    /// The multiplier in `f32` as onnxruntime computes it, `(input_scale * weight_scale) /
    /// output_scale`, for [`Rounding::Onnx`].
    pub onnx: f32,
}

impl Requantize {
    /// The requantization for a real multiplier `input_scale * weight_scale / output_scale`,
    /// computed in `f64` from the `f32` scales as TFLite's `GetQuantizedConvolutionMultiplier`
    /// does.
    pub fn new(input_scale: f32, weight_scale: f32, output_scale: f32) -> Self {
        let real = input_scale as f64 * weight_scale as f64 / output_scale as f64;
        let (multiplier, shift) = quantize_multiplier(real);
        Requantize {
            multiplier,
            shift,
            real,
            onnx: input_scale * weight_scale / output_scale,
        }
    }

    /// `clamp(acc * m + zero_point, min, max)` as an int8, with the fixed-point multiplier.
    pub fn apply(self, acc: i32, zero_point: i32, range: (i32, i32)) -> i8 {
        self.apply_with(Rounding::FixedPoint, acc, zero_point, range)
    }

    /// `clamp(acc * m + zero_point, min, max)` as an int8, rounded as `rounding` says.
    pub fn apply_with(
        self,
        rounding: Rounding,
        acc: i32,
        zero_point: i32,
        (min, max): (i32, i32),
    ) -> i8 {
        let scaled = match rounding {
            Rounding::FixedPoint => {
                multiply_by_quantized_multiplier(acc, self.multiplier, self.shift)
            }
            Rounding::Double => {
                let v = libm::round(acc as f64 * self.real);
                v.clamp(i32::MIN as f64, i32::MAX as f64) as i32
            }
            Rounding::Onnx => return requantize_onnx(acc, self.onnx, zero_point, (min, max)),
        };
        scaled.saturating_add(zero_point).clamp(min, max) as i8
    }
}

/// onnxruntime's requantization of an int32 accumulator ([`Rounding::Onnx`]): MLAS's
/// `MlasRequantizeOutput` converts `acc` to `f32` (`cvtdq2ps`, to nearest even), multiplies by
/// the `f32` `scale`, clamps to `[min - zero_point, max - zero_point]` in `f32`, converts to
/// an integer rounding half to even (`cvtps2dq`) and adds the zero point. (Clamping before
/// rounding is the same as after: the bounds are integers.)
pub fn requantize_onnx(acc: i32, scale: f32, zero_point: i32, (min, max): (i32, i32)) -> i8 {
    let v = (acc as f32 * scale)
        .max((min - zero_point) as f32)
        .min((max - zero_point) as f32);
    (libm::rintf(v) as i32 + zero_point).clamp(min, max) as i8
}

/// onnxruntime's `QuantizeLinear` of `real` to int8 (MLAS's `MlasQuantizeLinear`): `real /
/// scale` in `f32` (a division, as TFLite's, not a multiplication by the reciprocal), clamped to
/// `[-128 - zero_point, 127 - zero_point]`, rounded half to even, plus the zero point. A NaN
/// becomes -128 (`maxps` returns its second operand, the lower bound, for a NaN).
pub fn quantize_onnx(real: f32, scale: f32, zero_point: i32) -> i8 {
    let v = real / scale;
    if v.is_nan() {
        return i8::MIN;
    }
    let v = v
        .max((i8::MIN as i32 - zero_point) as f32)
        .min((i8::MAX as i32 - zero_point) as f32);
    (libm::rintf(v) as i32 + zero_point).clamp(i8::MIN as i32, i8::MAX as i32) as i8
}

impl Rounding {
    /// The rounding of convolutions in a twin with this rounding: [`Rounding::Double`] is
    /// LiteRT's reference `FULLY_CONNECTED` only (its convolutions use the fixed-point
    /// multiplier), the others apply to every layer.
    pub fn for_conv(self) -> Rounding {
        match self {
            Rounding::Double => Rounding::FixedPoint,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_requantization_rounds_the_f32_product_half_to_even() {
        // 0.25 exactly: 2 * 0.25 = 0.5 -> 0, 6 * 0.25 = 1.5 -> 2, -2 * 0.25 -> -0 -> 0.
        let r = Requantize::new(0.5, 0.5, 1.0);
        assert_eq!(r.onnx, 0.25);
        let full = (-128, 127);
        let at = |acc| r.apply_with(Rounding::Onnx, acc, 0, full);
        assert_eq!([at(2), at(6), at(10), at(-2), at(-6)], [0, 2, 2, 0, -2]);
        // The fixed-point and f64 modes round those halves away from zero (or up).
        assert_eq!(r.apply_with(Rounding::Double, 2, 0, full), 1);
        assert_eq!(r.apply_with(Rounding::FixedPoint, 6, 0, full), 2);
        // Zero point, saturation, and a fused ReLU's clamp.
        assert_eq!(r.apply_with(Rounding::Onnx, 6, -100, full), -98);
        assert_eq!(r.apply_with(Rounding::Onnx, 10_000, 5, full), 127);
        assert_eq!(r.apply_with(Rounding::Onnx, -10_000, 5, full), -128);
        assert_eq!(r.apply_with(Rounding::Onnx, -40, -128, (-128, 127)), -128);
        // The multiplier is `(x * w) / y` in f32, not the f64 product rounded once.
        let (x, w, y) = (0.1f32, 0.3f32, 0.7f32);
        let r = Requantize::new(x, w, y);
        assert_eq!(r.onnx.to_bits(), (x * w / y).to_bits());
        // The accumulator goes to f32 first: 2^24 + 1 becomes 2^24.
        let one = Requantize::new(1.0, 1.0, 1.0);
        assert_eq!(
            requantize_onnx((1 << 24) + 1, 1.0 / (1 << 18) as f32, 0, full),
            64
        );
        assert_eq!(one.apply_with(Rounding::Onnx, 127, 0, full), 127);
    }

    #[test]
    fn onnx_quantize_divides_and_rounds_half_to_even() {
        assert_eq!(quantize_onnx(0.25, 0.5, 0), 0); // 0.5 -> 0
        assert_eq!(quantize_onnx(0.75, 0.5, 0), 2); // 1.5 -> 2
        assert_eq!(quantize_onnx(-0.75, 0.5, 3), 1); // -1.5 -> -2, + 3
        assert_eq!(quantize_onnx(1e9, 0.5, 3), 127);
        assert_eq!(quantize_onnx(-1e9, 0.5, 3), -128);
        assert_eq!(quantize_onnx(f32::NAN, 0.5, 3), -128);
        assert_eq!(quantize_onnx(f32::INFINITY, 0.5, 3), 127);
        // A division: 0.3 / 0.1 is 2.9999998 in f32 and 0.3 * (1 / 0.1) is 3.0000002; both
        // round to 3, but the quotient is what onnxruntime rounds.
        let mut seed = 11u64;
        for _ in 0..10_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let x = ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0;
            let s = 0.001 + ((seed >> 20) % 1000) as f32 * 1e-4;
            let want = ((x / s).round_ties_even() as i32 - 7).clamp(-128, 127) as i8;
            assert_eq!(quantize_onnx(x, s, -7), want, "{x} / {s}");
        }
    }

    #[test]
    fn quantize_multiplier_splits_fraction_and_exponent() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        // 0.75 = 0.75 * 2^0 -> 0.75 * 2^31.
        assert_eq!(quantize_multiplier(0.75), (1_610_612_736, 0));
        // A fraction that rounds up to 2^31 is halved.
        let just_below_one = 1.0 - 1e-12;
        assert_eq!(quantize_multiplier(just_below_one), (1 << 30, 1));
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
    }

    #[test]
    fn the_doubling_high_multiply_rounds_halves_up() {
        // 2^30 * 2^30 / 2^31 = 2^29.
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // 3 * 2^30 / 2^31 = 1.5 -> 2; -1.5 -> -1; -1.25 -> -1; -1.75 -> -2.
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 29), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(-7, 1 << 29), -2);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
    }

    #[test]
    fn rounding_divide_by_pot_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5 -> 3
        assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5 -> -3
        assert_eq!(rounding_divide_by_pot(7, 2), 2); // 1.75 -> 2
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // -1.5 -> -2
        assert_eq!(rounding_divide_by_pot(9, 0), 9);
    }

    #[test]
    fn multiplying_by_a_quantized_multiplier_is_the_rounded_real_product() {
        // Against the real product, for multipliers below and above one.
        let mut seed = 7u64;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let x = ((seed >> 33) as i32) % 200_000 - 100_000;
            let m = 1e-4 + ((seed >> 20) % 10_000) as f64 * 3e-4;
            let (q, s) = quantize_multiplier(m);
            let got = multiply_by_quantized_multiplier(x, q, s) as f64;
            let exact = x as f64 * q as f64 * 2f64.powi(s - 31);
            // Two roundings: the high multiply's (at most 1/2 before the right shift) and the
            // shift's own (at most 1/2).
            let bound = 0.5 + 0.5 / 2f64.powi((-s).max(0));
            assert!(
                (got - exact).abs() <= bound + 1e-9,
                "{x} * {m}: {got} vs {exact}"
            );
        }
    }
}
