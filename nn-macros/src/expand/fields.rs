//! The parameterized layers as struct fields: the one list that every per-field item (the
//! structs, `Default`, `Parameters`, `StateDict`, `new`, `fold`) is generated from.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::layers::Layer;
use crate::model::Network;
use crate::paths;

/// One field per parameterized layer, in declaration order.
pub struct Fields<'a> {
    pub layers: Vec<&'a Layer>,
    /// Field names.
    pub names: Vec<&'a Ident>,
    /// Field names as strings: the layer part of parameter and tensor names.
    pub keys: Vec<String>,
    /// Layer types.
    pub tys: Vec<TokenStream>,
    /// Field types: the layer type, or `Large<T>` (boxed) when big.
    pub field_tys: Vec<TokenStream>,
}

/// How a [`Fields::parameters`] call reaches each field.
pub enum Access<'a> {
    /// `Parameters::visit(&field, ..)`.
    Visit,
    /// `Parameters::visit_mut(&mut field, ..)`.
    VisitMut,
    /// `Parameters::zip_mut(&mut field, &other.field, ..)`.
    ZipMut(&'a Ident),
}

impl<'a> Fields<'a> {
    pub fn new(net: &'a Network) -> Fields<'a> {
        let layers: Vec<&Layer> = net.param_layers().collect();
        Fields {
            names: layers.iter().map(|l| &l.name).collect(),
            keys: layers.iter().map(|l| l.name.to_string()).collect(),
            tys: layers.iter().map(|l| l.ty()).collect(),
            field_tys: layers.iter().map(|l| l.field_ty()).collect(),
            layers,
        }
    }

    /// `Parameters::visit`, `visit_mut` or `zip_mut` on every field, each under its name: the
    /// bodies of the `Parameters` impls of the network and its gradients, and of
    /// `Trainable::zip_gradients`.
    pub fn parameters(&self, access: Access) -> TokenStream {
        let parameters = paths::parameters();
        let calls = self.names.iter().zip(&self.tys).zip(&self.keys).map(|((name, ty), key)| {
            let mine = quote!(::core::borrow::BorrowMut::<#ty>::borrow_mut(&mut self.#name));
            match access {
                Access::Visit => quote! {
                    #parameters::visit(::core::borrow::Borrow::<#ty>::borrow(&self.#name), #key, f);
                },
                Access::VisitMut => quote! {
                    #parameters::visit_mut(#mine, #key, f);
                },
                Access::ZipMut(other) => quote! {
                    #parameters::zip_mut(
                        #mine,
                        ::core::borrow::Borrow::<#ty>::borrow(&#other.#name),
                        #key,
                        f,
                    );
                },
            }
        });
        quote!(#(#calls)*)
    }

    /// Every field cloned (`Clone`): large ones in place on the heap, without the stack
    /// temporary of `Box::clone`.
    pub fn cloned(&self) -> Vec<TokenStream> {
        let clone_large = paths::clone_large();
        self.layers
            .iter()
            .zip(&self.tys)
            .zip(&self.names)
            .map(|((l, ty), name)| {
                if l.is_large() {
                    quote!(#clone_large::<#ty>(::core::borrow::Borrow::<#ty>::borrow(&self.#name)))
                } else {
                    quote!(::core::clone::Clone::clone(&self.#name))
                }
            })
            .collect()
    }

    /// Every field zeroed, built in place (`Default`).
    pub fn zeroed(&self) -> Vec<TokenStream> {
        self.layers
            .iter()
            .zip(&self.tys)
            .map(|(l, ty)| {
                let make = l.storage();
                quote!(#make(|_: &mut #ty| {}))
            })
            .collect()
    }
}
