//! The training path of generated networks (needs `alloc`): mini-batches on the heap and the
//! [`Trainable`] trait.

use crate::layers::{ParamId, Parameters};
use crate::network::Network;
use crate::tensor::{Shape, Tensor};
use alloc::alloc::Layout;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;

/// A mini-batch of `B` tensors on the heap.
pub type Batch<S, const B: usize> = Box<[Tensor<S>; B]>;

/// A zeroed mini-batch, built on the heap without a stack temporary (one zeroed
/// allocation: fresh pages from the system need no clearing).
pub fn zeroed_batch<S: Shape, const B: usize>() -> Batch<S, B> {
    let layout = Layout::new::<[Tensor<S>; B]>();
    if layout.size() == 0 {
        // SAFETY: for a zero-sized type a dangling, well-aligned pointer is a valid `Box`
        // (it is never dereferenced or deallocated).
        return unsafe { Box::from_raw(NonNull::<[Tensor<S>; B]>::dangling().as_ptr()) };
    }
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<[Tensor<S>; B]>();
    if p.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `p` comes from the global allocator with the layout of `[Tensor<S>; B]`, as
    // `Box` requires, and all-zero bytes are a valid value of that type: a `Tensor` is a
    // `repr(transparent)` wrapper of a `GenericArray<f32, _>`, that is of `f32`s only (no
    // padding), and the all-zero `f32` is 0.0.
    unsafe { Box::from_raw(p) }
}

/// Copies `B` tensors into a heap mini-batch (zeros after the last item if there are fewer;
/// items after the `B`-th are ignored).
pub fn batch_from<S: Shape, const B: usize>(
    items: impl IntoIterator<Item = Tensor<S>>,
) -> Batch<S, B> {
    let mut v = Vec::with_capacity(B);
    v.extend(items.into_iter().take(B));
    v.resize_with(B, Tensor::zeros);
    match v.into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a vector of B elements converts to [_; B]"),
    }
}

/// The gradient batches one backward pass needs (one per tensor that gets a gradient): a struct
/// `network!` generates, kept in the cache between steps. Not a public API.
#[doc(hidden)]
pub trait BackwardBuffers<I: Shape, const B: usize> {
    /// Every batch allocated (zeroed).
    fn new() -> Self;
    /// The gradient with respect to the inputs, after a backward pass.
    fn input_grad(&self) -> &[Tensor<I>; B];
    /// The same, owned.
    fn into_input_grad(self) -> Batch<I, B>;
}

/// The training path of a generated network: batched forward with a cache of
/// intermediates, and backward. Needs the `alloc` feature.
///
/// The mini-batch size `B` is a const parameter: the batch is processed as a unit (batch
/// statistics, weight reuse across samples).
///
/// `network!` generates the forward pass, the cache accessors and one backward pass
/// ([`Trainable::backward_steps`], hidden); the allocating and reusing variants of forward and
/// backward are provided here in terms of them.
#[allow(clippy::type_complexity)] // the visitor closure type is the clearest statement
pub trait Trainable: Network + WeightFiles {
    /// A struct with one field per parameterized layer, mirroring the network's parameters.
    type Gradients: Parameters;
    /// The intermediates of a batched forward pass, one heap batch per layer output.
    type Cache<const B: usize>;
    /// Backward's gradient batches. Not a public API.
    #[doc(hidden)]
    type Buffers<const B: usize>: BackwardBuffers<Self::InputShape, B> + 'static;

    /// A cache with every batch allocated (zeroed), to be filled by
    /// [`Trainable::forward_train_into`].
    fn new_cache<const B: usize>() -> Self::Cache<B>;

    /// Like [`Trainable::forward_train`], writing into `cache` (from
    /// [`Trainable::new_cache`] or an earlier step) instead of allocating a new one: every
    /// batch and saved statistic is overwritten, with the same results.
    ///
    /// A training loop that keeps its cache, its gradients and calls
    /// [`Trainable::backward_logits_into`] (or [`Trainable::backward_into`]) allocates
    /// (almost) nothing per step. Reusing memory pays: a fresh multi-megabyte cache per step
    /// costs page faults and clearing that can take longer than the arithmetic.
    ///
    /// ```
    /// # use nn_core::*;
    /// fn train<N: Trainable>(net: &mut N, x: &Batch<N::InputShape, 32>, targets: &[usize])
    /// where
    ///     CrossEntropy: Loss<N::OutputShape, Target = usize>,
    /// {
    ///     let mut cache = N::new_cache::<32>();
    ///     let mut grads: Box<N::Gradients> = Default::default();
    ///     let mut d_logits = zeroed_batch::<N::OutputShape, 32>();
    ///     let mut sgd = Sgd::new(0.01);
    ///     for _ in 0..100 {
    ///         net.forward_train_into(x, &mut cache);
    ///         CrossEntropy.loss_grad(&N::cache_logits(&cache)[..], targets, &mut d_logits[..]);
    ///         net.backward_logits_into(&mut cache, &d_logits, &mut grads);
    ///         sgd.step(net, &grads);
    ///     }
    /// }
    /// ```
    fn forward_train_into<const B: usize>(
        &mut self,
        x: &[Tensor<Self::InputShape>; B],
        cache: &mut Self::Cache<B>,
    );

    /// The network outputs stored in a cache.
    fn cache_output<const B: usize>(cache: &Self::Cache<B>) -> &[Tensor<Self::OutputShape>; B];

    /// The logits stored in a cache: the input of the final `Softmax`/`Sigmoid`, or the
    /// outputs when there is none.
    fn cache_logits<const B: usize>(cache: &Self::Cache<B>) -> &[Tensor<Self::OutputShape>; B];

