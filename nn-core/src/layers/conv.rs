//! Convolutions over signals (`[C, L]`) and images (`[C, H, W]`), with any number of input
//! channels and filters, stride and zero padding.

use core::marker::PhantomData;

use generic_array::{ArrayLength, GenericArray};
use typenum::{U0, U1};

use super::activation::Activation;
use super::batch_norm::BatchNorm;
use super::geometry::{Fixed, Window1d, Window2d};
use super::{
    FieldInfo, Layer, LayerTensors, Layout, ParamId, ParamKind, Parameters, TensorSpec, Zeroable,
};
use crate::init::{Init, Rng};
use crate::kernels::conv_forward::ConvForward;
use crate::kernels::{dispatch, GeomOf};
use crate::tensor::{Shape, Shape2, Shape3, Tensor};

/// Kernel weights stored `[ky][kx][ci][co]`: output channels innermost, so the inner loop is a
/// vector multiply-add over filters.
type Filters<CI, CO, KH, KW> =
    GenericArray<GenericArray<GenericArray<GenericArray<f32, CO>, CI>, KW>, KH>;

macro_rules! conv_common {
    ($name:ident, [$($k:ident),*], [$($geo:ident),*]) => {
        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Clone
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            fn clone(&self) -> Self {
                $name { w: self.w.clone(), b: self.b.clone(), _geometry: PhantomData }
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Default
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            /// All zeros.
            fn default() -> Self {
                // SAFETY: `w` and `b` are arrays of `f32` (`GenericArray` is `repr(transparent)`
                // over `[f32; N]`), for which all-zero bits are `0.0`, and `PhantomData` has no
                // bits; a memset, unlike the element-by-element `GenericArray::default`.
                $name { w: unsafe { core::mem::zeroed() }, b: unsafe { core::mem::zeroed() }, _geometry: PhantomData }
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> PartialEq
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            /// Equal kernels and biases (as `f32`s: NaN is never equal).
            fn eq(&self, other: &Self) -> bool {
                self.weights() == other.weights() && self.b == other.b
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> core::fmt::Debug
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "<in {}, out {}, kernel {:?}, bias {}>"), CI::USIZE, CO::USIZE, [$($k::USIZE),*], BIAS)
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool>
            $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            /// Kernel cells per filter and input channel.
            const TAPS: usize = 1 $(* $k::USIZE)*;

            /// A layer drawn with `init` (fan-in = in_channels x kernel cells, fan-out =
            /// out_channels x kernel cells; biases zero).
            pub fn new(init: Init, rng: &mut Rng) -> Self {
                let mut c = Self::default();
                c.init(init, rng);
                c
            }

            /// Redraws the weights in place with `init` and zeroes the biases.
            pub fn init(&mut self, init: Init, rng: &mut Rng) {
                init.fill(self.weights_mut(), CI::USIZE * Self::TAPS, CO::USIZE * Self::TAPS, rng);
                self.b = GenericArray::default();
            }

            /// The kernel as one slice, `[ky][kx][in][out]` order.
            pub fn weights(&self) -> &[f32] {
                let n = CI::USIZE * CO::USIZE * Self::TAPS;
                // SAFETY: nested `GenericArray`s of `f32` are `repr(transparent)` arrays, so the
                // kernel is `n` consecutive initialized `f32`s in one allocation.
                unsafe { core::slice::from_raw_parts(self.w.as_ptr() as *const f32, n) }
            }

            /// The kernel as one mutable slice, `[ky][kx][in][out]` order.
            pub fn weights_mut(&mut self) -> &mut [f32] {
                self.parts_mut().0
            }

            /// The kernel (`[ky][kx][in][out]`) and the biases, mutably at once.
            pub fn parts_mut(&mut self) -> (&mut [f32], &mut [f32]) {
                let n = CI::USIZE * CO::USIZE * Self::TAPS;
                // SAFETY: as in `weights`; `&mut self` borrows the whole kernel exclusively, and
                // the biases are a separate field.
                let w = unsafe { core::slice::from_raw_parts_mut(self.w.as_mut_ptr() as *mut f32, n) };
                (w, self.b.as_mut_slice())
            }

            /// This convolution followed by `bn` (inference form) as one convolution with a
            /// bias: BN(W x + b) = (a W) x + (a b + c) with a = gamma / sqrt(running_var + eps)
            /// and c = beta - a running_mean, per filter.
            pub fn fold_batchnorm(&self, bn: &BatchNorm<CO>) -> $name<CI, CO, $($k,)* $($geo,)* true> {
                let mut out = $name::<CI, CO, $($k,)* $($geo,)* true>::default();
                out.weights_mut().copy_from_slice(self.weights());
                let co_n = CO::USIZE;
                for (i, w) in out.weights_mut().iter_mut().enumerate() {
                    *w *= bn.affine(i % co_n).0;
                }
                for co in 0..co_n {
                    let (a, c) = bn.affine(co);
                    let b = if BIAS { self.b[co] } else { 0.0 };
                    out.b[co] = a * b + c;
                }
                out
            }
        }

        // SAFETY: the layer holds only `f32` arrays and `PhantomData`.
        unsafe impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Zeroable
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
        }

        /// PyTorch: `weight` `[out, in, kernel...]`, `bias` `[out]`; Keras: `kernel`
        /// `[kernel..., in, out]` (the memory layout), `bias`. Without bias, only the kernel.
        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> LayerTensors
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            fn tensor_count(&self) -> usize {
                if BIAS { 2 } else { 1 }
            }
            fn tensor_spec(&self, i: usize, layout: Layout) -> TensorSpec {
                let (ci, co) = (CI::USIZE, CO::USIZE);
                let kernel = [$($k::USIZE),*];
                let mut shape = [0usize; 4];
                let rank = kernel.len() + 2;
                match (i, layout) {
                    (0, Layout::PyTorch) => {
                        shape[0] = co;
                        shape[1] = ci;
                        shape[2..rank].copy_from_slice(&kernel);
                        TensorSpec::new("weight", &shape[..rank])
                    }
                    (0, Layout::Keras) => {
                        shape[..kernel.len()].copy_from_slice(&kernel);
                        shape[kernel.len()] = ci;
                        shape[kernel.len() + 1] = co;
                        TensorSpec::new("kernel", &shape[..rank])
                    }
                    _ => TensorSpec::new("bias", &[co]),
                }
            }
            fn read_tensor(&self, i: usize, layout: Layout, _info: FieldInfo, out: &mut [f32]) {
                match (i, layout) {
                    (0, Layout::PyTorch) => {
                        to_torch(self.weights(), CI::USIZE, CO::USIZE, Self::TAPS, out)
                    }
                    (0, Layout::Keras) => out.copy_from_slice(self.weights()),
                    _ => out.copy_from_slice(&self.b),
                }
            }
            fn write_tensor(&mut self, i: usize, layout: Layout, _info: FieldInfo, data: &[f32]) {
                match (i, layout) {
                    (0, Layout::PyTorch) => {
                        from_torch(data, CI::USIZE, CO::USIZE, Self::TAPS, self.weights_mut())
                    }
                    (0, Layout::Keras) => self.weights_mut().copy_from_slice(data),
                    _ => self.b.copy_from_slice(data),
                }
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Parameters
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            const COUNT: usize = CI::USIZE * CO::USIZE * Self::TAPS + if BIAS { CO::USIZE } else { 0 };
            fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId, &[f32])) {
                f(ParamId { layer, name: "weight", kind: ParamKind::Weight }, self.weights());
                if BIAS {
                    f(ParamId { layer, name: "bias", kind: ParamKind::Bias }, self.b.as_slice());
                }
            }
            fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32])) {
                f(ParamId { layer, name: "weight", kind: ParamKind::Weight }, self.weights_mut());
                if BIAS {
                    f(ParamId { layer, name: "bias", kind: ParamKind::Bias }, self.b.as_mut_slice());
                }
            }
            fn zip_mut(&mut self, o: &Self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32], &[f32])) {
                f(ParamId { layer, name: "weight", kind: ParamKind::Weight }, self.weights_mut(), o.weights());
                if BIAS {
                    f(ParamId { layer, name: "bias", kind: ParamKind::Bias }, self.b.as_mut_slice(), o.b.as_slice());
                }
            }
        }
    };
}

