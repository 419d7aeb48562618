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
