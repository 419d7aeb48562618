//! Compile-time benchmark case `lenet` (`scripts/compile_time.sh`): a LeNet-5-like CNN on
//! [1, 28, 28] (the original's padded first convolution, so 16 x 5 x 5 features reach the dense
//! layers), with `forward` on one input and one `Trainer::fit` (SGD, cross-entropy, batch 32, one
//! epoch) on 32 random samples, so the inference, training forward and backward code is
//! generated and monomorphized.

use std::hint::black_box;

use nn::prelude::*;

nn::network! {
    /// LeNet-5: two 5x5 convolutions (6 filters padded, 16 filters) with ReLU and 2x2 max
    /// pooling, then Dense 120, 84, 10 and softmax.
    pub struct LeNet5 {
        input: [1, 28, 28],
        conv1: Conv2d(6, kernel = 5, padding = 2), ReLU,
        MaxPool2d(2) -> [6, 14, 14],
        conv2: Conv2d(16, kernel = 5), ReLU,
        MaxPool2d(2) -> [16, 5, 5],
        Flatten -> [400],
        fc1: Dense(120), ReLU,
        fc2: Dense(84), ReLU,
        fc3: Dense(10),
        Softmax,
    }
}

/// Training samples.
const SAMPLES: usize = 32;

/// Deterministic input `s` (values in [-1, 1]).
fn input<N: Network>(s: usize) -> Input<N> {
    Input::<N>::from_fn(|i| ((s * 131 + i) as f32 * 0.37).sin())
}

fn main() -> Result<(), nn::Error> {
    let mut net = LeNet5::new(42);
    let y = net.forward(black_box(&input::<LeNet5>(0)));
    let data = Dataset::new(
        (0..SAMPLES).map(input::<LeNet5>).collect(),
        (0..SAMPLES).map(|s| s % 10).collect(),
    )?;
    let history = Trainer::new(Sgd::new(0.01).momentum(0.9), CrossEntropy)
        .batch_size::<32>()
        .epochs(1)
        .progress(false)
        .fit(&mut net, &data, None)?;
    println!(
        "lenet: output[0] {:.4}, {} epoch(s)",
        y.as_slice()[0],
        history.epochs.len()
    );
    Ok(())
}
