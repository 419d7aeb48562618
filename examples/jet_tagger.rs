//! M1, the hls4ml jet tagger of the lecture's Keras hands-on (16 high-level jet features, 5
//! classes: gluon, light quark, W, Z, top), declared with `network!`; prints its summary and
//! times batch-1 inference.
//!
//! Run: `cargo run --release --example jet_tagger`. The last line is the median latency.
//! The jet data set itself is not shipped (it lives on OpenML/Zenodo and nothing may download
//! at run time), so the weights here are freshly initialized: latency does not depend on them.

use std::hint::black_box;
use std::time::Instant;

use nn::prelude::*;

nn::network! {
    /// The hls4ml jet-tagging MLP: 16 -> 64 -> 32 -> 32 -> 5, ReLU, softmax.
    pub struct JetTagger {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        output: Dense(5),
        Softmax,
    }
}

fn main() -> Result<(), nn::Error> {
    print!("{}", JetTagger::SUMMARY);
    println!(
        "parameters: {}, MACs per sample: {}",
        JetTagger::PARAMS,
        JetTagger::MACS
    );

    let net = JetTagger::new(2023);
    // 1024 different inputs, each built from a slice the way a caller would.
    let mut rng = nn::Rng::new(1);
    let inputs: Vec<f32> = (0..1024 * 16).map(|_| rng.normal()).collect();
    let first = Input::<JetTagger>::try_from(&inputs[..16])?;
    println!(
        "class probabilities for the first input: {:?}",
        net.forward(&first).as_slice()
    );

    // Median over 201 runs of 1024 samples each.
    let mut per_sample = Vec::new();
    let mut sink = 0.0f32;
    for _ in 0..201 {
        let start = Instant::now();
        for chunk in inputs.chunks_exact(16) {
            let x = Input::<JetTagger>::try_from(black_box(chunk))?;
            let y = net.forward(black_box(&x));
            sink += black_box(y)[0];
        }
        per_sample.push(start.elapsed().as_nanos() as f64 / 1024.0);
    }
    black_box(sink);
    per_sample.sort_by(f64::total_cmp);
    println!(
        "min {:.1} ns, max {:.1} ns over {} runs of 1024 samples",
        per_sample[0],
        per_sample[per_sample.len() - 1],
        per_sample.len()
    );
    println!(
        "batch-1 latency: {:.1} ns/sample",
        per_sample[per_sample.len() / 2]
    );
    Ok(())
}
