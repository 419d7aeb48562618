//! `PReLU`: x if x >= 0 else a x, with a learned slope `a`, one for the layer or one per channel
//! (per feature for vectors). PyTorch `nn.PReLU(num_parameters)`, Keras `PReLU`.

use proc_macro2::TokenStream;
use quote::quote;

use super::Layer;
use super::{f32_lit, Kind, LayerKind, Site, Spec, TensorSpec};
use crate::args::{self, Param};
use crate::ctxt::Ctxt;
use crate::onnx_node::{Node, Part};
use crate::paths;
use crate::shape::Shape;

/// A resolved `PReLU`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct PReLU {
    /// The initial slope.
    pub init: f64,
    pub per_channel: bool,
}

/// Reads `PReLU(init = .., per_channel = ..)`.
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    let got = site.args(
        cx,
        &[
            Param {
                name: "init",
                positional: false,
                expects: "the initial slope, default 0.25",
            },
            Param {
                name: "per_channel",
                positional: false,
                expects:
                    "`false` (default: one slope) or `true` (one slope per channel or feature)",
            },
        ],
    );
    let init = match got.get(0) {
        Some(v) => args::float(cx, site.who, "init", v)?,
        None => 0.25,
    };
    let per_channel = match got.get(1) {
        Some(v) => args::boolean(cx, site.who, "per_channel", v)?,
        None => false,
    };
    Some(Box::new(PReLU { init, per_channel }))
}

impl Spec for PReLU {
    /// Any shape, unchanged.
    fn infer(&self, _cx: &mut Ctxt, _site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        Some((LayerKind::PReLU(*self), input))
    }
}

impl Kind for PReLU {
    /// `PRelu(x, slope)`; a per-channel slope stored as `[C, 1, 1]` (`[C, 1]` for a signal) so
    /// that it broadcasts over the channels.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        let n = l.name.to_string();
        let w = format!("{n}.weight");
        let mut part = Part::node(Node::new("PRelu", &n, &[x, &w], y));
        if self.per_channel {
            let c = l.input.channels() as usize;
            let dims = match l.input {
                Shape::D1(_) => vec![c],
                Shape::D2(..) => vec![c, 1],
                Shape::D3(..) => vec![c, 1, 1],
            };
            part.dims.push((w, dims));
        }
        part
    }
    fn params(&self, input: Shape, _output: Shape) -> u64 {
        if self.per_channel {
            input.channels()
        } else {
            1
        }
    }
    fn has_params(&self) -> bool {
        true
    }
    fn ty(&self, input: Shape, _output: Shape) -> TokenStream {
        if self.per_channel {
            let (prelu, c) = (paths::prelu_channels(), paths::typenum_of(input.channels()));
            quote!(#prelu<#c>)
        } else {
            paths::prelu()
        }
    }
    /// Every slope set to `init`.
    fn init(&self, ty: &TokenStream, _stream: u64) -> TokenStream {
        let a = f32_lit(self.init);
        if self.per_channel {
            let prelu = paths::prelu_channels();
            quote!(|l: &mut #ty| *l = #prelu::filled(#a))
        } else {
            quote!(|l: &mut #ty| l.alpha = #a)
        }
    }
    /// `weight` `[channels]`, or `[1]` for one slope.
    fn tensors(&self, input: Shape, _output: Shape) -> Vec<TensorSpec> {
        let c = if self.per_channel {
            input.channels() as usize
        } else {
            1
        };
        vec![TensorSpec::new("weight", vec![c])]
    }
    /// One slope treats every value alike; a slope per feature of a flattened tensor does not.
    fn keeps_positions(&self) -> bool {
        !self.per_channel
    }
}
