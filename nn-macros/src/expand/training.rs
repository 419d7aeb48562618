//! Training: the batched forward pass that fills the cache (`forward_train_into`) and the one
//! backward pass (`backward_steps`, from the output or from the logits), the bodies of the
//! generated `Trainable` methods (the runtime provides the others in terms of these). The cache
//! and buffer structs are in `types`, the impl in `traits`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::Gen;
use crate::layers::TrainIo;
use crate::model::OpKind;
use crate::paths;

/// What the training methods need, computed once per network.
pub struct Training {
    /// Cache fields of the batches the training pass produces (the input and every op's
    /// output), with their shapes and docs.
    pub live: Vec<Ident>,
    pub live_shapes: Vec<TokenStream>,
    pub live_docs: Vec<String>,
    /// Cache fields of what layers keep for backward (batch statistics, dropout masks): name,
    /// type, doc.
    pub saved: Vec<(Ident, TokenStream, String)>,
    /// Backward's gradient batches: name and shape.
    pub bufs: Vec<(Ident, TokenStream)>,
    /// The bodies of the generated `Trainable` methods.
    pub new_cache: TokenStream,
    pub forward_train_into: TokenStream,
    pub backward_steps: TokenStream,
}

impl Training {
    pub fn new(gen: &Gen) -> Training {
        let net = gen.net;
        let saved_names: Vec<Ident> = (0..net.ops.len())
            .map(|j| format_ident!("s{}", j))
            .collect();
        let (forward_steps, saved) = forward_steps(gen, &saved_names);
        let (backward_steps, bufs) = backward_body(gen, &saved_names);
        // Tensors the training pass produces (the input and every op's output; a folded network
        // has ids that no op produces any more).
        let live_ids: Vec<usize> = std::iter::once(0)
            .chain(net.ops.iter().map(|o| o.output))
            .collect();
        let live: Vec<Ident> = live_ids.iter().map(|&i| gen.acts[i].clone()).collect();
        let live_shapes = live_ids.iter().map(|&i| gen.shapes[i].clone()).collect();
        let live_docs = live_ids
            .iter()
            .map(|&i| {
                if i == 0 {
                    "The inputs.".to_string()
                } else {
                    match net.ops.iter().find(|o| o.output == i).map(|o| o.kind) {
                        Some(OpKind::Layer(l)) => {
                            format!("Outputs of layer `{}`.", net.layers[l].name)
                        }
                        _ => "Outputs of a residual join.".to_string(),
                    }
                }
            })
            .collect();

        let zeroed_batch = paths::zeroed_batch();
        let cache = &gen.cache;
        let t0 = &gen.acts[0];
        let saved_fields = saved.iter().map(|f| &f.0);
        let new_cache = gen.body(quote! {
            #cache {
                #(#live: #zeroed_batch(),)*
                #(#saved_fields: ::core::default::Default::default(),)*
                __nn_bwd: ::core::option::Option::None,
            }
        });
        Training {
            new_cache,
            forward_train_into: gen.body(quote! {
                cache.#t0.clone_from_slice(&x[..]);
                #(#forward_steps)*
            }),
            backward_steps: gen.body(backward_steps),
            live,
            live_shapes,
            live_docs,
            saved,
            bufs,
        }
    }
}

/// The training forward: one heap batch per tensor, kept in the cache with what layers save
/// for backward (op `j` saves into cache field `s<j>`). The steps write into an existing cache
/// (`forward_train_into`); `forward_train` runs them on a new one. Returns the steps and the
/// saved fields.
fn forward_steps(
    gen: &Gen,
    saved: &[Ident],
) -> (Vec<TokenStream>, Vec<(Ident, TokenStream, String)>) {
    let (acts, shapes) = (&gen.acts, &gen.shapes);
    let (layer, add_batch_into) = (paths::layer(), paths::add_batch_into());
    let rng = quote!(self.__nn_rng);
    let none = quote!();
    let mut saved_fields = Vec::new();
    let steps = gen
        .net
        .ops
        .iter()
        .enumerate()
        .map(|(j, op)| {
            let out = &acts[op.output];
            let Some(l) = gen.net.layer_of(op) else {
                let (a, b) = (&acts[op.inputs[0]], &acts[op.inputs[1]]);
                return quote! {
                    cache.#out.clone_from_slice(&cache.#a[..]);
                    #add_batch_into(&mut cache.#out[..], &cache.#b[..]);
                };
            };
            let s_out = &shapes[op.output];
            let (input, s_in) = (&acts[op.inputs[0]], &shapes[op.inputs[0]]);
            let kind = l.kind.get();
            let Some((ty, doc)) = kind.saved(l) else {
                let value = l.value();
                return quote! {
                    #layer::<#s_in, #s_out>::forward_batch(&#value, &cache.#input[..], &mut cache.#out[..]);
                };
            };
            saved_fields.push((saved[j].clone(), ty, doc));
            let io = TrainIo {
                saved: &saved[j],
                input,
                output: out,
                d_out: &none,
                target: &none,
                grad: &none,
                rng: &rng,
            };
            kind.forward_train(l, &io)
        })
        .collect();
    (steps, saved_fields)
}

/// The body of `backward_steps`: from `d`, the gradient of the output (or, with `from_logits`,
/// of the logits: the head's backward is skipped), down to the input gradient in `bufs`.
/// Returns the body and the buffers it uses.
fn backward_body(gen: &Gen, saved: &[Ident]) -> (TokenStream, Vec<(Ident, TokenStream)>) {
    let (body, mut bufs) = backward_parts(gen, saved);
    // One field per buffer (the input gradient's is named by every pass that writes it).
    let mut seen = Vec::new();
    bufs.retain(|(name, _)| {
        let new = !seen.contains(name);
        seen.push(name.clone());
        new
    });
    (body, bufs)
}

