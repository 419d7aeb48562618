//! M4, a 1-D CNN, on MNIST-1D (Greydanus 2020): 40-sample signals of the digits 0-9.
//!
//! Run: `cargo run --release --example mnist1d`. Canonical split: rows 1-4000 train, 4001-5000
//! test; 10% of the training rows (stratified, seed 1) are held out for validation. The CNN of
//! the MNIST-1D paper reaches 94%. Writes `mnist1d_curves.png`.

mod common;

use nn::prelude::*;

nn_models::m4! {
    /// The MNIST-1D CNN (M4, whose layers `nn_models::m4!` declares).
    pub struct Mnist1dCnn
}

const SEED: u64 = 1;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Dataset::<Input<Mnist1dCnn>, usize>::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/mnist1d.csv"
    ))?;
    let (train, test) = data.split_at(4000);
    let (fit, val) = train.stratified_split(0.1, SEED)?;
    println!(
        "MNIST-1D: {} train, {} validation, {} test signals (canonical split)",
        fit.len(),
        val.len(),
        test.len()
    );
    print!("{}", Mnist1dCnn::SUMMARY);

    let mut net = Mnist1dCnn::new(SEED);
    // Adam (lr 1e-2, as the MNIST-1D reference) with L2 weight decay; the best validation
    // epoch is kept.
    let history = Trainer::new(Adam::new(1e-2).weight_decay(1e-3), CrossEntropy)
        .batch_size::<32>()
        .epochs(60)
        .patience(30)
        .seed(SEED)
        .fit(&mut net, &fit, Some(&val))?;
    println!(
        "trained {} epochs, best epoch {:?}",
        history.epochs.len(),
        history.best_epoch
    );

    common::plot_history("mnist1d_curves.png", "MNIST-1D CNN (M4)", &history)?;
    println!("wrote mnist1d_curves.png");

    let m = evaluate(&net, &CrossEntropy, &test)?;
    println!("test loss: {:.4}", m.loss);
    println!("test accuracy: {:.4}", m.accuracy.unwrap_or(0.0));
    Ok(())
}
