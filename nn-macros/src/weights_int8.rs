//! `#[weights_int8 = "file.safetensors"]`: an int8 twin's weight file (written by
//! `NameInt8::save_safetensors`, format `nn-int8/1`), read and checked during expansion as the
//! run-time loader (`NameInt8::load_safetensors`) checks it: the `format` and `rounding`
//! metadata, every tensor's presence, dtype and shape, int8 weights in `[-127, 127]`, scales
//! positive and finite, zero points in `[-128, 127]`, and no tensor the twin does not have. All
//! errors at the attribute's string, each naming the tensor and what was expected.
//! `expand::quant_bake` then emits the values as `static` arrays and `NameInt8::pretrained()`.
//!
//! The file is found as `#[weights]` finds its file (relative to the crate's `Cargo.toml`, else
//! to the declaring file) and included with `include_bytes!`, so editing it rebuilds.

use std::collections::HashMap;

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

use crate::model::Network;
use crate::weights::{find, Found, WeightFile};

pub use crate::weights::INT8_FORMAT;

/// The dtype of a tensor in an int8 twin's file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dtype {
    I8,
    I32,
    F32,
}

/// What a tensor's values must satisfy (as the run-time loader checks them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Int8 weights: in `[-127, 127]`.
    Weights,
    /// Scales: positive and finite.
    Scale,
    /// A zero point: in `[-128, 127]`.
    ZeroPoint,
    /// Anything of the dtype (biases, tables).
    Any,
}

/// One tensor an int8 twin's file must hold.
pub struct Expected {
    /// Its name in the file: `fc1.weight`, `tensors.3.scale`.
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub check: Check,
    /// Who needs it, for messages: "layer `fc1`", "tensor 3 of the forward pass".
    pub owner: String,
}

/// Removes a `#[weights_int8 = "..."]` attribute from `attrs`, returning its path and span.
pub fn take_attr(attrs: &mut Vec<Attribute>) -> Result<Option<WeightFile>, syn::Error> {
    let Some(i) = attrs.iter().position(|a| a.path().is_ident("weights_int8")) else {
        return Ok(None);
    };
    let attr = attrs.remove(i);
    let usage = "write `#[weights_int8 = \"path/to/twin.safetensors\"]` (an int8 twin's file, written by `NameInt8::save_safetensors`; a path relative to the crate's Cargo.toml)";
    match &attr.meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(Some(WeightFile {
                path: s.value(),
                span: s.span(),
                what: "weight file",
            })),
            other => Err(syn::Error::new_spanned(other, usage)),
        },
        _ => Err(syn::Error::new_spanned(&attr, usage)),
    }
}

/// A tensor's values, by dtype.
pub enum Values {
    I8(Vec<i8>),
    I32(Vec<i32>),
    F32(Vec<f32>),
}

/// A checked int8 twin's file.
pub struct Baked {
    /// `FixedPoint` or `Double` (a variant of `nn::quant::Rounding`).
    pub rounding: &'static str,
    /// Every expected tensor's values, by name.
    pub values: HashMap<String, Values>,
}

impl Baked {
    /// The value of a checked `F32` tensor of shape `[]`.
    pub fn scalar_f32(&self, name: &str) -> f32 {
        match self.values.get(name) {
            Some(Values::F32(v)) => v.first().copied().unwrap_or(1.0),
            _ => 1.0,
        }
    }

    /// The value of a checked `I32` tensor of shape `[]`.
    pub fn scalar_i32(&self, name: &str) -> i32 {
        match self.values.get(name) {
            Some(Values::I32(v)) => v.first().copied().unwrap_or(0),
            _ => 0,
        }
    }
}

/// The dtype as safetensors spells it.
fn dtype_of(d: Dtype) -> safetensors::Dtype {
    match d {
        Dtype::I8 => safetensors::Dtype::I8,
        Dtype::I32 => safetensors::Dtype::I32,
        Dtype::F32 => safetensors::Dtype::F32,
    }
}

/// What a tensor holds, for messages.
fn what(t: &Expected) -> &'static str {
    match (t.check, t.dtype) {
        (Check::Weights, _) => "int8 weights",
        (Check::Scale, _) if t.shape.is_empty() => "a scale",
        (Check::Scale, _) => "weight scales, one per output channel",
        (Check::ZeroPoint, _) => "a zero point",
        (Check::Any, Dtype::I32) => "int32 biases",
        (Check::Any, _) => "a 256-entry int8 lookup table",
    }
}

/// The values of a view of the right dtype.
fn values(d: Dtype, data: &[u8]) -> Values {
    let words = || data.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
    match d {
        Dtype::I8 => Values::I8(data.iter().map(|&b| b as i8).collect()),
        Dtype::I32 => Values::I32(words().map(i32::from_le_bytes).collect()),
        Dtype::F32 => Values::F32(words().map(f32::from_le_bytes).collect()),
    }
}

