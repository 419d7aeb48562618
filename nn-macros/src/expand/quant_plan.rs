//! The int8 twin's plan, shared by the modules that generate it (`quant`, `quant_api`,
//! `quant_io`, `quant_bake`): its steps from the network's ops, the names of their variables,
//! the layers with int8 weights, and the `f32` head.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::layers::activation::Activation;
use crate::layers::LayerKind;
use crate::model::{Head, Network, OpKind};
use crate::paths;
use crate::shape::Shape;

/// One step of the twin's forward pass.
pub(super) enum Step {
    /// A dense layer (`layer` index) from tensor `input` to `output`, with the batch norm
    /// `bn` (a layer index) folded in and a fused ReLU.
    Dense {
        layer: usize,
        input: usize,
        output: usize,
        relu: bool,
        bn: Option<usize>,
    },
    /// `max(x, zero point)` from `input` to `output` (same quantization).
    Relu { input: usize, output: usize },
    /// The same values as another shape (or unchanged): `Flatten`, `Dropout`, `Identity`.
    Alias { input: usize, output: usize },
    /// A 1-D or 2-D convolution (`layer`), with the batch norm `bn` folded in and a fused
    /// ReLU.
    Conv {
        layer: usize,
        input: usize,
        output: usize,
        relu: bool,
        bn: Option<usize>,
    },
    /// An elementwise activation (`layer`) as a 256-entry table from `input` to `output`.
    Lut {
        layer: usize,
        input: usize,
        output: usize,
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

/// `[c, h, w]`, `[c, l]` as `(c, 1, l)`, `[n]` as `(n, 1, 1)`.
pub(super) fn chw(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::D1(n) => (n as usize, 1, 1),
        Shape::D2(c, l) => (c as usize, 1, l as usize),
        Shape::D3(c, h, w) => (c as usize, h as usize, w as usize),
    }
}

/// The twin's steps up to the logits, or the layer that cannot be quantized yet.
pub(super) fn plan(net: &Network) -> Result<Vec<Step>, String> {
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
        // The layer of op `k` if it is before the logits and alone reads tensor `t`.
        let next = |k: usize, t: usize| {
            let n = net.ops.get(k).filter(|n| {
                k < net.logits_ops && consumers[t] == 1 && n.inputs.first() == Some(&t)
            })?;
            match n.kind {
                OpKind::Layer(m) => Some((m, n.output)),
                OpKind::Add => None,
            }
        };
        if matches!(layer.kind, LayerKind::Dense(_) | LayerKind::Conv(_)) {
            // A batch norm that alone reads the output folds into the weights, and a ReLU
            // that alone reads what comes out folds into the output clamp.
            let (mut k, mut out, mut bn) = (j + 1, output, None);
            if let Some((m, o)) = next(k, out) {
                if matches!(net.layers[m].kind, LayerKind::BatchNorm(_)) {
                    (k, out, bn) = (k + 1, o, Some(m));
                }
            }
            let relu = match next(k, out) {
                Some((m, o))
                    if matches!(net.layers[m].kind, LayerKind::Activation(Activation::ReLU)) =>
                {
                    (k, out) = (k + 1, o);
                    true
                }
                _ => false,
            };
            steps.push(if matches!(layer.kind, LayerKind::Dense(_)) {
                Step::Dense {
                    layer: l,
                    input,
                    output: out,
                    relu,
                    bn,
                }
            } else {
                Step::Conv {
                    layer: l,
                    input,
                    output: out,
                    relu,
                    bn,
                }
            });
            j = k;
            continue;
        }
        match layer.kind {
            LayerKind::Pool(_) => steps.push(Step::Pool {
                layer: l,
                input,
                output,
            }),
            LayerKind::Activation(Activation::ReLU) => steps.push(Step::Relu { input, output }),
            LayerKind::Activation(Activation::Identity)
            | LayerKind::Flatten(_)
            | LayerKind::Dropout(_) => steps.push(Step::Alias { input, output }),
            LayerKind::Activation(_) => steps.push(Step::Lut {
                layer: l,
                input,
                output,
            }),
            LayerKind::PReLU(p) if !p.per_channel => steps.push(Step::Lut {
                layer: l,
                input,
                output,
            }),
            LayerKind::BatchNorm(_) => {
                return Err(format!(
                    "its layer `{}` ({}) cannot be quantized to int8 yet: a batch norm is \
                     folded only right after a Dense or convolution whose output it alone reads",
                    layer.name, layer.kind_name
                ))
            }
            _ => {
                return Err(format!(
                    "its layer `{}` ({}) cannot be quantized to int8 yet",
                    layer.name, layer.kind_name
                ))
            }
        }
        j += 1;
    }
    Ok(steps)
}

