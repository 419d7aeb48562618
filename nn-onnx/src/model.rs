//! The model: reading (decode, then check), building and writing.

use std::collections::HashSet;
use std::path::Path;

use prost::Message;

use crate::error::OnnxError;
use crate::graph::{is_default_domain, Attribute, Node, Opset, ValueInfo};
use crate::proto;
use crate::tensor::Tensor;

/// A decoded and checked ONNX model: one graph of nodes over named values.
///
/// [`Model::from_bytes`] and [`Model::read`] decode a file and check it; [`Model::new`] starts an
/// empty one to fill in and write with [`Model::to_bytes`] or [`Model::write`], which run the same
/// checks first, so that whatever this crate writes, it reads back.
///
/// The checks: an `ai.onnx` opset is imported and IR version is at least 3; every initializer
/// decodes (`FLOAT`, `INT64`, `INT8`, `UINT8` or `INT32`, as many values as its dims say); graph inputs and outputs are
/// tensors with a known element type; names of initializers and values are unique; every node
/// has an operator, its attributes decode, each of its inputs is a graph input, an initializer or
/// an output of an earlier node (ONNX stores nodes in topological order), and its domain is
/// imported; every graph output is defined. What the operators mean is not checked here.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The IR version (8 when written by this crate).
    pub ir_version: i64,
    /// The tool that wrote the file (`pytorch`, `nn`).
    pub producer_name: String,
    /// Its version.
    pub producer_version: String,
    /// The imported operator sets; one of them is the default domain.
    pub opsets: Vec<Opset>,
    /// The graph's name.
    pub graph_name: String,
    /// The graph's inputs, without the initializers that old files (IR version < 4) also list
    /// as inputs.
    pub inputs: Vec<ValueInfo>,
    /// The graph's outputs.
    pub outputs: Vec<ValueInfo>,
    /// The nodes, in topological order.
    pub nodes: Vec<Node>,
    /// The initializers (weights, biases, constant shapes), in file order.
    pub initializers: Vec<Tensor>,
}

impl Model {
    /// The opset this crate writes by default.
    pub const DEFAULT_OPSET: i64 = 17;
    /// The IR version this crate writes: 8, the one of ONNX 1.12 (which introduced opset 17),
    /// and what PyTorch's exporter writes with opset 17.
    pub const IR_VERSION: i64 = 8;
    /// The producer name this crate writes.
    pub const PRODUCER: &'static str = "nn";

    /// An empty model named `graph_name`: IR version 8, opset 17, producer `nn`. Fill in
    /// `inputs`, `nodes`, `initializers` and `outputs`, then write it.
    pub fn new(graph_name: impl Into<String>) -> Model {
        Model {
            ir_version: Self::IR_VERSION,
            producer_name: Self::PRODUCER.to_string(),
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            opsets: vec![Opset {
                domain: String::new(),
                version: Self::DEFAULT_OPSET,
            }],
            graph_name: graph_name.into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            nodes: Vec::new(),
            initializers: Vec::new(),
        }
    }

