//! The decoded graph: operator sets, values (inputs and outputs), nodes and their attributes.

use std::collections::BTreeMap;

use crate::error::OnnxError;
use crate::proto::{self, attribute_proto::AttributeType, tensor_proto::DataType};
use crate::tensor::{ElemType, Tensor};

/// The name of the dynamic batch dimension this crate writes (`dim_param`), as PyTorch's
/// exporter does with `dynamic_axes={"input": {0: "batch"}}`.
pub const BATCH: &str = "batch";

/// An imported operator set: `domain` (`""` is the default `ai.onnx`) at `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opset {
    /// The domain; `""` (or `ai.onnx`) for the standard operators.
    pub domain: String,
    /// The operator set version (17 for what this crate writes by default).
    pub version: i64,
}

impl Opset {
    /// Whether this is the default domain (`""` or `ai.onnx`).
    pub fn is_default_domain(&self) -> bool {
        is_default_domain(&self.domain)
    }
}

pub(crate) fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// One dimension of a graph input's or output's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    /// A known size (`dim_value`).
    Fixed(usize),
    /// A symbolic size (`dim_param`), such as the dynamic batch dimension `"batch"`.
    Symbolic(String),
    /// Neither a size nor a name.
    Unknown,
}

impl Dim {
    /// The dynamic batch dimension, `Dim::Symbolic("batch")`.
    pub fn batch() -> Dim {
        Dim::Symbolic(BATCH.to_string())
    }

    /// The size, if known.
    pub fn fixed(&self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        }
    }
}

/// A graph input or output: name, element type and (if stored) shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    /// The value's name, as nodes refer to it.
    pub name: String,
    /// The element type (`FLOAT` for this crate's networks).
    pub elem_type: ElemType,
    /// The shape, or `None` when the file does not say (rank unknown).
    pub shape: Option<Vec<Dim>>,
}

impl ValueInfo {
    /// A `FLOAT` value of the given shape.
    pub fn float(name: impl Into<String>, shape: Vec<Dim>) -> ValueInfo {
        ValueInfo {
            name: name.into(),
            elem_type: DataType::Float,
            shape: Some(shape),
        }
    }

    /// A `FLOAT` value of shape `[batch, dims...]`, the batch dimension dynamic (`"batch"`),
    /// e.g. `ValueInfo::float_batched("input", &[1, 8, 8])` is `[batch, 1, 8, 8]`.
    pub fn float_batched(name: impl Into<String>, dims: &[usize]) -> ValueInfo {
        let mut shape = vec![Dim::batch()];
        shape.extend(dims.iter().map(|&d| Dim::Fixed(d)));
        ValueInfo::float(name, shape)
    }

    /// The sizes after a leading symbolic (batch) dimension, if all of them are known: the
    /// per-sample shape, e.g. `[1, 8, 8]` for `[batch, 1, 8, 8]`.
    pub fn sample_dims(&self) -> Option<Vec<usize>> {
        let shape = self.shape.as_ref()?;
        let rest = match shape.first() {
            Some(Dim::Symbolic(_)) | Some(Dim::Unknown) => &shape[1..],
            _ => &shape[..],
        };
        rest.iter().map(Dim::fixed).collect()
    }

    pub(crate) fn from_proto(
        v: &proto::ValueInfoProto,
        role: &'static str,
    ) -> Result<Self, OnnxError> {
        let name = v.name.clone().unwrap_or_default();
        let fail = |problem: String| OnnxError::Value {
            role,
            name: name.clone(),
            problem,
        };
        if name.is_empty() {
            return Err(fail("has no name".into()));
        }
        let tensor = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(proto::type_proto::Value::TensorType(t)) => t,
            None => return Err(fail("is not a tensor (or has no type)".into())),
        };
        let code = tensor.elem_type.unwrap_or(0);
        let elem_type = match DataType::try_from(code) {
            Ok(DataType::Undefined) => return Err(fail("has no element type".into())),
            Ok(t) => t,
            Err(_) => return Err(fail(format!("element type code {code} is unknown"))),
        };
        let shape = match &tensor.shape {
            None => None,
            Some(s) => {
                let mut dims = Vec::with_capacity(s.dim.len());
                for (i, d) in s.dim.iter().enumerate() {
                    use proto::tensor_shape_proto::dimension::Value;
                    dims.push(match &d.value {
                        Some(Value::DimValue(n)) => match usize::try_from(*n) {
                            Ok(n) => Dim::Fixed(n),
                            Err(_) => return Err(fail(format!("dimension {i} is negative ({n})"))),
                        },
                        Some(Value::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
                        _ => Dim::Unknown,
                    });
                }
                Some(dims)
            }
        };
        Ok(ValueInfo {
            name,
            elem_type,
            shape,
        })
    }

