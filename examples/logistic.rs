//! Logistic regression on the Wisconsin breast-cancer data: one Dense unit and a sigmoid,
//! trained with binary cross-entropy (the lecture's first model).
//!
//! Run: `cargo run --release --example logistic`

use nn::prelude::*;

nn::network! {
    /// p(benign | x) = sigmoid(w . x + b) over 30 measurements.
    pub struct Logistic {
        input: [30],
        linear: Dense(1),
        Sigmoid,
    }
}

const SEED: u64 = 42;

fn main() -> Result<(), nn::Error> {
    let data = Dataset::<Input<Logistic>, usize>::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/breast_cancer.csv"
    ))?;
    // Stratified 80/20 split (seed 42); standardization fitted on the training split only.
    let (mut train, mut test) = data.stratified_split(0.2, SEED)?;
    let scaler = Standardizer::fit(&train)?;
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    // A validation split from the training data drives early stopping.
    let (train, val) = train.stratified_split(0.15, SEED + 1)?;
    println!(
        "breast cancer: {} train, {} validation, {} test samples, {} features",
        train.len(),
        val.len(),
        test.len(),
        Logistic::INPUT_LEN
    );
    print!("{}", Logistic::SUMMARY);

    let mut net = Logistic::new(SEED);
    let history = Trainer::new(Sgd::new(0.1), BinaryCrossEntropy)
        .batch_size::<16>()
        .epochs(200)
        .patience(20)
        .seed(SEED)
        .fit(&mut net, &train, Some(&val))?;
    let last = history.last().expect("at least one epoch");
    println!(
        "trained {} epochs (best epoch {:?}); final train loss {:.4}, validation {:?}",
        history.epochs.len(),
        history.best_epoch,
        last.train_loss,
        last.validation
    );
    let m = evaluate(&net, &BinaryCrossEntropy, &test)?;
    println!("test loss: {:.4}", m.loss);
    println!("test accuracy: {:.4}", m.accuracy.unwrap_or(0.0));
    Ok(())
}
