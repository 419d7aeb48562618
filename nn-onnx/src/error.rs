//! The one error type of this crate.

use std::path::PathBuf;

/// What is wrong with an ONNX model, or with reading or writing its file.
///
/// Each message names what it is about: the file, the node (its name, or `#index` when it has
/// none) and its operator, the tensor or value, and what was expected against what was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An error in the model stored in a file (`Model::read`, `Model::write`).
    #[error("`{}`: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with the model in it.
        source: Box<OnnxError>,
    },
    /// The bytes are not a protobuf `ModelProto` (truncated, or not ONNX at all).
    #[error("not an ONNX model: protobuf decoding failed: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A model-level field is missing or wrong (no graph, no `ai.onnx` opset, IR version).
    #[error("{0}")]
    Model(String),
    /// A graph input or output is wrong (not a tensor, unknown element type, negative size).
    #[error("graph {role} `{name}`: {problem}")]
    Value {
        /// `input` or `output`.
        role: &'static str,
        /// The value's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A tensor's element type is not one this crate decodes.
    #[error("tensor `{tensor}`: element type {found} is not supported (expected {expected})")]
    DataType {
        /// The tensor's name (`initializer` names, or `attribute value` for unnamed ones).
        tensor: String,
        /// The element type found, by its onnx.proto name.
        found: String,
        /// The element types accepted.
        expected: &'static str,
    },
    /// A tensor holds more or fewer values than its dims say, or its dims are invalid.
    #[error("tensor `{tensor}` ({dtype}, dims {dims:?}): {problem}")]
    Tensor {
        /// The tensor's name.
        tensor: String,
        /// Its element type.
        dtype: &'static str,
        /// Its dims, as stored.
        dims: Vec<i64>,
        /// What is wrong, with the expected and found sizes.
        problem: String,
    },
    /// A node is wrong: an empty operator, an input nothing defines, an output defined twice.
    #[error("node `{node}` ({op}): {problem}")]
    Node {
        /// The node's name, or `#index` (its position in the graph) when it has none.
        node: String,
        /// Its operator (`op_type`).
        op: String,
        /// What is wrong.
        problem: String,
    },
    /// A node's attribute is wrong or not of the type asked for.
    #[error("node `{node}` ({op}): attribute `{attribute}`: {problem}")]
    Attribute {
        /// The node's name, or `#index` when it has none.
        node: String,
        /// Its operator.
        op: String,
        /// The attribute's name.
        attribute: String,
        /// What is wrong, e.g. `is FLOAT, expected INTS`.
        problem: String,
    },
    /// Two initializers, or two values, have the same name.
    #[error("two {kind} are named `{name}`")]
    DuplicateName {
        /// `initializers`, `graph inputs`, `values` or `attributes of one node`.
        kind: &'static str,
        /// The name.
        name: String,
    },
}

impl OnnxError {
    /// This error as coming from the model in `path`.
    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> OnnxError {
        match self {
            OnnxError::Io { .. } | OnnxError::InFile { .. } => self,
            other => OnnxError::InFile {
                path: path.into(),
                source: Box::new(other),
            },
        }
    }
}
