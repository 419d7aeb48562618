//! Cross-cutting checks and shape inference: one function per rule, every error spanned, all
//! errors collected so the user sees them at once.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::Ident;

use crate::args::{self, match_args, Matched, Param};
use crate::ast::{Dims, Entry, NetworkDef};
use crate::ctxt::Ctxt;
use crate::model::{Act, Head, InitKind, Layer, LayerKind, Network, Op, OpKind, Shape, Window};
use crate::spatial;

/// Every layer the DSL knows, for lookups and "did you mean".
pub const LAYERS: &[&str] = &[
    "Dense",
    "Flatten",
    "Identity",
    "Step",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "GELU",
    "Softplus",
    "ELU",
    "SELU",
    "LeakyReLU",
    "PReLU",
    "SiLU",
    "Gaussian",
    "Softmax",
    "Conv1d",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "Residual",
];

/// The network being built: layers, tensors (by id; 0 is the input) and the operations that
/// produce them, in execution order.
struct Graph {
    layers: Vec<Layer>,
    tensors: Vec<Shape>,
    ops: Vec<Op>,
    names: Vec<Ident>,
    name_errors: Vec<Vec<(Span, String)>>,
    /// Preorder index of the next entry (matches `flatten`).
    next_entry: usize,
}

impl Graph {
    fn tensor(&mut self, shape: Shape) -> usize {
        self.tensors.push(shape);
        self.tensors.len() - 1
    }
}

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
pub fn check(def: NetworkDef) -> (Network, Result<(), syn::Error>) {
    let mut cx = Ctxt::default();
    let input = check_input(&mut cx, &def);
    check_not_empty(&mut cx, &def);
    let mut all = Vec::new();
    flatten(&def.entries, &mut all);
    let (names, name_errors) = layer_names(&all);
    let mut g = Graph {
        layers: Vec::new(),
        tensors: vec![input.unwrap_or(Shape::D1(1))],
        ops: Vec::new(),
        names,
        name_errors,
        next_entry: 0,
    };
    let out = check_block(&mut cx, &mut g, &def.entries, input.map(|_| 0));
    let output = out.unwrap_or_else(|| g.ops.last().map_or(0, |o| o.output));
    // The head: a final Softmax/Sigmoid whose input is the logits.
    let (head, logits_ops, logits) = match g.ops.last() {
        Some(
            op @ Op {
                kind: OpKind::Layer(l),
                ..
            },
        ) if out.is_some() => match g.layers[*l].kind {
            LayerKind::Softmax => (Head::Softmax, g.ops.len() - 1, op.inputs[0]),
            LayerKind::Act(Act::Sigmoid) => (Head::Sigmoid, g.ops.len() - 1, op.inputs[0]),
            _ => (Head::None, g.ops.len(), output),
        },
        _ => (Head::None, g.ops.len(), output),
    };
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

/// Checks the entries of the network or of a block, starting from tensor `input` (`None` when
/// its shape is unknown after an earlier error); returns the block's output tensor.
fn check_block(
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
        let who = describe(entry, index);
        let next = entries.get(i + 1).map(|e| e.kind.to_string());
        if entry.block.is_some() || entry.kind == "Residual" {
            current = check_residual(cx, g, &who, entry, index, current);
            continue;
        }
        let (kind, out) = if spatial::is_spatial(&entry.kind.to_string()) {
            let init = default_init(next.as_deref());
            let Some(sp) = spatial::resolve(cx, &who, entry, init) else {
                current = None;
                continue;
            };
            let Some(t) = current else { continue };
            match spatial::infer(cx, &who, entry, &sp, g.tensors[t]) {
                Some((k, o)) => (k, Some(o)),
                None => {
                    current = None;
                    continue;
                }
            }
        } else {
            let Some(kind) = resolve_kind(cx, &who, entry, next.as_deref()) else {
                // Unknown layer: later shapes cannot be known; stop inferring but keep checking names.
                current = None;
                continue;
            };
            let Some(t) = current else { continue };
            (kind, infer_shape(cx, &who, entry, &kind, g.tensors[t]))
        };
        let Some(t) = current else { continue };
        let in_shape = g.tensors[t];
        let Some(out) = out else {
            current = None;
            continue;
        };
        if let Some(ann) = &entry.annotation {
            check_annotation(cx, &who, entry, ann, out, in_shape);
        }
        if !check_size(
            cx,
            &who,
            entry.kind.span(),
            out,
            params_of(&kind, in_shape, out),
        ) {
            current = None;
            continue;
        }
        g.layers.push(Layer {
            name: g.names[index].clone(),
            kind_name: entry.kind.to_string(),
            kind,
            input: in_shape,
            output: out,
            params: params_of(&kind, in_shape, out),
            macs: macs_of(&kind, in_shape, out),
            span: entry.kind.span(),
        });
        let o = g.tensor(out);
        g.ops.push(Op {
            label: String::new(),
            kind: OpKind::Layer(g.layers.len() - 1),
            inputs: vec![t],
            output: o,
        });
        current = Some(o);
    }
    current
}

