//! The activation functions of the lecture's table (softmax and the learnable PReLU have their
//! own files).
//!
//! Each activation is a small `Copy` value (its parameters, if any) implementing [`Activation`]
//! over any [`Real`] and [`Layer`] over any tensor shape, elementwise. Derivatives at kinks follow
//! PyTorch (see the semantics table in the README): ReLU'(0) = 0, Step' = 0,
//! LeakyReLU'(0) = slope, ELU'(0) = alpha, SELU'(0) = lambda * alpha.

use super::Layer;
use crate::kernels::{Epilogue, Fused};
use crate::math::{self, Real};
use crate::tensor::{Shape, Tensor};

/// An elementwise activation g with its derivative.
pub trait Activation: Copy + Send + Sync {
    /// The name used in the `network!` DSL.
    const NAME: &'static str;
    /// g(x).
    fn f<R: Real>(&self, x: R) -> R;
    /// g'(x); `y` is g(x), which some derivatives reuse.
    fn df<R: Real>(&self, x: R, y: R) -> R;
    /// How a vector kernel may apply g while the values are in registers (an optimization
    /// hint; the default applies [`Activation::f`] to the stored results).
    #[doc(hidden)]
    const FUSED: Fused = Fused::Scalar;
}

/// Every activation is what the kernels apply to their outputs in registers.
impl<A: Activation> Epilogue for A {
    const FUSED: Fused = <A as Activation>::FUSED;
    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        self.f(x)
    }
}

macro_rules! elementwise_layer {
    ($($t:ty),*) => {$(
        impl<S: Shape> Layer<S, S> for $t {
            type Grad = ();
            #[inline(always)]
            fn forward(&self, x: &Tensor<S>, y: &mut Tensor<S>) {
                for (y, &x) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
                    *y = self.f(x);
                }
            }
            fn forward_batch(&self, x: &[Tensor<S>], y: &mut [Tensor<S>]) {
                let n = x.len().min(y.len());
                let (x, y) = (Tensor::flatten_batch(&x[..n]), Tensor::flatten_batch_mut(&mut y[..n]));
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = self.f(x);
                }
            }
            fn backward_batch(
                &self,
                x: &[Tensor<S>],
                y: &[Tensor<S>],
                dy: &[Tensor<S>],
                dx: &mut [Tensor<S>],
                _grad: &mut (),
            ) {
                // One flat loop over the batch, zipped so that it vectorizes (no bounds checks).
                let n = x.len().min(y.len()).min(dy.len()).min(dx.len());
                let (x, y, dy) = (Tensor::flatten_batch(&x[..n]), Tensor::flatten_batch(&y[..n]), Tensor::flatten_batch(&dy[..n]));
                let dx = Tensor::flatten_batch_mut(&mut dx[..n]);
                for (((dx, &x), &y), &dy) in dx.iter_mut().zip(x).zip(y).zip(dy) {
                    *dx = dy * self.df(x, y);
                }
            }
        }
    )*};
}

/// g(x) = x. PyTorch `nn.Identity`, Keras `"linear"`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Identity;
impl Activation for Identity {
    const FUSED: Fused = Fused::Identity;
    const NAME: &'static str = "Identity";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        x
    }
    #[inline(always)]
    fn df<R: Real>(&self, _: R, _: R) -> R {
        R::ONE
    }
}

/// Binary step: g(x) = 1 if x >= 0 else 0; g'(x) = 0 (the gradient does not flow).
/// PyTorch: `torch.heaviside(x, 1)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Step;
impl Activation for Step {
    const NAME: &'static str = "Step";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        if x >= R::ZERO {
            R::ONE
        } else if x < R::ZERO {
            R::ZERO
        } else {
            x // NaN propagates
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, _: R, _: R) -> R {
        R::ZERO
    }
}

/// Logistic sigmoid: g(x) = 1 / (1 + e^-x); g' = g (1 - g). PyTorch `nn.Sigmoid`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;
impl Activation for Sigmoid {
    const NAME: &'static str = "Sigmoid";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        math::sigmoid(x)
    }
    #[inline(always)]
    fn df<R: Real>(&self, _: R, y: R) -> R {
        y * (R::ONE - y)
    }
}

/// Hyperbolic tangent: g' = 1 - g^2. PyTorch `nn.Tanh`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanh;
impl Activation for Tanh {
    const NAME: &'static str = "Tanh";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        x.tanh()
    }
    #[inline(always)]
    fn df<R: Real>(&self, _: R, y: R) -> R {
        R::ONE - y * y
    }
}

/// Rectified linear unit: g(x) = max(0, x); g'(x) = 1 if x > 0 else 0 (0 at 0); NaN stays NaN.
/// PyTorch `nn.ReLU`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReLU;
impl Activation for ReLU {
    const NAME: &'static str = "ReLU";
    const FUSED: Fused = Fused::Relu;
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        // Written so that NaN propagates (as in PyTorch) instead of becoming 0.
        if x < R::ZERO {
            R::ZERO
        } else {
            x
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        if x > R::ZERO {
            R::ONE
        } else {
            R::ZERO
        }
    }
}

