//! A `#![no_std]` crate without `alloc` that declares networks with `nn::network!` and runs
//! inference. If anything in nn's inference path or in the generated code needed `std` or an
//! allocator, this crate would not build.
#![no_std]

nn::network! {
    /// M1, the jet tagger.
    pub struct JetTagger {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        out: Dense(5),
        Softmax,
    }
}

nn::network! {
    /// A small CNN with batch norm, a residual block and dropout (identity at inference).
    pub struct SmallCnn {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), bn1: BatchNorm2d, ReLU,
        block: Residual { conv2: Conv2d(8, kernel = 3, padding = 1), ReLU }, MaxPool2d(2),
        Flatten, Dropout(0.2), fc: Dense(10), Softmax,
    }
}

/// Class probabilities of one jet; no heap, no std.
pub fn classify(features: &[f32; 16], net: &JetTagger) -> usize {
    net.forward(features).argmax()
}

/// Class of one 8x8 image.
pub fn classify_image(pixels: &[f32; 64], net: &SmallCnn) -> usize {
    net.forward(pixels).argmax()
}

/// Builds the networks (weights inline: no allocator here).
pub fn networks(seed: u64) -> (JetTagger, SmallCnn) {
    (JetTagger::new(seed), SmallCnn::new(seed))
}
