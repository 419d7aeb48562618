//! Code generation: from a checked [`Network`], straight-line Rust over concrete layer types.
//!
//! One module per generated item: `types` (the struct, its gradients, its training cache),
//! `inherent` (consts, `new`, `summary`), `inference` (`forward`, `forward_logits`,
//! `forward_batch`), `training` (the training forward and backward steps), `traits` (`Network`,
//! `Trainable`, `Parameters`, `StateDict`, `InputOf`), `fold` (the batch-norm-folded twin),
//! `weights` (weights baked in from a file), `summary` (the layer table), `quant` (the int8
//! twin and `quantize_int8`), `quant_api` (the twin's `SUMMARY` and `forward_batch`),
//! `quant_io` (the twin's weight files), `quant_bake` (the twin from its tensors, and baked
//! int8 weights). What a layer
//! contributes comes from its kind (`layers`); every runtime path from `paths`.

mod fields;
pub mod fixed;
mod fixed_acts;
mod fixed_plan;
mod fixed_range;
mod fixed_steps;
mod fixed_tokens;
mod fold;
mod inference;
mod inherent;
mod onnx_export;
mod quant;
mod quant_api;
pub mod quant_bake;
mod quant_fuse;
mod quant_io;
mod quant_onnx;
mod quant_plan;
mod summary;
mod training;
mod traits;
mod types;
pub mod weights;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::model::Network;
use crate::paths;
use fields::Fields;

/// The network's items, and those of its folded twin when a batch norm can be folded.
pub fn expand(net: &Network) -> TokenStream {
    let mut out = network(net, Bodies::Real);
    if let Some(mut folded) = fold::fold(net) {
        let doc = format!(
            "The inference form of [`{}`] with batch normalization folded into the preceding layers (see `{}::fold`).",
            net.name, net.name
        );
        folded.net.attrs.push(syn::parse_quote!(#[doc = #doc]));
        out.extend(network(&folded.net, Bodies::Real));
        out.extend(fold::fold_method(net, &folded));
    }
    out.extend(quant::items(net));
    out
}

/// The network's items with `unreachable!()` bodies: after errors, code that uses the network
/// still type-checks, so the user sees the errors and no follow-on ones.
pub fn unreachable(net: &Network) -> TokenStream {
    network(net, Bodies::Unreachable)
}

/// Whether generated methods do the work or only type-check (after errors).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bodies {
    Real,
    Unreachable,
}

/// What every item of one network is generated from: its names, its tensors, its fields.
struct Gen<'a> {
    net: &'a Network,
    bodies: Bodies,
    name: &'a Ident,
    /// `NameGradients`, `NameCache`, and the hidden backward buffers `__NameBackward`.
    grads: Ident,
    cache: Ident,
    bufs: Ident,
    /// The input and output shape types.
    in_ty: TokenStream,
    out_ty: TokenStream,
    input_len: usize,
    /// Per tensor: its shape type, its variable (and cache field) `a<i>`, its gradient buffer
    /// `d<i>`.
    shapes: Vec<TokenStream>,
    acts: Vec<Ident>,
    grads_of: Vec<Ident>,
    /// The parameterized layers, one struct field each.
    fields: Fields<'a>,
    /// Where inference keeps its activations (set once the rest is known).
    budget: inference::Budget,
}

impl<'a> Gen<'a> {
    fn new(net: &'a Network, bodies: Bodies) -> Gen<'a> {
        let name = &net.name;
        let n = net.tensors.len();
        Gen {
            net,
            bodies,
            name,
            grads: format_ident!("{}Gradients", name),
            cache: format_ident!("{}Cache", name),
            bufs: format_ident!("__{}Backward", name),
            in_ty: paths::shape_of(net.input),
            out_ty: paths::shape_of(net.output()),
            input_len: net.input.len() as usize,
            shapes: net.tensors.iter().map(|&t| paths::shape_of(t)).collect(),
            acts: (0..n).map(|i| format_ident!("a{}", i)).collect(),
            grads_of: (0..n).map(|i| format_ident!("d{}", i)).collect(),
            fields: Fields::new(net),
            budget: inference::Budget::default(),
        }
    }

    /// A method body: `t`, or `unreachable!()` after errors.
    fn body(&self, t: TokenStream) -> TokenStream {
        match self.bodies {
            Bodies::Real => t,
            Bodies::Unreachable => quote!(::core::unreachable!("network has errors")),
        }
    }
}

/// Every item of one network, in order: the types, then the impls in an anonymous const.
fn network(net: &Network, bodies: Bodies) -> TokenStream {
    let mut gen = Gen::new(net, bodies);
    gen.budget = inference::Budget::new(&gen);
    let training = training::Training::new(&gen);
    let types = types::items(&gen, &training);
    let inherent = inherent::items(&gen);
    let traits = traits::items(&gen, &training);
    quote! {
        #types

        #[allow(unused_variables, unused_mut, unreachable_code, clippy::all)]
        const _: () = {
            #inherent
            #traits
        };
    }
}

/// Every item of `out` under the declaration's `#[cfg(..)]` attributes (the struct has them
/// already). Items that do not parse are left as they are (there are none in generated code).
pub fn with_cfg(out: TokenStream, cfgs: &[syn::Attribute]) -> TokenStream {
    let Ok(mut file) = syn::parse2::<syn::File>(out.clone()) else {
        return out;
    };
    for item in &mut file.items {
        let attrs = match item {
            syn::Item::Const(i) => &mut i.attrs,
            syn::Item::Enum(i) => &mut i.attrs,
            syn::Item::Fn(i) => &mut i.attrs,
            syn::Item::Impl(i) => &mut i.attrs,
            syn::Item::Macro(i) => &mut i.attrs,
            syn::Item::Mod(i) => &mut i.attrs,
            syn::Item::Static(i) => &mut i.attrs,
            syn::Item::Struct(i) => &mut i.attrs,
            syn::Item::Trait(i) => &mut i.attrs,
            syn::Item::Type(i) => &mut i.attrs,
            syn::Item::Use(i) => &mut i.attrs,
            _ => continue,
        };
        for cfg in cfgs {
            if !attrs.contains(cfg) {
                attrs.insert(0, cfg.clone());
            }
        }
    }
    quote::ToTokens::into_token_stream(file)
}
