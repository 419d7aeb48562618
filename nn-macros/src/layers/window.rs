//! What convolutions and pooling layers share: a window (kernel) sliding with a stride over a
//! zero-padded input. Its arguments (`kernel`/`window`, `stride`, `padding`) and its shape rules,
//! one function per rule.

use proc_macro2::Span;

use super::Site;
use crate::args;
use crate::ast::Value;
use crate::ctxt::Ctxt;
use crate::shape::Shape;

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

/// Padding as written, resolved against the input later (`same` depends on the input size).
#[derive(Clone, Copy)]
enum Pad {
    Explicit([u64; 4]),
    Same,
    Full,
}

/// A window as written, before its input shape is known.
pub struct Args {
    rank: u8,
    kh: u64,
    kw: u64,
    sh: u64,
    sw: u64,
    pad: Pad,
    /// Spans for messages: the kernel and padding arguments (or the argument list).
    kernel_span: Span,
    padding_span: Span,
}

/// A convolution's kernel or a pooling layer's window: the two differ in names, defaults and
/// rules (a convolution's stride defaults to 1, a pool's to its window; only convolutions take
/// `same` and `full` padding; a pool's padding is at most half its window).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Conv,
    Pool,
}

/// The window's arguments, read: kernel (or window) size, stride and padding.
pub fn resolve(
    cx: &mut Ctxt,
    site: &Site,
    rank: u8,
    role: Role,
    [kernel, stride, padding]: [Option<&Value>; 3],
) -> Option<Args> {
    let (who, kind) = (site.who, site.kind());
    let conv = role == Role::Conv;
    let kname = if conv { "kernel" } else { "window" };
    let Some(kv) = kernel else {
        let example = if conv {
            format!("`{kind}(16, kernel = 3)`")
        } else {
            format!("`{kind}(2)`")
        };
        cx.error(
            site.entry.args_span,
            format!("{who}: `{kind}` needs its {kname} size, e.g. {example}"),
        );
        return None;
    };
    let (kh, kw) = pair(cx, who, kname, kv, rank)?;
    check_window_nonzero(cx, site, role, kv, (kh, kw))?;
    let (sh, sw, stride_span) = match stride {
        Some(v) => {
            let (a, b) = pair(cx, who, "stride", v, rank)?;
            (a, b, v.span())
        }
        None if conv => (1, 1, site.entry.args_span),
        None => (kh, kw, site.entry.args_span),
    };
    check_stride_nonzero(cx, site, role, rank, stride_span, [kh, kw, sh, sw])?;
    let (pad, padding_span) = match padding {
        Some(v) => (read_padding(cx, who, v, rank, conv)?, v.span()),
        None => (Pad::Explicit([0; 4]), site.entry.args_span),
    };
    let (kh, sh) = if rank == 1 { (1, 1) } else { (kh, sh) };
    Some(Args {
        rank,
        kh,
        kw,
        sh,
        sw,
        pad,
        kernel_span: kv.span(),
        padding_span,
    })
}

/// Rule: a kernel or window covers at least one cell.
fn check_window_nonzero(
    cx: &mut Ctxt,
    site: &Site,
    role: Role,
    kv: &Value,
    (kh, kw): (u64, u64),
) -> Option<()> {
    if kh != 0 && kw != 0 {
        return Some(());
    }
    let (kname, example) = match role {
        Role::Conv => ("kernel", "`kernel = 3`".to_string()),
        Role::Pool => ("window", format!("`{}(2)`", site.kind())),
    };
    cx.error(
        kv.span(),
        format!(
            "{}: a {kname} of size 0 covers no input; use a {kname} of at least 1, e.g. {example}",
            site.who
        ),
    );
    None
}

