//! Vanishing gradients and dead ReLUs, the lecture's slides measured on MNIST-1D.
//!
//! (a) Ten Dense layers of width 32 with Sigmoid against the same network with ReLU: the norm
//!     of each Dense layer's weight gradient (`fc1.weight` ... `fc10.weight`, read with
//!     `Parameters::visit` from the gradients `backward_logits` returns), averaged over 20
//!     mini-batches of 32, at initialization and after 30 epochs of SGD with momentum
//!     (`vanishing_gradients.png`, log y). The sigmoid's derivative is at most 1/4, so the
//!     gradient shrinks layer after layer on its way back: measured, the first layer gets
//!     about 1e-5 of the last layer's gradient, and the sigmoid network does not learn at all
//!     (test accuracy at chance); with ReLU all layers get gradients of the same order.
//! (b) Dead ReLUs: four hidden layers of 64 trained with Adam at a too-large learning rate
//!     (0.015) for 10 epochs, then 30 epochs at the normal rate (0.001); against 40 epochs at
//!     the normal rate, and against the same network with LeakyReLU. A unit is counted when its
//!     pre-activation (the Dense output, read from the cache `forward_train` returns: field
//!     `a1` is `fc1`'s output, `a3` `fc2`'s, ...) is non-positive (LeakyReLU: negative) for
//!     every one of the 4000 training samples. A dead ReLU outputs 0 and gets no gradient, so
//!     nothing in its own weights can revive it; only a change in the layers before it can
//!     (measured: in `fc2` almost all stay dead, 31% of 32%; deeper layers revive more). A
//!     LeakyReLU unit keeps a slope of 0.01, keeps learning, and recovers
//!     (`vanishing_dead_relu.png`). Fractions are means over three initializations.
//! (b') Plain SGD at a too-large rate: the ReLU network loses whole layers, the LeakyReLU one
//!     diverges and the trainer's `Err(NonFinite)` is printed.
//!
//! Run: `cargo run --release --example vanishing` (under 10 s). Canonical MNIST-1D split (rows
//! 1-4000 train, 4001-5000 test).

mod common;

use common::{XySeries, XyStyle};
use nn::prelude::*;
use nn::typenum::U40;

