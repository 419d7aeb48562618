//! A `#![no_std]`, allocation-free library embedding M1 (the jet-tagger MLP) with weights baked
//! in at compile time from `m1.safetensors` (written by `cargo run --release --example
//! jet_tagger`, which trains M1 on a 16-feature, 5-class real task). The weights live in
//! `static` arrays (flash on a microcontroller); `classify` runs inference on the stack.
#![no_std]

nn_models::m1! {
    /// M1 with trained weights.
    #[weights = "m1.safetensors"]
    pub struct JetTagger
}

/// The predicted class (0-4) and its probability.
pub fn classify(net: &JetTagger, features: &[f32; 16]) -> (usize, f32) {
    let p = net.forward(features);
    let c = p.argmax();
    (c, p[c])
}
