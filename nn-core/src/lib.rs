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
pub mod dense;
pub mod flatten;
pub mod init;
pub mod layer;
pub mod loss;
pub mod math;
pub mod network;
#[cfg(feature = "alloc")]
pub mod optim;
pub mod tensor;

#[cfg(feature = "std")]
pub mod data;
#[cfg(feature = "std")]
pub mod error;
#[cfg(feature = "std")]
pub mod train;

pub use activation::{
    Activation, Gaussian, Identity, LeakyReLU, PReLU, ReLU, SiLU, Sigmoid, Softmax, Softplus, Step,
    Tanh, ELU, GELU, SELU,
};
pub use dense::Dense;
pub use flatten::Flatten;
pub use init::{Init, Rng};
pub use layer::{Layer, ParamId, ParamKind, Parameters};
pub use loss::{BinaryCrossEntropy, CrossEntropy, Head, Loss, Mse};
#[cfg(feature = "alloc")]
pub use network::{batch_from, zeroed_batch, Batch, Trainable};
pub use network::{Input, InputOf, Network, Output};
#[cfg(feature = "alloc")]
pub use optim::{Adam, Optimizer, Sgd};
pub use tensor::{argmax, HoldsExactly, Shape, Shape1, Shape2, Shape3, ShapeError, Tensor, Vector};

#[cfg(feature = "std")]
pub use data::{Dataset, Standardizer};
#[cfg(feature = "std")]
pub use error::Error;
#[cfg(feature = "std")]
pub use train::{accuracy, evaluate, EpochRecord, History, Metrics, Trainer};

pub use generic_array;
pub use typenum;

/// Items used by the code `network!` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "alloc")]
    pub use alloc::boxed::Box;
    pub use core;
    pub use typenum;

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
}
