//! The int8 twin `NameInt8` and `Name::quantize_int8`: post-training quantization with the
//! TFLite int8 scheme (`nn::quant`). Supported: `Dense` and convolutions (a batch norm right
//! after them folded into their weights and biases in `f32` before quantizing, a following
//! `ReLU` fused into the output clamp), pooling, residual sums, `ReLU` on its own, every other
//! elementwise activation and a one-slope `PReLU` as a 256-entry lookup table
//! (`nn::quant::LutI8`), `Flatten`, `Dropout` and `Identity` (free), and a final `Softmax` or
//! `Sigmoid` (computed in `f32` on the dequantized logits). For a network with any other layer
//! (a batch norm with nothing to fold into, a per-channel `PReLU`), `quantize_int8` is
//! generated to return an `Err` naming that layer.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::quant_plan::{act, activation, head, plan, window2, Step};
use crate::layers::LayerKind;
use crate::model::Network;
use crate::paths;

/// The twin and `quantize_int8`, or the `quantize_int8` that explains what is missing.
pub fn items(net: &Network) -> TokenStream {
    let name = &net.name;
    let in_ty = paths::shape_of(net.input);
    let (tensor, error, if_std) = (paths::tensor(), paths::error(), paths::if_std());
    let calibration = paths::calibration();
    let supported = "the int8 twin supports Dense, Conv1d and Conv2d (a BatchNorm1d/BatchNorm2d \
                     right after one is folded into its weights), max and average pooling, \
                     ReLU, every other elementwise activation and a one-slope PReLU (as \
                     256-entry tables), Flatten, Dropout, Identity, residual blocks and a final \
                     Softmax or Sigmoid; a batch norm after any other layer and a per-channel \
                     PReLU are not supported yet";
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

/// What one step adds to the twin: struct fields, statements of `forward_int8`, field
/// initializers of `quantize_int8_with`, and terms of `WEIGHT_BYTES`.
#[derive(Default)]
struct Parts {
    fields: Vec<TokenStream>,
    forward: Vec<TokenStream>,
    build: Vec<TokenStream>,
    bytes: Vec<TokenStream>,
}

/// A dense layer's field, step and construction (with the batch norm `bn` folded into its
/// weights and biases in `f32` first, as `Dense::fold_batchnorm` does).
fn dense_parts(
    net: &Network,
    layer: usize,
    (input, output): (usize, usize),
    (relu, bn): (bool, Option<usize>),
    p: &mut Parts,
) {
    let l = &net.layers[layer];
    let (field, ty) = (&l.name, l.ty());
    let (ni, no) = (l.input.len() as usize, l.output.len() as usize);
    let (i, o) = (
        paths::typenum_of(l.input.len()),
        paths::typenum_of(l.output.len()),
    );
    let (dense_i8, tensor_i8) = (paths::dense_i8(), paths::tensor_i8());
    let doc = format!("`{field}`, int8 ({ni} -> {no}).");
    p.fields
        .push(quote!(#[doc = #doc] pub #field: #dense_i8<#i, #o>));
    p.bytes.push(quote!(#ni * #no + 4 * #no));
    let (a, b, sb) = (
        act(input),
        act(output),
        paths::shape_of(net.tensors[output]),
    );
    p.forward.push(quote! {
        let mut #b = #tensor_i8::<#sb>::zeros();
        // SAFETY: `__isa` is the instruction set of the copy of the steps this runs in, which
        // runs only on a CPU that has it.
        unsafe { self.#field.forward_known(__isa, &#a, &mut #b, self.rounding) };
    });
    let act = activation(relu);
    let Some(bn) = bn else {
        p.build.push(quote! {
            #field: #dense_i8::from_dense(
                ::core::borrow::Borrow::<#ty>::borrow(&self.#field),
                tensors[#input],
                tensors[#output],
                #act,
            )
        });
        return;
    };
    let (bn_field, bn_ty, new_large) = (
        &net.layers[bn].name,
        net.layers[bn].ty(),
        paths::new_large(),
    );
    p.build.push(quote! {
        #field: {
            let d = ::core::borrow::Borrow::<#ty>::borrow(&self.#field);
            let bn = ::core::borrow::Borrow::<#bn_ty>::borrow(&self.#bn_field);
            // Built in place: a large layer has no stack temporary.
            let folded = #new_large(|l: &mut #ty| {
                for o in 0..#no {
                    let (a, c) = bn.affine(o);
                    for i in 0..#ni {
                        l.w[i][o] = d.w[i][o] * a;
                    }
                    l.b[o] = a * d.b[o] + c;
                }
            });
            #dense_i8::from_dense(
                ::core::borrow::Borrow::<#ty>::borrow(&folded),
                tensors[#input],
                tensors[#output],
                #act,
            )
        }
    });
}

/// A convolution's field, step and construction (its weights read in PyTorch's layout, the
/// batch norm `bn` folded into them and the biases in `f32` first, as `fold_batchnorm` does).
fn conv_parts(
    net: &Network,
    layer: usize,
    (input, output): (usize, usize),
    (relu, bn): (bool, Option<usize>),
    p: &mut Parts,
) {
    let l = &net.layers[layer];
    let LayerKind::Conv(c) = l.kind else { return };
    let (field, ty) = (&l.name, l.ty());
    let channels = c.filters as usize;
    let weights = (l.params as usize).saturating_sub(if c.bias { channels } else { 0 });
    let (wt, ct) = (
        paths::typenum_of(weights as u64),
        paths::typenum_of(channels as u64),
    );
    // Each filter padded with zeros to a multiple of 4 bytes (whole words for the kernels).
    let padded = channels * (weights / channels.max(1)).div_ceil(4) * 4;
    let pt = paths::typenum_of(padded as u64);
    let (conv_i8, tensor_i8, vec) = (paths::conv_i8(), paths::tensor_i8(), paths::vec());
    let (layer_tensors, layout, info) =
        (paths::layer_tensors(), paths::layout(), paths::field_info());
    let doc = format!("`{field}`, int8 ({weights} weights, {channels} channels).");
    p.fields
        .push(quote!(#[doc = #doc] pub #field: #conv_i8<#wt, #ct, #pt>));
    p.bytes.push(quote!(#weights + 4 * #channels));
    let (a, b, sb) = (
        act(input),
        act(output),
        paths::shape_of(net.tensors[output]),
    );
    // The kernel's layout, computed at compile time (`quant_fuse::plan_statics`).
    let plan = super::quant_fuse::plan_ident(net, layer, false);
    p.forward.push(quote! {
        let mut #b = #tensor_i8::<#sb>::zeros();
        self.#field.forward_planned(&#a, &mut #b, &#plan, self.rounding);
    });
    let bias = if c.bias {
        quote! {{
            let mut b = #vec::from([0.0f32; #channels]);
            #layer_tensors::read_tensor(l, 1, #layout::PyTorch, #info::default(), &mut b);
            ::core::option::Option::Some(b)
        }}
    } else {
        quote!(::core::option::Option::None::<#vec<f32>>)
    };
    let act = activation(relu);
    let fold = bn.map(|bn| {
        let (bn_field, bn_ty) = (&net.layers[bn].name, net.layers[bn].ty());
        let per = (weights / channels.max(1)).max(1);
        quote! {
            let bn = ::core::borrow::Borrow::<#bn_ty>::borrow(&self.#bn_field);
            for (c, row) in w.chunks_mut(#per).enumerate() {
                let a = bn.affine(c).0;
                row.iter_mut().for_each(|v| *v *= a);
            }
            let b: #vec<f32> = (0..#channels)
                .map(|c| {
                    let (a, s) = bn.affine(c);
                    a * b.as_ref().and_then(|b| b.get(c)).copied().unwrap_or(0.0) + s
                })
                .collect();
            let b = ::core::option::Option::Some(b);
        }
    });
    p.build.push(quote! {
        #field: {
            let l = ::core::borrow::Borrow::<#ty>::borrow(&self.#field);
            let mut w: #vec<f32> = ::core::iter::repeat(0.0f32).take(#weights).collect();
            #layer_tensors::read_tensor(l, 0, #layout::PyTorch, #info::default(), &mut w);
            let b = #bias;
            #fold
            #conv_i8::from_weights(&w, b.as_deref(), tensors[#input], tensors[#output], #act)
                .in_lanes(&#plan)
        }
    });
}

/// An activation's lookup table: its field, step and construction (the table of the layer's
/// own `f32` function between the calibrated quantizations of its input and output).
fn lut_parts(net: &Network, layer: usize, (input, output): (usize, usize), p: &mut Parts) {
    let l = &net.layers[layer];
    let (field, value) = (&l.name, l.value());
    let (lut_i8, tensor_i8) = (paths::lut_i8(), paths::tensor_i8());
    let doc = format!(
        "`{field}` ({}), int8 as a 256-entry lookup table.",
        l.kind_name
    );
    p.fields.push(quote!(#[doc = #doc] pub #field: #lut_i8));
    p.bytes.push(quote!(#lut_i8::BYTES));
    let (a, b, sb) = (
        act(input),
        act(output),
        paths::shape_of(net.tensors[output]),
    );
    p.forward.push(quote! {
        let mut #b = #tensor_i8::<#sb>::zeros();
        self.#field.forward(&#a, &mut #b);
    });
    p.build.push(quote! {
        #field: #lut_i8::from_activation(&#value, tensors[#input], tensors[#output])
    });
}

/// A pooling step (no field: the output keeps the input's quantization).
fn pool_parts(net: &Network, layer: usize, (input, output): (usize, usize), p: &mut Parts) {
    let l = &net.layers[layer];
    let LayerKind::Pool(pool) = l.kind else {
        return;
    };
    let (ops, tensor_i8) = (paths::quant_ops(), paths::tensor_i8());
    let (a, b, sb) = (
        act(input),
        act(output),
        paths::shape_of(net.tensors[output]),
    );
    let g = window2(&pool.win, l.input, l.output);
    let call = match pool.mode {
        crate::layers::pool::Mode::Max => {
            let simd = paths::quant_simd();
            quote!(#simd::max_pool2d(#a.as_slice(), #g, (-128, 127), #b.as_mut_slice()))
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
    p.forward.push(quote! {
        let mut #b = #tensor_i8::<#sb>::zeros();
        #call;
    });
}

/// The rescaled sum closing residual block `index`: its field, step and construction.
fn add_parts(net: &Network, index: usize, (a, b, output): (usize, usize, usize), p: &mut Parts) {
    let field = format_ident!("add{}", index);
    let (add_params, output_ty) = (paths::add_params(), paths::quant_output());
    let (ops, tensor_i8) = (paths::quant_ops(), paths::tensor_i8());
    let doc = format!("The rescaled sum closing residual block {index}.");
    p.fields.push(quote!(#[doc = #doc] pub #field: #add_params));
    let (ta, tb, to) = (act(a), act(b), act(output));
    let so = paths::shape_of(net.tensors[output]);
    p.forward.push(quote! {
        let mut #to = #tensor_i8::<#so>::zeros();
        #ops::add(#ta.as_slice(), #tb.as_slice(), &self.#field, #to.as_mut_slice());
    });
    p.build.push(quote! {
        #field: #add_params::new(
            (tensors[#a].scale, tensors[#a].zero_point),
            (tensors[#b].scale, tensors[#b].zero_point),
            tensors[#output].scale,
            #output_ty { zero_point: tensors[#output].zero_point, range: (-128, 127) },
        )
    });
}

/// Every step's parts, and for each tensor the tensor whose calibrated range it takes
/// (itself, or the input of a step that keeps the quantization).
fn parts(net: &Network, steps: &[Step]) -> (Parts, Vec<usize>) {
    let mut p = Parts::default();
    let mut source: Vec<usize> = (0..net.tensors.len()).collect();
    // How many ops read each tensor: one that only a reshape or ReLU reads is moved, not copied.
    let mut readers = vec![0usize; net.tensors.len()];
    for op in &net.ops {
        for &i in &op.inputs {
            readers[i] += 1;
        }
    }
    for step in steps {
        match *step {
            Step::Dense {
                layer,
                input,
                output,
                relu,
                bn,
            } => dense_parts(net, layer, (input, output), (relu, bn), &mut p),
            Step::Conv {
                layer,
                input,
                output,
                relu,
                bn,
            } => conv_parts(net, layer, (input, output), (relu, bn), &mut p),
            Step::Lut {
                layer,
                input,
                output,
            } => lut_parts(net, layer, (input, output), &mut p),
            Step::Pool {
                layer,
                input,
                output,
            } => {
                source[output] = source[input];
                pool_parts(net, layer, (input, output), &mut p);
            }
            Step::Add {
                index,
                a,
                b,
                output,
            } => add_parts(net, index, (a, b, output), &mut p),
            Step::Relu { input, output } | Step::Alias { input, output } => {
                source[output] = source[input];
                let (a, b) = (act(input), act(output));
                let sb = paths::shape_of(net.tensors[output]);
                let relu = matches!(step, Step::Relu { .. })
                    .then(|| quote!(#b.relu(self.tensors[#input].zero_point);));
                let value = if readers[input] == 1 {
                    quote!(#a)
                } else {
                    quote!(::core::clone::Clone::clone(&#a))
                };
                p.forward.push(quote! {
                    let mut #b = #value.reshape::<#sb>();
                    #relu
                });
            }
        }
    }
    (p, source)
}

/// The calibration pass: every op up to the logits in `f32`, each tensor observed.
fn calibration_steps(net: &Network) -> Vec<TokenStream> {
    let (tensor, layer_tr, add_into) = (paths::tensor(), paths::layer(), paths::add_into());
    let shape = |t: usize| paths::shape_of(net.tensors[t]);
    net.ops[..net.logits_ops]
        .iter()
        .map(|op| {
            let o = op.output;
            let b = act(o);
            let Some(l) = net.layer_of(op) else {
                let (x, y) = (act(op.inputs[0]), act(op.inputs[1]));
                return quote! {
                    let mut #b = ::core::clone::Clone::clone(&#x);
                    #add_into(&mut #b, &#y);
                    observers[#o].observe(#b.as_slice());
                };
            };
            let i = op.inputs[0];
            let (a, si, so, value) = (act(i), shape(i), shape(o), l.value());
            quote! {
                let mut #b = #tensor::<#so>::zeros();
                #layer_tr::<#si, #so>::forward(&#value, &#a, &mut #b);
                observers[#o].observe(#b.as_slice());
            }
        })
        .collect()
}

/// The twin's struct, its forward pass and `quantize_int8`.
fn twin(net: &Network, steps: &[Step]) -> TokenStream {
    let (name, vis) = (&net.name, &net.vis);
    let twin = format_ident!("{}Int8", name);
    let (tensor, tensor_i8, qp, rounding) = (
        paths::tensor(),
        paths::tensor_i8(),
        paths::quant_params(),
        paths::rounding(),
    );
    let in_ty = paths::shape_of(net.input);
    let (logits_ty, out_ty) = (
        paths::shape_of(net.tensors[net.logits]),
        paths::shape_of(net.output()),
    );
    let (n_tensors, logits) = (net.tensors.len(), net.logits);
    let (p, source) = parts(net, steps);
    let Parts {
        fields,
        forward,
        build,
        bytes,
    } = p;
    let logits_act = act(logits);
    let doc = format!(
        "The int8 twin of [`{name}`] (from `{name}::quantize_int8`): TFLite's int8 scheme, weights \
         per output channel, activations per tensor, int32 accumulators, integer-only \
         requantization (`Rounding::FixedPoint`; `Rounding::Double` makes dense layers round as \
         LiteRT's reference kernel does, `Rounding::Onnx` every layer as onnxruntime does on the \
         twin's `save_onnx` export). No allocation."
    );
    let quantize = quantize_methods(net, &twin, &build, &source);
    let isa8 = paths::isa8();
    let groups = super::quant_fuse::fuse(net, steps, &forward);
    let plans = super::quant_fuse::plan_statics(net, steps, &groups);
    let extras = twin_extras(net, steps, &twin, &groups);
    let softmax_head = softmax_head(net, steps, &groups);
    let copies = forward_copies(net, (&in_ty, &out_ty), softmax_head.is_some());
    let softmax_head = softmax_head.map(|(field, input, before)| {
        let a = act(input);
        quote! {
            /// `forward` with the input quantized in place (no copy of a returned tensor) and
            /// the last dense layer and the `Softmax` in one kernel where `__isa` has one
            /// (`DenseI8::forward_softmax_known`): the same bits.
            ///
            /// # Safety
            /// The CPU must have `__isa`.
            #[doc(hidden)]
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            unsafe fn __forward_softmax_on(
                &self,
                x: &#tensor<#in_ty>,
                __isa: #isa8,
            ) -> #tensor<#out_ty> {
                let mut a0 = #tensor_i8::<#in_ty>::zeros();
                a0.quantize_from(x, self.tensors[0], self.rounding);
                #(#before)*
                // SAFETY: as this function's.
                unsafe {
                    self.#field.forward_softmax_known(
                        __isa,
                        &#a,
                        self.tensors[#logits],
                        self.rounding,
                    )
                }
            }
        }
    });
    let forward: Vec<&TokenStream> = groups.iter().map(|(stmts, _)| stmts).collect();
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #vis struct #twin {
            /// The quantization of every tensor of the forward pass (0 is the input).
            pub tensors: [#qp; #n_tensors],
            /// How dense layers scale accumulators back to int8 (with `Double`, convolutions
            /// keep the fixed-point multiplier, as LiteRT's reference kernels do; `Onnx`
            /// rounds convolutions and the input's quantization as onnxruntime does too).
            /// Residual sums and average pooling always compute as TFLite's kernels.
            pub rounding: #rounding,
            #(#fields,)*
        }

        #[automatically_derived]
        #[allow(unused_variables, unused_mut, clippy::all)]
        impl #twin {
            /// Bytes of the int8 weights and int32 biases.
            pub const WEIGHT_BYTES: usize = 0 #(+ #bytes)*;

            /// The input quantized with the input's quantization.
            pub fn quantize_input(&self, x: &#tensor<#in_ty>) -> #tensor_i8<#in_ty> {
                #tensor_i8::quantize_with(x, self.tensors[0], self.rounding)
            }

            /// The int8 logits of an int8 input: every layer in integer arithmetic.
            pub fn forward_int8(&self, x: &#tensor_i8<#in_ty>) -> #tensor_i8<#logits_ty> {
                // SAFETY: the detected instruction set.
                unsafe { self.__forward_int8_on(x, #isa8::detect()) }
            }

            /// `forward_int8` with the dense layers' instruction set `__isa` (a constant in the
            /// copy of `forward` for AVX-512 VNNI, so that their kernels' choice folds).
            ///
            /// # Safety
            /// The CPU must have `__isa`.
            #[doc(hidden)]
            #[inline(always)]
            unsafe fn __forward_int8_on(
                &self,
                x: &#tensor_i8<#in_ty>,
                __isa: #isa8,
            ) -> #tensor_i8<#logits_ty> {
                let a0 = ::core::clone::Clone::clone(x);
                #(#forward)*
                #logits_act
            }

            /// The logits (before a final `Softmax`/`Sigmoid`), dequantized.
            pub fn forward_logits(&self, x: &#tensor<#in_ty>) -> #tensor<#logits_ty> {
                self.forward_int8(&self.quantize_input(x)).dequantize(self.tensors[#logits])
            }

            #copies
            #softmax_head
        }

        #plans
        #quantize
        #extras
    }
}

/// The last dense layer that `__forward_softmax_on` ends in
/// ([`super::quant_api::softmax_head`]), the tensor it reads and the statements before it.
fn softmax_head<'a>(
    net: &'a Network,
    steps: &[Step],
    groups: &'a [(TokenStream, core::ops::Range<usize>)],
) -> Option<(&'a proc_macro2::Ident, usize, Vec<&'a TokenStream>)> {
    let (field, input, skip) = super::quant_api::softmax_head(net, steps, groups)?;
    let rest = groups[..groups.len() - skip].iter().map(|(stmts, _)| stmts);
    Some((field, input, rest.collect()))
}

/// The twin's `forward` and its copies: the baseline, AVX2 (with FMA, for the head) and AVX-512
/// VNNI (the dense layers' instruction set a constant), chosen at run time; with
/// `softmax_head`, the VNNI copy ends in `__forward_softmax_on`.
fn forward_copies(
    net: &Network,
    (in_ty, out_ty): (&TokenStream, &TokenStream),
    softmax_head: bool,
) -> TokenStream {
    let tensor = paths::tensor();
    let logits = net.logits;
    let head = head(net);
    let call = super::inference::dispatch(
        &format_ident!("__nn_forward_base"),
        &format_ident!("__nn_forward_avx2"),
        quote!(x),
    );
    let (isa8, use_avx2) = (paths::isa8(), paths::use_avx2());
    let vnni_body = if softmax_head {
        quote! {
            // SAFETY: as this function's.
            unsafe { self.__forward_softmax_on(x, #isa8::Vnni) }
        }
    } else {
        quote! {
            // SAFETY: as this function's.
            let logits = unsafe {
                self.__forward_int8_on(&self.quantize_input(x), #isa8::Vnni)
            }
            .dequantize(self.tensors[#logits]);
            #head
        }
    };
    quote! {
        /// Inference: quantize, int8 layers, dequantize, and the final `Softmax` or
        /// `Sigmoid` in `f32`.
        #[inline]
        pub fn forward(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
            #[cfg(target_arch = "x86_64")]
            {
                if #isa8::detect() == #isa8::Vnni && #use_avx2() {
                    // SAFETY: the CPU has AVX-512 (F, BW, VL) with VNNI, AVX2 and FMA.
                    return unsafe { self.__nn_forward_vnni(x) };
                }
            }
            #call
        }

        /// `forward` compiled with AVX-512 VNNI (and AVX2 and FMA) enabled, the dense
        /// layers' instruction set a constant (their kernels inline here): chosen at run
        /// time by `forward` where the CPU has it. The same bits.
        ///
        /// # Safety
        /// The CPU must support AVX-512 F, BW, VL and VNNI, AVX2 and FMA.
        #[doc(hidden)]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx,avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub unsafe fn __nn_forward_vnni(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
            #vnni_body
        }

        /// `forward` compiled for the baseline target.
        #[doc(hidden)]
        #[inline(always)]
        pub fn __nn_forward_base(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
            let logits = self.forward_logits(x);
            #head
        }

        /// `forward` compiled with AVX2 and FMA enabled (the quantization of the input,
        /// the head's exponentials; the int8 layers choose their kernels themselves), chosen
        /// at run time by `forward`: the same bits (no fused multiply-adds are introduced).
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[doc(hidden)]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx,avx2,fma")]
        pub unsafe fn __nn_forward_avx2(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
            self.__nn_forward_base(x)
        }
    }
}

/// The rest of the twin's API, generated from its steps: `SUMMARY` and `forward_batch`
/// (`quant_api`), its weight files (`quant_io`).
fn twin_extras(
    net: &Network,
    steps: &[Step],
    twin: &proc_macro2::Ident,
    groups: &[(TokenStream, core::ops::Range<usize>)],
) -> TokenStream {
    let mut out = super::quant_api::items(net, steps, twin, groups);
    out.extend(super::quant_io::items(net, steps, twin));
    out.extend(super::quant_onnx::items(net, steps, twin));
    out
}

/// `Name::quantize_int8` and `quantize_int8_with` (with `std`): calibration, then the twin.
fn quantize_methods(
    net: &Network,
    twin: &proc_macro2::Ident,
    build: &[TokenStream],
    source: &[usize],
) -> TokenStream {
    let name = &net.name;
    let (tensor, qp, rounding, observer, calibration, error) = (
        paths::tensor(),
        paths::quant_params(),
        paths::rounding(),
        paths::observer(),
        paths::calibration(),
        paths::error(),
    );
    let (if_std, vec) = (paths::if_std(), paths::vec());
    let in_ty = paths::shape_of(net.input);
    let (n_tensors, logits) = (net.tensors.len(), net.logits);
    let calib = calibration_steps(net);
    let doc = format!(
        "Post-training int8 quantization: runs `calibration` through the network in `f32`, \
         takes each tensor's range (min/max), and quantizes every layer (weights per output \
         channel, symmetric; biases int32) into a [`{twin}`]. `Err` for an empty calibration \
         set or a tensor without a finite value."
    );
    quote! {
        #if_std! {
            #[automatically_derived]
            #[allow(unused_variables, unused_mut, clippy::all)]
            impl #name {
                #[doc = #doc]
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
                    let sources: [usize; #n_tensors] = [#(#source),*];
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
