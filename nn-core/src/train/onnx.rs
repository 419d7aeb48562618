//! ONNX export: every generated network describes its graph as a constant [`GraphDesc`]
//! (written by `network!`, each layer kind contributing its nodes), and [`Onnx::to_onnx`]
//! turns that description and the network's weights (its `state_dict`, PyTorch layouts) into
//! an ONNX model: opset 17 (20 where a tanh GELU needs the `Gelu` operator), a dynamic batch
//! dimension named `batch`, graph input `input` and output `output`, nodes and weights named
//! after the layers (`fc1`, `fc1.weight`).
//!
//! The file runs in onnxruntime (`InferenceSession("net.onnx")`), serves from Triton, and
//! imports back with `#[onnx = "net.onnx"]`.

use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use nn_onnx::{Attribute, Model, Node, Opset, Tensor, ValueInfo};

use super::error::Error;
use super::io::SafeTensors;
use crate::layers::Layout;

/// A node attribute's value.
#[derive(Clone, Copy, Debug)]
pub enum Attr {
    /// `INT`.
    Int(i64),
    /// `INTS`.
    Ints(&'static [i64]),
    /// `FLOAT`.
    Float(f32),
    /// `STRING`.
    Str(&'static str),
}

/// One node of the graph.
#[derive(Clone, Copy, Debug)]
pub struct NodeDesc {
    /// The operator (`Conv`).
    pub op: &'static str,
    /// The node's name (the layer's, or `<layer>/<part>` inside a layer made of several nodes).
    pub name: &'static str,
    /// Input values: graph values and weight names.
    pub inputs: &'static [&'static str],
    /// Output values.
    pub outputs: &'static [&'static str],
    /// Attributes.
    pub attrs: &'static [(&'static str, Attr)],
}

/// A constant that is not a weight (GELU's `sqrt(2)`, a step's 0).
#[derive(Clone, Copy, Debug)]
pub struct ConstDesc {
    /// Its name.
    pub name: &'static str,
    /// Its dimensions (`&[]` for a scalar).
    pub dims: &'static [usize],
    /// Its values.
    pub values: &'static [f32],
}

/// A network's graph, as `network!` describes it.
#[derive(Clone, Copy, Debug)]
pub struct GraphDesc {
    /// The graph's name (the network's).
    pub name: &'static str,
    /// The operator set version the nodes need.
    pub opset: i64,
    /// The input shape of one sample.
    pub input: &'static [usize],
    /// The output shape of one sample.
    pub output: &'static [usize],
    /// The nodes, in order.
    pub nodes: &'static [NodeDesc],
    /// Constants besides the weights.
    pub consts: &'static [ConstDesc],
    /// Weights stored with other dimensions than their `state_dict` shape (a per-channel
    /// PReLU slope `[C]` as `[C, 1, 1]`, to broadcast over an image).
    pub dims: &'static [(&'static str, &'static [usize])],
}

/// ONNX export, implemented by every network `network!` generates (`std` only).
pub trait Onnx: SafeTensors {
    /// The network's graph.
    const ONNX: GraphDesc;

    /// The network as an ONNX model (see the module docs).
    fn onnx_model(&self) -> Result<Model, Error> {
        let g = Self::ONNX;
        let err = onnx_error;
        let mut m = Model::new(g.name);
        m.opsets = std::vec![Opset {
            domain: String::new(),
            version: g.opset,
        }];
        m.producer_version = env!("CARGO_PKG_VERSION").to_string();
        m.inputs.push(ValueInfo::float_batched("input", g.input));
        m.outputs.push(ValueInfo::float_batched("output", g.output));
        for t in self.state_dict(Layout::PyTorch) {
            let dims = g
                .dims
                .iter()
                .find(|(n, _)| *n == t.name)
                .map_or_else(|| t.shape.clone(), |(_, d)| d.to_vec());
            m.initializers
                .push(Tensor::float(t.name, &dims, t.data).map_err(err)?);
        }
        for c in g.consts {
            m.initializers
                .push(Tensor::float(c.name, c.dims, c.values.to_vec()).map_err(err)?);
        }
        for n in g.nodes {
            let mut node = Node::new(
                n.name,
                n.op,
                n.inputs.iter().copied(),
                n.outputs.iter().copied(),
            );
            for (k, a) in n.attrs {
                let v = match *a {
                    Attr::Int(i) => Attribute::Int(i),
                    Attr::Ints(v) => Attribute::Ints(v.to_vec()),
                    Attr::Float(f) => Attribute::Float(f),
                    Attr::Str(s) => Attribute::String(s.to_string()),
                };
                node = node.with(*k, v);
            }
            m.nodes.push(node);
        }
        Ok(m)
    }

    /// The ONNX file's bytes.
    fn to_onnx(&self) -> Result<Vec<u8>, Error> {
        self.onnx_model()?.to_bytes().map_err(onnx_error)
    }

    /// Writes the network as an ONNX file (see the module docs).
    fn save_onnx(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        write_model(self.onnx_model(), path.as_ref())
    }
}

/// An ONNX file error of a model in memory.
pub(crate) fn onnx_error(e: nn_onnx::OnnxError) -> Error {
    Error::Onnx {
        path: "(memory)".to_string(),
        message: e.to_string(),
    }
}

/// Writes `model` (or its construction's error, then naming `path`) to `path`.
pub(crate) fn write_model(model: Result<Model, Error>, path: &Path) -> Result<(), Error> {
    let named = |e: Error| match e {
        Error::Onnx { message, .. } => Error::Onnx {
            path: path.display().to_string(),
            message,
        },
        other => other,
    };
    let bytes = model
        .map_err(named)?
        .to_bytes()
        .map_err(onnx_error)
        .map_err(named)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}