/// The first value that breaks `check`, as a message, if any.
fn bad_value(check: Check, v: &Values) -> Option<String> {
    match (check, v) {
        (Check::Weights, Values::I8(v)) => v.iter().position(|&x| x == i8::MIN).map(|i| {
            format!("has -128 at flat index {i}: int8 weights are symmetric, in [-127, 127]")
        }),
        (Check::Scale, Values::F32(v)) => {
            v.iter()
                .position(|x| !(x.is_finite() && *x > 0.0))
                .map(|i| {
                    format!(
                        "has {} at flat index {i}: a scale must be positive and finite",
                        v[i]
                    )
                })
        }
        (Check::ZeroPoint, Values::I32(v)) => v
            .iter()
            .find(|z| !(-128..=127).contains(*z))
            .map(|z| format!("is {z}, outside the int8 range [-128, 127]")),
        _ => None,
    }
}

/// Reads the file and checks it against `want` (from `quant_bake::expected`). Returns the
/// values, or every error at once (a file that is not an int8 twin's: that error alone).
pub fn read(
    net: &Network,
    want: &[Expected],
    file: &WeightFile,
) -> Result<(Baked, Found), syn::Error> {
    let (path, span) = (file.path.as_str(), file.span);
    let twin = format!("{}Int8", net.name);
    let (bytes, found) = find(file)?;
    let invalid = |e: safetensors::SafeTensorError| {
        syn::Error::new(
            span,
            format!("`{path}` is not a valid safetensors file: {e}"),
        )
    };
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(invalid)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(invalid)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    match metadata.get("format").map(String::as_str) {
        Some(INT8_FORMAT) => {}
        Some(other) => {
            return Err(syn::Error::new(
                span,
                format!("`{path}` has format `{other}`; `#[weights_int8]` reads int8 twins' files, format `{INT8_FORMAT}` (written by `{twin}::save_safetensors`)"),
            ))
        }
        None => {
            return Err(syn::Error::new(
                span,
                format!("`{path}` is not an int8 twin's file: its metadata has no `format = \"{INT8_FORMAT}\"` (written by `{twin}::save_safetensors`); an f32 weight file goes in `#[weights = \"{path}\"]`"),
            ))
        }
    }
    let mut errors: Option<syn::Error> = None;
    let mut push = |msg: String| {
        let e = syn::Error::new(span, msg);
        match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        }
    };
    let rounding = match metadata.get("rounding").map(String::as_str) {
        Some("FixedPoint") => "FixedPoint",
        Some("Double") => "Double",
        Some("Onnx") => "Onnx",
        Some(other) => {
            push(format!("the `rounding` metadata of `{path}` is `{other}`; expected `FixedPoint` or `Double`"));
            "FixedPoint"
        }
        None => {
            push(format!(
                "`{path}` has no `rounding` metadata (`FixedPoint` or `Double`)"
            ));
            "FixedPoint"
        }
    };
    let mut out = HashMap::new();
    for t in want {
        let (name, owner, shape) = (&t.name, &t.owner, &t.shape);
        let dtype = dtype_of(t.dtype);
        match tensors.tensor(name) {
            Err(_) => push(format!(
                "`{path}` has no tensor `{name}` ({dtype:?} {shape:?}), which {owner} of `{twin}` needs"
            )),
            Ok(view) if view.dtype() != dtype => push(format!(
                "tensor `{name}` in `{path}` is {:?}; {owner} of `{twin}` needs {dtype:?} ({})",
                view.dtype(),
                what(t)
            )),
            Ok(view) if view.shape() != shape.as_slice() => push(format!(
                "tensor `{name}` in `{path}` has shape {:?}, but {owner} of `{twin}` needs {shape:?}{}",
                view.shape(),
                if t.check == Check::Weights { " (PyTorch layout)" } else { "" }
            )),
            Ok(view) => {
                let v = values(t.dtype, view.data());
                match bad_value(t.check, &v) {
                    Some(why) => push(format!("tensor `{name}` in `{path}` {why}")),
                    None => {
                        out.insert(name.clone(), v);
                    }
                }
            }
        }
    }
    let mut names = tensors.names();
    names.sort();
    for name in names {
        if !want.iter().any(|t| t.name == *name) && !name.ends_with(".num_batches_tracked") {
            push(format!(
                "`{path}` has a tensor `{name}` that `{twin}` does not have"
            ));
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok((
            Baked {
                rounding,
                values: out,
            },
            found,
        )),
    }
}