/// `Residual { ... }` and `Residual(projection) { ... }`: the block's output plus its input.
///
/// Rule: a residual branch keeps the shape of its input, or the block asks for a projection,
/// which must be able to produce the branch's shape (a 1x1 convolution with a stride for
/// `[c, h, w]` and `[c, l]`, a Dense layer for vectors).
fn check_residual(
    cx: &mut Ctxt,
    g: &mut Graph,
    who: &str,
    e: &Entry,
    index: usize,
    input: Option<usize>,
) -> Option<usize> {
    let Some(block) = &e.block else {
        cx.error(e.kind.span(), format!("{who}: `Residual` needs a block of layers, e.g. `Residual {{ Dense(32), ReLU, Dense(32) }}`"));
        return None;
    };
    if e.kind != "Residual" {
        cx.error(e.kind.span(), format!("{who}: only `Residual` takes a block of layers in braces, not `{kind}`; to apply the layers after `{kind}`, remove the braces; for a block with a skip connection, write `Residual {{ ... }}`", kind = e.kind));
        check_block(cx, g, block, None);
        return None;
    }
    let mut projection = false;
    for arg in &e.args {
        match (&arg.key, &arg.value) {
            (None, crate::ast::Value::Ident(i)) if i == "projection" => projection = true,
            _ => cx.error(arg.span(), format!("{who}: `Residual` takes no arguments other than `projection` (a learned skip path that can change the shape): `Residual(projection) {{ ... }}`")),
        }
    }
    let span = e.block_span.unwrap_or_else(|| e.kind.span());
    if block.is_empty() {
        cx.error(
            span,
            format!("{who}: the residual block is empty; put at least one layer in it"),
        );
        return None;
    }
    let branch_out = check_block(cx, g, block, input)?;
    let t_in = input?;
    let (s_in, s_out) = (g.tensors[t_in], g.tensors[branch_out]);
    let skip = if s_in == s_out && !projection {
        t_in
    } else if !projection {
        if projection_kind(s_in, s_out).is_some() {
            cx.error(span, format!(
                "{who}: the block turns {s_in} into {s_out}, but its skip connection carries the input {s_in} unchanged, so the two cannot be added; make the block keep the shape, or write `Residual(projection) {{ ... }}` to learn a projection of the input ({})",
                projection_text(s_in, s_out)
            ));
        } else {
            cx.error(span, format!(
                "{who}: the block turns {s_in} into {s_out}, but its skip connection carries the input {s_in} unchanged, so the two cannot be added, and `Residual(projection)` cannot help: {}",
                projection_text(s_in, s_out)
            ));
        }
        return None;
    } else {
        let Some(kind) = projection_kind(s_in, s_out) else {
            cx.error(
                span,
                format!(
                    "{who}: no projection maps {s_in} to {s_out}: {}",
                    projection_text(s_in, s_out)
                ),
            );
            return None;
        };
        let base = e
            .name
            .as_ref()
            .map_or_else(|| g.names[index].to_string(), |n| n.to_string());
        let name = Ident::new(
            &format!("{}_proj", base.trim_start_matches("r#")),
            e.kind.span(),
        );
        g.layers.push(Layer {
            name,
            kind_name: "Projection".to_string(),
            kind,
            input: s_in,
            output: s_out,
            params: params_of(&kind, s_in, s_out),
            macs: macs_of(&kind, s_in, s_out),
            span: e.kind.span(),
        });
        let o = g.tensor(s_out);
        g.ops.push(Op {
            label: String::new(),
            kind: OpKind::Layer(g.layers.len() - 1),
            inputs: vec![t_in],
            output: o,
        });
        o
    };
    let out = g.tensor(s_out);
    g.ops.push(Op {
        kind: OpKind::Add,
        label: g.names[index].to_string(),
        inputs: vec![branch_out, skip],
        output: out,
    });
    if let Some(ann) = &e.annotation {
        check_annotation(cx, who, e, ann, s_out, s_in);
    }
    Some(out)
}

