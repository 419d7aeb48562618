//! The error type of the `std` parts: files, data and training.

use std::fmt;
use std::string::String;
use std::vec::Vec;

use crate::tensor::ShapeError;

/// What went wrong while reading data or training. Every variant names the file, row, column,
/// epoch or batch involved.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A value in a data file is not a number (or not a finite one).
    Value {
        /// The file.
        path: String,
        /// 1-based line number.
        row: usize,
        /// 1-based column number.
        column: usize,
        /// The column's name, from the header row when the file has one.
        name: Option<String>,
        /// The text found.
        value: String,
    },
    /// A row of a data file has the wrong number of columns.
    Width {
        /// The file.
        path: String,
        /// 1-based line number.
        row: usize,
        /// Columns expected: the features plus the target columns.
        expected: usize,
        /// Columns found.
        found: usize,
        /// What the expected columns are ("4 features and the label").
        columns: String,
    },
    /// A label in a data file is not a class index.
    Label {
        /// The file.
        path: String,
        /// 1-based line number.
        row: usize,
        /// The text found.
        value: String,
        /// Why it is not a class index.
        why: String,
    },
    /// A data set or split has no samples.
    Empty(String),
    /// A sample's target does not suit the loss or the network (a label out of range).
    Target {
        /// The sample: `file: row R` (1-based) when the data set was read from a file, else
        /// `sample I` (0-based index).
        sample: String,
        /// What is wrong with its target.
        error: crate::loss::TargetError,
    },
    /// A setting (hyperparameter) has a value it cannot take.
    Setting {
        /// The setting, as its method is named (`learning_rate`, `validation_fraction`).
        setting: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The loss became NaN or infinite.
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based mini-batch within the epoch (0 for the validation pass).
        batch: usize,
        /// The value.
        loss: f32,
    },
    /// The loss and the network's final activation do not go together, or a setting is invalid.
    Config(String),
    /// A slice of the wrong length for a tensor.
    Shape(ShapeError),
    /// A weight file is not a valid safetensors file (truncated, corrupt header, bad offsets).
    WeightFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An ONNX model could not be built or written.
    Onnx {
        /// The file (`(memory)` for bytes).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A tensor the network needs is not in the weight file.
    MissingTensor {
        /// The file.
        path: String,
        /// The tensor's name, e.g. `fc1.weight`.
        name: String,
        /// The shape the network expects.
        expected: Vec<usize>,
    },
    /// The weight file holds a tensor the network does not have.
    ExtraTensor {
        /// The file.
        path: String,
        /// The tensor's name.
        name: String,
    },
    /// A tensor has the wrong shape.
    TensorShape {
        /// The file.
        path: String,
        /// The tensor's name.
        name: String,
        /// The shape the network expects.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is not `f32`.
    TensorDtype {
        /// The file.
        path: String,
        /// The tensor's name.
        name: String,
        /// The dtype in the file.
        found: String,
    },
    /// A tensor or metadata entry of an int8 twin's weight file is not what the twin needs: a
    /// dtype other than the one expected (I8 weights, I32 biases and zero points, F32 scales), a
    /// value out of range (a weight of -128, a zero point outside the int8 range, a scale that
    /// is not positive and finite), or a missing or unknown `format`/`rounding` tag (`name` is
    /// then `__metadata__.format` or `__metadata__.rounding`).
    Int8Tensor {
        /// The file.
        path: String,
        /// The tensor's name, e.g. `fc1.weight`.
        name: String,
        /// What is wrong, e.g. `is F32, the int8 twin needs I8`.
        message: String,
    },
    /// A weight is NaN or infinite.
    NonFiniteWeight {
        /// The file.
        path: String,
        /// The tensor's name.
        name: String,
        /// Flat index of the first bad value.
        index: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Value { path, row, column, name, value } => {
                write!(f, "{path}: row {row}, column {column}")?;
                if let Some(name) = name {
                    write!(f, " (`{name}`)")?;
                }
                write!(f, ": `{value}` is not a finite number")
            }
            Error::Width { path, row, expected, found, columns } => write!(
                f,
                "{path}: row {row} has {found} columns, expected {expected} ({columns})"
            ),
            Error::Label { path, row, value, why } => {
                write!(f, "{path}: row {row}: label `{value}` {why}")
            }
            Error::Empty(what) => write!(f, "{what} has no samples"),
            Error::Target { sample, error } => write!(f, "{sample}: {error}"),
            Error::Setting { setting, value, expected } => {
                write!(f, "`{setting}` is {value}; it must be {expected}")
            }
            Error::NonFinite { epoch, batch: 0, loss } => {
                write!(f, "validation loss became {loss} after epoch {epoch}; training stopped")
            }
            Error::NonFinite { epoch, batch, loss } => write!(
                f,
                "loss became {loss} in epoch {epoch}, batch {batch}; training stopped (lower the learning rate or check the data for NaN)"
            ),
            Error::Config(msg) => f.write_str(msg),
            Error::Shape(e) => fmt::Display::fmt(e, f),
            Error::WeightFile { path, message } => write!(f, "{path}: not a valid safetensors file: {message}"),
            Error::Onnx { path, message } => write!(f, "{path}: cannot write the ONNX model: {message}"),
            Error::MissingTensor { path, name, expected } => {
                write!(f, "{path}: tensor `{name}` (shape {expected:?}) is missing")
            }
            Error::ExtraTensor { path, name } => {
                write!(f, "{path}: tensor `{name}` does not belong to this network (no layer has that parameter)")
            }
            Error::TensorShape { path, name, expected, found } => {
                write!(f, "{path}: tensor `{name}` has shape {found:?}, the network expects {expected:?}")
            }
            Error::TensorDtype { path, name, found } => {
                write!(f, "{path}: tensor `{name}` is {found}, the network needs F32")
            }
            Error::Int8Tensor { path, name, message } => write!(f, "{path}: `{name}` {message}"),
            Error::NonFiniteWeight { path, name, index } => {
                write!(f, "{path}: tensor `{name}` has a NaN or infinite value at flat index {index}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Shape(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ShapeError> for Error {
    fn from(e: ShapeError) -> Self {
        Error::Shape(e)
    }
}

impl From<crate::network::BatchLenError> for Error {
    /// As [`Error::Config`], with the error's message.
    fn from(e: crate::network::BatchLenError) -> Self {
        Error::Config(std::format!("{e}"))
    }
}
