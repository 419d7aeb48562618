//! The checked network: every layer resolved, every shape known.

use std::fmt;

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

/// A tensor shape without the batch dimension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// `[n]`
    D1(u64),
    /// `[c, l]`
    D2(u64, u64),
    /// `[c, h, w]`
    D3(u64, u64, u64),
}

impl Shape {
    pub fn len(self) -> u64 {
        match self {
            Shape::D1(n) => n,
            Shape::D2(c, l) => c.saturating_mul(l),
            Shape::D3(c, h, w) => c.saturating_mul(h).saturating_mul(w),
        }
    }
    pub fn dims(self) -> Vec<u64> {
        match self {
            Shape::D1(n) => vec![n],
            Shape::D2(c, l) => vec![c, l],
            Shape::D3(c, h, w) => vec![c, h, w],
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d: Vec<String> = self.dims().iter().map(|d| d.to_string()).collect();
        write!(f, "[{}]", d.join(", "))
    }
}

/// How a Dense layer's weights are drawn.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InitKind {
    He,
    Xavier,
    LeCun,
    Zeros,
}

/// An elementwise activation with its constant arguments.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Act {
    Identity,
    Step,
    Sigmoid,
    Tanh,
    ReLU,
    GELU { tanh: bool },
    Softplus,
    ELU { alpha: f64 },
    SELU,
    LeakyReLU { slope: f64 },
    SiLU,
    Gaussian,
}

/// Window geometry of a convolution or pooling layer. 1-D layers use `kw`, `sw`, `pad[2..]`
/// (left, right) and have `kh = sh = 1`, `pad[0] = pad[1] = 0`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Window {
    /// 1 or 2 spatial dimensions.
    pub rank: u8,
    pub kh: u64,
    pub kw: u64,
    pub sh: u64,
    pub sw: u64,
    /// Zero padding: top, bottom, left, right.
    pub pad: [u64; 4],
}

/// What a layer is, with its resolved arguments.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum LayerKind {
    Dense {
        units: u64,
        init: InitKind,
    },
    Act(Act),
    PReLU {
        init: f64,
        per_channel: bool,
    },
    Softmax,
    Flatten,
    Conv {
        filters: u64,
        win: Window,
        bias: bool,
        init: InitKind,
    },
    MaxPool {
        win: Window,
    },
    AvgPool {
        win: Window,
        count_pad: bool,
    },
    /// `BatchNorm1d` or `BatchNorm2d` (the rank was checked against the input).
    BatchNorm,
    Dropout {
        p: f64,
    },
}

impl LayerKind {
    /// Whether the layer has learnable parameters (and so a struct field).
    pub fn has_params(&self) -> bool {
        matches!(
            self,
            LayerKind::Dense { .. }
                | LayerKind::PReLU { .. }
                | LayerKind::Conv { .. }
                | LayerKind::BatchNorm
        )
    }
}

/// A layer with its shapes and costs.
pub struct Layer {
    /// The field name (given or automatic).
    pub name: Ident,
    /// The DSL name of the kind (`Dense`, `ReLU`, ...).
    pub kind_name: String,
    pub kind: LayerKind,
    pub input: Shape,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    /// Span of the entry's kind, for generated-code errors.
    pub span: Span,
}

/// The final activation, which losses on logits skip.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Head {
    None,
    Softmax,
    Sigmoid,
}

/// One step of the forward pass: a layer applied to a tensor, or the sum of two tensors (the end
/// of a residual block). Tensors are numbered; tensor 0 is the input.
pub struct Op {
    pub kind: OpKind,
    /// For a residual join, the block's name (for the summary); empty otherwise.
    pub label: String,
    pub inputs: Vec<usize>,
    pub output: usize,
}

/// What an [`Op`] does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpKind {
    /// `network.layers[i]` applied to `inputs[0]`.
    Layer(usize),
    /// `inputs[0] + inputs[1]`.
    Add,
}

/// A network that passed every check (or, with `ok == false`, the best-effort fallback).
pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: Shape,
    pub layers: Vec<Layer>,
    /// Shape of every tensor; 0 is the input.
    pub tensors: Vec<Shape>,
    /// The forward pass, in order.
    pub ops: Vec<Op>,
    /// The output tensor.
    pub output: usize,
    /// The logits tensor (the input of the head, or the output).
    pub logits: usize,
    /// Number of ops that produce the logits (all but the head).
    pub logits_ops: usize,
    pub head: Head,
}

impl Network {
    pub fn output(&self) -> Shape {
        self.tensors[self.output]
    }
    pub fn params(&self) -> u64 {
        self.layers.iter().map(|l| l.params).sum()
    }
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(|l| l.macs).sum()
    }
}