/// The learned skip path from `from` to `to`: a 1x1 convolution with the stride that gives the
/// branch's spatial size, or a Dense layer for vectors.
fn projection_kind(from: Shape, to: Shape) -> Option<LayerKind> {
    let stride = |n: u64, m: u64| (1..=n).find(|&s| (n - 1) / s + 1 == m);
    let win = |rank, sh, sw| Window {
        rank,
        kh: 1,
        kw: 1,
        sh,
        sw,
        pad: [0; 4],
    };
    match (from, to) {
        (Shape::D1(_), Shape::D1(_)) => Some(LayerKind::Dense {
            units: to.len(),
            init: InitKind::Xavier,
        }),
        (Shape::D2(_, l), Shape::D2(c2, l2)) => Some(LayerKind::Conv {
            filters: c2,
            win: win(1, 1, stride(l, l2)?),
            bias: false,
            init: InitKind::He,
        }),
        (Shape::D3(_, h, w), Shape::D3(c2, h2, w2)) => Some(LayerKind::Conv {
            filters: c2,
            win: win(2, stride(h, h2)?, stride(w, w2)?),
            bias: false,
            init: InitKind::He,
        }),
        _ => None,
    }
}

fn projection_text(from: Shape, to: Shape) -> String {
    match projection_kind(from, to) {
        Some(LayerKind::Conv { filters, win, .. }) if win.rank == 2 => {
            format!(
                "a 1x1 convolution to {filters} channels with stride ({}, {})",
                win.sh, win.sw
            )
        }
        Some(LayerKind::Conv { filters, win, .. }) => format!(
            "a 1x1 convolution to {filters} channels with stride {}",
            win.sw
        ),
        Some(LayerKind::Dense { units, .. }) => format!("a Dense layer to {units} values"),
        // No projection: say why, and what to change.
        _ => {
            let rank = |s: Shape| match s {
                Shape::D1(_) => "a vector",
                Shape::D2(..) => "a signal [channels, length]",
                Shape::D3(..) => "an image [channels, height, width]",
            };
            let sizes: Vec<(&str, u64, u64)> = match (from, to) {
                (Shape::D2(_, l), Shape::D2(_, l2)) => vec![("length", l, l2)],
                (Shape::D3(_, h, w), Shape::D3(_, h2, w2)) if h == w && h2 == w2 => {
                    vec![("height and width", h, h2)]
                }
                (Shape::D3(_, h, w), Shape::D3(_, h2, w2)) => {
                    vec![("height", h, h2), ("width", w, w2)]
                }
                _ => {
                    return format!(
                        "the block turns {} into {}, and a projection cannot change the number of dimensions; move `Flatten`, and the layers that follow it, to after the block",
                        rank(from),
                        rank(to)
                    )
                }
            };
            let mut why = Vec::new();
            let (mut grows, mut unreachable) = (false, false);
            for (what, n, m) in sizes {
                if m > n {
                    grows = true;
                    let it = if what.contains(" and ") { "them" } else { "it" };
                    why.push(format!("the block makes the {what} larger ({n} to {m}), and a projection (a 1x1 convolution with a stride) can only keep or shrink {it}"));
                } else if !(1..=n).any(|s| (n - 1) / s + 1 == m) {
                    unreachable = true;
                    let mut reachable: Vec<u64> = (1..=n).map(|s| (n - 1) / s + 1).collect();
                    reachable.dedup();
                    let list: Vec<String> = reachable.iter().map(|x| x.to_string()).collect();
                    why.push(format!("no stride turns a {what} of {n} into {m} (a 1x1 convolution with stride s gives ceil({n} / s): {})", list.join(", ")));
                }
            }
            if grows {
                why.push(
                    "change the block (e.g. less padding) so that it keeps or shrinks the size"
                        .to_string(),
                );
            } else if unreachable {
                why.push(
                    "change the block so that its output size is one a stride can reach"
                        .to_string(),
                );
            }
            why.join("; ")
        }
    }
}