/// 2-D convolution: `CO` filters of `KH x KW` cells over `CI` input channels, stride
/// `(SH, SW)`, zero padding `(PT, PB, PL, PR)` (top, bottom, left, right), optional bias.
///
/// `y[co][oy][ox] = b[co] + sum over ci, ky, kx of w[co][ci][ky][kx] * x[ci][oy*SH + ky - PT][ox*SW + kx - PL]`
/// (cells outside the input are zero). Each filter has one sub-filter per input channel and
/// sums them, as in the lecture.
///
/// Shapes: `[CI, H, W] -> [CO, OH, OW]` with OH = floor((H + PT + PB - KH) / SH) + 1 and
/// OW = floor((W + PL + PR - KW) / SW) + 1; parameters CO·CI·KH·KW (+ CO with bias);
/// multiply-accumulates CO·CI·KH·KW·OH·OW (padding included).
///
/// PyTorch `nn.Conv2d(CI, CO, (KH, KW), stride=(SH, SW), padding=...)` (asymmetric padding via
/// `nn.ZeroPad2d`); Keras `layers.Conv2D(CO, (KH, KW), strides, padding)` with
/// `data_format="channels_first"`. Weights on disk use PyTorch's `[out, in, kh, kw]` layout; in
/// memory they are `[kh][kw][in][out]`.
pub struct Conv2d<
    CI: ArrayLength,
    CO: ArrayLength,
    KH: ArrayLength,
    KW: ArrayLength,
    SH = U1,
    SW = U1,
    PT = U0,
    PB = U0,
    PL = U0,
    PR = U0,
    const BIAS: bool = true,
