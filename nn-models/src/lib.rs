//! The reference models M1-M4 of `shared/MODELS.md`, declared once.
//!
//! Each model is a `macro_rules!` macro that takes the attributes, visibility and name of the
//! network struct and expands to `nn::network!` with the model's layers, in the crate that
//! calls it:
//!
//! ```text
//! nn_models::m1! {
//!     /// Doc comments and other attributes (e.g. `#[weights = "m1.safetensors"]`) pass through.
//!     pub struct JetTagger
//! }
//! ```
//!
//! The crate has no dependencies (the expansion names `::nn::network!`, which the calling crate
//! depends on), so `nn` lists it as a dev-dependency for its benches, examples and tests without
//! a dependency cycle, and `nn-bench`, `tests/no-std` and `examples/embed` use it as a path
//! dependency. The layer names are part of each declaration: they name the fields of the struct
//! and the tensors of its weight files (`fc1.weight`, ...; `examples/embed/m1.safetensors` holds
//! M1's).
//!
//! The shape annotations (`-> [..]`) are the shapes `MODELS.md` states; `network!` checks them at
//! compile time. `tests/reference_models.rs` checks the parameter and MAC counts and the layer
//! names written here.
//!
//! Besides the models, [`bench`](mod@bench) holds what `benches/models.rs` and `nn-bench` must
//! agree on to measure the same thing: seeds, batch sizes, labels, learning rate and the input
//! generator.
#![no_std]
#![deny(missing_docs)]