/// Rule: a network declares its input shape, `input: [n]`, `[c, l]` or `[c, h, w]`, with
/// non-zero dimensions. Without it no shape can be inferred.
fn check_input(cx: &mut Ctxt, def: &NetworkDef) -> Option<Shape> {
    let Some(dims) = &def.input else {
        cx.error(
            def.name.span(),
            format!(
                "network `{}` has no input shape; add `input: [N],` as its first line, e.g. `input: [16],` for 16 features or `input: [1, 28, 28],` for an image",
                def.name
            ),
        );
        return None;
    };
    let values = dims_values(cx, dims, "the input")?;
    let shape = match values.as_slice() {
        [n] => Some(Shape::D1(*n)),
        [c, l] => Some(Shape::D2(*c, *l)),
        [c, h, w] => Some(Shape::D3(*c, *h, *w)),
        _ => {
            cx.error(dims.span, format!("the input has {} dimensions; use `[features]`, `[channels, length]` or `[channels, height, width]`", values.len()));
            None
        }
    };
    shape.filter(|&sh| check_size(cx, "the input", dims.span, sh, 0))
}

/// Rule: a network has at least one layer.
fn check_not_empty(cx: &mut Ctxt, def: &NetworkDef) {
    if def.entries.is_empty() {
        cx.error(
            def.name.span(),
            format!(
                "network `{}` has no layers; add at least one, e.g. `Dense(10)`",
                def.name
            ),
        );
    }
}

/// Reads a bracketed shape; every dimension must be at least 1 (rule: no zero-sized tensor).
fn dims_values(cx: &mut Ctxt, dims: &Dims, what: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    let mut ok = true;
    for d in &dims.dims {
        match d.base10_parse::<u64>() {
            Ok(0) => {
                cx.error(
                    d.span(),
                    format!("{what} has a dimension of 0; every dimension must be at least 1"),
                );
                ok = false;
            }
            Ok(v) => out.push(v),
            Err(_) => {
                cx.error(
                    d.span(),
                    format!("{what}: `{d}` is not a whole number that fits in 64 bits"),
                );
                ok = false;
            }
        }
    }
    if dims.dims.is_empty() {
        cx.error(
            dims.span,
            format!("{what} has no dimensions; write e.g. `[16]`"),
        );
        ok = false;
    }
    ok.then_some(out)
}

