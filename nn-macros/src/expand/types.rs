//! The types: the network struct (one field per parameterized layer), `NameGradients` (the same
//! fields), `NameCache<B>` (the training pass's batches) and the hidden backward buffers.

use proc_macro2::TokenStream;
use quote::quote;

use super::training::Training;
use super::Gen;
use crate::paths;

/// The struct, its gradients, and (with `alloc`) the cache and backward buffers.
pub fn items(gen: &Gen, training: &Training) -> TokenStream {
    let net = gen.net;
    let (attrs, vis, name) = (&net.attrs, &net.vis, gen.name);
    let (grads, cache, bufs) = (&gen.grads, &gen.cache, &gen.bufs);
    let (names, field_tys) = (&gen.fields.names, &gen.fields.field_tys);
    let (batch, zeroed_batch, if_alloc) =
        (paths::batch(), paths::zeroed_batch(), paths::if_alloc());
    let (backward_buffers, tensor) = (paths::backward_buffers(), paths::tensor());
    let (in_ty, d0) = (&gen.in_ty, &gen.grads_of[0]);
    let field_docs = gen.fields.layers.iter().map(|l| {
        format!(
            "Layer `{}`: `{}` {} -> {}, {} parameters.",
            l.name, l.kind_name, l.input, l.output, l.params
        )
    });
    let grad_docs = names.iter().map(|n| format!("Gradient of layer `{n}`."));
    let rng = if net.uses_rng() {
        let rng = paths::rng();
        quote!(#[doc(hidden)] pub __nn_rng: #rng,)
    } else {
        quote!()
    };
    let grads_doc = format!("Gradients of [`{name}`]'s parameters: one field per parameterized layer, mirroring the network.");
    let cache_doc = format!("Intermediates of [`{name}`]'s batched forward pass: one heap batch of `B` tensors per layer output.");
    let (acts, live_shapes, cache_docs) =
        (&training.live, &training.live_shapes, &training.live_docs);
    let saved_names = training.saved.iter().map(|f| &f.0);
    let saved_tys = training.saved.iter().map(|f| &f.1);
    let saved_docs = training.saved.iter().map(|f| &f.2);
    let buf_names: Vec<_> = training.bufs.iter().map(|f| &f.0).collect();
    let buf_shapes = training.bufs.iter().map(|f| &f.1);
    let workspace = super::inference::workspace_type(gen);
    let cloned = gen.fields.cloned();
    let clone_rng = if net.uses_rng() {
        quote!(__nn_rng: ::core::clone::Clone::clone(&self.__nn_rng),)
    } else {
        quote!()
    };
    quote! {
        #(#attrs)*
        #[derive(Debug)]
        #vis struct #name {
            #( #[doc = #field_docs] pub #names: #field_tys, )*
            #rng
        }

        #workspace

        #[doc = #grads_doc]
        #[derive(Debug)]
        #vis struct #grads {
            #( #[doc = #grad_docs] pub #names: #field_tys, )*
        }

        #[automatically_derived]
        impl ::core::clone::Clone for #name {
            fn clone(&self) -> Self {
                Self { #( #names: #cloned, )* #clone_rng }
            }
        }

        #[automatically_derived]
        impl ::core::clone::Clone for #grads {
            fn clone(&self) -> Self {
                Self { #( #names: #cloned, )* }
            }
        }

        #if_alloc! {
            #[doc = #cache_doc]
            #vis struct #cache<const __NN_B: usize> {
                #( #[doc = #cache_docs] pub #acts: #batch<#live_shapes, __NN_B>, )*
                #( #[doc = #saved_docs] pub #saved_names: #saved_tys, )*
                /// Backward's gradient batches, kept by `backward_into` for the next step.
                #[allow(dead_code)]
                __nn_bwd: ::core::option::Option<#bufs<__NN_B>>,
            }

            /// Gradient batches of backward: one per tensor that gets a gradient (and one per
            /// extra contribution to a tensor that several layers read).
            #[doc(hidden)]
            #[allow(dead_code, non_camel_case_types)]
            #vis struct #bufs<const __NN_B: usize> {
                #( #buf_names: #batch<#buf_shapes, __NN_B>, )*
            }

            #[automatically_derived]
            impl<const __NN_B: usize> #backward_buffers<#in_ty, __NN_B> for #bufs<__NN_B> {
                fn new() -> Self {
                    Self { #( #buf_names: #zeroed_batch(), )* }
                }
                fn input_grad(&self) -> &[#tensor<#in_ty>; __NN_B] {
                    &self.#d0
                }
                fn into_input_grad(self) -> #batch<#in_ty, __NN_B> {
                    self.#d0
                }
            }
        }
    }
}
