//! The int8 twin's ONNX export (with `std`): `onnx_model`, `to_onnx` and `save_onnx`, writing
//! the twin as a QDQ graph through `nn::quant::onnx::QdqGraph`, one call per step.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::quant_plan::{weighted, Step};
use crate::layers::LayerKind;
use crate::model::{Head, Network};
use crate::paths;
use crate::shape::Shape;

/// `nn::quant::onnx::Window` of a window layer: one axis for a signal, two for an image.
fn window(win: &crate::layers::window::Window) -> TokenStream {
    let onnx = paths::quant_onnx();
    let u = |v: u64| v as usize;
    let [pt, pb, pl, pr] = win.pad.map(u);
    let (kernel, strides, begin, end) = if win.rank == 1 {
        (vec![u(win.kw)], vec![u(win.sw)], vec![pl], vec![pr])
    } else {
        (
            vec![u(win.kh), u(win.kw)],
            vec![u(win.sh), u(win.sw)],
            vec![pt, pl],
            vec![pb, pr],
        )
    };
    quote!(#onnx::Window { kernel: &[#(#kernel),*], strides: &[#(#strides),*], begin: &[#(#begin),*], end: &[#(#end),*] })
}

/// The call that writes one step, or the `Err` of a step without an exact ONNX form.
fn step_call(net: &Network, step: &Step) -> TokenStream {
    let onnx = paths::quant_onnx();
    if let Some(l) = weighted(net, step) {
        let field = &l.field;
        let name = field.to_string();
        let (input, output, relu) = (l.input, l.output, l.relu);
        let shape = &l.shape;
        let values = if l.dense {
            let (no, ni) = (shape[0], shape[1]);
            quote!((0..#no).flat_map(|o| (0..#ni).map(move |i| self.#field.weight(o, i))).collect())
        } else {
            let n: usize = shape.iter().product();
            quote!((0..#n).map(|k| self.#field.weight(k)).collect())
        };
        let weights = quote! {
            #onnx::Weights { values: &w, shape: &[#(#shape),*], scale: &self.#field.weight_scale, bias: &self.#field.bias }
        };
        let call = match *step {
            Step::Conv { layer, .. } => {
                let LayerKind::Conv(c) = net.layers[layer].kind else {
                    return quote!();
                };
                let win = window(&c.win);
                quote!(g.conv(#name, (#input, #output), #weights, #win, #relu)?;)
            }
            _ => quote!(g.dense(#name, (#input, #output), #weights, #relu)?;),
        };
        return quote! {{
            let w: ::std::vec::Vec<i8> = #values;
            #call
        }};
    }
    match *step {
        Step::Pool {
            layer,
            input,
            output,
        } => {
            let l = &net.layers[layer];
            let LayerKind::Pool(p) = l.kind else {
                return quote!();
            };
            let (name, win) = (l.name.to_string(), window(&p.win));
            match p.mode {
                crate::layers::pool::Mode::Max => {
                    quote!(g.max_pool(#name, (#input, #output), #win)?;)
                }
                crate::layers::pool::Mode::Avg { count_pad } => {
                    quote!(g.avg_pool(#name, (#input, #output), #win, #count_pad)?;)
                }
            }
        }
        Step::Relu { input, output } => {
            let name = producer(net, output);
            quote!(g.relu(#name, (#input, #output))?;)
        }
        Step::Alias { input, output } => {
            let flatten = net
                .ops
                .iter()
                .find(|op| op.output == output)
                .and_then(|op| net.layer_of(op))
                .filter(|l| matches!(l.kind, LayerKind::Flatten(_)))
                .is_some()
                && !matches!(net.tensors[input], Shape::D1(_));
            if flatten {
                let name = producer(net, output);
                quote!(g.flatten(#name, (#input, #output))?;)
            } else {
                quote!(g.alias((#input, #output))?;)
            }
        }
        Step::Lut { layer, .. } => {
            let l = &net.layers[layer];
            let why = format!(
                "layer `{}` ({}) is an int8 lookup table, which onnxruntime has no exact \
                 counterpart of (its QLinearSigmoid and f32 activations round differently)",
                l.name, l.kind_name
            );
            quote!(return ::core::result::Result::Err(g.unsupported(#why));)
        }
        Step::Add {
            index,
            a,
            b,
            output,
        } => {
            let name = format!("add{index}");
            quote!(g.add(#name, (#a, #b, #output))?;)
        }
        _ => quote!(),
    }
}

/// The name of the layer writing tensor `t` (for nodes of steps without a field).
fn producer(net: &Network, t: usize) -> String {
    net.ops
        .iter()
        .find(|op| op.output == t)
        .and_then(|op| net.layer_of(op))
        .map_or(format!("tensor{t}"), |l| l.name.to_string())
}

/// `onnx_model`, `to_onnx` and `save_onnx` of the twin, with `std`.
pub fn items(net: &Network, steps: &[Step], twin: &Ident) -> TokenStream {
    let (if_std, error, onnx) = (paths::if_std(), paths::error(), paths::quant_onnx());
    let name = net.name.to_string();
    let dims = |s: Shape| -> Vec<usize> { s.dims().iter().map(|&d| d as usize).collect() };
    let (input, output) = (dims(net.input), dims(net.output()));
    let logits = net.logits;
    let head = match (net.head, net.ops.last().and_then(|op| net.layer_of(op))) {
        (Head::Softmax, Some(_)) => quote!(::core::option::Option::Some("Softmax")),
        (Head::Sigmoid, Some(_)) => quote!(::core::option::Option::Some("Sigmoid")),
        _ => quote!(::core::option::Option::None),
    };
    let calls: Vec<TokenStream> = steps.iter().map(|s| step_call(net, s)).collect();
    quote! {
        #if_std! {
            #[automatically_derived]
            #[allow(unreachable_code, unused_variables, unused_mut, clippy::all)]
            impl #twin {
                /// The twin as an ONNX QDQ model (`nn::quant::onnx` describes the graph and its
                /// names): onnxruntime runs it with the int8 logits of `forward_int8` and the
                /// outputs of `forward`, bit for bit, when the twin's `rounding` is
                /// `Rounding::Onnx`. `Err` for a twin with a residual sum or a lookup-table
                /// activation (no exact onnxruntime form) or a fused ReLU whose output zero point
                /// is not -128.
                pub fn onnx_model(&self) -> ::core::result::Result<#onnx::Model, #error> {
                    let mut g = #onnx::QdqGraph::new(#name, &self.tensors, &[#(#input),*], #logits, #head)?;
                    #(#calls)*
                    g.finish(#logits, #head, &[#(#output),*])
                }

                /// The bytes of [`Self::onnx_model`]'s `.onnx` file.
                pub fn to_onnx(&self) -> ::core::result::Result<::std::vec::Vec<u8>, #error> {
                    #onnx::to_bytes(&self.onnx_model()?)
                }

                /// Writes [`Self::onnx_model`] as an `.onnx` file.
                pub fn save_onnx(
                    &self,
                    path: impl ::core::convert::AsRef<::std::path::Path>,
                ) -> ::core::result::Result<(), #error> {
                    #onnx::save(self.onnx_model(), path.as_ref())
                }
            }
        }
    }
}
