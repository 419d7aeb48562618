//! The int8 twin built from its tensors, and baked int8 weights.
//!
//! Every twin gets a hidden `NameInt8::__from_int8_parts(tensors, rounding, parts..)`: the twin
//! from the quantization of its tensors, its rounding and, in step order, each weighted layer's
//! `(weights, biases, weight scales)` as slices (weights in PyTorch's layout) and each lookup
//! table's 256 entries. It derives everything else (requantization multipliers, fused
//! activations, the rescaling of residual sums) through the layers' `from_parts`/`from_table`
//! constructors, and it allocates nothing. Both ways to the twin from its file go through it:
//! `from_safetensors_bytes` (`quant_io`, the slices read and checked at run time) and, with
//! `#[weights_int8 = "file.safetensors"]`, `NameInt8::pretrained()` (here, the slices `static`
//! arrays read and checked at compile time by `crate::weights_int8`).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::quant_plan::{activation, plan, weighted, Step};
use crate::model::Network;
use crate::paths;
use crate::weights::{Found, WeightFile};
use crate::weights_int8::{Baked, Check, Dtype, Expected, Values};

/// A part of `__from_int8_parts`, in step order.
enum Part {
    /// A weighted layer's `(weights, biases, weight scales)`: its field, the shape of its
    /// weights (PyTorch's layout), its output channels.
    Layer {
        field: Ident,
        shape: Vec<usize>,
        channels: usize,
    },
    /// An activation's lookup table (its field).
    Table { field: Ident },
}

