//! Type-level output sizes of convolutions and pooling, the backstop for layers composed by hand.
//!
//! The `network!` macro computes every size itself and reports mistakes in plain words. These
//! bounds make rustc check the same arithmetic when layers are used directly:
//! `out = floor((n + pad_before + pad_after - kernel) / stride) + 1` (PyTorch and Keras).

use core::ops::{Add, Div, Sub};

use typenum::{Diff, Quot, Sum, Unsigned, U1};

/// `floor((Self + P0 + P1 - K) / S) + 1`: the output length of a window of `K` cells moved in
/// steps of `S` over `Self` cells padded with `P0` before and `P1` after.
///
/// Alias expansion: `Sum<Quot<Diff<Sum<Sum<Self, P0>, P1>, K>, S>, U1>`.
pub trait WindowOut<K, S, P0, P1> {
    /// The output length.
    type Out: Unsigned;
}

impl<N, K, S, P0, P1> WindowOut<K, S, P0, P1> for N
where
    N: Add<P0>,
    Sum<N, P0>: Add<P1>,
    Sum<Sum<N, P0>, P1>: Sub<K>,
    Diff<Sum<Sum<N, P0>, P1>, K>: Div<S>,
    Quot<Diff<Sum<Sum<N, P0>, P1>, K>, S>: Add<U1>,
    Sum<Quot<Diff<Sum<Sum<N, P0>, P1>, K>, S>, U1>: Unsigned,
{
    type Out = Sum<Quot<Diff<Sum<Sum<N, P0>, P1>, K>, S>, U1>;
}

/// Holds when a layer's declared output size equals the size its input, kernel, stride and
/// padding give. A failure means layers composed by hand do not fit together.
#[diagnostic::on_unimplemented(
    message = "the output size of this convolution or pooling layer does not follow from its input size, kernel, stride and padding",
    label = "the declared output size differs from floor((input + padding - kernel) / stride) + 1",
    note = "compute the output size as floor((input + pad_before + pad_after - kernel) / stride) + 1 for each dimension, or declare the network with `nn::network!`, which computes every shape and explains any mismatch"
)]
pub trait SameSize<Declared> {}

impl<N> SameSize<N> for N {}

/// Never used: a second implementation of [`SameSize`], so that rustc checks a declared size
/// against the computed one (and reports [`SameSize`]'s message) instead of inferring the
/// declared size from the only implementation.
#[doc(hidden)]
pub enum NotASize {}
impl<N: typenum::Unsigned> SameSize<NotASize> for N {}
