//! Regression on scikit-learn's diabetes data: a linear model against a small MLP, both
//! trained with MSE and early stopping, scored by R² in the target's own units.
//!
//! `data/diabetes.csv` (see `data/DIABETES.md`): 442 patients, ten baseline variables (age,
//! sex, BMI, blood pressure, six blood serum measurements), then a measure of disease
//! progression one year later (25 to 346). The example shows the regression workflow:
//!
//! - `Dataset::from_csv` with a tensor target (`Output<Net>`) reads float targets;
//! - one seeded, shuffled 80/20 split (`Dataset::split`);
//! - `Standardizer::fit` / `fit_targets` on the training split only, applied to both splits;
//! - `Trainer` with `validation_fraction` (20% of the training split held out for early
//!   stopping, whose best weights are restored) and a `ReduceOnPlateau` learning rate;
//! - `forward_all` on the test inputs, `inverse_transform` back to the target's units, and
//!   R² = 1 - SS_res / SS_tot and the RMSE against the unscaled test targets.
//!
//! The models: linear regression `[10] -> Dense(1)`, and an MLP `[10] -> Dense(64) ReLU ->
//! Dense(1)` with L2 weight decay. The data are small, noisy and nearly linear, so the MLP
//! gains little, and one 88-row test set is noisy: the linear model's test R² ranges from
//! about 0.2 to 0.57 over seeded splits. The example therefore also prints the mean R² over 20
//! more seeded splits (seeds 100-119, not used to tune the MLP). On 150 seeded splits (50 used
//! to tune the MLP, 100 held out) the MLP, with these settings, matched or beat the linear
//! model on about 70% of them, by +0.01 R² on average; on the others the linear model wins
//! (with seed 42, 0.527 against 0.509). Seed 13 was picked as a split with a typical gap.
//! For scale, scikit-learn 1.5.2's closed-form `LinearRegression` on the same splits (indices
//! from `Dataset::split_indices`): test R² 0.405 on seed 13 and 0.472 on average over seeds
//! 100-119 (the linear network here, stopped early, 0.449 and 0.464; the MLP 0.462 and 0.473).
//!
//! Run: `cargo run --release --example diabetes`

use nn::prelude::*;
use nn::typenum::{U1, U10};

nn::network! {
    /// Linear regression, y = w . x + b, over the ten baseline variables.
    pub struct DiabetesLinear {
        input: [10],
        out: Dense(1),
    }
}

nn::network! {
    /// One hidden layer of 64 ReLU units.
    pub struct DiabetesMlp {
        input: [10],
        hidden: Dense(64), ReLU,
        out: Dense(1),
    }
}

/// Ten baseline variables (standardized for training).
type Features = Input<DiabetesLinear>;
/// Disease progression after one year (standardized for training).
type Target = Output<DiabetesLinear>;
type Data = Dataset<Features, Target>;

/// Seeds the split, the initial weights, the validation hold-out and the shuffling.
const SEED: u64 = 13;
/// Fraction of the data held out as the test set.
const TEST_FRACTION: f32 = 0.2;
/// Fraction of the training split held out for early stopping.
const VALIDATION_FRACTION: f32 = 0.2;
/// Test rows printed next to their predictions.
const SHOWN: usize = 6;

/// How one network is trained (Adam, MSE, batch 32).
#[derive(Debug, Clone, Copy)]
struct Config {
    lr: f32,
    weight_decay: f32,
    epochs: usize,
    /// Early stopping: epochs without a better validation loss before training stops.
    patience: usize,
}

const LINEAR: Config = Config {
    lr: 1e-2,
    weight_decay: 0.0,
    epochs: 1000,
    patience: 50,
};

/// Tuned on other splits: a wide hidden layer with strong L2 stays close to linear where the
/// data give no reason not to.
const MLP: Config = Config {
    lr: 3e-3,
    weight_decay: 0.15,
    epochs: 1000,
    patience: 50,
};

/// A trained network's test figures.
struct Scored {
    /// Predictions on the test set, in the target's units.
    predictions: Vec<f32>,
    r2: f64,
    /// Root mean squared error in the target's units.
    rmse: f64,
    /// Test MSE on the standardized target (the loss the network was trained on).
    scaled_mse: f32,
    best_epoch: Option<usize>,
    epochs_run: usize,
}

/// Trains `net` on the standardized `train` split (holding out part of it for early stopping),
/// then scores it on the standardized `test` split against `truth`, the unscaled test targets.
fn train_and_score<N>(
    mut net: N,
    config: Config,
    train: &Data,
    test: &Data,
    target_scaler: &Standardizer<Shape1<U1>>,
    truth: &[f32],
) -> Result<Scored, nn::Error>
where
    N: Trainable<InputShape = Shape1<U10>, OutputShape = Shape1<U1>>,
{
    let history = Trainer::new(Adam::new(config.lr).weight_decay(config.weight_decay), Mse)
        .batch_size::<32>()
        .epochs(config.epochs)
        .validation_fraction(VALIDATION_FRACTION)
        .patience(config.patience)
        .schedule(Schedule::ReduceOnPlateau {
            factor: 0.5,
            patience: 10,
            min: 1e-5,
        })
        .seed(SEED)
        .progress(false)
        .fit(&mut net, train, None)?;
    let scaled_mse = evaluate(&net, &Mse, test)?.loss;
    // Predictions on the standardized scale, then back to the target's units.
    let mut outputs = net.forward_all(&test.x);
    target_scaler.inverse_transform(&mut outputs);
    let predictions: Vec<f32> = outputs.iter().map(|y| y[0]).collect();
    Ok(Scored {
        r2: r2(&predictions, truth),
        rmse: rmse(&predictions, truth),
        predictions,
        scaled_mse,
        best_epoch: history.best_epoch,
        epochs_run: history.epochs.len(),
    })
}

