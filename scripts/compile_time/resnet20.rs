//! Compile-time benchmark case `resnet20` (`scripts/compile_time.sh`): a CIFAR-size ResNet-20
//! (He et al. 2016, section 4.2) on [3, 32, 32]: a 3x3 stem of 16 filters with batch norm, nine
//! basic blocks (two 3x3 convolutions with batch norm, ReLU after the join) at 16, 32 and 64
//! filters, the first block of stages 2 and 3 downsampling with stride 2 and a learned 1x1
//! projection on the skip path, then global 8x8 average pooling, Dense 10 and softmax
//! (19 convolutions + 2 projections + 1 dense layer). `forward` on one input and one
//! `Trainer::fit` (SGD, cross-entropy, batch 32, one epoch) on 32 random samples, so the
//! inference, training forward and backward code is generated and monomorphized.
//!
//! Differences from the paper's CIFAR model: the skip projections are 1x1 convolutions (option B)
//! without batch norm; the paper's option A (zero-padded identity) does not exist in the DSL.

use std::hint::black_box;

use nn::prelude::*;

nn::network! {
    /// ResNet-20 for 32x32 RGB images, 10 classes.
    pub struct ResNet20 {
        input: [3, 32, 32],
        stem: Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
        s1b1: Residual {
            Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU,
        s1b2: Residual {
            Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU,
        s1b3: Residual {
            Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU -> [16, 32, 32],
        s2b1: Residual(projection) {
            Conv2d(32, kernel = 3, stride = 2, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU,
        s2b2: Residual {
            Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU,
        s2b3: Residual {
            Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU -> [32, 16, 16],
        s3b1: Residual(projection) {
            Conv2d(64, kernel = 3, stride = 2, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU,
        s3b2: Residual {
            Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU,
        s3b3: Residual {
            Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
            Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d,
        }, ReLU -> [64, 8, 8],
        AvgPool2d(8) -> [64, 1, 1],
        Flatten,
        fc: Dense(10),
        Softmax,
    }
}

/// Training samples (one batch).
const SAMPLES: usize = 32;

/// Deterministic input `s` (values in [-1, 1]).
fn input<N: Network>(s: usize) -> Input<N> {
    Input::<N>::from_fn(|i| ((s * 131 + i) as f32 * 0.37).sin())
}

fn run() -> Result<(), nn::Error> {
    let mut net = ResNet20::new(42);
    let y = net.forward(black_box(&input::<ResNet20>(0)));
    let data = Dataset::new(
        (0..SAMPLES).map(input::<ResNet20>).collect(),
        (0..SAMPLES).map(|s| s % 10).collect(),
    )?;
    let history = Trainer::new(Sgd::new(0.01).momentum(0.9), CrossEntropy)
        .batch_size::<32>()
        .epochs(1)
        .progress(false)
        .fit(&mut net, &data, None)?;
    println!(
        "resnet20: {} parameters, output[0] {:.4}, {} epoch(s)",
        ResNet20::PARAMS,
        y.as_slice()[0],
        history.epochs.len()
    );
    Ok(())
}

fn main() -> Result<(), nn::Error> {
    // ResNet-20's 2.65 MB of activations are over the stack budget: they live in a workspace
    // (`ResNet20Workspace`), so the main thread's stack is enough.
    run()
}
