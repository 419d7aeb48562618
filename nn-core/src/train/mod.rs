//! Everything that needs `std`: the training loop ([`trainer`]) with its compile-time checks
//! ([`checks`]), learning-rate schedules ([`schedule`]) and record ([`history`]); evaluation
//! ([`metrics`]); data sets from CSV files, splits and scalers ([`data`]); weight files ([`io`],
//! and [`int8_io`] for int8 twins), quantization-aware training ([`qat`]) and the error type
//! ([`error`]).

pub mod checks;
pub mod data;
pub mod error;
pub mod history;
pub mod int8_io;
pub mod io;
pub mod metrics;
pub mod onnx;
pub mod qat;
pub mod schedule;
pub mod trainer;
