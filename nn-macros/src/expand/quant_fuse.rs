//! A convolution whose output only a non-overlapping max pooling reads, fused in the int8
//! twin's `forward_int8`: `ConvI8::forward_pooled` pools the accumulators before requantizing
//! (the requantization is non-decreasing, so the bytes are those of the two steps), one
//! requantization per pooled output instead of one per convolution output and no pass over
//! the convolution's output. The two steps' own statements stay as the fallback (another
//! instruction set or rounding, a layout the fused kernel does not take).

use core::ops::Range;

use proc_macro2::TokenStream;
use quote::quote;

use super::quant_plan::{act, chw, window2, Step};
use crate::layers::LayerKind;
use crate::model::Network;
use crate::paths;

/// The statements of `forward_int8` with the steps each runs: `forward` (one per step) with
/// each convolution and the max pooling that alone reads it fused into one.
pub(super) fn fuse(
    net: &Network,
    steps: &[Step],
    forward: &[TokenStream],
) -> Vec<(TokenStream, Range<usize>)> {
    let mut readers = vec![0usize; net.tensors.len()];
    for op in &net.ops {
        for &i in &op.inputs {
            readers[i] += 1;
        }
    }
    let mut out = Vec::with_capacity(forward.len());
    let mut k = 0;
    while k < steps.len() {
        if let (
            Step::Conv {
                layer,
                input,
                output,
                ..
            },
            Some(&Step::Pool {
                layer: pool,
                input: pin,
                output: pout,
            }),
        ) = (&steps[k], steps.get(k + 1))
        {
            if pin == *output && readers[*output] == 1 && pooling_window(net, pool).is_some() {
                let stmts = fused(net, (*layer, *input), pout, &forward[k..k + 2]);
                out.push((stmts, k..k + 2));
                k += 2;
                continue;
            }
        }
        out.push((forward[k].clone(), k..k + 1));
        k += 1;
    }
    out
}

/// The static holding convolution `layer`'s compile-time plan: its `ConvPlan`, or with
/// `pooled` the `PoolPlan` of its fusion with the pooling after it. One per layer at the
/// network's module level ([`plan_statics`]), shared by `forward_int8` and `forward_batch`.
pub(super) fn plan_ident(net: &Network, layer: usize, pooled: bool) -> proc_macro2::Ident {
    // The identifiers themselves (a raw identifier's `r#` dropped), not case-changed text: any
    // name the network accepts stays a valid identifier.
    let what = if pooled { "POOL_PLAN" } else { "PLAN" };
    quote::format_ident!("__NN_{}_{}_{}", net.name, net.layers[layer].name, what)
}

