//! Double descent: test error against the width of a one-hidden-layer network, from far below
//! to far above the interpolation threshold, on a small noisy training set.
//!
//! MNIST-1D (as in the MNIST-1D paper's double-descent figure, in miniature): a seeded subset
//! of the canonical training rows, a fraction of whose labels are replaced by a different,
//! random class (seeded); the canonical 1000 test rows, labels untouched. Networks
//! `Dense(w), ReLU, Dense(10)`, w from 1 to 512, trained with Adam without any regularization
//! (no weight decay, no early stopping) until the wide ones fit every training label, noise
//! included. Classical statistics predicts a U (more parameters, more overfitting); what appears
//! is a second descent: the test error peaks near the interpolation threshold, where the
//! network has just enough parameters to fit the noisy labels (about samples x classes), and
//! falls again beyond it. Each width is averaged over a few initializations.
//!
//! Run: `cargo run --release --example double_descent` (two threads). Writes
//! `double_descent.png`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::XySeries;
use nn::prelude::*;
use nn::typenum::U40;

type Data = Dataset<Tensor<Shape1<U40>>, usize>;

/// Training rows used (of the 4000 canonical ones).
const N_TRAIN: usize = 500;
/// Fraction of the training labels replaced by a different, random class.
const NOISE: f32 = 0.2;
const CLASSES: usize = 10;
const EPOCHS: usize = 1000;
const LR: f32 = 1e-3;
/// Initializations (and shuffling seeds) averaged per width.
const SEEDS: [u64; 3] = [1, 2, 3];
const DATA_SEED: u64 = 42;

/// Trains one network of type `N` and returns (train error, test error).
fn run<N>(train: &Data, test: &Data, seed: u64) -> Result<(f32, f32), nn::Error>
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
    Ok((1.0 - accuracy(&net, train), 1.0 - accuracy(&net, test)))
}

type RunFn = fn(&Data, &Data, u64) -> Result<(f32, f32), nn::Error>;

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
    W1 = 1, W2 = 2, W4 = 4, W8 = 8, W16 = 16, W32 = 32, W48 = 48, W64 = 64, W80 = 80,
    W96 = 96, W128 = 128, W192 = 192, W256 = 256, W512 = 512,
}

