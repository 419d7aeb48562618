//! Finite differences.
//!
//! A scalar function is given as `eval(delta) = (J(v + delta), v + delta)`: the objective after
//! moving one input or parameter `v` by `delta` in f32, and the value actually reached. The
//! denominator of every difference is the step actually taken after f32 rounding.
//!
//! For layers, the objective is `J = sum_b sum_i y[b][i] g[b][i]` (random upstream `g`),
//! accumulated in f64 from the f32 outputs `y`; its gradient is what `backward_batch` computes
//! from `dy = g`. [`Forward`] says which forward pass produces `y`.

use nn::{Layer, Parameters, Shape, Tensor};

use super::perturbed;

/// The step of the layer finite differences.
pub const H_LAYER: f32 = 1e-2;

/// Central difference of `eval` with step `h`: `(J(v + h) - J(v - h)) / step taken`.
pub fn central(eval: &dyn Fn(f32) -> (f64, f64), h: f32) -> f64 {
    let (p, m) = (eval(h), eval(-h));
    (p.0 - m.0) / (p.1 - m.1)
}

/// Richardson-extrapolated central difference `(4 D(h/2) - D(h)) / 3`, which cancels the `h^2`
/// truncation term of the central difference `D`.
pub fn richardson(eval: &dyn Fn(f32) -> (f64, f64), h: f32) -> f64 {
    (4.0 * central(eval, h / 2.0) - central(eval, h)) / 3.0
}

/// [`richardson`] with the largest step of `steps` (largest first) whose four evaluations
/// (`+-h`, `+-h/2`) keep every kink state: `eval` returns `None` when a move by `delta` changes
/// one (a ReLU sign, a max-pool argmax). Returns the derivative and the step used; panics when
/// no step keeps the kinks (a test setup problem, not a gradient error).
pub fn richardson_within_kinks(
    label: &str,
    steps: &[f32],
    eval: &dyn Fn(f32) -> Option<(f64, f64)>,
) -> (f64, f32) {
    for &h in steps {
        let pts = [eval(h), eval(-h), eval(h / 2.0), eval(-h / 2.0)];
        if let [Some(p), Some(m), Some(p2), Some(m2)] = pts {
            let d1 = (p.0 - m.0) / (p.1 - m.1);
            let d2 = (p2.0 - m2.0) / (p2.1 - m2.1);
            return ((4.0 * d2 - d1) / 3.0, h);
        }
    }
    panic!(
        "{label}: even a step of {} changes a kink state (a ReLU sign or a max-pool argmax; \
         test setup, not a gradient error)",
        steps[steps.len() - 1] / 2.0
    );
}

/// `sum_b sum_i y[b][i] g[b][i]` in f64.
pub fn dot<S: Shape>(y: &[Tensor<S>], g: &[Tensor<S>]) -> f64 {
    y.iter()
        .zip(g)
        .flat_map(|(y, g)| y.as_slice().iter().zip(g.as_slice()))
        .map(|(&y, &g)| y as f64 * g as f64)
        .sum()
}

/// Which forward pass the layer objective differentiates.
#[derive(Clone, Copy, Debug)]
pub enum Forward {
    /// `Layer::forward_batch` over the batch (`gradcheck`: the batched kernels that
    /// `backward_batch` belongs to).
    Batch,
    /// `Layer::forward`, one sample at a time (`gradcheck_conv`, the inference form of batch
    /// norm in `gradcheck_deep`).
    PerSample,
}

/// The layer objective `J = sum y g`, from the f32 outputs of `forward`.
pub fn layer_objective<I: Shape, O: Shape, L: Layer<I, O>>(
    layer: &L,
    x: &[Tensor<I>],
    g: &[Tensor<O>],
    forward: Forward,
) -> f64 {
    let y: Vec<Tensor<O>> = match forward {
        Forward::Batch => {
            let mut y = vec![Tensor::<O>::zeros(); x.len()];
            layer.forward_batch(x, &mut y);
            y
        }
        Forward::PerSample => x
            .iter()
            .map(|x| {
                let mut y = Tensor::<O>::zeros();
                layer.forward(x, &mut y);
                y
            })
            .collect(),
    };
    dot(&y, g)
}

/// Analytic dx and parameter gradient: `forward_batch`, then `backward_batch` with upstream `g`
/// into zeroed `dx` and a default gradient.
pub fn layer_backward<I: Shape, O: Shape, L: Layer<I, O>>(
    layer: &L,
    x: &[Tensor<I>],
    g: &[Tensor<O>],
) -> (Vec<Tensor<I>>, L::Grad) {
    let mut y = vec![Tensor::<O>::zeros(); x.len()];
    layer.forward_batch(x, &mut y);
    let mut dx = vec![Tensor::<I>::zeros(); x.len()];
    let mut grad = L::Grad::default();
    layer.backward_batch(x, &y, g, &mut dx, &mut grad);
    (dx, grad)
}

/// Central differences (step [`H_LAYER`]) of the layer objective with respect to every input
/// value, sample after sample.
pub fn layer_fd_inputs<I: Shape, O: Shape, L: Layer<I, O>>(
    layer: &L,
    x: &[Tensor<I>],
    g: &[Tensor<O>],
    forward: Forward,
) -> Vec<f64> {
    let mut out = Vec::new();
    for b in 0..x.len() {
        for j in 0..I::LEN {
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            xp[b][j] += H_LAYER;
            xm[b][j] -= H_LAYER;
            let step = xp[b][j] as f64 - xm[b][j] as f64;
            out.push(
                (layer_objective(layer, &xp, g, forward) - layer_objective(layer, &xm, g, forward))
                    / step,
            );
        }
    }
    out
}

/// Central differences (step [`H_LAYER`]) of the layer objective with respect to every
/// parameter, in `visit` order.
pub fn layer_fd_params<I: Shape, O: Shape, L: Layer<I, O> + Parameters>(
    layer: &L,
    x: &[Tensor<I>],
    g: &[Tensor<O>],
    forward: Forward,
) -> Vec<f64> {
    (0..L::COUNT)
        .map(|k| {
            let (lp, vp) = perturbed(layer, k, H_LAYER);
            let (lm, vm) = perturbed(layer, k, -H_LAYER);
            (layer_objective(&lp, x, g, forward) - layer_objective(&lm, x, g, forward))
                / (vp as f64 - vm as f64)
        })
        .collect()
}
