//! # nn: neural networks whose shapes are checked by the Rust compiler
//!
//! Declare a network as a list of layers; [`network!`] infers every tensor shape at compile
//! time, reports a mistake (a layer that does not fit, a wrong annotation, an unknown argument)
//! as a compile error in plain words, and generates straight-line forward and backward code over
//! concrete, fixed-size types: inference allocates nothing.
//!
//! ```
//! use nn::prelude::*;
//!
//! nn::network! {
//!     /// The hls4ml jet tagger: 16 jet features, 5 classes.
//!     pub struct JetTagger {
//!         input: [16],
//!         fc1: Dense(64), ReLU,
//!         fc2: Dense(32), ReLU,
//!         fc3: Dense(32), ReLU,
//!         out: Dense(5) -> [5],
//!         Softmax,
//!     }
//! }
//!
//! let net = JetTagger::new(42);
//! let x = Input::<JetTagger>::try_from(&[0.5f32; 16][..]).unwrap();
//! let p = net.forward(&x);
//! assert!((p.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! assert_eq!(JetTagger::PARAMS, 4389);
//! assert_eq!(JetTagger::MACS, 4256);
//! ```
//!
//! Training uses [`Trainer`] with any [`Optimizer`] and [`Loss`]; see the crate README and the
//! examples (`logistic`, `spiral`, `jet_tagger`).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

pub use nn_core::*;
pub use nn_macros::network;
// typenum and generic-array name the dimensions of nn's types (`nn::typenum::U16`,
// `nn::generic_array::ArrayLength`) but are not part of its documentation: inlined, they were
// 7,090 of its 7,320 pages.
#[doc(hidden)]
pub use nn_core::private::{generic_array, typenum};
/// The lecture's worked examples, checked.
pub mod lecture;

/// The names most programs need: the macro, the traits, tensors, losses, optimizers and the
/// trainer.
pub mod prelude {
    pub use crate::network;
    #[cfg(feature = "std")]
    pub use nn_core::{
        accuracy, evaluate, CsvOptions, Dataset, Error, Evaluation, FakeQuant, History, Layout,
        Metrics, Onnx, SafeTensors, Schedule, Standardizer, Trainer,
    };
    #[cfg(feature = "alloc")]
    pub use nn_core::{Adam, Optimizer, Sgd, Trainable};
    pub use nn_core::{
        BinaryCrossEntropy, CrossEntropy, Input, Layer, Loss, Mse, Network, Output, Parameters,
        Shape, Shape1, Shape2, Shape3, Tensor,
    };
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
