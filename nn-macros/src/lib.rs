//! The `network!` procedural macro of the `nn` crate.
//!
//! Pipeline: [`parse`] the DSL into our own AST ([`ast`]), [`check`] every rule and infer every
//! shape (all errors collected, each spanned), then [`expand`] into straight-line code over
//! concrete layer types. Use it through `nn::network!`.

// Layer names follow the DSL and PyTorch (`GELU`, `SELU`), not Rust's acronym style.
#![allow(clippy::upper_case_acronyms)]

use proc_macro::TokenStream;

mod args;
mod ast;
mod check;
mod ctxt;
mod expand;
mod fold;
mod model;
mod parse;
mod spatial;
mod suggest;
mod weights;

/// Declares a network whose tensor shapes are checked at compile time. See the `nn` crate.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    run(input.into()).into()
}

/// Parse, check and expand; on errors, the errors plus a fallback struct.
fn run(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut def: ast::NetworkDef = match syn::parse2(input) {
        Ok(def) => def,
        Err(e) => return e.to_compile_error(),
    };
    let weights = weights::take_attr(&mut def.attrs);
    let (net, result) = check::check(def);
    let result = match (result, &weights) {
        (Ok(()), Err(e)) => Err(e.clone()),
        (Err(mut a), Err(e)) => {
            a.combine(e.clone());
            Err(a)
        }
        (r, _) => r,
    };
    match result {
        Ok(()) => {
            let mut out = expand::expand(&net, true);
            if let Ok(Some((path, span))) = &weights {
                match weights::expand(&net, path, *span) {
                    Ok(w) => out.extend(w),
                    Err(e) => {
                        // The error, plus a `pretrained` that type-checks, so callers see no
                        // follow-on error.
                        out.extend(e.to_compile_error());
                        let name = &net.name;
                        out.extend(quote::quote! {
                            impl #name {
                                /// Unavailable: the weight file has errors.
                                pub fn pretrained() -> Self {
                                    ::core::unreachable!("the weight file has errors")
                                }
                            }
                        });
                    }
                }
            }
            out
        }
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(expand::expand(&net, false));
            out
        }
    }
}

#[cfg(test)]
mod tests;
