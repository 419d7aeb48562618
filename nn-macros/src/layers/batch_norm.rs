//! `BatchNorm1d` and `BatchNorm2d`: per channel, gamma (x - mean) / sqrt(var + 1e-5) + beta;
//! batch statistics in training (the running statistics updated with momentum 0.1), the running
//! statistics at inference. PyTorch `nn.BatchNorm1d`/`nn.BatchNorm2d`, Keras
//! `BatchNormalization`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Kind, Layer, LayerKind, Site, Spec, TensorSpec, TrainIo};
use crate::ctxt::Ctxt;
use crate::onnx_node::{Attr, Node, Part};
use crate::paths;
use crate::shape::Shape;

/// A batch norm (its rank was checked against the input).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct BatchNorm;

/// Reads `BatchNorm1d`/`BatchNorm2d` (no arguments).
pub fn resolve(cx: &mut Ctxt, site: &Site) -> Option<Box<dyn Spec>> {
    site.args(cx, &[]);
    Some(Box::new(BatchNorm))
}

impl Spec for BatchNorm {
    /// Any shape, unchanged, if the rank rule holds.
    fn infer(&self, cx: &mut Ctxt, site: &Site, input: Shape) -> Option<(LayerKind, Shape)> {
        check_rank(cx, site, input)?;
        Some((LayerKind::BatchNorm(BatchNorm), input))
    }
}

/// Rule: `BatchNorm1d` normalizes features `[n]` or signal channels `[c, l]`; `BatchNorm2d`
/// normalizes image channels `[c, h, w]` (as in PyTorch).
fn check_rank(cx: &mut Ctxt, site: &Site, input: Shape) -> Option<()> {
    let kind = site.kind();
    let ok = match input {
        Shape::D1(_) | Shape::D2(..) => kind == "BatchNorm1d",
        Shape::D3(..) => kind == "BatchNorm2d",
    };
    if ok {
        return Some(());
    }
    let (right, what, how) = match input {
        Shape::D3(..) => (
            "BatchNorm2d",
            "an image [channels, height, width]",
            "each channel over the batch and all positions",
        ),
        Shape::D2(..) => (
            "BatchNorm1d",
            "a signal [channels, length]",
            "each channel over the batch and the length",
        ),
        Shape::D1(_) => (
            "BatchNorm1d",
            "a vector of features",
            "each feature over the batch",
        ),
    };
    cx.error(
        site.entry.kind.span(),
        format!("{}: `{kind}` does not fit its input {input}, which is {what}; use `{right}` (it normalizes {how})", site.who),
    );
    None
}

impl Kind for BatchNorm {
    /// `BatchNormalization(x, weight, bias, running_mean, running_var)`, epsilon 1e-5.
    fn onnx(&self, l: &Layer, x: &str, y: &str) -> Part {
        let n = l.name.to_string();
        let t = |s: &str| format!("{n}.{s}");
        let (w, b, m, v) = (t("weight"), t("bias"), t("running_mean"), t("running_var"));
        Part::node(
            Node::new("BatchNormalization", &n, &[x, &w, &b, &m, &v], y)
                .with("epsilon", Attr::Float(1e-5)),
        )
    }
    /// gamma and beta per channel.
    fn params(&self, input: Shape, _output: Shape) -> u64 {
        2 * input.channels()
    }
    fn has_params(&self) -> bool {
        true
    }
    /// The running mean and variance per channel.
    fn buffers(&self, input: Shape) -> u64 {
        2 * input.channels()
    }
    fn ty(&self, input: Shape, _output: Shape) -> TokenStream {
        let (bn, c) = (paths::batch_norm(), paths::typenum_of(input.channels()));
        quote!(#bn<#c>)
    }
    /// gamma 1, beta 0, running mean 0, running variance 1.
    fn init(&self, ty: &TokenStream, _stream: u64) -> TokenStream {
        quote!(|l: &mut #ty| l.init())
    }
    /// `weight` (gamma), `bias` (beta), `running_mean`, `running_var`, each `[channels]`.
    fn tensors(&self, input: Shape, _output: Shape) -> Vec<TensorSpec> {
        let c = input.channels() as usize;
        ["weight", "bias", "running_mean", "running_var"]
            .into_iter()
            .map(|suffix| TensorSpec::new(suffix, vec![c]))
            .collect()
    }
    /// The batch statistics.
    fn saved(&self, l: &Layer) -> Option<(TokenStream, String)> {
        let (saved, c) = (paths::bn_saved(), paths::typenum_of(l.input.channels()));
        Some((
            quote!(#saved<#c>),
            format!("Batch statistics of layer `{}`.", l.name),
        ))
    }
    /// Normalizes with the batch statistics and updates the running ones.
    fn forward_train(&self, l: &Layer, io: &TrainIo) -> TokenStream {
        let (f, ty, sj, input, out) = (&l.name, l.ty(), io.saved, io.input, io.output);
        quote! {
            cache.#sj = ::core::borrow::BorrowMut::<#ty>::borrow_mut(&mut self.#f).forward_train(&cache.#input[..], &mut cache.#out[..]);
        }
    }
    fn backward_train(&self, l: &Layer, io: &TrainIo) -> TokenStream {
        let (f, ty, sj, a_in) = (&l.name, l.ty(), io.saved, io.input);
        let (d_out, target, grad) = (io.d_out, io.target, io.grad);
        quote! {
            ::core::borrow::Borrow::<#ty>::borrow(&self.#f).backward_train(&cache.#a_in[..], &cache.#sj, &#d_out[..], &mut #target[..], #grad);
        }
    }
}
