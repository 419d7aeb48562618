//! Convolution and pooling: their arguments and shape rules, one function per rule.

use crate::args::{self, match_args, Param};
use crate::ast::{Entry, Value};
use crate::ctxt::Ctxt;
use crate::model::{InitKind, LayerKind, Shape, Window};

const FILTERS: Param = Param {
    name: "filters",
    positional: true,
    expects: "a whole number such as `16`",
};
const KERNEL2: Param = Param {
    name: "kernel",
    positional: true,
    expects: "`k` or `(kh, kw)`",
};
const KERNEL1: Param = Param {
    name: "kernel",
    positional: true,
    expects: "a whole number such as `3`",
};
const STRIDE2: Param = Param {
    name: "stride",
    positional: false,
    expects: "`s` or `(sh, sw)`, default 1",
};
const STRIDE1: Param = Param {
    name: "stride",
    positional: false,
    expects: "a whole number, default 1",
};
const PADDING2: Param = Param {
    name: "padding",
    positional: false,
    expects: "`p`, `(ph, pw)`, `(top, bottom, left, right)`, `same`, `valid` or `full`; default 0",
};
const PADDING1: Param = Param {
    name: "padding",
    positional: false,
    expects: "`p`, `(left, right)`, `same`, `valid` or `full`; default 0",
};
const BIAS: Param = Param {
    name: "bias",
    positional: false,
    expects: "`true` (default) or `false`",
};
const INIT: Param = Param {
    name: "init",
    positional: false,
    expects: "`he`, `xavier`, `lecun` or `zeros`",
};
const WINDOW2: Param = Param {
    name: "window",
    positional: true,
    expects: "`k` or `(kh, kw)`",
};
const WINDOW1: Param = Param {
    name: "window",
    positional: true,
    expects: "a whole number such as `2`",
};
const POOL_STRIDE2: Param = Param {
    name: "stride",
    positional: false,
    expects: "`s` or `(sh, sw)`, default: the window",
};
const POOL_STRIDE1: Param = Param {
    name: "stride",
    positional: false,
    expects: "a whole number, default: the window",
};
const POOL_PADDING2: Param = Param {
    name: "padding",
    positional: false,
    expects: "`p`, `(ph, pw)`, `(top, bottom, left, right)` or `valid`, at most half the window; default 0",
};
const POOL_PADDING1: Param = Param {
    name: "padding",
    positional: false,
    expects: "`p`, `(left, right)` or `valid`, at most half the window; default 0",
};
const COUNT_PAD: Param = Param {
    name: "count_include_pad",
    positional: false,
    expects: "`true` (default, as PyTorch: padded zeros count in the mean) or `false`",
};

/// Padding as written, resolved against the input later (`same` depends on the input size).
#[derive(Clone, Copy)]
enum Pad {
    Explicit([u64; 4]),
    Same,
    Full,
}

/// A conv or pool layer before its input shape is known.
pub struct Spatial {
    pub rank: u8,
    pub kh: u64,
    pub kw: u64,
    pub sh: u64,
    pub sw: u64,
    pad: Pad,
    pub kind: SpatialKind,
    /// Spans for messages: kernel, stride, padding arguments (or the argument list).
    kernel_span: proc_macro2::Span,
    stride_span: proc_macro2::Span,
    padding_span: proc_macro2::Span,
}

#[derive(Clone, Copy)]
pub enum SpatialKind {
    Conv {
        filters: u64,
        bias: bool,
        init: InitKind,
    },
    MaxPool,
    AvgPool {
        count_pad: bool,
    },
}

/// Whether a layer kind is a convolution or pooling layer.
pub fn is_spatial(kind: &str) -> bool {
    matches!(
        kind,
        "Conv1d" | "Conv2d" | "MaxPool1d" | "MaxPool2d" | "AvgPool1d" | "AvgPool2d"
    )
}

