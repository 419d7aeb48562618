//! The join of a residual block, `Residual { ... }` in the DSL: the block's output plus its input
//! (or a learned projection of it, `Residual(projection)`, which is a `Dense` or 1x1
//! convolution). The sum has no parameters; its gradient flows unchanged to both paths.

use crate::tensor::{Shape, Tensor};

/// Adds `b` into `a`, elementwise (the join of a residual block).
#[inline(always)]
pub fn add_into<S: Shape>(a: &mut Tensor<S>, b: &Tensor<S>) {
    for (x, &y) in a.as_mut_slice().iter_mut().zip(b.as_slice()) {
        *x += y;
    }
}

/// `out = a + b`, elementwise (the join of a residual block, into an existing tensor).
#[inline(always)]
pub fn sum_into<S: Shape>(out: &mut Tensor<S>, a: &Tensor<S>, b: &Tensor<S>) {
    for ((o, &x), &y) in out
        .as_mut_slice()
        .iter_mut()
        .zip(a.as_slice())
        .zip(b.as_slice())
    {
        *o = x + y;
    }
}

/// Adds batch `b` into batch `a`, elementwise.
#[inline(always)]
pub fn add_batch_into<S: Shape>(a: &mut [Tensor<S>], b: &[Tensor<S>]) {
    for (x, y) in a.iter_mut().zip(b) {
        add_into(x, y);
    }
}
