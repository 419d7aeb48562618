//! The int8 twin `NameInt8` and `Name::quantize_int8`: post-training quantization with the
//! TFLite int8 scheme (`nn::quant`). Supported so far: `Dense` (with a following `ReLU` fused
//! into its output clamp), `ReLU` on its own, `Flatten`, `Dropout` and `Identity` (free), and a
//! final `Softmax` or `Sigmoid` (computed in `f32` on the dequantized logits). For a network
//! with any other layer, `quantize_int8` is generated to return an `Err` naming that layer.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::layers::activation::Activation;
use crate::layers::LayerKind;
use crate::model::{Head, Network, OpKind};
use crate::paths;
use crate::shape::Shape;

/// One step of the twin's forward pass.
enum Step {
    /// A dense layer (`layer` index) from tensor `input` to `output`, with a fused ReLU.
    Dense {
        layer: usize,
        input: usize,
        output: usize,
        relu: bool,
    },
    /// `max(x, zero point)` from `input` to `output` (same quantization).
    Relu { input: usize, output: usize },
    /// The same values as another shape (or unchanged): `Flatten`, `Dropout`, `Identity`.
    Alias { input: usize, output: usize },
    /// A 1-D or 2-D convolution (`layer`), with a fused ReLU.
    Conv {
        layer: usize,
        input: usize,
        output: usize,
        relu: bool,
    },
    /// Max or average pooling (`layer`): the output keeps the input's quantization.
    Pool {
        layer: usize,
        input: usize,
        output: usize,
    },
    /// The sum closing residual block `index` (its rescaling is the twin's field `add<index>`).
    Add {
        index: usize,
        a: usize,
        b: usize,
        output: usize,
    },
}

/// The geometry of a window layer from `input` to `output` as `nn::quant::ops::Window2`.
fn window2(win: &crate::layers::window::Window, input: Shape, output: Shape) -> TokenStream {
    let (c, h, w) = chw(input);
    let (_, oh, ow) = chw(output);
    let (kh, kw, sh, sw) = (
        win.kh as usize,
        win.kw as usize,
        win.sh as usize,
        win.sw as usize,
    );
    let (pt, pl) = (win.pad[0] as usize, win.pad[2] as usize);
    let window = paths::window2();
    quote!(#window { input: (#c, #h, #w), kernel: (#kh, #kw), stride: (#sh, #sw), pad: (#pt, #pl), output: (#oh, #ow) })
}

/// `[c, h, w]`, `[c, l]` as `(c, 1, l)`, `[n]` as `(n, 1, 1)`.
fn chw(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::D1(n) => (n as usize, 1, 1),
        Shape::D2(c, l) => (c as usize, 1, l as usize),
        Shape::D3(c, h, w) => (c as usize, h as usize, w as usize),
    }
}

/// The twin's steps up to the logits, or the layer that cannot be quantized yet.
fn plan(net: &Network) -> Result<Vec<Step>, String> {
    let mut consumers = vec![0usize; net.tensors.len()];
    for op in &net.ops {
        for &i in &op.inputs {
            consumers[i] += 1;
        }
    }
    let mut steps = Vec::new();
    let mut adds = 0;
    let mut j = 0;
    while j < net.logits_ops {
        let op = &net.ops[j];
        let OpKind::Layer(l) = op.kind else {
            steps.push(Step::Add {
                index: adds,
                a: op.inputs[0],
                b: op.inputs[1],
                output: op.output,
            });
            adds += 1;
            j += 1;
            continue;
        };
        let layer = &net.layers[l];
        let (input, output) = (op.inputs[0], op.output);
        // A ReLU that alone reads this output folds into the output clamp.
        let next_relu = net.ops.get(j + 1).filter(|n| {
            j + 1 < net.logits_ops
                && consumers[output] == 1
                && n.inputs[0] == output
                && matches!(n.kind, OpKind::Layer(k)
                    if matches!(net.layers[k].kind, LayerKind::Activation(Activation::ReLU)))
        });
        let relu = next_relu.is_some();
        let fused_output = next_relu.map_or(output, |n| n.output);
        match layer.kind {
            LayerKind::Dense(_) => steps.push(Step::Dense {
                layer: l,
                input,
                output: fused_output,
                relu,
            }),
            LayerKind::Conv(_) => steps.push(Step::Conv {
                layer: l,
                input,
                output: fused_output,
                relu,
            }),
            LayerKind::Pool(_) => steps.push(Step::Pool {
                layer: l,
                input,
                output,
            }),
            LayerKind::Activation(Activation::ReLU) => steps.push(Step::Relu { input, output }),
            LayerKind::Activation(Activation::Identity)
            | LayerKind::Flatten(_)
            | LayerKind::Dropout(_) => steps.push(Step::Alias { input, output }),
            _ => {
                return Err(format!(
                    "its layer `{}` ({}) cannot be quantized to int8 yet",
                    layer.name, layer.kind_name
                ))
            }
        }
        let fused = relu && matches!(layer.kind, LayerKind::Dense(_) | LayerKind::Conv(_));
        j += if fused { 2 } else { 1 };
    }
    Ok(steps)
}

