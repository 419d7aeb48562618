//! Batch-norm folding: the inference network with every `BatchNorm` that directly follows a
//! `Dense` or convolution merged into that layer's weights and bias.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Layer, LayerKind, Network, Op, OpKind};

/// A batch norm folded into the layer before it: (index of that layer in the original network,
/// index of the batch norm).
pub struct Folded {
    pub net: Network,
    /// For each layer of the folded network: its index in the original, and the batch norm it
    /// absorbed, if any.
    pub origin: Vec<(usize, Option<usize>)>,
}

/// The folded model, or `None` when no batch norm can be folded.
pub fn fold(net: &Network) -> Option<Folded> {
    let mut consumers = vec![0usize; net.tensors.len()];
    for op in &net.ops {
        for &i in &op.inputs {
            consumers[i] += 1;
        }
    }
    let producer = |t: usize| net.ops.iter().position(|o| o.output == t);
    // bn op index -> producing layer op index
    let mut absorbed: Vec<Option<usize>> = vec![None; net.layers.len()];
    let mut removed_ops = vec![false; net.ops.len()];
    let mut rename: Vec<usize> = (0..net.tensors.len()).collect();
    for (j, op) in net.ops.iter().enumerate() {
        let OpKind::Layer(bn) = op.kind else { continue };
        if net.layers[bn].kind != LayerKind::BatchNorm {
            continue;
        }
        let input = op.inputs[0];
        if consumers[input] != 1 {
            continue;
        }
        let Some(p) = producer(input) else { continue };
        let OpKind::Layer(prev) = net.ops[p].kind else {
            continue;
        };
        if !matches!(
            net.layers[prev].kind,
            LayerKind::Dense { .. } | LayerKind::Conv { .. }
        ) {
            continue;
        }
        absorbed[prev] = Some(bn);
        removed_ops[j] = true;
        rename[op.output] = input;
    }
    if removed_ops.iter().all(|r| !r) {
        return None;
    }
    let kept: Vec<usize> = (0..net.layers.len())
        .filter(|&l| !(net.layers[l].kind == LayerKind::BatchNorm && absorbed.contains(&Some(l))))
        .collect();
    let new_index = |l: usize| kept.iter().position(|&k| k == l);
    let layers: Vec<Layer> = kept
        .iter()
        .map(|&l| {
            let o = &net.layers[l];
            let kind = match o.kind {
                LayerKind::Conv {
                    filters, win, init, ..
                } if absorbed[l].is_some() => LayerKind::Conv {
                    filters,
                    win,
                    bias: true,
                    init,
                },
                k => k,
            };
            let params = match (o.kind, kind) {
                (
                    LayerKind::Conv {
                        bias: false,
                        filters,
                        ..
                    },
                    LayerKind::Conv { bias: true, .. },
                ) => o.params + filters,
                _ => o.params,
            };
            Layer {
                name: o.name.clone(),
                kind_name: o.kind_name.clone(),
                kind,
                input: o.input,
                output: o.output,
                params,
                macs: o.macs,
                span: o.span,
            }
        })
        .collect();
    let resolve = |mut t: usize| {
        while rename[t] != t {
            t = rename[t];
        }
        t
    };
    let ops: Vec<Op> = net
        .ops
        .iter()
        .enumerate()
        .filter(|(j, _)| !removed_ops[*j])
        .map(|(_, op)| Op {
            kind: match op.kind {
                OpKind::Layer(l) => OpKind::Layer(new_index(l).unwrap_or(0)),
                OpKind::Add => OpKind::Add,
            },
            label: op.label.clone(),
            inputs: op.inputs.iter().map(|&i| resolve(i)).collect(),
            output: op.output,
        })
        .collect();
    let logits_ops = if net.logits_ops < net.ops.len() {
        ops.len() - 1
    } else {
        ops.len()
    };
    let origin = kept.iter().map(|&l| (l, absorbed[l])).collect();
    let folded = Network {
        attrs: Vec::new(),
        vis: net.vis.clone(),
        name: format_ident!("{}Folded", net.name),
        input: net.input,
        layers,
        tensors: net.tensors.clone(),
        ops,
        output: resolve(net.output),
        logits: resolve(net.logits),
        logits_ops,
        head: net.head,
    };
    Some(Folded {
        net: folded,
        origin,
    })
}

/// `impl Net { pub fn fold(&self) -> NetFolded }`, copying or folding every field.
pub fn fold_method(net: &Network, f: &Folded) -> TokenStream {
    let name = &net.name;
    let folded = &f.net.name;
    let has_dropout = net
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Dropout { .. }));
    let fields: Vec<TokenStream> = f
        .net
        .layers
        .iter()
        .zip(&f.origin)
        .filter(|(l, _)| l.kind.has_params())
        .map(|(l, &(orig, bn))| {
            let field = &l.name;
            let ty = crate::expand::layer_ty(l);
            let orig_ty = crate::expand::layer_ty(&net.layers[orig]);
            let make = if crate::expand::is_large(l) { quote!(new_large) } else { quote!(new_inline) };
            match bn {
                Some(b) => {
                    let bn_field = &net.layers[b].name;
                    let bn_ty = crate::expand::layer_ty(&net.layers[b]);
                    quote! {
                        #field: ::nn::__private::#make(|l: &mut #ty| *l = ::core::borrow::Borrow::<#orig_ty>::borrow(&self.#field)
                            .fold_batchnorm(::core::borrow::Borrow::<#bn_ty>::borrow(&self.#bn_field)))
                    }
                }
                None => quote!(#field: ::core::clone::Clone::clone(&self.#field)),
            }
        })
        .collect();
    let rng = if has_dropout {
        quote!(__nn_rng: ::core::clone::Clone::clone(&self.__nn_rng),)
    } else {
        quote!()
    };
    let doc = format!(
        "The inference form of this network: every batch normalization that directly follows a `Dense` or convolution is folded into that layer ([`{folded}`]). Outputs equal `forward`'s up to rounding."
    );
    quote! {
        impl #name {
            #[doc = #doc]
            pub fn fold(&self) -> #folded {
                #folded { #(#fields,)* #rng }
            }
        }
    }
}
