//! The activation functions of the lecture's table, plus softmax.
//!
//! Each activation is a small `Copy` value (its parameters, if any) implementing [`Activation`]
//! over any [`Real`] and [`Layer`] over any tensor shape, elementwise. Derivatives at kinks follow
//! PyTorch (see the semantics table in the README): ReLU'(0) = 0, Step' = 0,
//! LeakyReLU'(0) = slope, ELU'(0) = alpha, SELU'(0) = lambda * alpha, PReLU'(0) = a.

use crate::layer::{Layer, ParamId, ParamKind, Parameters};
use crate::math::{self, Real};
use crate::tensor::{Shape, Shape1, Shape2, Shape3, Tensor};

/// An elementwise activation g with its derivative.
pub trait Activation: Copy {
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

/// How a vector kernel may apply an activation in registers (see [`Activation::FUSED`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fused {
    /// g(x) = x: nothing to do.
    Identity,
    /// g(x) = max(0, x), NaN propagated.
    Relu,
    /// Any other g: applied with [`Activation::f`] after the vector store.
    Scalar,
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

/// Parametric ReLU with one learnable slope `a` shared by all elements:
/// g(x) = x if x >= 0 else a x; dg/dx = 1 if x > 0 else a; dg/da = 0 if x > 0 else x.
/// Initialized to 0.25. PyTorch `nn.PReLU()` (num_parameters = 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PReLU {
    /// The learnable slope for negative inputs.
    pub alpha: f32,
}
impl Default for PReLU {
    /// A zero slope: the value of a zeroed gradient. Networks initialize to [`PReLU::INIT`].
    fn default() -> Self {
        PReLU { alpha: 0.0 }
    }
}
impl PReLU {
    /// The initial slope, 0.25 as in PyTorch.
    pub const INIT: PReLU = PReLU { alpha: 0.25 };
}
impl Activation for PReLU {
    const NAME: &'static str = "PReLU";
    #[inline(always)]
    fn f<R: Real>(&self, x: R) -> R {
        if x >= R::ZERO {
            x
        } else {
            R::from_f32(self.alpha) * x
        }
    }
    #[inline(always)]
    fn df<R: Real>(&self, x: R, _: R) -> R {
        if x > R::ZERO {
            R::ONE
        } else {
            R::from_f32(self.alpha)
        }
    }
}
impl Parameters for PReLU {
    const COUNT: usize = 1;
    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId, &[f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            core::slice::from_ref(&self.alpha),
        );
    }
    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            core::slice::from_mut(&mut self.alpha),
        );
    }
    fn zip_mut(
        &mut self,
        o: &Self,
        layer: &'static str,
        f: &mut dyn FnMut(ParamId, &mut [f32], &[f32]),
    ) {
        let id = ParamId {
            layer,
            name: "weight",
            kind: ParamKind::Other,
        };
        f(
            id,
            core::slice::from_mut(&mut self.alpha),
            core::slice::from_ref(&o.alpha),
        );
    }
}
impl<S: Shape> Layer<S, S> for PReLU {
    type Grad = PReLU;
    #[inline(always)]
    fn forward(&self, x: &Tensor<S>, y: &mut Tensor<S>) {
        for (y, &x) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *y = self.f(x);
        }
    }
    fn backward_batch(
        &self,
        x: &[Tensor<S>],
        y: &[Tensor<S>],
        dy: &[Tensor<S>],
        dx: &mut [Tensor<S>],
        grad: &mut PReLU,
    ) {
        let mut da = 0.0f32;
        for b in 0..x.len() {
            let (x, y, dy, dx) = (
                x[b].as_slice(),
                y[b].as_slice(),
                dy[b].as_slice(),
                dx[b].as_mut_slice(),
            );
            for i in 0..x.len() {
                dx[i] = dy[i] * self.df(x[i], y[i]);
                if x[i] <= 0.0 {
                    da += dy[i] * x[i];
                }
            }
        }
        grad.alpha += da;
    }
}

/// Softmax over a vector: y_i = e^(x_i - max x) / sum_j e^(x_j - max x).
/// Backward: dx = y * (dy - sum(dy * y)). PyTorch `nn.Softmax(dim=-1)`. The exponential is a
/// vectorizable polynomial within 1 ulp of `expf` ([`math::exp_neg`]).
///
/// As the last layer, losses on logits (cross-entropy) skip it and use its input, which is
/// exact and numerically stable.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Softmax;

impl Softmax {
    /// Writes softmax(x) into y. Slices must have equal lengths.
    #[inline(always)]
    pub fn apply(x: &[f32], y: &mut [f32]) {
        let mut m = f32::NEG_INFINITY;
        for &v in x {
            m = if v > m { v } else { m };
        }
        for (y, &x) in y.iter_mut().zip(x) {
            *y = math::exp_neg(x - m);
        }
        let sum: f32 = y.iter().sum();
        let inv = 1.0 / sum;
        for y in y.iter_mut() {
            *y *= inv;
        }
    }
}

