//! The checked network: every layer resolved, every shape known, the forward pass as a list of
//! operations over numbered tensors.

use syn::{Attribute, Ident, Visibility};

use crate::layers::Layer;
use crate::shape::Shape;

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

/// A network that passed every check (or, after errors, the best-effort fallback).
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
    /// The layer an op applies, if it applies one.
    pub fn layer_of(&self, op: &Op) -> Option<&Layer> {
        match op.kind {
            OpKind::Layer(l) => Some(&self.layers[l]),
            OpKind::Add => None,
        }
    }
    /// The layers with learnable parameters, each a struct field, in declaration order.
    pub fn param_layers(&self) -> impl Iterator<Item = &Layer> {
        self.layers.iter().filter(|l| l.has_params())
    }
    /// Whether a layer draws random numbers in training (the network then keeps an `Rng`).
    pub fn uses_rng(&self) -> bool {
        self.layers.iter().any(|l| l.kind.get().uses_rng())
    }
}
