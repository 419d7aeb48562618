//! Benchmarks of the reference models of `shared/MODELS.md`.
//!
//! - M1, the hls4ml jet tagger: 16 -> Dense 64 ReLU -> Dense 32 ReLU -> Dense 32 ReLU -> Dense 5
//!   -> Softmax (4,256 MACs, 4,389 parameters).
//! - M2, the digits CNN (1x8x8, 23,680 MACs); M3, LeNet-5 (1x28x28, 281,640 MACs); M4, the
//!   MNIST-1D CNN (1x40, 101,760 MACs).
//!
//! For each model `Mk`:
//! - `Mk/a_latency_batch1`: one forward pass on one sample, the input built from a slice each
//!   iteration, softmax included (criterion's time per iteration is ns per sample).
//! - `Mk/b_throughput_batch256`: `forward_batch` on 256 inputs (criterion reports
//!   samples/s through `Throughput::Elements(256)`).
//! - `Mk/c_train_step_batch32`: `forward_train::<32>`, softmax cross-entropy on the logits,
//!   `backward_logits` and one SGD update (time per iteration is time per step).
//!
//! Run: `cargo bench --bench models`, and with `RUSTFLAGS="-C target-cpu=native"` (in a separate
//! target directory) for the native figures. Under `cargo test --benches` criterion runs each
//! benchmark once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::prelude::*;

nn::network! {
    /// M1: the hls4ml jet tagger.
    pub struct M1 {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        out: Dense(5),
        Softmax,
    }
}

nn::network! {
    /// M2: the digits CNN.
    pub struct M2 {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), ReLU, MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1), ReLU, MaxPool2d(2),
        Flatten, fc: Dense(10), Softmax,
    }
}

nn::network! {
    /// M3: LeNet-5 style.
    pub struct M3 {
        input: [1, 28, 28],
        conv1: Conv2d(6, kernel = 5), ReLU, MaxPool2d(2),
        conv2: Conv2d(16, kernel = 5), ReLU, MaxPool2d(2),
        Flatten, fc1: Dense(120), ReLU, fc2: Dense(84), ReLU, fc3: Dense(10), Softmax,
    }
}

nn::network! {
    /// M4: the MNIST-1D CNN.
    pub struct M4 {
        input: [1, 40],
        conv1: Conv1d(32, kernel = 5, padding = 2), ReLU,
        conv2: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU,
        conv3: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU,
        Flatten, fc: Dense(10), Softmax,
    }
}

nn::network! {
    /// M2 with batch normalization after each convolution (for the folding benchmark).
    pub struct M2Bn {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d, ReLU, MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1, bias = false), bn2: BatchNorm2d, ReLU, MaxPool2d(2),
        Flatten, fc: Dense(10), Softmax,
    }
}

const SEED: u64 = 42;
const THROUGHPUT_BATCH: usize = 256;
const TRAIN_BATCH: usize = 32;

/// Deterministic inputs in [-2, 2) (a small LCG; the values only need to be ordinary floats).
fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
                })
                .collect()
        })
        .collect()
}

/// Measures (a), (b) and (c) for one model.
fn bench_model<N>(c: &mut Criterion, name: &str)
where
    N: Trainable + Clone,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let net = N::new(SEED);

    // (a) Batch-1 latency: slice -> checked input tensor -> forward (softmax included).
    {
        let slice: Vec<f32> = inputs(1, N::INPUT_LEN, SEED).remove(0);
        let mut g = c.benchmark_group(name);
        g.bench_function("a_latency_batch1", |b| {
            b.iter(|| {
                let x = nn::Input::<N>::try_from(black_box(&slice[..])).unwrap();
                black_box(net.forward(&x))
            })
        });
        g.finish();
    }

    // (b) Batch-256 throughput: `forward_batch` on 256 prepared inputs.
    {
        let xs: Vec<nn::Input<N>> = inputs(THROUGHPUT_BATCH, N::INPUT_LEN, SEED + 1)
            .iter()
            .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap())
            .collect();
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(THROUGHPUT_BATCH as u64));
        let mut ys = vec![nn::Output::<N>::zeros(); THROUGHPUT_BATCH];
        g.bench_function("b_throughput_batch256", |b| {
            b.iter(|| {
                net.forward_batch(black_box(&xs), &mut ys)
                    .expect("as many outputs as inputs");
                black_box(&ys);
            })
        });
        g.finish();
    }

    // (c) One training step at batch 32: forward, cross-entropy on the logits, backward, SGD.
    {
        let mut net = net.clone();
        let x: nn::Batch<N::InputShape, TRAIN_BATCH> = nn::batch_from(
            inputs(TRAIN_BATCH, N::INPUT_LEN, SEED + 2)
                .iter()
                .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap()),
        );
        // The labels rotate every step, so the network cannot memorize the fixed batch: the loss
        // stays near ln(classes) and the gradients stay ordinary, so the run is stationary. With
        // fixed labels the batch is memorized, the gradients shrink by orders of magnitude and
        // the step time drifts (61 -> 89 us over 300k steps in a test on M1).
        let mut targets: Vec<usize> = (0..TRAIN_BATCH).map(|i| i % N::OUTPUT_LEN).collect();
        let mut step = 0usize;
        let mut grad = nn::zeroed_batch::<N::OutputShape, TRAIN_BATCH>();
        let mut sgd = Sgd::new(0.01);
        let loss_fn = nn::CrossEntropy;
        let mut g = c.benchmark_group(name);
        g.bench_function("c_train_step_batch32", |b| {
            b.iter(|| {
                step += 1;
                for (i, t) in targets.iter_mut().enumerate() {
                    *t = (i + step) % N::OUTPUT_LEN;
                }
                let cache = net.forward_train::<TRAIN_BATCH>(black_box(&x));
                let logits = N::cache_logits(&cache);
                let loss = loss_fn.loss_grad(&logits[..], &targets, &mut grad[..]);
                let (grads, _dx) = net.backward_logits(&cache, &grad);
                sgd.step(&mut net, &grads);
                black_box(loss)
            })
        });
        g.finish();
    }
}

/// Batch-1 latency of M2 with batch norm, as declared and with the batch norms folded into the
/// convolutions (`M2Bn::fold`).
fn folding(c: &mut Criterion) {
    let net = M2Bn::new(SEED);
    let folded = net.fold();
    let slice: Vec<f32> = inputs(1, M2Bn::INPUT_LEN, SEED).remove(0);
    let mut g = c.benchmark_group("M2bn");
    g.bench_function("a_latency_unfolded", |b| {
        b.iter(|| {
            let x = nn::Input::<M2Bn>::try_from(black_box(&slice[..])).unwrap();
            black_box(net.forward(&x))
        })
    });
    g.bench_function("a_latency_folded", |b| {
        b.iter(|| {
            let x = nn::Input::<M2Bn>::try_from(black_box(&slice[..])).unwrap();
            black_box(folded.forward(&x))
        })
    });
    g.finish();
}

fn models(c: &mut Criterion) {
    bench_model::<M1>(c, "M1");
    bench_model::<M2>(c, "M2");
    bench_model::<M3>(c, "M3");
    bench_model::<M4>(c, "M4");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = models, folding
}
criterion_main!(benches);