/// Rule: layer names are unique. Unnamed layers are named `<kind in lower case>_<position>`
/// (1-based, in declaration order), e.g. `relu_2`; a given name may not collide with one of those either,
/// since both become struct fields and state-dict keys.
///
/// Returns every layer's name and, per layer, the errors to report with it. A duplicate gets a
/// private unique name, so the fallback struct emitted after the errors has no duplicate field
/// (which would add compiler errors about our generated code).
#[allow(clippy::type_complexity)]
fn layer_names(entries: &[&Entry]) -> (Vec<Ident>, Vec<Vec<(Span, String)>>) {
    // For each name: the index of the layer that has it first.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut names = Vec::new();
    let mut errors: Vec<Vec<(Span, String)>> = entries.iter().map(|_| Vec::new()).collect();
    for (i, e) in entries.iter().enumerate() {
        let ident = match &e.name {
            Some(n) => n.clone(),
            None => Ident::new(
                &format!("{}_{}", snake(&e.kind.to_string()), i + 1),
                e.kind.span(),
            ),
        };
        let key = ident.to_string();
        let Some(&j) = seen.get(&key) else {
            seen.insert(key, i);
            names.push(ident);
            continue;
        };
        let first = &entries[j];
        let automatic =
            format!("automatically named `{key}` (an unnamed layer is named `<kind>_<position>`)");
        match (&e.name, &first.name) {
            (Some(n), Some(f)) => {
                errors[i].push((
                    n.span(),
                    format!("duplicate layer name `{key}`; each layer needs its own name (rename this one)"),
                ));
                errors[i].push((f.span(), format!("`{key}` is first used here")));
            }
            (Some(n), None) => {
                errors[i].push((
                    n.span(),
                    format!(
                        "duplicate layer name `{key}`: layer {} (`{}`) is already {automatic}; choose another name",
                        j + 1,
                        first.kind
                    ),
                ));
                errors[i].push((first.kind.span(), format!("this layer is {automatic}")));
            }
            (None, _) => {
                errors[i].push((
                    e.kind.span(),
                    format!(
                        "duplicate layer name `{key}`: this layer is {automatic}, but an earlier layer already has that name; rename one of them"
                    ),
                ));
                if let Some(f) = &first.name {
                    errors[i].push((f.span(), format!("`{key}` is first used here")));
                }
            }
        }
        names.push(Ident::new(
            &format!("__nn_duplicate_name_{}", i + 1),
            ident.span(),
        ));
    }
    (names, errors)
}

/// The automatic name's stem: the kind in lower case (`LeakyReLU` -> `leakyrelu`).
fn snake(s: &str) -> String {
    s.trim_start_matches("r#")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase()
}

fn describe(e: &Entry, i: usize) -> String {
    match &e.name {
        Some(n) => format!("layer `{n}`"),
        None => format!("layer {} (`{}`)", i + 1, e.kind),
    }
}

const UNITS: Param = Param {
    name: "units",
    positional: true,
    expects: "a whole number such as `64`",
};
const INIT: Param = Param {
    name: "init",
    positional: false,
    expects: "`he`, `xavier`, `lecun` or `zeros`",
};

