//! `#[onnx = "model.onnx"] pub struct Name;`: a network declared by an ONNX file.
//!
//! The file is read during expansion (relative to the crate's `Cargo.toml`, as `#[weights]`),
//! mapped onto the DSL's layers by `nn_onnx::import` (every unsupported node is an error at the
//! attribute naming the node, its operator and why), and its layer list parsed as if written
//! in the declaration: every check and every generated item is that of a hand-written
//! network. The weights are checked like a `#[weights]` file's and baked in the same way
//! (`Name::pretrained()`); the file is included with `include_bytes!`, so editing it rebuilds.

use std::str::FromStr;

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Visibility};

use crate::ast::NetworkDef;
use crate::weights::{self, Found, Stored, WeightFile};

/// The whole model behind `#[onnx]`: the declaration it stands for and its weights.
pub struct Imported {
    pub def: NetworkDef,
    pub file: WeightFile,
    pub found: Found,
    pub tensors: Vec<nn_onnx::import::NamedTensor>,
}

/// `attrs vis struct Name;` (the form `#[onnx]` takes).
pub struct UnitDecl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
}

impl Parse for UnitDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        input.parse::<Token![;]>()?;
        Ok(UnitDecl { attrs, vis, name })
    }
}

/// Whether `input` is a declaration with an `#[onnx]` attribute (either form: `struct Name;`
/// as it should be, or with a body, which [`import`] refuses).
pub fn wants_onnx(input: &TokenStream) -> bool {
    let mut it = input.clone().into_iter().peekable();
    while let Some(TokenTree::Punct(p)) = it.peek() {
        if p.as_char() != '#' {
            break;
        }
        it.next();
        if let Some(TokenTree::Group(g)) = it.next() {
            if let Some(TokenTree::Ident(i)) = g.stream().into_iter().next() {
                if i == "onnx" {
                    return true;
                }
            }
        }
    }
    false
}

/// Reads the `#[onnx]` declaration in `input` into the declaration the file stands for.
pub fn import(input: TokenStream) -> Result<Imported, syn::Error> {
    let decl: UnitDecl = syn::parse2(input.clone()).map_err(|e| {
        // A body beside the file: say which one declares the layers.
        if syn::parse2::<NetworkDef>(input).is_ok() {
            syn::Error::new(
                e.span(),
                "a network with `#[onnx = \"..\"]` takes its layers from the file: write `struct Name;` without a layer list, or remove the attribute",
            )
        } else {
            e
        }
    })?;
    let mut attrs = decl.attrs;
    let file = take_attr(&mut attrs)?;
    if let Some(a) = attrs.iter().find(|a| a.path().is_ident("weights")) {
        return Err(syn::Error::new_spanned(
            a,
            "`#[weights]` and `#[onnx]` both give weights; the ONNX file's are baked in already (remove `#[weights]`)",
        ));
    }
    let (bytes, found) = weights::find(&file)?;
    let path = file.path.as_str();
    let at = |e: String| syn::Error::new(file.span, format!("`{path}`: {e}"));
    let model = nn_onnx::Model::from_bytes(&bytes).map_err(|e| at(e.to_string()))?;
    let decl_onnx = nn_onnx::import::import(&model).map_err(|e| at(e.to_string()))?;
    let body = TokenStream::from_str(&decl_onnx.body(""))
        .map_err(|e| at(format!("the imported layer list does not tokenize: {e}")))?;
    let body = respan(body, file.span);
    let (vis, name) = (decl.vis, decl.name);
    let def: NetworkDef = syn::parse2(quote! {
        #(#attrs)*
        #vis struct #name { #body }
    })
    .map_err(|e| at(format!("the imported layer list does not parse: {e}")))?;
    Ok(Imported {
        def,
        file,
        found,
        tensors: decl_onnx.tensors,
    })
}

/// Removes the `#[onnx = "..."]` attribute, returning the file.
fn take_attr(attrs: &mut Vec<Attribute>) -> Result<WeightFile, syn::Error> {
    let i = attrs
        .iter()
        .position(|a| a.path().is_ident("onnx"))
        .ok_or_else(|| syn::Error::new(Span::call_site(), "expected `#[onnx = \"model.onnx\"]`"))?;
    let attr = attrs.remove(i);
    let usage = "write the model file as a string: `#[onnx = \"path/to/model.onnx\"]` (relative to the crate's Cargo.toml, or else to the file that declares the network)";
    match &attr.meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Ok(WeightFile {
                path: s.value(),
                span: s.span(),
                what: "ONNX file",
            }),
            other => Err(syn::Error::new_spanned(other, usage)),
        },
        _ => Err(syn::Error::new_spanned(&attr, usage)),
    }
}

/// The tokens with every span set to `span` (the attribute's string), so that any error about
/// the imported layers points at the file's name.
fn respan(ts: TokenStream, span: Span) -> TokenStream {
    ts.into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), respan(g.stream(), span));
                ng.set_span(span);
                TokenTree::Group(ng)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The imported weights, checked against the network like a `#[weights]` file's.
pub fn tensors<'a>(
    net: &'a crate::model::Network,
    im_file: &WeightFile,
    tensors: &[nn_onnx::import::NamedTensor],
) -> Result<Vec<weights::Tensor<'a>>, syn::Error> {
    let lookup = |name: &str| {
        tensors.iter().find(|t| t.name == name).map(|t| Stored {
            dtype: None,
            shape: t.shape.clone(),
            values: t.data.clone(),
        })
    };
    let names = tensors.iter().map(|t| t.name.clone()).collect();
    weights::check(net, &im_file.path, im_file.span, lookup, names)
}
