//! Parametric ReLU: a learnable slope for negative inputs, one for the layer ([`PReLU`]) or one
//! per channel ([`PReLUChannels`]). PReLU'(0) = a (the slope).

use generic_array::{ArrayLength, GenericArray};

use super::activation::Activation;
use super::{
    FieldInfo, Layer, LayerTensors, Layout, ParamId, ParamKind, Parameters, TensorSpec, Zeroable,
};
use crate::math::Real;
use crate::tensor::{Shape, Shape1, Shape2, Shape3, Tensor};

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

/// Parametric ReLU with one learnable slope per channel (per feature for vectors):
/// `g(x) = x if x >= 0 else a[c] x`, initialized to 0.25. `PReLU(per_channel = true)` in the DSL.
/// PyTorch `nn.PReLU(num_parameters=C)`; Keras `layers.PReLU(shared_axes=[2, 3])` (channels first).
pub struct PReLUChannels<C: ArrayLength> {
    /// The slope of each channel.
    pub alpha: GenericArray<f32, C>,
}

impl<C: ArrayLength> Clone for PReLUChannels<C> {
    fn clone(&self) -> Self {
        PReLUChannels {
            alpha: self.alpha.clone(),
        }
    }
}

impl<C: ArrayLength> Default for PReLUChannels<C> {
    /// Zero slopes (the value of a zeroed gradient).
    fn default() -> Self {
        PReLUChannels {
            alpha: Default::default(),
        }
    }
}

impl<C: ArrayLength> PartialEq for PReLUChannels<C> {
    /// Equal slopes (as `f32`s: NaN is never equal).
    fn eq(&self, other: &Self) -> bool {
        self.alpha == other.alpha
    }
}

impl<C: ArrayLength> core::fmt::Debug for PReLUChannels<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PReLUChannels")
            .field("alpha", &self.alpha.as_slice())
            .finish()
    }
}

impl<C: ArrayLength> PReLUChannels<C> {
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

impl<C: ArrayLength> Parameters for PReLUChannels<C> {
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
        impl<C: ArrayLength $(, $d)*> Layer<$shape<C $(, $d)*>, $shape<C $(, $d)*>> for PReLUChannels<C>
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

// SAFETY: a single `f32`.
unsafe impl Zeroable for PReLU {}
// SAFETY: an `f32` array.
unsafe impl<C: ArrayLength> Zeroable for PReLUChannels<C> {}

/// The slope's name in a weight file: PyTorch `weight`, Keras `alpha`.
fn alpha_name(layout: Layout) -> &'static str {
    match layout {
        Layout::PyTorch => "weight",
        Layout::Keras => "alpha",
    }
}

/// One tensor: PyTorch `weight` `[1]`, Keras `alpha`.
impl LayerTensors for PReLU {
    fn tensor_count(&self) -> usize {
        1
    }
    fn tensor_spec(&self, _i: usize, layout: Layout) -> TensorSpec {
        TensorSpec::new(alpha_name(layout), &[1])
    }
    fn read_tensor(&self, _i: usize, _layout: Layout, _info: FieldInfo, out: &mut [f32]) {
        out[0] = self.alpha;
    }
    fn write_tensor(&mut self, _i: usize, _layout: Layout, _info: FieldInfo, data: &[f32]) {
        self.alpha = data[0];
    }
}

/// One tensor: PyTorch `weight` `[c]`, Keras `alpha`.
impl<C: ArrayLength> LayerTensors for PReLUChannels<C> {
    fn tensor_count(&self) -> usize {
        1
    }
    fn tensor_spec(&self, _i: usize, layout: Layout) -> TensorSpec {
        TensorSpec::new(alpha_name(layout), &[C::USIZE])
    }
    fn read_tensor(&self, _i: usize, _layout: Layout, _info: FieldInfo, out: &mut [f32]) {
        out.copy_from_slice(&self.alpha);
    }
    fn write_tensor(&mut self, _i: usize, _layout: Layout, _info: FieldInfo, data: &[f32]) {
        self.alpha.copy_from_slice(data);
    }
}
