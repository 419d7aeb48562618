//! The universal approximation theorem and regression with mean squared error.
//!
//! (a) One hidden sigmoid layer of 1, 2, 4, 8 and 32 units fits f(x) = sin(3x) + 0.3 x^2 on
//! [-2, 2] (MSE, Adam): the test error on a held-out grid falls as the layer widens. Writes
//! `universal_fit.png` (one panel per width, and the test MSE against the width).
//!
//! (b) A real regression: scikit-learn's diabetes data (`data/diabetes.csv`, see
//! `data/DIABETES.md`), 10 baseline variables -> disease progression after one year. An MLP
//! (10-32-1, ReLU; its L2 strength picked on a validation split) against a linear model (10-1),
//! both trained with MSE and early stopping on a seeded 80/20 split, with the closed-form
//! least-squares fit as a check on the linear one; then 20 more seeded splits, because one test
//! set of 88 rows is noisy. Writes `universal_regression.png` (predicted against true, test set).
//!
//! Run: `cargo run --release --example universal`.

mod common;

use std::error::Error;
use std::time::Instant;

use nn::prelude::*;
use nn::typenum::U1;
use plotters::prelude::*;

/// One scalar: the input of the 1-D networks and the target of every regression here.
type Scalar = Tensor<Shape1<U1>>;

nn::network! {
    /// One sigmoid unit.
    pub struct Sigmoid1 { input: [1], hidden: Dense(1), Sigmoid, out: Dense(1) }
}
nn::network! {
    /// Two sigmoid units.
    pub struct Sigmoid2 { input: [1], hidden: Dense(2), Sigmoid, out: Dense(1) }
}
nn::network! {
    /// Four sigmoid units.
    pub struct Sigmoid4 { input: [1], hidden: Dense(4), Sigmoid, out: Dense(1) }
}
nn::network! {
    /// Eight sigmoid units.
    pub struct Sigmoid8 { input: [1], hidden: Dense(8), Sigmoid, out: Dense(1) }
}
nn::network! {
    /// Thirty-two sigmoid units.
    pub struct Sigmoid32 { input: [1], hidden: Dense(32), Sigmoid, out: Dense(1) }
}

nn::network! {
    /// Diabetes: one hidden ReLU layer of 32 units.
    pub struct DiabetesMlp { input: [10], hidden: Dense(32), ReLU, out: Dense(1) }
}
nn::network! {
    /// Diabetes: linear regression, y = w . x + b.
    pub struct DiabetesLinear { input: [10], out: Dense(1) }
}

const SEED: u64 = 42;
/// The interval the function is fitted on.
const X_MIN: f32 = -2.0;
const X_MAX: f32 = 2.0;
/// Training points, drawn uniformly at random on [X_MIN, X_MAX].
const N_TRAIN: usize = 512;
/// Test points: an evenly spaced grid (held out: none of them is a training point).
const N_TEST: usize = 801;
/// Extra seeded diabetes splits, to see how much one 88-row test set varies.
const REPEATS: u64 = 20;
/// Extra initialization seeds for the 1-D fits (the plotted fits use `SEED`).
const INIT_SEEDS: u64 = 4;
/// L2 strengths tried for the diabetes MLP; the validation split picks one.
const WEIGHT_DECAYS: [f32; 4] = [1e-3, 1e-2, 3e-2, 1e-1];

/// The function to approximate.
fn target(x: f32) -> f32 {
    (3.0 * x).sin() + 0.3 * x * x
}

/// Result of fitting one width.
struct CurveFit {
    units: usize,
    params: usize,
    train_mse: f32,
    test_mse: f32,
    /// The network's output on the test grid.
    prediction: Vec<f32>,
    seconds: f32,
}

