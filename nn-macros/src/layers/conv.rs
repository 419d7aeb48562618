//! `Conv1d(filters, kernel)` and `Conv2d(filters, kernel)`: convolutions (cross-correlation)
//! over `[c, l]` signals and `[c, h, w]` images, channels first. PyTorch `nn.Conv1d`/`nn.Conv2d`,
//! Keras `Conv1D`/`Conv2D` with `data_format="channels_first"`.

use proc_macro2::TokenStream;
use quote::quote;

use super::init::{self, InitKind};
use super::window::{self, Role, Window};
use super::Layer;
use super::{prod, Kind, LayerKind, Site, Spec, TensorSpec};
use crate::args::{self, Param};
use crate::ctxt::Ctxt;
use crate::onnx_node::{pads, Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// A resolved convolution.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Conv {
    pub filters: u64,
    pub win: Window,
    pub bias: bool,
    pub init: InitKind,
}

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

/// A convolution whose arguments are read; padding `same` waits for the input.
struct Pending {
    filters: u64,
    window: window::Args,
    bias: bool,
    init: InitKind,
}

/// Reads `Conv1d(filters, kernel, stride = .., padding = .., bias = .., init = ..)` (and 2-D).
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    let kind = site.kind();
    let rank: u8 = if kind.ends_with("1d") { 1 } else { 2 };
    let params = if rank == 2 {
        [FILTERS, KERNEL2, STRIDE2, PADDING2, BIAS, init::PARAM]
    } else {
        [FILTERS, KERNEL1, STRIDE1, PADDING1, BIAS, init::PARAM]
    };
    let got = site.args(cx, &params);
    let Some(v) = got.get(0) else {
        cx.error(
            site.entry.args_span,
            format!(
                "{}: `{kind}` needs the number of filters, e.g. `{kind}(16, kernel = 3)`",
                site.who
            ),
        );
        return None;
    };
    let filters = args::int(cx, site.who, "filters", v)?;
    check_filters(cx, site, filters, v)?;
    let window = window::resolve(
        cx,
        site,
        rank,
        Role::Conv,
        [got.get(1), got.get(2), got.get(3)],
    )?;
    let bias = match got.get(4) {
        Some(v) => args::boolean(cx, site.who, "bias", v)?,
        None => true,
    };
    let init = init::resolve(cx, site.who, got.get(5), site.next)?;
    Some(Box::new(Pending {
        filters,
        window,
        bias,
        init,
    }))
}

/// Rule: output size zero. A layer with no filters has no output channels.
fn check_filters(cx: &mut Ctxt, site: &Site, filters: u64, v: &crate::ast::Value) -> Option<()> {
    if filters == 0 {
        cx.error(
            v.span(),
            format!(
                "{}: `{}` with 0 filters has an output of size zero; use at least 1 filter",
                site.who,
                site.kind()
            ),
        );
        return None;
    }
    Some(())
}

impl Spec for Pending {
    /// The window rules, with `filters` output channels.
    fn infer(&self, cx: &mut Ctxt, site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        let (win, out) = window::infer(cx, site, &self.window, input, Some(self.filters))?;
        let conv = Conv {
            filters: self.filters,
            win,
            bias: self.bias,
            init: self.init,
        };
        Some((LayerKind::Conv(conv), out))
    }
}

impl Kind for Conv {
    /// `Conv(x, W[, b])` with the kernel, strides and pads.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        let n = l.name.to_string();
        let w = &self.win;
        let (kernel, strides) = if w.rank == 1 {
            (vec![w.kw as i64], vec![w.sw as i64])
        } else {
            (
                vec![w.kh as i64, w.kw as i64],
                vec![w.sh as i64, w.sw as i64],
            )
        };
        let weight = format!("{n}.weight");
        let bias = format!("{n}.bias");
        let inputs: Vec<&str> = if self.bias {
            vec![x, &weight, &bias]
        } else {
            vec![x, &weight]
        };
        Part::node(
            Node::new("Conv", &n, &inputs, y)
                .with("kernel_shape", Attr::Ints(kernel))
                .with("strides", Attr::Ints(strides))
                .with("pads", Attr::Ints(pads(w.rank, w.pad))),
        )
    }
    fn params(&self, input: Shape, _output: Shape) -> u64 {
        let bias = if self.bias { self.filters } else { 0 };
        prod(&[self.filters, input.channels(), self.win.kh, self.win.kw]).saturating_add(bias)
    }
    /// Padded taps count too.
    fn macs(&self, input: Shape, output: Shape) -> u64 {
        prod(&[output.len(), input.channels(), self.win.kh, self.win.kw])
    }
    fn has_params(&self) -> bool {
        true
    }
    fn ty(&self, input: Shape, _output: Shape) -> TokenStream {
        let win = self.win;
        let bias = self.bias;
        let ci = paths::typenum_of(input.channels());
        let co = paths::typenum_of(self.filters);
        let [pt, pb, pl, pr] = win.pad.map(paths::typenum_of);
        let (kh, kw, sh, sw) = (
            paths::typenum_of(win.kh),
            paths::typenum_of(win.kw),
            paths::typenum_of(win.sh),
            paths::typenum_of(win.sw),
        );
        if win.rank == 2 {
            let conv = paths::conv2d();
            quote!(#conv<#ci, #co, #kh, #kw, #sh, #sw, #pt, #pb, #pl, #pr, #bias>)
        } else {
            let conv = paths::conv1d();
            quote!(#conv<#ci, #co, #kw, #sw, #pl, #pr, #bias>)
        }
    }
    fn init(&self, ty: &TokenStream, stream: u64) -> TokenStream {
        init::closure(ty, self.init, stream)
    }
    /// `weight` `[out, in, kh, kw]` (`[out, in, k]` in 1-D), `bias` `[out]` unless
    /// `bias = false`.
    fn tensors(&self, input: Shape, _output: Shape) -> Vec<TensorSpec> {
        let (win, ci, co) = (self.win, input.channels() as usize, self.filters as usize);
        let mut shape = vec![co, ci];
        if win.rank == 2 {
            shape.extend([win.kh as usize, win.kw as usize]);
        } else {
            shape.push(win.kw as usize);
        }
        let mut tensors = vec![TensorSpec::new("weight", shape)];
        if self.bias {
            tensors.push(TensorSpec::new("bias", vec![co]));
        }
        tensors
    }
    fn fuses_activation(&self) -> bool {
        true
    }
    /// The batch norm's shift becomes a bias.
    fn absorb_batch_norm(&self) -> Option<LayerKind> {
        Some(LayerKind::Conv(Conv {
            bias: true,
            ..*self
        }))
    }
}