impl<S: Shape> Layer<S, S> for Softmax {
    type Grad = ();
    #[inline(always)]
    fn forward(&self, x: &Tensor<S>, y: &mut Tensor<S>) {
        Softmax::apply(x.as_slice(), y.as_mut_slice());
    }
    /// As `forward` per sample (the same bits), with the exponentials of the whole batch in
    /// one flat loop that vectorizes even when a sample has only a few values.
    fn forward_batch(&self, x: &[Tensor<S>], y: &mut [Tensor<S>]) {
        let n = x.len().min(y.len());
        for (x, y) in x[..n].iter().zip(y[..n].iter_mut()) {
            let mut m = f32::NEG_INFINITY;
            for &v in x.as_slice() {
                m = if v > m { v } else { m };
            }
            for (y, &x) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
                *y = x - m;
            }
        }
        for v in Tensor::flatten_batch_mut(&mut y[..n]) {
            *v = math::exp_neg(*v);
        }
        for y in y[..n].iter_mut() {
            let y = y.as_mut_slice();
            let sum: f32 = y.iter().sum();
            let inv = 1.0 / sum;
            for y in y.iter_mut() {
                *y *= inv;
            }
        }
    }
    fn backward_batch(
        &self,
        _x: &[Tensor<S>],
        y: &[Tensor<S>],
        dy: &[Tensor<S>],
        dx: &mut [Tensor<S>],
        _: &mut (),
    ) {
        for b in 0..y.len() {
            let (y, dy, dx) = (y[b].as_slice(), dy[b].as_slice(), dx[b].as_mut_slice());
            let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
            for i in 0..y.len() {
                dx[i] = y[i] * (dy[i] - dot);
            }
        }
    }
}

/// Parametric ReLU with one learnable slope per channel (per feature for vectors):
/// `g(x) = x if x >= 0 else a[c] x`, initialized to 0.25. `PReLU(per_channel = true)` in the DSL.
/// PyTorch `nn.PReLU(num_parameters=C)`; Keras `layers.PReLU(shared_axes=[2, 3])` (channels first).
pub struct PReLUChannels<C: generic_array::ArrayLength> {
    /// The slope of each channel.
    pub alpha: generic_array::GenericArray<f32, C>,
}

impl<C: generic_array::ArrayLength> Clone for PReLUChannels<C> {
    fn clone(&self) -> Self {
        PReLUChannels {
            alpha: self.alpha.clone(),
        }
    }
}

impl<C: generic_array::ArrayLength> Default for PReLUChannels<C> {
    /// Zero slopes (the value of a zeroed gradient).
    fn default() -> Self {
        PReLUChannels {
            alpha: Default::default(),
        }
    }
}

impl<C: generic_array::ArrayLength> core::fmt::Debug for PReLUChannels<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PReLUChannels")
            .field("alpha", &self.alpha.as_slice())
            .finish()
    }
}

impl<C: generic_array::ArrayLength> PReLUChannels<C> {
    /// Every slope set to `alpha` (0.25 in PyTorch).
    pub fn filled(alpha: f32) -> Self {
        let mut p = Self::default();
        p.alpha.iter_mut().for_each(|a| *a = alpha);
        p
    }

    #[inline(always)]
    fn apply(&self, x: &[f32], y: &mut [f32]) {
        let plane = x.len() / C::USIZE;
        for (c, &a) in self.alpha.iter().enumerate() {
            let p = PReLU { alpha: a };
            for i in c * plane..(c + 1) * plane {
                y[i] = p.f(x[i]);
            }
        }
    }

    fn backward(
        &self,
        x: &[Tensor<impl Shape>],
        dy: &[Tensor<impl Shape>],
        dx: &mut [Tensor<impl Shape>],
        grad: &mut Self,
    ) {
        for b in 0..x.len() {
            let (x, dy, dx) = (x[b].as_slice(), dy[b].as_slice(), dx[b].as_mut_slice());
            let plane = x.len() / C::USIZE;
            for (c, &a) in self.alpha.iter().enumerate() {
                let p = PReLU { alpha: a };
                let mut da = 0.0f32;
                for i in c * plane..(c + 1) * plane {
                    dx[i] = dy[i] * p.df(x[i], 0.0);
                    if x[i] <= 0.0 {
                        da += dy[i] * x[i];
                    }
                }
                grad.alpha[c] += da;
            }
        }
    }
}

impl<C: generic_array::ArrayLength> Parameters for PReLUChannels<C> {
    const COUNT: usize = C::USIZE;
    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId, &[f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            self.alpha.as_slice(),
        );
    }
    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            self.alpha.as_mut_slice(),
        );
    }
    fn zip_mut(
        &mut self,
        o: &Self,
        layer: &'static str,
        f: &mut dyn FnMut(ParamId, &mut [f32], &[f32]),
    ) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            self.alpha.as_mut_slice(),
            o.alpha.as_slice(),
        );
    }
}

macro_rules! prelu_channels_layer {
    ($shape:ident < C $(, $d:ident)* >) => {
        impl<C: generic_array::ArrayLength $(, $d)*> Layer<$shape<C $(, $d)*>, $shape<C $(, $d)*>> for PReLUChannels<C>
        where
            $shape<C $(, $d)*>: Shape,
        {
            type Grad = Self;
            #[inline(always)]
            fn forward(&self, x: &Tensor<$shape<C $(, $d)*>>, y: &mut Tensor<$shape<C $(, $d)*>>) {
                self.apply(x.as_slice(), y.as_mut_slice());
            }
            fn backward_batch(
                &self,
                x: &[Tensor<$shape<C $(, $d)*>>],
                _y: &[Tensor<$shape<C $(, $d)*>>],
                dy: &[Tensor<$shape<C $(, $d)*>>],
                dx: &mut [Tensor<$shape<C $(, $d)*>>],
                grad: &mut Self,
            ) {
                self.backward(x, dy, dx, grad);
            }
        }
    };
}
prelu_channels_layer!(Shape1<C>);
prelu_channels_layer!(Shape2<C, L>);
prelu_channels_layer!(Shape3<C, H, W>);
