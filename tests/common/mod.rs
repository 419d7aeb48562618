//! Shared by the gradient-check suites: the comparison of an analytic gradient with finite
//! differences (with a negative control), and small helpers.
#![allow(dead_code)]

pub mod fixtures;

use nn::{ParamId, Parameters, Rng, Shape, Tensor};

/// Tolerance relative to the tensor's gradient scale (largest |fd|).
pub const TOL: f64 = 2e-3;

/// The outcome of one comparison (one gradient tensor).
#[derive(Clone, Debug)]
pub struct Row {
    pub class: &'static str,
    pub label: String,
    pub n: usize,
    /// Largest |fd|.
    pub scale: f64,
    pub max_abs: f64,
    /// max |analytic - fd| / scale (must be <= TOL).
    pub max_over_scale: f64,
    /// Largest relative error over entries with |fd| >= 0.01 scale.
    pub max_rel: f64,
}

impl Row {
    pub fn print(&self) {
        println!(
            "[{}] {}: {} values, scale {:.3e}, max abs err {:.3e}, max err/scale {:.3e} (tol {TOL:e}), max rel err {:.3e}",
            self.class, self.label, self.n, self.scale, self.max_abs, self.max_over_scale, self.max_rel
        );
    }
}

/// `max |a - b|` and its index.
pub fn max_diff(a: &[f64], b: &[f64]) -> (f64, usize) {
    let mut worst = (0.0f64, 0usize);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.is_finite() && y.is_finite(),
            "non-finite at {i}: {x} vs {y}"
        );
        let d = (x - y).abs();
        if d > worst.0 {
            worst = (d, i);
        }
    }
    worst
}

/// Asserts `|analytic - fd| <= TOL * scale` and that 1 % errors are rejected.
pub fn check(class: &'static str, label: &str, analytic: &[f64], fd: &[f64]) -> Row {
    assert_eq!(analytic.len(), fd.len(), "{label}: length mismatch");
    assert!(!fd.is_empty(), "{label}: nothing to compare");
    let scale = fd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        scale > 1e-3,
        "{label}: gradient scale {scale:e} too small for a meaningful check"
    );
    let (max_abs, i) = max_diff(analytic, fd);
    let max_rel = analytic
        .iter()
        .zip(fd)
        .filter(|(_, f)| f.abs() >= 0.01 * scale)
        .map(|(a, f)| (a - f).abs() / f.abs())
        .fold(0.0f64, f64::max);
    let row = Row {
        class,
        label: label.to_string(),
        n: fd.len(),
        scale,
        max_abs,
        max_over_scale: max_abs / scale,
        max_rel,
    };
    row.print();
    assert!(
        max_abs <= TOL * scale,
        "{label}: gradient mismatch at index {i}: analytic {} vs finite difference {} \
         (|diff| {max_abs:.3e} > {TOL} * scale {scale:.3e})",
        analytic[i],
        fd[i]
    );
    // Negative control 1: every entry 1 % off.
    let scaled: Vec<f64> = analytic.iter().map(|a| a * 1.01).collect();
    let (e1, _) = max_diff(&scaled, fd);
    assert!(
        e1 > TOL * scale,
        "{label}: the check cannot see a 1% error of all entries ({e1:.3e} <= {:.3e})",
        TOL * scale
    );
    // Negative control 2: only the largest entry 1 % off.
    let big = fd
        .iter()
        .enumerate()
        .fold(0, |b, (j, v)| if v.abs() > fd[b].abs() { j } else { b });
    let mut one = analytic.to_vec();
    one[big] *= 1.01;
    let (e2, _) = max_diff(&one, fd);
    assert!(
        e2 > TOL * scale,
        "{label}: the check cannot see a 1% error of one entry ({e2:.3e} <= {:.3e})",
        TOL * scale
    );
    row
}

pub fn normal_batch<S: Shape>(rng: &mut Rng, n: usize, scale: f32) -> Vec<Tensor<S>> {
    (0..n)
        .map(|_| Tensor::from_fn(|_| rng.normal() * scale))
        .collect()
}

pub fn flat<S: Shape>(t: &[Tensor<S>]) -> Vec<f64> {
    t.iter()
        .flat_map(|t| t.as_slice().iter().map(|&v| v as f64))
        .collect()
}

/// A copy of `p` with its `k`-th scalar (in `visit_mut` order) moved by `delta`, and the new
/// value.
pub fn perturbed<P: Parameters>(p: &P, k: usize, delta: f32) -> (P, f32) {
    let mut q = p.clone();
    let mut idx = 0usize;
    let mut value = f32::NAN;
    q.visit_mut("", &mut |_, vals| {
        for v in vals.iter_mut() {
            if idx == k {
                *v += delta;
                value = *v;
            }
            idx += 1;
        }
    });
    assert!(idx > k, "parameter index {k} out of range ({idx})");
    (q, value)
}

/// Visited tensors: (id, values as f64).
pub fn tensors_of<P: Parameters>(p: &P) -> Vec<(ParamId, Vec<f64>)> {
    let mut out = Vec::new();
    p.visit("", &mut |id, v| {
        out.push((id, v.iter().map(|&x| x as f64).collect()))
    });
    out
}
