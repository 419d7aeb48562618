//! Runtime of the [`nn`](https://docs.rs/nn) crate: typed tensors, layers, losses, optimizers
//! and (with `std`) training and data loading.
//!
//! Users depend on `nn`, which re-exports everything here together with the `network!` macro.
//! The inference path is `#![no_std]` and allocation-free; `alloc` adds the batched training
//! path and optimizers, `std` (default) adds the trainer, CSV data sets and errors.
#![no_std]
#![deny(missing_docs)]
#![warn(clippy::all)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod activation;
pub mod conv;
mod conv_simd;
#[cfg(feature = "alloc")]
mod conv_simd_backward;
pub mod dense;
pub mod flatten;
mod gemm;
pub mod geometry;
pub mod init;
pub mod layer;
pub mod loss;
pub mod math;
pub mod network;
pub mod norm;
#[cfg(feature = "alloc")]
pub mod optim;
pub mod pool;
mod simd;
pub mod tensor;

#[cfg(feature = "std")]
pub mod data;
#[cfg(feature = "std")]
pub mod error;
#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "std")]
pub mod train;

pub use activation::{
    Activation, Gaussian, Identity, LeakyReLU, PReLU, PReLUChannels, ReLU, SiLU, Sigmoid, Softmax,
    Softplus, Step, Tanh, ELU, GELU, SELU,
};
pub use conv::{Conv1d, Conv2d};
pub use dense::Dense;
pub use flatten::Flatten;
pub use init::{Init, Rng};
pub use layer::{Layer, ParamId, ParamKind, Parameters};
pub use loss::{BinaryCrossEntropy, CrossEntropy, Head, Loss, Mse};
#[cfg(feature = "alloc")]
pub use network::{batch_from, zeroed_batch, Batch, Trainable};
pub use network::{BatchLenError, Input, InputOf, Network, Output};
pub use norm::{add_batch_into, add_into, BatchNorm, BnSaved, Dropout};
#[cfg(feature = "alloc")]
pub use optim::{Adam, Optimizer, Sgd};
pub use pool::{AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d};
pub use tensor::{argmax, HoldsExactly, Shape, Shape1, Shape2, Shape3, ShapeError, Tensor, Vector};

#[cfg(feature = "std")]
pub use data::{Dataset, Standardizer};
#[cfg(feature = "std")]
pub use error::Error;
#[cfg(feature = "std")]
pub use io::{FieldInfo, Layout, NamedTensor, SafeTensors, StateDict};
#[cfg(feature = "std")]
pub use train::{accuracy, evaluate, EpochRecord, History, Metrics, Trainer};

pub use generic_array;
pub use typenum;

/// Items used by the code `network!` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "alloc")]
    pub use alloc::boxed::Box;
    #[cfg(feature = "alloc")]
    pub use alloc::vec::Vec;
    pub use core;
    pub use generic_array;
    pub use typenum;

    /// Expands its input only when `nn-core` has the `std` feature (weight files).
    #[cfg(feature = "std")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __if_std {
        ($($t:tt)*) => { $($t)* };
    }
    /// Expands its input only when `nn-core` has the `std` feature (weight files).
    #[cfg(not(feature = "std"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __if_std {
        ($($t:tt)*) => {};
    }
    pub use crate::__if_std as if_std;

    /// Expands its input only when `nn-core` has the `alloc` feature (the training path).
    #[cfg(feature = "alloc")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __if_alloc {
        ($($t:tt)*) => { $($t)* };
    }
    /// Expands its input only when `nn-core` has the `alloc` feature (the training path).
    #[cfg(not(feature = "alloc"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __if_alloc {
        ($($t:tt)*) => {};
    }
    pub use crate::__if_alloc as if_alloc;

    /// Layer types whose all-zero bit pattern is a valid value (all their fields are `f32`
    /// arrays), so they can be built in place on the heap without a stack temporary.
    ///
    /// # Safety
    /// Implement only for types made of `f32`s and zero-sized markers.
    pub unsafe trait Zeroable: Default {}

    // SAFETY: these layers hold only `f32` arrays and `PhantomData`.
    unsafe impl<I: generic_array::ArrayLength, O: generic_array::ArrayLength> Zeroable
        for crate::Dense<I, O>
    {
    }
    // SAFETY: as above.
    unsafe impl<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, const B: bool> Zeroable
        for crate::Conv2d<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, B>
    where
        CI: generic_array::ArrayLength,
        CO: generic_array::ArrayLength,
        KH: generic_array::ArrayLength,
        KW: generic_array::ArrayLength,
    {
    }
    // SAFETY: as above.
    unsafe impl<CI, CO, K, S, P0, P1, const B: bool> Zeroable for crate::Conv1d<CI, CO, K, S, P0, P1, B>
    where
        CI: generic_array::ArrayLength,
        CO: generic_array::ArrayLength,
        K: generic_array::ArrayLength,
    {
    }
    // SAFETY: a single `f32`.
    unsafe impl Zeroable for crate::PReLU {}
    // SAFETY: four `f32` arrays.
    unsafe impl<C: generic_array::ArrayLength> Zeroable for crate::BatchNorm<C> {}
    // SAFETY: an `f32` array.
    unsafe impl<C: generic_array::ArrayLength> Zeroable for crate::PReLUChannels<C> {}

    /// Storage of a large parameter tensor: on the heap when `alloc` is available.
    #[cfg(feature = "alloc")]
    pub type Large<T> = Box<T>;
    /// Storage of a large parameter tensor: inline without `alloc` (for `static` weights).
    #[cfg(not(feature = "alloc"))]
    pub type Large<T> = T;

    /// Builds a large layer in place on the heap (no stack temporary of its size), then lets
    /// `f` initialize it.
    #[cfg(feature = "alloc")]
    pub fn new_large<T: Zeroable>(f: impl FnOnce(&mut T)) -> Large<T> {
        // SAFETY: `T: Zeroable`, so the zeroed allocation is a valid `T`.
        let mut b: Box<T> = unsafe { Box::<T>::new_zeroed().assume_init() };
        f(&mut b);
        b
    }
    /// Builds a large layer (inline without `alloc`), then lets `f` initialize it.
    #[cfg(not(feature = "alloc"))]
    pub fn new_large<T: Zeroable>(f: impl FnOnce(&mut T)) -> Large<T> {
        new_inline(f)
    }

    /// Whether generated `forward` functions should take their AVX2 copy: the CPU has AVX2
    /// and FMA (detected once at run time with `std`), and the crate was not already compiled
    /// for them (then the plain copy is just as fast).
    #[inline]
    pub fn use_avx2() -> bool {
        #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
            match STATE.load(Ordering::Relaxed) {
                0 => {
                    let yes = std::is_x86_feature_detected!("avx2")
                        && std::is_x86_feature_detected!("fma");
                    STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                    yes
                }
                s => s == 2,
            }
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2"))))]
        {
            false
        }
    }

    /// Builds a small layer by value, then lets `f` initialize it.
    #[inline]
    pub fn new_inline<T: Default>(f: impl FnOnce(&mut T)) -> T {
        let mut t = T::default();
        f(&mut t);
        t
    }
}