/// Coefficient of determination, 1 - SS_res / SS_tot, with SS_tot taken about the mean of
/// `truth` (scikit-learn `r2_score`). Accumulated in f64.
fn r2(predictions: &[f32], truth: &[f32]) -> f64 {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().map(|&t| t as f64).sum::<f64>() / n;
    let ss_res: f64 = predictions
        .iter()
        .zip(truth)
        .map(|(&p, &t)| (t as f64 - p as f64).powi(2))
        .sum();
    let ss_tot: f64 = truth.iter().map(|&t| (t as f64 - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

/// Root mean squared error.
fn rmse(predictions: &[f32], truth: &[f32]) -> f64 {
    let ss: f64 = predictions
        .iter()
        .zip(truth)
        .map(|(&p, &t)| (t as f64 - p as f64).powi(2))
        .sum();
    (ss / truth.len().max(1) as f64).sqrt()
}

/// Test R² of the linear model and the MLP on the split made with `seed`; prints the details
/// when `verbose`.
fn compare(data: &Data, seed: u64, verbose: bool) -> Result<(f64, f64), nn::Error> {
    let (mut train, mut test) = data.split(TEST_FRACTION, seed)?;
    // The test targets in their original units, kept before standardizing.
    let truth: Vec<f32> = test.y.iter().map(|y| y[0]).collect();
    let inputs = Standardizer::fit(&train)?;
    let targets = Standardizer::fit_targets(&train)?;
    for part in [&mut train, &mut test] {
        inputs.transform(part);
        targets.transform_targets(part);
    }
    let linear = train_and_score(
        DiabetesLinear::new(seed),
        LINEAR,
        &train,
        &test,
        &targets,
        &truth,
    )?;
    let mlp = train_and_score(DiabetesMlp::new(seed), MLP, &train, &test, &targets, &truth)?;
    if !verbose {
        return Ok((linear.r2, mlp.r2));
    }
    println!(
        "diabetes: {} rows, {} features; shuffled 80/20 split (seed {seed}): {} train \
         ({:.0}% of it held out for early stopping), {} test",
        data.len(),
        DiabetesLinear::INPUT_LEN,
        train.len(),
        VALIDATION_FRACTION * 100.0,
        test.len()
    );
    println!(
        "inputs and target standardized with training statistics (target mean {:.1}, std {:.1})",
        targets.mean[0], targets.std[0]
    );
    println!(
        "model                 params  Adam lr  L2     best epoch   test MSE (scaled)   RMSE     R²"
    );
    for (name, params, config, s) in [
        ("linear 10-1", DiabetesLinear::PARAMS, LINEAR, &linear),
        ("MLP 10-64-1 ReLU", DiabetesMlp::PARAMS, MLP, &mlp),
    ] {
        let best = s
            .best_epoch
            .map_or_else(|| String::from("-"), |e| e.to_string());
        println!(
            "{name:<20}  {params:>6}  {:>7}  {:<5}  {:>4} of {:<3}  {:>17.4}  {:>5.1}  {:>5.3}",
            config.lr, config.weight_decay, best, s.epochs_run, s.scaled_mse, s.rmse, s.r2
        );
    }
    println!("first {SHOWN} test rows (target units):");
    println!("   true  linear     MLP");
    for ((t, l), m) in truth
        .iter()
        .zip(&linear.predictions)
        .zip(&mlp.predictions)
        .take(SHOWN)
    {
        println!("  {t:>5.0}  {l:>6.1}  {m:>6.1}");
    }
    Ok((linear.r2, mlp.r2))
}

/// Splits beyond the main one, for the mean R² (seeds 100 and up were not used for tuning).
const MORE_SPLITS: u64 = 20;

fn main() -> Result<(), nn::Error> {
    let data = Data::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/diabetes.csv"))?;
    let (linear, mlp) = compare(&data, SEED, true)?;
    // One 88-row test set is noisy: the mean over more seeded splits says more.
    let (mut sum_linear, mut sum_mlp, mut wins) = (0.0, 0.0, 0);
    for seed in 100..100 + MORE_SPLITS {
        let (l, m) = compare(&data, seed, false)?;
        sum_linear += l;
        sum_mlp += m;
        wins += (m >= l) as usize;
    }
    let n = MORE_SPLITS as f64;
    println!(
        "over {MORE_SPLITS} more splits (seeds 100-{}): mean test R² linear {:.3}, MLP {:.3}; \
         the MLP matches or beats the linear model on {wins} of {MORE_SPLITS}",
        100 + MORE_SPLITS - 1,
        sum_linear / n,
        sum_mlp / n
    );
    println!("test R²: linear {linear:.3}, MLP {mlp:.3}");
    Ok(())
}
