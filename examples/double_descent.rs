//! Double descent: test error against the width of a one-hidden-layer network, from far below
//! to far above the interpolation threshold, on a small training set with noisy labels.
//!
//! MNIST-1D, as in the double-descent experiments of the MNIST-1D paper, in miniature: a seeded
//! subset of 1000 of the canonical training rows, 30% of whose labels are replaced by a
//! different, random class (seeded); the canonical 1000 test rows, labels untouched. Networks
//! `Dense(w), ReLU, Dense(10)` with w from 1 to 512 (one `network!` type per width, generated
//! by a `macro_rules!`), trained with Adam and no regularization at all (no weight decay, no
//! early stopping) for long enough that the wide ones fit every training label, noise included.
//! Each width is averaged over five initializations.
//!
//! The classical picture is a U: more parameters, more overfitting. What appears is a second
//! descent: the test error falls, rises to a peak where the network has just enough capacity
//! to fit the noisy labels (the interpolation threshold, where the training error reaches 0),
//! and falls again as the network grows beyond it. Measured here, the training error reaches 0
//! between widths 48 and 64, 2.5 to 3.3 parameters per training sample: a quarter to a third
//! of the "samples x classes" rule of thumb (both are marked on the plot). The peak is a few
//! points of error high, larger than the spread between seeds (printed). The test
//! cross-entropy (also printed) peaks later, around width 128, and barely comes down.
//! (The first setting tried, 500 rows with 20% noise, 1000 epochs, gave hardly any first
//! descent: test error 0.74 at widths 1 to 4, 0.77 at 12 to 16, 0.71 at 512; too little signal
//! in 500 rows.)
//!
//! Run: `cargo run --release --example double_descent` (uses two threads; about 30 s on two
//! cores). Writes `double_descent.png`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{XySeries, XyStyle};
use nn::prelude::*;
use nn::typenum::U40;
use plotters::prelude::SeriesLabelPosition;

type Data = Dataset<Tensor<Shape1<U40>>, usize>;

/// Training rows used (of the 4000 canonical ones).
const N_TRAIN: usize = 1000;
/// Fraction of the training labels replaced by a different, random class.
const NOISE: f32 = 0.3;
const CLASSES: usize = 10;
const EPOCHS: usize = 500;
const LR: f32 = 1e-3;
/// Initializations (and shuffling seeds) averaged per width.
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const DATA_SEED: u64 = 42;
/// A width interpolates when its mean training error is below this.
const FITS: f32 = 0.01;

/// What one trained network scores.
#[derive(Clone, Copy)]
struct Scores {
    train_error: f32,
    test_error: f32,
    test_loss: f32,
}

/// Trains one network of type `N` without regularization and scores it.
fn run<N>(train: &Data, test: &Data, seed: u64) -> Result<Scores, nn::Error>
where
    N: Trainable<InputShape = Shape1<U40>>,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let mut net = N::new(seed);
    Trainer::new(Adam::new(LR), CrossEntropy)
        .batch_size::<32>()
        .epochs(EPOCHS)
        .seed(seed)
        .fit(&mut net, train, None)?;
    let m = evaluate(&net, &CrossEntropy, test)?;
    Ok(Scores {
        train_error: 1.0 - accuracy(&net, train)?,
        test_error: 1.0 - m.accuracy.unwrap_or(0.0),
        test_loss: m.loss,
    })
}

type RunFn = fn(&Data, &Data, u64) -> Result<Scores, nn::Error>;
/// A finished job: model index, seed, outcome.
type JobResult = (usize, u64, Result<Scores, nn::Error>);

/// Declares one network per width and lists (width, parameters, its training function).
macro_rules! widths {
    ($($name:ident = $w:literal),+ $(,)?) => {
        $(
            nn::network! {
                /// One hidden ReLU layer.
                pub struct $name {
                    input: [40],
                    hidden: Dense($w), ReLU,
                    out: Dense(10),
                    Softmax,
                }
            }
        )+
        const MODELS: &[(usize, usize, RunFn)] = &[$(($w, $name::PARAMS, run::<$name>)),+];
    };
}

widths! {
    W1 = 1, W2 = 2, W4 = 4, W8 = 8, W12 = 12, W16 = 16, W24 = 24, W32 = 32, W48 = 48, W64 = 64,
    W80 = 80, W96 = 96, W128 = 128, W192 = 192, W256 = 256, W512 = 512,
}