/// The variable of tensor `t` in generated code.
pub(super) fn act(t: usize) -> proc_macro2::Ident {
    format_ident!("a{}", t)
}

/// The fused activation of a step.
pub(super) fn activation(relu: bool) -> TokenStream {
    let fused = paths::fused_activation();
    if relu {
        quote!(#fused::Relu)
    } else {
        quote!(#fused::None)
    }
}

/// The final `Softmax` or `Sigmoid` on the dequantized `logits`, in `f32`, inlined into the
/// twin's `forward` (and into its AVX2 copy, `__nn_forward_avx2`). A call to a head compiled
/// for AVX2 apart, as before, cost M1 32 ns of 145 (the logits crossing the call; Intel Xeon,
/// 2026-12-04), and the head inlined into baseline code M2 40 ns (ten exponentials in SSE2).
pub(super) fn head(net: &Network) -> TokenStream {
    let (tensor, layer) = (paths::tensor(), paths::layer());
    let out_ty = paths::shape_of(net.output());
    match (net.head, net.ops.last().and_then(|op| net.layer_of(op))) {
        (Head::Softmax | Head::Sigmoid, Some(l)) => {
            let value = l.value();
            quote! {
                let mut out = #tensor::<#out_ty>::zeros();
                #layer::forward(&#value, &logits, &mut out);
                out
            }
        }
        _ => quote!(logits),
    }
}

/// A weighted layer of the twin as its file holds it.
pub(super) struct Weighted {
    /// The field (and the prefix of its tensors' names).
    pub(super) field: Ident,
    /// The shape of `<field>.weight` (PyTorch's layout).
    pub(super) shape: Vec<usize>,
    /// Output channels.
    pub(super) channels: usize,
    /// A dense layer (weights `weight(o, i)`), or a convolution (`weight(k)`).
    pub(super) dense: bool,
    /// The tensors it reads and writes, and whether a ReLU is fused.
    pub(super) input: usize,
    pub(super) output: usize,
    pub(super) relu: bool,
}

/// The weighted layer of a dense or convolution step.
pub(super) fn weighted(net: &Network, step: &Step) -> Option<Weighted> {
    let (layer, input, output, relu) = match *step {
        Step::Dense {
            layer,
            input,
            output,
            relu,
            ..
        }
        | Step::Conv {
            layer,
            input,
            output,
            relu,
            ..
        } => (layer, input, output, relu),
        _ => return None,
    };
    let l = &net.layers[layer];
    let (c_in, _, _) = chw(l.input);
    let (shape, channels, dense) = match l.kind {
        LayerKind::Conv(c) => {
            let (co, kh, kw) = (c.filters as usize, c.win.kh as usize, c.win.kw as usize);
            let shape = if c.win.rank == 1 {
                vec![co, c_in, kw]
            } else {
                vec![co, c_in, kh, kw]
            };
            (shape, co, false)
        }
        _ => {
            let (ni, no) = (l.input.len() as usize, l.output.len() as usize);
            (vec![no, ni], no, true)
        }
    };
    Some(Weighted {
        field: l.name.clone(),
        shape,
        channels,
        dense,
        input,
        output,
        relu,
    })
}

/// The geometry of a window layer from `input` to `output` as `nn::quant::ops::Window2`.
pub(super) fn window2(
    win: &crate::layers::window::Window,
    input: Shape,
    output: Shape,
) -> TokenStream {
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