/// Rule: the layer exists and its arguments are the ones it accepts, each once, of the right kind.
fn resolve_kind(cx: &mut Ctxt, who: &str, e: &Entry, next: Option<&str>) -> Option<LayerKind> {
    let kind = e.kind.to_string();
    let m =
        |cx: &mut Ctxt, params: &[Param]| match_args(cx, who, &kind, &e.args, params, e.args_span);
    let simple = |a: Act| Some(LayerKind::Act(a));
    match kind.as_str() {
        "Dense" => {
            let got = m(cx, &[UNITS, INIT]);
            let units = required_int(
                cx,
                who,
                &kind,
                &got,
                0,
                "the number of units, e.g. `Dense(64)`",
                e.args_span,
            )?;
            check_nonzero(cx, who, &kind, "units", units, &got, 0);
            let init = match got.get(1) {
                Some(v) => match args::choice(
                    cx,
                    who,
                    "init",
                    v,
                    &["he", "xavier", "glorot", "lecun", "zeros"],
                )?
                .as_str()
                {
                    "he" => InitKind::He,
                    "lecun" => InitKind::LeCun,
                    "zeros" => InitKind::Zeros,
                    _ => InitKind::Xavier,
                },
                None => default_init(next),
            };
            Some(LayerKind::Dense { units, init })
        }
        "ELU" => {
            let got = m(
                cx,
                &[Param {
                    name: "alpha",
                    positional: true,
                    expects: "a number, default 1.0",
                }],
            );
            let alpha = match got.get(0) {
                Some(v) => args::float(cx, who, "alpha", v)?,
                None => 1.0,
            };
            simple(Act::ELU { alpha })
        }
        "LeakyReLU" => {
            let got = m(
                cx,
                &[Param {
                    name: "slope",
                    positional: true,
                    expects: "a number, default 0.01",
                }],
            );
            let slope = match got.get(0) {
                Some(v) => args::float(cx, who, "slope", v)?,
                None => 0.01,
            };
            simple(Act::LeakyReLU { slope })
        }
        "GELU" => {
            let got = m(
                cx,
                &[Param {
                    name: "approximate",
                    positional: false,
                    expects: "`none` (default) or `tanh`",
                }],
            );
            let tanh = match got.get(0) {
                Some(v) => args::choice(cx, who, "approximate", v, &["none", "tanh"])? == "tanh",
                None => false,
            };
            simple(Act::GELU { tanh })
        }
        "PReLU" => {
            let got = m(
                cx,
                &[
                    Param { name: "init", positional: false, expects: "the initial slope, default 0.25" },
                    Param {
                        name: "per_channel",
                        positional: false,
                        expects: "`false` (default: one slope) or `true` (one slope per channel or feature)",
                    },
                ],
            );
            let init = match got.get(0) {
                Some(v) => args::float(cx, who, "init", v)?,
                None => 0.25,
            };
            let per_channel = match got.get(1) {
                Some(crate::ast::Value::Bool { value, .. }) => *value,
                Some(v) => {
                    cx.error(
                        v.span(),
                        format!("{who}: `per_channel` must be `true` or `false`"),
                    );
                    return None;
                }
                None => false,
            };
            Some(LayerKind::PReLU { init, per_channel })
        }
        "Dropout" => {
            let got = m(
                cx,
                &[Param {
                    name: "p",
                    positional: true,
                    expects: "the drop probability, in [0, 1)",
                }],
            );
            let Some(v) = got.get(0) else {
                cx.error(e.args_span, format!("{who}: `Dropout` needs the probability of dropping a value, e.g. `Dropout(0.2)`"));
                return None;
            };
            let p = args::float(cx, who, "p", v)?;
            // Rule: a drop probability is in [0, 1); p = 1 would drop everything (and divide by 0).
            if !(0.0..1.0).contains(&p) {
                cx.error(v.span(), format!("{who}: `Dropout({p:?})`: the drop probability must be at least 0 and less than 1; it is the chance of dropping each value during training (0.1 to 0.5 is usual; 1 would drop everything)"));
                return None;
            }
            Some(LayerKind::Dropout { p })
        }
        "BatchNorm1d" | "BatchNorm2d" => {
            m(cx, &[]);
            Some(LayerKind::BatchNorm)
        }
        "Identity" | "Step" | "Sigmoid" | "Tanh" | "ReLU" | "Softplus" | "SELU" | "SiLU"
        | "Gaussian" | "Softmax" | "Flatten" => {
            m(cx, &[]);
            Some(match kind.as_str() {
                "Identity" => LayerKind::Act(Act::Identity),
                "Step" => LayerKind::Act(Act::Step),
                "Sigmoid" => LayerKind::Act(Act::Sigmoid),
                "Tanh" => LayerKind::Act(Act::Tanh),
                "ReLU" => LayerKind::Act(Act::ReLU),
                "Softplus" => LayerKind::Act(Act::Softplus),
                "SELU" => LayerKind::Act(Act::SELU),
                "SiLU" => LayerKind::Act(Act::SiLU),
                "Gaussian" => LayerKind::Act(Act::Gaussian),
                "Softmax" => LayerKind::Softmax,
                _ => LayerKind::Flatten,
            })
        }
        _ => {
            unknown_layer(cx, e);
            None
        }
    }
}

