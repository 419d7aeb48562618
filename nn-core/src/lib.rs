//! Runtime of the [`nn`](https://docs.rs/nn) crate: typed tensors, layers, losses, optimizers
//! and (with `std`) training and data loading.
//!
//! Users depend on `nn`, which re-exports everything here together with the `network!` macro.
//! The inference path is `#![no_std]` and allocation-free; `alloc` adds the batched training
//! path and optimizers, `std` (default) adds the trainer, CSV data sets and weight files.
//!
//! Every item has one public path, at the crate root (and `math` for the scalar helpers). The
//! modules behind them, in dependency order (see `ARCHITECTURE.md`):
//! - `layers`: one file per layer kind (formula, shapes, PyTorch/Keras equivalent, forward,
//!   backward, weight-file layout, folding); they compute through
//! - `kernels`: the numeric kernels over slices, each beside its plain reference loop, written
//!   once over an instruction-set trait and dispatched to AVX-512, AVX2+FMA or portable code;
//! - `network`, `trainable`: the traits generated networks implement; `loss`, `optim`;
//! - `train` (`std`): the trainer, data sets, weight files, errors;
//! - `private` (hidden): what generated code calls.
#![no_std]
#![deny(missing_docs)]
#![warn(clippy::all)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Fixed-point numbers with hls4ml's `ap_fixed` semantics and hls4ml's layer arithmetic, bit
/// for bit (the `nn-fixed` crate): what the fixed-point twins of `#[fixed(...)]` compute with.
pub use nn_fixed as fixed_point;
mod init;
mod kernels;
mod layers;
mod loss;
pub mod math;
mod names;
mod network;
#[cfg(feature = "alloc")]
mod optim;
#[doc(hidden)]
pub mod private;
pub mod quant;
mod storage;
mod tensor;
mod threads;
#[cfg(feature = "std")]
mod train;
#[cfg(feature = "alloc")]
mod trainable;
mod workspace;

pub use init::{Init, Rng};
pub use layers::activation::{
    Activation, Gaussian, Identity, LeakyReLU, ReLU, SiLU, Sigmoid, Softplus, Step, Tanh, ELU,
    GELU, SELU, SELU_ALPHA, SELU_LAMBDA,
};
pub use layers::batch_norm::{BatchNorm, BN_EPS, BN_MOMENTUM};
pub use layers::conv::{Conv1d, Conv2d};
pub use layers::dense::Dense;
pub use layers::dropout::Dropout;
pub use layers::flatten::Flatten;
pub use layers::geometry::{SameSize, Window, Window1d, Window2d, WindowOut};
pub use layers::pool::{AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d};
pub use layers::prelu::{PReLU, PReLUChannels};
pub use layers::softmax::Softmax;
pub use layers::{
    FieldInfo, Layer, LayerTensors, Layout, ParamId, ParamKind, Parameters, TensorSpec,
};
pub use loss::{
    bce_with_logits, check_label, softmax_cross_entropy, BinaryCrossEntropy, CrossEntropy, Loss,
    Mse, TargetError, MAX_CLASS_LABEL,
};
pub use names::{DimName, Over1023};
pub use network::{BatchLenError, Head, Input, InputOf, Network, Output, Shapes};
#[cfg(feature = "alloc")]
pub use optim::{Adam, BadSetting, Optimizer, Sgd};
pub use tensor::{
    argmax, FitsTensor, Shape, Shape1, Shape2, Shape3, ShapeError, ShapeName, Tensor, Vector,
};
pub use threads::{set_threads, threads};
#[cfg(feature = "alloc")]
pub use trainable::{batch_from, zeroed_batch, Batch, Trainable, WeightFiles};
pub use workspace::STACK_BUDGET;

#[cfg(feature = "std")]
pub use train::checks::{LossFor, Sample, SamplesFor, TargetOf, TargetsFor};
#[cfg(feature = "std")]
pub use train::data::csv::{CsvOptions, CsvTarget};
#[cfg(feature = "std")]
pub use train::data::scale::Standardizer;
#[cfg(feature = "std")]
pub use train::data::split::{Holdout, SplitIndices};
#[cfg(feature = "std")]
pub use train::data::Dataset;
#[cfg(feature = "std")]
pub use train::error::Error;
#[cfg(feature = "std")]
pub use train::history::{EpochRecord, History};
#[cfg(feature = "std")]
pub use train::io::{
    safetensors_bytes, safetensors_bytes_with, NamedTensor, SafeTensors, StateDict,
};
#[cfg(feature = "std")]
pub use train::metrics::{accuracy, evaluate, Confusion, Evaluation, Metrics};
#[cfg(feature = "std")]
pub use train::onnx::Onnx;
#[cfg(feature = "std")]
pub use train::qat::{fake_fixed, fake_int8, fake_quantize, FakeQuant, FakeQuantize, ParamTensor};
#[cfg(feature = "std")]
pub use train::schedule::Schedule;
#[cfg(feature = "std")]
pub use train::trainer::{Checkpoint, CheckpointWriter, NoCheckpoint, Trainer};

// typenum and generic-array are reachable as `nn::typenum` and `nn::generic_array` (the facade
// re-exports them, out of the docs) and as `private::{typenum, generic_array}` for generated code.
