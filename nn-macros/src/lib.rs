//! The `network!` procedural macro of the `nn` crate. Use it through `nn::network!`; its
//! documentation is the DSL reference.
//!
//! The pipeline, as serde_derive's and thiserror's: `parse` reads the DSL into the macro's own
//! AST (`ast`, every number and name with its span); `check` infers every shape and applies
//! every rule, one function each, collecting all errors (`ctxt`); `expand` generates the code;
//! after errors, `fallback` emits the errors and items that still type-check. What each layer
//! kind is and does is described once, in `layers` (one module per kind, and the registry);
//! every path into the runtime crate is in `paths`.

// Layer names follow the DSL and PyTorch (`GELU`, `SELU`), not Rust's acronym style.
#![allow(clippy::upper_case_acronyms)]

use proc_macro::TokenStream;

mod args;
mod ast;
mod check;
mod ctxt;
mod expand;
mod fallback;
mod fixed_attr;
mod layers;
mod model;
mod onnx;
mod onnx_node;
mod parse;
mod paths;
mod shape;
mod suggest;
mod weights;
mod weights_int8;

/// Declares a network whose tensor shapes are checked at compile time.
///
/// The macro takes a struct-like declaration, an input shape and a list of layers; infers every
/// tensor shape from the literals; reports each mistake as a compile error at the offending
/// token, in plain words with the arithmetic and a fix; and generates a struct with
/// straight-line forward and backward code over concrete, fixed-size layer types.
///
/// ```ignore
/// use nn::prelude::*;
///
/// nn::network! {
///     /// The hls4ml jet tagger: 16 jet features, 5 classes.
///     pub struct JetTagger {
///         input: [16],
///         fc1: Dense(64), ReLU,
///         fc2: Dense(32), ReLU,
///         fc3: Dense(32), ReLU,
///         out: Dense(5) -> [5],
///         Softmax,
///     }
/// }
///
/// let net = JetTagger::new(42);
/// let p = net.forward(&[0.5f32; 16]);
/// assert_eq!(JetTagger::PARAMS, 4389);
/// ```
///
/// # Grammar
///
/// ```text
/// network := attribute* visibility? "struct" Name "{" "input" ":" dims ("," entry)* ","? "}"
/// entry   := (name ":")? Layer ("(" args ")")? ("{" entry ("," entry)* ","? "}")? ("->" dims)?
/// args    := arg ("," arg)* ","?
/// arg     := value | key "=" value        (positional arguments first, in the order below)
/// value   := integer | "-"? number | "true" | "false" | identifier | "(" value ("," value)* ")"
/// dims    := "[" integer ("," integer)* "]"
/// ```
///
/// - `input: [N]` (features), `[C, L]` (a signal: channels, length) or `[C, H, W]` (an image:
///   channels, height, width) comes first; every dimension is at least 1. The batch dimension is
///   never written.
/// - Doc comments and other attributes before `struct` are carried to the struct, except
///   `#[weights = "file.safetensors"]` (below). The visibility is the struct's.
/// - A layer may be named, `fc1: Dense(64)`; an unnamed layer is named
///   `<kind in lower case>_<position>`, counting from 1 in declaration order, blocks included
///   (`relu_2`). Names become struct fields, parameter names and weight-file names
///   (`fc1.weight`); they must be unique.
/// - `-> [dims]` after a layer (or block) asserts its output shape; a mismatch is a compile error
///   that states the computed shape.
/// - Arguments are positional, in the order of the table below, or `name = value`. Unknown,
///   duplicate, missing, misplaced and ill-typed arguments are compile errors that list what the
///   layer accepts.
///
/// # Layers
///
/// | layer | arguments (defaults) | shapes | PyTorch / Keras |
/// |---|---|---|---|
/// | `Dense(units)` | `units`; `init = he \| xavier \| glorot \| lecun \| zeros` (He before ReLU, LeakyReLU, PReLU, ELU, GELU, SiLU; LeCun before SELU; else Xavier) | `[I] -> [units]` | `nn.Linear` / `Dense` |
/// | `Conv2d(filters, kernel)` | `filters`; `kernel = k \| (kh, kw)`; `stride = s \| (sh, sw)` (1); `padding = p \| (ph, pw) \| (top, bottom, left, right) \| same \| valid \| full` (0); `bias = true \| false` (true); `init` (as Dense) | `[C, H, W] -> [filters, OH, OW]` | `nn.Conv2d` / `Conv2D` (channels first) |
/// | `Conv1d(filters, kernel)` | `filters`; `kernel = k`; `stride` (1); `padding = p \| (left, right) \| same \| valid \| full` (0); `bias` (true); `init` | `[C, L] -> [filters, OL]` | `nn.Conv1d` / `Conv1D` |
/// | `MaxPool2d(window)` | `window = k \| (kh, kw)`; `stride` (the window); `padding = p \| (ph, pw) \| (top, bottom, left, right) \| valid` (0, at most half the window) | `[C, H, W] -> [C, OH, OW]` | `nn.MaxPool2d` / `MaxPooling2D` |
/// | `AvgPool2d(window)` | as `MaxPool2d`, plus `count_include_pad = true \| false` (true: padded zeros count in the mean, as PyTorch) | `[C, H, W] -> [C, OH, OW]` | `nn.AvgPool2d` / `AveragePooling2D` |
/// | `MaxPool1d(window)`, `AvgPool1d(window)` | `window = k`; `stride` (the window); `padding = p \| (left, right) \| valid` (0); Avg: `count_include_pad` (true) | `[C, L] -> [C, OL]` | `nn.MaxPool1d`, `nn.AvgPool1d` / `MaxPooling1D`, `AveragePooling1D` |
/// | `BatchNorm1d` | none | `[N]` or `[C, L]`, unchanged | `nn.BatchNorm1d` / `BatchNormalization` |
/// | `BatchNorm2d` | none | `[C, H, W]`, unchanged | `nn.BatchNorm2d` / `BatchNormalization` |
/// | `Dropout(p)` | `p`, in [0, 1) | any, unchanged | `nn.Dropout` / `Dropout` |
/// | `Flatten` | none | `[C, H, W] -> [C*H*W]` (C, H, W order), `[C, L] -> [C*L]` | `nn.Flatten` / `Flatten` (Keras: H, W, C order) |
/// | `Identity` | none | any, unchanged | `nn.Identity` / `"linear"` |
/// | `Step` | none | any | `torch.heaviside(x, 1)` |
/// | `Sigmoid` | none | any | `nn.Sigmoid` / `"sigmoid"` |
/// | `Tanh` | none | any | `nn.Tanh` / `"tanh"` |
/// | `ReLU` | none | any | `nn.ReLU` / `"relu"` |
/// | `GELU` | `approximate = none \| tanh` (none: the exact erf form) | any | `nn.GELU` / `gelu` |
/// | `Softplus` | none | any | `nn.Softplus` / `"softplus"` |
/// | `ELU(alpha)` | `alpha` (1.0) | any | `nn.ELU` / `"elu"` |
/// | `SELU` | none | any | `nn.SELU` / `"selu"` |
/// | `LeakyReLU(slope)` | `slope` (0.01) | any | `nn.LeakyReLU` (Keras 3's default slope is 0.3) |
/// | `PReLU` | `init` (0.25); `per_channel = true \| false` (false: one learned slope; true: one per channel, or per feature of a vector) | any | `nn.PReLU(num_parameters)` / `PReLU` |
/// | `SiLU` | none | any | `nn.SiLU` / `"silu"` |
/// | `Gaussian` | none | any | (none): e^(-x^2) |
/// | `Softmax` | none | `[N]`, unchanged | `nn.Softmax(-1)` / `"softmax"` |
///
/// Output sizes of convolutions and pools are floor((H + pad_before + pad_after - K) / S) + 1;
/// `same` padding gives ceil(H / S), the odd cell of padding after (bottom, right), as
/// TensorFlow; `full` pads K - 1 on each side. Each Rust layer type's documentation
/// (`nn::Dense`, `nn::Conv2d`, ...) gives its formula, shapes and equivalents.
///
/// A final `Softmax` or `Sigmoid` is the network's head: `forward_logits` and the losses on
/// logits stop before it.
///
/// # Residual blocks
///
/// `Residual { layers }` adds the block's output to its input (ResNet's basic block); the block
/// must keep the shape of its input. `Residual(projection) { layers }` learns the skip path
/// instead, so the block may change the shape: a 1x1 convolution without bias, with the stride
/// that gives the block's output size, for signals and images; a Dense layer for vectors (the
/// projection is a layer named `<block>_proj`). Blocks nest; a block may be named and annotated
/// like a layer:
///
/// ```text
/// block1: Residual { c1: Conv2d(8, kernel = 3, padding = 1), ReLU, c2: Conv2d(8, kernel = 3, padding = 1) },
/// block2: Residual(projection) { Conv2d(16, kernel = 3, stride = 2, padding = 1), ReLU } -> [16, 4, 4],
/// ```
///
/// # Weights baked in: `#[weights = "file.safetensors"]`
///
/// Before `struct`, names a safetensors file (a path relative to the crate's `Cargo.toml`) read
/// during compilation. Every tensor is checked against the network, PyTorch `state_dict` names
/// and layouts: `<layer>.weight` `[out, in]` and `<layer>.bias` `[out]` for `Dense`;
/// `<layer>.weight` `[out, in, kh, kw]` (`[out, in, k]` in 1-D) and `<layer>.bias` for
/// convolutions; `<layer>.weight`, `.bias`, `.running_mean`, `.running_var` `[channels]` for
/// batch norm (`.num_batches_tracked` is ignored); `<layer>.weight` `[1]` or `[channels]` for
/// `PReLU`. A missing, extra, misshapen, non-`F32` or non-finite tensor is a compile error at
/// the attribute. The values become `static` arrays in memory layout (flash on a
/// microcontroller) and `Name::pretrained()` builds the network from them; the file is
/// tracked, so editing it rebuilds.
///
/// `#[weights_int8 = "twin.safetensors"]` does the same for the int8 twin `NameInt8` with a file
/// written by `NameInt8::save_safetensors` (format `nn-int8/1`): every tensor is checked as
/// `load_safetensors` checks it (names, dtypes, shapes, weights in `[-127, 127]`, scales
/// positive and finite, zero points in `[-128, 127]`, no extra tensor, the `format` and
/// `rounding` metadata), errors at the attribute; the int8 weights, int32 biases, scales and
/// zero points become `static` arrays and `NameInt8::pretrained()` builds the twin from them
/// (no allocation). A network may carry both attributes.
///
/// # What the macro generates
///
/// - `struct Name`: one public field per layer with parameters (`Dense`, convolutions,
///   `PReLU`, batch norm), named as the layer; large tensors boxed when `alloc` is on, built in
///   place. With dropout, a hidden random number generator.
/// - `NameGradients`: the same fields, for gradients. `NameCache<B>` (with `alloc`): the
///   batched training pass's intermediates.
/// - Consts `PARAMS`, `MACS`, `PARAM_BYTES`, `STATE_BYTES` (parameters plus batch-norm running
///   statistics), `MAX_ACTIVATION_BYTES`, `STACK_BYTES` (stack one `forward` or
///   `forward_batch` call needs for tensors), `WORKSPACE_BYTES`, `INPUT_LEN`, `OUTPUT_LEN`,
///   `SUMMARY` (a Keras-style table of output shapes, parameters and MACs, and where the
///   activations live).
/// - `new(seed)` (the same seed gives bit-identical weights); `forward(&x)` (inference on an
///   `nn::Input<Name>` tensor or a `[f32; INPUT_LEN]` array, allocating nothing);
///   `forward_logits(&x)`; `forward_batch(&xs, &mut ys)` (many samples, a chunk at a time, each
///   dense weight loaded once per chunk; `Err` if the lengths differ); `summary()`; with
///   `#[weights]`, `pretrained()` (with `#[weights_int8]`, `NameInt8::pretrained()`).
/// - Over the stack budget (`nn::STACK_BUDGET`, 256 KiB of activations): `NameWorkspace`, a
///   struct holding the activations (`const fn new()`, so it can be a `static`; `new_boxed()`
///   with `alloc`), and `forward_with(&mut ws, &x)`, `forward_logits_with`,
///   `forward_batch_with`, which allocate nothing. `forward`, `forward_logits` and
///   `forward_batch` then obtain a workspace themselves: one per thread with `std` (allocated on
///   first use and kept), a new one per call with only `alloc`; without `alloc`, calling
///   `forward` is a compile error that names the workspace's bytes and says to pass one, and
///   `forward_batch` and the `nn::Network` impl are absent. Within the budget, activations are
///   locals of the straight-line code (the fastest place).
/// - Impls of `nn::Network`, `nn::Trainable` (with `alloc`), `nn::Parameters` (network and
///   gradients), `nn::StateDict` (with `std`: weight files through `nn::SafeTensors`),
///   `Default` (all parameters zero) and `nn::InputOf`.
/// - When a batch norm directly follows a `Dense` or convolution: `NameFolded`, the inference
///   network with those batch norms folded into the layers before them, and
///   `Name::fold(&self) -> NameFolded` (outputs equal up to rounding).
///
/// Training mode cannot be forgotten or left on: `forward` is always inference (batch norm's
/// running statistics, no dropout); only `Trainable::forward_train`, which the trainer calls,
/// uses batch statistics, updates the running statistics and drops values.
///
/// # Compile-time rules
///
/// The rules, most with a compile-fail case under `tests/ui/`: unknown layer (with "did you mean"),
/// missing, duplicate, unknown or ill-typed argument, zero-sized layer or input dimension,
/// duplicate layer name, missing `input`, annotation mismatch, `Dense`/`Softmax` on a tensor
/// that is not a vector, a convolution after `Flatten`, a 2-D layer on a signal and the reverse,
/// batch norm of the wrong rank, kernel or window larger than the padded input, stride 0, zero
/// filters, pooling padding above half the window, `Dropout` probability outside [0, 1), a
/// residual block that changes the shape without a projection (or one no projection can
/// match), layers too large for a fixed-size network. All errors are reported at once. After an
/// error the macro still emits the struct (methods `unreachable!()`), so code that uses the
/// network shows no follow-on errors.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    run(input.into()).into()
}

