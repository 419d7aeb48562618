//! `Flatten`: `[c, h, w]` or `[c, l]` to a vector in C, H, W order. PyTorch `nn.Flatten`
//! (Keras flattens H, W, C: weight files in Keras layout are converted).

use proc_macro2::TokenStream;

use super::Layer;
use super::{Kind, LayerKind, Site, Spec};
use crate::ctxt::Ctxt;
use crate::onnx_node::{Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// `Flatten`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Flatten;

/// Reads `Flatten` (no arguments).
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    site.args(cx, &[]);
    Some(Box::new(Flatten))
}

impl Spec for Flatten {
    /// Any shape to `[len]`.
    fn infer(&self, _cx: &mut Ctxt, _site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        Some((LayerKind::Flatten(Flatten), Shape::D1(input.len())))
    }
}

impl Kind for Flatten {
    /// `Flatten` keeping the batch axis.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        Part::node(Node::new("Flatten", l.name.to_string(), &[x], y).with("axis", Attr::Int(1)))
    }
    fn ty(&self, _input: Shape, _output: Shape) -> TokenStream {
        paths::flatten()
    }
}
