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
        let m = tree(x, f32::NEG_INFINITY, max);
        for (y, &x) in y.iter_mut().zip(x) {
            *y = math::exp_neg(x - m);
        }
        normalize(y);
    }
}

/// `a` or `b`, whichever is larger; `a` when `b` is NaN (a NaN logit then makes every
/// probability NaN through its exponential, not through the maximum).
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// `f` over `x` as eight partial results combined pairwise: a dependency chain of
/// `len / 8 + 3` operations instead of `len` (a one-sample softmax is latency, not throughput).
/// `identity` fills the partial results beyond `len` (-0 for sums, -infinity for maxima: both
/// leave every value unchanged, so the compiler drops them).
#[inline(always)]
fn tree(x: &[f32], identity: f32, f: fn(f32, f32) -> f32) -> f32 {
    let mut p = [identity; 8];
    for chunk in x.chunks(8) {
        for (p, &v) in p.iter_mut().zip(chunk) {
            *p = f(*p, v);
        }
    }
    f(
        f(f(p[0], p[4]), f(p[1], p[5])),
        f(f(p[2], p[6]), f(p[3], p[7])),
    )
}

/// Divides the exponentials by their sum (a division, not a multiplication by the reciprocal:
/// one rounding, and one latency instead of two).
#[inline(always)]
fn normalize(y: &mut [f32]) {
    let sum = tree(y, -0.0, |a, b| a + b);
    for y in y.iter_mut() {
        *y /= sum;
    }
}

impl<S: Shape> Layer<S, S> for Softmax {
    type Grad = ();
    #[inline(always)]
    fn forward(&self, x: &Tensor<S>, y: &mut Tensor<S>) {
        Softmax::apply(x.as_slice(), y.as_mut_slice());
    }
    /// As `forward` per sample (the same bits), with the exponentials of the whole batch in
    /// one flat loop that vectorizes even when a sample has only a few values. Always inline,
    /// so that a caller compiled with AVX2 (the int8 twin's `forward_batch`) vectorizes it as
    /// wide (a plain hint left it out of line in the twin's chunk of 16, compiled for the
    /// baseline: M1's int8 batch 77 -> 74 ns/sample with it inlined).
    #[inline(always)]
    fn forward_batch(&self, x: &[Tensor<S>], y: &mut [Tensor<S>]) {
        let n = x.len().min(y.len());
        for (x, y) in x[..n].iter().zip(y[..n].iter_mut()) {
            let m = tree(x.as_slice(), f32::NEG_INFINITY, max);
            for (y, &x) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
                *y = x - m;
            }
        }
        for v in Tensor::flatten_batch_mut(&mut y[..n]) {
            *v = math::exp_neg(*v);
        }
        for y in y[..n].iter_mut() {
            normalize(y.as_mut_slice());
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
