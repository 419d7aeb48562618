//! The int8 twin as a first-class network: `NameInt8::SUMMARY` (its layer table with int8 and
//! int32 bytes against the `f32` network's) and `forward_batch`.

use core::ops::Range;

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::quant_plan::{act, Step};
use super::summary::thousands;
use crate::layers::LayerKind;
use crate::model::{Head, Network, OpKind};
use crate::paths;

/// Samples per chunk of the twin's `forward_batch` (when their activations fit
/// [`CHUNK_BYTES`]): dense layers take them together, sharing each weight load. Chunks of
/// [`BIG_CHUNK`] first where they fit [`BIG_CHUNK_BYTES`] (M1's int8 batch 80 -> 77, M2's 550
/// -> 542 ns/sample: the per-call work of every layer halved), then chunks of `CHUNK`.
const CHUNK: usize = 8;

/// The larger chunk.
const BIG_CHUNK: usize = 16;

/// Stack bytes a chunk of [`BIG_CHUNK`] samples may take: with the weights, the level-1 data
/// cache's 48 KB (M4's 42 KB chunk of 16 ran at 0.7 of its chunk of 8 in most full nn-bench
/// runs).
const BIG_CHUNK_BYTES: u64 = 32 * 1024;

/// Stack bytes a chunk's int8 activations may take.
const CHUNK_BYTES: u64 = 64 * 1024;

