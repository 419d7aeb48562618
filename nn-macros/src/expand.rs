//! Code generation: the struct, its gradients and cache, inference, training and the traits.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::model::{Act, Head, InitKind, Layer, LayerKind, Network, OpKind, Shape};

/// A typenum type for `n`: `U<n>` up to 1024 (typenum names those), else the binary `UInt` form.
fn typenum(n: u64) -> TokenStream {
    if n <= 1024 {
        let id = format_ident!("U{}", n);
        return quote!(::nn::__private::typenum::consts::#id);
    }
    let bit = if n % 2 == 1 {
        quote!(::nn::__private::typenum::B1)
    } else {
        quote!(::nn::__private::typenum::B0)
    };
    let rest = if n / 2 == 0 {
        quote!(::nn::__private::typenum::UTerm)
    } else {
        typenum(n / 2)
    };
    quote!(::nn::__private::typenum::UInt<#rest, #bit>)
}

fn shape_ty(s: Shape) -> TokenStream {
    match s {
        Shape::D1(n) => {
            let n = typenum(n);
            quote!(::nn::Shape1<#n>)
        }
        Shape::D2(c, l) => {
            let (c, l) = (typenum(c), typenum(l));
            quote!(::nn::Shape2<#c, #l>)
        }
        Shape::D3(c, h, w) => {
            let (c, h, w) = (typenum(c), typenum(h), typenum(w));
            quote!(::nn::Shape3<#c, #h, #w>)
        }
    }
}

fn f32_lit(v: f64) -> Literal {
    Literal::f32_suffixed(v as f32)
}

/// The Rust type of a layer.
pub fn layer_ty(l: &Layer) -> TokenStream {
    match l.kind {
        LayerKind::Dense { .. } => {
            let (i, o) = (typenum(l.input.len()), typenum(l.output.len()));
            quote!(::nn::Dense<#i, #o>)
        }
        LayerKind::PReLU {
            per_channel: false, ..
        } => quote!(::nn::PReLU),
        LayerKind::PReLU {
            per_channel: true, ..
        } => {
            let c = typenum(crate::check::channels(l.input));
            quote!(::nn::PReLUChannels<#c>)
        }
        LayerKind::Conv {
            filters, win, bias, ..
        } => {
            let ci = typenum(crate::check::channels(l.input));
            let co = typenum(filters);
            let [pt, pb, pl, pr] = win.pad.map(typenum);
            let (kh, kw, sh, sw) = (
                typenum(win.kh),
                typenum(win.kw),
                typenum(win.sh),
                typenum(win.sw),
            );
            if win.rank == 2 {
                quote!(::nn::Conv2d<#ci, #co, #kh, #kw, #sh, #sw, #pt, #pb, #pl, #pr, #bias>)
            } else {
                quote!(::nn::Conv1d<#ci, #co, #kw, #sw, #pl, #pr, #bias>)
            }
        }
        LayerKind::MaxPool { win } | LayerKind::AvgPool { win, .. } => {
            let [pt, pb, pl, pr] = win.pad.map(typenum);
            let (kh, kw, sh, sw) = (
                typenum(win.kh),
                typenum(win.kw),
                typenum(win.sh),
                typenum(win.sw),
            );
            let count_pad = match l.kind {
                LayerKind::AvgPool { count_pad, .. } => quote!(, #count_pad),
                _ => quote!(),
            };
            let name = match (l.kind, win.rank) {
                (LayerKind::MaxPool { .. }, 2) => quote!(MaxPool2d),
                (LayerKind::MaxPool { .. }, _) => quote!(MaxPool1d),
                (_, 2) => quote!(AvgPool2d),
                _ => quote!(AvgPool1d),
            };
            if win.rank == 2 {
                quote!(::nn::#name<#kh, #kw, #sh, #sw, #pt, #pb, #pl, #pr #count_pad>)
            } else {
                quote!(::nn::#name<#kw, #sw, #pl, #pr #count_pad>)
            }
        }
        LayerKind::Softmax => quote!(::nn::Softmax),
        LayerKind::BatchNorm => {
            let c = typenum(crate::check::channels(l.input));
            quote!(::nn::BatchNorm<#c>)
        }
        LayerKind::Dropout { .. } => quote!(::nn::Dropout),
        LayerKind::Flatten => quote!(::nn::Flatten),
        LayerKind::Act(a) => match a {
            Act::Identity => quote!(::nn::Identity),
            Act::Step => quote!(::nn::Step),
            Act::Sigmoid => quote!(::nn::Sigmoid),
            Act::Tanh => quote!(::nn::Tanh),
            Act::ReLU => quote!(::nn::ReLU),
            Act::GELU { .. } => quote!(::nn::GELU),
            Act::Softplus => quote!(::nn::Softplus),
            Act::ELU { .. } => quote!(::nn::ELU),
            Act::SELU => quote!(::nn::SELU),
            Act::LeakyReLU { .. } => quote!(::nn::LeakyReLU),
            Act::SiLU => quote!(::nn::SiLU),
            Act::Gaussian => quote!(::nn::Gaussian),
        },
    }
}

/// An expression for the layer's value: the field for parameterized layers, a constant otherwise.
fn layer_value(l: &Layer) -> TokenStream {
    let name = &l.name;
    match l.kind {
        LayerKind::Dense { .. }
        | LayerKind::PReLU { .. }
        | LayerKind::Conv { .. }
        | LayerKind::BatchNorm => {
            let ty = layer_ty(l);
            quote!(*::core::borrow::Borrow::<#ty>::borrow(&self.#name))
        }
        LayerKind::Dropout { p } => {
            let p = f32_lit(p);
            quote!(::nn::Dropout { p: #p })
        }
        LayerKind::MaxPool { .. } | LayerKind::AvgPool { .. } => {
            let ty = layer_ty(l);
            quote!(<#ty as ::core::default::Default>::default())
        }
        LayerKind::Act(Act::GELU { tanh }) => quote!(::nn::GELU { tanh_approximation: #tanh }),
        LayerKind::Act(Act::ELU { alpha }) => {
            let a = f32_lit(alpha);
            quote!(::nn::ELU { alpha: #a })
        }
        LayerKind::Act(Act::LeakyReLU { slope }) => {
            let s = f32_lit(slope);
            quote!(::nn::LeakyReLU { slope: #s })
        }
        _ => layer_ty(l),
    }
}

fn init_ident(init: InitKind) -> TokenStream {
    match init {
        InitKind::He => quote!(He),
        InitKind::Xavier => quote!(Xavier),
        InitKind::LeCun => quote!(LeCun),
        InitKind::Zeros => quote!(Zeros),
    }
}

fn init_expr(l: &Layer, stream: u64) -> TokenStream {
    let ty = layer_ty(l);
    let f = match l.kind {
        LayerKind::Dense { init, .. } => {
            let init = init_ident(init);
            quote!(|l: &mut #ty| l.init(::nn::Init::#init, &mut ::nn::Rng::with_stream(seed, #stream)))
        }
        LayerKind::PReLU {
            init,
            per_channel: false,
        } => {
            let a = f32_lit(init);
            quote!(|l: &mut #ty| l.alpha = #a)
        }
        LayerKind::PReLU {
            init,
            per_channel: true,
        } => {
            let a = f32_lit(init);
            quote!(|l: &mut #ty| *l = ::nn::PReLUChannels::filled(#a))
        }
        LayerKind::Conv { init, .. } => {
            let init = init_ident(init);
            quote!(|l: &mut #ty| l.init(::nn::Init::#init, &mut ::nn::Rng::with_stream(seed, #stream)))
        }
        LayerKind::BatchNorm => quote!(|l: &mut #ty| l.init()),
        _ => quote!(|_: &mut #ty| {}),
    };
    let make = if is_large(l) {
        quote!(new_large)
    } else {
        quote!(new_inline)
    };
    quote!(::nn::__private::#make(#f))
}

/// Parameter tensors above this many bytes live on the heap (with `alloc`), built in place.
const LARGE_BYTES: u64 = 16 * 1024;

pub fn is_large(l: &Layer) -> bool {
    l.params * 4 > LARGE_BYTES
}

/// The struct field type of a parameterized layer: inline, or `Large<T>` (boxed) when big.
fn field_ty(l: &Layer) -> TokenStream {
    let ty = layer_ty(l);
    if is_large(l) {
        quote!(::nn::__private::Large<#ty>)
    } else {
        ty
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Keras-style summary table.
pub fn summary(net: &Network) -> String {
    let mut rows = vec![(
        "input (Input)".to_string(),
        net.input.to_string(),
        "0".to_string(),
        "0".to_string(),
    )];
    for op in &net.ops {
        match op.kind {
            OpKind::Layer(i) => {
                let l = &net.layers[i];
                rows.push((
                    format!("{} ({})", l.name, l.kind_name),
                    l.output.to_string(),
                    thousands(l.params),
                    thousands(l.macs),
                ));
            }
            OpKind::Add => rows.push((
                format!("{} (Residual add)", op.label),
                net.tensors[op.output].to_string(),
                "0".to_string(),
                "0".to_string(),
            )),
        }
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(12);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(12);
    let mut s = format!("Model: {}\n", net.name);
    let header = format!(
        "{:<w0$}  {:<w1$}  {:>10}  {:>12}",
        "Layer (type)", "Output shape", "Params", "MACs"
    );
    let rule = "-".repeat(header.len());
    s += &format!("{rule}\n{header}\n{rule}\n");
    for r in &rows {
        s += &format!("{:<w0$}  {:<w1$}  {:>10}  {:>12}\n", r.0, r.1, r.2, r.3);
    }
    s += &format!(
        "{rule}\nTotal params: {}\nTotal MACs: {}\n",
        thousands(net.params()),
        thousands(net.macs())
    );
    s
}

/// Emits the network. With `ok == false` (errors were reported) the struct and impls are still
/// emitted with `unreachable!()` bodies, so code using the network sees no follow-on errors.
pub fn expand(net: &Network, ok: bool) -> TokenStream {
    let mut out = expand_network(net, ok);
    if ok {
        if let Some(folded) = crate::fold::fold(net) {
            let doc = format!(
                "The inference form of [`{}`] with batch normalization folded into the preceding layers (see `{}::fold`).",
                net.name, net.name
            );
            let mut f = folded;
            f.net.attrs.push(syn::parse_quote!(#[doc = #doc]));
            out.extend(expand_network(&f.net, ok));
            out.extend(crate::fold::fold_method(net, &f));
        }
    }
    out
}

fn expand_network(net: &Network, ok: bool) -> TokenStream {
    let Network {
        attrs, vis, name, ..
    } = net;
    let grads_name = format_ident!("{}Gradients", name);
    let cache_name = format_ident!("{}Cache", name);
    let in_ty = shape_ty(net.input);
    let out_ty = shape_ty(net.output());
    let name_str = name.to_string();
    let params = net.params() as usize;
    let macs = net.macs() as usize;
    let input_len = net.input.len() as usize;
    let buffers: usize = net
        .layers
        .iter()
        .filter(|l| l.kind == LayerKind::BatchNorm)
        .map(|l| 2 * crate::check::channels(l.input) as usize)
        .sum();
    let max_act = net
        .tensors
        .iter()
        .map(|t| t.len() as usize)
        .max()
        .unwrap_or(0);
    let output_len = net.output().len() as usize;
    let summary = summary(net);
    let head = match net.head {
        Head::None => quote!(None),
        Head::Softmax => quote!(Softmax),
        Head::Sigmoid => quote!(Sigmoid),
    };

    let param_layers: Vec<&Layer> = net.layers.iter().filter(|l| l.kind.has_params()).collect();
    let field_names: Vec<_> = param_layers.iter().map(|l| &l.name).collect();
    let field_strs: Vec<String> = field_names.iter().map(|n| n.to_string()).collect();
    let field_tys: Vec<_> = param_layers.iter().map(|l| field_ty(l)).collect();
    let inner_tys: Vec<_> = param_layers.iter().map(|l| layer_ty(l)).collect();
    let storage = |l: &Layer| {
        if is_large(l) {
            quote!(new_large)
        } else {
            quote!(new_inline)
        }
    };
    let zero_fields: Vec<_> = param_layers
        .iter()
        .zip(&inner_tys)
        .map(|(l, ty)| {
            let make = storage(l);
            quote!(::nn::__private::#make(|_: &mut #ty| {}))
        })
        .collect();
    let field_docs: Vec<String> = param_layers
        .iter()
        .map(|l| {
            format!(
                "Layer `{}`: `{}` {} -> {}, {} parameters.",
                l.name, l.kind_name, l.input, l.output, l.params
            )
        })
        .collect();
    let grad_docs: Vec<String> = param_layers
        .iter()
        .map(|l| format!("Gradient of layer `{}`.", l.name))
        .collect();
    let field_inits: Vec<_> = net
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind.has_params())
        .map(|(i, l)| init_expr(l, i as u64 + 1))
        .collect();

    let shapes: Vec<TokenStream> = net.tensors.iter().map(|&t| shape_ty(t)).collect();
    let ts: Vec<_> = (0..net.tensors.len())
        .map(|i| format_ident!("a{}", i))
        .collect();
    let ds: Vec<_> = (0..net.tensors.len())
        .map(|i| format_ident!("d{}", i))
        .collect();
    let saved: Vec<_> = (0..net.ops.len())
        .map(|j| format_ident!("s{}", j))
        .collect();
    let mut consumers = vec![0usize; net.tensors.len()];
    for op in &net.ops {
        for &i in &op.inputs {
            consumers[i] += 1;
        }
    }
    let layer_of = |j: usize| match net.ops[j].kind {
        OpKind::Layer(l) => Some(&net.layers[l]),
        OpKind::Add => None,
    };
    let has_dropout = net
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Dropout { .. }));

    // Inference: straight-line calls, every tensor on the stack. A `Dense` followed by an
    // elementwise activation that alone consumes its output is fused (the activation applied while
    // the values are in registers).
    // `batched`: the same over chunks of `__NN_K` samples, each tensor an array of `__NN_K`
    // (of which the first `__nn_n` are live), each layer called once per chunk.
    // Returns the declarations (batched: the chunk buffers, made once per call) and the steps.
    let fwd_steps = |end: usize, batched: bool| -> (Vec<TokenStream>, Vec<TokenStream>) {
        let mut steps = Vec::new();
        let mut decls = Vec::new();
        let mut j = 0;
        let mut new_tensor = |out: &proc_macro2::Ident, s_out: &TokenStream| {
            if batched {
                decls.push(quote!(let mut #out: [::nn::Tensor<#s_out>; __NN_K] = [const { ::nn::Tensor::<#s_out>::zeros() }; __NN_K];));
                quote!()
            } else {
                quote!(let mut #out = ::nn::Tensor::<#s_out>::zeros();)
            }
        };
        while j < end {
            let op = &net.ops[j];
            let out = &ts[op.output];
            let s_out = &shapes[op.output];
            let Some(l) = layer_of(j) else {
                let (a, b) = (&ts[op.inputs[0]], &ts[op.inputs[1]]);
                let make = new_tensor(out, s_out);
                steps.push(if batched {
                    quote! {
                        #make
                        #out[..__nn_n].clone_from_slice(&#a[..__nn_n]);
                        for (o, b) in #out[..__nn_n].iter_mut().zip(&#b[..__nn_n]) {
                            ::nn::add_into(o, b);
                        }
                    }
                } else {
                    quote! {
                        let mut #out = ::core::clone::Clone::clone(&#a);
                        ::nn::add_into(&mut #out, &#b);
                    }
                });
                j += 1;
                continue;
            };
            let input = &ts[op.inputs[0]];
            let s_in = &shapes[op.inputs[0]];
            let value = layer_value(l);
            let span = l.span;
            let fused = (j + 1 < end && consumers[op.output] == 1)
                .then(|| layer_of(j + 1))
                .flatten()
                .filter(|n| {
                    matches!(n.kind, LayerKind::Act(_)) && net.ops[j + 1].inputs[0] == op.output
                });
            if let (LayerKind::Dense { .. } | LayerKind::Conv { .. }, Some(act)) = (l.kind, fused) {
                let out2 = &ts[net.ops[j + 1].output];
                let act_value = layer_value(act);
                let make = new_tensor(out2, s_out);
                steps.push(if batched {
                    quote_spanned! {span=>
                        #make
                        ::nn::Layer::<#s_in, #s_out>::forward_batch_act(&#value, &#input[..__nn_n], &mut #out2[..__nn_n], #act_value);
                    }
                } else {
                    quote_spanned! {span=>
                        #make
                        ::nn::Layer::<#s_in, #s_out>::forward_act(&#value, &#input, &mut #out2, #act_value);
                    }
                });
                j += 2;
                continue;
            }
            let make = new_tensor(out, s_out);
            steps.push(if batched {
                quote_spanned! {span=>
                    #make
                    ::nn::Layer::<#s_in, #s_out>::forward_batch(&#value, &#input[..__nn_n], &mut #out[..__nn_n]);
                }
            } else {
                quote_spanned! {span=>
                    #make
                    ::nn::Layer::<#s_in, #s_out>::forward(&#value, &#input, &mut #out);
                }
            });
            j += 1;
        }
        (decls, steps)
    };
    let fwd_logits_steps = fwd_steps(net.logits_ops, false).1;
    let fwd_steps_all = fwd_steps(net.ops.len(), false).1;
    let (fwd_batch_decls, fwd_batch_steps) = fwd_steps(net.ops.len(), true);
    // Samples per chunk of the batched forward: a power of two (whole register blocks in the
    // dense products) such that the chunk's tensors take at most 64 KiB of stack (16 samples
    // for small networks, 1 for large ones).
    let per_sample: u64 = net
        .tensors
        .iter()
        .skip(1)
        .map(|t| t.len())
        .sum::<u64>()
        .max(1);
    let chunk = 1usize << (16384 / per_sample).clamp(1, 16).ilog2();
    let last = &ts[net.output];
    let logits = &ts[net.logits];
    let t0 = &ts[0];

    // Training: one heap batch per tensor, kept in the cache with what batch norm and dropout
    // saved. The steps write into an existing cache (`forward_train_into`); `forward_train`
    // runs them on a new one.
    let mut saved_fields = Vec::new();
    let train_steps: Vec<TokenStream> = net
        .ops
        .iter()
        .enumerate()
        .map(|(j, op)| {
            let out = &ts[op.output];
            let Some(l) = layer_of(j) else {
                let (a, b) = (&ts[op.inputs[0]], &ts[op.inputs[1]]);
                return quote! {
                    cache.#out.clone_from_slice(&cache.#a[..]);
                    ::nn::add_batch_into(&mut cache.#out[..], &cache.#b[..]);
                };
            };
            let s_out = &shapes[op.output];
            let (input, s_in) = (&ts[op.inputs[0]], &shapes[op.inputs[0]]);
            let value = layer_value(l);
            let sj = &saved[j];
            match l.kind {
                LayerKind::BatchNorm => {
                    let (f, ty) = (&l.name, layer_ty(l));
                    let c = typenum(crate::check::channels(l.input));
                    saved_fields.push((sj.clone(), quote!(::nn::BnSaved<#c>), format!("Batch statistics of layer `{}`.", l.name)));
                    quote! {
                        cache.#sj = ::core::borrow::BorrowMut::<#ty>::borrow_mut(&mut self.#f).forward_train(&cache.#input[..], &mut cache.#out[..]);
                    }
                }
                LayerKind::Dropout { .. } => {
                    saved_fields.push((sj.clone(), quote!(::nn::__private::Vec<f32>), format!("Dropout mask of layer `{}`.", l.name)));
                    quote! {
                        cache.#sj = (#value).forward_train(&mut self.__nn_rng, &cache.#input[..], &mut cache.#out[..]);
                    }
                }
                _ => quote! {
                    ::nn::Layer::<#s_in, #s_out>::forward_batch(&#value, &cache.#input[..], &mut cache.#out[..]);
                },
            }
        })
        .collect();
    let saved_names: Vec<_> = saved_fields.iter().map(|f| f.0.clone()).collect();
    let saved_tys: Vec<_> = saved_fields.iter().map(|f| f.1.clone()).collect();
    let saved_docs: Vec<_> = saved_fields.iter().map(|f| f.2.clone()).collect();

    // Backward: ops in reverse; a tensor's gradient is written by its first contribution into its
    // buffer `bufs.d<i>` and the others are added to it (a residual block's input feeds two
    // paths: a layer's contribution goes through a buffer `bufs.g<j>` of its own first). The
    // starting gradient is the caller's `d_start`. Returns the steps and the buffers they use.
    let backward_from = |start: usize, end: usize, d_start: &syn::Ident| {
        let mut defined = vec![false; net.tensors.len()];
        defined[start] = true;
        let mut steps = Vec::new();
        let mut bufs: Vec<(syn::Ident, TokenStream)> = Vec::new();
        let grad_of = |i: usize| {
            if i == start {
                quote!(#d_start)
            } else {
                let d = &ds[i];
                quote!(bufs.#d)
            }
        };
        for j in (0..end).rev() {
            let op = &net.ops[j];
            if !defined[op.output] {
                continue;
            }
            let d_out = grad_of(op.output);
            let Some(l) = layer_of(j) else {
                for &i in &op.inputs {
                    let d = grad_of(i);
                    if defined[i] {
                        steps.push(quote!(::nn::add_batch_into(&mut #d[..], &#d_out[..]);));
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
            let (a_in, a_out) = (&ts[i], &ts[op.output]);
            let value = layer_value(l);
            let ty = layer_ty(l);
            let f = &l.name;
            let grad = if l.kind.has_params() {
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
            let sj = &saved[j];
            steps.push(match l.kind {
                LayerKind::BatchNorm => quote! {
                    ::core::borrow::Borrow::<#ty>::borrow(&self.#f).backward_train(&cache.#a_in[..], &cache.#sj, &#d_out[..], &mut #target[..], #grad);
                },
                LayerKind::Dropout { .. } => quote! {
                    (#value).backward_train(&cache.#sj, &#d_out[..], &mut #target[..]);
                },
                _ => quote! {
                    ::nn::Layer::<#s_in, #s_out>::backward_batch(&#value, &cache.#a_in[..], &cache.#a_out[..], &#d_out[..], &mut #target[..], #grad);
                },
            });
            if accumulate {
                let d = grad_of(i);
                steps.push(quote!(::nn::add_batch_into(&mut #d[..], &#target[..]);));
            }
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
    };
    let d_output_ident = format_ident!("d_output");
    let d_logits_ident = format_ident!("d_logits");
    let (bwd_all, bufs_all) = backward_from(net.output, net.ops.len(), &d_output_ident);
    let (bwd_logits, bufs_logits) = backward_from(net.logits, net.logits_ops, &d_logits_ident);
    // One buffer struct serves both: the union of their buffers.
    let mut buf_fields: Vec<(syn::Ident, TokenStream)> = Vec::new();
    for (n, t) in bufs_all.into_iter().chain(bufs_logits) {
        if !buf_fields.iter().any(|(m, _)| *m == n) {
            buf_fields.push((n, t));
        }
    }
    let buf_names: Vec<_> = buf_fields.iter().map(|f| f.0.clone()).collect();
    let buf_shapes: Vec<_> = buf_fields.iter().map(|f| f.1.clone()).collect();
    let bufs_name = format_ident!("__{}Backward", name);
    let d0 = &ds[0];
    // Tensors the training pass produces (the input and every op's output; a folded network
    // has ids that no op produces any more).
    let live: Vec<usize> = std::iter::once(0)
        .chain(net.ops.iter().map(|o| o.output))
        .collect();
    let live_ts: Vec<_> = live.iter().map(|&i| ts[i].clone()).collect();
    let cache_docs: Vec<String> = live
        .iter()
        .map(|&i| {
            if i == 0 {
                "The inputs.".to_string()
            } else {
                match net.ops.iter().find(|o| o.output == i).map(|o| o.kind) {
                    Some(OpKind::Layer(l)) => format!("Outputs of layer `{}`.", net.layers[l].name),
                    _ => "Outputs of a residual join.".to_string(),
                }
            }
        })
        .collect();

    let body = |t: TokenStream| {
        if ok {
            t
        } else {
            quote!(::core::unreachable!("network has errors"))
        }
    };
    let as_input =
        quote!(let #t0: &::nn::Tensor<#in_ty> = ::nn::InputOf::<Self, #input_len>::as_input(x););
    let forward_core = body(quote! { let #t0 = x; #(#fwd_steps_all)* #last });
    // Fast by default: on x86-64 CPUs with AVX2 the same straight-line code runs from a copy
    // compiled for AVX2 (detected once at run time).
    let forward_dispatch = body(quote! {
        let x: &::nn::Tensor<#in_ty> = ::nn::InputOf::<Self, #input_len>::as_input(x);
        #[cfg(target_arch = "x86_64")]
        {
            if ::nn::__private::use_avx2() {
                // SAFETY: `use_avx2` checked that the CPU supports AVX2 and FMA.
                return unsafe { self.__nn_forward_avx2(x) };
            }
        }
        self.__nn_forward_base(x)
    });
    // A network whose head follows the input directly has the input as its logits.
    let logits_value = if net.logits == 0 {
        quote!(::core::clone::Clone::clone(#logits))
    } else {
        quote!(#logits)
    };
    let logits_body = body(quote! { #as_input #(#fwd_logits_steps)* #logits_value });
    let batch_body = body(quote! {
        if xs.len() != ys.len() {
            return ::core::result::Result::Err(::nn::BatchLenError { inputs: xs.len(), outputs: ys.len() });
        }
        const __NN_K: usize = #chunk;
        #(#fwd_batch_decls)*
        for (#t0, __nn_ys) in xs.chunks(__NN_K).zip(ys.chunks_mut(__NN_K)) {
            let __nn_n = #t0.len();
            #(#fwd_batch_steps)*
            __nn_ys.clone_from_slice(&#last[..__nn_n]);
        }
        ::core::result::Result::Ok(())
    });
    // With errors the input shape may be unknown: accept anything, so calls raise no follow-on error.
    let input_bound = if ok {
        quote!(impl ::nn::InputOf<Self, #input_len>)
    } else {
        quote!(impl ?Sized)
    };
    let rng_field = if has_dropout {
        quote!(__nn_rng: ::nn::Rng::with_stream(seed, 0x5eed),)
    } else {
        quote!()
    };
    let new_body = body(quote! { Self { #(#field_names: #field_inits,)* #rng_field } });
    let train_body = body(quote! {
        let mut cache = <Self as ::nn::Trainable>::new_cache::<__NN_B>();
        ::nn::Trainable::forward_train_into(self, x, &mut cache);
        cache
    });
    let train_into_body = body(quote! {
        cache.#t0.clone_from_slice(&x[..]);
        #(#train_steps)*
    });
    let new_cache_body = body(quote! {
        #cache_name {
            #(#live_ts: ::nn::zeroed_batch(),)*
            #(#saved_names: ::core::default::Default::default(),)*
            __nn_bwd: ::core::option::Option::None,
        }
    });
    // The allocating versions run the same steps on fresh gradients and buffers.
    let backward_body = body(quote! {
        let mut g: ::nn::__private::Box<#grads_name> = ::core::default::Default::default();
        let mut bufs = #bufs_name::<__NN_B>::new();
        #(#bwd_all)*
        (g, bufs.#d0)
    });
    let backward_logits_body = body(quote! {
        let mut g: ::nn::__private::Box<#grads_name> = ::core::default::Default::default();
        let mut bufs = #bufs_name::<__NN_B>::new();
        #(#bwd_logits)*
        (g, bufs.#d0)
    });
    let zero_grads = quote! {
        ::nn::Parameters::visit_mut(grads, "", &mut |_, v: &mut [f32]| v.fill(0.0));
        let g = grads;
        let bufs = cache.__nn_bwd.get_or_insert_with(#bufs_name::<__NN_B>::new);
    };
    let backward_into_body = body(quote! {
        #zero_grads
        #(#bwd_all)*
        &bufs.#d0
    });
    let backward_logits_into_body = body(quote! {
        #zero_grads
        #(#bwd_logits)*
        &bufs.#d0
    });
    let output_acts = &ts[net.output];
    let acts = &live_ts;
    let live_shapes: Vec<_> = live.iter().map(|&i| shapes[i].clone()).collect();
    let parameters_impl = |ty: &syn::Ident, extra: TokenStream| {
        quote! {
            impl ::core::default::Default for #ty {
                /// All parameters zero; large tensors are built in place on the heap.
                fn default() -> Self {
                    Self { #(#field_names: #zero_fields,)* #extra }
                }
            }

            impl ::nn::Parameters for #ty {
                const COUNT: usize = 0 #(+ <#inner_tys as ::nn::Parameters>::COUNT)*;
                fn visit(&self, _layer: &'static str, f: &mut dyn FnMut(::nn::ParamId, &[f32])) {
                    #(::nn::Parameters::visit(::core::borrow::Borrow::<#inner_tys>::borrow(&self.#field_names), #field_strs, f);)*
                }
                fn visit_mut(&mut self, _layer: &'static str, f: &mut dyn FnMut(::nn::ParamId, &mut [f32])) {
                    #(::nn::Parameters::visit_mut(::core::borrow::BorrowMut::<#inner_tys>::borrow_mut(&mut self.#field_names), #field_strs, f);)*
                }
                fn zip_mut(&mut self, other: &Self, _layer: &'static str, f: &mut dyn FnMut(::nn::ParamId, &mut [f32], &[f32])) {
                    #(::nn::Parameters::zip_mut(
                        ::core::borrow::BorrowMut::<#inner_tys>::borrow_mut(&mut self.#field_names),
                        ::core::borrow::Borrow::<#inner_tys>::borrow(&other.#field_names),
                        #field_strs,
                        f,
                    );)*
                }
            }
        }
    };
    // Weight files: each field's tensors by name; a Dense after a Flatten knows the flattened
    // [c, h, w] (Keras orders those rows h, w, c).
    let flatten_of = |l: &Layer| -> TokenStream {
        let li = net.layers.iter().position(|x| std::ptr::eq(x, l));
        let op = net
            .ops
            .iter()
            .find(|o| matches!(o.kind, OpKind::Layer(i) if Some(i) == li));
        // Walk back over layers that keep values in place (activations, dropout) to the Flatten.
        let mut prev = op.and_then(|o| net.ops.iter().find(|p| p.output == o.inputs[0]));
        while let Some(p) = prev {
            match p.kind {
                OpKind::Layer(pl)
                    if matches!(
                        net.layers[pl].kind,
                        LayerKind::Act(_)
                            | LayerKind::Dropout { .. }
                            | LayerKind::PReLU {
                                per_channel: false,
                                ..
                            }
                    ) =>
                {
                    prev = net.ops.iter().find(|q| q.output == p.inputs[0]);
                }
                _ => break,
            }
        }
        match (l.kind, prev.map(|p| p.kind)) {
            (LayerKind::Dense { .. }, Some(OpKind::Layer(pl)))
                if net.layers[pl].kind == LayerKind::Flatten =>
            {
                match net.layers[pl].input {
                    crate::model::Shape::D3(c, h, w) => {
                        let (c, h, w) = (c as usize, h as usize, w as usize);
                        quote!(::core::option::Option::Some([#c, #h, #w]))
                    }
                    crate::model::Shape::D2(c, len) => {
                        let (c, len) = (c as usize, len as usize);
                        quote!(::core::option::Option::Some([#c, 1usize, #len]))
                    }
                    _ => quote!(::core::option::Option::None),
                }
            }
            _ => quote!(::core::option::Option::None),
        }
    };
    let field_flatten: Vec<TokenStream> = param_layers.iter().map(|l| flatten_of(l)).collect();
    let state_dict_impl = quote! {
        ::nn::__private::if_std! {
            impl ::nn::StateDict for #name {
                fn export(&self, _layer: &str, layout: ::nn::Layout, _info: ::nn::FieldInfo, out: &mut ::nn::__private::Vec<::nn::NamedTensor>) {
                    #(::nn::StateDict::export(
                        ::core::borrow::Borrow::<#inner_tys>::borrow(&self.#field_names),
                        #field_strs,
                        layout,
                        ::nn::FieldInfo { flatten_chw: #field_flatten },
                        out,
                    );)*
                }
                fn import(&mut self, _layer: &str, layout: ::nn::Layout, _info: ::nn::FieldInfo, src: &mut ::nn::io::Source<'_>) -> ::core::result::Result<(), ::nn::Error> {
                    #(::nn::StateDict::import(
                        ::core::borrow::BorrowMut::<#inner_tys>::borrow_mut(&mut self.#field_names),
                        #field_strs,
                        layout,
                        ::nn::FieldInfo { flatten_chw: #field_flatten },
                        src,
                    )?;)*
                    ::core::result::Result::Ok(())
                }
            }
        }
    };
    let rng_default = if has_dropout {
        quote!(__nn_rng: ::nn::Rng::new(0),)
    } else {
        quote!()
    };
    let params_net = parameters_impl(name, rng_default);
    let params_grads = parameters_impl(&grads_name, quote!());
    let rng_decl = if has_dropout {
        quote!(#[doc(hidden)] pub __nn_rng: ::nn::Rng,)
    } else {
        quote!()
    };
    let grads_doc = format!("Gradients of [`{name}`]'s parameters: one field per parameterized layer, mirroring the network.");
    let cache_doc = format!("Intermediates of [`{name}`]'s batched forward pass: one heap batch of `B` tensors per layer output.");

    quote! {
        #(#attrs)*
        #[derive(Clone, Debug)]
        #vis struct #name {
            #( #[doc = #field_docs] pub #field_names: #field_tys, )*
            #rng_decl
        }

        #[doc = #grads_doc]
        #[derive(Clone, Debug)]
        #vis struct #grads_name {
            #( #[doc = #grad_docs] pub #field_names: #field_tys, )*
        }

        ::nn::__private::if_alloc! {
            #[doc = #cache_doc]
            #vis struct #cache_name<const __NN_B: usize> {
                #( #[doc = #cache_docs] pub #acts: ::nn::Batch<#live_shapes, __NN_B>, )*
                #( #[doc = #saved_docs] pub #saved_names: #saved_tys, )*
                /// Backward's gradient batches, kept by `backward_into` for the next step.
                #[allow(dead_code)]
                __nn_bwd: ::core::option::Option<#bufs_name<__NN_B>>,
            }

            /// Gradient batches of backward: one per tensor that gets a gradient (and one per
            /// extra contribution to a tensor that several layers read).
            #[doc(hidden)]
            #[allow(dead_code, non_camel_case_types)]
            struct #bufs_name<const __NN_B: usize> {
                #( #buf_names: ::nn::Batch<#buf_shapes, __NN_B>, )*
            }

            #[allow(dead_code)]
            impl<const __NN_B: usize> #bufs_name<__NN_B> {
                fn new() -> Self {
                    Self { #( #buf_names: ::nn::zeroed_batch(), )* }
                }
            }
        }

        #[allow(unused_variables, unused_mut, unreachable_code, clippy::all)]
        const _: () = {
            impl #name {
                /// Number of learnable parameters.
                pub const PARAMS: usize = #params;
                /// Multiply-accumulate operations of one forward pass.
                pub const MACS: usize = #macs;
                /// Bytes of the learnable parameters (`f32`).
                pub const PARAM_BYTES: usize = #params * 4;
                /// Bytes of the network's state: parameters plus batch-norm running statistics.
                pub const STATE_BYTES: usize = (#params + #buffers) * 4;
                /// Bytes of the largest activation tensor of one inference (stack use is a few of these).
                pub const MAX_ACTIVATION_BYTES: usize = #max_act * 4;
                /// Number of input values.
                pub const INPUT_LEN: usize = #input_len;
                /// Number of output values.
                pub const OUTPUT_LEN: usize = #output_len;
                /// A Keras-style table of the layers: output shapes, parameters and MACs.
                pub const SUMMARY: &'static str = #summary;

                /// A network with freshly initialized weights; the same seed gives bit-identical weights.
                pub fn new(seed: u64) -> Self {
                    #new_body
                }

                /// Inference on one sample, given as an `nn::Input<Self>` tensor or a
                /// `[f32; INPUT_LEN]` array; allocates nothing.
                #[inline]
                pub fn forward(&self, x: &#input_bound) -> ::nn::Tensor<#out_ty> {
                    #forward_dispatch
                }

                /// `forward` compiled for the baseline target.
                #[doc(hidden)]
                #[inline(always)]
                pub fn __nn_forward_base(&self, x: &::nn::Tensor<#in_ty>) -> ::nn::Tensor<#out_ty> {
                    #forward_core
                }

                /// `forward` compiled with AVX2 and FMA enabled (same results: no fused
                /// multiply-adds are introduced), chosen at run time by `forward`.
                ///
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[doc(hidden)]
                #[cfg(target_arch = "x86_64")]
                #[target_feature(enable = "avx,avx2,fma")]
                pub unsafe fn __nn_forward_avx2(&self, x: &::nn::Tensor<#in_ty>) -> ::nn::Tensor<#out_ty> {
                    #forward_core
                }

                /// Inference stopping before the final `Softmax`/`Sigmoid` (the logits).
                #[inline]
                pub fn forward_logits(&self, x: &#input_bound) -> ::nn::Tensor<#out_ty> {
                    #logits_body
                }

                /// Inference on a batch, `ys[i] = forward(xs[i])`, a chunk of samples at a time
                /// so that dense layers load each weight once per chunk (results equal
                /// `forward`'s up to rounding). Allocates nothing. `Err` if the slices' lengths
                /// differ.
                pub fn forward_batch(
                    &self,
                    xs: &[::nn::Tensor<#in_ty>],
                    ys: &mut [::nn::Tensor<#out_ty>],
                ) -> ::core::result::Result<(), ::nn::BatchLenError> {
                    #batch_body
                }

                /// The summary table (see [`Self::SUMMARY`]).
                pub fn summary() -> &'static str {
                    Self::SUMMARY
                }
            }

            #params_net
            #params_grads
            #state_dict_impl

            #[diagnostic::do_not_recommend]
            impl ::nn::InputOf<#name, #input_len> for ::nn::Tensor<#in_ty> {
                #[inline(always)]
                fn as_input(&self) -> &::nn::Tensor<#in_ty> {
                    self
                }
            }
            impl ::nn::InputOf<#name, #input_len> for [f32; #input_len] {
                #[inline(always)]
                fn as_input(&self) -> &::nn::Tensor<#in_ty> {
                    ::nn::Tensor::from_array_ref(self)
                }
            }

            impl ::nn::Network for #name {
                type InputShape = #in_ty;
                type OutputShape = #out_ty;
                const NAME: &'static str = #name_str;
                const PARAMS: usize = #params;
                const MACS: usize = #macs;
                const INPUT_LEN: usize = #input_len;
                const OUTPUT_LEN: usize = #output_len;
                const HEAD: ::nn::Head = ::nn::Head::#head;
                const SUMMARY: &'static str = #summary;
                fn new(seed: u64) -> Self {
                    #name::new(seed)
                }
                #[inline]
                fn forward(&self, x: &::nn::Tensor<#in_ty>) -> ::nn::Tensor<#out_ty> {
                    #name::forward(self, x)
                }
                #[inline]
                fn forward_logits(&self, x: &::nn::Tensor<#in_ty>) -> ::nn::Tensor<#out_ty> {
                    #name::forward_logits(self, x)
                }
                #[inline]
                fn forward_batch(&self, xs: &[::nn::Tensor<#in_ty>], ys: &mut [::nn::Tensor<#out_ty>]) -> ::core::result::Result<(), ::nn::BatchLenError> {
                    #name::forward_batch(self, xs, ys)
                }
            }

            ::nn::__private::if_alloc! {
                impl ::nn::Trainable for #name {
                    type Gradients = #grads_name;
                    type Cache<const __NN_B: usize> = #cache_name<__NN_B>;

                    fn forward_train<const __NN_B: usize>(&mut self, x: &[::nn::Tensor<#in_ty>; __NN_B]) -> #cache_name<__NN_B> {
                        #train_body
                    }
                    fn new_cache<const __NN_B: usize>() -> #cache_name<__NN_B> {
                        #new_cache_body
                    }
                    fn forward_train_into<const __NN_B: usize>(&mut self, x: &[::nn::Tensor<#in_ty>; __NN_B], cache: &mut #cache_name<__NN_B>) {
                        #train_into_body
                    }
                    fn backward_into<'c, const __NN_B: usize>(
                        &self,
                        cache: &'c mut #cache_name<__NN_B>,
                        d_output: &[::nn::Tensor<#out_ty>; __NN_B],
                        grads: &mut #grads_name,
                    ) -> &'c [::nn::Tensor<#in_ty>; __NN_B] {
                        #backward_into_body
                    }
                    fn backward_logits_into<'c, const __NN_B: usize>(
                        &self,
                        cache: &'c mut #cache_name<__NN_B>,
                        d_logits: &[::nn::Tensor<#out_ty>; __NN_B],
                        grads: &mut #grads_name,
                    ) -> &'c [::nn::Tensor<#in_ty>; __NN_B] {
                        #backward_logits_into_body
                    }
                    fn cache_output<const __NN_B: usize>(cache: &#cache_name<__NN_B>) -> &[::nn::Tensor<#out_ty>; __NN_B] {
                        &cache.#output_acts
                    }
                    fn cache_logits<const __NN_B: usize>(cache: &#cache_name<__NN_B>) -> &[::nn::Tensor<#out_ty>; __NN_B] {
                        &cache.#logits
                    }
                    fn backward<const __NN_B: usize>(
                        &self,
                        cache: &#cache_name<__NN_B>,
                        d_output: &[::nn::Tensor<#out_ty>; __NN_B],
                    ) -> (::nn::__private::Box<#grads_name>, ::nn::Batch<#in_ty, __NN_B>) {
                        #backward_body
                    }
                    fn backward_logits<const __NN_B: usize>(
                        &self,
                        cache: &#cache_name<__NN_B>,
                        d_logits: &[::nn::Tensor<#out_ty>; __NN_B],
                    ) -> (::nn::__private::Box<#grads_name>, ::nn::Batch<#in_ty, __NN_B>) {
                        #backward_logits_body
                    }
                    fn zip_gradients(&mut self, grads: &#grads_name, f: &mut dyn FnMut(::nn::ParamId, &mut [f32], &[f32])) {
                        #(::nn::Parameters::zip_mut(
                            ::core::borrow::BorrowMut::<#inner_tys>::borrow_mut(&mut self.#field_names),
                            ::core::borrow::Borrow::<#inner_tys>::borrow(&grads.#field_names),
                            #field_strs,
                            f,
                        );)*
                    }
                }
            }
        };
    }
}