nn::network! {
    /// Ten Dense layers of width 32, Sigmoid.
    pub struct Sigmoid10 {
        input: [40],
        fc1: Dense(32), Sigmoid,
        fc2: Dense(32), Sigmoid,
        fc3: Dense(32), Sigmoid,
        fc4: Dense(32), Sigmoid,
        fc5: Dense(32), Sigmoid,
        fc6: Dense(32), Sigmoid,
        fc7: Dense(32), Sigmoid,
        fc8: Dense(32), Sigmoid,
        fc9: Dense(32), Sigmoid,
        fc10: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// The same ten layers with ReLU.
    pub struct Relu10 {
        input: [40],
        fc1: Dense(32), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        fc4: Dense(32), ReLU,
        fc5: Dense(32), ReLU,
        fc6: Dense(32), ReLU,
        fc7: Dense(32), ReLU,
        fc8: Dense(32), ReLU,
        fc9: Dense(32), ReLU,
        fc10: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// Four hidden ReLU layers of width 64 (the dead-unit experiment).
    pub struct ReluMlp {
        input: [40],
        fc1: Dense(64), ReLU,
        fc2: Dense(64), ReLU,
        fc3: Dense(64), ReLU,
        fc4: Dense(64), ReLU,
        out: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// The same with LeakyReLU (slope 0.01).
    pub struct LeakyMlp {
        input: [40],
        fc1: Dense(64), LeakyReLU,
        fc2: Dense(64), LeakyReLU,
        fc3: Dense(64), LeakyReLU,
        fc4: Dense(64), LeakyReLU,
        out: Dense(10),
        Softmax,
    }
}

type Data = Dataset<Tensor<Shape1<U40>>, usize>;

const SEED: u64 = 1;
/// Mini-batch size for training and for the gradient measurements.
const B: usize = 32;
/// Mini-batches the gradient norms are averaged over.
const GRAD_BATCHES: usize = 20;
/// Part 1: SGD with momentum, as in the `deep` example.
const LR: f32 = 0.01;
const EPOCHS: usize = 30;
/// Part 2: Adam at a too-large learning rate for `PHASE_EPOCHS`, then at the normal rate for
/// `RECOVERY_EPOCHS` (do the dead units come back?), against the normal rate throughout.
const LR_NORMAL: f32 = 1e-3;
const LR_LARGE: f32 = 0.015;
const PHASE_EPOCHS: usize = 10;
const RECOVERY_EPOCHS: usize = 30;
/// Part 2': a too-large rate for plain SGD.
const LR_SGD: f32 = 1.0;
/// Initializations averaged in part 2.
const DEAD_SEEDS: [u64; 3] = [1, 2, 3];
const HIDDEN: usize = 4;
const WIDTH: usize = 64;

/// The norm of each Dense weight gradient (`fcK.weight`, in layer order), averaged over
/// `GRAD_BATCHES` fixed mini-batches of the training set.
fn weight_grad_norms<N>(net: &mut N, data: &Data) -> Vec<(String, f32)>
where
    N: Trainable<InputShape = Shape1<U40>>,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let mut sums: Vec<(String, f64)> = Vec::new();
    let mut grad = nn::zeroed_batch::<N::OutputShape, B>();
    for b in 0..GRAD_BATCHES {
        let idx = b * B..(b + 1) * B;
        let x = nn::batch_from::<Shape1<U40>, B>(data.x[idx.clone()].iter().cloned());
        // No batch norm or dropout here, so the training-mode pass changes nothing.
        let cache = net.forward_train(&x);
        CrossEntropy.loss_grad(&N::cache_logits(&cache)[..], &data.y[idx], &mut grad[..]);
        let (grads, _) = net.backward_logits(&cache, &grad);
        let mut k = 0;
        grads.visit("", &mut |id, g| {
            if id.name != "weight" {
                return;
            }
            let norm = g
                .iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>()
                .sqrt();
            if b == 0 {
                sums.push((format!("{}.{}", id.layer, id.name), 0.0));
            }
            sums[k].1 += norm;
            k += 1;
        });
    }
    sums.into_iter()
        .map(|(name, s)| (name, (s / GRAD_BATCHES as f64) as f32))
        .collect()
}

/// Trains `net` (seeded shuffling); returns the final training loss and the test accuracy, or
/// the trainer's error (a NaN or infinite loss is `Err(NonFinite)`).
fn train<N, O>(
    net: &mut N,
    opt: O,
    epochs: usize,
    seed: u64,
    train: &Data,
    test: &Data,
) -> Result<(f32, f32), nn::Error>
where
    N: Trainable<InputShape = Shape1<U40>>,
    O: Optimizer,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let h = Trainer::new(opt, CrossEntropy)
        .batch_size::<B>()
        .epochs(epochs)
        .seed(seed)
        .fit(net, train, None)?;
    let loss = h.last().map_or(f32::NAN, |e| e.train_loss);
    Ok((
        loss,
        evaluate(net, &CrossEntropy, test)?.accuracy.unwrap_or(0.0),
    ))
}

/// Generates a function returning, for each hidden layer, the fraction of units whose
/// pre-activation (the Dense output, cache field `aK`) is non-positive (`strict`: negative) for
/// every sample of `data`.
macro_rules! dead_fractions {
    ($fn_name:ident, $net:ty, $($pre:ident),+) => {
        fn $fn_name(net: &mut $net, data: &Data, strict: bool) -> Vec<f32> {
            const CHUNK: usize = 200;
            let mut max: Vec<Vec<f32>> = Vec::new();
            for chunk in data.x.chunks(CHUNK) {
                // A short last chunk is padded with its first sample (a maximum is unchanged).
                let x = nn::batch_from::<Shape1<U40>, CHUNK>(
                    chunk.iter().chain(std::iter::repeat(&chunk[0])).take(CHUNK).cloned(),
                );
                let cache = net.forward_train(&x);
                let mut layer = 0;
                $(
                    if max.len() <= layer {
                        max.push(vec![f32::NEG_INFINITY; cache.$pre[0].as_slice().len()]);
                    }
                    for t in cache.$pre.iter() {
                        for (m, &v) in max[layer].iter_mut().zip(t.as_slice()) {
                            *m = m.max(v);
                        }
                    }
                    layer += 1;
                )+
                let _ = layer;
            }
            max.iter()
                .map(|m| {
                    let dead = m.iter().filter(|&&v| if strict { v < 0.0 } else { v <= 0.0 });
                    dead.count() as f32 / m.len() as f32
                })
                .collect()
        }
    };
}

// Cache fields: a0 is the input, a1 the output of fc1, a2 of its activation, a3 of fc2, ...
dead_fractions!(dead_relu, ReluMlp, a1, a3, a5, a7);
dead_fractions!(dead_leaky, LeakyMlp, a1, a3, a5, a7);

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let data = Data::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist1d.csv"))?;
    let (train_set, test) = data.split_at(4000);
    println!(
        "MNIST-1D: {} train, {} test signals",
        train_set.len(),
        test.len()
    );

    // ---- Part 1: gradient norm per layer --------------------------------------------------
    println!(
        "\n(a) gradient norm of each Dense weight, mean over {GRAD_BATCHES} mini-batches of {B}; \
         10 layers of width 32; SGD lr {LR}, momentum 0.9, {EPOCHS} epochs"
    );
    let mut sig = Sigmoid10::new(SEED);
    let mut relu = Relu10::new(SEED);
    let sig_init = weight_grad_norms(&mut sig, &train_set);
    let relu_init = weight_grad_norms(&mut relu, &train_set);
    let sgd = || Sgd::new(LR).momentum(0.9);
    for (name, r) in [
        (
            "sigmoid",
            train(&mut sig, sgd(), EPOCHS, SEED, &train_set, &test),
        ),
        (
            "ReLU",
            train(&mut relu, sgd(), EPOCHS, SEED, &train_set, &test),
        ),
    ] {
        match r {
            Ok((loss, acc)) => {
                println!("  {name:<8} final training loss {loss:.4}, test accuracy {acc:.4}")
            }
            Err(e) => println!("  {name:<8} training failed: {e}"),
        }
    }
    let sig_trained = weight_grad_norms(&mut sig, &train_set);
    let relu_trained = weight_grad_norms(&mut relu, &train_set);

    println!(
        "\n  {:<12} {:>14} {:>14} {:>14} {:>14}",
        "layer", "sigmoid init", "sigmoid train", "ReLU init", "ReLU train"
    );
    for i in 0..sig_init.len() {
        println!(
            "  {:<12} {:>14.3e} {:>14.3e} {:>14.3e} {:>14.3e}",
            sig_init[i].0, sig_init[i].1, sig_trained[i].1, relu_init[i].1, relu_trained[i].1
        );
    }
    let ratio = |v: &[(String, f32)]| v[v.len() - 1].1 / v[0].1;
    println!(
        "  last/first layer ratio:   sigmoid {:.3e} (init), {:.3e} (trained); ReLU {:.3e} (init), {:.3e} (trained)",
        ratio(&sig_init),
        ratio(&sig_trained),
        ratio(&relu_init),
        ratio(&relu_trained)
    );
    let pts = |v: &[(String, f32)]| -> Vec<(f32, f32)> {
        v.iter()
            .enumerate()
            .map(|(i, p)| (i as f32 + 1.0, p.1))
            .collect()
    };
    let (a, b, c, d) = (
        pts(&sig_init),
        pts(&sig_trained),
        pts(&relu_init),
        pts(&relu_trained),
    );
    common::plot_xy_log_y(
        "vanishing_gradients.png",
        "Gradient norm per layer, 10 x Dense(32) on MNIST-1D",
        "Dense layer (1 = next to the input)",
        "norm of the weight gradient",
        &[
            XySeries {
                name: "sigmoid, at initialization",
                points: &a,
                color: 3,
                style: XyStyle::Dashed,
            },
            XySeries {
                name: "sigmoid, after training",
                points: &b,
                color: 3,
                style: XyStyle::Solid,
            },
            XySeries {
                name: "ReLU, at initialization",
                points: &c,
                color: 0,
                style: XyStyle::Dashed,
            },
            XySeries {
                name: "ReLU, after training",
                points: &d,
                color: 0,
                style: XyStyle::Solid,
            },
        ],
    )?;
    println!("  wrote vanishing_gradients.png");

    // ---- Part 2: dead ReLUs ---------------------------------------------------------------
    println!(
        "\n(b) dead hidden units: {HIDDEN} hidden layers of {WIDTH}, Adam, batch {B}, \
         {PHASE_EPOCHS} + {RECOVERY_EPOCHS} epochs, seeds {DEAD_SEEDS:?}; a unit counts when its pre-activation is \
         <= 0 (LeakyReLU: < 0) for all {} training samples",
        train_set.len()
    );
    let init: Vec<f32> = DEAD_SEEDS
        .iter()
        .map(|&s| mean(&dead_relu(&mut ReluMlp::new(s), &train_set, false)))
        .collect();
    println!("  at initialization: dead fraction per seed {init:.3?}");
    // Five configurations; per configuration, the per-layer fractions of each seed that trained.
    let labels = [
        format!(
            "ReLU, lr {LR_NORMAL}, {} epochs",
            PHASE_EPOCHS + RECOVERY_EPOCHS
        ),
        format!("ReLU, lr {LR_LARGE}"),
        format!("ReLU, lr {LR_LARGE}, then {LR_NORMAL}"),
        format!("LeakyReLU, lr {LR_LARGE}"),
        format!("LeakyReLU, lr {LR_LARGE}, then {LR_NORMAL}"),
    ];
    let mut fractions: Vec<Vec<Vec<f32>>> = vec![Vec::new(); labels.len()];
    let mut accs: Vec<Vec<f32>> = vec![Vec::new(); labels.len()];
    let mut record = |k: usize,
                      seed: u64,
                      r: Result<(f32, f32), nn::Error>,
                      f: &dyn Fn() -> Vec<f32>| {
        match r {
            Ok((loss, acc)) => {
                let fr = f();
                println!(
                    "  seed {seed} {:<32} training loss {loss:.4}, test accuracy {acc:.4}, dead {:.3} {fr:.3?}",
                    labels[k],
                    mean(&fr)
                );
                fractions[k].push(fr);
                accs[k].push(acc);
                true
            }
            Err(e) => {
                println!("  seed {seed} {:<32} training failed: {e}", labels[k]);
                false
            }
        }
    };
    for &seed in &DEAD_SEEDS {
        let mut normal = ReluMlp::new(seed);
        let r = train(
            &mut normal,
            Adam::new(LR_NORMAL),
            PHASE_EPOCHS + RECOVERY_EPOCHS,
            seed,
            &train_set,
            &test,
        );
        record(0, seed, r, &|| {
            dead_relu(&mut normal.clone(), &train_set, false)
        });

        let mut large = ReluMlp::new(seed);
        let r = train(
            &mut large,
            Adam::new(LR_LARGE),
            PHASE_EPOCHS,
            seed,
            &train_set,
            &test,
        );
        if record(1, seed, r, &|| {
            dead_relu(&mut large.clone(), &train_set, false)
        }) {
            let r = train(
                &mut large,
                Adam::new(LR_NORMAL),
                RECOVERY_EPOCHS,
                seed,
                &train_set,
                &test,
            );
            record(2, seed, r, &|| {
                dead_relu(&mut large.clone(), &train_set, false)
            });
        }

        let mut leaky = LeakyMlp::new(seed);
        let r = train(
            &mut leaky,
            Adam::new(LR_LARGE),
            PHASE_EPOCHS,
            seed,
            &train_set,
            &test,
        );
        if record(3, seed, r, &|| {
            dead_leaky(&mut leaky.clone(), &train_set, true)
        }) {
            let r = train(
                &mut leaky,
                Adam::new(LR_NORMAL),
                RECOVERY_EPOCHS,
                seed,
                &train_set,
                &test,
            );
            record(4, seed, r, &|| {
                dead_leaky(&mut leaky.clone(), &train_set, true)
            });
        }
    }

    // Means over the seeds that trained: per layer, then over all hidden units.
    let means: Vec<Vec<f32>> = fractions
        .iter()
        .map(|runs| {
            let mut m: Vec<f32> = (0..HIDDEN)
                .map(|l| runs.iter().map(|r| r[l]).sum::<f32>() / runs.len() as f32)
                .collect();
            m.push(mean(&m));
            m
        })
        .collect();
    println!(
        "\n  {:<36} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10}",
        "mean dead fraction", "fc1", "fc2", "fc3", "fc4", "all", "test acc"
    );
    for (k, m) in means.iter().enumerate() {
        print!("  {:<36}", labels[k]);
        for v in m {
            print!(" {v:>6.3}");
        }
        let acc = if accs[k].is_empty() {
            f32::NAN
        } else {
            mean(&accs[k])
        };
        println!(" {acc:>10.4}");
    }
    let series: Vec<(&str, &[f32])> = labels
        .iter()
        .zip(&means)
        .map(|(l, m)| (l.as_str(), m.as_slice()))
        .collect();
    common::plot_grouped_bars(
        "vanishing_dead_relu.png",
        &format!(
            "Units inactive on every training sample (MNIST-1D, 4 x Dense(64), Adam, mean of {} seeds)",
            DEAD_SEEDS.len()
        ),
        "fraction of hidden units",
        &["fc1", "fc2", "fc3", "fc4", "all hidden"],
        &series,
    )?;
    println!("  wrote vanishing_dead_relu.png");

    // Plain SGD has a narrow window between no dead units and divergence (measured: lr 0.9
    // kills 7% of the units of either network). Just above it, the ReLU network loses whole
    // layers while the LeakyReLU one, whose units never stop passing signal, blows up: the
    // trainer stops with `Err(NonFinite)`, reported here.
    println!("\n(b') plain SGD, lr {LR_SGD}, {PHASE_EPOCHS} epochs, seed {SEED}:");
    let mut relu_sgd = ReluMlp::new(SEED);
    match train(
        &mut relu_sgd,
        Sgd::new(LR_SGD),
        PHASE_EPOCHS,
        SEED,
        &train_set,
        &test,
    ) {
        Ok((loss, acc)) => {
            let fr = dead_relu(&mut relu_sgd, &train_set, false);
            println!(
                "  ReLU       training loss {loss:.4}, test accuracy {acc:.4}, dead {:.3} {fr:.3?}",
                mean(&fr)
            );
        }
        Err(e) => println!("  ReLU       training failed: {e}"),
    }
    let mut leaky_sgd = LeakyMlp::new(SEED);
    match train(
        &mut leaky_sgd,
        Sgd::new(LR_SGD),
        PHASE_EPOCHS,
        SEED,
        &train_set,
        &test,
    ) {
        Ok((loss, acc)) => {
            let fr = dead_leaky(&mut leaky_sgd, &train_set, true);
            println!(
                "  LeakyReLU  training loss {loss:.4}, test accuracy {acc:.4}, inactive {:.3} {fr:.3?}",
                mean(&fr)
            );
        }
        Err(e) => println!("  LeakyReLU  training failed: {e}"),
    }

    println!("  runtime {:.1} s", start.elapsed().as_secs_f32());
    println!(
        "first-layer gradient norm {:.1e} of the last layer's with sigmoid, {:.2} with ReLU; dead \
         ReLUs after lr {LR_LARGE}: {:.1}% ({:.1}% after recovery at {LR_NORMAL}; {:.1}% at lr \
         {LR_NORMAL} only), LeakyReLU inactive {:.1}% -> {:.1}%",
        1.0 / ratio(&sig_init),
        1.0 / ratio(&relu_init),
        100.0 * means[1][HIDDEN],
        100.0 * means[2][HIDDEN],
        100.0 * means[0][HIDDEN],
        100.0 * means[3][HIDDEN],
        100.0 * means[4][HIDDEN]
    );
    Ok(())
}
