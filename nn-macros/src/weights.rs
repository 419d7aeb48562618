//! `#[weights = "file.safetensors"]`: weights baked in at compile time.
//!
//! The file is read during expansion (relative to `CARGO_MANIFEST_DIR`), every tensor's name and
//! shape is checked against the network (PyTorch `state_dict` names and layouts), and the
//! values are emitted as `static` arrays in the network's memory layout, so a `no_std` binary
//! keeps them in flash; `Name::pretrained()` builds the network from them. The file is included
//! with `include_bytes!`, so editing it triggers a rebuild.

use std::collections::BTreeMap;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

use crate::model::{Layer, LayerKind, Network};

/// Removes a `#[weights = "..."]` attribute from `attrs`, returning its path and span.
pub fn take_attr(attrs: &mut Vec<Attribute>) -> Result<Option<(String, Span)>, syn::Error> {
    let Some(i) = attrs.iter().position(|a| a.path().is_ident("weights")) else {
        return Ok(None);
    };
    let attr = attrs.remove(i);
    match &attr.meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(Some((s.value(), s.span()))),
            other => Err(syn::Error::new_spanned(other, "write the weight file as a string: `#[weights = \"path/to/file.safetensors\"]`")),
        },
        _ => Err(syn::Error::new_spanned(&attr, "write `#[weights = \"path/to/file.safetensors\"]` (a path relative to the crate's Cargo.toml)")),
    }
}

/// One tensor the network expects: its name, PyTorch shape, and how to place it in memory.
struct Expected {
    name: String,
    shape: Vec<usize>,
    /// Field and what to assign.
    field: syn::Ident,
    target: Target,
}

enum Target {
    /// Dense weight: torch [out, in] -> memory [in][out].
    DenseWeight { i: usize, o: usize },
    /// Convolution weight: torch [out, in, taps] -> memory [taps][in][out].
    ConvWeight { ci: usize, co: usize, taps: usize },
    /// A slice copied as is: `b`, BN vectors, PReLU alpha.
    Plain(&'static str),
}

fn expected(net: &Network) -> Vec<Expected> {
    let mut out = Vec::new();
    for l in net.layers.iter().filter(|l| l.kind.has_params()) {
        let f = l.name.clone();
        let n = |p: &str| format!("{}.{p}", l.name);
        match l.kind {
            LayerKind::Dense { .. } => {
                let (i, o) = (l.input.len() as usize, l.output.len() as usize);
                out.push(Expected {
                    name: n("weight"),
                    shape: vec![o, i],
                    field: f.clone(),
                    target: Target::DenseWeight { i, o },
                });
                out.push(Expected {
                    name: n("bias"),
                    shape: vec![o],
                    field: f,
                    target: Target::Plain("b"),
                });
            }
            LayerKind::Conv {
                filters, win, bias, ..
            } => {
                let ci = crate::check::channels(l.input) as usize;
                let co = filters as usize;
                let mut shape = vec![co, ci];
                if win.rank == 2 {
                    shape.extend([win.kh as usize, win.kw as usize]);
                } else {
                    shape.push(win.kw as usize);
                }
                let taps = (win.kh * win.kw) as usize;
                out.push(Expected {
                    name: n("weight"),
                    shape,
                    field: f.clone(),
                    target: Target::ConvWeight { ci, co, taps },
                });
                if bias {
                    out.push(Expected {
                        name: n("bias"),
                        shape: vec![co],
                        field: f,
                        target: Target::Plain("b"),
                    });
                }
            }
            LayerKind::BatchNorm => {
                let c = crate::check::channels(l.input) as usize;
                for (p, t) in [
                    ("weight", "gamma"),
                    ("bias", "beta"),
                    ("running_mean", "running_mean"),
                    ("running_var", "running_var"),
                ] {
                    out.push(Expected {
                        name: n(p),
                        shape: vec![c],
                        field: f.clone(),
                        target: Target::Plain(t),
                    });
                }
            }
            LayerKind::PReLU { per_channel, .. } => {
                let c = if per_channel {
                    crate::check::channels(l.input) as usize
                } else {
                    1
                };
                out.push(Expected {
                    name: n("weight"),
                    shape: vec![c],
                    field: f,
                    target: Target::Plain("alpha"),
                });
            }
            _ => {}
        }
    }
    out
}

fn layer_of<'a>(net: &'a Network, field: &syn::Ident) -> Option<&'a Layer> {
    net.layers.iter().find(|l| &l.name == field)
}