/// Rule: an unknown layer name is an error that suggests the closest known one.
fn unknown_layer(cx: &mut Ctxt, e: &Entry) {
    let kind = e.kind.to_string();
    let hint = crate::suggest::closest(&kind, LAYERS.iter().copied())
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    cx.error(
        e.kind.span(),
        format!(
            "unknown layer `{kind}`; {hint}the layers are {}",
            LAYERS.join(", ")
        ),
    );
}

/// He before ReLU-like activations, LeCun before SELU, Xavier otherwise.
fn default_init(next: Option<&str>) -> InitKind {
    match next {
        Some("ReLU" | "LeakyReLU" | "PReLU" | "ELU" | "GELU" | "SiLU") => InitKind::He,
        Some("SELU") => InitKind::LeCun,
        _ => InitKind::Xavier,
    }
}

fn required_int(
    cx: &mut Ctxt,
    who: &str,
    kind: &str,
    got: &Matched,
    i: usize,
    what: &str,
    span: Span,
) -> Option<u64> {
    match got.get(i) {
        Some(v) => args::int(cx, who, UNITS.name, v),
        None => {
            cx.error(span, format!("{who}: `{kind}` needs {what}"));
            None
        }
    }
}

/// Rule: no layer produces a zero-sized tensor.
fn check_nonzero(
    cx: &mut Ctxt,
    who: &str,
    kind: &str,
    name: &str,
    v: u64,
    got: &Matched,
    i: usize,
) {
    if v == 0 {
        let span = got.get(i).map_or_else(Span::call_site, |v| v.span());
        cx.error(
            span,
            format!(
                "{who}: `{kind}` with {name} = 0 has no outputs; a layer needs at least 1 {}",
                name.trim_end_matches('s')
            ),
        );
    }
}

/// Shape rules, one per layer kind. Returns `None` after recording an error.
fn infer_shape(
    cx: &mut Ctxt,
    who: &str,
    e: &Entry,
    kind: &LayerKind,
    input: Shape,
) -> Option<Shape> {
    match *kind {
        LayerKind::Dense { units, .. } => {
            if units == 0 {
                return None;
            }
            rule_needs_vector(cx, who, e, "Dense", input)?;
            Some(Shape::D1(units))
        }
        LayerKind::Softmax => {
            rule_needs_vector(cx, who, e, "Softmax", input)?;
            Some(input)
        }
        LayerKind::Flatten => Some(Shape::D1(input.len())),
        LayerKind::Dropout { .. } => Some(input),
        LayerKind::BatchNorm => rule_batchnorm_rank(cx, who, e, input),
        LayerKind::Act(_) | LayerKind::PReLU { .. } => Some(input),
        // Resolved by `spatial::infer`, never here.
        LayerKind::Conv { .. } | LayerKind::MaxPool { .. } | LayerKind::AvgPool { .. } => None,
    }
}

/// Rule: `BatchNorm1d` normalizes features `[n]` or signal channels `[c, l]`; `BatchNorm2d`
/// normalizes image channels `[c, h, w]` (as in PyTorch).
fn rule_batchnorm_rank(cx: &mut Ctxt, who: &str, e: &Entry, input: Shape) -> Option<Shape> {
    let kind = e.kind.to_string();
    let ok = match input {
        Shape::D1(_) | Shape::D2(..) => kind == "BatchNorm1d",
        Shape::D3(..) => kind == "BatchNorm2d",
    };
    if ok {
        return Some(input);
    }
    let (right, what, how) = match input {
        Shape::D3(..) => (
            "BatchNorm2d",
            "an image [channels, height, width]",
            "each channel over the batch and all positions",
        ),
        Shape::D2(..) => (
            "BatchNorm1d",
            "a signal [channels, length]",
            "each channel over the batch and the length",
        ),
        Shape::D1(_) => (
            "BatchNorm1d",
            "a vector of features",
            "each feature over the batch",
        ),
    };
    cx.error(
        e.kind.span(),
        format!("{who}: `{kind}` does not fit its input {input}, which is {what}; use `{right}` (it normalizes {how})"),
    );
    None
}