/// Resolves `Conv1d`, `Conv2d`, `MaxPool1d/2d`, `AvgPool1d/2d` arguments.
pub fn resolve(cx: &mut Ctxt, who: &str, e: &Entry, default_init: InitKind) -> Option<Spatial> {
    let kind = e.kind.to_string();
    let rank: u8 = if kind.ends_with("1d") { 1 } else { 2 };
    let conv = kind.starts_with("Conv");
    let params: Vec<Param> = match (conv, rank, kind.starts_with("Avg")) {
        (true, 2, _) => vec![FILTERS, KERNEL2, STRIDE2, PADDING2, BIAS, INIT],
        (true, _, _) => vec![FILTERS, KERNEL1, STRIDE1, PADDING1, BIAS, INIT],
        (false, 2, false) => vec![WINDOW2, POOL_STRIDE2, POOL_PADDING2],
        (false, _, false) => vec![WINDOW1, POOL_STRIDE1, POOL_PADDING1],
        (false, 2, true) => vec![WINDOW2, POOL_STRIDE2, POOL_PADDING2, COUNT_PAD],
        (false, _, true) => vec![WINDOW1, POOL_STRIDE1, POOL_PADDING1, COUNT_PAD],
    };
    let got = match_args(cx, who, &kind, &e.args, &params, e.args_span);
    let idx = |name: &str| params.iter().position(|p| p.name == name);
    let get = |name: &str| idx(name).and_then(|i| got.get(i));

    let filters = if conv {
        let Some(v) = get("filters") else {
            cx.error(
                e.args_span,
                format!(
                    "{who}: `{kind}` needs the number of filters, e.g. `{kind}(16, kernel = 3)`"
                ),
            );
            return None;
        };
        let f = args::int(cx, who, "filters", v)?;
        // Rule: output size zero. A layer with no filters has no output channels.
        if f == 0 {
            cx.error(v.span(), format!("{who}: `{kind}` with 0 filters has an output of size zero; use at least 1 filter"));
            return None;
        }
        f
    } else {
        0
    };
    let kname = if conv { "kernel" } else { "window" };
    let Some(kv) = get(kname) else {
        let example = if conv {
            format!("`{kind}(16, kernel = 3)`")
        } else {
            format!("`{kind}(2)`")
        };
        cx.error(
            e.args_span,
            format!("{who}: `{kind}` needs its {kname} size, e.g. {example}"),
        );
        return None;
    };
    let (kh, kw) = pair(cx, who, kname, kv, rank)?;
    // Rule: a kernel or window covers at least one cell.
    if kh == 0 || kw == 0 {
        let example = if conv {
            "`kernel = 3`".to_string()
        } else {
            format!("`{kind}(2)`")
        };
        cx.error(kv.span(), format!("{who}: a {kname} of size 0 covers no input; use a {kname} of at least 1, e.g. {example}"));
        return None;
    }
    let (sh, sw, stride_span) = match get("stride") {
        Some(v) => {
            let (a, b) = pair(cx, who, "stride", v, rank)?;
            (a, b, v.span())
        }
        None if conv => (1, 1, e.args_span),
        None => (kh, kw, e.args_span),
    };
    // Rule: stride 0 would never move the window.
    if sh == 0 || sw == 0 {
        let fix = if conv {
            "`stride = 1`, the default, visits every position".to_string()
        } else {
            format!(
                "without `stride`, the window moves by its own size, {}",
                dims_text(rank, kh, kw)
            )
        };
        cx.error(
            stride_span,
            format!("{who}: stride 0 never moves the {kname}; use a stride of at least 1 ({fix})"),
        );
        return None;
    }
    let (pad, padding_span) = match get("padding") {
        Some(v) => (padding(cx, who, v, rank, conv)?, v.span()),
        None => (Pad::Explicit([0; 4]), e.args_span),
    };
    let kind = if conv {
        let bias = match get("bias") {
            Some(v) => boolean(cx, who, "bias", v)?,
            None => true,
        };
        let init = match get("init") {
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
            None => default_init,
        };
        SpatialKind::Conv {
            filters,
            bias,
            init,
        }
    } else if kind.starts_with("Avg") {
        let count_pad = match get("count_include_pad") {
            Some(v) => boolean(cx, who, "count_include_pad", v)?,
            None => true,
        };
        SpatialKind::AvgPool { count_pad }
    } else {
        SpatialKind::MaxPool
    };
    let (kh, sh) = if rank == 1 { (1, 1) } else { (kh, sh) };
    Some(Spatial {
        rank,
        kh,
        kw,
        sh,
        sw,
        pad,
        kind,
        kernel_span: kv.span(),
        stride_span,
        padding_span,
    })
}

/// `k` or `(kh, kw)` (2-D); `k` (1-D).
fn pair(cx: &mut Ctxt, who: &str, name: &str, v: &Value, rank: u8) -> Option<(u64, u64)> {
    match v {
        Value::Int { value, .. } => Some((*value, *value)),
        Value::Tuple { items, .. } if rank == 2 && items.len() == 2 => {
            let a = args::int(cx, who, name, &items[0])?;
            let b = args::int(cx, who, name, &items[1])?;
            Some((a, b))
        }
        other => {
            let want = if rank == 2 {
                "a whole number `k` or a pair `(height, width)`"
            } else {
                "a whole number"
            };
            cx.error(other.span(), format!("{who}: `{name}` must be {want}"));
            None
        }
    }
}