/// M1, the hls4ml jet-tagging MLP (`shared/MODELS.md`): 16 high-level jet features, 5 classes,
/// 16 -> Dense 64 ReLU -> Dense 32 ReLU -> Dense 32 ReLU -> Dense 5 -> Softmax. 4,256 MACs,
/// 4,389 parameters. Layers `fc1`, `fc2`, `fc3`, `output`.
///
/// ```text
/// nn_models::m1! {
///     /// M1 with trained weights.
///     #[weights = "m1.safetensors"]
///     pub struct JetTagger
/// }
/// assert_eq!((JetTagger::MACS, JetTagger::PARAMS), (4_256, 4_389));
/// ```
#[macro_export]
macro_rules! m1 {
    ($(#[$($attr:tt)*])* $vis:vis struct $name:ident $(;)?) => {
        ::nn::network! {
            /// M1, the hls4ml jet-tagging MLP of `shared/MODELS.md`: 16 jet features ->
            /// 64 -> 32 -> 32 -> 5 classes, ReLU, softmax (declared by `nn_models::m1!`).
            $(#[$($attr)*])*
            $vis struct $name {
                input: [16],
                fc1: Dense(64), ReLU,
                fc2: Dense(32), ReLU,
                fc3: Dense(32), ReLU,
                output: Dense(5) -> [5],
                Softmax,
            }
        }
    };
}

/// M2, the digits CNN (`shared/MODELS.md`): 1x8x8 -> Conv2d 3x3, 8 filters, pad 1, ReLU ->
/// MaxPool 2x2 -> Conv2d 3x3, 16 filters, pad 1, ReLU -> MaxPool 2x2 -> Flatten (64) -> Dense 10
/// -> Softmax. 23,680 MACs, 1,898 parameters. Layers `conv1`, `conv2`, `fc`.
///
/// ```text
/// nn_models::m2! { pub struct DigitsCnn }
/// assert_eq!((DigitsCnn::MACS, DigitsCnn::PARAMS), (23_680, 1_898));
/// ```
#[macro_export]
macro_rules! m2 {
    ($(#[$($attr:tt)*])* $vis:vis struct $name:ident $(;)?) => {
        ::nn::network! {
            /// M2, the digits CNN of `shared/MODELS.md`: two 3x3 convolutions (8 and 16
            /// filters, padding 1) with ReLU and 2x2 max pooling, then Dense 10 and softmax
            /// (declared by `nn_models::m2!`).
            $(#[$($attr)*])*
            $vis struct $name {
                input: [1, 8, 8],
                conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
                MaxPool2d(2) -> [8, 4, 4],
                conv2: Conv2d(16, kernel = 3, padding = 1), ReLU,
                MaxPool2d(2) -> [16, 2, 2],
                Flatten -> [64],
                fc: Dense(10),
                Softmax,
            }
        }
    };
}

/// M3, LeNet-5 style (`shared/MODELS.md`): 1x28x28 -> Conv2d 5x5, 6 filters, ReLU -> MaxPool 2
/// -> Conv2d 5x5, 16 filters, ReLU -> MaxPool 2 -> Flatten (256) -> Dense 120 ReLU -> Dense 84
/// ReLU -> Dense 10 -> Softmax. 281,640 MACs, 44,426 parameters. Layers `conv1`, `conv2`,
/// `fc1`, `fc2`, `fc3`.
///
/// ```text
/// nn_models::m3! { pub struct LeNet }
/// assert_eq!((LeNet::MACS, LeNet::PARAMS), (281_640, 44_426));
/// ```
#[macro_export]
macro_rules! m3 {
    ($(#[$($attr:tt)*])* $vis:vis struct $name:ident $(;)?) => {
        ::nn::network! {
            /// M3, LeNet-5 style, of `shared/MODELS.md`: two 5x5 convolutions (6 and 16
            /// filters) with ReLU and 2x2 max pooling, then Dense 120, 84, 10 and softmax
            /// (declared by `nn_models::m3!`).
            $(#[$($attr)*])*
            $vis struct $name {
                input: [1, 28, 28],
                conv1: Conv2d(6, kernel = 5), ReLU,
                MaxPool2d(2) -> [6, 12, 12],
                conv2: Conv2d(16, kernel = 5), ReLU,
                MaxPool2d(2) -> [16, 4, 4],
                Flatten -> [256],
                fc1: Dense(120), ReLU,
                fc2: Dense(84), ReLU,
                fc3: Dense(10),
                Softmax,
            }
        }
    };
}

/// M4, the MNIST-1D CNN (`shared/MODELS.md`): 1x40 -> Conv1d k5, 32 filters, pad 2, ReLU ->
/// Conv1d k3, 32, stride 2, pad 1, ReLU -> Conv1d k3, 32, stride 2, pad 1, ReLU -> Flatten
/// (320) -> Dense 10 -> Softmax. 101,760 MACs, 9,610 parameters. Layers `conv1`, `conv2`,
/// `conv3`, `fc`.
///
/// ```text
/// nn_models::m4! { pub struct Mnist1dCnn }
/// assert_eq!((Mnist1dCnn::MACS, Mnist1dCnn::PARAMS), (101_760, 9_610));
/// ```
#[macro_export]
macro_rules! m4 {
    ($(#[$($attr:tt)*])* $vis:vis struct $name:ident $(;)?) => {
        ::nn::network! {
            /// M4, the MNIST-1D CNN of `shared/MODELS.md`: three 1-D convolutions of 32
            /// filters (the last two with stride 2) with ReLU, then Dense 10 and softmax
            /// (declared by `nn_models::m4!`).
            $(#[$($attr)*])*
            $vis struct $name {
                input: [1, 40],
                conv1: Conv1d(32, kernel = 5, padding = 2), ReLU,
                conv2: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU,
                conv3: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU -> [32, 10],
                Flatten -> [320],
                fc: Dense(10),
                Softmax,
            }
        }
    };
}

/// The measures of `shared/MODELS.md` as `benches/models.rs` (criterion) and `nn-bench` (against
/// the peers) both run them: the same seeds, inputs, batch sizes, labels and learning rate, so
/// that their figures compare.
///
/// - (a) batch-1 latency: the network and its input from [`SEED`](bench::SEED);
/// - (b) batch-256 throughput: [`THROUGHPUT_BATCH`](bench::THROUGHPUT_BATCH) inputs from
///   [`THROUGHPUT_SEED`](bench::THROUGHPUT_SEED);
/// - (c) one training step: a batch of [`TRAIN_BATCH`](bench::TRAIN_BATCH) inputs from
///   [`TRAIN_SEED`](bench::TRAIN_SEED), softmax cross-entropy against the rotating
///   [`label`](bench::label)s, SGD with learning rate [`LR`](bench::LR).
pub mod bench {
    /// Seed of the networks and of the batch-1 latency input (a).
    pub const SEED: u64 = 42;
    /// Seed of the batch-256 throughput inputs (b).
    pub const THROUGHPUT_SEED: u64 = SEED + 1;
    /// Seed of the training batch (c).
    pub const TRAIN_SEED: u64 = SEED + 2;
    /// The batch of the throughput measure (b).
    pub const THROUGHPUT_BATCH: usize = 256;
    /// The batch of the training step (c).
    pub const TRAIN_BATCH: usize = 32;
    /// The SGD learning rate of the training step (c).
    pub const LR: f64 = 0.01;

    /// The label of sample `i` of the training batch at step `step`: `(i + step) % classes`.
    /// The labels rotate every step, so no implementation can memorize the fixed batch: the
    /// loss stays near ln(classes), the gradients stay ordinary and the step time stationary
    /// (with fixed labels the gradients shrink by orders of magnitude and the step time
    /// drifts: 61 -> 89 us over 300k steps in a test on M1).
    pub const fn label(i: usize, step: usize, classes: usize) -> usize {
        (i + step) % classes
    }

    /// The benchmark inputs: an endless stream of deterministic values in [-2, 2) from a 64-bit
    /// LCG (Knuth's MMIX constants), the top 24 bits of each state scaled. Both harnesses cut
    /// their input batches from it (consecutive runs of one stream per seed). The values only
    /// need to be ordinary floats.
    ///
    /// ```text
    /// use nn_models::bench::{Inputs, SEED};
    /// let first: Vec<f32> = Inputs::new(SEED).take(16).collect();
    /// ```
    #[derive(Clone, Debug)]
    pub struct Inputs {
        state: u64,
    }

    impl Inputs {
        const MUL: u64 = 6364136223846793005;
        const INC: u64 = 1442695040888963407;

        /// The stream for `seed`.
        pub const fn new(seed: u64) -> Self {
            Inputs {
                state: seed.wrapping_mul(Self::MUL).wrapping_add(Self::INC),
            }
        }
    }

    impl Iterator for Inputs {
        type Item = f32;

        fn next(&mut self) -> Option<f32> {
            self.state = self.state.wrapping_mul(Self::MUL).wrapping_add(Self::INC);
            Some(((self.state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0)
        }
    }
}