/// Rule: stride 0 would never move the window.
fn check_stride_nonzero(
    cx: &mut Ctxt,
    site: &Site,
    role: Role,
    rank: u8,
    span: Span,
    [kh, kw, sh, sw]: [u64; 4],
) -> Option<()> {
    if sh != 0 && sw != 0 {
        return Some(());
    }
    let (kname, fix) = match role {
        Role::Conv => (
            "kernel",
            "`stride = 1`, the default, visits every position".to_string(),
        ),
        Role::Pool => (
            "window",
            format!(
                "without `stride`, the window moves by its own size, {}",
                dims_text(rank, kh, kw)
            ),
        ),
    };
    cx.error(
        span,
        format!(
            "{}: stride 0 never moves the {kname}; use a stride of at least 1 ({fix})",
            site.who
        ),
    );
    None
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

/// The padding argument: numbers, tuples of 2 or 4 (2-D) or 2 (1-D) numbers, or a name.
fn read_padding(cx: &mut Ctxt, who: &str, v: &Value, rank: u8, conv: bool) -> Option<Pad> {
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

fn dims_text(rank: u8, h: u64, w: u64) -> String {
    if rank == 2 {
        format!("{h}x{w}")
    } else {
        format!("{w}")
    }
}

/// The shape rules of a window on `input`: the resolved window and the output shape, with
/// `out_channels` channels (a convolution's filters; `None` for pooling, which keeps the
/// input's). Records an error and returns `None` when the window does not fit.
pub fn infer(
    cx: &mut Ctxt,
    site: &Site,
    w: &Args,
    input: Shape,
    out_channels: Option<u64>,
) -> Option<(Window, Shape)> {
    let role = if out_channels.is_some() {
        Role::Conv
    } else {
        Role::Pool
    };
    let (c, h, wd) = check_rank(cx, site, w.rank, input)?;
    let pad = match w.pad {
        Pad::Explicit(p) => p,
        // TensorFlow/ONNX SAME_UPPER: output ceil(n / s), total padding split with the odd cell after.
        Pad::Same => {
            let (t, b) = if w.rank == 2 {
                same_padding(h, w.kh, w.sh)
            } else {
                (0, 0)
            };
            let (l, r) = same_padding(wd, w.kw, w.sw);
            [t, b, l, r]
        }
        Pad::Full => {
            let v = if w.rank == 2 { w.kh - 1 } else { 0 };
            [v, v, w.kw - 1, w.kw - 1]
        }
    };
    if role == Role::Pool {
        check_pool_padding(cx, site, w, pad)?;
    }
    let (ph, pw) = check_padded_size(cx, site, w, (h, wd), pad)?;
    check_window_fits(cx, site, w, role, (h, wd), pad, (ph, pw))?;
    let oh = (ph - w.kh) / w.sh + 1;
    let ow = (pw - w.kw) / w.sw + 1;
    let win = Window {
        rank: w.rank,
        kh: w.kh,
        kw: w.kw,
        sh: w.sh,
        sw: w.sw,
        pad,
    };
    let oc = out_channels.unwrap_or(c);
    let out = if w.rank == 2 {
        Shape::D3(oc, oh, ow)
    } else {
        Shape::D2(oc, ow)
    };
    check_counts(cx, site, w, c, [oc, oh, ow])?;
    Some((win, out))
}

/// Rule: 2-D layers take `[c, h, w]` images, 1-D layers take `[c, l]` signals, neither takes a
/// vector (a convolution after `Flatten`). Returns channels, height (1 for signals) and width.
fn check_rank(cx: &mut Ctxt, site: &Site, rank: u8, input: Shape) -> Option<(u64, u64, u64)> {
    let (who, kind) = (site.who, site.kind());
    let span = site.entry.kind.span();
    match (rank, input) {
        (2, Shape::D3(c, h, w)) => Some((c, h, w)),
        (1, Shape::D2(c, l)) => Some((c, 1, l)),
        (2, Shape::D2(c, l)) => {
            let one = kind.replace("2d", "1d");
            cx.error(span, format!("{who}: `{kind}` works on images [channels, height, width], but its input [{c}, {l}] is a signal [channels, length]; use `{one}`, the same layer for signals"));
            None
        }
        (1, Shape::D3(c, h, w)) => {
            let two = kind.replace("1d", "2d");
            cx.error(span, format!("{who}: `{kind}` works on signals [channels, length], but its input [{c}, {h}, {w}] is an image [channels, height, width]; use `{two}`, the same layer for images"));
            None
        }
        (_, Shape::D1(n)) => {
            let want = if rank == 2 {
                "images [channels, height, width]"
            } else {
                "signals [channels, length]"
            };
            cx.error(span, format!("{who}: `{kind}` works on {want}, but its input is the vector [{n}] (after `Flatten` or `Dense`, the spatial layout is gone); move this layer before `Flatten`"));
            None
        }
        _ => None,
    }
}

/// Rule: pooling padding is at most half the window (PyTorch's rule), so no window holds only
/// padding.
fn check_pool_padding(cx: &mut Ctxt, site: &Site, w: &Args, pad: [u64; 4]) -> Option<()> {
    let who = site.who;
    let (mh, mw) = (w.kh / 2, w.kw / 2);
    let bad = (w.rank == 2 && (pad[0] > mh || pad[1] > mh)) || pad[2] > mw || pad[3] > mw;
    if !bad {
        return Some(());
    }
    let msg = if w.rank == 2 {
        let fix = if mh == mw {
            format!("`padding = {mh}`")
        } else {
            format!("`padding = ({mh}, {mw})`")
        };
        format!(
            "{who}: padding ({}, {}, {}, {}) (top, bottom, left, right) is more than half the {}x{} window, so a window could hold only padding; a side may be padded by at most half the window, rounded down: {} / 2 = {mh} in height, {} / 2 = {mw} in width; use {fix} or less",
            pad[0], pad[1], pad[2], pad[3], w.kh, w.kw, w.kh, w.kw
        )
    } else {
        format!(
            "{who}: padding ({}, {}) (left, right) is more than half the window of {}, so a window could hold only padding; a side may be padded by at most half the window, rounded down: {} / 2 = {mw}; use `padding = {mw}` or less",
            pad[2], pad[3], w.kw, w.kw
        )
    };
    cx.error(w.padding_span, msg);
    None
}

/// Rule: every size fits in 64 bits (only absurd paddings, kernels or inputs break it), so no
/// later arithmetic overflows. Returns the padded height and width.
fn check_padded_size(
    cx: &mut Ctxt,
    site: &Site,
    w: &Args,
    (h, wd): (u64, u64),
    pad: [u64; 4],
) -> Option<(u64, u64)> {
    let padded = |n: u64, a: u64, b: u64| n.checked_add(a)?.checked_add(b);
    let (Some(ph), Some(pw)) = (padded(h, pad[0], pad[1]), padded(wd, pad[2], pad[3])) else {
        cx.error(
            w.padding_span,
            format!(
                "{}: the padded input is too large to count in 64 bits; use a smaller padding",
                site.who
            ),
        );
        return None;
    };
    Some((ph, pw))
}

/// Rule: the kernel (or window) fits inside the padded input.
fn check_window_fits(
    cx: &mut Ctxt,
    site: &Site,
    w: &Args,
    role: Role,
    input: (u64, u64),
    pad: [u64; 4],
    (ph, pw): (u64, u64),
) -> Option<()> {
    if w.kh > ph || w.kw > pw {
        let msg = too_large(site.who, &site.kind(), w, role, input, pad, (ph, pw));
        cx.error(w.kernel_span, msg);
        return None;
    }
    Some(())
}

/// The message of a kernel or window larger than its padded input: the arithmetic of each
/// dimension that does not fit, then a fix.
fn too_large(
    who: &str,
    kind: &str,
    s: &Args,
    role: Role,
    (h, w): (u64, u64),
    pad: [u64; 4],
    (ph, pw): (u64, u64),
) -> String {
    let conv = role == Role::Conv;
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

/// Rule: the layer's parameters and multiply-accumulates count in 64 bits.
fn check_counts(
    cx: &mut Ctxt,
    site: &Site,
    w: &Args,
    c: u64,
    [oc, oh, ow]: [u64; 3],
) -> Option<()> {
    let counts = || {
        let per_output = c.checked_mul(w.kh)?.checked_mul(w.kw)?;
        let macs = oc
            .checked_mul(oh)?
            .checked_mul(ow)?
            .checked_mul(per_output)?;
        let params = oc.checked_mul(per_output)?.checked_add(oc)?;
        Some((macs, params))
    };
    if counts().is_none() {
        cx.error(
            site.entry.kind.span(),
            format!("{}: this layer is too large: its size, parameters or multiply-accumulates do not fit in 64 bits; use a smaller kernel, padding or input", site.who),
        );
        return None;
    }
    Some(())
}
