//! Baked weights: the tensors of a `#[weights]` file (read and checked by `crate::weights`) as
//! `static` arrays, and `Name::pretrained()`.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::Network;
use crate::paths;
use crate::weights::{Found, Tensor, WeightFile};

/// The statics, `pretrained()` and the rebuild tracking.
pub fn pretrained(
    net: &Network,
    file: &WeightFile,
    (tensors, found): (&[Tensor], Found),
) -> TokenStream {
    let path = &file.path;
    let name = &net.name;
    let mut statics = Vec::new();
    let mut assigns = Vec::new();
    for (k, t) in tensors.iter().enumerate() {
        let values = &t.values;
        let ident = static_name(name, k);
        let len = values.len();
        let lits = values.iter().map(|v| Literal::f32_suffixed(*v));
        let doc = format!("`{}` from `{path}`, in PyTorch's layout.", t.name);
        statics.push(quote! {
            #[doc = #doc]
            #[doc(hidden)]
            pub static #ident: [f32; #len] = [#(#lits),*];
        });
        let (field, ty, suffix) = (&t.layer.name, t.layer.ty(), t.spec.suffix);
        let (tensors, layout, info) =
            (paths::layer_tensors(), paths::layout(), paths::field_info());
        // The names and shapes were checked against the file; the runtime converts the layout.
        assigns.push(quote! {
            let _found = #tensors::write_named(
                ::core::borrow::BorrowMut::<#ty>::borrow_mut(&mut net.#field),
                #suffix,
                #layout::PyTorch,
                <#info as ::core::default::Default>::default(),
                &#ident,
            );
            ::core::debug_assert!(_found, "a checked tensor was not found");
        });
    }
    // Included, so that editing the file rebuilds the crate.
    let include = match found {
        Found::Manifest => quote!(::core::include_bytes!(
            ::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #path)
        )),
        Found::Beside => quote!(::core::include_bytes!(#path)),
    };
    let doc = format!("The network with the weights of `{path}`, baked in at compile time (checked name by name and shape by shape).");
    quote! {
        const _: &[u8] = #include;
        #(#statics)*
        impl #name {
            #[doc = #doc]
            pub fn pretrained() -> Self {
                let mut net = <Self as ::core::default::Default>::default();
                #(#assigns)*
                net
            }
        }
    }
}

/// The name of the `static` holding tensor `k` (in the file's checked order) of network `net`.
pub fn static_name(net: &proc_macro2::Ident, k: usize) -> proc_macro2::Ident {
    format_ident!("__NN_{}_W{}", net.to_string().to_uppercase(), k)
}