/// The twin and `quantize_int8`, or the `quantize_int8` that explains what is missing.
pub fn items(net: &Network) -> TokenStream {
    let name = &net.name;
    let in_ty = paths::shape_of(net.input);
    let (tensor, error, if_std) = (paths::tensor(), paths::error(), paths::if_std());
    let calibration = paths::calibration();
    let supported = "the int8 twin supports Dense, Conv1d, Conv2d, max and average pooling, \
                     ReLU, Flatten, Dropout, Identity, residual blocks and a final Softmax or \
                     Sigmoid; batch norm (fold it first) and the other activations come next";
    let steps = match plan(net) {
        Ok(steps) => steps,
        Err(why) => {
            let message = format!("network `{name}`: {why} ({supported})");
            let unsupported = paths::unsupported();
            return quote! {
                #if_std! {
                    #[automatically_derived]
                    impl #name {
                        /// Post-training int8 quantization: not available for this network yet
                        /// (the `Err` says which layer).
                        pub fn quantize_int8(
                            &self,
                            calibration: &[#tensor<#in_ty>],
                        ) -> ::core::result::Result<#unsupported, #error> {
                            let _ = calibration;
                            ::core::result::Result::Err(#error::Config(::std::string::String::from(#message)))
                        }

                        /// As [`Self::quantize_int8`].
                        pub fn quantize_int8_with(
                            &self,
                            calibration: &[#tensor<#in_ty>],
                            how: #calibration,
                        ) -> ::core::result::Result<#unsupported, #error> {
                            let _ = how;
                            self.quantize_int8(calibration)
                        }
                    }
                }
            };
        }
    };
    twin(net, &steps)
}

