//! The inherent impl: the consts (`PARAMS`, `MACS`, byte sizes, `SUMMARY`, ...), `new(seed)`,
//! the inference methods (from `inference`) and `summary()`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{inference, summary, Gen};
use crate::paths;

/// `impl Name { .. }`.
pub fn items(gen: &Gen) -> TokenStream {
    let net = gen.net;
    let name = gen.name;
    let params = net.params() as usize;
    let macs = net.macs() as usize;
    let input_len = gen.input_len;
    let buffers: usize = net
        .layers
        .iter()
        .map(|l| l.kind.get().buffers(l.input) as usize)
        .sum();
    let max_act = net
        .tensors
        .iter()
        .map(|t| t.len() as usize)
        .max()
        .unwrap_or(0);
    let output_len = net.output().len() as usize;
    let summary = summary::table(net, &gen.budget);
    let stack_bytes = gen.budget.stack_bytes as usize;
    let workspace_bytes = gen.budget.workspace_bytes() as usize;
    let new_body = gen.body(new_body(gen));
    let inference = inference::methods(gen);
    quote! {
        impl #name {
            /// Number of learnable parameters.
            pub const PARAMS: usize = #params;
            /// Multiply-accumulate operations of one forward pass.
            pub const MACS: usize = #macs;
            /// Bytes of the learnable parameters (`f32`).
            pub const PARAM_BYTES: usize = #params * 4;
            /// Bytes of the network's state: parameters plus batch-norm running statistics.
            pub const STATE_BYTES: usize = (#params + #buffers) * 4;
            /// Bytes of the largest activation tensor of one inference.
            pub const MAX_ACTIVATION_BYTES: usize = #max_act * 4;
            /// Bytes of stack that one `forward` or `forward_batch` call needs for tensors: all
            /// its activations when they fit the stack budget (`nn::STACK_BUDGET`), else only
            /// the returned output (the activations are then in a workspace).
            pub const STACK_BYTES: usize = #stack_bytes;
            /// Bytes of the workspace that holds the activations of a network over the stack
            /// budget (`forward_with`); 0 when they live on the stack.
            pub const WORKSPACE_BYTES: usize = #workspace_bytes;
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

            #inference

            /// The summary table (see [`Self::SUMMARY`]).
            pub fn summary() -> &'static str {
                Self::SUMMARY
            }
        }
    }
}

/// Every field built and initialized: each layer from its own random stream of `seed` (its
/// position, from 1), dropout masks from stream `0x5eed`.
fn new_body(gen: &Gen) -> TokenStream {
    let net = gen.net;
    let names = &gen.fields.names;
    let inits = net
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.has_params())
        .map(|(i, l)| l.init(i as u64 + 1));
    let rng = if net.uses_rng() {
        let rng = paths::rng();
        quote!(__nn_rng: #rng::with_stream(seed, 0x5eed),)
    } else {
        quote!()
    };
    quote! { Self { #(#names: #inits,)* #rng } }
}