/// The parts of the twin's steps, in order.
fn parts(net: &Network, steps: &[Step]) -> Vec<Part> {
    steps
        .iter()
        .filter_map(|step| match *step {
            Step::Dense { .. } | Step::Conv { .. } => weighted(net, step).map(|l| Part::Layer {
                field: l.field,
                shape: l.shape,
                channels: l.channels,
            }),
            Step::Lut { layer, .. } => Some(Part::Table {
                field: net.layers[layer].name.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The local variable (and parameter) that holds a part.
fn local(field: &Ident) -> Ident {
    format_ident!("__l_{}", field)
}

/// Every tensor of the twin's file, in the order the loader reads them: the quantization of
/// each tensor of the forward pass, then each step's tensors.
pub(super) fn expected(net: &Network, steps: &[Step]) -> Vec<Expected> {
    let mut out = Vec::new();
    for t in 0..net.tensors.len() {
        let owner = format!("tensor {t} of the forward pass");
        out.push(Expected {
            name: format!("tensors.{t}.scale"),
            dtype: Dtype::F32,
            shape: vec![],
            check: Check::Scale,
            owner: owner.clone(),
        });
        out.push(Expected {
            name: format!("tensors.{t}.zero_point"),
            dtype: Dtype::I32,
            shape: vec![],
            check: Check::ZeroPoint,
            owner,
        });
    }
    for part in parts(net, steps) {
        match part {
            Part::Layer {
                field,
                shape,
                channels,
            } => {
                let owner = format!("layer `{field}`");
                let tensor = |suffix: &str, dtype, shape, check| Expected {
                    name: format!("{field}.{suffix}"),
                    dtype,
                    shape,
                    check,
                    owner: owner.clone(),
                };
                out.push(tensor("weight", Dtype::I8, shape, Check::Weights));
                out.push(tensor("bias", Dtype::I32, vec![channels], Check::Any));
                out.push(tensor(
                    "weight_scale",
                    Dtype::F32,
                    vec![channels],
                    Check::Scale,
                ));
            }
            Part::Table { field } => out.push(Expected {
                name: format!("{field}.table"),
                dtype: Dtype::I8,
                shape: vec![256],
                check: Check::Any,
                owner: format!("layer `{field}` (a lookup table)"),
            }),
        }
    }
    out
}

/// The hidden `__from_int8_parts` of every twin (without `std` too).
pub(super) fn from_parts_fn(net: &Network, steps: &[Step], twin: &Ident) -> TokenStream {
    let (qp, rounding) = (paths::quant_params(), paths::rounding());
    let (to_array, to_rows) = (paths::to_array(), paths::to_rows());
    let n_tensors = net.tensors.len();
    let mut params = Vec::new();
    let mut fields = Vec::new();
    for step in steps {
        match *step {
            Step::Dense { .. } | Step::Conv { .. } => {
                let Some(l) = weighted(net, step) else {
                    continue;
                };
                let (field, input, output) = (&l.field, l.input, l.output);
                let p = local(field);
                params.push(quote!(#p: (&[i8], &[i32], &[f32])));
                let (ty, weights) = if l.dense {
                    (paths::dense_i8(), quote!(#to_rows(#p.0)))
                } else {
                    (paths::conv_i8(), quote!(#to_array(#p.0)))
                };
                let act = activation(l.relu);
                // A convolution's weights packed as its plan's kernel reads them.
                let lanes = match *step {
                    Step::Conv { layer, .. } if !l.dense => {
                        let plan = super::quant_fuse::plan_ident(net, layer, false);
                        quote!(.in_lanes(&#plan))
                    }
                    _ => quote!(),
                };
                fields.push(quote! {
                    #field: #ty::from_parts(#weights, #to_array(#p.1), #to_array(#p.2), tensors[#input], tensors[#output], #act)#lanes
                });
            }
            Step::Lut {
                layer,
                input,
                output,
            } => {
                let field = &net.layers[layer].name;
                let p = local(field);
                let lut_i8 = paths::lut_i8();
                params.push(quote!(#p: [i8; 256]));
                fields.push(
                    quote!(#field: #lut_i8::from_table(#p, tensors[#input], tensors[#output])),
                );
            }
            Step::Add {
                index,
                a,
                b,
                output,
            } => {
                let field = format_ident!("add{}", index);
                let (add_params, output_ty) = (paths::add_params(), paths::quant_output());
                fields.push(quote! {
                    #field: #add_params::new(
                        (tensors[#a].scale, tensors[#a].zero_point),
                        (tensors[#b].scale, tensors[#b].zero_point),
                        tensors[#output].scale,
                        #output_ty { zero_point: tensors[#output].zero_point, range: (-128, 127) },
                    )
                });
            }
            _ => {}
        }
    }
    quote! {
        #[automatically_derived]
        impl #twin {
            /// The twin from its tensors (checked by the caller): the quantization of every
            /// tensor, the rounding, and in step order each weighted layer's int8 weights
            /// (PyTorch's layout), int32 biases and weight scales, and each lookup table.
            /// What `from_safetensors_bytes` and a baked `pretrained()` build through.
            #[doc(hidden)]
            #[allow(dead_code, clippy::too_many_arguments)]
            pub fn __from_int8_parts(tensors: [#qp; #n_tensors], rounding: #rounding, #(#params),*) -> Self {
                #twin {
                    #(#fields,)*
                    tensors,
                    rounding,
                }
            }
        }
    }
}

/// For `from_safetensors_bytes`: the statements reading each part from `src` (an
/// `Int8Source`, in step order), and the call of `__from_int8_parts` with `tensors` and
/// `rounding`.
pub(super) fn load(net: &Network, steps: &[Step]) -> (Vec<TokenStream>, TokenStream) {
    let mut reads = Vec::new();
    let mut args = Vec::new();
    for part in parts(net, steps) {
        match part {
            Part::Layer {
                field,
                shape,
                channels: c,
            } => {
                let p = local(&field);
                let (wname, bname, sname) = (
                    format!("{field}.weight"),
                    format!("{field}.bias"),
                    format!("{field}.weight_scale"),
                );
                reads.push(quote! {
                    let #p = (
                        src.weights(#wname, &[#(#shape),*])?,
                        src.i32s(#bname, &[#c])?,
                        src.scales(#sname, &[#c])?,
                    );
                });
                args.push(quote!((&#p.0, &#p.1, &#p.2)));
            }
            Part::Table { field } => {
                let p = local(&field);
                let name = format!("{field}.table");
                reads.push(quote!(let #p = src.table(#name)?;));
                args.push(quote!(#p));
            }
        }
    }
    (
        reads,
        quote!(Self::__from_int8_parts(tensors, rounding, #(#args),*)),
    )
}

/// `#[weights_int8 = ".."]`: the file read and checked, its tensors as `static` arrays and
/// `NameInt8::pretrained()`; or the errors at the attribute (and a `pretrained()` that
/// type-checks, when the twin exists).
pub fn baked(net: &Network, file: &WeightFile) -> TokenStream {
    let twin = format_ident!("{}Int8", net.name);
    let steps = match plan(net) {
        Ok(steps) => steps,
        Err(why) => {
            let message = format!(
                "`#[weights_int8]` bakes the weights of `{twin}`, the int8 twin, but network `{}` has none: {why}",
                net.name
            );
            return syn::Error::new(file.span, message).to_compile_error();
        }
    };
    match crate::weights_int8::read(net, &expected(net, &steps), file) {
        Ok((baked, found)) => pretrained(net, &steps, file, (&baked, found)),
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(quote! {
                impl #twin {
                    /// Unavailable: the int8 weight file has errors.
                    pub fn pretrained() -> Self {
                        ::core::unreachable!("the int8 weight file has errors")
                    }
                }
            });
            out
        }
    }
}

/// The literal array of a tensor's values.
fn array(values: &Values) -> (TokenStream, usize) {
    match values {
        Values::I8(v) => {
            let lits = v.iter().map(|&x| Literal::i8_unsuffixed(x));
            (quote!([#(#lits),*]), v.len())
        }
        Values::I32(v) => {
            let lits = v.iter().map(|&x| Literal::i32_unsuffixed(x));
            (quote!([#(#lits),*]), v.len())
        }
        Values::F32(v) => {
            let lits = v.iter().map(|&x| Literal::f32_suffixed(x));
            (quote!([#(#lits),*]), v.len())
        }
    }
}

/// The statics, `NameInt8::pretrained()` and the rebuild tracking, from a checked file.
fn pretrained(
    net: &Network,
    steps: &[Step],
    file: &WeightFile,
    (baked, found): (&Baked, Found),
) -> TokenStream {
    let path = &file.path;
    let twin = format_ident!("{}Int8", net.name);
    let prefix = format!("__NN_{}", twin.to_string().to_uppercase());
    let (qp, rounding) = (paths::quant_params(), paths::rounding());
    let mut statics = Vec::new();
    // One `static` per tensor of the file, named after its position in `expected`.
    let mut static_of = |name: &str, ty: TokenStream| -> Ident {
        let k = statics.len();
        let ident = format_ident!("{}_{}", prefix, k);
        let values = baked.values.get(name);
        let (lits, len) = values.map_or((quote!([]), 0), array);
        let doc = format!("`{name}` from `{path}`.");
        statics.push(quote! {
            #[doc = #doc]
            #[doc(hidden)]
            pub static #ident: [#ty; #len] = #lits;
        });
        ident
    };
    let mut args = Vec::new();
    for part in parts(net, steps) {
        match part {
            Part::Layer { field, .. } => {
                let w = static_of(&format!("{field}.weight"), quote!(i8));
                let b = static_of(&format!("{field}.bias"), quote!(i32));
                let s = static_of(&format!("{field}.weight_scale"), quote!(f32));
                args.push(quote!((&#w, &#b, &#s)));
            }
            Part::Table { field } => {
                let t = static_of(&format!("{field}.table"), quote!(i8));
                args.push(quote!(#t));
            }
        }
    }
    let quant = (0..net.tensors.len()).map(|t| {
        let scale = baked.scalar_f32(&format!("tensors.{t}.scale"));
        let zero = baked.scalar_i32(&format!("tensors.{t}.zero_point"));
        let (scale, zero) = (Literal::f32_suffixed(scale), Literal::i32_unsuffixed(zero));
        quote!(#qp { scale: #scale, zero_point: #zero })
    });
    let n_tensors = net.tensors.len();
    let tensors = format_ident!("{}_TENSORS", prefix);
    let tensors_doc = format!("The quantization of every tensor of `{twin}`, from `{path}`.");
    let rounding_value = format_ident!("{}", baked.rounding);
    // Included, so that editing the file rebuilds the crate.
    let include = match found {
        Found::Manifest => quote!(::core::include_bytes!(
            ::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #path)
        )),
        Found::Beside => quote!(::core::include_bytes!(#path)),
    };
    let doc = format!(
        "The int8 twin with the tensors of `{path}`, baked in at compile time (every tensor \
         checked by name, dtype, shape and value range; the weights, biases, scales and zero \
         points are `static` arrays). Builds the twin as `load_safetensors` of the same file \
         does, without allocating."
    );
    quote! {
        const _: &[u8] = #include;
        #(#statics)*
        #[doc = #tensors_doc]
        #[doc(hidden)]
        pub static #tensors: [#qp; #n_tensors] = [#(#quant),*];
        #[automatically_derived]
        impl #twin {
            #[doc = #doc]
            pub fn pretrained() -> Self {
                Self::__from_int8_parts(#tensors, #rounding::#rounding_value, #(#args),*)
            }
        }
    }
}
