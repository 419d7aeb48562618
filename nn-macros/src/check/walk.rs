//! The walk through the declaration: entries in order, the current tensor threaded through
//! them, blocks recursively. Each layer's arguments are read and its shape rule applied by its
//! kind (in `layers`), then the rules every layer obeys (in `rules`).

use proc_macro2::Span;
use syn::Ident;

use super::{names, rules};
use crate::ast::Entry;
use crate::ctxt::Ctxt;
use crate::layers::residual::{self, Skip};
use crate::layers::{Layer, Site};
use crate::model::{Op, OpKind};
use crate::shape::Shape;

/// The network being built: layers, tensors (by id; 0 is the input) and the operations that
/// produce them, in execution order.
pub struct Graph {
    pub layers: Vec<Layer>,
    pub tensors: Vec<Shape>,
    pub ops: Vec<Op>,
    /// Every entry's layer name, in declaration order (blocks' entries right after their block).
    pub names: Vec<Ident>,
    /// Every entry's name errors, reported with the entry.
    pub name_errors: Vec<Vec<(Span, String)>>,
    /// Index of the next entry in that order.
    pub next_entry: usize,
}

impl Graph {
    fn tensor(&mut self, shape: Shape) -> usize {
        self.tensors.push(shape);
        self.tensors.len() - 1
    }

    /// Appends `layer`, applied to tensor `input`; returns its output tensor.
    fn push_layer(&mut self, layer: Layer, input: usize) -> usize {
        let o = self.tensor(layer.output);
        self.layers.push(layer);
        self.ops.push(Op {
            label: String::new(),
            kind: OpKind::Layer(self.layers.len() - 1),
            inputs: vec![input],
            output: o,
        });
        o
    }
}

/// Checks the entries of the network or of a block, starting from tensor `input` (`None` when
/// its shape is unknown after an earlier error); returns the block's output tensor.
pub fn check_block(
    cx: &mut Ctxt,
    g: &mut Graph,
    entries: &[Entry],
    input: Option<usize>,
) -> Option<usize> {
    let mut current = input;
    for (i, entry) in entries.iter().enumerate() {
        let index = g.next_entry;
        g.next_entry += 1;
        // Name errors are reported with the layer they belong to, so all errors follow the source.
        for (span, msg) in std::mem::take(&mut g.name_errors[index]) {
            cx.error(span, msg);
        }
        let who = names::describe(entry, index);
        if entry.block.is_some() || entry.kind == residual::NAME {
            current = check_residual(cx, g, &who, entry, index, current);
            continue;
        }
        let next = entries.get(i + 1).map(|e| e.kind.to_string());
        let site = Site {
            who: &who,
            entry,
            next: next.as_deref(),
        };
        current = check_layer(cx, g, &site, index, current);
    }
    current
}

/// Checks one layer on tensor `input`; returns its output tensor (`None` when unknown).
fn check_layer(
    cx: &mut Ctxt,
    g: &mut Graph,
    site: &Site,
    index: usize,
    input: Option<usize>,
) -> Option<usize> {
    let e = site.entry;
    // Unknown layer, or bad arguments: later shapes cannot be known; stop inferring but keep
    // checking names.
    let resolve = rules::check_known_layer(cx, e)?;
    let spec = resolve(cx, site)?;
    let t = input?;
    let in_shape = g.tensors[t];
    let (kind, out) = spec.infer(cx, site, in_shape)?;
    if let Some(ann) = &e.annotation {
        rules::check_annotation(cx, site.who, e, ann, out, in_shape);
    }
    let params = kind.get().params(in_shape, out);
    if !rules::check_size(cx, site.who, e.kind.span(), out, params) {
        return None;
    }
    let layer = Layer::new(
        g.names[index].clone(),
        e.kind.to_string(),
        kind,
        (in_shape, out),
        e.kind.span(),
    );
    Some(g.push_layer(layer, t))
}

/// `Residual { ... }` and `Residual(projection) { ... }` on tensor `input`: the block's output
/// plus its input (or its projection). Returns the sum's tensor.
pub fn check_residual(
    cx: &mut Ctxt,
    g: &mut Graph,
    who: &str,
    e: &Entry,
    index: usize,
    input: Option<usize>,
) -> Option<usize> {
    let block = residual::check_has_block(cx, who, e)?;
    if !residual::check_braces(cx, who, e) {
        check_block(cx, g, block, None);
        return None;
    }
    let projection = residual::resolve(cx, who, e);
    let span = e.block_span.unwrap_or_else(|| e.kind.span());
    if !residual::check_not_empty(cx, who, block, span) {
        return None;
    }
    let branch_out = check_block(cx, g, block, input)?;
    let t_in = input?;
    let (s_in, s_out) = (g.tensors[t_in], g.tensors[branch_out]);
    let skip = match residual::skip(cx, who, span, (s_in, s_out), projection)? {
        Skip::Identity => t_in,
        Skip::Projection(kind) => {
            // Named after the block: `<block>_proj` (`names` keeps the name free).
            let name = Ident::new(&names::projection_name(&g.names[index]), e.kind.span());
            // The size rules hold for projections as for every layer.
            let params = kind.get().params(s_in, s_out);
            let who = format!("the projection of {who}");
            if !rules::check_size(cx, &who, span, s_out, params) {
                return None;
            }
            let layer = Layer::new(
                name,
                "Projection".to_string(),
                kind,
                (s_in, s_out),
                e.kind.span(),
            );
            g.push_layer(layer, t_in)
        }
    };
    let out = g.tensor(s_out);
    g.ops.push(Op {
        kind: OpKind::Add,
        label: g.names[index].to_string(),
        inputs: vec![branch_out, skip],
        output: out,
    });
    if let Some(ann) = &e.annotation {
        rules::check_annotation(cx, who, e, ann, s_out, s_in);
    }
    Some(out)
}