/// Gaussian error linear unit: exact g(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), g' = Phi(x) + x phi(x);
/// with `tanh_approximation`, g(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
/// PyTorch `nn.GELU()` / `nn.GELU(approximate="tanh")`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GELU {
    /// Use the tanh approximation instead of the exact erf form.
    pub tanh_approximation: bool,
}
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const INV_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
impl Activation for GELU {
    const NAME: &'static str = "GELU";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        let half = R::from_f32(0.5);
        if self.tanh_approximation {
            let inner = R::from_f64(SQRT_2_OVER_PI) * (x + R::from_f64(0.044715) * x * x * x);
            half * x * (R::ONE + inner.tanh())
        } else {
            half * x * (R::ONE + (x * R::from_f64(INV_SQRT_2)).erf())
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        let half = R::from_f32(0.5);
        if self.tanh_approximation {
            let k = R::from_f64(SQRT_2_OVER_PI);
            let c = R::from_f64(0.044715);
            let t = (k * (x + c * x * x * x)).tanh();
            half * (R::ONE + t)
                + half * x * (R::ONE - t * t) * k * (R::ONE + R::from_f32(3.0) * c * x * x)
        } else {
            let cdf = half * (R::ONE + (x * R::from_f64(INV_SQRT_2)).erf());
            let pdf = R::from_f64(INV_SQRT_2PI) * (-half * x * x).exp();
            cdf + x * pdf
        }
    }
}

/// Softplus: g(x) = ln(1 + e^x), computed stably; g' = sigmoid(x). PyTorch `nn.Softplus()`
/// (PyTorch switches to x above 20; the stable form agrees there to f32 precision).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Softplus;
impl Activation for Softplus {
    const NAME: &'static str = "Softplus";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        math::softplus(x)
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        math::sigmoid(x)
    }
}

/// Exponential linear unit: g(x) = x if x > 0 else alpha (e^x - 1); g'(x) = 1 if x > 0 else alpha e^x.
/// PyTorch `nn.ELU(alpha)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ELU {
    /// The saturation value for large negative inputs is -alpha (default 1).
    pub alpha: f32,
}
impl Default for ELU {
    fn default() -> Self {
        ELU { alpha: 1.0 }
    }
}
impl Activation for ELU {
    const NAME: &'static str = "ELU";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        if x > R::ZERO {
            x
        } else {
            R::from_f32(self.alpha) * x.exp_m1()
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        if x > R::ZERO {
            R::ONE
        } else {
            R::from_f32(self.alpha) * x.exp()
        }
    }
}

/// SELU's lambda (PyTorch's constant).
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
/// SELU's alpha (PyTorch's constant).
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;

/// Scaled ELU: g(x) = lambda (x if x > 0 else alpha (e^x - 1)), lambda = 1.0507009873554805,
/// alpha = 1.6732632423543772; g'(0) = lambda alpha. Use with LeCun initialization. PyTorch `nn.SELU`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SELU;
impl Activation for SELU {
    const NAME: &'static str = "SELU";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        let l = R::from_f64(SELU_LAMBDA);
        if x > R::ZERO {
            l * x
        } else {
            l * R::from_f64(SELU_ALPHA) * x.exp_m1()
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        let l = R::from_f64(SELU_LAMBDA);
        if x > R::ZERO {
            l
        } else {
            l * R::from_f64(SELU_ALPHA) * x.exp()
        }
    }
}

/// Leaky ReLU: g(x) = x if x >= 0 else slope x; g'(x) = 1 if x > 0 else slope (slope at 0).
/// Default slope 0.01 as in PyTorch `nn.LeakyReLU` (Keras 3 uses 0.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub slope: f32,
}
impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU { slope: 0.01 }
    }
}
impl Activation for LeakyReLU {
    const NAME: &'static str = "LeakyReLU";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        if x >= R::ZERO {
            x
        } else {
            R::from_f32(self.slope) * x
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        if x > R::ZERO {
            R::ONE
        } else {
            R::from_f32(self.slope)
        }
    }
}

/// Sigmoid linear unit (swish): g(x) = x sigmoid(x); g' = s (1 + x (1 - s)). PyTorch `nn.SiLU`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SiLU;
impl Activation for SiLU {
    const NAME: &'static str = "SiLU";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        x * math::sigmoid(x)
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        let s = math::sigmoid(x);
        s * (R::ONE + x * (R::ONE - s))
    }
}

/// Gaussian: g(x) = e^(-x^2); g' = -2x e^(-x^2). No PyTorch module (`torch.exp(-x**2)`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gaussian;
impl Activation for Gaussian {
    const NAME: &'static str = "Gaussian";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        (-(x * x)).exp()
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, y: R) -> R {
        R::from_f32(-2.0) * x * y
    }
}

elementwise_layer!(
    Identity, Step, Sigmoid, Tanh, ReLU, GELU, Softplus, ELU, SELU, LeakyReLU, SiLU, Gaussian
);
