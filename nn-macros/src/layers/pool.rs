//! `MaxPool1d/2d(window)` and `AvgPool1d/2d(window)`: the maximum or mean over each window,
//! channel by channel. PyTorch `nn.MaxPool2d`/`nn.AvgPool2d` (and 1-D), Keras `MaxPooling2D`/
//! `AveragePooling2D`.

use proc_macro2::TokenStream;
use quote::quote;

use super::window::{self, Role, Window};
use super::Layer;
use super::{Kind, LayerKind, Site, Spec};
use crate::args::{self, Param};
use crate::ctxt::Ctxt;
use crate::onnx_node::{pads, Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// A resolved pooling layer.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Pool {
    pub win: Window,
    pub mode: Mode,
}

/// Maximum or mean.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Max,
    /// `count_pad`: padded zeros count in the mean (PyTorch's default).
    Avg {
        count_pad: bool,
    },
}

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
const STRIDE2: Param = Param {
    name: "stride",
    positional: false,
    expects: "`s` or `(sh, sw)`, default: the window",
};
const STRIDE1: Param = Param {
    name: "stride",
    positional: false,
    expects: "a whole number, default: the window",
};
const PADDING2: Param = Param {
    name: "padding",
    positional: false,
    expects: "`p`, `(ph, pw)`, `(top, bottom, left, right)` or `valid`, at most half the window; default 0",
};
const PADDING1: Param = Param {
    name: "padding",
    positional: false,
    expects: "`p`, `(left, right)` or `valid`, at most half the window; default 0",
};
const COUNT_PAD: Param = Param {
    name: "count_include_pad",
    positional: false,
    expects: "`true` (default, as PyTorch: padded zeros count in the mean) or `false`",
};

/// A pooling layer whose arguments are read, waiting for its input.
struct Pending {
    window: window::Args,
    mode: Mode,
}

/// Reads `MaxPool2d(window, stride = .., padding = ..)`, `AvgPool2d(.., count_include_pad = ..)`
/// and their 1-D forms.
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    let kind = site.kind();
    let rank: u8 = if kind.ends_with("1d") { 1 } else { 2 };
    let avg = kind.starts_with("Avg");
    let mut params = if rank == 2 {
        vec![WINDOW2, STRIDE2, PADDING2]
    } else {
        vec![WINDOW1, STRIDE1, PADDING1]
    };
    if avg {
        params.push(COUNT_PAD);
    }
    let got = site.args(cx, &params);
    let window = window::resolve(
        cx,
        site,
        rank,
        Role::Pool,
        [got.get(0), got.get(1), got.get(2)],
    )?;
    let mode = if avg {
        let count_pad = match got.get(3) {
            Some(v) => args::boolean(cx, site.who, "count_include_pad", v)?,
            None => true,
        };
        Mode::Avg { count_pad }
    } else {
        Mode::Max
    };
    Some(Box::new(Pending { window, mode }))
}

impl Spec for Pending {
    /// The window rules; the channels stay.
    fn infer(&self, cx: &mut Ctxt, site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        let (win, out) = window::infer(cx, site, &self.window, input, None)?;
        let pool = Pool {
            win,
            mode: self.mode,
        };
        Some((LayerKind::Pool(pool), out))
    }
}

impl Kind for Pool {
    /// `MaxPool` or `AveragePool` (with `count_include_pad`) with the window, strides and pads.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        let w = &self.win;
        let (kernel, strides) = if w.rank == 1 {
            (vec![w.kw as i64], vec![w.sw as i64])
        } else {
            (
                vec![w.kh as i64, w.kw as i64],
                vec![w.sh as i64, w.sw as i64],
            )
        };
        let op = match self.mode {
            Mode::Max => "MaxPool",
            Mode::Avg { .. } => "AveragePool",
        };
        let mut node = Node::new(op, l.name.to_string(), &[x], y)
            .with("kernel_shape", Attr::Ints(kernel))
            .with("strides", Attr::Ints(strides))
            .with("pads", Attr::Ints(pads(w.rank, w.pad)));
        if let Mode::Avg { count_pad } = self.mode {
            node = node.with("count_include_pad", Attr::Int(count_pad as i64));
        }
        Part::node(node)
    }
    fn ty(&self, _input: Shape, _output: Shape) -> TokenStream {
        let win = self.win;
        let [pt, pb, pl, pr] = win.pad.map(paths::typenum_of);
        let (kh, kw, sh, sw) = (
            paths::typenum_of(win.kh),
            paths::typenum_of(win.kw),
            paths::typenum_of(win.sh),
            paths::typenum_of(win.sw),
        );
        let count_pad = match self.mode {
            Mode::Avg { count_pad } => quote!(, #count_pad),
            Mode::Max => quote!(),
        };
        let name = match (self.mode, win.rank) {
            (Mode::Max, 2) => paths::max_pool2d(),
            (Mode::Max, _) => paths::max_pool1d(),
            (_, 2) => paths::avg_pool2d(),
            _ => paths::avg_pool1d(),
        };
        if win.rank == 2 {
            quote!(#name<#kh, #kw, #sh, #sw, #pt, #pb, #pl, #pr #count_pad>)
        } else {
            quote!(#name<#kw, #sw, #pl, #pr #count_pad>)
        }
    }
    fn value(&self, ty: TokenStream) -> TokenStream {
        quote!(<#ty as ::core::default::Default>::default())
    }
}