    pub(crate) fn to_proto(&self) -> proto::ValueInfoProto {
        use proto::tensor_shape_proto::{dimension::Value, Dimension};
        let shape = self.shape.as_ref().map(|dims| proto::TensorShapeProto {
            dim: dims
                .iter()
                .map(|d| Dimension {
                    denotation: None,
                    value: match d {
                        Dim::Fixed(n) => Some(Value::DimValue(*n as i64)),
                        Dim::Symbolic(p) => Some(Value::DimParam(p.clone())),
                        Dim::Unknown => None,
                    },
                })
                .collect(),
        });
        proto::ValueInfoProto {
            name: Some(self.name.clone()),
            r#type: Some(proto::TypeProto {
                denotation: None,
                value: Some(proto::type_proto::Value::TensorType(
                    proto::type_proto::Tensor {
                        elem_type: Some(self.elem_type as i32),
                        shape,
                    },
                )),
            }),
            ..Default::default()
        }
    }
}

/// A node attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attribute {
    /// `FLOAT` (`f`): Gemm's `alpha`, BatchNormalization's `epsilon`.
    Float(f32),
    /// `INT` (`i`): Flatten's `axis`, Gemm's `transB`, AveragePool's `count_include_pad`.
    Int(i64),
    /// `STRING` (`s`, UTF-8): `auto_pad`.
    String(String),
    /// `TENSOR` (`t`): Constant's `value`.
    Tensor(Tensor),
    /// `FLOATS`.
    Floats(Vec<f32>),
    /// `INTS`: `kernel_shape`, `pads`, `strides`, `dilations`.
    Ints(Vec<i64>),
    /// `STRINGS` (UTF-8).
    Strings(Vec<String>),
    /// `TENSORS`.
    Tensors(Vec<Tensor>),
    /// A kind this crate does not decode (`GRAPH`, `SPARSE_TENSOR`, `TYPE_PROTO` and their
    /// lists); kept by kind so that an importer can name it. Not written back.
    Unsupported(AttributeType),
}

impl Attribute {
    /// The attribute's kind, as in onnx.proto.
    pub fn kind(&self) -> AttributeType {
        match self {
            Attribute::Float(_) => AttributeType::Float,
            Attribute::Int(_) => AttributeType::Int,
            Attribute::String(_) => AttributeType::String,
            Attribute::Tensor(_) => AttributeType::Tensor,
            Attribute::Floats(_) => AttributeType::Floats,
            Attribute::Ints(_) => AttributeType::Ints,
            Attribute::Strings(_) => AttributeType::Strings,
            Attribute::Tensors(_) => AttributeType::Tensors,
            Attribute::Unsupported(k) => *k,
        }
    }

