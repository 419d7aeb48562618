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
use nn_models::bench::{
    self, LR, SEED, THROUGHPUT_BATCH, THROUGHPUT_SEED, TRAIN_BATCH, TRAIN_SEED,
};

// The reference models, declared once in `nn-models` (M1-M4 of `shared/MODELS.md`).
nn_models::m1! { pub struct M1 }
nn_models::m2! { pub struct M2 }
nn_models::m3! { pub struct M3 }
nn_models::m4! { pub struct M4 }

nn::network! {
    /// M2 with batch normalization after each convolution (for the folding benchmark).
    pub struct M2Bn {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d, ReLU, MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1, bias = false), bn2: BatchNorm2d, ReLU, MaxPool2d(2),
        Flatten, fc: Dense(10), Softmax,
    }
}

/// `n` deterministic inputs of `len` values in [-2, 2): consecutive runs of
/// `nn_models::bench::Inputs` (as nn-bench cuts them).
fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut values = bench::Inputs::new(seed);
    (0..n)
        .map(|_| values.by_ref().take(len).collect())
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
        let xs: Vec<nn::Input<N>> = inputs(THROUGHPUT_BATCH, N::INPUT_LEN, THROUGHPUT_SEED)
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
            inputs(TRAIN_BATCH, N::INPUT_LEN, TRAIN_SEED)
                .iter()
                .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap()),
        );
        // The labels rotate every step (`bench::label`), so the run stays stationary.
        let mut targets: Vec<usize> = (0..TRAIN_BATCH)
            .map(|i| bench::label(i, 0, N::OUTPUT_LEN))
            .collect();
        let mut step = 0usize;
        let mut grad = nn::zeroed_batch::<N::OutputShape, TRAIN_BATCH>();
        let mut sgd = Sgd::new(LR as f32);
        let loss_fn = nn::CrossEntropy;
        let mut g = c.benchmark_group(name);
        g.bench_function("c_train_step_batch32", |b| {
            b.iter(|| {
                step += 1;
                for (i, t) in targets.iter_mut().enumerate() {
                    *t = bench::label(i, step, N::OUTPUT_LEN);
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
