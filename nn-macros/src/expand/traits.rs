//! The trait impls: `Default` and `Parameters` (for the network and its gradients, from one
//! generator), `StateDict`, `InputOf`, `Network` and `Trainable`. Each is marked
//! `#[automatically_derived]`, as derive macros do, so lints and coverage tools treat it as
//! generated code.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::fields::Access;
use super::summary;
use super::training::Training;
use super::Gen;
use crate::layers::{Layer, LayerKind};
use crate::model::{Head, Network, OpKind};
use crate::paths;
use crate::shape::Shape;

/// Every trait impl of the network, in order.
pub fn items(gen: &Gen, training: &Training) -> TokenStream {
    let rng = if gen.net.uses_rng() {
        let rng = paths::rng();
        quote!(__nn_rng: #rng::new(0),)
    } else {
        quote!()
    };
    let params_net = parameters(gen, gen.name, rng);
    let params_grads = parameters(gen, &gen.grads, quote!());
    let state_dict = state_dict(gen);
    let onnx = super::onnx_export::onnx_impl(gen);
    let input_of = input_of(gen);
    let network = network(gen);
    let trainable = trainable(gen, training);
    quote! {
        #params_net
        #params_grads
        #state_dict
        #onnx

        #input_of

        #network

        #trainable
    }
}

/// `Default` (all parameters zero, plus `extra` fields) and `Parameters` for `ty`, the network
/// or its gradients: both have one field per parameterized layer.
fn parameters(gen: &Gen, ty: &Ident, extra: TokenStream) -> TokenStream {
    let fields = &gen.fields;
    let (names, tys) = (&fields.names, &fields.tys);
    let zeroed = fields.zeroed();
    let (parameters, param_id) = (paths::parameters(), paths::param_id());
    let visit = fields.parameters(Access::Visit);
    let visit_mut = fields.parameters(Access::VisitMut);
    let zip_mut = fields.parameters(Access::ZipMut(&quote::format_ident!("other")));
    quote! {
        #[automatically_derived]
        impl ::core::default::Default for #ty {
            /// All parameters zero; large tensors are built in place on the heap.
            fn default() -> Self {
                Self { #(#names: #zeroed,)* #extra }
            }
        }

        #[automatically_derived]
        impl #parameters for #ty {
            const COUNT: usize = 0 #(+ <#tys as #parameters>::COUNT)*;
            fn visit(&self, _layer: &'static str, f: &mut dyn FnMut(#param_id, &[f32])) {
                #visit
            }
            fn visit_mut(&mut self, _layer: &'static str, f: &mut dyn FnMut(#param_id, &mut [f32])) {
                #visit_mut
            }
            fn zip_mut(&mut self, other: &Self, _layer: &'static str, f: &mut dyn FnMut(#param_id, &mut [f32], &[f32])) {
                #zip_mut
            }
        }
    }
}

/// `StateDict` (weight files; `std` only): each field's tensors under its name.
fn state_dict(gen: &Gen) -> TokenStream {
    let fields = &gen.fields;
    let (name, names, tys, keys) = (gen.name, &fields.names, &fields.tys, &fields.keys);
    let (state_dict, layout, field_info, named_tensor, source, error) = (
        paths::state_dict(),
        paths::layout(),
        paths::field_info(),
        paths::named_tensor(),
        paths::source(),
        paths::error(),
    );
    let (if_std, vec) = (paths::if_std(), paths::vec());
    let flatten: Vec<TokenStream> = fields
        .layers
        .iter()
        .map(|l| flatten_chw(gen.net, l))
        .collect();
    quote! {
        #if_std! {
            #[automatically_derived]
            impl #state_dict for #name {
                fn export(&self, _layer: &str, layout: #layout, _info: #field_info, out: &mut #vec<#named_tensor>) {
                    #(#state_dict::export(
                        ::core::borrow::Borrow::<#tys>::borrow(&self.#names),
                        #keys,
                        layout,
                        #field_info { flatten_chw: #flatten },
                        out,
                    );)*
                }
                fn import(&mut self, _layer: &str, layout: #layout, _info: #field_info, src: &mut #source<'_>) -> ::core::result::Result<(), #error> {
                    #(#state_dict::import(
                        ::core::borrow::BorrowMut::<#tys>::borrow_mut(&mut self.#names),
                        #keys,
                        layout,
                        #field_info { flatten_chw: #flatten },
                        src,
                    )?;)*
                    ::core::result::Result::Ok(())
                }
            }
        }
    }
}