> {
    /// Kernel, `w[ky][kx][ci][co]`.
    pub w: Filters<CI, CO, KH, KW>,
    /// One bias per filter (zero and unused without bias).
    pub b: GenericArray<f32, CO>,
    _geometry: PhantomData<(SH, SW, PT, PB, PL, PR)>,
}

conv_common!(Conv2d, [KH, KW], [SH, SW, PT, PB, PL, PR]);

impl<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, const BIAS: bool, H, W, OH, OW>
    Layer<Shape3<CI, H, W>, Shape3<CO, OH, OW>>
    for Conv2d<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, BIAS>
where
    CI: ArrayLength,
    CO: ArrayLength,
    KH: ArrayLength,
    KW: ArrayLength,
    Shape3<CI, H, W>: Shape,
    Shape3<CO, OH, OW>: Shape,
    (KH, KW, SH, SW, PT, PB, PL, PR): Window2d<H, W, OH, OW>,
{
    type Grad = Self;

    #[inline(always)]
    fn forward(&self, x: &Tensor<Shape3<CI, H, W>>, y: &mut Tensor<Shape3<CO, OH, OW>>) {
        self.forward_act(x, y, crate::layers::activation::Identity);
    }

    #[inline(always)]
    fn forward_act<A: Activation>(
        &self,
        x: &Tensor<Shape3<CI, H, W>>,
        y: &mut Tensor<Shape3<CO, OH, OW>>,
        act: A,
    ) {
        let b = if BIAS { Some(self.b.as_slice()) } else { None };
        dispatch(ConvForward {
            g: Fixed::<(KH, KW, SH, SW, PT, PB, PL, PR), (H, W, OH, OW), CI, CO>::new(),
            x: x.as_slice(),
            w: self.weights(),
            b,
            y: y.as_mut_slice(),
            act,
        });
    }

    fn forward_batch(&self, x: &[Tensor<Shape3<CI, H, W>>], y: &mut [Tensor<Shape3<CO, OH, OW>>]) {
        self.forward_batch_act(x, y, crate::layers::activation::Identity);
    }

    /// Sample by sample, the samples split over the threads of [`crate::set_threads`].
    fn forward_batch_act<A: Activation>(
        &self,
        x: &[Tensor<Shape3<CI, H, W>>],
        y: &mut [Tensor<Shape3<CO, OH, OW>>],
        act: A,
    ) {
        let b = if BIAS { Some(self.b.as_slice()) } else { None };
        forward_samples(
            x,
            y,
            CO::USIZE,
            self.weights(),
            b,
            act,
            |x, w, b, y, act| {
                dispatch(ConvForward {
                    g: Fixed::<(KH, KW, SH, SW, PT, PB, PL, PR), (H, W, OH, OW), CI, CO>::new(),
                    x,
                    w,
                    b,
                    y,
                    act,
                })
            },
        );
    }

    fn backward_batch(
        &self,
        x: &[Tensor<Shape3<CI, H, W>>],
        _y: &[Tensor<Shape3<CO, OH, OW>>],
        dy: &[Tensor<Shape3<CO, OH, OW>>],
        dx: &mut [Tensor<Shape3<CI, H, W>>],
        grad: &mut Self,
    ) {
        let (dw, db) = grad.parts_mut();
        backward_batch::<_, CO, _, _>(
            Fixed::<(KH, KW, SH, SW, PT, PB, PL, PR), (H, W, OH, OW), CI, CO>::new(),
            self.weights(),
            x,
            dy,
            dx,
            dw,
            BIAS.then_some(db),
        );
    }
}