/// Trains a 1-D network with MSE and Adam (learning rate 0.01, then 0.003, then 0.001).
fn fit_curve<N>(
    units: usize,
    seed: u64,
    train: &Dataset<Scalar, Scalar>,
    test: &Dataset<Scalar, Scalar>,
) -> Result<CurveFit, nn::Error>
where
    N: Trainable<InputShape = Shape1<U1>, OutputShape = Shape1<U1>>,
{
    let start = Instant::now();
    let mut net = N::new(seed);
    let mut trainer = Trainer::new(Adam::new(0.01), Mse)
        .batch_size::<32>()
        .epochs(1500)
        .seed(seed)
        .progress(false);
    trainer.fit(&mut net, train, None)?;
    for (lr, epochs) in [(0.003, 1000), (0.001, 1000)] {
        trainer.optimizer_mut().lr = lr;
        trainer = trainer.epochs(epochs);
        trainer.fit(&mut net, train, None)?;
    }
    Ok(CurveFit {
        units,
        params: N::PARAMS,
        train_mse: evaluate(&net, &Mse, train)?.loss,
        test_mse: evaluate(&net, &Mse, test)?.loss,
        prediction: test.x.iter().map(|x| net.forward(x)[0]).collect(),
        seconds: start.elapsed().as_secs_f32(),
    })
}

/// Fits every width from initialization `seed`.
fn fit_widths(
    seed: u64,
    train: &Dataset<Scalar, Scalar>,
    test: &Dataset<Scalar, Scalar>,
) -> Result<[CurveFit; 5], nn::Error> {
    Ok([
        fit_curve::<Sigmoid1>(1, seed, train, test)?,
        fit_curve::<Sigmoid2>(2, seed, train, test)?,
        fit_curve::<Sigmoid4>(4, seed, train, test)?,
        fit_curve::<Sigmoid8>(8, seed, train, test)?,
        fit_curve::<Sigmoid32>(32, seed, train, test)?,
    ])
}