/// The first `N_TRAIN` rows of a seeded shuffle of `train`, with `NOISE` of their labels
/// replaced by a different random class; returns the set and the number of labels changed.
fn noisy_subset(train: &Data) -> (Data, usize) {
    let mut rng = nn::Rng::new(DATA_SEED);
    let mut order: Vec<usize> = (0..train.len()).collect();
    rng.shuffle(&mut order);
    let mut sub = train.subset(&order[..N_TRAIN]);
    let flips = (NOISE * N_TRAIN as f32).round() as usize;
    let mut rows: Vec<usize> = (0..N_TRAIN).collect();
    rng.shuffle(&mut rows);
    for &r in &rows[..flips] {
        let shift = 1 + rng.below(CLASSES - 1);
        sub.y[r] = (sub.y[r] + shift) % CLASSES;
    }
    (sub, flips)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let data = Data::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist1d.csv"))?;
    let (full_train, test) = data.split_at(4000);
    let (train, flipped) = noisy_subset(&full_train);
    let threshold = N_TRAIN * CLASSES;
    println!(
        "MNIST-1D: {} training rows ({flipped} labels = {:.0}% replaced by a wrong class, seed \
         {DATA_SEED}), {} clean test rows",
        train.len(),
        100.0 * flipped as f32 / train.len() as f32,
        test.len()
    );
    println!(
        "networks Dense(w), ReLU, Dense(10): {} parameters per hidden unit; Adam lr {LR}, batch \
         32, {EPOCHS} epochs, no regularization; {} seeds per width",
        W2::PARAMS - W1::PARAMS,
        SEEDS.len()
    );
    println!("samples x classes = {threshold} parameters");

    // Jobs (model, seed), widest first so the two threads finish together.
    let mut jobs: Vec<(usize, u64)> = (0..MODELS.len())
        .flat_map(|m| SEEDS.iter().map(move |&s| (m, s)))
        .collect();
    jobs.sort_by_key(|&(m, _)| std::cmp::Reverse(MODELS[m].0));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, u64, Result<(f32, f32), nn::Error>)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(m, seed)) = jobs.get(j) else { break };
                let r = (MODELS[m].2)(&train, &test, seed);
                results.lock().expect("no thread panicked").push((m, seed, r));
            });
        }
    });
    let results = results.into_inner().expect("no thread panicked");

    let mut table = Vec::new();
    println!(
        "\n{:>6} {:>8} {:>8} {:>12} {:>12} {:>16}",
        "width", "params", "/(n*K)", "train error", "test error", "test min..max"
    );
    for (m, &(w, params, _)) in MODELS.iter().enumerate() {
        let mut tr = Vec::new();
        let mut te = Vec::new();
        for (_, seed, r) in results.iter().filter(|r| r.0 == m) {
            match r {
                Ok((a, b)) => {
                    tr.push(*a);
                    te.push(*b);
                }
                Err(e) => println!("width {w}, seed {seed}: training failed: {e}"),
            }
        }
        if te.is_empty() {
            continue;
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        let (lo, hi) = te.iter().fold((f32::INFINITY, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
        let (mtr, mte) = (mean(&tr), mean(&te));
        println!(
            "{w:>6} {params:>8} {:>8.2} {mtr:>12.4} {mte:>12.4} {:>16}",
            params as f32 / threshold as f32,
            format!("{lo:.3}..{hi:.3}")
        );
        table.push((w, params, mtr, mte));
    }

    // The peak: the highest test error after the first local minimum (the end of the first
    // descent), if the error falls again after it.
    let te: Vec<f32> = table.iter().map(|r| r.3).collect();
    let first_min = (1..te.len().saturating_sub(1))
        .find(|&i| te[i] <= te[i - 1] && te[i] <= te[i + 1])
        .unwrap_or(0);
    let peak = (first_min + 1..te.len()).max_by(|&a, &b| te[a].total_cmp(&te[b]));
    let interp = table.iter().find(|r| r.2 == 0.0).map(|r| r.0);
    match interp {
        Some(w) => println!("\nnarrowest width with zero training error (mean over seeds): {w}"),
        None => println!("\nno width reached zero training error"),
    }

    let train_pts: Vec<(f32, f32)> = table.iter().map(|r| (r.0 as f32, r.2)).collect();
    let test_pts: Vec<(f32, f32)> = table.iter().map(|r| (r.0 as f32, r.3)).collect();
    let threshold_w = (threshold as f32 - 10.0) / (W2::PARAMS - W1::PARAMS) as f32;
    let marker = format!("params = n x K ({threshold})");
    common::plot_xy_log_x(
        "double_descent.png",
        &format!(
            "MNIST-1D, {N_TRAIN} samples, {:.0}% label noise: one hidden layer of width w",
            100.0 * NOISE
        ),
        "hidden width w (log scale)",
        "error",
        &[
            XySeries {
                name: "test error",
                points: &test_pts,
                color: 3,
                dashed: false,
            },
            XySeries {
                name: "train error (noisy labels)",
                points: &train_pts,
                color: 0,
                dashed: true,
            },
        ],
        Some((threshold_w, &marker)),
    )?;
    println!("wrote double_descent.png");
    println!("runtime {:.1} s", start.elapsed().as_secs_f32());

    match peak {
        Some(p) if p + 1 < te.len() && te[p] > te[first_min] && te[p] > te[te.len() - 1] => {
            let (w, params, _, e) = table[p];
            println!(
                "test error peak at width {w} ({params} parameters, {:.2} x n*K): {e:.4}, against \
                 {:.4} at width {} and {:.4} at width {}",
                params as f32 / threshold as f32,
                te[first_min],
                table[first_min].0,
                te[te.len() - 1],
                table[te.len() - 1].0
            )
        }
        _ => println!(
            "no double-descent peak: test error {:.4} at the widest network, minimum {:.4}",
            te.last().copied().unwrap_or(f32::NAN),
            te.iter().copied().fold(f32::INFINITY, f32::min)
        ),
    }
    Ok(())
}