/// Reads and checks the file; returns the statics, `pretrained()` and the rebuild tracking.
pub fn expand(net: &Network, path: &str, span: Span) -> Result<TokenStream, syn::Error> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let full = std::path::Path::new(&dir).join(path);
    let bytes = std::fs::read(&full).map_err(|e| {
        syn::Error::new(span, format!("cannot read the weight file `{path}` ({e}); the path is relative to the crate's Cargo.toml ({})", full.display()))
    })?;
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        syn::Error::new(
            span,
            format!("`{path}` is not a valid safetensors file: {e}"),
        )
    })?;
    let want = expected(net);
    let mut errors: Option<syn::Error> = None;
    let mut push = |msg: String| {
        let e = syn::Error::new(span, msg);
        match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        }
    };
    let mut values: BTreeMap<usize, Vec<f32>> = BTreeMap::new();
    for (k, t) in want.iter().enumerate() {
        match file.tensor(&t.name) {
            Err(_) => push(format!("`{path}` has no tensor `{}` (shape {:?}), which layer `{}` needs", t.name, t.shape, t.field)),
            Ok(view) if view.dtype() != safetensors::Dtype::F32 => {
                push(format!("tensor `{}` in `{path}` is {:?}; the network needs F32", t.name, view.dtype()))
            }
            Ok(view) if view.shape() != t.shape.as_slice() => push(format!(
                "tensor `{}` in `{path}` has shape {:?}, but layer `{}` needs {:?} (PyTorch layout)",
                t.name,
                view.shape(),
                t.field,
                t.shape
            )),
            Ok(view) => {
                let data: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                    push(format!("tensor `{}` in `{path}` has a NaN or infinite value at flat index {i}", t.name));
                } else {
                    values.insert(k, data);
                }
            }
        }
    }
    let known: Vec<&str> = want.iter().map(|t| t.name.as_str()).collect();
    let mut names = file.names();
    names.sort();
    for name in names {
        if !known.contains(&name) && !name.ends_with(".num_batches_tracked") {
            push(format!(
                "`{path}` has a tensor `{name}` that no layer of `{}` has",
                net.name
            ));
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let name = &net.name;
    let mut statics = Vec::new();
    let mut assigns = Vec::new();
    for (k, t) in want.iter().enumerate() {
        let data = &values[&k];
        // Convert the PyTorch layout to the memory layout.
        let mem: Vec<f32> = match t.target {
            Target::DenseWeight { i, o } => (0..i * o).map(|m| data[(m % o) * i + m / o]).collect(),
            Target::ConvWeight { ci, co, taps } => (0..ci * co * taps)
                .map(|m| {
                    let (tap, rest) = (m / (ci * co), m % (ci * co));
                    let (c_in, c_out) = (rest / co, rest % co);
                    data[(c_out * ci + c_in) * taps + tap]
                })
                .collect(),
            Target::Plain(_) => data.clone(),
        };
        let ident = format_ident!("__NN_{}_W{}", name.to_string().to_uppercase(), k);
        let len = mem.len();
        let lits = mem.iter().map(|v| Literal::f32_suffixed(*v));
        let doc = format!("`{}` from `{path}`, in memory layout.", t.name);
        statics.push(quote! {
            #[doc = #doc]
            #[doc(hidden)]
            pub static #ident: [f32; #len] = [#(#lits),*];
        });
        let field = &t.field;
        let ty = layer_of(net, field)
            .map(crate::expand::layer_ty)
            .unwrap_or_default();
        let layer = quote!(::core::borrow::BorrowMut::<#ty>::borrow_mut(&mut net.#field));
        assigns.push(match t.target {
            Target::DenseWeight { .. } | Target::ConvWeight { .. } => {
                quote!(#layer.weights_mut().copy_from_slice(&#ident);)
            }
            Target::Plain("alpha")
                if len == 1
                    && matches!(
                        layer_of(net, field).map(|l| l.kind),
                        Some(LayerKind::PReLU {
                            per_channel: false,
                            ..
                        })
                    ) =>
            {
                quote!(#layer.alpha = #ident[0];)
            }
            Target::Plain(f) => {
                let f = format_ident!("{}", f);
                quote!(#layer.#f.copy_from_slice(&#ident);)
            }
        });
    }
    let doc = format!("The network with the weights of `{path}`, baked in at compile time (checked name by name and shape by shape).");
    Ok(quote! {
        const _: &[u8] = ::core::include_bytes!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #path));
        #(#statics)*
        impl #name {
            #[doc = #doc]
            pub fn pretrained() -> Self {
                let mut net = <Self as ::core::default::Default>::default();
                #(#assigns)*
                net
            }
        }
    })
}