/// An MSE for a title: fixed-point while it reads well, scientific below 0.001.
fn fmt_mse(v: f32) -> String {
    if v >= 1e-3 {
        format!("{v:.4}")
    } else {
        format!("{v:.1e}")
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();

    // ---- (a) universal approximation: one hidden sigmoid layer of growing width ----
    let mut rng = nn::Rng::new(SEED);
    let mut train = Dataset::<Scalar, Scalar>::default();
    for _ in 0..N_TRAIN {
        let x = X_MIN + (X_MAX - X_MIN) * rng.uniform();
        train.x.push([x].into());
        train.y.push([target(x)].into());
    }
    let mut test = Dataset::<Scalar, Scalar>::default();
    for i in 0..N_TEST {
        let x = X_MIN + (X_MAX - X_MIN) * i as f32 / (N_TEST - 1) as f32;
        test.x.push([x].into());
        test.y.push([target(x)].into());
    }
    println!(
        "(a) f(x) = sin(3x) + 0.3 x^2 on [{X_MIN}, {X_MAX}]: {N_TRAIN} random training points, \
         a held-out grid of {N_TEST} test points"
    );
    println!("    network: input [1] -> Dense(k) -> Sigmoid -> Dense(1); MSE, Adam, batch 32, 3500 epochs");
    let fits = fit_widths(SEED, &train, &test)?;
    // The same widths from other initializations: how much the result depends on the seed.
    let mut others: Vec<[CurveFit; 5]> = Vec::new();
    for seed in 1..=INIT_SEEDS {
        others.push(fit_widths(seed, &train, &test)?);
    }
    println!("    units  params  train MSE  test MSE  (seeds 1-{INIT_SEEDS}: min .. max)  time");
    for (i, f) in fits.iter().enumerate() {
        let (lo, hi) = others
            .iter()
            .map(|o| o[i].test_mse)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        println!(
            "    {:>5}  {:>6}  {:>9.6}  {:>9.6}  ({:.6} .. {:.6})  {:>4.2} s",
            f.units, f.params, f.train_mse, f.test_mse, lo, hi, f.seconds
        );
    }
    plot_fits(&test, &fits, "universal_fit.png")?;
    println!("    wrote universal_fit.png");

    // ---- (b) a real regression: diabetes progression ----
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/diabetes.csv");
    let data: Dataset<Input<DiabetesMlp>, Scalar> = load_regression_csv(path)?;
    let run = diabetes_run(&data, SEED)?;
    println!(
        "(b) diabetes (scikit-learn load_diabetes): {} rows, 10 features; seeded 80/20 split: {} \
         train ({} fit + {} validation for early stopping), {} test; features and target \
         standardized with training statistics (target mean {:.1}, std {:.1})",
        data.len(),
        run.n_train,
        run.n_fit,
        run.n_train - run.n_fit,
        run.truth.len(),
        run.y_mean,
        run.y_std
    );
    println!(
        "    linear 10-1 ({} params; Adam 0.01, batch 16, MSE): best epoch {} of {}",
        DiabetesLinear::PARAMS,
        run.lin_epochs.0,
        run.lin_epochs.1
    );
    println!(
        "    MLP 10-32-1 ReLU ({} params; Adam 0.003, batch 16, MSE; L2 {:e} picked from {:?} on \
         validation): best epoch {} of {}",
        DiabetesMlp::PARAMS,
        run.mlp_wd,
        WEIGHT_DECAYS,
        run.mlp_epochs.0,
        run.mlp_epochs.1
    );
    println!("    test set (seed {SEED}), original units of the target:");
    println!("      model                          test MSE   RMSE    R^2");
    let baseline = vec![run.y_mean; run.truth.len()];
    for (name, pred) in [
        ("predict the training mean", &baseline),
        ("least squares (closed form)", &run.ols),
        ("linear 10-1 (Adam, MSE)", &run.linear),
        ("MLP 10-32-1 (Adam, MSE)", &run.mlp),
    ] {
        let m = mse(pred, &run.truth);
        println!(
            "      {:<30} {:>8.1}  {:>5.1}  {:>6.3}",
            name,
            m,
            m.sqrt(),
            r_squared(pred, &run.truth)
        );
    }
    let (lin_mse, mlp_mse) = (mse(&run.linear, &run.truth), mse(&run.mlp, &run.truth));
    // One test set of 88 rows is noisy: repeat the whole procedure on other seeded splits.
    let mut per_split = [Vec::new(), Vec::new(), Vec::new()];
    let mut mlp_wins = 0;
    let mut picks = std::collections::BTreeMap::new();
    for seed in 0..REPEATS {
        let r = diabetes_run(&data, 1000 + seed)?;
        let m = [
            mse(&r.ols, &r.truth),
            mse(&r.linear, &r.truth),
            mse(&r.mlp, &r.truth),
        ];
        mlp_wins += (m[2] < m[1]) as usize;
        *picks.entry(format!("{:e}", r.mlp_wd)).or_insert(0) += 1;
        for (v, x) in per_split.iter_mut().zip(m) {
            v.push(x);
        }
    }
    println!("    over {REPEATS} other seeded 80/20 splits (mean +- std of the test MSE):");
    for (name, v) in ["least squares", "linear 10-1", "MLP 10-32-1"]
        .iter()
        .zip(&per_split)
    {
        let (m, s) = mean_std(v);
        println!("      {name:<14} {m:>7.1} +- {s:.1}");
    }
    println!("      L2 picked for the MLP (times): {picks:?}");
    println!("      the MLP has the lower test MSE than the linear model on {mlp_wins} of {REPEATS} splits");
    plot_regression(
        &run.truth,
        &[
            (
                format!(
                    "Linear 10-1: test MSE {lin_mse:.0}, R² {:.2}",
                    r_squared(&run.linear, &run.truth)
                ),
                &run.linear,
            ),
            (
                format!(
                    "MLP 10-32-1: test MSE {mlp_mse:.0}, R² {:.2}",
                    r_squared(&run.mlp, &run.truth)
                ),
                &run.mlp,
            ),
        ],
        "universal_regression.png",
    )?;
    println!("    wrote universal_regression.png");
    println!("total time {:.1} s", start.elapsed().as_secs_f32());
    let (lin_avg, _) = mean_std(&per_split[1]);
    let (mlp_avg, _) = mean_std(&per_split[2]);
    println!(
        "test MSE: sine fit {} (1 sigmoid unit) -> {} (32 units); diabetes MLP {:.0} vs linear \
         {:.0} (mean of {REPEATS} other splits: {:.0} vs {:.0})",
        fmt_mse(fits[0].test_mse),
        fmt_mse(fits[fits.len() - 1].test_mse),
        mlp_mse,
        lin_mse,
        mlp_avg,
        lin_avg
    );
    Ok(())
}

/// Test-set predictions (original target units) of the three models on one seeded split.
struct DiabetesRun {
    n_train: usize,
    n_fit: usize,
    y_mean: f32,
    y_std: f32,
    truth: Vec<f32>,
    ols: Vec<f32>,
    linear: Vec<f32>,
    mlp: Vec<f32>,
    /// (best epoch, epochs run)
    lin_epochs: (usize, usize),
    mlp_epochs: (usize, usize),
    /// The L2 strength picked on the validation split.
    mlp_wd: f32,
}

/// Splits 80/20 with `seed`, standardizes features and target with the training statistics,
/// holds out 15% of the training split for early stopping, trains the linear model and the MLP
/// (MSE, Adam), and fits closed-form least squares on the whole training split.
fn diabetes_run(
    data: &Dataset<Input<DiabetesMlp>, Scalar>,
    seed: u64,
) -> Result<DiabetesRun, Box<dyn Error>> {
    let (mut train, mut test) = data.split(0.2, seed)?;
    let scaler = Standardizer::fit(&train)?;
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    let train_y: Vec<f32> = train.y.iter().map(|t| t[0]).collect();
    let (y_mean, y_std) = mean_std(&train_y);
    for t in train.y.iter_mut().chain(test.y.iter_mut()) {
        t[0] = (t[0] - y_mean) / y_std;
    }
    let (fit_set, val_set) = train.split(0.15, seed + 1)?;

    let mut linear = DiabetesLinear::new(seed);
    let h_lin = Trainer::new(Adam::new(0.01), Mse)
        .batch_size::<16>()
        .epochs(500)
        .patience(30)
        .seed(seed)
        .progress(false)
        .fit(&mut linear, &fit_set, Some(&val_set))?;
    // The MLP's L2 strength is chosen on the validation split (never on the test set).
    let mut best: Option<(f32, f32, DiabetesMlp, History)> = None;
    for wd in WEIGHT_DECAYS {
        let mut net = DiabetesMlp::new(seed);
        let h = Trainer::new(Adam::new(0.003).weight_decay(wd), Mse)
            .batch_size::<16>()
            .epochs(500)
            .patience(30)
            .seed(seed)
            .progress(false)
            .fit(&mut net, &fit_set, Some(&val_set))?;
        let val = evaluate(&net, &Mse, &val_set)?.loss;
        if best.as_ref().is_none_or(|b| val < b.0) {
            best = Some((val, wd, net, h));
        }
    }
    let (_, mlp_wd, mlp, h_mlp) = best.ok_or("no weight decay to try")?;
    let w = least_squares(&train)?;

    let unscale = |v: f32| v * y_std + y_mean;
    let predict = |f: &dyn Fn(&Input<DiabetesMlp>) -> f32| -> Vec<f32> {
        test.x.iter().map(|x| unscale(f(x))).collect()
    };
    Ok(DiabetesRun {
        n_train: train.len(),
        n_fit: fit_set.len(),
        y_mean,
        y_std,
        truth: test.y.iter().map(|t| unscale(t[0])).collect(),
        ols: predict(&|x| {
            w[0] + x
                .as_slice()
                .iter()
                .zip(&w[1..])
                .map(|(a, b)| a * b)
                .sum::<f32>()
        }),
        linear: predict(&|x| linear.forward(x)[0]),
        mlp: predict(&|x| mlp.forward(x)[0]),
        lin_epochs: (h_lin.best_epoch.unwrap_or(0), h_lin.epochs.len()),
        mlp_epochs: (h_mlp.best_epoch.unwrap_or(0), h_mlp.epochs.len()),
        mlp_wd,
    })
}

/// Reads a CSV file without a header whose rows hold `S::LEN` feature values and then one
/// real-valued target. `Err` names the file, row and column of anything that is not a finite
/// number, and rows of the wrong width.
fn load_regression_csv<S: Shape>(path: &str) -> Result<Dataset<Tensor<S>, Scalar>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
    let mut data = Dataset::default();
    let mut values = Vec::with_capacity(S::LEN + 1);
    for (i, line) in text.lines().enumerate() {
        let row = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        values.clear();
        for (c, field) in line.split(',').enumerate() {
            let v: f32 = field.trim().parse().map_err(|_| {
                format!(
                    "{path}: row {row}, column {}: `{field}` is not a number",
                    c + 1
                )
            })?;
            if !v.is_finite() {
                return Err(format!(
                    "{path}: row {row}, column {}: `{field}` is not finite",
                    c + 1
                )
                .into());
            }
            values.push(v);
        }
        if values.len() != S::LEN + 1 {
            return Err(format!(
                "{path}: row {row} has {} columns, expected {} ({} features and the target)",
                values.len(),
                S::LEN + 1,
                S::LEN
            )
            .into());
        }
        data.x.push(Tensor::<S>::try_from(&values[..S::LEN])?);
        data.y.push([values[S::LEN]].into());
    }
    if data.is_empty() {
        return Err(format!("{path}: no rows").into());
    }
    Ok(data)
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&a| a as f64).sum::<f64>() / n;
    let var = v.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, var.sqrt().max(1e-12) as f32)
}