/// Parameters per hidden unit (40 inputs + 1 bias + 10 outputs); the output biases add 10.
const PER_UNIT: usize = W2::PARAMS - W1::PARAMS;

/// The first `N_TRAIN` rows of a seeded shuffle of `train`, with `NOISE` of their labels
/// replaced by a different random class; returns the set and the number of labels changed.
fn noisy_subset(train: &Data) -> (Data, usize) {
    let mut rng = nn::Rng::new(DATA_SEED);
    let mut order: Vec<usize> = (0..train.len()).collect();
    rng.shuffle(&mut order);
    let mut sub = train
        .subset(&order[..N_TRAIN])
        .expect("indices of a shuffle of the training set");
    let flips = (NOISE * N_TRAIN as f32).round() as usize;
    let mut rows: Vec<usize> = (0..N_TRAIN).collect();
    rng.shuffle(&mut rows);
    for &r in &rows[..flips] {
        let shift = 1 + rng.below(CLASSES - 1);
        sub.y[r] = (sub.y[r] + shift) % CLASSES;
    }
    (sub, flips)
}

/// One row of the table: the means over the seeds that trained.
struct Row {
    width: usize,
    params: usize,
    train_error: f32,
    test_error: f32,
    test_loss: f32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let data = Data::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist1d.csv"))?;
    let (full_train, test) = data.split_at(4000);
    let (train, flipped) = noisy_subset(&full_train);
    let nk = N_TRAIN * CLASSES;
    println!(
        "MNIST-1D: {} training rows ({flipped} labels = {:.0}% replaced by a wrong class, seed \
         {DATA_SEED}), {} clean test rows",
        train.len(),
        100.0 * flipped as f32 / train.len() as f32,
        test.len()
    );
    println!(
        "networks Dense(w), ReLU, Dense(10): {PER_UNIT} w + 10 parameters; Adam lr {LR}, batch \
         32, {EPOCHS} epochs, no regularization; mean of {} seeds per width; samples x classes \
         = {nk}",
        SEEDS.len()
    );

