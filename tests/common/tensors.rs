//! Random tensors and batches, flattening to f64, and moving one parameter.

use nn::{ParamId, Parameters, Rng, Shape, Tensor};

/// A tensor of independent `N(0, scale^2)` values, drawn in storage order.
pub fn normal_tensor<S: Shape>(rng: &mut Rng, scale: f32) -> Tensor<S> {
    Tensor::from_fn(|_| rng.normal() * scale)
}

/// `n` tensors of [`normal_tensor`] values.
pub fn normal_batch<S: Shape>(rng: &mut Rng, n: usize, scale: f32) -> Vec<Tensor<S>> {
    (0..n).map(|_| normal_tensor(rng, scale)).collect()
}

/// A batch of `B` tensors of [`normal_tensor`] values, as an array (a network input batch).
pub fn normal_array<S: Shape, const B: usize>(rng: &mut Rng, scale: f32) -> [Tensor<S>; B] {
    std::array::from_fn(|_| normal_tensor(rng, scale))
}

/// The values of a batch of tensors, sample after sample, as f64.
pub fn flat<S: Shape>(t: &[Tensor<S>]) -> Vec<f64> {
    t.iter()
        .flat_map(|t| t.as_slice().iter().map(|&v| v as f64))
        .collect()
}

/// Every parameter (or gradient) value in `visit` order, as f64.
pub fn flat_params<P: Parameters>(p: &P) -> Vec<f64> {
    let mut out = Vec::new();
    p.visit("", &mut |_, vals| {
        out.extend(vals.iter().map(|&v| v as f64))
    });
    out
}

/// Visited tensors: (id, values as f64).
pub fn tensors_of<P: Parameters>(p: &P) -> Vec<(ParamId, Vec<f64>)> {
    let mut out = Vec::new();
    p.visit("", &mut |id, v| {
        out.push((id, v.iter().map(|&x| x as f64).collect()))
    });
    out
}

/// A copy of `p` with its `k`-th scalar (in `visit_mut` order) moved by `delta`, and the new
/// value (after f32 rounding: the step actually taken is `new - old`).
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
