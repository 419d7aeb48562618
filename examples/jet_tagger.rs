//! M1, the hls4ml jet tagger of the lecture's Keras hands-on (16 high-level jet features, 5
//! classes: gluon, light quark, W, Z, top), declared once for the whole project by
//! `nn_models::m1!` (which expands to `network!`); prints its summary and times batch-1
//! inference.
//!
//! Run: `cargo run --release --example jet_tagger`. The last line is the median latency.
//! The jet data set itself is not shipped (it lives on OpenML/Zenodo and nothing may download
//! at run time). So that the weights mean something, the network is trained on a real task of
//! the same shape: the scikit-learn digits 0-4 (5 classes), each 8x8 image average-pooled to
//! 4x4 = 16 features. The trained weights are written to `examples/embed/m1.safetensors`
//! (PyTorch names and layouts), which the `embed` crate bakes in at compile time.

use std::hint::black_box;
use std::time::Instant;

use nn::prelude::*;

nn_models::m1! {
    /// The hls4ml jet-tagging MLP (M1, whose layers `nn_models::m1!` declares; their names
    /// are the tensor names of `m1.safetensors`).
    pub struct JetTagger
}

fn main() -> Result<(), nn::Error> {
    print!("{}", JetTagger::SUMMARY);
    println!(
        "parameters: {}, MACs per sample: {}",
        JetTagger::PARAMS,
        JetTagger::MACS
    );

    // Train on 16-feature, 5-class real data (see the module docs).
    let digits = Dataset::<Tensor<Shape1<nn::typenum::U64>>, usize>::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/digits.csv"
    ))?;
    let mut data: Dataset<Input<JetTagger>, usize> = Dataset::default();
    for (x, &y) in digits.iter().filter(|(_, &y)| y < 5) {
        data.x.push(Input::<JetTagger>::from_fn(|k| {
            let (r, c) = (k / 4, k % 4);
            let px = |dr: usize, dc: usize| x[(2 * r + dr) * 8 + 2 * c + dc];
            (px(0, 0) + px(0, 1) + px(1, 0) + px(1, 1)) / 64.0
        }));
        data.y.push(y);
    }
    let (train, test) = data.stratified_split(0.2, 7)?;
    let mut net = JetTagger::new(2023);
    Trainer::new(Adam::new(3e-3), CrossEntropy)
        .epochs(60)
        .seed(7)
        .progress(false)
        .fit(&mut net, &train, None)?;
    println!(
        "trained on digits 0-4 pooled to 16 features: test accuracy {:.4} ({} test samples)",
        evaluate(&net, &CrossEntropy, &test)?
            .accuracy
            .unwrap_or(0.0),
        test.len()
    );
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed/m1.safetensors");
    net.save_safetensors(out)?;
    println!("wrote {out}");
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