/// 1-D convolution: `CO` filters of `K` cells over `CI` input channels, stride `S`, zero
/// padding `(P0, P1)` (left, right), optional bias.
///
/// `y[co][o] = b[co] + sum over ci, k of w[co][ci][k] * x[ci][o*S + k - P0]`.
///
/// Shapes: `[CI, L] -> [CO, OL]` with OL = floor((L + P0 + P1 - K) / S) + 1; parameters
/// CO·CI·K (+ CO); multiply-accumulates CO·CI·K·OL.
///
/// PyTorch `nn.Conv1d(CI, CO, K, stride=S, padding=P)`; Keras `layers.Conv1D` (channels first).
/// Weights on disk `[out, in, k]`; in memory `[k][in][out]`.
pub struct Conv1d<
    CI: ArrayLength,
    CO: ArrayLength,
    K: ArrayLength,
    S = U1,
    P0 = U0,
    P1 = U0,
    const BIAS: bool = true,
> {
    /// Kernel, `w[0][k][ci][co]` (a 2-D kernel of height 1).
    pub w: Filters<CI, CO, U1, K>,
    /// One bias per filter (zero and unused without bias).
    pub b: GenericArray<f32, CO>,
    _geometry: PhantomData<(S, P0, P1)>,
}

conv_common!(Conv1d, [K], [S, P0, P1]);

impl<CI, CO, K, S, P0, P1, const BIAS: bool, L, OL> Layer<Shape2<CI, L>, Shape2<CO, OL>>
    for Conv1d<CI, CO, K, S, P0, P1, BIAS>
where
    CI: ArrayLength,
    CO: ArrayLength,
    K: ArrayLength,
    Shape2<CI, L>: Shape,
    Shape2<CO, OL>: Shape,
    (K, S, P0, P1): Window1d<L, OL>,
{
    type Grad = Self;

    #[inline(always)]
    fn forward(&self, x: &Tensor<Shape2<CI, L>>, y: &mut Tensor<Shape2<CO, OL>>) {
        self.forward_act(x, y, crate::layers::activation::Identity);
    }

    #[inline(always)]
    fn forward_act<A: Activation>(
        &self,
        x: &Tensor<Shape2<CI, L>>,
        y: &mut Tensor<Shape2<CO, OL>>,
        act: A,
    ) {
        let b = if BIAS { Some(self.b.as_slice()) } else { None };
        dispatch(ConvForward {
            g: Fixed::<(K, S, P0, P1), (L, OL), CI, CO>::new(),
            x: x.as_slice(),
            w: self.weights(),
            b,
            y: y.as_mut_slice(),
            act,
        });
    }

    fn forward_batch(&self, x: &[Tensor<Shape2<CI, L>>], y: &mut [Tensor<Shape2<CO, OL>>]) {
        self.forward_batch_act(x, y, crate::layers::activation::Identity);
    }

    /// Sample by sample, the samples split over the threads of [`crate::set_threads`].
    fn forward_batch_act<A: Activation>(
        &self,
        x: &[Tensor<Shape2<CI, L>>],
        y: &mut [Tensor<Shape2<CO, OL>>],
        act: A,
    ) {
        let b = if BIAS { Some(self.b.as_slice()) } else { None };
        forward_samples(
            x,
            y,
            CO::USIZE,
            self.weights(),
            b,
            act,
            |x, w, b, y, act| {
                dispatch(ConvForward {
                    g: Fixed::<(K, S, P0, P1), (L, OL), CI, CO>::new(),
                    x,
                    w,
                    b,
                    y,
                    act,
                })
            },
        );
    }

    fn backward_batch(
        &self,
        x: &[Tensor<Shape2<CI, L>>],
        _y: &[Tensor<Shape2<CO, OL>>],
        dy: &[Tensor<Shape2<CO, OL>>],
        dx: &mut [Tensor<Shape2<CI, L>>],
        grad: &mut Self,
    ) {
        let (dw, db) = grad.parts_mut();
        backward_batch::<_, CO, _, _>(
            Fixed::<(K, S, P0, P1), (L, OL), CI, CO>::new(),
            self.weights(),
            x,
            dy,
            dx,
            dw,
            BIAS.then_some(db),
        );
    }
}