/// For a `Dense` layer reading a flattened tensor, that tensor's `[c, h, w]` (`[c, 1, l]` for a
/// signal): weight files in Keras layout order those rows h, w, c. Layers between the `Flatten`
/// and the `Dense` that keep every value in place (activations, dropout) are skipped.
fn flatten_chw(net: &Network, l: &Layer) -> TokenStream {
    let li = net.layers.iter().position(|x| std::ptr::eq(x, l));
    let op = net
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Layer(i) if Some(i) == li));
    // Walk back over layers that keep values in place (activations, dropout) to the Flatten.
    let mut prev = op.and_then(|o| net.ops.iter().find(|p| p.output == o.inputs[0]));
    while let Some(p) = prev {
        match p.kind {
            OpKind::Layer(pl) if net.layers[pl].kind.get().keeps_positions() => {
                prev = net.ops.iter().find(|q| q.output == p.inputs[0]);
            }
            _ => break,
        }
    }
    match (l.kind, prev.map(|p| p.kind)) {
        (LayerKind::Dense(_), Some(OpKind::Layer(pl)))
            if matches!(net.layers[pl].kind, LayerKind::Flatten(_)) =>
        {
            match net.layers[pl].input {
                Shape::D3(c, h, w) => {
                    let (c, h, w) = (c as usize, h as usize, w as usize);
                    quote!(::core::option::Option::Some([#c, #h, #w]))
                }
                Shape::D2(c, len) => {
                    let (c, len) = (c as usize, len as usize);
                    quote!(::core::option::Option::Some([#c, 1usize, #len]))
                }
                _ => quote!(::core::option::Option::None),
            }
        }
        _ => quote!(::core::option::Option::None),
    }
}

/// `InputOf`: `forward` takes the input tensor or a `[f32; INPUT_LEN]` array.
fn input_of(gen: &Gen) -> TokenStream {
    let (name, in_ty, input_len) = (gen.name, &gen.in_ty, gen.input_len);
    let (input_of, tensor) = (paths::input_of(), paths::tensor());
    quote! {
        #[automatically_derived]
        #[diagnostic::do_not_recommend]
        impl #input_of<#name, #input_len> for #tensor<#in_ty> {
            #[inline(always)]
            fn as_input(&self) -> &#tensor<#in_ty> {
                self
            }
        }
        #[automatically_derived]
        impl #input_of<#name, #input_len> for [f32; #input_len] {
            #[inline(always)]
            fn as_input(&self) -> &#tensor<#in_ty> {
                #tensor::from_array_ref(self)
            }
        }
    }
}

/// `Network`: the consts and the inference methods, forwarded to the inherent ones.
fn network(gen: &Gen) -> TokenStream {
    let net = gen.net;
    let (name, in_ty, out_ty, input_len) = (gen.name, &gen.in_ty, &gen.out_ty, gen.input_len);
    let name_str = name.to_string();
    let params = net.params() as usize;
    let macs = net.macs() as usize;
    let output_len = net.output().len() as usize;
    let summary = summary::table(net, &gen.budget);
    let head = match net.head {
        Head::None => quote!(None),
        Head::Softmax => quote!(Softmax),
        Head::Sigmoid => quote!(Sigmoid),
    };
    let (network, tensor, head_ty, batch_len_error) = (
        paths::network(),
        paths::tensor(),
        paths::head(),
        paths::batch_len_error(),
    );
    let shapes = paths::shapes();
    let imp = quote! {
        #[automatically_derived]
        impl #network for #name {
            const NAME: &'static str = #name_str;
            const PARAMS: usize = #params;
            const MACS: usize = #macs;
            const INPUT_LEN: usize = #input_len;
            const OUTPUT_LEN: usize = #output_len;
            const HEAD: #head_ty = #head_ty::#head;
            const SUMMARY: &'static str = #summary;
            fn new(seed: u64) -> Self {
                #name::new(seed)
            }
            #[inline]
            fn forward(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                #name::forward(self, x)
            }
            #[inline]
            fn forward_logits(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                #name::forward_logits(self, x)
            }
            #[inline]
            fn forward_batch(&self, xs: &[#tensor<#in_ty>], ys: &mut [#tensor<#out_ty>]) -> ::core::result::Result<(), #batch_len_error> {
                #name::forward_batch(self, xs, ys)
            }
        }
    };
    // Over the stack budget, `forward` needs an allocator for its workspace.
    let imp = if gen.budget.workspace.is_some() {
        let if_alloc = paths::if_alloc();
        quote!(#if_alloc! { #imp })
    } else {
        imp
    };
    quote! {
        #[automatically_derived]
        impl #shapes for #name {
            type InputShape = #in_ty;
            type OutputShape = #out_ty;
        }
        #imp
    }
}

/// `Trainable` (with `alloc`): the generated training methods, their bodies from `training`
/// (the runtime provides `forward_train`, `backward`, `backward_into` and their logits variants
/// in terms of these).
fn trainable(gen: &Gen, t: &Training) -> TokenStream {
    let (name, grads, cache, bufs) = (gen.name, &gen.grads, &gen.cache, &gen.bufs);
    let (in_ty, out_ty) = (&gen.in_ty, &gen.out_ty);
    let output_acts = &gen.acts[gen.net.output];
    let logits = &gen.acts[gen.net.logits];
    let (trainable, tensor, param_id, if_alloc) = (
        paths::trainable(),
        paths::tensor(),
        paths::param_id(),
        paths::if_alloc(),
    );
    let zip_gradients = gen
        .fields
        .parameters(Access::ZipMut(&quote::format_ident!("grads")));
    let (new_cache, forward_train_into, backward_steps) =
        (&t.new_cache, &t.forward_train_into, &t.backward_steps);
    quote! {
        #if_alloc! {
            #[automatically_derived]
            impl #trainable for #name {
                type Gradients = #grads;
                type Cache<const __NN_B: usize> = #cache<__NN_B>;
                type Buffers<const __NN_B: usize> = #bufs<__NN_B>;

                fn new_cache<const __NN_B: usize>() -> #cache<__NN_B> {
                    #new_cache
                }
                fn forward_train_into<const __NN_B: usize>(&mut self, x: &[#tensor<#in_ty>; __NN_B], cache: &mut #cache<__NN_B>) {
                    #forward_train_into
                }
                fn cache_output<const __NN_B: usize>(cache: &#cache<__NN_B>) -> &[#tensor<#out_ty>; __NN_B] {
                    &cache.#output_acts
                }
                fn cache_logits<const __NN_B: usize>(cache: &#cache<__NN_B>) -> &[#tensor<#out_ty>; __NN_B] {
                    &cache.#logits
                }
                fn zip_gradients(&mut self, grads: &#grads, f: &mut dyn FnMut(#param_id, &mut [f32], &[f32])) {
                    #zip_gradients
                }
                fn backward_steps<const __NN_B: usize>(
                    &self,
                    cache: &#cache<__NN_B>,
                    bufs: &mut #bufs<__NN_B>,
                    d: &[#tensor<#out_ty>; __NN_B],
                    from_logits: bool,
                    g: &mut #grads,
                ) {
                    #backward_steps
                }
                fn cache_buffers<const __NN_B: usize>(cache: &mut #cache<__NN_B>) -> &mut ::core::option::Option<#bufs<__NN_B>> {
                    &mut cache.__nn_bwd
                }
            }
        }
    }
}
