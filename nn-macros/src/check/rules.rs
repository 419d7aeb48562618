//! The rules that hold for the whole network and for every layer, one function each. The rules
//! of one layer kind (its arguments, its shape) live with the kind, in `layers`.

use proc_macro2::Span;

use crate::ast::{Dims, Entry, NetworkDef};
use crate::ctxt::Ctxt;
use crate::layers::{self, Resolve};
use crate::shape::Shape;

/// Rule: a network declares its input shape, `input: [n]`, `[c, l]` or `[c, h, w]`, with
/// non-zero dimensions. Without it no shape can be inferred.
pub fn check_input(cx: &mut Ctxt, def: &NetworkDef) -> Option<Shape> {
    let Some(dims) = &def.input else {
        cx.error(
            def.name.span(),
            format!(
                "network `{}` has no input shape; add `input: [N],` as its first line, e.g. `input: [16],` for 16 features or `input: [1, 28, 28],` for an image",
                def.name
            ),
        );
        return None;
    };
    let values = check_dims(cx, dims, "the input")?;
    let shape = match values.as_slice() {
        [n] => Some(Shape::D1(*n)),
        [c, l] => Some(Shape::D2(*c, *l)),
        [c, h, w] => Some(Shape::D3(*c, *h, *w)),
        _ => {
            cx.error(dims.span, format!("the input has {} dimensions; use `[features]`, `[channels, length]` or `[channels, height, width]`", values.len()));
            None
        }
    };
    shape.filter(|&sh| check_size(cx, "the input", dims.span, sh, 0))
}

/// Rule: a network has at least one layer (an empty network is surely unfinished).
pub fn check_not_empty(cx: &mut Ctxt, def: &NetworkDef) {
    if def.entries.is_empty() {
        cx.error(
            def.name.span(),
            format!(
                "network `{}` has no layers; add at least one, e.g. `Dense(10)`",
                def.name
            ),
        );
    }
}

/// Rule: no zero-sized tensor. Reads a bracketed shape; every dimension must be at least 1 and
/// fit in 64 bits, and there must be one.
pub fn check_dims(cx: &mut Ctxt, dims: &Dims, what: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    let mut ok = true;
    for d in &dims.dims {
        match d.base10_parse::<u64>() {
            Ok(0) => {
                cx.error(
                    d.span(),
                    format!("{what} has a dimension of 0; every dimension must be at least 1"),
                );
                ok = false;
            }
            Ok(v) => out.push(v),
            Err(_) => {
                cx.error(
                    d.span(),
                    format!("{what}: `{d}` is not a whole number that fits in 64 bits"),
                );
                ok = false;
            }
        }
    }
    if dims.dims.is_empty() {
        cx.error(
            dims.span,
            format!("{what} has no dimensions; write e.g. `[16]`"),
        );
        ok = false;
    }
    ok.then_some(out)
}

/// Rule: the layer exists. An unknown name is an error that suggests the closest known one
/// (most unknown names are typos or another framework's spelling). Returns the function that
/// reads the layer's arguments.
pub fn check_known_layer(cx: &mut Ctxt, e: &Entry) -> Option<Resolve> {
    let kind = e.kind.to_string();
    if let Some(resolve) = layers::resolver(&kind) {
        return Some(resolve);
    }
    let hint = crate::suggest::closest(&kind, layers::names())
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    let names: Vec<&str> = layers::names().collect();
    cx.error(
        e.kind.span(),
        format!(
            "unknown layer `{kind}`; {hint}the layers are {}",
            names.join(", ")
        ),
    );
    None
}

