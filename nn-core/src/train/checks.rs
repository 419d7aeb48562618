//! The compile-time checks of [`Trainer::fit`](crate::Trainer::fit), [`evaluate`](crate::evaluate)
//! and [`accuracy`](crate::accuracy): the data set's samples are the network's inputs, the loss
//! fits the network's output, and the data set's targets are the loss's.
//!
//! Each check is a trait with a `#[diagnostic::on_unimplemented]` message. Its types are the ones
//! a user wrote (the network, the loss, `usize`) or shapes named by [`ShapeName`] (`[f32; 4]`),
//! never typenum types: rustc prints every type of a failing bound, and the typenum type of 4 is
//! `UInt<UInt<UInt<UTerm, B1>, B0>, B0>`. The functions take the data set as `Dataset<X, Y>` for
//! any `X` and `Y` and check them with these traits (a data set typed `Dataset<Input<N>, _>` in
//! the signature would be a type mismatch, which rustc reports with the typenum types).
//!
//! Three details keep every message single and plain:
//! - The bound on the samples has their name as its `Self` type, and the one on the targets the
//!   target type: both are unknown until the data set argument is checked, so rustc cannot infer
//!   the data set's type from the network (it would, from a bound with the network as `Self` and
//!   one impl, and then report the argument as a type mismatch).
//! - [`TargetsFor`] requires [`LossFor`] and [`TargetOf`]: when the loss does not fit the
//!   network, both fail, on the same `Loss` bound underneath and for the same bound of the
//!   function, and rustc reports that failure once, with the message of the first, [`LossFor`]
//!   (the targets are then not the problem). A separate bound for each would be two errors.
//! - The impls of [`LossFor`] and [`TargetOf`] are `#[diagnostic::do_not_recommend]`: rustc
//!   reports the bound itself, with its message, rather than the failing `Loss<Shape1<..>>` bound
//!   of the impl.

use crate::loss::Loss;
use crate::network::{Input, Network};
use crate::tensor::{ShapeName, Tensor};

/// The sample type of a data set: a tensor, named in compiler errors by its shape
/// ([`ShapeName::Array`], e.g. `[f32; 4]`).
#[diagnostic::on_unimplemented(
    message = "the samples of a data set are tensors (`nn::Input<Net>`), not `{Self}`",
    label = "a data set of `{Self}` samples",
    note = "a data set for network `Net` is a `Dataset<nn::Input<Net>, _>`; read one with `Dataset::<nn::Input<Net>, usize>::from_csv(..)`"
)]
pub trait Sample {
    /// The name of the tensor's shape: `[f32; 4]` for a tensor of shape `[4]`.
    type Name;
}

impl<S: ShapeName> Sample for Tensor<S> {
    type Name = S::Array;
}

/// Samples named `Self` (see [`Sample`]) that network `N`, whose input is named `E`, takes:
/// implemented when `Self` is `E`.
///
/// The bound of [`Trainer::fit`](crate::Trainer::fit) that a data set made for another network
/// fails.
#[diagnostic::on_unimplemented(
    message = "network `{N}` takes samples `{E}`, but this data set holds samples `{Self}`",
    label = "the data set's samples are `{Self}`, not inputs of `{N}`",
    note = "a data set for `{N}` is a `Dataset<nn::Input<{N}>, _>` (its samples are `{E}`); read one with `Dataset::<nn::Input<{N}>, usize>::from_csv(..)`",
    note = "or train the network this data set was made for"
)]
pub trait SamplesFor<N: Network, E> {
    /// The data set's sample type: `nn::Input<N>`.
    type Sample;
    /// The samples as inputs of `N` (the same slice).
    fn inputs(samples: &[Self::Sample]) -> &[Input<N>];
}

impl<N: Network, T> SamplesFor<N, T> for T {
    type Sample = Input<N>;
    fn inputs(samples: &[Input<N>]) -> &[Input<N>] {
        samples
    }
}

/// A loss that can train network `N`, whose output is named `O` (see [`ShapeName`]): every
/// `L: Loss<N::OutputShape>`.
///
/// The bound that [`BinaryCrossEntropy`](crate::BinaryCrossEntropy) fails on a network with more
/// than one output.
#[diagnostic::on_unimplemented(
    message = "the `{Self}` loss cannot train network `{N}`, whose output is `{O}`",
    label = "`{Self}` does not fit the output of `{N}`, `{O}`",
    note = "`BinaryCrossEntropy` needs exactly one output, `[f32; 1]`: end the network with `Dense(1), Sigmoid`, or, for more than two classes, use `CrossEntropy` (with `Softmax` or no final activation)",
    note = "`CrossEntropy` and `Mse` take any output"
)]
pub trait LossFor<N: Network, O>: Loss<N::OutputShape> {}

#[diagnostic::do_not_recommend]
impl<N: Network, L: Loss<N::OutputShape>, O> LossFor<N, O> for L {}

/// Targets of type `Self` that loss `L` takes when it trains network `N`, whose output is named
/// `O` (see [`ShapeName`]): `L` fits `N` ([`LossFor`]) and `Self` is its target type
/// ([`TargetOf`]).
///
/// The bound that class labels fail for [`Mse`](crate::Mse) (and output tensors for
/// [`CrossEntropy`](crate::CrossEntropy)).
#[diagnostic::on_unimplemented(
    message = "the `{L}` loss does not take `{Self}` targets",
    label = "the data set's targets are `{Self}`, which `{L}` does not take",
    note = "`Mse` takes targets of the network's output shape, `{O}`: a `Dataset<nn::Input<{N}>, nn::Output<{N}>>`",
    note = "`CrossEntropy` and `BinaryCrossEntropy` take class labels: a `Dataset<nn::Input<{N}>, usize>`"
)]
pub trait TargetsFor<L, N: Network, O> {
    /// The loss, `L`, as a loss whose targets are `Self`.
    type Loss: Loss<N::OutputShape, Target = Self>;
    /// `loss` as [`TargetsFor::Loss`] (the same value).
    fn loss(loss: &L) -> &Self::Loss;
}

impl<N, L, O, Y> TargetsFor<L, N, O> for Y
where
    N: Network,
    L: LossFor<N, O>,
    Y: TargetOf<L, N>,
{
    type Loss = Y::Loss;
    fn loss(loss: &L) -> &Y::Loss {
        Y::loss(loss)
    }
}

/// `Self` is the target type of loss `L` on the output of network `N`: the second half of
/// [`TargetsFor`] (its message is that of [`TargetsFor`]).
#[diagnostic::on_unimplemented(
    message = "the `{L}` loss does not take `{Self}` targets",
    label = "the data set's targets are `{Self}`, which `{L}` does not take"
)]
pub trait TargetOf<L, N: Network> {
    /// The loss, `L`, as a loss whose targets are `Self`.
    type Loss: Loss<N::OutputShape, Target = Self>;
    /// `loss` as [`TargetOf::Loss`] (the same value).
    fn loss(loss: &L) -> &Self::Loss;
}

#[diagnostic::do_not_recommend]
impl<N, L, Y> TargetOf<L, N> for Y
where
    N: Network,
    L: Loss<N::OutputShape, Target = Y>,
{
    type Loss = L;
    fn loss(loss: &L) -> &L {
        loss
    }
}
