//! Flatten: a `[c, l]` or `[c, h, w]` tensor viewed as a vector.

use generic_array::ArrayLength;

use super::Layer;
use crate::tensor::{Shape, Shape1, Tensor};

/// Flattens a tensor to a vector in C, H, W order (row-major, the storage order):
/// `[C, H, W] -> [C * H * W]`. No parameters, no arithmetic.
/// PyTorch `nn.Flatten()` (same order); Keras `layers.Flatten()` flattens H, W, C instead.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flatten;

impl<S, N> Layer<S, Shape1<N>> for Flatten
where
    S: Shape<Len = N>,
    N: ArrayLength + Send + Sync + 'static,
{
    type Grad = ();
    #[inline(always)]
    fn forward(&self, x: &Tensor<S>, y: &mut Tensor<Shape1<N>>) {
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }
    fn backward_batch(
        &self,
        _x: &[Tensor<S>],
        _y: &[Tensor<Shape1<N>>],
        dy: &[Tensor<Shape1<N>>],
        dx: &mut [Tensor<S>],
        _: &mut (),
    ) {
        for (dx, dy) in dx.iter_mut().zip(dy) {
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }
}
