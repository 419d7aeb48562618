//! M2, a small CNN, on the scikit-learn digits (1,797 8x8 images of handwritten digits).
//!
//! Run: `cargo run --release --example digits`. Stratified 80/20 split with seed 42, inputs scaled
//! by 1/16. Writes `digits_curves.png` (loss and accuracy per epoch) and `digits_filters.png`
//! (the first layer's learned 3x3 filters: the lecture's "what does a CNN learn").

mod common;

use nn::prelude::*;
use plotters::prelude::*;

nn_models::m2! {
    /// Digit classifier for 8x8 images (M2, whose layers `nn_models::m2!` declares).
    pub struct DigitsCnn
}

const SEED: u64 = 42;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut data = Dataset::<Input<DigitsCnn>, usize>::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/digits.csv"
    ))?;
    for x in &mut data.x {
        x.as_mut_slice().iter_mut().for_each(|v| *v /= 16.0);
    }
    let (train, test) = data.stratified_split(0.2, SEED)?;
    // 5% of the training split is held out for validation (early stopping, curves).
    let (fit, val) = train.stratified_split(0.05, SEED + 1)?;
    println!(
        "digits: {} train, {} validation, {} test images (stratified, seed {SEED})",
        fit.len(),
        val.len(),
        test.len()
    );
    print!("{}", DigitsCnn::SUMMARY);

    // SGD with momentum and L2 weight decay; the best validation epoch is kept.
    let mut net = DigitsCnn::new(SEED);
    let history = Trainer::new(
        Sgd::new(0.01).momentum(0.9).weight_decay(1e-3),
        CrossEntropy,
    )
    .batch_size::<32>()
    .epochs(80)
    .patience(20)
    .seed(SEED)
    .fit(&mut net, &fit, Some(&val))?;
    println!(
        "trained {} epochs, best epoch {:?}",
        history.epochs.len(),
        history.best_epoch
    );

    common::plot_history("digits_curves.png", "Digits CNN (M2)", &history)?;
    plot_filters(&net, "digits_filters.png")?;
    println!("wrote digits_curves.png and digits_filters.png");

    let m = evaluate(&net, &CrossEntropy, &test)?;
    println!("test loss: {:.4}", m.loss);
    println!("test accuracy: {:.4}", m.accuracy.unwrap_or(0.0));
    Ok(())
}

/// The eight 3x3 filters of `conv1`, blue negative, red positive.
fn plot_filters(net: &DigitsCnn, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    common::register_font();
    let root = BitMapBackend::new(path, (840, 150)).into_drawing_area();
    root.fill(&WHITE).map_err(common::plot_err)?;
    let (title, body) = root.split_vertically(30);
    title
        .titled(
            "conv1: learned 3x3 filters (red +, blue -)",
            ("sans-serif", 18),
        )
        .map_err(common::plot_err)?;
    let panels = body.split_evenly((1, 8));
    let w = net.conv1.weights(); // [ky][kx][in][out], in = 1
    let max = w.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (f, panel) in panels.iter().enumerate() {
        let (pw, ph) = panel.dim_in_pixel();
        let cell = (pw.min(ph) as i32 - 10) / 3;
        for ky in 0..3 {
            for kx in 0..3 {
                let v = w[(ky * 3 + kx) * 8 + f] / max;
                let c = if v >= 0.0 {
                    RGBColor(255, (255.0 * (1.0 - v)) as u8, (255.0 * (1.0 - v)) as u8)
                } else {
                    RGBColor((255.0 * (1.0 + v)) as u8, (255.0 * (1.0 + v)) as u8, 255)
                };
                let (x0, y0) = (5 + kx as i32 * cell, 5 + ky as i32 * cell);
                panel
                    .draw(&Rectangle::new(
                        [(x0, y0), (x0 + cell, y0 + cell)],
                        c.filled(),
                    ))
                    .map_err(common::plot_err)?;
            }
        }
    }
    root.present().map_err(common::plot_err)?;
    Ok(())
}
