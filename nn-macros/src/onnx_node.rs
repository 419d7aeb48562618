//! What a layer contributes to a network's ONNX export: its nodes, constants and weights
//! stored with other dimensions (each layer kind's `Kind::onnx` builds them; the export in
//! `expand::onnx_export` strings them together).

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
}

/// One ONNX node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: &'static str,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(&'static str, Attr)>,
}

impl Node {
    /// `op` named `name` from `inputs` to `output`.
    pub fn new(op: &'static str, name: impl Into<String>, inputs: &[&str], output: &str) -> Node {
        Node {
            op,
            name: name.into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.to_string()],
            attrs: vec![],
        }
    }

    /// With attribute `name`.
    pub fn with(mut self, name: &'static str, value: Attr) -> Node {
        self.attrs.push((name, value));
        self
    }
}

/// A layer's share of the graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    pub nodes: Vec<Node>,
    /// Constants that are not weights: name, dims, values.
    pub consts: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// Weights stored with other dims than their `state_dict` shape.
    pub dims: Vec<(String, Vec<usize>)>,
    /// The operator set the nodes need (17 unless one needs a newer operator).
    pub opset: i64,
}

impl Part {
    /// One node.
    pub fn node(n: Node) -> Part {
        Part {
            nodes: vec![n],
            opset: 17,
            ..Part::default()
        }
    }

    /// Several nodes.
    pub fn nodes(nodes: Vec<Node>) -> Part {
        Part {
            nodes,
            opset: 17,
            ..Part::default()
        }
    }

    /// With a constant.
    pub fn with_const(mut self, name: String, dims: Vec<usize>, values: Vec<f32>) -> Part {
        self.consts.push((name, dims, values));
        self
    }
}

/// A scalar constant `<layer>.<what>` for the nodes of a layer.
pub fn scalar(layer: &str, what: &str) -> String {
    format!("{layer}.{what}")
}

/// ONNX `pads` of a window, `[begin.., end..]`, from `[top, bottom, left, right]`.
pub fn pads(rank: u8, pad: [u64; 4]) -> Vec<i64> {
    let [t, b, l, r] = pad.map(|p| p as i64);
    if rank == 1 {
        vec![l, r]
    } else {
        vec![t, l, b, r]
    }
}
