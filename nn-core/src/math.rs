//! Scalar math shared by the f32 kernels and the f64 reference used in gradient checks.
//!
//! Activations and losses are written once over [`Real`], so the same formula runs in `f32` in
//! the network and in `f64` in the finite-difference tests.

/// A floating-point scalar (`f32` or `f64`) with the functions the layers need, from `libm`
/// so they work under `no_std`.
pub trait Real:
    Copy
    + PartialOrd
    + core::fmt::Debug
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
    + core::ops::Neg<Output = Self>
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Converts an `f32` constant.
    fn from_f32(v: f32) -> Self;
    /// Converts an `f64` constant (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64`.
    fn to_f64(self) -> f64;
    /// e^x.
    fn exp(self) -> Self;
    /// e^x - 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// The larger of two values.
    fn max(self, other: Self) -> Self {
        if self > other {
            self
        } else {
            other
        }
    }
}

macro_rules! real_impl {
    ($t:ty, $exp:ident, $expm1:ident, $ln:ident, $ln1p:ident, $tanh:ident, $erf:ident, $abs:ident, $sqrt:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                libm::$exp(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                libm::$expm1(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                libm::$ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                libm::$ln1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                libm::$tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                libm::$erf(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                libm::$abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                libm::$sqrt(self)
            }
        }
    };
}
real_impl!(f32, expf, expm1f, logf, log1pf, tanhf, erff, fabsf, sqrtf);
real_impl!(f64, exp, expm1, log, log1p, tanh, erf, fabs, sqrt);

/// The logistic sigmoid 1 / (1 + e^-x), computed without overflow for any x.
#[inline]
pub fn sigmoid<R: Real>(x: R) -> R {
    if x >= R::ZERO {
        R::ONE / (R::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (R::ONE + e)
    }
}

/// ln(1 + e^x) without overflow: max(x, 0) + ln(1 + e^-|x|).
#[inline]
pub fn softplus<R: Real>(x: R) -> R {
    x.max(R::ZERO) + (-x.abs()).exp().ln_1p()
}

/// e^x for x <= 0 (softmax's shifted logits), branch-free so loops over it vectorize: the
/// Cephes degree-6 polynomial on the reduced argument, scaled through the exponent bits. At most
/// 1 ulp from `libm::expf` on [-87.34, 0]; 0 below that and for -infinity; NaN stays NaN.
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    const LO: f32 = -87.336_54;
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: rounds to an integer in the mantissa
    let xc = if x < LO { LO } else { x };
    let big = xc * core::f32::consts::LOG2_E + SHIFT;
    let n = big - SHIFT;
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    // The Cephes polynomial by Estrin's scheme: the same coefficients as Horner's rule, but
    // five dependent operations instead of twelve (softmax's latency is this chain).
    let r2 = r * r;
    let a = 1.987_569_1e-4f32 * r + 1.398_199_9e-3;
    let b = 8.333_452e-3f32 * r + 4.166_579_6e-2;
    let c = 1.666_666_5e-1f32 * r + 0.5; // Cephes 5.0000001201e-1, which is 0.5 in f32
    let p = a * (r2 * r2) + (b * r2 + c);
    let e = p * r2 + r + 1.0;
    let ni = (big.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let v = e * f32::from_bits(((ni + 127) << 23) as u32);
    if x < LO {
        0.0
    } else {
        v
    }
}

/// Dot product with 8-lane partial sums (explicit SIMD) added in a fixed order: vectorized,
/// and the same bits on every target (a multiply then an add, never a fused multiply-add).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    use wide::f32x8;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = f32x8::ZERO;
    let chunks = n / 8;
    for c in 0..chunks {
        let mut x = [0.0f32; 8];
        let mut y = [0.0f32; 8];
        x.copy_from_slice(&a[c * 8..c * 8 + 8]);
        y.copy_from_slice(&b[c * 8..c * 8 + 8]);
        acc += f32x8::from(x) * f32x8::from(y);
    }
    let l = acc.to_array();
    let mut s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
    for k in chunks * 8..n {
        s += a[k] * b[k];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::exp_neg;

    #[test]
    fn exp_neg_matches_libm_within_one_ulp() {
        let mut x = -87.3f32;
        while x <= 0.0 {
            let (got, want) = (exp_neg(x), libm::expf(x));
            let ulps = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulps <= 1, "x = {x}: {got} vs {want} ({ulps} ulps)");
            x += 0.001;
        }
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_neg(-100.0), 0.0);
        assert!(exp_neg(f32::NAN).is_nan());
    }
}