    // Jobs (model, seed), widest first so the threads finish together.
    let mut jobs: Vec<(usize, u64)> = (0..MODELS.len())
        .flat_map(|m| SEEDS.iter().map(move |&s| (m, s)))
        .collect();
    jobs.sort_by_key(|&(m, _)| std::cmp::Reverse(MODELS[m].0));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<JobResult>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(m, seed)) = jobs.get(j) else {
                    break;
                };
                let r = (MODELS[m].2)(&train, &test, seed);
                if let Ok(mut all) = results.lock() {
                    all.push((m, seed, r));
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| "a training thread panicked")?;

    let mut table: Vec<Row> = Vec::new();
    println!(
        "\n{:>6} {:>7} {:>7} {:>12} {:>11} {:>14} {:>10}",
        "width", "params", "/(n*K)", "train error", "test error", "test min..max", "test loss"
    );
    for (m, &(width, params, _)) in MODELS.iter().enumerate() {
        let mut ok: Vec<Scores> = Vec::new();
        for (_, seed, r) in results.iter().filter(|r| r.0 == m) {
            match r {
                Ok(s) => ok.push(*s),
                Err(e) => println!("width {width}, seed {seed}: training failed: {e}"),
            }
        }
        if ok.is_empty() {
            continue;
        }
        let mean = |f: fn(&Scores) -> f32| ok.iter().map(f).sum::<f32>() / ok.len() as f32;
        let (lo, hi) = ok.iter().fold((f32::INFINITY, 0.0f32), |(l, h), s| {
            (l.min(s.test_error), h.max(s.test_error))
        });
        let row = Row {
            width,
            params,
            train_error: mean(|s| s.train_error),
            test_error: mean(|s| s.test_error),
            test_loss: mean(|s| s.test_loss),
        };
        println!(
            "{width:>6} {params:>7} {:>7.2} {:>12.4} {:>11.4} {:>14} {:>10.3}",
            params as f32 / nk as f32,
            row.train_error,
            row.test_error,
            format!("{lo:.3}..{hi:.3}"),
            row.test_loss
        );
        table.push(row);
    }
    if table.is_empty() {
        return Err("no network trained".into());
    }

    // The interpolation threshold: the narrowest width that fits the noisy training set. The
    // classical optimum: the lowest test error below it. The peak: the highest test error from
    // there on.
    let threshold = table.iter().position(|r| r.train_error < FITS);
    match threshold {
        Some(t) => println!(
            "\ninterpolation threshold (mean training error < {FITS}): width {} ({} parameters, \
             {:.2} per training sample, {:.2} x n*K)",
            table[t].width,
            table[t].params,
            table[t].params as f32 / N_TRAIN as f32,
            table[t].params as f32 / nk as f32
        ),
        None => println!("\nno width fits the training set (training error < {FITS})"),
    }
    let by_test = |a: &&Row, b: &&Row| a.test_error.total_cmp(&b.test_error);
    let under = &table[..threshold.unwrap_or(table.len()).max(1)];
    let best_under = under.iter().min_by(by_test).expect("not empty");
    let from = table
        .iter()
        .position(|r| r.width == best_under.width)
        .unwrap_or(0);
    let peak = table[from..].iter().max_by(by_test).expect("not empty");
    let last = &table[table.len() - 1];

    let train_pts: Vec<(f32, f32)> = table
        .iter()
        .map(|r| (r.width as f32, r.train_error))
        .collect();
    let test_pts: Vec<(f32, f32)> = table
        .iter()
        .map(|r| (r.width as f32, r.test_error))
        .collect();
    let nk_width = (nk - 10) as f32 / PER_UNIT as f32;
    let nk_label = format!("params = n x K = {nk}");
    let fit_label = threshold.map(|t| format!("train error reaches 0 (w = {})", table[t].width));
    let mut markers = vec![(nk_width, nk_label.as_str())];
    if let (Some(t), Some(label)) = (threshold, fit_label.as_deref()) {
        markers.insert(0, (table[t].width as f32, label));
    }
    let seed_pts: Vec<(f32, f32)> = results
        .iter()
        .filter_map(|(m, _, r)| r.as_ref().ok().map(|s| (MODELS[*m].0 as f32, s.test_error)))
        .collect();
    let full = [
        XySeries {
            name: "test error (clean labels)",
            points: &test_pts,
            color: 3,
            style: XyStyle::Solid,
        },
        XySeries {
            name: "train error (noisy labels)",
            points: &train_pts,
            color: 0,
            style: XyStyle::Dashed,
        },
    ];
    let zoom = [
        XySeries {
            name: "test error, mean",
            points: &test_pts,
            color: 3,
            style: XyStyle::Solid,
        },
        XySeries {
            name: "test error, each seed",
            points: &seed_pts,
            color: 7,
            style: XyStyle::Points,
        },
    ];
    let seeds = SEEDS.len();
    common::plot_log_x_panels(
        "double_descent.png",
        &format!(
            "Double descent on MNIST-1D: {N_TRAIN} samples, {:.0}% label noise, \
             Dense(w), ReLU, Dense(10), Adam, {EPOCHS} epochs",
            100.0 * NOISE
        ),
        "hidden width w (log scale)",
        &[
            common::LogXPanel {
                caption: "train and test error",
                y_label: &format!("error (mean of {seeds} seeds)"),
                series: &full,
                y_range: Some((0.0, 0.85)),
                legend: SeriesLabelPosition::LowerLeft,
            },
            common::LogXPanel {
                caption: "test error, zoomed",
                y_label: "test error",
                series: &zoom,
                y_range: None,
                legend: SeriesLabelPosition::LowerLeft,
            },
        ],
        &markers,
    )?;
    println!("wrote double_descent.png");
    println!("runtime {:.1} s", start.elapsed().as_secs_f32());

    if peak.test_error > best_under.test_error && peak.test_error > last.test_error {
        println!(
            "double descent: test error {:.4} at width {}, peak {:.4} at width {} ({} \
             parameters, {:.2} x n*K), {:.4} at width {}",
            best_under.test_error,
            best_under.width,
            peak.test_error,
            peak.width,
            peak.params,
            peak.params as f32 / nk as f32,
            last.test_error,
            last.width
        );
    } else {
        println!(
            "no double-descent peak: test error {:.4} at width {}, {:.4} at the widest ({})",
            best_under.test_error, best_under.width, last.test_error, last.width
        );
    }
    Ok(())
}
