//! Compile-time benchmark case `ten` (`scripts/compile_time.sh`): ten networks in one crate, each
//! with `forward` on one input and one `Trainable::forward_train` at batch 32: the reference
//! models M1-M4 of `MODELS.md` (declared by `nn_models::m1!`..`m4!`) and six small networks
//! whose declarations are copied from the workspace, covering the other layer kinds:
//!
//! | network | from | covers |
//! |---|---|---|
//! | `ResNet` | `tests/deep_training.rs` | residual blocks (identity and projection), batch norm, dropout |
//! | `M2Bn` | `benches/models.rs` | batch norm after convolutions |
//! | `Mixed` | `tests/no_alloc.rs` | dropout, batch norm 1-D and 2-D, dense residual block |
//! | `Signal` | `tests/train_reuse.rs` | PReLU per channel, 1-D convolution and pooling |
//! | `Net3` | `tests/gradcheck.rs` | GELU, Tanh |
//! | `Conv` | `tests/train_reuse.rs` | average pooling, padded max pooling |

use std::hint::black_box;

use nn::prelude::*;

nn_models::m1! { pub struct M1 }
nn_models::m2! { pub struct M2 }
nn_models::m3! { pub struct M3 }
nn_models::m4! { pub struct M4 }

nn::network! {
    pub struct ResNet {
        input: [1, 8, 8],
        stem: Conv2d(8, kernel = 3, padding = 1, bias = false), bn0: BatchNorm2d, ReLU,
        block1: Residual { c1: Conv2d(8, kernel = 3, padding = 1), ReLU, c2: Conv2d(8, kernel = 3, padding = 1) }, ReLU,
        block2: Residual(projection) { c3: Conv2d(16, kernel = 3, stride = 2, padding = 1), BatchNorm2d, ReLU, c4: Conv2d(16, kernel = 3, padding = 1) } -> [16, 4, 4], ReLU,
        Flatten, Dropout(0.25),
        fc: Dense(10), Softmax,
    }
}

nn::network! {
    /// M2 with batch normalization after each convolution (for the folding benchmark).
    pub struct M2Bn {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d, ReLU, MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1, bias = false), bn2: BatchNorm2d, ReLU, MaxPool2d(2),
        Flatten, fc: Dense(10), Softmax,
    }
}

nn::network! {
    /// Residual blocks, batch normalization and dropout (inference: running statistics, no
    /// dropping), for the batched forward.
    struct Mixed {
        input: [2, 6, 6],
        stem: Conv2d(3, kernel = 3, padding = 1, bias = false), bn0: BatchNorm2d, Tanh,
        r1: Residual {
            c1: Conv2d(3, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d, ReLU,
            c2: Conv2d(3, kernel = 3, padding = 1),
        }, Tanh,
        Flatten, Dropout(0.25),
        fc1: Dense(6), Tanh, bn3: BatchNorm1d,
        r3: Residual { d1: Dense(6), ReLU },
        out: Dense(3), Softmax,
    }
}

nn::network! {
    /// Signals: 1-D convolution and pooling, PReLU per channel.
    struct Signal {
        input: [2, 12],
        k1: Conv1d(3, kernel = 3, padding = 1), PReLU(per_channel = true), MaxPool1d(2),
        k2: Conv1d(2, kernel = 3), AvgPool1d(2, stride = 1),
        Flatten,
        out: Dense(3), Softmax,
    }
}

nn::network! {
    /// Three Dense layers, smooth activations, softmax head.
    struct Net3 {
        input: [5],
        fc1: Dense(8), Tanh,
        fc2: Dense(6), GELU,
        fc3: Dense(3), Softmax,
    }
}

nn::network! {
    /// Convolutions, pooling (max 2x2, max padded, average), flatten, dense, softmax.
    struct Conv {
        input: [2, 8, 8],
        c1: Conv2d(4, kernel = 3, padding = 1), ReLU, MaxPool2d(2),
        c2: Conv2d(6, kernel = 3, padding = 1), Tanh, MaxPool2d(3, stride = 1, padding = 1),
        AvgPool2d(2),
        Flatten,
        fc: Dense(5), Softmax,
    }
}

/// The training batch.
const B: usize = 32;

/// Deterministic input `s` (values in [-1, 1]).
fn input<N: Network>(s: usize) -> Input<N> {
    Input::<N>::from_fn(|i| ((s * 131 + i) as f32 * 0.37).sin())
}

/// `forward` on one input and `forward_train` on one batch; returns the first output and logit.
fn exercise<N: Trainable>() -> (f32, f32) {
    let mut net = N::new(42);
    let y = net.forward(black_box(&input::<N>(0)));
    let x: nn::Batch<N::InputShape, B> = nn::batch_from((0..B).map(input::<N>));
    let cache = net.forward_train::<B>(black_box(&x));
    (y.as_slice()[0], N::cache_logits(&cache)[0].as_slice()[0])
}

fn main() {
    let results = [
        ("M1", exercise::<M1>()),
        ("M2", exercise::<M2>()),
        ("M3", exercise::<M3>()),
        ("M4", exercise::<M4>()),
        ("ResNet", exercise::<ResNet>()),
        ("M2Bn", exercise::<M2Bn>()),
        ("Mixed", exercise::<Mixed>()),
        ("Signal", exercise::<Signal>()),
        ("Net3", exercise::<Net3>()),
        ("Conv", exercise::<Conv>()),
    ];
    for (name, (y, logit)) in results {
        println!("ten: {name}: output[0] {y:.4}, logits[0][0] {logit:.4}");
    }
}