    /// Decodes an `AttributeProto`; `fail` builds an error about it from a problem.
    fn from_proto(
        a: &proto::AttributeProto,
        fail: &dyn Fn(String) -> OnnxError,
    ) -> Result<Attribute, OnnxError> {
        let code = a.r#type.unwrap_or(0);
        let kind = match AttributeType::try_from(code) {
            Ok(AttributeType::Undefined) => {
                infer_kind(a).ok_or_else(|| fail("has no type and no value".into()))?
            }
            Ok(k) => k,
            Err(_) => return Err(fail(format!("type code {code} is unknown"))),
        };
        let missing = |field: &str| {
            fail(format!(
                "is {} but has no `{field}` value",
                kind.as_str_name()
            ))
        };
        let utf8 = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec()).map_err(|_| fail("is not valid UTF-8".into()))
        };
        let tensor = |t: &proto::TensorProto| {
            Tensor::from_proto(t, "(attribute value)").map_err(|e| fail(e.to_string()))
        };
        Ok(match kind {
            AttributeType::Float => Attribute::Float(a.f.ok_or_else(|| missing("f"))?),
            AttributeType::Int => Attribute::Int(a.i.ok_or_else(|| missing("i"))?),
            AttributeType::String => {
                Attribute::String(utf8(a.s.as_deref().ok_or_else(|| missing("s"))?)?)
            }
            AttributeType::Tensor => {
                Attribute::Tensor(tensor(a.t.as_ref().ok_or_else(|| missing("t"))?)?)
            }
            AttributeType::Floats => Attribute::Floats(a.floats.clone()),
            AttributeType::Ints => Attribute::Ints(a.ints.clone()),
            AttributeType::Strings => Attribute::Strings(
                a.strings
                    .iter()
                    .map(|s| utf8(s))
                    .collect::<Result<_, _>>()?,
            ),
            AttributeType::Tensors => {
                Attribute::Tensors(a.tensors.iter().map(tensor).collect::<Result<_, _>>()?)
            }
            other => Attribute::Unsupported(other),
        })
    }

    fn to_proto(&self, name: &str) -> Option<proto::AttributeProto> {
        let mut a = proto::AttributeProto {
            name: Some(name.to_string()),
            r#type: Some(self.kind() as i32),
            ..Default::default()
        };
        match self {
            Attribute::Float(f) => a.f = Some(*f),
            Attribute::Int(i) => a.i = Some(*i),
            Attribute::String(s) => a.s = Some(s.as_bytes().to_vec()),
            Attribute::Tensor(t) => a.t = Some(t.to_proto()),
            Attribute::Floats(v) => a.floats = v.clone(),
            Attribute::Ints(v) => a.ints = v.clone(),
            Attribute::Strings(v) => a.strings = v.iter().map(|s| s.as_bytes().to_vec()).collect(),
            Attribute::Tensors(v) => a.tensors = v.iter().map(Tensor::to_proto).collect(),
            Attribute::Unsupported(_) => return None,
        }
        Some(a)
    }
}

/// The kind of an attribute without `type` (IR version 1), from the field that is set.
fn infer_kind(a: &proto::AttributeProto) -> Option<AttributeType> {
    Some(if a.f.is_some() {
        AttributeType::Float
    } else if a.i.is_some() {
        AttributeType::Int
    } else if a.s.is_some() {
        AttributeType::String
    } else if a.t.is_some() {
        AttributeType::Tensor
    } else if !a.floats.is_empty() {
        AttributeType::Floats
    } else if !a.ints.is_empty() {
        AttributeType::Ints
    } else if !a.strings.is_empty() {
        AttributeType::Strings
    } else if !a.tensors.is_empty() {
        AttributeType::Tensors
    } else {
        return None;
    })
}

/// One node: an operator applied to named inputs, producing named outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The node's name (may be empty; errors then say `#index`).
    pub name: String,
    /// The operator (`Conv`, `Gemm`, ...).
    pub op_type: String,
    /// The operator's domain; `""` for the standard `ai.onnx` operators.
    pub domain: String,
    /// The input value names in operator order (`""` for an omitted optional input).
    pub inputs: Vec<String>,
    /// The output value names.
    pub outputs: Vec<String>,
    /// The attributes by name (their order in the file carries no meaning in ONNX).
    pub attributes: BTreeMap<String, Attribute>,
}

impl Node {
    /// A node of the default domain without attributes.
    pub fn new<I, O>(
        name: impl Into<String>,
        op_type: impl Into<String>,
        inputs: I,
        outputs: O,
    ) -> Node
    where
        I: IntoIterator,
        I::Item: Into<String>,
        O: IntoIterator,
        O::Item: Into<String>,
    {
        Node {
            name: name.into(),
            op_type: op_type.into(),
            domain: String::new(),
            inputs: inputs.into_iter().map(Into::into).collect(),
            outputs: outputs.into_iter().map(Into::into).collect(),
            attributes: BTreeMap::new(),
        }
    }

    /// This node with one more attribute (replacing one of the same name).
    pub fn with(mut self, name: impl Into<String>, value: Attribute) -> Node {
        self.attributes.insert(name.into(), value);
        self
    }

