//! `#[weights = "file.safetensors"]`: the attribute, and the file it names, read and checked
//! during expansion.
//!
//! The file is read relative to `CARGO_MANIFEST_DIR`, and every tensor's name and shape is
//! checked against the network (PyTorch `state_dict` names and layouts, from each layer kind's
//! tensors), all errors at the attribute. `expand::weights` then emits the values as `static`
//! arrays in the file's layout, so a `no_std` binary keeps them in flash; `Name::pretrained()`
//! builds the network from them through the runtime's `LayerTensors`, which owns the conversion
//! to the memory layout. The file is included with
//! `include_bytes!`, so editing it triggers a rebuild.

extern crate proc_macro;

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

use crate::layers::{Layer, TensorSpec};
use crate::model::Network;

/// The weight file a network names.
pub struct WeightFile {
    /// As written: relative to the crate's `Cargo.toml`, or else to the declaring file.
    pub path: String,
    /// The string's span, where errors about the file go.
    pub span: Span,
    /// What the file is, for messages: `weight file`, `ONNX file`.
    pub what: &'static str,
}

/// Where a weight file was found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Relative to the crate's `Cargo.toml` (`CARGO_MANIFEST_DIR`).
    Manifest,
    /// Relative to the source file that declares the network (as `include_bytes!` resolves).
    Beside,
}

/// The `format` metadata of an int8 twin's file (nn-core's `INT8_FORMAT`).
pub const INT8_FORMAT: &str = "nn-int8/1";

/// Reads the file: relative to the crate's `Cargo.toml` first, then to the declaring file.
pub fn find(file: &WeightFile) -> Result<(Vec<u8>, Found), syn::Error> {
    let path = file.path.as_str();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let first = match std::fs::read(std::path::Path::new(&dir).join(path)) {
        Ok(bytes) => return Ok((bytes, Found::Manifest)),
        Err(e) => e,
    };
    // The declaring file is known only inside a real macro expansion (not in unit tests).
    let beside = proc_macro::is_available()
        .then(|| file.span.unwrap().local_file())
        .flatten()
        .and_then(|f| f.parent().map(|d| d.join(path)));
    if let Some(Ok(bytes)) = beside.map(std::fs::read) {
        return Ok((bytes, Found::Beside));
    }
    Err(syn::Error::new(
        file.span,
        format!("cannot read the {} `{path}` ({first}); a relative path is looked for next to the crate's Cargo.toml, then next to the file that declares the network", file.what),
    ))
}

/// Removes a `#[weights = "..."]` attribute from `attrs`, returning its path and span.
pub fn take_attr(attrs: &mut Vec<Attribute>) -> Result<Option<WeightFile>, syn::Error> {
    let Some(i) = attrs.iter().position(|a| a.path().is_ident("weights")) else {
        return Ok(None);
    };
    let attr = attrs.remove(i);
    match &attr.meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(Some(WeightFile {
                path: s.value(),
                span: s.span(),
                what: "weight file",
            })),
            other => Err(syn::Error::new_spanned(other, "write the weight file as a string: `#[weights = \"path/to/file.safetensors\"]`")),
        },
        _ => Err(syn::Error::new_spanned(&attr, "write `#[weights = \"path/to/file.safetensors\"]` (a path relative to the crate's Cargo.toml)")),
    }
}

/// One tensor of the file, checked, for the layer that holds it.
pub struct Tensor<'a> {
    /// Its name in the file: `fc1.weight`.
    pub name: String,
    pub layer: &'a Layer,
    pub spec: TensorSpec,
    /// The values in the file's (PyTorch's) layout.
    pub values: Vec<f32>,
}

/// Every tensor the network expects, in order: each parameterized layer's, under its name.
fn expected(net: &Network) -> Vec<(String, &Layer, TensorSpec)> {
    net.param_layers()
        .flat_map(|l| {
            l.tensors()
                .into_iter()
                .map(move |spec| (format!("{}.{}", l.name, spec.suffix), l, spec))
        })
        .collect()
}

/// Reads the file and checks every tensor: present, `F32`, of the expected shape, finite; and
/// no tensor that no layer has. Returns the tensors, or every error at once.
pub fn read<'a>(
    net: &'a Network,
    file: &WeightFile,
) -> Result<(Vec<Tensor<'a>>, Found), syn::Error> {
    let (path, span) = (file.path.as_str(), file.span);
    let (bytes, found) = find(file)?;
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        syn::Error::new(
            span,
            format!("`{path}` is not a valid safetensors file: {e}"),
        )
    })?;
    // An int8 twin's file (all its tensors would be wrong here): one error that says so.
    let format = safetensors::SafeTensors::read_metadata(&bytes)
        .ok()
        .and_then(|(_, header)| header.metadata().as_ref()?.get("format").cloned());
    if format.as_deref() == Some(INT8_FORMAT) {
        return Err(syn::Error::new(
            span,
            format!(
                "`{path}` is an int8 twin's file (format `{}`), not f32 weights; bake it into `{}Int8` with `#[weights_int8 = \"{path}\"]`",
                INT8_FORMAT,
                net.name
            ),
        ));
    }
    let lookup = |name: &str| -> Option<Stored> {
        let view = file.tensor(name).ok()?;
        Some(Stored {
            dtype: (view.dtype() != safetensors::Dtype::F32).then(|| format!("{:?}", view.dtype())),
            shape: view.shape().to_vec(),
            values: view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        })
    };
    let names: Vec<String> = file.names().into_iter().map(String::from).collect();
    Ok((check(net, path, span, lookup, names)?, found))
}

/// A tensor as stored: its dtype when it is not `F32`, its shape and (for `F32`) its values.
pub struct Stored {
    pub dtype: Option<String>,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Checks the tensors of a source (a weight file, or an ONNX model's initializers) against
/// the network: each expected one present (`lookup`), `F32`, of the expected shape, finite;
/// none of `names` that no layer has. Errors at `span`, naming `path`.
pub fn check<'a>(
    net: &'a Network,
    path: &str,
    span: Span,
    lookup: impl Fn(&str) -> Option<Stored>,
    mut names: Vec<String>,
) -> Result<Vec<Tensor<'a>>, syn::Error> {
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
    for (k, (name, layer, spec)) in want.iter().enumerate() {
        match lookup(name) {
            None => push(format!("`{path}` has no tensor `{}` (shape {:?}), which layer `{}` needs", name, spec.shape, layer.name)),
            Some(Stored { dtype: Some(d), .. }) => {
                push(format!("tensor `{}` in `{path}` is {d}; the network needs F32", name))
            }
            Some(view) if view.shape != spec.shape.as_slice() => push(format!(
                "tensor `{}` in `{path}` has shape {:?}, but layer `{}` needs {:?} (PyTorch layout)",
                name,
                view.shape,
                layer.name,
                spec.shape
            )),
            Some(view) => {
                let data = view.values;
                if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                    push(format!("tensor `{}` in `{path}` has a NaN or infinite value at flat index {i}", name));
                } else {
                    values.insert(k, data);
                }
            }
        }
    }
    let known: Vec<&str> = want.iter().map(|(name, ..)| name.as_str()).collect();
    names.sort();
    for name in names {
        let name = name.as_str();
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

    Ok(want
        .into_iter()
        .enumerate()
        .map(|(k, (name, layer, spec))| Tensor {
            name,
            layer,
            spec,
            values: values.remove(&k).unwrap_or_default(),
        })
        .collect())
}
