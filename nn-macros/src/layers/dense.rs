//! `Dense(units)`: a fully connected layer, y = W x + b. PyTorch `nn.Linear`, Keras `Dense`.

use proc_macro2::TokenStream;
use quote::quote;

use super::init::{self, InitKind};
use super::Layer;
use super::{prod, Kind, LayerKind, Site, Spec, TensorSpec};
use crate::args::{self, Param};
use crate::ctxt::Ctxt;
use crate::onnx_node::{Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// A resolved `Dense` layer.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Dense {
    pub units: u64,
    pub init: InitKind,
}

const UNITS: Param = Param {
    name: "units",
    positional: true,
    expects: "a whole number such as `64`",
};

/// Reads `Dense(units, init = ..)`.
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    let got = site.args(cx, &[UNITS, init::PARAM]);
    let units = match got.get(0) {
        Some(v) => args::int(cx, site.who, UNITS.name, v)?,
        None => {
            cx.error(
                site.entry.args_span,
                format!(
                    "{}: `{}` needs the number of units, e.g. `Dense(64)`",
                    site.who,
                    site.kind()
                ),
            );
            return None;
        }
    };
    check_units(cx, site, units, &got);
    let init = init::resolve(cx, site.who, got.get(1), site.next)?;
    Some(Box::new(Dense { units, init }))
}

/// Rule: no layer produces a zero-sized tensor.
fn check_units(cx: &mut Ctxt, site: &Site, units: u64, got: &args::Matched) {
    if units == 0 {
        let span = got
            .get(0)
            .map_or_else(proc_macro2::Span::call_site, |v| v.span());
        cx.error(
            span,
            format!(
                "{}: `{}` with units = 0 has no outputs; a layer needs at least 1 unit",
                site.who,
                site.kind()
            ),
        );
    }
}

impl Spec for Dense {
    /// `[n] -> [units]`; the input must be a vector.
    fn infer(&self, cx: &mut Ctxt, site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        if self.units == 0 {
            return None;
        }
        super::check_vector_input(cx, site, "Dense", input)?;
        Some((LayerKind::Dense(*self), Shape::D1(self.units)))
    }
}

impl Kind for Dense {
    /// `Gemm(x, W, b)` with `transB = 1` (the weight is PyTorch's `[out, in]`).
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        let n = l.name.to_string();
        Part::node(
            Node::new(
                "Gemm",
                &n,
                &[x, &format!("{n}.weight"), &format!("{n}.bias")],
                y,
            )
            .with("transB", Attr::Int(1)),
        )
    }
    fn params(&self, input: Shape, output: Shape) -> u64 {
        prod(&[input.len(), output.len()]).saturating_add(output.len())
    }
    fn macs(&self, input: Shape, output: Shape) -> u64 {
        prod(&[input.len(), output.len()])
    }
    fn has_params(&self) -> bool {
        true
    }
    fn ty(&self, input: Shape, output: Shape) -> TokenStream {
        let (dense, i, o) = (
            paths::dense(),
            paths::typenum_of(input.len()),
            paths::typenum_of(output.len()),
        );
        quote!(#dense<#i, #o>)
    }
    fn init(&self, ty: &TokenStream, stream: u64) -> TokenStream {
        init::closure(ty, self.init, stream)
    }
    /// `weight` `[out, in]`, `bias` `[out]`.
    fn tensors(&self, input: Shape, output: Shape) -> Vec<TensorSpec> {
        let (i, o) = (input.len() as usize, output.len() as usize);
        vec![
            TensorSpec::new("weight", vec![o, i]),
            TensorSpec::new("bias", vec![o]),
        ]
    }
    fn fuses_activation(&self) -> bool {
        true
    }
    fn absorb_batch_norm(&self) -> Option<LayerKind> {
        Some(LayerKind::Dense(*self))
    }
}
