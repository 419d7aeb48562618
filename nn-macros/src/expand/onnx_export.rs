//! `impl nn::Onnx`: the network's ONNX graph as a constant description (`std` only). Values
//! are named after the layers that produce them (`input` and `output` at the ends), nodes after
//! their layers, weights as in the `state_dict`; each layer kind gives its own nodes
//! (`Kind::onnx`), residual joins are `Add` nodes named after their block.

use proc_macro2::TokenStream;
use quote::quote;

use super::Gen;
use crate::model::OpKind;
use crate::onnx_node::{Attr, Node, Part};
use crate::paths;

/// The impl.
pub fn onnx_impl(gen: &Gen) -> TokenStream {
    let net = gen.net;
    let values: Vec<String> = (0..net.tensors.len())
        .map(|t| {
            if t == 0 {
                return "input".to_string();
            }
            if t == net.output {
                return "output".to_string();
            }
            let name =
                net.ops
                    .iter()
                    .enumerate()
                    .find(|(_, o)| o.output == t)
                    .map(|(k, o)| match o.kind {
                        OpKind::Layer(i) => net.layers[i].name.to_string(),
                        OpKind::Add if !o.label.is_empty() => o.label.clone(),
                        OpKind::Add => format!("add_{k}"),
                    });
            match name.as_deref() {
                Some("input") | Some("output") | None => format!("value_{t}"),
                Some(n) => n.to_string(),
            }
        })
        .collect();
    let mut all = Part {
        opset: 17,
        ..Part::default()
    };
    for (k, op) in net.ops.iter().enumerate() {
        let y = &values[op.output];
        let part = match op.kind {
            OpKind::Layer(i) => {
                let l = &net.layers[i];
                l.kind.get().onnx(l, &values[op.inputs[0]], y)
            }
            OpKind::Add => {
                let name = if op.label.is_empty() {
                    format!("add_{k}")
                } else {
                    op.label.clone()
                };
                let (a, b) = (&values[op.inputs[0]], &values[op.inputs[1]]);
                Part::node(Node::new("Add", name, &[a, b], y))
            }
        };
        all.opset = all.opset.max(part.opset);
        all.nodes.extend(part.nodes);
        all.consts.extend(part.consts);
        all.dims.extend(part.dims);
    }
    let (onnx, desc, if_std) = (paths::onnx(), paths::onnx_desc(), paths::if_std());
    let name = gen.name;
    let name_str = name.to_string();
    let opset = all.opset;
    let dims =
        |s: crate::shape::Shape| -> Vec<usize> { s.dims().iter().map(|&d| d as usize).collect() };
    let (input, output) = (dims(net.input), dims(net.output()));
    let nodes = all.nodes.iter().map(|n| {
        let (op, nm, ins, outs) = (n.op, &n.name, &n.inputs, &n.outputs);
        let attrs = n.attrs.iter().map(|(k, a)| {
            let v = match a {
                Attr::Int(i) => quote!(#desc::Attr::Int(#i)),
                Attr::Ints(v) => quote!(#desc::Attr::Ints(&[#(#v),*])),
                Attr::Float(f) => quote!(#desc::Attr::Float(#f)),
                Attr::Str(s) => quote!(#desc::Attr::Str(#s)),
            };
            quote!((#k, #v))
        });
        quote!(#desc::NodeDesc { op: #op, name: #nm, inputs: &[#(#ins),*], outputs: &[#(#outs),*], attrs: &[#(#attrs),*] })
    });
    let consts = all.consts.iter().map(
        |(n, d, v)| quote!(#desc::ConstDesc { name: #n, dims: &[#(#d),*], values: &[#(#v),*] }),
    );
    let redims = all
        .dims
        .iter()
        .map(|(n, d)| quote!((#n, &[#(#d),*] as &[usize])));
    quote! {
        #if_std! {
            #[automatically_derived]
            impl #onnx for #name {
                const ONNX: #desc::GraphDesc = #desc::GraphDesc {
                    name: #name_str,
                    opset: #opset,
                    input: &[#(#input),*],
                    output: &[#(#output),*],
                    nodes: &[#(#nodes),*],
                    consts: &[#(#consts),*],
                    dims: &[#(#redims),*],
                };
            }
        }
    }
}
