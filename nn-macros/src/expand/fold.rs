//! The batch-norm-folded twin `NameFolded`: the inference network with every `BatchNorm` that
//! directly follows a layer able to absorb it (`Dense`, convolutions: `Kind::absorb_batch_norm`)
//! merged into that layer's weights and bias, and `Name::fold()`, which builds it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::layers::{Layer, LayerKind};
use crate::model::{Network, Op, OpKind};

/// The folded network, and where its layers come from.
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
    // For each layer, the batch norm it absorbs; the ops of those batch norms, removed; and for
    // each tensor, the tensor that replaces it (a batch norm's output is its input's).
    let mut absorbed: Vec<Option<usize>> = vec![None; net.layers.len()];
    let mut removed_ops = vec![false; net.ops.len()];
    let mut rename: Vec<usize> = (0..net.tensors.len()).collect();
    for (j, op) in net.ops.iter().enumerate() {
        let OpKind::Layer(bn) = op.kind else { continue };
        if !matches!(net.layers[bn].kind, LayerKind::BatchNorm(_)) {
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
        if net.layers[prev].kind.get().absorb_batch_norm().is_none() {
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
        .filter(|&l| {
            !(matches!(net.layers[l].kind, LayerKind::BatchNorm(_)) && absorbed.contains(&Some(l)))
        })
        .collect();
    let new_index = |l: usize| kept.iter().position(|&k| k == l);
    let layers: Vec<Layer> = kept
        .iter()
        .map(|&l| {
            let o = &net.layers[l];
            let kind = match absorbed[l] {
                Some(_) => o.kind.get().absorb_batch_norm().unwrap_or(o.kind),
                None => o.kind,
            };
            Layer::new(
                o.name.clone(),
                o.kind_name.clone(),
                kind,
                (o.input, o.output),
                o.span,
            )
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
    let has_dropout = net.uses_rng();
    let fields: Vec<TokenStream> = f
        .net
        .layers
        .iter()
        .zip(&f.origin)
        .filter(|(l, _)| l.has_params())
        .map(|(l, &(orig, bn))| {
            let field = &l.name;
            let ty = l.ty();
            let orig_ty = net.layers[orig].ty();
            let make = l.storage();
            match bn {
                Some(b) => {
                    let bn_field = &net.layers[b].name;
                    let bn_ty = net.layers[b].ty();
                    quote! {
                        #field: #make(|l: &mut #ty| *l = ::core::borrow::Borrow::<#orig_ty>::borrow(&self.#field)
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
