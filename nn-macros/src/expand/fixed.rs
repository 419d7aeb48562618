//! The fixed-point twin `NameFixed` of a network with `#[fixed(...)]`: hls4ml's arithmetic
//! (`ap_fixed<W, I, Q, O>` per layer: weights, biases, accumulators, results, tables), bit for
//! bit (`nn::fixed_point::ops` and `tables`), and `Name::to_fixed()` building it from the f32
//! weights as hls4ml's C simulation reads them (each weight printed with as many decimals as
//! its type has fractional bits, read back as a `double`, converted).
//!
//! Every precision is resolved here, during expansion: an unknown layer, a key the layer kind
//! does not take or a type that does not parse is an error at its token.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::fixed_plan::{plan, Plan};
use super::fixed_tokens::spec_tokens;
use crate::fixed_attr::FixedAttr;
use crate::layers::LayerKind;
use crate::model::{Network, OpKind};
use crate::paths;
use nn_fixed::Spec;

/// The twin's items, or the errors at the attribute's tokens.
///
/// `known`: the f32 weights known during compilation (`#[weights]`, `#[onnx]`), by name, which
/// `input_range` and `"auto"` types are analysed with ([`super::fixed_range`]).
pub fn items(net: &Network, attr: &FixedAttr, known: Option<&[(String, Vec<f32>)]>) -> TokenStream {
    // A batch norm whose types `#[fixed]` sets stays a layer (as in hls4ml, which fuses a batch
    // norm only into a layer whose result type it chooses); otherwise batch norms are folded.
    let sets_batch_norm = net.layers.iter().any(|l| {
        matches!(l.kind, LayerKind::BatchNorm(_)) && attr.layers.iter().any(|s| s.layer == l.name)
    });
    let folded = if sets_batch_norm {
        None
    } else {
        super::fold::fold(net)
    };
    let Some(folded) = folded else {
        return twin_items(net, &net.name, attr, known, &[]);
    };
    // Batch norms are folded into the layers before them (in f32, as `fold()` does) and the
    // twin is that of the folded network.
    let mut errors = TokenStream::new();
    let bns: Vec<(String, String)> = folded
        .origin
        .iter()
        .filter_map(|&(l, bn)| {
            Some((
                net.layers[bn?].name.to_string(),
                net.layers[l].name.to_string(),
            ))
        })
        .collect();
    for ls in &attr.layers {
        if let Some((bn, into)) = bns.iter().find(|(bn, _)| ls.layer == bn) {
            errors.extend(
                syn::Error::new(
                    ls.layer.span(),
                    format!("batch norm `{bn}` is folded into `{into}` in the fixed-point twin; give `{into}`'s types instead"),
                )
                .to_compile_error(),
            );
        }
    }
    // The range analysis would need the folded weights, which exist only at run time.
    if let Some(r) = attr.globals.iter().find(|g| g.key() == "input_range") {
        errors.extend(
            syn::Error::new(
                r.key().span(),
                "`input_range` cannot bound a network whose batch norms are folded yet (the folded weights exist only at run time); fold them into the weight file, or drop `input_range`",
            )
            .to_compile_error(),
        );
    }
    let names: Vec<String> = bns.iter().map(|(b, _)| b.clone()).collect();
    let twin = format_ident!("{}Fixed", net.name);
    let (name, folded_name) = (&net.name, &folded.net.name);
    let items = twin_items(&folded.net, name, attr, None, &names);
    let doc = format!("The fixed-point twin of [`{name}`] with its batch norms folded (see [`{folded_name}::to_fixed`]).");
    let if_std = paths::if_std();
    quote! {
        #errors
        #items
        #if_std! {
            impl #name {
                #[doc = #doc]
                pub fn to_fixed(&self) -> #twin {
                    self.fold().to_fixed()
                }
            }
        }
    }
}