/// The batched forward of either convolution: `one(x, w, b, y, act)` for each sample (`x`, `y`
/// one sample's cells), the samples split over the threads of [`crate::set_threads`] (every
/// output is computed as on one thread).
#[inline(always)]
fn forward_samples<I: Shape, O: Shape, A: Activation>(
    x: &[Tensor<I>],
    y: &mut [Tensor<O>],
    cout: usize,
    w: &[f32],
    b: Option<&[f32]>,
    act: A,
    one: impl Fn(&[f32], &[f32], Option<&[f32]>, &mut [f32], A) + Sync,
) {
    let n = x.len().min(y.len());
    let (xs, ys) = (
        Tensor::flatten_batch(&x[..n]),
        Tensor::flatten_batch_mut(&mut y[..n]),
    );
    let (il, ol) = (I::LEN, O::LEN);
    // Multiply-adds per sample: the kernel's weights times the output positions.
    let per_sample = w.len() * ol / cout.max(1);
    crate::threads::for_chunks_mut(ys, ol.max(1), n * per_sample, |r, ys| {
        let s0 = r.start / ol.max(1);
        for (i, y) in ys.chunks_exact_mut(ol.max(1)).enumerate() {
            one(&xs[(s0 + i) * il..][..il], w, b, y, act);
        }
    });
}

/// The batch backward of either convolution (geometry `g`): writes `dx`, adds into the kernel
/// gradient `dw` and the bias gradient `db`. Vectorized over the whole batch with `alloc`, the
/// plain loop per sample without (which keeps one filter gradient of `CO` cells on the stack).
#[cfg_attr(feature = "alloc", allow(clippy::extra_unused_type_parameters))]
fn backward_batch<G: GeomOf, CO: ArrayLength, I: Shape, O: Shape>(
    g: G,
    w: &[f32],
    x: &[Tensor<I>],
    dy: &[Tensor<O>],
    dx: &mut [Tensor<I>],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    assert!(dy.len() == x.len() && dx.len() == x.len());
    #[cfg(feature = "alloc")]
    crate::kernels::conv_backward::backward(
        g,
        Tensor::flatten_batch(x),
        w,
        Tensor::flatten_batch(dy),
        Tensor::flatten_batch_mut(dx),
        dw,
        db,
    );
    #[cfg(not(feature = "alloc"))]
    {
        let geo = g.geom();
        let mut gco = GenericArray::<f32, CO>::default();
        let mut db = db;
        for i in 0..x.len() {
            crate::kernels::conv_backward::reference::backward(
                geo,
                x[i].as_slice(),
                w,
                dy[i].as_slice(),
                dx[i].as_mut_slice(),
                dw,
                db.as_deref_mut(),
                &mut gco,
            );
        }
    }
}

/// The kernel from memory layout `[tap][in][out]` to PyTorch's `[out][in][tap]`.
fn to_torch(mem: &[f32], ci: usize, co: usize, taps: usize, out: &mut [f32]) {
    for t in 0..taps {
        for i in 0..ci {
            for o in 0..co {
                out[(o * ci + i) * taps + t] = mem[(t * ci + i) * co + o];
            }
        }
    }
}

/// The kernel from PyTorch's `[out][in][tap]` to memory layout `[tap][in][out]`.
fn from_torch(data: &[f32], ci: usize, co: usize, taps: usize, mem: &mut [f32]) {
    for t in 0..taps {
        for i in 0..ci {
            for o in 0..co {
                mem[(t * ci + i) * co + o] = data[(o * ci + i) * taps + t];
            }
        }
    }
}