/// Parse, check, expand; after errors, the errors and the fallback.
fn run(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut imported = None;
    let def: ast::NetworkDef = if onnx::wants_onnx(&input) {
        match onnx::import(input) {
            Ok(im) => {
                let def = im.def;
                imported = Some((im.file, im.found, im.tensors));
                def
            }
            Err(e) => return e.to_compile_error(),
        }
    } else {
        match syn::parse2(input) {
            Ok(def) => def,
            Err(e) => return e.to_compile_error(),
        }
    };
    // `#[cfg(..)]` on the declaration applies to everything generated, not only the struct.
    let cfgs: Vec<syn::Attribute> = def
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect();
    let out = expand_checked(def, imported);
    if cfgs.is_empty() {
        out
    } else {
        expand::with_cfg(out, &cfgs)
    }
}

/// Check and expand a parsed declaration (or its errors and the fallback).
/// `imported`: the ONNX file the declaration came from, where it was found, and its weights.
fn expand_checked(
    mut def: ast::NetworkDef,
    imported: Option<(
        weights::WeightFile,
        weights::Found,
        Vec<nn_onnx::import::NamedTensor>,
    )>,
) -> proc_macro2::TokenStream {
    let weights = weights::take_attr(&mut def.attrs);
    let weights_int8 = weights_int8::take_attr(&mut def.attrs);
    let fixed = fixed_attr::take_attr(&mut def.attrs);
    let (net, checked) = check::check(def);
    let weights = match (checked, weights) {
        (Ok(()), Ok(weights)) => weights,
        (Err(e), Ok(_)) | (Ok(()), Err(e)) => return fallback::network(&net, e),
        (Err(mut e), Err(w)) => {
            e.combine(w);
            return fallback::network(&net, e);
        }
    };
    let weights_int8 = match weights_int8 {
        Ok(file) => file,
        Err(e) => return fallback::network(&net, e),
    };
    let fixed = match fixed {
        Ok(attr) => attr,
        Err(e) => return fallback::network(&net, e),
    };
    let mut out = expand::expand(&net);
    // The f32 weights known during compilation (`#[weights]` or the ONNX file), by name: what
    // the fixed-point twin's range analysis works from.
    let mut known: Option<Vec<(String, Vec<f32>)>> = None;
    let by_name = |tensors: &[weights::Tensor]| -> Vec<(String, Vec<f32>)> {
        tensors
            .iter()
            .map(|t| (t.name.clone(), t.values.clone()))
            .collect()
    };
    if let Some(file) = weights {
        out.extend(match weights::read(&net, &file) {
            Ok((tensors, found)) => {
                known = Some(by_name(&tensors));
                expand::weights::pretrained(&net, &file, (&tensors, found))
            }
            Err(e) => fallback::pretrained(&net, e),
        });
    }
    if let Some((file, found, tensors)) = imported {
        out.extend(match onnx::tensors(&net, &file, &tensors) {
            Ok(tensors) => {
                known = Some(by_name(&tensors));
                expand::weights::pretrained(&net, &file, (&tensors, found))
            }
            Err(e) => fallback::pretrained(&net, e),
        });
    }
    if let Some(attr) = &fixed {
        out.extend(expand::fixed::items(&net, attr, known.as_deref()));
    }
    if let Some(file) = weights_int8 {
        out.extend(expand::quant_bake::baked(&net, &file));
    }
    out
}

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod tests;