/// Rule: Dense and Softmax work on vectors; a `[c, l]` or `[c, h, w]` tensor must be flattened
/// first (the flatten order, C then H then W, is then explicit).
fn rule_needs_vector(cx: &mut Ctxt, who: &str, e: &Entry, kind: &str, input: Shape) -> Option<()> {
    if let Shape::D1(_) = input {
        return Some(());
    }
    cx.error(
        e.kind.span(),
        format!("{who}: `{kind}` needs a vector, but its input has shape {input}; add `Flatten,` before it (giving [{}])", input.len()),
    );
    None
}

/// Rule: a shape annotation `-> [..]` must equal the computed output shape.
fn check_annotation(cx: &mut Ctxt, who: &str, e: &Entry, ann: &Dims, out: Shape, input: Shape) {
    let Some(values) = dims_values(cx, ann, &format!("{who}: the annotation")) else {
        return;
    };
    if values != out.dims() {
        let written: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        cx.error(
            ann.span,
            format!(
                "{who}: the annotation says the output is [{}], but `{}` on input {input} gives {out}; write `-> {out}` or change the layer",
                written.join(", "),
                e.kind
            ),
        );
    }
}

/// Input channels: the first dimension of a `[c, l]` or `[c, h, w]` tensor (features for vectors).
pub fn channels(s: Shape) -> u64 {
    match s {
        Shape::D1(n) | Shape::D2(n, _) | Shape::D3(n, _, _) => n,
    }
}

/// Product that saturates instead of overflowing (absurd sizes are reported by
/// `check_size`, never a panic).
fn prod(values: &[u64]) -> u64 {
    values.iter().fold(1u64, |a, &v| a.saturating_mul(v))
}

fn params_of(kind: &LayerKind, input: Shape, out: Shape) -> u64 {
    match *kind {
        LayerKind::Dense { .. } => prod(&[input.len(), out.len()]).saturating_add(out.len()),
        LayerKind::PReLU {
            per_channel: false, ..
        } => 1,
        LayerKind::PReLU {
            per_channel: true, ..
        } => channels(input),
        LayerKind::BatchNorm => 2 * channels(input),
        LayerKind::Conv {
            filters, win, bias, ..
        } => prod(&[filters, channels(input), win.kh, win.kw]).saturating_add(if bias {
            filters
        } else {
            0
        }),
        _ => 0,
    }
}

/// Multiply-accumulates of one forward pass (convolutions count padded taps too).
fn macs_of(kind: &LayerKind, input: Shape, out: Shape) -> u64 {
    match *kind {
        LayerKind::Dense { .. } => prod(&[input.len(), out.len()]),
        LayerKind::Conv { win, .. } => prod(&[out.len(), channels(input), win.kh, win.kw]),
        _ => 0,
    }
}

/// The largest tensor (values) a layer may produce or hold: 2^26 `f32`s, 256 MiB.
const MAX_VALUES: u64 = 1 << 26;

/// Rule: tensors and parameter sets stay within what a fixed-size, stack-or-static network can
/// hold (and what typenum can name without exhausting the compiler).
fn check_size(cx: &mut Ctxt, who: &str, span: Span, out: Shape, params: u64) -> bool {
    if out.len() > MAX_VALUES || params > MAX_VALUES {
        let (what, n) = if out.len() > MAX_VALUES {
            ("output", out.len())
        } else {
            ("parameter set", params)
        };
        cx.error(
            span,
            format!("{who}: its {what} has {n} values, more than the {MAX_VALUES} (256 MiB of f32) a fixed-size network supports; use smaller layers"),
        );
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::snake;
    #[test]
    fn automatic_names_are_lower_case_kinds() {
        assert_eq!(snake("Dense"), "dense");
        assert_eq!(snake("LeakyReLU"), "leakyrelu");
        assert_eq!(snake("MaxPool2d"), "maxpool2d");
    }
}
