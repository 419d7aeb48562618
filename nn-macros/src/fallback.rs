//! After errors: the errors, plus items that still type-check (thiserror's fallback), so code
//! that uses the network sees the errors and no follow-on ones ("cannot find type", "no method
//! named `forward`").

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;
use crate::model::Network;

/// The errors, then the network's struct and impls with `unreachable!()` bodies (from the
/// best-effort network the checks left).
pub fn network(net: &Network, errors: syn::Error) -> TokenStream {
    let mut out = errors.to_compile_error();
    out.extend(expand::unreachable(net));
    out
}

/// The weight file's errors, plus a `pretrained()` that type-checks.
pub fn pretrained(net: &Network, errors: syn::Error) -> TokenStream {
    let mut out = errors.to_compile_error();
    let name = &net.name;
    out.extend(quote! {
        impl #name {
            /// Unavailable: the weight file has errors.
            pub fn pretrained() -> Self {
                ::core::unreachable!("the weight file has errors")
            }
        }
    });
    out
}
