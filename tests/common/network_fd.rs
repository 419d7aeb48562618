//! Whole generated networks against finite differences, with [`check_scaled`]'s tolerance:
//! every parameter gradient and the input gradient of an [`Objective`] are compared with
//! Richardson-extrapolated central differences of the objective. Every evaluation runs on a
//! **clone** of the network in training mode (batch norm uses and moves batch statistics,
//! dropout draws from the network's generator, which the clone copies, so every evaluation sees
//! the same mask).

use std::collections::BTreeMap;

use nn::softmax_cross_entropy;
use nn::{CrossEntropy, Input, Loss, Network, Shape, Tensor, Trainable};

use super::{check_scaled, dot, flat, perturbed, richardson_within_kinks, tensors_of, Row};

/// The batch size of the network checks.
pub const B: usize = 4;

/// What is differentiated.
pub enum Objective<N: Network> {
    /// `J = sum y g` on the network outputs, gradient by `Trainable::backward`.
    Dot(Vec<Tensor<N::OutputShape>>),
    /// Mean cross-entropy on the logits, in f64 (the library's formula instantiated in f64,
    /// from the f32 logits, which removes the f32 rounding of the loss itself); gradient by
    /// `Loss::loss_grad` (CrossEntropy, f32) + `backward_logits`, as `Trainer` does.
    CrossEntropy([usize; B]),
}

/// The objective of a training pass on a clone of `net`.
pub fn objective<N: Trainable>(net: &N, x: &[Input<N>; B], obj: &Objective<N>) -> f64 {
    let cache = net.clone().forward_train::<B>(x);
    match obj {
        Objective::Dot(g) => dot(&N::cache_output(&cache)[..], g),
        Objective::CrossEntropy(labels) => {
            let mut scratch = vec![0.0f64; <N::OutputShape as Shape>::LEN];
            N::cache_logits(&cache)
                .iter()
                .zip(labels)
                .map(|(z, &t)| {
                    let z: Vec<f64> = z.as_slice().iter().map(|&v| v as f64).collect();
                    softmax_cross_entropy(&z, t, &mut scratch)
                })
                .sum::<f64>()
                / B as f64
        }
    }
}

/// The kink state of a network on a batch (ReLU signs, max-pool argmaxes, as numbers) and the
/// distance of the nearest kink.
pub type Pattern<N> = dyn Fn(&N, &[Input<N>; B]) -> (Vec<u32>, f32);

/// How the steps of the differences are chosen.
pub enum Steps<'a, N: Network> {
    /// A smooth network: Richardson with this step.
    Smooth(f32),
    /// A network with kinks: Richardson with the largest of `steps` (largest first) whose four
    /// evaluations keep `pattern` equal to its value at the unmoved point.
    Kinked {
        pattern: &'a Pattern<N>,
        steps: &'a [f32],
    },
}

/// Asserts that the logits cached by a training pass equal `forward_logits` sample by sample,
/// up to `rtol * (1 + |forward|)` (the batched dense product sums in another order than one
/// sample). Only for networks whose training pass is their inference (no batch norm, dropout).
pub fn assert_cached_logits_match_forward<N: Trainable>(
    label: &str,
    net: &N,
    x: &[Input<N>; B],
    rtol: f32,
) {
    let cache = net.clone().forward_train::<B>(x);
    for (logits, x) in N::cache_logits(&cache).iter().zip(x) {
        let one = net.forward_logits(x);
        for (a, b) in logits.as_slice().iter().zip(one.as_slice()) {
            assert!(
                (a - b).abs() <= rtol * (1.0 + b.abs()),
                "{label}: cached logits {logits:?} vs forward_logits {one:?}"
            );
        }
    }
}