/// The twin of `net` named after `api` (`<api>Fixed`); `to_fixed` on `net`'s type.
fn twin_items(
    net: &Network,
    api: &syn::Ident,
    attr: &FixedAttr,
    known: Option<&[(String, Vec<f32>)]>,
    folded: &[String],
) -> TokenStream {
    let mut plan = match plan(net, attr, folded) {
        Ok(p) => p,
        Err(e) => return e.to_compile_error(),
    };
    // Range errors are reported beside the twin (which is still generated, so that code using
    // it shows no follow-on errors).
    let mut range_errors = TokenStream::new();
    let ranges = if plan.range.is_some() || !plan.autos.is_empty() {
        match super::fixed_range::analyze(net, &mut plan, known, attr.span) {
            Ok(r) => Some(r),
            Err(e) => {
                range_errors = e.to_compile_error();
                None
            }
        }
    } else {
        None
    };
    let fp = paths::fixed_point();
    let name = &net.name;
    let twin = format_ident!("{}Fixed", api);
    let (if_std, layout, sd) = (paths::if_std(), paths::layout(), paths::safe_tensors());
    let in_ty = paths::shape_of(net.input);
    let out_ty = paths::shape_of(net.output());
    let n_in = net.input.len() as usize;
    let n_out = net.output().len() as usize;

    let mut summary = format!(
        "{twin}: the fixed-point twin of {name} (hls4ml's ap_fixed arithmetic)\n  input: {}\n",
        plan.input
    );
    let param_types = param_types(net, &plan);
    let Steps {
        body,
        fields,
        inits,
        lines,
        last,
    } = steps(net, &plan);
    summary.push_str(&lines);
    summary.push_str(&bounds_summary(net, ranges.as_ref(), plan.range));
    let in_spec = spec_tokens(plan.input);
    let out_spec = spec_tokens(plan.steps.last().map_or(plan.input, |s| s.1));
    let doc = format!(
        "The fixed-point twin of [`{name}`]: every layer in hls4ml's `ap_fixed` arithmetic with the types of `#[fixed]` (see [`{twin}::SUMMARY`]); `{name}::to_fixed()` builds it."
    );
    let forward = forward_methods((&in_ty, &out_ty), (n_in, n_out), &body, &last);
    let field_names: Vec<&syn::Ident> = fields.iter().map(|(n, _)| n).collect();
    let field_tys: Vec<&TokenStream> = fields.iter().map(|(_, t)| t).collect();
    // With the weights baked in (`#[weights]`, `#[onnx]`), the twin is built from their statics:
    // no file, no allocator, no `std`.
    let pretrained = match known {
        Some(tensors) => {
            let names = tensors.iter().map(|(n, _)| n);
            let statics = (0..tensors.len()).map(|k| super::weights::static_name(name, k));
            let doc = format!(
                "The fixed-point twin of `{name}::pretrained()` (the weights baked in at compile time), built without `std` or an allocator: the same values as `{name}::pretrained().to_fixed()`."
            );
            quote! {
                impl #twin {
                    #[doc = #doc]
                    pub fn pretrained() -> Self {
                        let tensor = |name: &str| -> &'static [f32] {
                            match name {
                                #(#names => &#statics,)*
                                _ => &[],
                            }
                        };
                        #(#inits)*
                        #twin { #(#field_names),* }
                    }
                }
            }
        }
        None => quote!(),
    };
    quote! {
        #range_errors

        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #twin {
            #(#[doc(hidden)] pub #field_names: #field_tys,)*
        }

        impl #twin {
            /// Every layer's types, as `#[fixed]` resolved them.
            pub const SUMMARY: &'static str = #summary;
            /// The input's type.
            pub const INPUT: #fp::Spec = #in_spec;
            /// The output's type.
            pub const OUTPUT: #fp::Spec = #out_spec;
            /// The weight and bias types of every Dense layer and convolution, by layer name
            /// (`(layer, weight_t, bias_t)`): what `nn::FakeQuant::fixed_layers` takes to train
            /// the network for exactly this twin.
            pub const PARAM_TYPES: &'static [(&'static str, #fp::Spec, #fp::Spec)] = &[#(#param_types),*];

            #forward
        }

        #pretrained

        #if_std! {
            impl #name {
                /// The fixed-point twin: each weight printed with as many decimals as its
                /// type has fractional bits, read back as a `double` and converted, as
                /// hls4ml's C simulation reads its weight files; tables built as hls4ml does.
                pub fn to_fixed(&self) -> #twin {
                    let dict = #sd::state_dict(self, #layout::PyTorch);
                    let tensor = |name: &str| -> ::std::vec::Vec<f32> {
                        dict.iter().find(|t| t.name == name).map(|t| t.data.clone()).unwrap_or_default()
                    };
                    #(#inits)*
                    #twin { #(#field_names),* }
                }
            }
        }
    }
}

