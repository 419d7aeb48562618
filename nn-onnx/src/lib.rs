//! Read and write ONNX models.
//!
//! This crate is the file layer of `nn`'s ONNX support: the protobuf messages of `onnx.proto`
//! (as `prost` derive structs, in [`proto`]), and a decoded, checked view of a model
//! ([`Model`]): its opsets, graph inputs and outputs ([`ValueInfo`], with symbolic dimensions
//! such as a dynamic batch kept by name), nodes ([`Node`], attributes as [`Attribute`]) and
//! initializers decoded to `f32`, `i64`, or the `i8`/`u8`/`i32` of quantized models
//! ([`Tensor`]). Mapping operators to `nn` layers is not done here.
//!
//! ```
//! use nn_onnx::{Attribute, Model, Node, Tensor, ValueInfo};
//!
//! // y = x W^T + b for a batch of 3-vectors, as PyTorch exports nn.Linear(3, 2).
//! let mut model = Model::new("linear");
//! model.inputs.push(ValueInfo::float_batched("input", &[3]));
//! model.initializers.push(Tensor::float("w", &[2, 3], vec![1., 2., 3., 4., 5., 6.])?);
//! model.initializers.push(Tensor::float("b", &[2], vec![0.5, -0.5])?);
//! model.nodes.push(
//!     Node::new("fc", "Gemm", ["input", "w", "b"], ["output"]).with("transB", Attribute::Int(1)),
//! );
//! model.outputs.push(ValueInfo::float_batched("output", &[2]));
//! let bytes = model.to_bytes()?;
//!
//! let back = Model::from_bytes(&bytes)?;
//! assert_eq!(back, model);
//! assert_eq!(back.opset_version(), Some(17));
//! assert_eq!(back.inputs[0].sample_dims(), Some(vec![3]));
//! assert_eq!(back.nodes[0].int("transB")?, Some(1));
//! assert_eq!(back.initializer("w").and_then(|t| t.as_f32()), Some(&[1., 2., 3., 4., 5., 6.][..]));
//! # Ok::<(), nn_onnx::OnnxError>(())
//! ```
//!
//! Errors ([`OnnxError`]) say what is wrong and where: the file, the node and its operator, the
//! tensor, the expected and found element type or size. Malformed bytes are an error, never a
//! panic.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(clippy::all)]

mod error;
mod graph;
pub mod import;
mod model;
pub mod proto;
mod tensor;

pub use error::OnnxError;
pub use graph::{Attribute, Dim, Node, Opset, ValueInfo, BATCH};
pub use model::Model;
pub use proto::attribute_proto::AttributeType;
pub use tensor::{ElemType, Tensor, TensorData};

#[cfg(test)]
mod tests;
