//! `Softmax`: e^(x_i - max) / sum over a vector. PyTorch `nn.Softmax(-1)`, Keras
//! `activation="softmax"`. As the last layer it is the network's head, which losses on logits
//! skip.

use proc_macro2::TokenStream;

use super::Layer;
use super::{Kind, LayerKind, Site, Spec};
use crate::ctxt::Ctxt;
use crate::onnx_node::{Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// `Softmax`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Softmax;

/// Reads `Softmax` (no arguments).
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    site.args(cx, &[]);
    Some(Box::new(Softmax))
}

impl Spec for Softmax {
    /// `[n] -> [n]`: a vector.
    fn infer(&self, cx: &mut Ctxt, site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        super::check_vector_input(cx, site, "Softmax", input)?;
        Some((LayerKind::Softmax(Softmax), input))
    }
}

impl Kind for Softmax {
    /// `Softmax` over the last axis.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        Part::node(Node::new("Softmax", l.name.to_string(), &[x], y).with("axis", Attr::Int(-1)))
    }
    fn ty(&self, _input: Shape, _output: Shape) -> TokenStream {
        paths::softmax()
    }
}