fn mse(pred: &[f32], truth: &[f32]) -> f32 {
    let s: f64 = pred
        .iter()
        .zip(truth)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum();
    (s / truth.len().max(1) as f64) as f32
}

/// Coefficient of determination, 1 - SSE / SST (SST about the mean of `truth`).
fn r_squared(pred: &[f32], truth: &[f32]) -> f32 {
    let (_, std) = mean_std(truth);
    1.0 - mse(pred, truth) / (std * std)
}

/// Ordinary least squares on the (standardized) training data, solved in f64 from the normal
/// equations with Gaussian elimination: returns [bias, w_1, ..., w_d].
fn least_squares<S: Shape>(data: &Dataset<Tensor<S>, Scalar>) -> Result<Vec<f32>, Box<dyn Error>> {
    let d = S::LEN + 1;
    let mut a = vec![vec![0.0f64; d + 1]; d]; // [X^T X | X^T y]
    for (x, y) in data.iter() {
        let row: Vec<f64> = std::iter::once(1.0)
            .chain(x.as_slice().iter().map(|&v| v as f64))
            .collect();
        for i in 0..d {
            for j in 0..d {
                a[i][j] += row[i] * row[j];
            }
            a[i][d] += row[i] * y[0] as f64;
        }
    }
    for col in 0..d {
        let pivot = (col..d)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        if a[pivot][col].abs() < 1e-12 {
            return Err("least squares: the features are linearly dependent".into());
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    Ok((0..d).map(|i| (a[i][d] / a[i][i]) as f32).collect())
}

/// One panel per width (target and fit on the test grid), then the test MSE against the width.
fn plot_fits(
    test: &Dataset<Scalar, Scalar>,
    fits: &[CurveFit],
    path: &str,
) -> Result<(), Box<dyn Error>> {
    common::register_font();
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(common::plot_err)?;
    let root = root
        .titled(
            "One hidden sigmoid layer of k units fits sin(3x) + 0.3x² (test grid)",
            ("sans-serif", 20),
        )
        .map_err(common::plot_err)?;
    let panels = root.split_evenly((2, 3));
    let xs: Vec<f32> = test.x.iter().map(|x| x[0]).collect();
    let ys: Vec<f32> = test.y.iter().map(|y| y[0]).collect();
    let (lo, hi) = ys
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &y| {
            (l.min(y), h.max(y))
        });
    let pad = 0.15 * (hi - lo);
    for (panel, fit) in panels.iter().zip(fits) {
        let unit = if fit.units == 1 { "unit" } else { "units" };
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{} {unit}: test MSE {}", fit.units, fmt_mse(fit.test_mse)),
                ("sans-serif", 15),
            )
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(30)
            .build_cartesian_2d(X_MIN..X_MAX, (lo - pad)..(hi + pad))
            .map_err(common::plot_err)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(5)
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(common::plot_err)?;
        chart
            .draw_series(LineSeries::new(
                xs.iter().zip(&ys).map(|(&x, &y)| (x, y)),
                RGBColor(120, 120, 120).stroke_width(4),
            ))
            .map_err(common::plot_err)?
            .label("target")
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 16, y)],
                    RGBColor(120, 120, 120).stroke_width(4),
                )
            });
        let color = common::PALETTE[1];
        chart
            .draw_series(LineSeries::new(
                xs.iter().zip(&fit.prediction).map(|(&x, &y)| (x, y)),
                color.stroke_width(2),
            ))
            .map_err(common::plot_err)?
            .label("network")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        if fit.units == 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperMiddle)
                .label_font(("sans-serif", 11))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(common::plot_err)?;
        }
    }
    // Last panel: test MSE against the width, both on log scales.
    if let Some(panel) = panels.get(fits.len()) {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for f in fits {
            lo = lo.min(f.test_mse);
            hi = hi.max(f.test_mse);
        }
        let mut chart = ChartBuilder::on(panel)
            .caption("test MSE against width", ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(44)
            // x is log2 of the width: 0 (1 unit) .. 5 (32 units), labelled with the width.
            .build_cartesian_2d(-0.4f32..5.4, (lo * 0.5..hi * 2.0).log_scale())
            .map_err(common::plot_err)?;
        chart
            .configure_mesh()
            .x_desc("hidden units k (log scale)")
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .x_labels(6)
            .x_label_formatter(&|v| {
                let k = v.round();
                if (v - k).abs() < 1e-3 && k >= 0.0 {
                    format!("{:.0}", k.exp2())
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(common::plot_err)?;
        let color = common::PALETTE[0];
        chart
            .draw_series(LineSeries::new(
                fits.iter().map(|f| ((f.units as f32).log2(), f.test_mse)),
                color.stroke_width(2),
            ))
            .map_err(common::plot_err)?;
        chart
            .draw_series(
                fits.iter()
                    .map(|f| Circle::new(((f.units as f32).log2(), f.test_mse), 4, color.filled())),
            )
            .map_err(common::plot_err)?;
    }
    root.present().map_err(common::plot_err)?;
    Ok(())
}

/// Predicted against true on the test set, one panel per model, with the line y = x.
fn plot_regression(
    truth: &[f32],
    models: &[(String, &Vec<f32>)],
    path: &str,
) -> Result<(), Box<dyn Error>> {
    common::register_font();
    let root = BitMapBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(common::plot_err)?;
    let root = root
        .titled(
            "Diabetes progression: predicted against true (test set)",
            ("sans-serif", 20),
        )
        .map_err(common::plot_err)?;
    let panels = root.split_evenly((1, models.len()));
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for v in std::iter::once(truth).chain(models.iter().map(|m| m.1.as_slice())) {
        for &y in v {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    let pad = 0.05 * (hi - lo);
    let range = (lo - pad)..(hi + pad);
    for (i, (panel, (title, pred))) in panels.iter().zip(models).enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(range.clone(), range.clone())
            .map_err(common::plot_err)?;
        chart
            .configure_mesh()
            .x_desc("true")
            .y_desc("predicted")
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(common::plot_err)?;
        chart
            .draw_series(LineSeries::new(
                [(range.start, range.start), (range.end, range.end)],
                BLACK.stroke_width(1),
            ))
            .map_err(common::plot_err)?;
        let color = common::PALETTE[i % common::PALETTE.len()];
        chart
            .draw_series(
                truth
                    .iter()
                    .zip(pred.iter())
                    .map(|(&t, &p)| Circle::new((t, p), 3, color.mix(0.7).filled())),
            )
            .map_err(common::plot_err)?;
    }
    root.present().map_err(common::plot_err)?;
    Ok(())
}
