//! Compile-time benchmark case `m2` (`scripts/compile_time.sh`): M2, the digits CNN of
//! `MODELS.md` (declared by `nn_models::m2!`), with `forward` on one input and one
//! `Trainable::forward_train` at batch 32, so the inference and training forward code is
//! generated and monomorphized.

use std::hint::black_box;

use nn::prelude::*;

nn_models::m2! { pub struct M2 }

/// The training batch.
const B: usize = 32;

/// Deterministic input `s` (values in [-1, 1]).
fn input<N: Network>(s: usize) -> Input<N> {
    Input::<N>::from_fn(|i| ((s * 131 + i) as f32 * 0.37).sin())
}

fn main() {
    let mut net = M2::new(42);
    let y = net.forward(black_box(&input::<M2>(0)));
    let x: nn::Batch<<M2 as nn::Shapes>::InputShape, B> = nn::batch_from((0..B).map(input::<M2>));
    let cache = net.forward_train::<B>(black_box(&x));
    let logits = M2::cache_logits(&cache);
    println!(
        "m2: output[0] {:.4}, logits[0][0] {:.4}",
        y.as_slice()[0],
        logits[0].as_slice()[0]
    );
}