/// The twin's struct, its forward pass and `quantize_int8`.
fn twin(net: &Network, steps: &[Step]) -> TokenStream {
    let (name, vis) = (&net.name, &net.vis);
    let twin = format_ident!("{}Int8", name);
    let shape = |t: usize| paths::shape_of(net.tensors[t]);
    let act = |t: usize| format_ident!("a{}", t);
    let (tensor, tensor_i8, dense_i8) = (paths::tensor(), paths::tensor_i8(), paths::dense_i8());
    let (conv_i8, ops_path) = (paths::conv_i8(), paths::quant_ops());
    let mut weight_bytes: Vec<TokenStream> = Vec::new();
    let (qp, fused, rounding) = (
        paths::quant_params(),
        paths::fused_activation(),
        paths::rounding(),
    );
    let (observer, calibration, error, layer_tr) = (
        paths::observer(),
        paths::calibration(),
        paths::error(),
        paths::layer(),
    );
    let (if_std, vec) = (paths::if_std(), paths::vec());
    let (in_ty, logits_ty, out_ty) = (shape(0), shape(net.logits), shape(net.output));
    let n_tensors = net.tensors.len();
    let logits = net.logits;

    // The struct's dense fields and the forward steps.
    let mut fields = Vec::new();
    let mut forward = Vec::new();
    let mut build = Vec::new();
    // For each tensor, the tensor whose calibrated range gives its quantization.
    let mut source: Vec<usize> = (0..n_tensors).collect();
    for step in steps {
        match *step {
            Step::Dense {
                layer,
                input,
                output,
                relu,
            } => {
                let l = &net.layers[layer];
                let field = &l.name;
                let (i, o) = (
                    paths::typenum_of(l.input.len()),
                    paths::typenum_of(l.output.len()),
                );
                let doc = format!("`{field}`, int8 ({} -> {}).", l.input.len(), l.output.len());
                fields.push(quote!(#[doc = #doc] pub #field: #dense_i8<#i, #o>));
                let (ni, no) = (l.input.len() as usize, l.output.len() as usize);
                weight_bytes.push(quote!(#ni * #no + 4 * #no));
                let (a, b, sb) = (act(input), act(output), shape(output));
                forward.push(quote! {
                    let mut #b = #tensor_i8::<#sb>::zeros();
                    self.#field.forward(&#a, &mut #b, self.rounding);
                });
                let activation = if relu {
                    quote!(#fused::Relu)
                } else {
                    quote!(#fused::None)
                };
                let ty = l.ty();
                build.push(quote! {
                    #field: #dense_i8::from_dense(
                        ::core::borrow::Borrow::<#ty>::borrow(&self.#field),
                        tensors[#input],
                        tensors[#output],
                        #activation,
                    )
                });
            }
            Step::Relu { input, output } => {
                source[output] = source[input];
                let (a, b, sb) = (act(input), act(output), shape(output));
                forward.push(quote! {
                    let mut #b = ::core::clone::Clone::clone(&#a).reshape::<#sb>();
                    #b.relu(self.tensors[#input].zero_point);
                });
            }
            Step::Alias { input, output } => {
                source[output] = source[input];
                let (a, b, sb) = (act(input), act(output), shape(output));
                forward.push(quote!(let #b = ::core::clone::Clone::clone(&#a).reshape::<#sb>();));
            }
            Step::Conv {
                layer,
                input,
                output,
                relu,
            } => {
                let l = &net.layers[layer];
                let LayerKind::Conv(c) = l.kind else { continue };
                let field = &l.name;
                let channels = c.filters as usize;
                let weights = (l.params as usize).saturating_sub(if c.bias { channels } else { 0 });
                let (wt, ct) = (
                    paths::typenum_of(weights as u64),
                    paths::typenum_of(channels as u64),
                );
                let doc = format!("`{field}`, int8 ({weights} weights, {channels} channels).");
                fields.push(quote!(#[doc = #doc] pub #field: #conv_i8<#wt, #ct>));
                weight_bytes.push(quote!(#weights + 4 * #channels));
                let (a, b, sb) = (act(input), act(output), shape(output));
                let g = window2(&c.win, l.input, l.output);
                forward.push(quote! {
                    let mut #b = #tensor_i8::<#sb>::zeros();
                    self.#field.forward(&#a, &mut #b, #g);
                });
                let activation = if relu {
                    quote!(#fused::Relu)
                } else {
                    quote!(#fused::None)
                };
                let ty = l.ty();
                let (layer_tensors, layout, field_info) =
                    (paths::layer_tensors(), paths::layout(), paths::field_info());
                let bias = if c.bias {
                    quote! {{
                        let mut b = #vec::from([0.0f32; #channels]);
                        #layer_tensors::read_tensor(l, 1, #layout::PyTorch, #field_info::default(), &mut b);
                        ::core::option::Option::Some(b)
                    }}
                } else {
                    quote!(::core::option::Option::None::<#vec<f32>>)
                };
                build.push(quote! {
                    #field: {
                        let l = ::core::borrow::Borrow::<#ty>::borrow(&self.#field);
                        let mut w: #vec<f32> = ::core::iter::repeat(0.0f32).take(#weights).collect();
                        #layer_tensors::read_tensor(l, 0, #layout::PyTorch, #field_info::default(), &mut w);
                        let b = #bias;
                        #conv_i8::from_weights(&w, b.as_deref(), tensors[#input], tensors[#output], #activation)
                    }
                });
            }
            Step::Pool {
                layer,
                input,
                output,
            } => {
                source[output] = source[input];
                let l = &net.layers[layer];
                let LayerKind::Pool(p) = l.kind else { continue };
                let (a, b, sb) = (act(input), act(output), shape(output));
                let g = window2(&p.win, l.input, l.output);
                let ops = paths::quant_ops();
                let call = match p.mode {
                    crate::layers::pool::Mode::Max => {
                        quote!(#ops::max_pool2d(#a.as_slice(), #g, (-128, 127), #b.as_mut_slice()))
                    }
                    crate::layers::pool::Mode::Avg { count_pad } => {
                        let pad = if count_pad {
                            quote!(::core::option::Option::Some(self.tensors[#input].zero_point))
                        } else {
                            quote!(::core::option::Option::None)
                        };
                        quote!(#ops::avg_pool2d(#a.as_slice(), #g, #pad, (-128, 127), #b.as_mut_slice()))
                    }
                };
                forward.push(quote! {
                    let mut #b = #tensor_i8::<#sb>::zeros();
                    #call;
                });
            }
            Step::Add {
                index,
                a,
                b,
                output,
            } => {
                let field = format_ident!("add{}", index);
                let add_params = paths::add_params();
                let doc = format!("The rescaled sum closing residual block {index}.");
                fields.push(quote!(#[doc = #doc] pub #field: #add_params));
                let (ta, tb, to, so) = (act(a), act(b), act(output), shape(output));
                forward.push(quote! {
                    let mut #to = #tensor_i8::<#so>::zeros();
                    #ops_path::add(#ta.as_slice(), #tb.as_slice(), &self.#field, #to.as_mut_slice());
                });
                let output_ty = paths::quant_output();
                build.push(quote! {
                    #field: #add_params::new(
                        (tensors[#a].scale, tensors[#a].zero_point),
                        (tensors[#b].scale, tensors[#b].zero_point),
                        tensors[#output].scale,
                        #output_ty { zero_point: tensors[#output].zero_point, range: (-128, 127) },
                    )
                });
            }
        }
    }
    let logits_act = act(logits);

    // Calibration: every op up to the logits in f32, each tensor observed.
    let mut calib = Vec::new();
    let add_into = paths::add_into();
    for op in &net.ops[..net.logits_ops] {
        let Some(l) = net.layer_of(op) else {
            let (a, b, o) = (act(op.inputs[0]), act(op.inputs[1]), act(op.output));
            let index = op.output;
            calib.push(quote! {
                let mut #o = ::core::clone::Clone::clone(&#a);
                #add_into(&mut #o, &#b);
                observers[#index].observe(#o.as_slice());
            });
            continue;
        };
        let (i, o) = (op.inputs[0], op.output);
        let (a, b, si, so) = (act(i), act(o), shape(i), shape(o));
        let value = l.value();
        calib.push(quote! {
            let mut #b = #tensor::<#so>::zeros();
            #layer_tr::<#si, #so>::forward(&#value, &#a, &mut #b);
            observers[#o].observe(#b.as_slice());
        });
    }
    let sources: Vec<usize> = source.clone();

    // The head on the dequantized logits.
    let head = match net.head {
        Head::None => quote!(logits),
        Head::Softmax | Head::Sigmoid => {
            let l = net.ops.last().and_then(|op| net.layer_of(op));
            let value = l.map_or(quote!(()), |l| l.value());
            quote! {
                let mut out = #tensor::<#out_ty>::zeros();
                #layer_tr::<#logits_ty, #out_ty>::forward(&#value, &logits, &mut out);
                out
            }
        }
    };
    let doc = format!(
        "The int8 twin of [`{name}`] (from `{name}::quantize_int8`): TFLite's int8 scheme, weights \
         per output channel, activations per tensor, int32 accumulators, integer-only \
         requantization (`Rounding::FixedPoint`; `Rounding::Double` reproduces LiteRT's \
         reference dense kernel bit for bit). No allocation."
    );
    let quantize_doc = format!(
        "Post-training int8 quantization: runs `calibration` through the network in `f32`, \
         takes each tensor's range ({name}Int8's tensors, min/max), and quantizes every layer \
         (weights per output channel, symmetric; biases int32). `Err` for an empty calibration \
         set or a tensor without a finite value."
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #vis struct #twin {
            /// The quantization of every tensor of the forward pass (0 is the input).
            pub tensors: [#qp; #n_tensors],
            /// How accumulators are scaled back to int8.
            pub rounding: #rounding,
            #(#fields,)*
        }

        #[automatically_derived]
        #[allow(unused_variables, unused_mut, clippy::all)]
        impl #twin {
            /// Bytes of the int8 weights and int32 biases.
            pub const WEIGHT_BYTES: usize = 0 #(+ #weight_bytes)*;

            /// The input quantized with the input's quantization.
            pub fn quantize_input(&self, x: &#tensor<#in_ty>) -> #tensor_i8<#in_ty> {
                #tensor_i8::quantize(x, self.tensors[0])
            }

            /// The int8 logits of an int8 input: every layer in integer arithmetic.
            pub fn forward_int8(&self, x: &#tensor_i8<#in_ty>) -> #tensor_i8<#logits_ty> {
                let a0 = ::core::clone::Clone::clone(x);
                #(#forward)*
                #logits_act
            }

            /// The logits (before a final `Softmax`/`Sigmoid`), dequantized.
            pub fn forward_logits(&self, x: &#tensor<#in_ty>) -> #tensor<#logits_ty> {
                self.forward_int8(&self.quantize_input(x)).dequantize(self.tensors[#logits])
            }

            /// Inference: quantize, int8 layers, dequantize, and the final `Softmax` or
            /// `Sigmoid` in `f32`.
            pub fn forward(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                let logits = self.forward_logits(x);
                #head
            }
        }

        #if_std! {
            #[automatically_derived]
            #[allow(unused_variables, unused_mut, clippy::all)]
            impl #name {
                #[doc = #quantize_doc]
                pub fn quantize_int8(
                    &self,
                    calibration: &[#tensor<#in_ty>],
                ) -> ::core::result::Result<#twin, #error> {
                    self.quantize_int8_with(calibration, #calibration::MinMax)
                }

                /// [`Self::quantize_int8`] with a choice of how ranges are calibrated.
                pub fn quantize_int8_with(
                    &self,
                    calibration: &[#tensor<#in_ty>],
                    how: #calibration,
                ) -> ::core::result::Result<#twin, #error> {
                    if calibration.is_empty() {
                        return ::core::result::Result::Err(#error::Empty(::std::string::String::from(
                            "the calibration set given to quantize_int8",
                        )));
                    }
                    let mut observers: #vec<#observer> = (0..#n_tensors).map(|_| #observer::new(how)).collect();
                    for x in calibration {
                        let a0 = ::core::clone::Clone::clone(x);
                        observers[0].observe(a0.as_slice());
                        #(#calib)*
                    }
                    let sources: [usize; #n_tensors] = [#(#sources),*];
                    let mut tensors = [#qp { scale: 1.0, zero_point: 0 }; #n_tensors];
                    for t in 0..#n_tensors {
                        if sources[t] != t {
                            tensors[t] = tensors[sources[t]];
                            continue;
                        }
                        if t > #logits {
                            continue;
                        }
                        tensors[t] = observers[t].params(how).ok_or_else(|| {
                            #error::Config(::std::format!(
                                "quantize_int8: tensor {t} of the forward pass has no finite value on the calibration set"
                            ))
                        })?;
                    }
                    ::core::result::Result::Ok(#twin {
                        tensors,
                        rounding: #rounding::FixedPoint,
                        #(#build,)*
                    })
                }
            }
        }
    }
}
