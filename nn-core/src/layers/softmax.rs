//! Softmax over a vector, the usual head of a classifier.

use super::Layer;
use crate::math;
use crate::tensor::{Shape, Tensor};

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