    /// The attribute `name`, if present.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.get(name)
    }

    /// The `INT` attribute `name`: `Ok(None)` if absent, an error naming the node if it has
    /// another kind.
    pub fn int(&self, name: &str) -> Result<Option<i64>, OnnxError> {
        self.typed(name, AttributeType::Int, |a| match a {
            Attribute::Int(i) => Some(*i),
            _ => None,
        })
    }

    /// The `INTS` attribute `name` (see [`Node::int`]).
    pub fn ints(&self, name: &str) -> Result<Option<&[i64]>, OnnxError> {
        self.typed(name, AttributeType::Ints, |a| match a {
            Attribute::Ints(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The `FLOAT` attribute `name` (see [`Node::int`]).
    pub fn float(&self, name: &str) -> Result<Option<f32>, OnnxError> {
        self.typed(name, AttributeType::Float, |a| match a {
            Attribute::Float(f) => Some(*f),
            _ => None,
        })
    }

    /// The `FLOATS` attribute `name` (see [`Node::int`]).
    pub fn floats(&self, name: &str) -> Result<Option<&[f32]>, OnnxError> {
        self.typed(name, AttributeType::Floats, |a| match a {
            Attribute::Floats(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The `STRING` attribute `name` (see [`Node::int`]).
    pub fn string(&self, name: &str) -> Result<Option<&str>, OnnxError> {
        self.typed(name, AttributeType::String, |a| match a {
            Attribute::String(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The `TENSOR` attribute `name` (see [`Node::int`]).
    pub fn tensor(&self, name: &str) -> Result<Option<&Tensor>, OnnxError> {
        self.typed(name, AttributeType::Tensor, |a| match a {
            Attribute::Tensor(t) => Some(t),
            _ => None,
        })
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        want: AttributeType,
        get: impl Fn(&'a Attribute) -> Option<T>,
    ) -> Result<Option<T>, OnnxError> {
        let Some(a) = self.attributes.get(name) else {
            return Ok(None);
        };
        get(a).map(Some).ok_or_else(|| OnnxError::Attribute {
            node: self.label(),
            op: self.op_type.clone(),
            attribute: name.to_string(),
            problem: format!(
                "is {}, expected {}",
                a.kind().as_str_name(),
                want.as_str_name()
            ),
        })
    }

    /// An error about this node (for importers: an unsupported operator, a missing input).
    pub fn error(&self, problem: impl Into<String>) -> OnnxError {
        OnnxError::Node {
            node: self.label(),
            op: self.op_type.clone(),
            problem: problem.into(),
        }
    }

    /// The name for messages: the node's name, or `(unnamed)`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            "(unnamed)".to_string()
        } else {
            self.name.clone()
        }
    }

    /// Decodes node number `index` of a graph.
    pub(crate) fn from_proto(n: &proto::NodeProto, index: usize) -> Result<Node, OnnxError> {
        let name = n.name.clone().unwrap_or_default();
        let label = if name.is_empty() {
            format!("#{index}")
        } else {
            name.clone()
        };
        let op_type = n.op_type.clone().unwrap_or_default();
        if op_type.is_empty() {
            return Err(OnnxError::Node {
                node: label,
                op: "no operator".into(),
                problem: "the node has no op_type".into(),
            });
        }
        let mut attributes = BTreeMap::new();
        for a in &n.attribute {
            let attr_name = a.name.clone().unwrap_or_default();
            let fail = |problem: String| OnnxError::Attribute {
                node: label.clone(),
                op: op_type.clone(),
                attribute: attr_name.clone(),
                problem,
            };
            if attr_name.is_empty() {
                return Err(fail("the attribute has no name".into()));
            }
            if a.ref_attr_name.as_deref().is_some_and(|r| !r.is_empty()) {
                return Err(fail(
                    "refers to a function's attribute (ref_attr_name), which is only valid inside a function".into(),
                ));
            }
            let value = Attribute::from_proto(a, &fail)?;
            if attributes.insert(attr_name.clone(), value).is_some() {
                return Err(fail("appears twice".into()));
            }
        }
        Ok(Node {
            name,
            op_type,
            domain: n.domain.clone().unwrap_or_default(),
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            attributes,
        })
    }

    pub(crate) fn to_proto(&self) -> proto::NodeProto {
        proto::NodeProto {
            input: self.inputs.clone(),
            output: self.outputs.clone(),
            name: (!self.name.is_empty()).then(|| self.name.clone()),
            op_type: Some(self.op_type.clone()),
            domain: (!self.domain.is_empty()).then(|| self.domain.clone()),
            attribute: self
                .attributes
                .iter()
                .filter_map(|(name, a)| a.to_proto(name))
                .collect(),
            ..Default::default()
        }
    }
}