    /// Decodes and checks a model from the bytes of an `.onnx` file.
    ///
    /// Never panics: malformed bytes are an [`OnnxError::Decode`], a well-formed but invalid
    /// model another variant naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, OnnxError> {
        let proto = proto::ModelProto::decode(bytes)?;
        Model::from_proto(&proto)
    }

    /// Reads, decodes and checks the `.onnx` file at `path`; errors name the file.
    pub fn read(path: impl AsRef<Path>) -> Result<Model, OnnxError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| OnnxError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Model::from_bytes(&bytes).map_err(|e| e.in_file(path))
    }

    /// Decodes and checks a `ModelProto`.
    pub fn from_proto(p: &proto::ModelProto) -> Result<Model, OnnxError> {
        let graph = p
            .graph
            .as_ref()
            .ok_or_else(|| OnnxError::Model("the model has no graph".into()))?;
        let opsets = p
            .opset_import
            .iter()
            .map(|o| Opset {
                domain: o.domain.clone().unwrap_or_default(),
                version: o.version.unwrap_or(0),
            })
            .collect();
        let initializers = graph
            .initializer
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.name.as_deref().unwrap_or("").is_empty() {
                    Err(OnnxError::Model(format!("initializer #{i} has no name")))
                } else {
                    Tensor::from_proto(t, "")
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let init_names: HashSet<&str> = initializers.iter().map(|t| t.name.as_str()).collect();
        let mut inputs = Vec::with_capacity(graph.input.len());
        for v in &graph.input {
            if init_names.contains(v.name.as_deref().unwrap_or("")) {
                continue; // IR < 4: initializers are listed as inputs too
            }
            inputs.push(ValueInfo::from_proto(v, "input")?);
        }
        let outputs = graph
            .output
            .iter()
            .map(|v| ValueInfo::from_proto(v, "output"))
            .collect::<Result<Vec<_>, _>>()?;
        let nodes = graph
            .node
            .iter()
            .enumerate()
            .map(|(i, n)| Node::from_proto(n, i))
            .collect::<Result<Vec<_>, _>>()?;
        let model = Model {
            ir_version: p.ir_version.unwrap_or(0),
            producer_name: p.producer_name.clone().unwrap_or_default(),
            producer_version: p.producer_version.clone().unwrap_or_default(),
            opsets,
            graph_name: graph.name.clone().unwrap_or_default(),
            inputs,
            outputs,
            nodes,
            initializers,
        };
        model.check()?;
        Ok(model)
    }

    /// Checks the model (see the type's documentation for the list).
    pub fn check(&self) -> Result<(), OnnxError> {
        if self.ir_version < 3 {
            return Err(OnnxError::Model(format!(
                "IR version {} is not supported (expected 3 or later)",
                self.ir_version
            )));
        }
        let mut domains = HashSet::new();
        for o in &self.opsets {
            let domain = if is_default_domain(&o.domain) {
                ""
            } else {
                o.domain.as_str()
            };
            if !domains.insert(domain) {
                return Err(OnnxError::Model(format!(
                    "the opset of domain `{}` is imported twice",
                    o.domain
                )));
            }
            if o.version < 1 {
                return Err(OnnxError::Model(format!(
                    "the opset of domain `{}` has version {} (expected 1 or more)",
                    o.domain, o.version
                )));
            }
        }
        if !domains.contains("") {
            return Err(OnnxError::Model(
                "the model imports no opset of the default domain (ai.onnx)".into(),
            ));
        }
        let mut defined: HashSet<&str> = HashSet::new();
        for t in &self.initializers {
            t.check()?;
            if t.name.is_empty() {
                return Err(OnnxError::Model("an initializer has no name".into()));
            }
            if !defined.insert(&t.name) {
                return Err(OnnxError::DuplicateName {
                    kind: "initializers",
                    name: t.name.clone(),
                });
            }
        }
        for v in &self.inputs {
            if v.name.is_empty() {
                return Err(OnnxError::Model("a graph input has no name".into()));
            }
            if !defined.insert(&v.name) {
                return Err(OnnxError::DuplicateName {
                    kind: "graph inputs or initializers",
                    name: v.name.clone(),
                });
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let fail = |problem: String| OnnxError::Node {
                node: if n.name.is_empty() {
                    format!("#{i}")
                } else {
                    n.name.clone()
                },
                op: n.op_type.clone(),
                problem,
            };
            if n.op_type.is_empty() {
                return Err(fail("the node has no op_type".into()));
            }
            let domain = if is_default_domain(&n.domain) {
                ""
            } else {
                n.domain.as_str()
            };
            if !domains.contains(domain) {
                return Err(fail(format!(
                    "its domain `{}` is not among the imported opsets",
                    n.domain
                )));
            }
            for input in &n.inputs {
                if !input.is_empty() && !defined.contains(input.as_str()) {
                    return Err(fail(format!(
                        "input `{input}` is not a graph input, an initializer or an output of an earlier node"
                    )));
                }
            }
            for output in &n.outputs {
                if output.is_empty() {
                    continue; // an omitted optional output
                }
                if !defined.insert(output) {
                    return Err(fail(format!(
                        "output `{output}` is already defined (by a graph input, an initializer or an earlier node)"
                    )));
                }
            }
        }
        if self.outputs.is_empty() {
            return Err(OnnxError::Model("the graph has no output".into()));
        }
        for v in &self.outputs {
            if !defined.contains(v.name.as_str()) {
                return Err(OnnxError::Value {
                    role: "output",
                    name: v.name.clone(),
                    problem: "no node, graph input or initializer defines it".into(),
                });
            }
        }
        Ok(())
    }

    /// The version of the default-domain (`ai.onnx`) opset.
    pub fn opset_version(&self) -> Option<i64> {
        self.opsets
            .iter()
            .find(|o| o.is_default_domain())
            .map(|o| o.version)
    }

    /// The initializer named `name`.
    pub fn initializer(&self, name: &str) -> Option<&Tensor> {
        self.initializers.iter().find(|t| t.name == name)
    }

    /// The node whose outputs include `value`.
    pub fn producer_of(&self, value: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == value))
    }

    /// Encodes as a `ModelProto` (unchecked; [`Model::to_bytes`] checks first).
    pub fn to_proto(&self) -> proto::ModelProto {
        proto::ModelProto {
            ir_version: Some(self.ir_version),
            opset_import: self
                .opsets
                .iter()
                .map(|o| proto::OperatorSetIdProto {
                    domain: Some(o.domain.clone()),
                    version: Some(o.version),
                })
                .collect(),
            producer_name: Some(self.producer_name.clone()),
            producer_version: Some(self.producer_version.clone()),
            graph: Some(proto::GraphProto {
                node: self.nodes.iter().map(Node::to_proto).collect(),
                name: Some(self.graph_name.clone()),
                initializer: self.initializers.iter().map(Tensor::to_proto).collect(),
                input: self.inputs.iter().map(ValueInfo::to_proto).collect(),
                output: self.outputs.iter().map(ValueInfo::to_proto).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Checks the model and encodes it as the bytes of an `.onnx` file.
    ///
    /// Besides [`Model::check`], a node attribute this crate cannot encode
    /// ([`Attribute::Unsupported`], read from another file) is an error rather than dropped.
    pub fn to_bytes(&self) -> Result<Vec<u8>, OnnxError> {
        self.check()?;
        for n in &self.nodes {
            for (name, a) in &n.attributes {
                if let Attribute::Unsupported(kind) = a {
                    return Err(OnnxError::Attribute {
                        node: n.label(),
                        op: n.op_type.clone(),
                        attribute: name.clone(),
                        problem: format!(
                            "attributes of kind {} cannot be written",
                            kind.as_str_name()
                        ),
                    });
                }
            }
        }
        Ok(self.to_proto().encode_to_vec())
    }

    /// Checks the model and writes it to the `.onnx` file at `path`; errors name the file.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), OnnxError> {
        let path = path.as_ref();
        let bytes = self.to_bytes().map_err(|e| e.in_file(path))?;
        std::fs::write(path, bytes).map_err(|source| OnnxError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    }
}