/// The twin's steps: their code, the fields and initializations they need, their summary
/// lines, and the tensor holding the output (as `i64`s).
struct Steps {
    body: Vec<TokenStream>,
    fields: Vec<(syn::Ident, TokenStream)>,
    inits: Vec<TokenStream>,
    lines: String,
    last: syn::Ident,
}

fn steps(net: &Network, plan: &Plan) -> Steps {
    let (mut body, mut fields, mut inits, mut lines) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    // Which tensors are held in `i16` (between the fast Dense layers and ReLUs of an MLP: a
    // quarter of the memory traffic of `i64`); the others in `i64`.
    let mut narrow = vec![false; net.tensors.len()];
    for (op, (step, out_spec)) in net.ops.iter().zip(&plan.steps) {
        let mut x = format_ident!("a{}", op.inputs[0]);
        let y = format_ident!("a{}", op.output);
        let len = net.tensors[op.output].len() as usize;
        let layer = match op.kind {
            OpKind::Layer(i) => &net.layers[i],
            OpKind::Add => continue,
        };
        let input = in_tokens(plan, net, op.inputs[0]);
        let x_narrow = narrow[op.inputs[0]];
        if x_narrow && !super::fixed_steps::takes_i16(step, input.0) {
            let wide = format_ident!("{}_wide", x);
            body.push(quote!(let #wide = #x.map(|v| v as i64);));
            x = wide;
        }
        narrow[op.output] = match step {
            super::fixed_plan::Step::Same => x_narrow,
            _ => super::fixed_steps::holds_i16(step, input.0, *out_spec),
        };
        let (code, field, init, line) = super::fixed_steps::step(
            step,
            net,
            layer,
            (&x, &y, len),
            input,
            (*out_spec, narrow[op.output]),
        );
        body.push(code);
        fields.extend(field);
        inits.extend(init);
        lines.push_str(&line);
    }
    let mut last = format_ident!("a{}", net.output);
    if narrow[net.output] {
        let wide = format_ident!("{}_wide", last);
        body.push(quote!(let #wide = #last.map(|v| v as i64);));
        last = wide;
    }
    Steps {
        body,
        fields,
        inits,
        lines,
        last,
    }
}

/// `(layer, weight_t, bias_t)` of each Dense layer and convolution, for `PARAM_TYPES`.
fn param_types(net: &Network, plan: &Plan) -> Vec<TokenStream> {
    let mut out = Vec::new();
    for (step, _) in &plan.steps {
        if let super::fixed_plan::Step::Dense { l, p }
        | super::fixed_plan::Step::Conv { l, p, .. } = step
        {
            let (layer, w, b) = (
                net.layers[*l].name.to_string(),
                spec_tokens(p[0]),
                spec_tokens(p[1]),
            );
            out.push(quote!((#layer, #w, #b)));
        }
    }
    out
}

/// The spec of tensor `t` as tokens (the input of a step).
fn in_tokens(plan: &Plan, net: &Network, t: usize) -> (Spec, TokenStream) {
    let s = specs_of(plan, net, t);
    (s, spec_tokens(s))
}

fn specs_of(plan: &Plan, net: &Network, tensor: usize) -> Spec {
    if tensor == 0 {
        return plan.input;
    }
    net.ops
        .iter()
        .zip(&plan.steps)
        .find(|(o, _)| o.output == tensor)
        .map_or(plan.input, |(_, s)| s.1)
}

/// The summary's bounds section, when `input_range` was analysed.
fn bounds_summary(
    net: &Network,
    ranges: Option<&super::fixed_range::Ranges>,
    range: Option<((f64, f64), proc_macro2::Span)>,
) -> String {
    let mut summary = String::new();
    if let (Some(r), Some(((lo, hi), _))) = (ranges, range) {
        summary.push_str(&format!(
            "  bounds for inputs in [{lo}, {hi}] (interval arithmetic on the quantized weights):\n"
        ));
        for (op, (acc, out)) in net.ops.iter().zip(r.accum.iter().zip(&r.output)) {
            let OpKind::Layer(i) = op.kind else { continue };
            let name = &net.layers[i].name;
            match acc {
                Some(a) => summary.push_str(&format!(
                    "    {name}: sums in [{:.3}, {:.3}], results in [{:.3}, {:.3}]\n",
                    a.0, a.1, out.0, out.1
                )),
                None => summary.push_str(&format!(
                    "    {name}: results in [{:.3}, {:.3}]\n",
                    out.0, out.1
                )),
            }
        }
    }
    summary
}

/// The run-time choice between `{name}_avx512` and `{name}_avx2` (each taking `x`), returning
/// its result; falls through where the CPU has neither (or off x86-64).
fn isa_dispatch(name: &str) -> TokenStream {
    let fp = paths::fixed_point();
    let (avx512, avx2) = (
        quote::format_ident!("{name}_avx512"),
        quote::format_ident!("{name}_avx2"),
    );
    quote! {
        #[cfg(target_arch = "x86_64")]
        {
            match #fp::fast::Isa::detect() {
                // SAFETY: `detect` found AVX-512 F, BW and VL, POPCNT and AVX2 on this CPU.
                #fp::fast::Isa::Avx512 => return unsafe { self.#avx512(x) },
                // SAFETY: `detect` found AVX2 on this CPU.
                #fp::fast::Isa::Avx2 => return unsafe { self.#avx2(x) },
                #fp::fast::Isa::Portable => {}
            }
        }
    }
}

/// `forward_raw` (dispatched to copies compiled for AVX-512 and AVX2, integer arithmetic: the
/// same results), `forward_f64` and `forward`, over the steps' code `body` ending in `last`.
fn forward_methods(
    (in_ty, out_ty): (&TokenStream, &TokenStream),
    (n_in, n_out): (usize, usize),
    body: &[TokenStream],
    last: &syn::Ident,
) -> TokenStream {
    let fp = paths::fixed_point();
    let tensor = paths::tensor();
    let raw_dispatch = isa_dispatch("__forward_raw");
    let dispatch = isa_dispatch("__forward");
    quote! {
            /// Inference on raw input values of type [`Self::INPUT`]; raw outputs of type
            /// [`Self::OUTPUT`]. Integer arithmetic only.
            pub fn forward_raw(&self, x: &[i64; #n_in]) -> [i64; #n_out] {
                #raw_dispatch
                self.__forward_raw_base(x)
            }

            /// The steps, inlined into each `forward_raw` copy below (compiled for its
            /// instruction set, which it passes as `__isa`, a constant: the kernels' choice
            /// folds) and into `forward`'s AVX-512 copy; `forward`'s other copies call
            /// `forward_raw`'s.
            ///
            /// # Safety
            /// The CPU must have `__isa`.
            #[doc(hidden)]
            #[inline(always)]
            unsafe fn __forward_raw_body(
                &self,
                a0: [i64; #n_in],
                __isa: #fp::fast::Isa,
            ) -> [i64; #n_out] {
                #(#body)*
                #last
            }

            #[doc(hidden)]
            pub fn __forward_raw_base(&self, x: &[i64; #n_in]) -> [i64; #n_out] {
                // SAFETY: every CPU runs the portable loops.
                unsafe { self.__forward_raw_body(*x, #fp::fast::Isa::Portable) }
            }

            /// `forward_raw` compiled with AVX-512 (F, BW, VL) enabled (integer arithmetic: the
            /// same results), chosen at run time by `forward_raw`.
            ///
            /// # Safety
            /// The CPU must support AVX2, AVX-512 F, BW and VL, POPCNT and BMI1.
            #[doc(hidden)]
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx,avx2,avx512f,avx512bw,avx512vl,popcnt,bmi1")]
            pub unsafe fn __forward_raw_avx512(&self, x: &[i64; #n_in]) -> [i64; #n_out] {
                // SAFETY: as this function's.
                unsafe { self.__forward_raw_body(*x, #fp::fast::Isa::Avx512) }
            }

            /// `forward_raw` compiled with AVX2 enabled, chosen at run time by `forward_raw`.
            ///
            /// # Safety
            /// The CPU must support AVX2.
            #[doc(hidden)]
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx,avx2")]
            pub unsafe fn __forward_raw_avx2(&self, x: &[i64; #n_in]) -> [i64; #n_out] {
                // SAFETY: as this function's.
                unsafe { self.__forward_raw_body(*x, #fp::fast::Isa::Avx2) }
            }

            /// Inference on `f64` inputs, each converted to [`Self::INPUT`] as a C++ `double`
            /// assigned to it (hls4ml's `predict` on float64); the outputs' exact values.
            pub fn forward_f64(&self, x: &[f64; #n_in]) -> [f64; #n_out] {
                let raw = x.map(|v| #fp::fast::from_f64(Self::INPUT, v).raw);
                self.forward_raw(&raw).map(|r| #fp::fast::to_f64(Self::OUTPUT, r))
            }

            /// Inference on an f32 tensor (each value converted to [`Self::INPUT`]).
            pub fn forward(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                #dispatch
                // SAFETY: every CPU runs the portable loops.
                let raw = unsafe { Self::__input_raw(x, #fp::fast::Isa::Portable) };
                Self::__output_f32(&self.__forward_raw_base(&raw))
            }

            /// `forward` compiled with AVX-512 (F, BW, VL) enabled, conversions included.
            ///
            /// # Safety
            /// The CPU must support AVX2, AVX-512 F, BW and VL, POPCNT and BMI1.
            #[doc(hidden)]
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx,avx2,avx512f,avx512bw,avx512vl,popcnt,bmi1")]
            pub unsafe fn __forward_avx512(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                // The steps inlined here too (a fourth copy): the call to `forward_raw`'s copy
                // cost M1's twin 14 of its 157 ns (the arrays crossing it).
                // SAFETY: as this function's.
                let y = unsafe {
                    let x = Self::__input_raw(x, #fp::fast::Isa::Avx512);
                    self.__forward_raw_body(x, #fp::fast::Isa::Avx512)
                };
                Self::__output_f32(&y)
            }

            /// `forward` compiled with AVX2 enabled, conversions included.
            ///
            /// # Safety
            /// The CPU must support AVX2.
            #[doc(hidden)]
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx,avx2")]
            pub unsafe fn __forward_avx2(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                // SAFETY: as this function's.
                Self::__output_f32(&unsafe {
                    self.__forward_raw_avx2(&Self::__input_raw(x, #fp::fast::Isa::Avx2))
                })
            }

            /// The raw input values of `x` (each converted to [`Self::INPUT`]), with the
            /// instruction set `isa`.
            ///
            /// # Safety
            /// The CPU must have `isa`.
            #[doc(hidden)]
            #[inline(always)]
            unsafe fn __input_raw(x: &#tensor<#in_ty>, isa: #fp::fast::Isa) -> [i64; #n_in] {
                let mut raw = [0i64; #n_in];
                // SAFETY: as this function's.
                unsafe { #fp::fast::from_f32_slice_on(isa, Self::INPUT, x.as_slice(), &mut raw) };
                raw
            }

            /// The f32 tensor of raw output values `y` (of type [`Self::OUTPUT`]).
            #[doc(hidden)]
            #[inline(always)]
            pub fn __output_f32(y: &[i64; #n_out]) -> #tensor<#out_ty> {
                let mut out = <#tensor<#out_ty> as ::core::default::Default>::default();
                for (o, &r) in out.as_mut_slice().iter_mut().zip(y.iter()) {
                    *o = #fp::fast::to_f32(Self::OUTPUT, r);
                }
                out
            }
    }
}
