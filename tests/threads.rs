//! `nn::set_threads`: batched inference gives the same bits for any thread count; a training
//! step gives the same input gradients for any thread count and the same bits on every run with
//! a given count; `Trainer::fit` is reproducible with threads.
//!
//! The thread count is process-wide, so every test here takes `LOCK` (this file is its own test
//! binary: the other tests run with the default of one thread).

use std::sync::Mutex;

use nn::{CrossEntropy, Dataset, Loss, Network, Parameters, Sgd, Trainable, Trainer};

static LOCK: Mutex<()> = Mutex::new(());

nn_models::m2! { pub struct M2 }
nn_models::m4! { pub struct M4 }

nn::network! {
    /// A network over the stack budget (its `forward_batch` runs with a workspace per thread),
    /// with dense layers big enough that their batched products are split over threads.
    pub struct Wide {
        input: [1, 64, 64],
        conv: Conv2d(16, kernel = 3, padding = 1), ReLU,
        MaxPool2d(4),
        Flatten,
        fc1: Dense(256), ReLU,
        fc2: Dense(10),
        Softmax,
    }
}

/// Deterministic inputs in [-1, 1).
fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = nn::Rng::new(seed);
    (0..n)
        .map(|_| (0..len).map(|_| 2.0 * rng.uniform() - 1.0).collect())
        .collect()
}

/// `forward_batch` of `net` on `n` samples with `threads` threads, as flat outputs.
fn batch_outputs<N: Network>(
    net: &N,
    n: usize,
    threads: usize,
    run: impl Fn(&N, &[nn::Input<N>], &mut [nn::Output<N>]),
) -> Vec<f32> {
    let xs: Vec<nn::Input<N>> = inputs(n, N::INPUT_LEN, 3)
        .iter()
        .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap())
        .collect();
    let mut ys = vec![nn::Output::<N>::zeros(); n];
    nn::set_threads(threads);
    run(net, &xs, &mut ys);
    nn::set_threads(1);
    ys.iter().flat_map(|y| y.as_slice().to_vec()).collect()
}

#[test]
fn forward_batch_gives_the_same_bits_for_any_thread_count() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let m2 = M2::new(1);
    let one = batch_outputs(&m2, 256, 1, |n, x, y| n.forward_batch(x, y).unwrap());
    for t in [2, 3, 0] {
        let many = batch_outputs(&m2, 256, t, |n, x, y| n.forward_batch(x, y).unwrap());
        assert_eq!(one, many, "M2 with {t} threads");
    }
    let wide = Wide::new(2);
    const {
        assert!(
            Wide::WORKSPACE_BYTES > 0,
            "Wide must be over the stack budget"
        )
    };
    let one = batch_outputs(&wide, 40, 1, |n, x, y| n.forward_batch(x, y).unwrap());
    let two = batch_outputs(&wide, 40, 2, |n, x, y| n.forward_batch(x, y).unwrap());
    assert_eq!(one, two, "Wide (workspace) with 2 threads");
    // The outputs are real: probabilities, not zeros left by a part that did not run.
    for y in two.chunks(10) {
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{y:?}");
    }
}

/// One training step of `net` at batch 32 with `threads` threads: the flat parameter gradients
/// and input gradients.
fn step<N: Trainable + Clone>(net: &N, threads: usize) -> (Vec<f32>, Vec<f32>) {
    let mut net = net.clone();
    let x: nn::Batch<N::InputShape, 32> = nn::batch_from(
        inputs(32, N::INPUT_LEN, 5)
            .iter()
            .map(|v| nn::Input::<N>::try_from(&v[..]).unwrap()),
    );
    let targets: Vec<usize> = (0..32).map(|i| i % N::OUTPUT_LEN).collect();
    nn::set_threads(threads);
    let cache = net.forward_train(&x);
    let mut d = nn::zeroed_batch::<N::OutputShape, 32>();
    CrossEntropy.loss_grad(&N::cache_logits(&cache)[..], &targets, &mut d[..]);
    let (grads, dx) = net.backward_logits(&cache, &d);
    nn::set_threads(1);
    let mut g = Vec::new();
    grads.visit("", &mut |_, v| g.extend_from_slice(v));
    let dx = dx.iter().flat_map(|t| t.as_slice().to_vec()).collect();
    (g, dx)
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * scale,
            "{what}[{i}]: {x} vs {y} (largest {scale})"
        );
    }
}

fn training_step_checks<N: Trainable + Clone>(net: &N, name: &str) {
    let (g1, dx1) = step(net, 1);
    let (g2, dx2) = step(net, 2);
    let (g2b, dx2b) = step(net, 2);
    assert!(g1.iter().any(|&v| v != 0.0), "{name}: gradients are zero");
    // Input gradients: each sample by one thread, as on one thread.
    assert_eq!(dx1, dx2, "{name}: input gradients with 2 threads");
    // Parameter gradients: per-part sums added in order, equal up to rounding ...
    close(&g1, &g2, &format!("{name} gradients, 1 vs 2 threads"));
    // ... and the same bits on every run with the same thread count.
    assert_eq!(g2, g2b, "{name}: two runs with 2 threads");
    assert_eq!(dx2, dx2b);
}

#[test]
fn a_training_step_is_deterministic_for_a_thread_count() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    training_step_checks(&M2::new(4), "M2");
    training_step_checks(&M4::new(4), "M4");
    training_step_checks(&Wide::new(4), "Wide");
}

#[test]
fn fit_with_threads_is_reproducible_and_learns() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let xs = inputs(256, M2::INPUT_LEN, 9);
    // A learnable rule: the class is the quadrant of the first two pixels' signs.
    let ys: Vec<usize> = xs
        .iter()
        .map(|v| (v[0] > 0.0) as usize + 2 * (v[1] > 0.0) as usize)
        .collect();
    let data = Dataset::new(
        xs.iter()
            .map(|v| nn::Input::<M2>::try_from(&v[..]).unwrap())
            .collect(),
        ys,
    )
    .unwrap();
    let run = |threads: usize| {
        let mut net = M2::new(11);
        nn::set_threads(threads);
        let history = Trainer::new(Sgd::new(0.05), CrossEntropy)
            .batch_size::<32>()
            .epochs(8)
            .seed(3)
            .fit(&mut net, &data, None)
            .unwrap();
        nn::set_threads(1);
        let mut params = Vec::new();
        net.visit("", &mut |_, v| params.extend_from_slice(v));
        (history, params)
    };
    let (h1, p1) = run(2);
    let (h2, p2) = run(2);
    assert_eq!(p1, p2, "two fits with 2 threads");
    let losses: Vec<f32> = h1.epochs.iter().map(|e| e.train_loss).collect();
    assert_eq!(
        losses,
        h2.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>()
    );
    assert!(
        losses.last().unwrap() < &(losses[0] * 0.8),
        "the loss falls: {losses:?}"
    );
}
