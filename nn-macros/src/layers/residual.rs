//! `Residual { .. }` and `Residual(projection) { .. }`: a block of layers whose output is added
//! to its input (ResNet's basic block). Not a layer kind but a block: the walk in `check`
//! checks its layers and builds the join; this module holds its name, its argument and its
//! rules, and the projection that may carry the skip path.

use proc_macro2::Span;

use super::conv::Conv;
use super::dense::Dense;
use super::init::InitKind;
use super::window::Window;
use super::LayerKind;
use crate::ast::{Entry, Value};
use crate::ctxt::Ctxt;
use crate::shape::Shape;

/// The DSL name.
pub const NAME: &str = "Residual";

/// The skip path of a block.
pub enum Skip {
    /// The input, unchanged.
    Identity,
    /// A learned projection of the input to the branch's shape.
    Projection(LayerKind),
}

/// Rule: `Residual` needs a block of layers. Returns the block.
pub fn check_has_block<'a>(cx: &mut Ctxt, who: &str, e: &'a Entry) -> Option<&'a [Entry]> {
    if e.block.is_none() {
        cx.error(e.kind.span(), format!("{who}: `Residual` needs a block of layers, e.g. `Residual {{ Dense(32), ReLU, Dense(32) }}`"));
    }
    e.block.as_deref()
}

/// Rule: only `Residual` takes a block in braces (braces after another layer are most likely a
/// misplaced block, or a layer applied to a block).
pub fn check_braces(cx: &mut Ctxt, who: &str, e: &Entry) -> bool {
    if e.kind != NAME {
        cx.error(e.kind.span(), format!("{who}: only `Residual` takes a block of layers in braces, not `{kind}`; to apply the layers after `{kind}`, remove the braces; for a block with a skip connection, write `Residual {{ ... }}`", kind = e.kind));
        return false;
    }
    true
}

/// Reads the arguments: `projection` alone, or none. Returns whether the block asks for a
/// projection.
pub fn resolve(cx: &mut Ctxt, who: &str, e: &Entry) -> bool {
    let mut projection = false;
    for arg in &e.args {
        match (&arg.key, &arg.value) {
            (None, Value::Ident(i)) if i == "projection" => projection = true,
            _ => cx.error(arg.span(), format!("{who}: `Residual` takes no arguments other than `projection` (a learned skip path that can change the shape): `Residual(projection) {{ ... }}`")),
        }
    }
    projection
}

/// Rule: a block has at least one layer.
pub fn check_not_empty(cx: &mut Ctxt, who: &str, block: &[Entry], span: Span) -> bool {
    if block.is_empty() {
        cx.error(
            span,
            format!("{who}: the residual block is empty; put at least one layer in it"),
        );
        return false;
    }
    true
}

/// Rule: a residual branch keeps the shape of its input, or the block asks for a projection,
/// which must be able to produce the branch's shape (a 1x1 convolution with a stride for
/// `[c, h, w]` and `[c, l]`, a Dense layer for vectors). Otherwise the two cannot be added.
pub fn skip(
    cx: &mut Ctxt,
    who: &str,
    span: Span,
    (s_in, s_out): (Shape, Shape),
    projection: bool,
) -> Option<Skip> {
    if s_in == s_out && !projection {
        return Some(Skip::Identity);
    }
    if !projection {
        if projection_kind(s_in, s_out).is_some() {
            cx.error(span, format!(
                "{who}: the block turns {s_in} into {s_out}, which cannot be added to its input {s_in}; make the block keep the shape, or write `Residual(projection) {{ ... }}` to add a learned projection of the input instead ({})",
                projection_text(s_in, s_out)
            ));
        } else {
            cx.error(span, format!(
                "{who}: the block turns {s_in} into {s_out}, and no projection of the input can match it: {}",
                projection_text(s_in, s_out)
            ));
        }
        return None;
    }
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
    Some(Skip::Projection(kind))
}

/// The learned skip path from `from` to `to`: a 1x1 convolution with the stride that gives the
/// branch's spatial size, or a Dense layer for vectors.
fn projection_kind(from: Shape, to: Shape) -> Option<LayerKind> {
    let stride = stride_for;
    let win = |rank, sh, sw| Window {
        rank,
        kh: 1,
        kw: 1,
        sh,
        sw,
        pad: [0; 4],
    };
    let conv = |filters, win| {
        LayerKind::Conv(Conv {
            filters,
            win,
            bias: false,
            init: InitKind::He,
        })
    };
    match (from, to) {
        (Shape::D1(_), Shape::D1(_)) => Some(LayerKind::Dense(Dense {
            units: to.len(),
            init: InitKind::Xavier,
        })),
        (Shape::D2(_, l), Shape::D2(c2, l2)) => Some(conv(c2, win(1, 1, stride(l, l2)?))),
        (Shape::D3(_, h, w), Shape::D3(c2, h2, w2)) => {
            Some(conv(c2, win(2, stride(h, h2)?, stride(w, w2)?)))
        }
        _ => None,
    }
}

/// The projection in words, or why there is none and what to change.
fn projection_text(from: Shape, to: Shape) -> String {
    match projection_kind(from, to) {
        Some(LayerKind::Conv(Conv { filters, win, .. })) if win.rank == 2 => {
            format!(
                "a 1x1 convolution to {filters} channels with stride ({}, {})",
                win.sh, win.sw
            )
        }
        Some(LayerKind::Conv(Conv { filters, win, .. })) => format!(
            "a 1x1 convolution to {filters} channels with stride {}",
            win.sw
        ),
        Some(LayerKind::Dense(Dense { units, .. })) => format!("a Dense layer to {units} values"),
        _ => no_projection_text(from, to),
    }
}

/// The stride `s` that turns `n` cells into `m = ceil(n / s)`, the smallest if several do.
fn stride_for(n: u64, m: u64) -> Option<u64> {
    if m == 0 || m > n {
        return None;
    }
    let s = n.div_ceil(m);
    (n.div_ceil(s) == m).then_some(s)
}

/// Why no projection maps `from` to `to`, and what to change.
fn no_projection_text(from: Shape, to: Shape) -> String {
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
            why.push(format!("a 1x1 convolution with a stride can only keep or shrink the {what}, not grow {it} from {n} to {m}"));
        } else if stride_for(n, m).is_none() {
            unreachable = true;
            // The sizes strides reach on either side of `m` (`m` itself is skipped).
            let s = n.div_ceil(m);
            let near = if s > 1 {
                format!(
                    "{} at stride {}, {} at stride {s}",
                    n.div_ceil(s - 1),
                    s - 1,
                    n.div_ceil(s)
                )
            } else {
                format!("{} at stride {s}", n.div_ceil(s))
            };
            why.push(format!(
                "no stride s makes the {what} ceil({n} / s) = {m} (the nearest: {near})"
            ));
        }
    }
    if grows {
        why.push("change the block (e.g. less padding)".to_string());
    } else if unreachable {
        why.push("change the block so that a stride can reach its size".to_string());
    }
    why.join("; ")
}