fn boolean(cx: &mut Ctxt, who: &str, name: &str, v: &Value) -> Option<bool> {
    match v {
        Value::Bool { value, .. } => Some(*value),
        other => {
            cx.error(
                other.span(),
                format!("{who}: `{name}` must be `true` or `false`"),
            );
            None
        }
    }
}

/// The padding argument: numbers, tuples of 2 or 4 (2-D) or 2 (1-D) numbers, or a name.
fn padding(cx: &mut Ctxt, who: &str, v: &Value, rank: u8, conv: bool) -> Option<Pad> {
    let ints = |cx: &mut Ctxt, items: &[Value]| -> Option<Vec<u64>> {
        items
            .iter()
            .map(|i| args::int(cx, who, "padding", i))
            .collect::<Option<Vec<_>>>()
    };
    // What may be written, for messages.
    let want = match (rank, conv) {
        (2, true) => "`p`, `(ph, pw)`, `(top, bottom, left, right)`, `same` (keeps the size at stride 1), `valid` (no padding) or `full` (kernel - 1 on each side)",
        (_, true) => "`p`, `(left, right)`, `same` (keeps the size at stride 1), `valid` (no padding) or `full` (kernel - 1 on each side)",
        (2, false) => "`p`, `(ph, pw)`, `(top, bottom, left, right)` or `valid` (no padding), at most half the window on each side",
        _ => "`p`, `(left, right)` or `valid` (no padding), at most half the window on each side",
    };
    match v {
        Value::Int { value: p, .. } if rank == 2 => Some(Pad::Explicit([*p; 4])),
        Value::Int { value: p, .. } => Some(Pad::Explicit([0, 0, *p, *p])),
        Value::Tuple { items, .. } if rank == 2 && items.len() == 2 => {
            let p = ints(cx, items)?;
            Some(Pad::Explicit([p[0], p[0], p[1], p[1]]))
        }
        Value::Tuple { items, .. } if rank == 2 && items.len() == 4 => {
            let p = ints(cx, items)?;
            Some(Pad::Explicit([p[0], p[1], p[2], p[3]]))
        }
        Value::Tuple { items, .. } if rank == 1 && items.len() == 2 => {
            let p = ints(cx, items)?;
            Some(Pad::Explicit([0, 0, p[0], p[1]]))
        }
        Value::Ident(i) if conv && i == "same" => Some(Pad::Same),
        Value::Ident(i) if conv && i == "full" => Some(Pad::Full),
        Value::Ident(i) if i == "valid" => Some(Pad::Explicit([0; 4])),
        // Rule: `same` and `full` depend on the kernel of a convolution; pooling takes explicit
        // padding only.
        Value::Ident(i) if i == "same" || i == "full" => {
            cx.error(
                i.span(),
                format!("{who}: pooling layers do not support `padding = {i}` (only convolutions do); write {want}"),
            );
            None
        }
        Value::Ident(i) => {
            let names: &[&str] = if conv {
                &["same", "valid", "full"]
            } else {
                &["valid"]
            };
            let hint = crate::suggest::closest(&i.to_string(), names.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            cx.error(
                i.span(),
                format!("{who}: `padding = {i}` is not a padding; {hint}write {want}"),
            );
            None
        }
        Value::Tuple { items, span } => {
            let counts = if rank == 2 {
                "a pair `(ph, pw)` has 2 and `(top, bottom, left, right)` has 4"
            } else {
                "`(left, right)` has 2"
            };
            cx.error(
                *span,
                format!(
                    "{who}: this `padding` has {} value{}, but {counts}; write {want}",
                    items.len(),
                    if items.len() == 1 { "" } else { "s" }
                ),
            );
            None
        }
        other => {
            cx.error(other.span(), format!("{who}: `padding` must be {want}"));
            None
        }
    }
}

/// Padding (before, after) of `same`: output ceil(n / s), as TensorFlow and ONNX SAME_UPPER.
fn same_padding(n: u64, k: u64, st: u64) -> (u64, u64) {
    let out = n.div_ceil(st);
    let total = ((out - 1).saturating_mul(st))
        .saturating_add(k)
        .saturating_sub(n);
    (total / 2, total - total / 2)
}

/// The message of a kernel or window larger than its padded input: the arithmetic of each
/// dimension that does not fit, then a fix.
fn too_large(
    who: &str,
    kind: &str,
    s: &Spatial,
    (h, w): (u64, u64),
    pad: [u64; 4],
    (ph, pw): (u64, u64),
) -> String {
    let conv = matches!(s.kind, SpatialKind::Conv { .. });
    let what = if conv { "kernel" } else { "window" };
    let size = if s.rank == 2 {
        format!("the {}x{} {what}", s.kh, s.kw)
    } else {
        format!("the {what} of {}", s.kw)
    };
    let mut sums = Vec::new();
    if s.rank == 2 && s.kh > ph {
        sums.push(format!(
            "height {h} + {} + {} (padding) = {ph} is less than {}",
            pad[0], pad[1], s.kh
        ));
    }
    if s.kw > pw {
        let dim = if s.rank == 2 { "width" } else { "length" };
        sums.push(format!(
            "{dim} {w} + {} + {} (padding) = {pw} is less than {}",
            pad[2], pad[3], s.kw
        ));
    }
    let fix = if conv {
        // The least symmetric padding that fits, and the output it gives.
        let need = |n: u64, k: u64| k.saturating_sub(n).div_ceil(2);
        let (nh, nw) = (if s.rank == 2 { need(h, s.kh) } else { 0 }, need(w, s.kw));
        let out =
            |n: u64, p: u64, k: u64, st: u64| n.saturating_add(2 * p).saturating_sub(k) / st + 1;
        let (oh, ow) = (
            if s.rank == 2 {
                out(h, nh, s.kh, s.sh)
            } else {
                1
            },
            out(w, nw, s.kw, s.sw),
        );
        let pad_arg = if s.rank == 1 || nh == nw {
            format!("`padding = {nw}`")
        } else {
            format!("`padding = ({nh}, {nw})`")
        };
        format!(
            "use {pad_arg} (the padded input is {}, the output {}), `padding = same` (output {}) or a kernel of at most {}",
            dims_text(s.rank, h.saturating_add(2 * nh), w.saturating_add(2 * nw)),
            dims_text(s.rank, oh, ow),
            dims_text(s.rank, h.div_ceil(s.sh), w.div_ceil(s.sw)),
            dims_text(s.rank, ph, pw),
        )
    } else {
        let example = if s.rank == 2 && ph != pw {
            format!("`{kind}(({ph}, {pw}))`")
        } else {
            format!("`{kind}({pw})`")
        };
        format!(
            "use a window of at most {} ({example}) or remove this pooling layer",
            dims_text(s.rank, ph, pw)
        )
    };
    format!(
        "{who}: {size} does not fit in its padded input: {}; {fix}",
        sums.join(", ")
    )
}

fn dims_text(rank: u8, h: u64, w: u64) -> String {
    if rank == 2 {
        format!("{h}x{w}")
    } else {
        format!("{w}")
    }
}

/// Shape rules for a conv or pool layer on `input`; records an error and returns `None` when it
/// does not fit.
pub fn infer(
    cx: &mut Ctxt,
    who: &str,
    e: &Entry,
    s: &Spatial,
    input: Shape,
) -> Option<(LayerKind, Shape)> {
    let kind = e.kind.to_string();
    // Rule: 2-D layers take [c, h, w] images, 1-D layers take [c, l] signals, neither takes a
    // vector (a convolution after Flatten).
    let (c, h, w) = match (s.rank, input) {
        (2, Shape::D3(c, h, w)) => (c, h, w),
        (1, Shape::D2(c, l)) => (c, 1, l),
        (2, Shape::D2(c, l)) => {
            let one = kind.replace("2d", "1d");
            cx.error(e.kind.span(), format!("{who}: `{kind}` works on images [channels, height, width], but its input [{c}, {l}] is a signal [channels, length]; use `{one}`, the same layer for signals"));
            return None;
        }
        (1, Shape::D3(c, h, w)) => {
            let two = kind.replace("1d", "2d");
            cx.error(e.kind.span(), format!("{who}: `{kind}` works on signals [channels, length], but its input [{c}, {h}, {w}] is an image [channels, height, width]; use `{two}`, the same layer for images"));
            return None;
        }
        (_, Shape::D1(n)) => {
            let want = if s.rank == 2 {
                "images [channels, height, width]"
            } else {
                "signals [channels, length]"
            };
            cx.error(e.kind.span(), format!("{who}: `{kind}` works on {want}, but its input is the vector [{n}] (after `Flatten` or `Dense`, the spatial layout is gone); move this layer before `Flatten`"));
            return None;
        }
        _ => return None,
    };
    let pad = match s.pad {
        Pad::Explicit(p) => p,
        // TensorFlow/ONNX SAME_UPPER: output ceil(n / s), total padding split with the odd cell after.
        Pad::Same => {
            let (t, b) = if s.rank == 2 {
                same_padding(h, s.kh, s.sh)
            } else {
                (0, 0)
            };
            let (l, r) = same_padding(w, s.kw, s.sw);
            [t, b, l, r]
        }
        Pad::Full => {
            let v = if s.rank == 2 { s.kh - 1 } else { 0 };
            [v, v, s.kw - 1, s.kw - 1]
        }
    };
    // Rule: pooling padding is at most half the window (PyTorch's rule), so no window holds only padding.
    if !matches!(s.kind, SpatialKind::Conv { .. }) {
        let (mh, mw) = (s.kh / 2, s.kw / 2);
        let bad = (s.rank == 2 && (pad[0] > mh || pad[1] > mh)) || pad[2] > mw || pad[3] > mw;
        if bad {
            let msg = if s.rank == 2 {
                let fix = if mh == mw {
                    format!("`padding = {mh}`")
                } else {
                    format!("`padding = ({mh}, {mw})`")
                };
                format!(
                    "{who}: padding ({}, {}, {}, {}) (top, bottom, left, right) is more than half the {}x{} window, so a window could hold only padding; a side may be padded by at most half the window, rounded down: {} / 2 = {mh} in height, {} / 2 = {mw} in width; use {fix} or less",
                    pad[0], pad[1], pad[2], pad[3], s.kh, s.kw, s.kh, s.kw
                )
            } else {
                format!(
                    "{who}: padding ({}, {}) (left, right) is more than half the window of {}, so a window could hold only padding; a side may be padded by at most half the window, rounded down: {} / 2 = {mw}; use `padding = {mw}` or less",
                    pad[2], pad[3], s.kw, s.kw
                )
            };
            cx.error(s.padding_span, msg);
            return None;
        }
    }
    // Rule: every size fits in 64 bits (only absurd paddings, kernels or inputs break it), so
    // no later arithmetic overflows.
    let padded = |n: u64, a: u64, b: u64| n.checked_add(a)?.checked_add(b);
    let (Some(ph), Some(pw)) = (padded(h, pad[0], pad[1]), padded(w, pad[2], pad[3])) else {
        cx.error(
            s.padding_span,
            format!(
                "{who}: the padded input is too large to count in 64 bits; use a smaller padding"
            ),
        );
        return None;
    };
    // Rule: the kernel (or window) fits inside the padded input.
    if s.kh > ph || s.kw > pw {
        cx.error(
            s.kernel_span,
            too_large(who, &kind, s, (h, w), pad, (ph, pw)),
        );
        return None;
    }
    let oh = (ph - s.kh) / s.sh + 1;
    let ow = (pw - s.kw) / s.sw + 1;
    let _ = s.stride_span;
    let win = Window {
        rank: s.rank,
        kh: s.kh,
        kw: s.kw,
        sh: s.sh,
        sw: s.sw,
        pad,
    };
    let (lk, oc) = match s.kind {
        SpatialKind::Conv {
            filters,
            bias,
            init,
        } => (
            LayerKind::Conv {
                filters,
                win,
                bias,
                init,
            },
            filters,
        ),
        SpatialKind::MaxPool => (LayerKind::MaxPool { win }, c),
        SpatialKind::AvgPool { count_pad } => (LayerKind::AvgPool { win, count_pad }, c),
    };
    let out = if s.rank == 2 {
        Shape::D3(oc, oh, ow)
    } else {
        Shape::D2(oc, ow)
    };
    let counts = || {
        let per_output = c.checked_mul(s.kh)?.checked_mul(s.kw)?;
        let macs = oc
            .checked_mul(oh)?
            .checked_mul(ow)?
            .checked_mul(per_output)?;
        let params = oc.checked_mul(per_output)?.checked_add(oc)?;
        Some((macs, params))
    };
    if counts().is_none() {
        cx.error(
            e.kind.span(),
            format!("{who}: this layer is too large: its size, parameters or multiply-accumulates do not fit in 64 bits; use a smaller kernel, padding or input"),
        );
        return None;
    }
    Some((lk, out))
}
