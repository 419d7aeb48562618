//! Checking a declaration: every rule, every shape inferred, every error spanned and collected
//! so the user sees them all at once.
//!
//! The walk (`walk`) visits the entries in order, threading the current tensor through them:
//! each layer's arguments are read and its shape rule applied (by its kind, in `layers`), then
//! the rules every layer obeys (`rules`). After an error the shape that follows is unknown, so
//! inference stops, but the names and arguments of the later layers are still checked.

mod names;
mod rules;
mod walk;

use crate::ast::{Entry, NetworkDef};
use crate::ctxt::Ctxt;
use crate::layers::activation::Activation;
use crate::layers::LayerKind;
use crate::model::{Head, Network, OpKind};
use crate::shape::Shape;
use walk::Graph;

/// Every entry in declaration order, blocks' entries right after their block.
fn flatten<'a>(entries: &'a [Entry], out: &mut Vec<&'a Entry>) {
    for e in entries {
        out.push(e);
        if let Some(block) = &e.block {
            flatten(block, out);
        }
    }
}

/// Checks a parsed declaration. Returns the network (best effort when there were errors, so the
/// expansion can still emit the struct) and the combined errors.
pub fn check(mut def: NetworkDef) -> (Network, Result<(), syn::Error>) {
    let mut cx = Ctxt::default();
    let input = rules::check_input(&mut cx, &def);
    rules::check_not_empty(&mut cx, &def);
    rules::check_attributes(&mut cx, &mut def);
    let mut all = Vec::new();
    flatten(&def.entries, &mut all);
    let (names, name_errors) = names::check_unique_names(&all);
    let mut g = Graph {
        layers: Vec::new(),
        tensors: vec![input.unwrap_or(Shape::D1(1))],
        ops: Vec::new(),
        names,
        name_errors,
        next_entry: 0,
    };
    let out = walk::check_block(&mut cx, &mut g, &def.entries, input.map(|_| 0));
    let output = out.unwrap_or_else(|| g.ops.last().map_or(0, |o| o.output));
    let (head, logits_ops, logits) = head(&g, out.is_some(), output);
    let net = Network {
        attrs: def.attrs,
        vis: def.vis,
        name: def.name,
        input: g.tensors[0],
        layers: g.layers,
        tensors: g.tensors,
        ops: g.ops,
        output,
        logits,
        logits_ops,
        head,
    };
    (net, cx.check())
}

/// The head: a final `Softmax` or `Sigmoid` whose input is the logits. Returns it, the number
/// of ops before it and the logits tensor.
fn head(g: &Graph, complete: bool, output: usize) -> (Head, usize, usize) {
    let none = (Head::None, g.ops.len(), output);
    let Some(op) = g.ops.last().filter(|_| complete) else {
        return none;
    };
    let OpKind::Layer(l) = op.kind else {
        return none;
    };
    match g.layers[l].kind {
        LayerKind::Softmax(_) => (Head::Softmax, g.ops.len() - 1, op.inputs[0]),
        LayerKind::Activation(Activation::Sigmoid) => {
            (Head::Sigmoid, g.ops.len() - 1, op.inputs[0])
        }
        _ => none,
    }
}