/// `SUMMARY` and `forward_batch` of the twin (`groups`: the statements of `forward_int8`, each
/// with the steps it runs).
pub fn items(
    net: &Network,
    steps: &[Step],
    twin: &Ident,
    groups: &[(TokenStream, Range<usize>)],
) -> TokenStream {
    let summary = table(net, steps, twin);
    let (batch, chunk) = batch_body(net, steps, groups);
    let (tensor, batch_len_error, split_batch) = (
        paths::tensor(),
        paths::batch_len_error(),
        paths::split_batch(),
    );
    let (in_ty, out_ty) = (paths::shape_of(net.input), paths::shape_of(net.output()));
    let macs = net.macs() as usize;
    let call = super::inference::dispatch(
        &quote::format_ident!("__nn_batch_base"),
        &quote::format_ident!("__nn_batch_avx2"),
        quote!(xs, ys),
    );
    quote! {
        #[automatically_derived]
        impl #twin {
            /// The twin's layer table: every int8 step with the tensors it reads and writes
            /// (indices of `tensors`), its output shape, its int8 weight and int32 bias bytes,
            /// and the totals against the `f32` network's parameter bytes.
            pub const SUMMARY: &'static str = #summary;

            /// Inference on a batch, `ys[i] = forward(xs[i])` (the same values as `forward`,
            /// bit for bit). Allocates nothing on one thread; with `nn::set_threads` the
            /// samples are split over threads (the same results for any thread count). `Err`
            /// if the slices' lengths differ.
            pub fn forward_batch(
                &self,
                xs: &[#tensor<#in_ty>],
                ys: &mut [#tensor<#out_ty>],
            ) -> ::core::result::Result<(), #batch_len_error> {
                if xs.len() != ys.len() {
                    return ::core::result::Result::Err(#batch_len_error { inputs: xs.len(), outputs: ys.len() });
                }
                #split_batch(xs, ys, 1, #macs, |xs, ys| self.__nn_batch(xs, ys));
                ::core::result::Result::Ok(())
            }

            /// `forward_batch`'s work on one slice of samples, in the AVX2 copy where the CPU
            /// has it.
            #[doc(hidden)]
            #[inline]
            pub fn __nn_batch(&self, xs: &[#tensor<#in_ty>], ys: &mut [#tensor<#out_ty>]) {
                #call
            }

            /// `__nn_batch` compiled for the baseline target.
            #[doc(hidden)]
            #[inline(always)]
            pub fn __nn_batch_base(&self, xs: &[#tensor<#in_ty>], ys: &mut [#tensor<#out_ty>]) {
                #batch
            }

            /// `__nn_batch` compiled with AVX2 and FMA enabled (the head's exponentials and
            /// the steps between kernels; the int8 kernels choose their own instruction set),
            /// as `forward`'s AVX2 copy: the same bits.
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA.
            #[doc(hidden)]
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx,avx2,fma")]
            pub unsafe fn __nn_batch_avx2(&self, xs: &[#tensor<#in_ty>], ys: &mut [#tensor<#out_ty>]) {
                self.__nn_batch_base(xs, ys)
            }

            #chunk
        }
    }
}

/// The body of `forward_batch`'s work on a slice of samples (`xs`, `ys`) and the method it
/// calls, `__nn_chunk::<N>`: chunks of [`BIG_CHUNK`] samples (where they fit
/// [`BIG_CHUNK_BYTES`]), then of [`CHUNK`], through every step (dense layers on the whole
/// chunk, the others sample by sample), the rest one at a time; one sample at a time for
/// networks whose chunk of [`CHUNK`] would not fit [`CHUNK_BYTES`].
fn batch_body(
    net: &Network,
    steps: &[Step],
    groups: &[(TokenStream, Range<usize>)],
) -> (TokenStream, TokenStream) {
    let per_sample = quote! {
        for (x, y) in xs.iter().zip(ys.iter_mut()) {
            *y = self.forward(x);
        }
    };
    let bytes: u64 = net.tensors.iter().map(|t| t.len()).sum();
    let covered: usize = groups.iter().map(|(_, r)| r.len()).sum();
    if bytes * CHUNK as u64 > CHUNK_BYTES || covered != steps.len() {
        return (per_sample, TokenStream::new());
    }
    let (tensor_i8, tensor) = (paths::tensor_i8(), paths::tensor());
    let shape = |t: usize| paths::shape_of(net.tensors[t]);
    let chunk_var = |t: usize| quote::format_ident!("c{}", t);
    let mut body = Vec::new();
    for (stmts, range) in groups {
        // A group of steps (a fused convolution and pooling) reads the first one's input and
        // writes the last one's output.
        let (step, last) = (&steps[range.start], &steps[range.end - 1]);
        let (_, output) = ends(last);
        let (co, so) = (chunk_var(output), shape(output));
        let declare = quote! {
            let mut #co: [#tensor_i8<#so>; N] =
                ::core::array::from_fn(|_| #tensor_i8::<#so>::zeros());
        };
        if let Step::Dense { layer, input, .. } = *step {
            let (field, ci) = (&net.layers[layer].name, chunk_var(input));
            // Zeroed in place: built by `from_fn`, the array was copied over (M1's int8 batch
            // 59.3 -> 57.6 ns/sample). The other steps' arrays keep `from_fn`: zeroed in place,
            // M2's convolution outputs made its batch about 2% slower.
            body.push(quote! {
                let mut #co: [#tensor_i8<#so>; N] = #tensor_i8::<#so>::zeros_array::<N>();
                self.#field.forward_many(&#ci, &mut #co, self.rounding);
            });
            continue;
        }
        let inputs: Vec<usize> = match *step {
            Step::Add { a, b, .. } => vec![a, b],
            ref other => vec![ends(other).0],
        };
        let bind = inputs.iter().map(|&t| {
            let (a, c) = (act(t), chunk_var(t));
            quote!(let #a = ::core::clone::Clone::clone(&#c[s]);)
        });
        let out = act(output);
        let per_sample = quote! {
            for s in 0..N {
                #(#bind)*
                #stmts
                #co[s] = #out;
            }
        };
        let ci = chunk_var(inputs[0]);
        let many = super::quant_fuse::conv_many(net, steps, range.clone(), (&ci, &co), &per_sample);
        let run = many.unwrap_or(per_sample);
        body.push(quote! {
            #declare
            { #run }
        });
    }
    let (c0, cl) = (chunk_var(0), chunk_var(net.logits));
    let logits = net.logits;
    let logits_ty = shape(net.logits);
    let in_ty = shape(0);
    let layer_tr = paths::layer();
    let out_ty = paths::shape_of(net.output());
    // The final Softmax/Sigmoid on the whole chunk (its batch path), or the logits as they are.
    let head = match (net.head, net.ops.last().and_then(|op| net.layer_of(op))) {
        (Head::Softmax | Head::Sigmoid, Some(l)) => {
            let value = l.value();
            quote! {
                #layer_tr::<#logits_ty, #out_ty>::forward_batch(&#value, &logits, &mut ys[..N]);
            }
        }
        _ => quote! {
            for (y, l) in ys[..N].iter_mut().zip(logits) {
                *y = l;
            }
        },
    };
    let mut end = quote! {
        let logits: [#tensor<#logits_ty>; N] =
            ::core::array::from_fn(|s| #cl[s].dequantize(self.tensors[#logits]));
        #head
    };
    if let Some((field, input, skip)) = softmax_head(net, steps, groups) {
        // The last dense layer (and a `Flatten` before it) and the softmax with the samples in
        // the lanes where a kernel takes them (`DenseI8::forward_softmax_many`), else the
        // steps as they are.
        let rest = body.split_off(body.len() - skip);
        let ci = chunk_var(input);
        end = quote! {
            if !self.#field.forward_softmax_many(&#ci, self.tensors[#logits], self.rounding, &mut ys[..N]) {
                #(#rest)*
                #end
            }
        };
    }
    let chunk = quote! {
        /// `forward_batch`'s work on `N` samples at once (`xs` and `ys` hold `N`).
        #[doc(hidden)]
        #[inline(always)]
        fn __nn_chunk<const N: usize>(&self, xs: &[#tensor<#in_ty>], ys: &mut [#tensor<#out_ty>]) {
            let mut #c0: [#tensor_i8<#in_ty>; N] =
                #tensor_i8::<#in_ty>::zeros_array::<N>();
            #tensor_i8::quantize_many_with(&xs[..N], self.tensors[0], &mut #c0, self.rounding);
            #(#body)*
            #end
        }
    };
    let big = (bytes * BIG_CHUNK as u64 <= BIG_CHUNK_BYTES).then(|| {
        quote! {
            while i + #BIG_CHUNK <= xs.len() {
                self.__nn_chunk::<#BIG_CHUNK>(&xs[i..i + #BIG_CHUNK], &mut ys[i..i + #BIG_CHUNK]);
                i += #BIG_CHUNK;
            }
        }
    });
    let base = quote! {
        let mut i = 0;
        #big
        while i + #CHUNK <= xs.len() {
            self.__nn_chunk::<#CHUNK>(&xs[i..i + #CHUNK], &mut ys[i..i + #CHUNK]);
            i += #CHUNK;
        }
        for (x, y) in xs[i..].iter().zip(ys[i..].iter_mut()) {
            *y = self.forward(x);
        }
    };
    (base, chunk)
}

/// Where the twin can end in one kernel for its last dense layer and the softmax
/// (`DenseI8::forward_softmax_known`, `forward_softmax_many`): the name of the last dense layer
/// (alone in the last group, at most 16 outputs, the logits of a `Softmax` head), the tensor it
/// reads (the one before a `Flatten` alone in the group before it: the same bytes, read
/// directly instead of a moved copy) and how many groups, from the end, that kernel replaces.
pub(super) fn softmax_head<'a>(
    net: &'a Network,
    steps: &[Step],
    groups: &[(TokenStream, Range<usize>)],
) -> Option<(&'a Ident, usize, usize)> {
    let (last, _) = groups.split_last()?;
    let &Step::Dense {
        layer,
        input,
        output,
        ..
    } = steps.get(last.1.start)?
    else {
        return None;
    };
    let l = &net.layers[layer];
    let alone = last.1.len() == 1 && last.1.end == steps.len();
    if !(alone && output == net.logits && net.head == Head::Softmax && l.output.len() <= 16) {
        return None;
    }
    let before = groups.len().checked_sub(2).map(|g| &groups[g].1);
    match before.and_then(|r| steps.get(r.start).map(|s| (s, r.len()))) {
        Some((
            &Step::Alias {
                input: a,
                output: o,
            },
            1,
        )) if o == input => Some((&l.name, a, 2)),
        _ => Some((&l.name, input, 1)),
    }
}

/// The input and output tensors of a step.
fn ends(step: &Step) -> (usize, usize) {
    match *step {
        Step::Dense { input, output, .. }
        | Step::Conv { input, output, .. }
        | Step::Pool { input, output, .. }
        | Step::Relu { input, output }
        | Step::Lut { input, output, .. }
        | Step::Alias { input, output } => (input, output),
        Step::Add { output, .. } => (usize::MAX, output),
    }
}

/// One row of the table: label, tensors, output shape, int8 weight bytes, int32 bias bytes.
type Row = (String, String, String, u64, u64);

/// The row of one step.
fn row(net: &Network, step: &Step) -> Row {
    let (input, output) = ends(step);
    let shape = net.tensors[output].to_string();
    let flow = format!("{input} -> {output}");
    // The layer whose op writes the step's output (a fused ReLU's: the step's own layer).
    let named = |l: usize| {
        let layer = &net.layers[l];
        format!("{} ({})", layer.name, layer.kind_name)
    };
    let by_output = || {
        net.ops
            .iter()
            .find(|op| op.output == output)
            .and_then(|op| match op.kind {
                OpKind::Layer(l) => Some(named(l)),
                OpKind::Add => None,
            })
            .unwrap_or_default()
    };
    match *step {
        Step::Dense { layer, relu, .. } | Step::Conv { layer, relu, .. } => {
            let l = &net.layers[layer];
            let relu = if relu { " + ReLU" } else { "" };
            let (weights, channels) = match l.kind {
                LayerKind::Conv(c) => {
                    let bias = if c.bias { c.filters } else { 0 };
                    (l.params - bias, c.filters)
                }
                _ => (l.input.len() * l.output.len(), l.output.len()),
            };
            let label = format!("{} ({}{relu})", l.name, l.kind_name);
            (label, flow, shape, weights, 4 * channels)
        }
        Step::Pool { layer, .. } => (named(layer), flow, shape, 0, 0),
        Step::Lut { layer, .. } => (format!("{} table", named(layer)), flow, shape, 256, 0),
        Step::Relu { .. } | Step::Alias { .. } => (by_output(), flow, shape, 0, 0),
        Step::Add { index, a, b, .. } => {
            let label = net
                .ops
                .iter()
                .find(|op| op.output == output && op.kind == OpKind::Add)
                .map_or(format!("add{index}"), |op| op.label.clone());
            let flow = format!("{a} + {b} -> {output}");
            (format!("{label} (Residual add)"), flow, shape, 0, 0)
        }
    }
}

/// The table `SUMMARY` holds.
fn table(net: &Network, steps: &[Step], twin: &Ident) -> String {
    let mut rows: Vec<Row> = vec![(
        "input (quantize)".to_string(),
        "0".to_string(),
        net.input.to_string(),
        0,
        0,
    )];
    rows.extend(steps.iter().map(|s| row(net, s)));
    let head = match net.head {
        Head::Softmax => Some("Softmax"),
        Head::Sigmoid => Some("Sigmoid"),
        Head::None => None,
    };
    let logits = net.logits;
    let mut tail = format!("logits (dequantize): tensor {logits}, f32");
    if let Some(h) = head {
        tail += &format!(", then {h} in f32 -> {}", net.output());
    }
    let (weights, biases): (u64, u64) = rows.iter().fold((0, 0), |(w, b), r| (w + r.3, b + r.4));
    let total = weights + biases;
    let f32_bytes = 4 * net.params();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.0.clone(),
                r.1.clone(),
                r.2.clone(),
                thousands(r.3),
                thousands(r.4),
                thousands(r.3 + r.4),
            ]
        })
        .collect();
    let header = [
        "Layer (type)",
        "Tensors",
        "Output shape",
        "int8 weights",
        "int32 biases",
        "Bytes",
    ];
    let width = |k: usize| {
        cells
            .iter()
            .map(|c| c[k].len())
            .chain([header[k].len()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..6).map(width).collect();
    let line = |c: [&str; 6]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:>w4$}  {:>w5$}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5]
        )
    };
    let head_line = line(header);
    let rule = "-".repeat(head_line.len() - 1);
    let mut s = format!(
        "Model: {twin} (int8 twin of {})\n{rule}\n{head_line}{rule}\n",
        net.name
    );
    for c in &cells {
        s += &line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]);
    }
    s += &format!("{rule}\n{tail}\n");
    let ratio = if f32_bytes > 0 {
        format!("{:.3}x", total as f64 / f32_bytes as f64)
    } else {
        "-".to_string()
    };
    s += &format!(
        "Total bytes: {} (int8 weights) + {} (int32 biases) = {} (WEIGHT_BYTES)\n",
        thousands(weights),
        thousands(biases),
        thousands(total)
    );
    s += &format!(
        "f32 network: {} bytes ({} parameters); int8 / f32 = {ratio}\n",
        thousands(f32_bytes),
        thousands(net.params())
    );
    s += &format!(
        "Not counted: f32 weight scales and requantization multipliers (per output channel), \
         the quantization of the {} tensors\n",
        net.tensors.len()
    );
    s
}