/// The statics of [`plan_ident`]: a `ConvPlan` per convolution, a `PoolPlan` per convolution
/// fused with its pooling (the groups of [`fuse`]).
pub(super) fn plan_statics(
    net: &Network,
    steps: &[Step],
    groups: &[(TokenStream, Range<usize>)],
) -> TokenStream {
    let simd = paths::quant_simd();
    let mut out = Vec::new();
    for (_, range) in groups {
        for k in range.clone() {
            let Step::Conv { layer, .. } = steps[k] else {
                continue;
            };
            let l = &net.layers[layer];
            let LayerKind::Conv(c) = &l.kind else {
                continue;
            };
            let g = window2(&c.win, l.input, l.output);
            let plan = plan_ident(net, layer, false);
            let pool = match steps.get(k + 1) {
                Some(&Step::Pool { layer: pool, .. }) if range.len() == 2 => {
                    pooling_window(net, pool)
                }
                _ => None,
            };
            let Some((ph, pw)) = pool else {
                out.push(quote! {
                    #[doc(hidden)]
                    #[allow(non_upper_case_globals)]
                    static #plan: #simd::ConvPlan = #simd::ConvPlan::new(#g);
                });
                continue;
            };
            // Fused with its pooling: the convolution's own plan (for the fallback statements)
            // is the one inside the `PoolPlan`, not a second copy of it (1.8 KB each).
            let pooled = plan_ident(net, layer, true);
            out.push(quote! {
                #[doc(hidden)]
                #[allow(non_upper_case_globals)]
                static #pooled: #simd::PoolPlan = #simd::PoolPlan::new(#g, (#ph, #pw));
                #[doc(hidden)]
                #[allow(non_upper_case_globals)]
                static #plan: &#simd::ConvPlan = &#pooled.conv;
            });
        }
    }
    quote!(#(#out)*)
}

/// `forward_batch`'s statement for a group of convolution steps (`range`, as [`fuse`] made it)
/// on a chunk, from chunk `ci` into chunk `co`, the requantization's parameters taken once per
/// chunk: a convolution fused with its pooling by `ConvI8::forward_pooled_many` (`per_sample`,
/// the group's statements sample by sample, where the fused kernel does not apply), a lone one
/// by `ConvI8::forward_planned_many`. `None` for other groups.
pub(super) fn conv_many(
    net: &Network,
    steps: &[Step],
    range: Range<usize>,
    (ci, co): (&proc_macro2::Ident, &proc_macro2::Ident),
    per_sample: &TokenStream,
) -> Option<TokenStream> {
    let Step::Conv { layer, .. } = steps[range.start] else {
        return None;
    };
    let l = &net.layers[layer];
    if !matches!(l.kind, LayerKind::Conv(_)) {
        return None;
    }
    let field = &l.name;
    match (range.len(), steps.get(range.start + 1)) {
        (1, _) => {
            let plan = plan_ident(net, layer, false);
            Some(quote! {
                self.#field.forward_planned_many(&#ci, &mut #co, &#plan, self.rounding);
            })
        }
        (2, Some(&Step::Pool { layer: pool, .. })) => {
            pooling_window(net, pool)?;
            let plan = plan_ident(net, layer, true);
            Some(quote! {
                if !self.#field.forward_pooled_many(&#ci, &mut #co, &#plan, self.rounding) {
                    #per_sample
                }
            })
        }
        _ => None,
    }
}

/// The window of pooling layer `pool` if it is a max pooling the fused kernel takes: stride
/// equal to the window, no padding, its output the input's size divided by the window.
fn pooling_window(net: &Network, pool: usize) -> Option<(usize, usize)> {
    let l = &net.layers[pool];
    let LayerKind::Pool(p) = &l.kind else {
        return None;
    };
    let w = &p.win;
    let plain = matches!(p.mode, crate::layers::pool::Mode::Max)
        && w.sh == w.kh
        && w.sw == w.kw
        && w.pad == [0; 4];
    let (_, ih, iw) = chw(l.input);
    let (_, oh, ow) = chw(l.output);
    let (kh, kw) = (w.kh as usize, w.kw as usize);
    (plain && kh > 0 && kw > 0 && oh == ih / kh && ow == iw / kw).then_some((kh, kw))
}

/// Convolution `layer` reading tensor `input`, pooled into tensor `pooled` (its plan
/// `plan_statics` made), with the two steps' statements as the fallback.
fn fused(
    net: &Network,
    (layer, input): (usize, usize),
    pooled: usize,
    fallback: &[TokenStream],
) -> TokenStream {
    let l = &net.layers[layer];
    if !matches!(l.kind, LayerKind::Conv(_)) {
        return quote!(#(#fallback)*);
    }
    let field = &l.name;
    let (a, b) = (act(input), act(pooled));
    let sb = paths::shape_of(net.tensors[pooled]);
    let tensor_i8 = paths::tensor_i8();
    // The fused kernel's layout, computed at compile time ([`plan_statics`]).
    let plan = plan_ident(net, layer, true);
    // The output written in place (a block returning it was a 64-byte-or-more copy, loaded
    // right after the kernel's narrower stores: a wait for them to reach the cache).
    quote! {
        let mut #b = #tensor_i8::<#sb>::zeros();
        if !self.#field.forward_pooled(&#a, &mut #b, &#plan, self.rounding) {
            #b = {
                #(#fallback)*
                #b
            };
        }
    }
}