/// Checks every parameter gradient (per tensor) and the input gradient of `obj` with
/// [`check_scaled`]. Also asserts that the f32 loss of `loss_grad` equals the f64 objective
/// within f32 rounding (cross-entropy), that two training passes from the same state give the
/// same objective, and that the network and its gradient struct visit the same tensors.
pub fn check_network_scaled<N: Trainable>(
    class: &'static str,
    label: &str,
    net: &N,
    x: &[Input<N>; B],
    obj: &Objective<N>,
    steps: Steps<N>,
) -> Vec<Row> {
    // Analytic gradients, on a clone (forward_train moves running statistics and the dropout
    // generator).
    let mut trained = net.clone();
    let cache = trained.forward_train::<B>(x);
    let (grads, dx) = match obj {
        Objective::Dot(g) => {
            let g: [Tensor<N::OutputShape>; B] = std::array::from_fn(|b| g[b].clone());
            net.backward(&cache, &g)
        }
        Objective::CrossEntropy(labels) => {
            let mut d = nn::zeroed_batch::<N::OutputShape, B>();
            let loss32 = CrossEntropy.loss_grad(&N::cache_logits(&cache)[..], labels, &mut d[..]);
            let loss64 = objective(net, x, obj);
            assert!(
                (loss32 as f64 - loss64).abs() <= 1e-6 * loss64.abs().max(1.0),
                "{label}: f32 loss {loss32} vs f64 loss {loss64}"
            );
            net.backward_logits(&cache, &d)
        }
    };
    // The same state gives the same training pass: the objective is a function of the network.
    assert_eq!(
        objective(net, x, obj),
        objective(net, x, obj),
        "{label}: two training passes from the same state differ"
    );
    let (candidates, pattern): (&[f32], Option<&Pattern<N>>) = match &steps {
        Steps::Smooth(h) => (std::slice::from_ref(h), None),
        Steps::Kinked { pattern, steps } => (steps, Some(*pattern)),
    };
    let base = pattern.map(|p| p(net, x));
    let keeps = |n: &N, x: &[Input<N>; B]| match (pattern, &base) {
        (Some(p), Some(b)) => p(n, x).0 == b.0,
        _ => true,
    };

    // The network's parameters (visit order) and the gradient struct's tensors agree.
    let g_tensors = tensors_of(&*grads);
    let mut net_ids = Vec::new();
    net.visit("", &mut |id, v| net_ids.push((id, v.len())));
    assert_eq!(
        net_ids,
        g_tensors
            .iter()
            .map(|(id, v)| (*id, v.len()))
            .collect::<Vec<_>>(),
        "{label}: network and gradients visit different tensors"
    );
    assert_eq!(net_ids.iter().map(|(_, n)| n).sum::<usize>(), N::PARAMS);

    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut fd = Vec::with_capacity(N::PARAMS);
    for k in 0..N::PARAMS {
        let (v, h) =
            richardson_within_kinks(&format!("{label}: parameter {k}"), candidates, &|delta| {
                let (np, v) = perturbed(net, k, delta);
                keeps(&np, x).then(|| (objective(&np, x, obj), v as f64))
            });
        fd.push(v);
        *used.entry(format!("{h:e}")).or_default() += 1;
    }
    let mut rows = Vec::new();
    let mut start = 0;
    for (id, a) in &g_tensors {
        rows.push(check_scaled(
            class,
            &format!("{label}: {}.{}", id.layer, id.name),
            a,
            &fd[start..start + a.len()],
        ));
        start += a.len();
    }
    let mut fd_x = Vec::new();
    for b in 0..B {
        for j in 0..<N::InputShape as Shape>::LEN {
            let (v, h) = richardson_within_kinks(
                &format!("{label}: input [{b}][{j}]"),
                candidates,
                &|delta| {
                    let mut xp = x.clone();
                    xp[b][j] += delta;
                    keeps(net, &xp).then(|| (objective(net, &xp, obj), xp[b][j] as f64))
                },
            );
            fd_x.push(v);
            *used.entry(format!("{h:e}")).or_default() += 1;
        }
    }
    rows.push(check_scaled(
        class,
        &format!("{label}: input"),
        &flat(&dx[..]),
        &fd_x,
    ));
    println!(
        "{label}: {} parameters, objective {:.6}, {}Richardson steps used (h: count) {used:?}",
        N::PARAMS,
        objective(net, x, obj),
        match &base {
            Some((p, m)) => format!("{} kink states guarded, kink margin {m:.2e}, ", p.len()),
            None => String::new(),
        }
    );
    rows
}
