//! Max and average pooling over signals (`[C, L]`) and images (`[C, H, W]`).

use core::marker::PhantomData;

use typenum::{Unsigned, U0};

use super::geometry::{Fixed, Window1d, Window2d};
use super::Layer;
use crate::kernels::pool::{avg_backward, avg_forward, max_backward, max_forward};
use crate::kernels::GeomOf;
use crate::tensor::{Shape, Shape2, Shape3, Tensor};

macro_rules! pool_struct {
    ($(#[$doc:meta])* $name:ident < $($p:ident $(= $d:ty)?),* $(; const $cp:ident : bool = $cpd:literal)? >) => {
        $(#[$doc])*
        pub struct $name<$($p $(= $d)?),* $(, const $cp: bool = $cpd)?>(PhantomData<($($p,)*)>);
        impl<$($p),* $(, const $cp: bool)?> Clone for $name<$($p),* $(, $cp)?> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<$($p),* $(, const $cp: bool)?> Copy for $name<$($p),* $(, $cp)?> {}
        impl<$($p),* $(, const $cp: bool)?> Default for $name<$($p),* $(, $cp)?> {
            fn default() -> Self {
                $name(PhantomData)
            }
        }
        impl<$($p),* $(, const $cp: bool)?> core::fmt::Debug for $name<$($p),* $(, $cp)?> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

pool_struct!(
    /// 2-D max pooling: each output is the largest of a `KH x KW` window moved in steps of
    /// `(SH, SW)` over each channel, padded with `(PT, PB, PL, PR)` cells of -infinity.
    /// Gradient: to the first maximum of the window in row-major order (PyTorch).
    ///
    /// Shapes: `[C, H, W] -> [C, OH, OW]`, OH = floor((H + PT + PB - KH) / SH) + 1, likewise OW.
    /// PyTorch `nn.MaxPool2d((KH, KW), stride, padding)`; Keras `layers.MaxPooling2D`.
    MaxPool2d<KH, KW, SH = KH, SW = KW, PT = U0, PB = U0, PL = U0, PR = U0>
);
pool_struct!(
    /// 2-D average pooling: each output is the mean of a `KH x KW` window. With
    /// `COUNT_PAD = true` (the default, as PyTorch's `count_include_pad=True`) the divisor is
    /// always KH·KW, padded zeros included; with `false` it is the number of real cells in the
    /// window (ONNX's default).
    ///
    /// Shapes as [`MaxPool2d`]. PyTorch `nn.AvgPool2d((KH, KW), stride, padding,
    /// count_include_pad)`; Keras `layers.AveragePooling2D`.
    AvgPool2d<KH, KW, SH = KH, SW = KW, PT = U0, PB = U0, PL = U0, PR = U0; const COUNT_PAD: bool = true>
);
pool_struct!(
    /// 1-D max pooling over each channel of a `[C, L]` signal: window `K`, stride `S`, padding
    /// `(P0, P1)` of -infinity; gradient to the first maximum. `[C, L] -> [C, OL]`,
    /// OL = floor((L + P0 + P1 - K) / S) + 1. PyTorch `nn.MaxPool1d`; Keras `layers.MaxPooling1D`.
    MaxPool1d<K, S = K, P0 = U0, P1 = U0>
);
pool_struct!(
    /// 1-D average pooling over each channel of a `[C, L]` signal; `COUNT_PAD` as in
    /// [`AvgPool2d`]. PyTorch `nn.AvgPool1d`; Keras `layers.AveragePooling1D`.
    AvgPool1d<K, S = K, P0 = U0, P1 = U0; const COUNT_PAD: bool = true>
);

macro_rules! pool2d_impl {
    ($name:ident, $fwd:expr, $bwd:expr $(, const $cp:ident)?) => {
        impl<KH, KW, SH, SW, PT, PB, PL, PR, C, H, W, OH, OW $(, const $cp: bool)?> Layer<Shape3<C, H, W>, Shape3<C, OH, OW>>
            for $name<KH, KW, SH, SW, PT, PB, PL, PR $(, $cp)?>
        where
            C: Unsigned,
            Shape3<C, H, W>: Shape,
            Shape3<C, OH, OW>: Shape,
            (KH, KW, SH, SW, PT, PB, PL, PR): Window2d<H, W, OH, OW>,
        {
            type Grad = ();
            #[inline(always)]
            fn forward(&self, x: &Tensor<Shape3<C, H, W>>, y: &mut Tensor<Shape3<C, OH, OW>>) {
                let g = Fixed::<(KH, KW, SH, SW, PT, PB, PL, PR), (H, W, OH, OW), C, C>::new();
                #[allow(clippy::redundant_closure_call)]
                ($fwd)(g, x.as_slice(), y.as_mut_slice() $(, $cp)?);
            }
            fn backward_batch(
                &self,
                x: &[Tensor<Shape3<C, H, W>>],
                _y: &[Tensor<Shape3<C, OH, OW>>],
                dy: &[Tensor<Shape3<C, OH, OW>>],
                dx: &mut [Tensor<Shape3<C, H, W>>],
                _: &mut (),
            ) {
                let g = Fixed::<(KH, KW, SH, SW, PT, PB, PL, PR), (H, W, OH, OW), C, C>::new().geom();
                for i in 0..x.len() {
                    #[allow(clippy::redundant_closure_call)]
                    ($bwd)(g, x[i].as_slice(), dy[i].as_slice(), dx[i].as_mut_slice() $(, $cp)?);
                }
            }
        }
    };
}

macro_rules! pool1d_impl {
    ($name:ident, $fwd:expr, $bwd:expr $(, const $cp:ident)?) => {
        impl<K, S, P0, P1, C, L, OL $(, const $cp: bool)?> Layer<Shape2<C, L>, Shape2<C, OL>> for $name<K, S, P0, P1 $(, $cp)?>
        where
            C: Unsigned,
            Shape2<C, L>: Shape,
            Shape2<C, OL>: Shape,
            (K, S, P0, P1): Window1d<L, OL>,
        {
            type Grad = ();
            #[inline(always)]
            fn forward(&self, x: &Tensor<Shape2<C, L>>, y: &mut Tensor<Shape2<C, OL>>) {
                let g = Fixed::<(K, S, P0, P1), (L, OL), C, C>::new();
                #[allow(clippy::redundant_closure_call)]
                ($fwd)(g, x.as_slice(), y.as_mut_slice() $(, $cp)?);
            }
            fn backward_batch(
                &self,
                x: &[Tensor<Shape2<C, L>>],
                _y: &[Tensor<Shape2<C, OL>>],
                dy: &[Tensor<Shape2<C, OL>>],
                dx: &mut [Tensor<Shape2<C, L>>],
                _: &mut (),
            ) {
                let g = Fixed::<(K, S, P0, P1), (L, OL), C, C>::new().geom();
                for i in 0..x.len() {
                    #[allow(clippy::redundant_closure_call)]
                    ($bwd)(g, x[i].as_slice(), dy[i].as_slice(), dx[i].as_mut_slice() $(, $cp)?);
                }
            }
        }
    };
}

pool2d_impl!(MaxPool2d, max_forward, max_backward);
pool2d_impl!(
    AvgPool2d,
    avg_forward,
    |g, _x: &[f32], dy: &[f32], dx: &mut [f32], cp| avg_backward(g, dy, dx, cp),
    const COUNT_PAD
);
pool1d_impl!(MaxPool1d, max_forward, max_backward);
pool1d_impl!(
    AvgPool1d,
    avg_forward,
    |g, _x: &[f32], dy: &[f32], dx: &mut [f32], cp| avg_backward(g, dy, dx, cp),
    const COUNT_PAD
);