/// [`backward_body`] before the buffers are deduplicated.
fn backward_parts(gen: &Gen, saved: &[Ident]) -> (TokenStream, Vec<(Ident, TokenStream)>) {
    let net = gen.net;
    let (n, logits) = (net.ops.len(), net.logits);
    let d = quote!(d);
    if net.logits_ops == n {
        // No head: the logits are the output.
        let (steps, bufs) = backward_steps(gen, saved, net.output, 0..n, &d, true);
        return (quote!(let _ = from_logits; #(#steps)*), bufs);
    }
    if logits == 0 {
        // The head follows the input: its gradient is the input gradient.
        let (head, bufs) = backward_steps(gen, saved, net.output, 0..n, &d, true);
        let (copy, _) = backward_steps(gen, saved, 0, 0..0, &d, true);
        let body = quote! {
            if from_logits { #(#copy)* } else { #(#head)* }
        };
        return (body, bufs);
    }
    let (head, mut bufs) = backward_steps(gen, saved, net.output, n - 1..n, &d, false);
    let (steps, more) = backward_steps(
        gen,
        saved,
        logits,
        0..net.logits_ops,
        &quote!(d_logits),
        true,
    );
    bufs.extend(more);
    let (tensor, d_l, shape) = (paths::tensor(), &gen.grads_of[logits], &gen.shapes[logits]);
    let body = quote! {
        let d_logits: &[#tensor<#shape>; __NN_B] = if from_logits {
            d
        } else {
            #(#head)*
            &bufs.#d_l
        };
        #(#steps)*
    };
    (body, bufs)
}

/// Backward over the ops `ops`, in reverse, from the gradient `d_start` of tensor `start`. A
/// tensor's gradient is written by its first contribution into its buffer `bufs.d<i>` and the
/// others are added to it (a residual block's input feeds two paths: a layer's contribution
/// goes through a buffer `bufs.g<j>` of its own first). With `finish`, the input gradient ends
/// in `bufs.d0`. Returns the steps and the buffers they use.
fn backward_steps(
    gen: &Gen,
    saved: &[Ident],
    start: usize,
    ops: std::ops::Range<usize>,
    d_start: &TokenStream,
    finish: bool,
) -> (Vec<TokenStream>, Vec<(Ident, TokenStream)>) {
    let net = gen.net;
    let (acts, ds, shapes) = (&gen.acts, &gen.grads_of, &gen.shapes);
    let (layer, add_batch_into) = (paths::layer(), paths::add_batch_into());
    let rng = quote!(self.__nn_rng);
    let mut defined = vec![false; net.tensors.len()];
    defined[start] = true;
    let mut steps = Vec::new();
    let mut bufs: Vec<(Ident, TokenStream)> = Vec::new();
    let grad_of = |i: usize| {
        if i == start {
            quote!(#d_start)
        } else {
            let d = &ds[i];
            quote!(bufs.#d)
        }
    };
    for j in ops.rev() {
        let op = &net.ops[j];
        if !defined[op.output] {
            continue;
        }
        let d_out = grad_of(op.output);
        let Some(l) = net.layer_of(op) else {
            // A residual join passes its gradient to both inputs.
            for &i in &op.inputs {
                let d = grad_of(i);
                if defined[i] {
                    steps.push(quote!(#add_batch_into(&mut #d[..], &#d_out[..]);));
                } else {
                    defined[i] = true;
                    bufs.push((ds[i].clone(), shapes[i].clone()));
                    steps.push(quote!(#d.clone_from_slice(&#d_out[..]);));
                }
            }
            continue;
        };
        let i = op.inputs[0];
        let (s_in, s_out) = (&shapes[i], &shapes[op.output]);
        let (a_in, a_out) = (&acts[i], &acts[op.output]);
        let ty = l.ty();
        let f = &l.name;
        let grad = if l.has_params() {
            quote!(::core::borrow::BorrowMut::<#ty>::borrow_mut(&mut g.#f))
        } else {
            quote!(&mut ())
        };
        let accumulate = defined[i];
        let target = if accumulate {
            let tmp = format_ident!("g{}", j);
            bufs.push((tmp.clone(), s_in.clone()));
            quote!(bufs.#tmp)
        } else {
            defined[i] = true;
            bufs.push((ds[i].clone(), s_in.clone()));
            grad_of(i)
        };
        let kind = l.kind.get();
        steps.push(if kind.saved(l).is_some() {
            let io = TrainIo {
                saved: &saved[j],
                input: a_in,
                output: a_out,
                d_out: &d_out,
                target: &target,
                grad: &grad,
                rng: &rng,
            };
            kind.backward_train(l, &io)
        } else {
            let value = l.value();
            quote! {
                #layer::<#s_in, #s_out>::backward_batch(&#value, &cache.#a_in[..], &cache.#a_out[..], &#d_out[..], &mut #target[..], #grad);
            }
        });
        if accumulate {
            let d = grad_of(i);
            steps.push(quote!(#add_batch_into(&mut #d[..], &#target[..]);));
        }
    }
    if !finish {
        return (steps, bufs);
    }
    // The input gradient is returned from `bufs.d0`.
    let d0 = &ds[0];
    if start == 0 {
        steps.push(quote!(bufs.#d0.clone_from_slice(&#d_start[..]);));
    } else if !defined[0] {
        steps.push(quote! {
            for t in bufs.#d0.iter_mut() {
                t.as_mut_slice().fill(0.0);
            }
        });
    }
    bufs.push((d0.clone(), shapes[0].clone()));
    (steps, bufs)
}
