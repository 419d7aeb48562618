//! `Dropout(p)`: in training, each value is zeroed with probability p and the others scaled by
//! 1 / (1 - p) (seeded); at inference, the identity. PyTorch `nn.Dropout`, Keras `Dropout`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{f32_lit, Kind, Layer, LayerKind, Site, Spec, TrainIo};
use crate::args::{self, Param};
use crate::ctxt::Ctxt;
use crate::onnx_node::{Node, Part};
use crate::paths;
use crate::shape::Shape;

/// A resolved `Dropout`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Dropout {
    pub p: f64,
}

/// Reads `Dropout(p)`.
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    let who = site.who;
    let got = site.args(
        cx,
        &[Param {
            name: "p",
            positional: true,
            expects: "the drop probability, in [0, 1)",
        }],
    );
    let Some(v) = got.get(0) else {
        cx.error(
            site.entry.args_span,
            format!(
                "{who}: `Dropout` needs the probability of dropping a value, e.g. `Dropout(0.2)`"
            ),
        );
        return None;
    };
    let p = args::float(cx, who, "p", v)?;
    // Rule: a drop probability is in [0, 1); p = 1 would drop everything (and divide by 0).
    if !(0.0..1.0).contains(&p) {
        cx.error(v.span(), format!("{who}: `Dropout({p:?})`: the drop probability must be at least 0 and less than 1; it is the chance of dropping each value during training (0.1 to 0.5 is usual; 1 would drop everything)"));
        return None;
    }
    Some(Box::new(Dropout { p }))
}

impl Spec for Dropout {
    /// Any shape, unchanged.
    fn infer(&self, _cx: &mut Ctxt, _site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        Some((LayerKind::Dropout(*self), input))
    }
}

impl Kind for Dropout {
    /// `Identity`: inference keeps every value.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        Part::node(Node::new("Identity", l.name.to_string(), &[x], y))
    }
    fn ty(&self, _input: Shape, _output: Shape) -> TokenStream {
        paths::dropout()
    }
    fn value(&self, ty: TokenStream) -> TokenStream {
        let p = f32_lit(self.p);
        quote!(#ty { p: #p })
    }
    fn keeps_positions(&self) -> bool {
        true
    }
    /// The masks are drawn from the network's `Rng`.
    fn uses_rng(&self) -> bool {
        true
    }
    /// The mask.
    fn saved(&self, l: &Layer) -> Option<(TokenStream, String)> {
        let vec = paths::vec();
        Some((
            quote!(#vec<f32>),
            format!("Dropout mask of layer `{}`.", l.name),
        ))
    }
    fn forward_train(&self, l: &Layer, io: &TrainIo) -> TokenStream {
        let (value, sj, input, out, rng) = (l.value(), io.saved, io.input, io.output, io.rng);
        quote! {
            cache.#sj = (#value).forward_train(&mut #rng, &cache.#input[..], &mut cache.#out[..]);
        }
    }
    fn backward_train(&self, l: &Layer, io: &TrainIo) -> TokenStream {
        let (value, sj, d_out, target) = (l.value(), io.saved, io.d_out, io.target);
        quote! {
            (#value).backward_train(&cache.#sj, &#d_out[..], &mut #target[..]);
        }
    }
}