    /// Visits every parameter with its gradient, in lockstep (what optimizers use).
    fn zip_gradients(
        &mut self,
        grads: &Self::Gradients,
        f: &mut dyn FnMut(ParamId, &mut [f32], &[f32]),
    );

    /// The backward pass, generated once per network: from `d` (the gradient with respect to
    /// the outputs, or with `from_logits` to the logits), **adds** the parameter gradients into
    /// `grads` and leaves the input gradient in `bufs`. Not a public API: call
    /// [`Trainable::backward`] and its variants.
    #[doc(hidden)]
    fn backward_steps<const B: usize>(
        &self,
        cache: &Self::Cache<B>,
        bufs: &mut Self::Buffers<B>,
        d: &[Tensor<Self::OutputShape>; B],
        from_logits: bool,
        grads: &mut Self::Gradients,
    );

    /// The gradient batches a cache keeps between steps. Not a public API.
    #[doc(hidden)]
    fn cache_buffers<const B: usize>(cache: &mut Self::Cache<B>) -> &mut Option<Self::Buffers<B>>;

    /// Forward pass over a mini-batch in training mode, keeping what backward needs: batch
    /// normalization uses (and updates its running statistics from) the batch, dropout
    /// drops. Hence `&mut self`; inference (`forward`) never changes the network.
    ///
    /// Allocates a new cache on every call; a loop of many steps should keep one and call
    /// [`Trainable::forward_train_into`].
    fn forward_train<const B: usize>(
        &mut self,
        x: &[Tensor<Self::InputShape>; B],
    ) -> Self::Cache<B> {
        let mut cache = Self::new_cache::<B>();
        self.forward_train_into(x, &mut cache);
        cache
    }

    /// Back-propagates `d_output` (the gradient of the loss with respect to the outputs)
    /// and returns the parameter gradients and the gradient with respect to the inputs.
    fn backward<const B: usize>(
        &self,
        cache: &Self::Cache<B>,
        d_output: &[Tensor<Self::OutputShape>; B],
    ) -> (Box<Self::Gradients>, Batch<Self::InputShape, B>) {
        backward_fresh(self, cache, d_output, false)
    }

    /// Like [`Trainable::backward`], starting from the gradient with respect to the logits
    /// (skipping the final `Softmax`/`Sigmoid`, whose gradient the loss has folded in).
    fn backward_logits<const B: usize>(
        &self,
        cache: &Self::Cache<B>,
        d_logits: &[Tensor<Self::OutputShape>; B],
    ) -> (Box<Self::Gradients>, Batch<Self::InputShape, B>) {
        backward_fresh(self, cache, d_logits, true)
    }

    /// Like [`Trainable::backward`], without allocating per call: the parameter gradients
    /// are written into `grads` (overwritten, not accumulated), backward's intermediate
    /// gradient batches are kept in `cache` (allocated by the first call) and the gradient
    /// with respect to the inputs is returned from there. Same results as `backward`.
    fn backward_into<'c, const B: usize>(
        &self,
        cache: &'c mut Self::Cache<B>,
        d_output: &[Tensor<Self::OutputShape>; B],
        grads: &mut Self::Gradients,
    ) -> &'c [Tensor<Self::InputShape>; B] {
        backward_reusing(self, cache, d_output, false, grads)
    }

    /// Like [`Trainable::backward_logits`], without allocating per call (as
    /// [`Trainable::backward_into`]).
    fn backward_logits_into<'c, const B: usize>(
        &self,
        cache: &'c mut Self::Cache<B>,
        d_logits: &[Tensor<Self::OutputShape>; B],
        grads: &mut Self::Gradients,
    ) -> &'c [Tensor<Self::InputShape>; B] {
        backward_reusing(self, cache, d_logits, true, grads)
    }
}

/// Backward on fresh gradients and buffers.
fn backward_fresh<N: Trainable, const B: usize>(
    net: &N,
    cache: &N::Cache<B>,
    d: &[Tensor<N::OutputShape>; B],
    from_logits: bool,
) -> (Box<N::Gradients>, Batch<N::InputShape, B>) {
    let mut grads: Box<N::Gradients> = Default::default();
    let mut bufs = <N::Buffers<B> as BackwardBuffers<N::InputShape, B>>::new();
    net.backward_steps(cache, &mut bufs, d, from_logits, &mut grads);
    (grads, bufs.into_input_grad())
}

/// Backward into `grads` (zeroed first) with the buffers the cache keeps.
fn backward_reusing<'c, N: Trainable, const B: usize>(
    net: &N,
    cache: &'c mut N::Cache<B>,
    d: &[Tensor<N::OutputShape>; B],
    from_logits: bool,
    grads: &mut N::Gradients,
) -> &'c [Tensor<N::InputShape>; B] {
    grads.visit_mut("", &mut |_, v: &mut [f32]| v.fill(0.0));
    let mut bufs = N::cache_buffers(cache)
        .take()
        .unwrap_or_else(<N::Buffers<B> as BackwardBuffers<N::InputShape, B>>::new);
    net.backward_steps(cache, &mut bufs, d, from_logits, grads);
    N::cache_buffers(cache).insert(bufs).input_grad()
}

/// With `std`, weight files: every trainable network is a [`StateDict`](crate::StateDict) with
/// a `Default`, hence [`SafeTensors`](crate::SafeTensors) (the trainer's checkpoints need it);
/// without `std`, nothing. Implemented for every type that qualifies.
#[cfg(feature = "std")]
pub trait WeightFiles: crate::train::io::StateDict + Default {}
#[cfg(feature = "std")]
impl<T: crate::train::io::StateDict + Default> WeightFiles for T {}

/// With `std`, weight files (see the `std` version); without `std`, nothing.
#[cfg(not(feature = "std"))]
pub trait WeightFiles {}
#[cfg(not(feature = "std"))]
impl<T> WeightFiles for T {}