/// Rule: a shape annotation `-> [..]` must equal the computed output shape (it documents the
/// shape for the reader, so it must not lie).
pub fn check_annotation(cx: &mut Ctxt, who: &str, e: &Entry, ann: &Dims, out: Shape, input: Shape) {
    let Some(values) = check_dims(cx, ann, &format!("{who}: the annotation")) else {
        return;
    };
    if values != out.dims() {
        let written: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        cx.error(
            ann.span,
            format!(
                "{who}: the annotation says the output is [{}], but `{}` on input {input} gives {out}; write `-> {out}` or change the layer",
                written.join(", "),
                e.kind
            ),
        );
    }
}

/// The largest tensor (values) a layer may produce or hold: 2^26 `f32`s, 256 MiB.
const MAX_VALUES: u64 = 1 << 26;

/// Rule: tensors and parameter sets stay within what a fixed-size, stack-or-static network can
/// hold (and what typenum can name without exhausting the compiler).
pub fn check_size(cx: &mut Ctxt, who: &str, span: Span, out: Shape, params: u64) -> bool {
    if out.len() > MAX_VALUES || params > MAX_VALUES {
        let (what, n) = if out.len() > MAX_VALUES {
            ("output", out.len())
        } else {
            ("parameter set", params)
        };
        cx.error(
            span,
            format!("{who}: its {what} has {n} values, more than the {MAX_VALUES} (256 MiB of f32) a fixed-size network supports; use smaller layers"),
        );
        return false;
    }
    true
}

/// The traits `network!` implements for a network itself (derives of them conflict).
const IMPLEMENTED: &[&str] = &["Clone", "Debug", "Default"];

/// The traits a network can derive besides those: every field type implements them.
const DERIVABLE: &[&str] = &["PartialEq"];

/// Rule: derives on a network either work or are an error here, not inside the generated code.
/// `Clone`, `Debug` and `Default` are implemented already (a derive would conflict);
/// `PartialEq` works (every layer compares its parameters); any other trait is not implemented
/// by the layers, so deriving it cannot work. Derives inside `cfg_attr` are checked alike.
///
/// An attribute with a rejected derive is dropped, so the fallback struct does not repeat the
/// error in rustc's words.
pub fn check_attributes(cx: &mut Ctxt, def: &mut NetworkDef) {
    let name = def.name.clone();
    def.attrs.retain(|attr| {
        let mut ok = true;
        for path in derived(attr) {
            let Some(last) = path.segments.last().map(|s| s.ident.to_string()) else {
                continue;
            };
            let span = syn::spanned::Spanned::span(&path);
            if IMPLEMENTED.contains(&last.as_str()) {
                ok = false;
                cx.error(span, format!("`{name}` implements `{last}` already: `network!` implements `Clone`, `Debug` and `Default` for every network; remove `{last}` from the derive"));
            } else if !DERIVABLE.contains(&last.as_str()) {
                ok = false;
                cx.error(span, format!("`{last}` cannot be derived for a network: its layer types do not implement it; a network implements `Clone`, `Debug` and `Default`, and derives `PartialEq` on request; implement `{last}` for `{name}` by hand"));
            }
        }
        ok
    });
}

/// The paths a `derive` (or a `derive` inside `cfg_attr`) names.
fn derived(attr: &syn::Attribute) -> Vec<syn::Path> {
    use syn::punctuated::Punctuated;
    let paths = Punctuated::<syn::Path, syn::Token![,]>::parse_terminated;
    if attr.path().is_ident("derive") {
        return attr
            .parse_args_with(paths)
            .map(|p| p.into_iter().collect())
            .unwrap_or_default();
    }
    if attr.path().is_ident("cfg_attr") {
        // `cfg_attr(predicate, attr, ...)`: the attributes after the predicate.
        let metas = Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated;
        let Ok(metas) = attr.parse_args_with(metas) else {
            return Vec::new();
        };
        return metas
            .into_iter()
            .skip(1)
            .filter(|m| m.path().is_ident("derive"))
            .filter_map(|m| match m {
                syn::Meta::List(list) => list.parse_args_with(paths).ok(),
                _ => None,
            })
            .flatten()
            .collect();
    }
    Vec::new()
}
