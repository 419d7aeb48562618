//! Finite-difference gradient checks.
//!
//! Three precisions are involved, and each check says which one it uses:
//!
//! * **Activations and the logit losses in f64.** `Activation::f`/`df`, `loss::bce_with_logits`
//!   and `loss::softmax_cross_entropy` are generic over `nn::math::Real`, so the very formulas the
//!   f32 network runs are evaluated in f64 here, and the analytic derivative is compared with a
//!   central difference `(f(x+h) - f(x-h)) / 2h`, `h = 1e-5`, of the same function in f64.
//!   Tolerance `|df - fd| <= 1e-7 |fd| + 1e-9`: the central difference has truncation error
//!   `h^2/6 |f'''| <= ~2e-10` and rounding error `~eps64 |f| / h <= ~2e-10` on the points used
//!   (`|x| <= 8`, so `|f| <= ~10`); `1e-9` bounds both, and `1e-7` relative is 500x above the
//!   f64 noise yet 100 000x below a 1 % error. One exception, GELU (erf form), uses
//!   `atol = 2e-8`: see `activation_gelu_exact` (f32-rounded constants).
//! * **Layer kernels (Dense, Softmax, PReLU) in f32.** `Layer::forward_batch`/`backward_batch` are
//!   f32-only. These checks are an f32 kernel against a finite difference whose objective
//!   `J = sum(y * g)` is accumulated in f64 from the f32 outputs `y`; the inputs are perturbed in
//!   f32 (`h = 1e-2`), and the step actually taken (`(x+h) - (x-h)` after f32 rounding) is the
//!   denominator. The f32 rounding of `y` (relative `~6e-8`) divided by `2h` gives an FD noise of
//!   `~1e-5` for `|y g| ~ 1`, and the truncation error (`h^2/6 |J'''|`) is `~2e-5` for softmax
//!   (zero for Dense and PReLU, which are affine in each input and parameter). Tolerance:
//!   `|analytic - fd| <= 1e-3 |fd| + 1e-4`, 5x above that noise and still sensitive to a 1 %
//!   error in gradients of size `>= ~0.01` (every check below has such entries).
//! * **Whole generated networks in f32.** `Trainable::backward`/`backward_logits` against finite
//!   differences of the f32 batch loss returned by `Loss::loss_grad` (converted to f64 before
//!   differencing): central differences with steps `2e-2` and `1e-2`, combined by Richardson
//!   extrapolation `(4 D(h/2) - D(h)) / 3`, which cancels the `h^2` truncation term (otherwise
//!   `~1e-3` relative through the tanh/GELU/Gaussian curvature at `h = 1e-2`) while keeping the
//!   steps large enough that the loss's f32 rounding (`~1e-7` of a loss of order 1, divided by
//!   the step) stays `~1e-5`. Same tolerance `1e-3 |fd| + 1e-4`; the largest normalized error
//!   observed is `~0.6` (NetKinks with MSE, whose loss and gradients are largest).
//!   Networks with kinked activations (PReLU, ELU(0.5), LeakyReLU) use a seed whose
//!   pre-activations all stay `>= 0.05` from the kink, and every perturbed evaluation asserts
//!   that no pre-activation changed sign.
//!
//! Every comparison reports its largest normalized error `|a - fd| / (atol + rtol |fd|)`, which
//! must be `<= 1`, and also re-runs the comparison with the analytic gradient scaled by 1.01,
//! which must be rejected: no tolerance here is loose enough to pass a 1 % gradient error.
//!
//! That comparison (`check_normalized`), the layer finite differences and the Richardson
//! extrapolation are in `tests/common`, shared with `gradcheck_conv` and `gradcheck_deep` (which
//! compare against the gradient's scale instead, `check_scaled`).

mod common;

use common::{
    assert_cached_logits_match_forward, check_normalized, flat, flat_params, layer_backward,
    layer_fd_inputs, layer_fd_params, max_normalized, normal_array, normal_tensor, perturbed,
    richardson, Forward, B,
};

use nn::typenum::{U1, U4, U5, U6, U7};
use nn::{bce_with_logits, softmax_cross_entropy};
use nn::{
    Activation, Batch, BinaryCrossEntropy, CrossEntropy, Dense, Input, Layer, Loss, Mse,
    Parameters, Rng, Shape, Shape1, Tensor, Trainable,
};
use nn::{SELU_ALPHA, SELU_LAMBDA};

// ---------------------------------------------------------------------------------------------
// Tolerances (of `check_normalized`)
// ---------------------------------------------------------------------------------------------

/// f64 checks of the generic formulas.
const RTOL_F64: f64 = 1e-7;
const ATOL_F64: f64 = 1e-9;
/// f32 kernels (layers, networks) against an f64-accumulated finite difference.
const RTOL_F32: f64 = 1e-3;
const ATOL_F32: f64 = 1e-4;

// ---------------------------------------------------------------------------------------------
// Activations: df against central differences of f, in f64
// ---------------------------------------------------------------------------------------------

const H_F64: f64 = 1e-5;

/// Points in [-8, 8], plus a few near 0, none within 10 h of the kink at 0.
fn activation_points() -> Vec<f64> {
    let mut xs: Vec<f64> = (0..=160).map(|k| -8.0 + 0.1 * k as f64 + 0.0137).collect();
    xs.extend([-0.3, -0.05, -0.01, -1e-3, 1e-3, 0.01, 0.05, 0.3]);
    xs.retain(|x| x.abs() > 10.0 * H_F64);
    xs
}

/// Analytic df and central differences of f over `xs`, both in f64.
fn activation_derivatives<A: Activation>(a: &A, xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let analytic = xs.iter().map(|&x| a.df(x, a.f(x))).collect();
    let fd = xs
        .iter()
        .map(|&x| (a.f(x + H_F64) - a.f(x - H_F64)) / (2.0 * H_F64))
        .collect();
    (analytic, fd)
}

fn check_activation<A: Activation>(label: &str, a: A) -> f64 {
    let xs = activation_points();
    let (analytic, fd) = activation_derivatives(&a, &xs);
    check_normalized(
        &format!("{label} ({}) f64", A::NAME),
        &analytic,
        &fd,
        RTOL_F64,
        ATOL_F64,
    )
}

#[test]
fn activation_identity() {
    check_activation("identity", nn::Identity);
}

#[test]
fn activation_step() {
    // Step is flat away from 0: df must be exactly 0, and so is every finite difference.
    let a = nn::Step;
    let xs = activation_points();
    let (analytic, fd) = activation_derivatives(&a, &xs);
    for ((x, d), f) in xs.iter().zip(&analytic).zip(&fd) {
        assert_eq!(*d, 0.0, "Step'({x})");
        assert_eq!(*f, 0.0, "Step finite difference at {x}");
    }
    assert_eq!(a.f(0.0f64), 1.0, "Step(0) = 1 (heaviside(x, 1))");
    assert_eq!(a.f(-1e-30f64), 0.0);
    assert_eq!(a.df(0.0f64, 1.0), 0.0, "Step'(0) = 0");
    assert_eq!(a.df(0.0f32, 1.0), 0.0, "Step'(0) = 0 in f32");
}

#[test]
fn activation_sigmoid() {
    check_activation("sigmoid", nn::Sigmoid);
}

#[test]
fn activation_tanh() {
    check_activation("tanh", nn::Tanh);
}

#[test]
fn activation_relu() {
    check_activation("relu", nn::ReLU);
}

/// GELU (erf form) needs `atol = 2e-8` instead of `1e-9`, because its f64 `f` and `df` do not
/// use the same constant: `f` evaluates `erf(x * c)` with `c = 1/sqrt(2)` rounded to f32
/// (`0.70710677`, relative error -1.7e-8), whose exact derivative has the Gaussian term
/// `x c/sqrt(pi) e^(-c^2 x^2)`, while `df` uses `INV_SQRT_2PI` rounded separately to f32
/// (`0.39894229`, +2.8e-8 relative, vs `c/sqrt(pi)` = 0.39894227, -1.7e-8) and `e^(-x^2/2)`.
/// The two Gaussian terms differ by `|x| phi(x) (4.6e-8 + 1.7e-8 x^2) <= 1.3e-8` on `|x| <= 8`
/// (e.g. at x = -0.7863, df = -0.0144272321 while the exact derivative of the implemented f is
/// -0.0144272241: 8.0e-9 apart, 5.6e-7 relative because GELU' crosses 0 near x = -0.75). `df`
/// itself is within 2.7e-9 of the true GELU' (checked below), so the mismatch is mostly `f`'s
/// rounded `c`. In f32 this is far below one ulp; it only limits the f64 instantiation to
/// ~1e-8 absolute.
#[test]
fn activation_gelu_exact() {
    let a = nn::GELU {
        tanh_approximation: false,
    };
    let xs = activation_points();
    let (analytic, fd) = activation_derivatives(&a, &xs);
    check_normalized("gelu exact (GELU) f64", &analytic, &fd, RTOL_F64, 2e-8);
    // And against the true GELU derivative Phi(x) + x phi(x) with f64 constants.
    let exact: Vec<f64> = xs
        .iter()
        .map(|&x| {
            let cdf = 0.5 * (1.0 + libm_erf(x / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            cdf + x * pdf
        })
        .collect();
    check_normalized(
        "gelu exact df vs Phi + x phi (f64 constants)",
        &analytic,
        &exact,
        RTOL_F64,
        2e-8,
    );
}

/// erf in f64 through the library's own `Real` (libm).
fn libm_erf(x: f64) -> f64 {
    nn::math::Real::erf(x)
}

#[test]
fn activation_gelu_tanh() {
    check_activation(
        "gelu tanh",
        nn::GELU {
            tanh_approximation: true,
        },
    );
}

#[test]
fn activation_softplus() {
    check_activation("softplus", nn::Softplus);
}

#[test]
fn activation_elu_alpha_1() {
    check_activation("elu alpha=1", nn::ELU { alpha: 1.0 });
}

#[test]
fn activation_elu_alpha_half() {
    check_activation("elu alpha=0.5", nn::ELU { alpha: 0.5 });
}

#[test]
fn activation_selu() {
    check_activation("selu", nn::SELU);
}

#[test]
fn activation_leaky_relu() {
    check_activation("leaky relu 0.01", nn::LeakyReLU { slope: 0.01 });
    check_activation("leaky relu 0.2", nn::LeakyReLU { slope: 0.2 });
}

#[test]
fn activation_prelu_dx() {
    check_activation("prelu 0.25", nn::PReLU::INIT);
    check_activation("prelu -0.3", nn::PReLU { alpha: -0.3 });
}

#[test]
fn activation_silu() {
    check_activation("silu", nn::SiLU);
}

#[test]
fn activation_gaussian() {
    check_activation("gaussian", nn::Gaussian);
}

/// The derivatives at kinks follow PyTorch (documented in `activation.rs`).
#[test]
fn activation_kink_values() {
    fn at0<A: Activation>(a: A) -> (f64, f32) {
        (a.df(0.0f64, a.f(0.0f64)), a.df(0.0f32, a.f(0.0f32)))
    }
    assert_eq!(at0(nn::ReLU), (0.0, 0.0), "ReLU'(0) = 0");
    assert_eq!(at0(nn::Step), (0.0, 0.0), "Step'(0) = 0");
    for slope in [0.01f32, 0.2] {
        assert_eq!(
            at0(nn::LeakyReLU { slope }),
            (slope as f64, slope),
            "LeakyReLU'(0) = slope"
        );
    }
    for alpha in [1.0f32, 0.5] {
        assert_eq!(
            at0(nn::ELU { alpha }),
            (alpha as f64, alpha),
            "ELU'(0) = alpha"
        );
    }
    assert_eq!(at0(nn::PReLU::INIT), (0.25, 0.25), "PReLU'(0) = a");
    let (selu64, selu32) = at0(nn::SELU);
    assert_eq!(selu64, SELU_LAMBDA * SELU_ALPHA);
    // PyTorch's constants are 1.0507009873554805 and 1.6732632423543772; the library stores them
    // as f32 (relative rounding <= 6e-8 each), so compare the product to 2e-7 relative.
    let exact = 1.0507009873554805f64 * 1.6732632423543772;
    assert!(
        (selu64 - exact).abs() <= 2e-7 * exact,
        "SELU'(0) = lambda alpha: {selu64} vs {exact}"
    );
    assert!(
        ((selu32 as f64) - exact).abs() <= 2e-7 * exact,
        "f32 SELU'(0) = {selu32}"
    );
    // Values at 0 are 0 for every rectifier (and continuous there).
    assert_eq!(nn::ReLU.f(0.0f64), 0.0);
    assert_eq!(nn::LeakyReLU { slope: 0.2 }.f(0.0f64), 0.0);
    assert_eq!(nn::ELU { alpha: 0.5 }.f(0.0f64), 0.0);
    assert_eq!(nn::SELU.f(0.0f64), 0.0);
    assert_eq!(nn::PReLU::INIT.f(0.0f64), 0.0);
    // Each kink derivative equals the left one-sided limit (PyTorch's choice for these).
    assert_eq!(nn::ELU { alpha: 0.5 }.df(-1e-300f64, 0.0), 0.5);
    assert_eq!(
        nn::LeakyReLU { slope: 0.2 }.df(-1e-30f64, 0.0),
        0.2f32 as f64
    );
}

/// The f32 derivatives agree with the f64 ones (the network runs the f32 instantiation).
#[test]
fn activation_f32_matches_f64() {
    fn compare<A: Activation>(label: &str, a: A) -> f64 {
        let mut worst = 0.0f64;
        for x in activation_points() {
            let x32 = x as f32;
            let x = x32 as f64;
            let d64 = a.df(x, a.f(x));
            let d32 = a.df(x32, a.f(x32)) as f64;
            let f64v = a.f(x);
            let f32v = a.f(x32) as f64;
            // f32: a few ulps of the largest intermediate; 1e-5 relative + 1e-6 absolute.
            let e = ((d32 - d64).abs() / (1e-6 + 1e-5 * d64.abs()))
                .max((f32v - f64v).abs() / (1e-6 + 1e-5 * f64v.abs()));
            assert!(
                e <= 1.0,
                "{label}: f32 vs f64 at x = {x}: f {f32v} vs {f64v}, df {d32} vs {d64}"
            );
            worst = worst.max(e);
        }
        println!("{label}: f32 vs f64 max normalized error {worst:.3e}");
        worst
    }
    compare("identity", nn::Identity);
    compare("step", nn::Step);
    compare("sigmoid", nn::Sigmoid);
    compare("tanh", nn::Tanh);
    compare("relu", nn::ReLU);
    compare(
        "gelu",
        nn::GELU {
            tanh_approximation: false,
        },
    );
    compare(
        "gelu tanh",
        nn::GELU {
            tanh_approximation: true,
        },
    );
    compare("softplus", nn::Softplus);
    compare("elu 1", nn::ELU { alpha: 1.0 });
    compare("elu 0.5", nn::ELU { alpha: 0.5 });
    compare("selu", nn::SELU);
    compare("leaky", nn::LeakyReLU { slope: 0.01 });
    compare("prelu", nn::PReLU::INIT);
    compare("silu", nn::SiLU);
    compare("gaussian", nn::Gaussian);
}

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

#[test]
fn loss_bce_with_logits_f64() {
    let mut zs: Vec<f64> = (0..=120).map(|k| -30.0 + 0.5 * k as f64 + 0.013).collect();
    zs.extend([0.0, -1e-3, 1e-3, 0.25, -0.25]);
    let mut analytic = Vec::new();
    let mut fd = Vec::new();
    for &t in &[0.0f64, 1.0] {
        for &z in &zs {
            let (_, g) = bce_with_logits(z, t);
            let lp = bce_with_logits(z + H_F64, t).0;
            let lm = bce_with_logits(z - H_F64, t).0;
            analytic.push(g);
            fd.push((lp - lm) / (2.0 * H_F64));
        }
        // At z = 0 the gradient is sigmoid(0) - t exactly (where a subgradient of max/abs
        // would give -t).
        assert_eq!(bce_with_logits(0.0f64, t).1, 0.5 - t);
        assert_eq!(bce_with_logits(0.0f64, t).0, core::f64::consts::LN_2);
    }
    check_normalized("bce_with_logits f64", &analytic, &fd, RTOL_F64, ATOL_F64);
}

#[test]
fn loss_softmax_cross_entropy_f64() {
    let mut rng = Rng::new(11);
    let mut analytic = Vec::new();
    let mut fd = Vec::new();
    for n in 1..=10usize {
        for _ in 0..4 {
            let z: Vec<f64> = (0..n).map(|_| rng.normal() as f64 * 3.0).collect();
            let label = rng.below(n);
            let mut g = vec![0.0f64; n];
            let loss = softmax_cross_entropy(&z, label, &mut g);
            assert!(loss >= 0.0);
            let mut scratch = vec![0.0f64; n];
            for j in 0..n {
                let mut zp = z.clone();
                let mut zm = z.clone();
                zp[j] += H_F64;
                zm[j] -= H_F64;
                let lp = softmax_cross_entropy(&zp, label, &mut scratch);
                let lm = softmax_cross_entropy(&zm, label, &mut scratch);
                analytic.push(g[j]);
                fd.push((lp - lm) / (2.0 * H_F64));
            }
            // softmax - onehot sums to 0.
            assert!(g.iter().sum::<f64>().abs() < 1e-12);
        }
    }
    check_normalized(
        "softmax_cross_entropy f64",
        &analytic,
        &fd,
        RTOL_F64,
        ATOL_F64,
    );
}

/// MSE is f32-only (through the `Loss` trait). It is quadratic, so a central difference has no
/// truncation error at all; with inputs on a 1/64 grid (exact in f32), `p +- h` with `h = 1/16`
/// is exact and each squared difference and their sum are exact, leaving only the final
/// division by `n` (one rounding each for `L(p+h)` and `L(p-h)`, at most half an ulp, i.e.
/// `eps32/2 * L`): the FD error is at most `eps32 * max L / (2h)` (~2e-6 for L ~ 2). That bound is
/// the absolute tolerance (doubled for safety), with rtol 1e-6 (the f64 division).
#[test]
fn loss_mse_f32() {
    type S = Shape1<U6>;
    const B: usize = 4;
    let mut rng = Rng::new(5);
    let grid = |rng: &mut Rng| (rng.normal() * 64.0).round() / 64.0;
    let pred: Vec<Tensor<S>> = (0..B)
        .map(|_| Tensor::from_fn(|_| grid(&mut rng)))
        .collect();
    let target: Vec<Tensor<S>> = (0..B)
        .map(|_| Tensor::from_fn(|_| grid(&mut rng)))
        .collect();
    let mut grad = vec![Tensor::<S>::zeros(); B];
    let loss = Mse.loss_grad(&pred, &target, &mut grad);
    // The mean of the per-sample losses is the batch loss.
    let mean: f32 = pred
        .iter()
        .zip(&target)
        .map(|(p, t)| Mse.sample_loss(p, t))
        .sum::<f32>()
        / B as f32;
    assert!((mean - loss).abs() <= 1e-6 * loss.abs());
    let h = 1.0f32 / 16.0;
    let mut analytic = Vec::new();
    let mut fd = Vec::new();
    let mut scratch = vec![Tensor::<S>::zeros(); B];
    let mut max_loss = 0.0f64;
    for b in 0..B {
        for j in 0..S::LEN {
            let mut pp = pred.clone();
            let mut pm = pred.clone();
            pp[b][j] += h;
            pm[b][j] -= h;
            // The grid makes the perturbation exact.
            assert_eq!(pp[b][j] - pm[b][j], 2.0 * h);
            let lp = Mse.loss_grad(&pp, &target, &mut scratch) as f64;
            let lm = Mse.loss_grad(&pm, &target, &mut scratch) as f64;
            max_loss = max_loss.max(lp).max(lm);
            analytic.push(grad[b][j] as f64);
            fd.push((lp - lm) / (2.0 * h as f64));
        }
    }
    let bound = 2.0 * f32::EPSILON as f64 * max_loss / (2.0 * h as f64);
    println!("mse: loss {loss}, FD rounding bound {bound:.3e}");
    check_normalized("mse f32 (Loss trait)", &analytic, &fd, 1e-6, bound);
}

/// The batch losses through `Loss::loss_grad` (f32): gradient of the batch mean.
#[test]
fn loss_batch_cross_entropies_f32() {
    const B: usize = 5;
    let mut rng = Rng::new(6);
    let h = 1e-2f32;
    // Cross-entropy over 4 classes.
    {
        type S = Shape1<U4>;
        let z: Vec<Tensor<S>> = (0..B).map(|_| normal_tensor(&mut rng, 2.0)).collect();
        let labels: Vec<usize> = (0..B).map(|_| rng.below(4)).collect();
        let mut grad = vec![Tensor::<S>::zeros(); B];
        CrossEntropy.loss_grad(&z, &labels, &mut grad);
        let mut scratch = grad.clone();
        let (mut analytic, mut fd) = (Vec::new(), Vec::new());
        for b in 0..B {
            for j in 0..S::LEN {
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[b][j] += h;
                zm[b][j] -= h;
                let lp = CrossEntropy.loss_grad(&zp, &labels, &mut scratch) as f64;
                let lm = CrossEntropy.loss_grad(&zm, &labels, &mut scratch) as f64;
                analytic.push(grad[b][j] as f64);
                fd.push((lp - lm) / (zp[b][j] as f64 - zm[b][j] as f64));
            }
        }
        check_normalized(
            "CrossEntropy::loss_grad f32",
            &analytic,
            &fd,
            RTOL_F32,
            ATOL_F32,
        );
    }
    // Binary cross-entropy on one logit.
    {
        type S = Shape1<U1>;
        let z: Vec<Tensor<S>> = (0..B).map(|_| normal_tensor(&mut rng, 2.0)).collect();
        let labels: Vec<usize> = (0..B).map(|_| rng.below(2)).collect();
        let mut grad = vec![Tensor::<S>::zeros(); B];
        BinaryCrossEntropy.loss_grad(&z, &labels, &mut grad);
        let mut scratch = grad.clone();
        let (mut analytic, mut fd) = (Vec::new(), Vec::new());
        for b in 0..B {
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[b][0] += h;
            zm[b][0] -= h;
            let lp = BinaryCrossEntropy.loss_grad(&zp, &labels, &mut scratch) as f64;
            let lm = BinaryCrossEntropy.loss_grad(&zm, &labels, &mut scratch) as f64;
            analytic.push(grad[b][0] as f64);
            fd.push((lp - lm) / (zp[b][0] as f64 - zm[b][0] as f64));
        }
        check_normalized(
            "BinaryCrossEntropy::loss_grad f32",
            &analytic,
            &fd,
            RTOL_F32,
            ATOL_F32,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Layer kernels (f32) against f64-accumulated finite differences
// ---------------------------------------------------------------------------------------------

// The objective `J = sum y g` runs `forward_batch` (`common::Forward::Batch`), the kernels
// `backward_batch` belongs to; the step is `common::H_LAYER` (1e-2).

#[test]
fn layer_softmax_backward_f32() {
    type S = Shape1<U7>;
    let mut rng = Rng::new(21);
    let x: Vec<Tensor<S>> = (0..3).map(|_| normal_tensor(&mut rng, 2.0)).collect();
    let g: Vec<Tensor<S>> = (0..3).map(|_| normal_tensor(&mut rng, 1.0)).collect();
    let (dx, _) = layer_backward(&nn::Softmax, &x, &g);
    let fd = layer_fd_inputs(&nn::Softmax, &x, &g, Forward::Batch);
    check_normalized(
        "Softmax backward_batch dx (f32 vs f64 FD)",
        &flat(&dx),
        &fd,
        RTOL_F32,
        ATOL_F32,
    );
}

#[test]
fn layer_dense_backward_f32() {
    let mut rng = Rng::new(22);
    let mut d = Dense::<U5, U4>::default();
    for v in d.weights_mut() {
        *v = rng.normal();
    }
    for v in d.b.iter_mut() {
        *v = rng.normal();
    }
    type SI = Shape1<U5>;
    type SO = Shape1<U4>;
    let x: Vec<Tensor<SI>> = (0..3).map(|_| normal_tensor(&mut rng, 1.0)).collect();
    let g: Vec<Tensor<SO>> = (0..3).map(|_| normal_tensor(&mut rng, 1.0)).collect();
    let (dx, grad) = layer_backward(&d, &x, &g);
    let fd_x = layer_fd_inputs(&d, &x, &g, Forward::Batch);
    check_normalized(
        "Dense backward_batch dx (f32 vs f64 FD)",
        &flat(&dx),
        &fd_x,
        RTOL_F32,
        ATOL_F32,
    );
    let fd_p = layer_fd_params(&d, &x, &g, Forward::Batch);
    let analytic = flat_params(&grad);
    // visit order: weight ([in][out], 20 values), then bias (4 values).
    assert_eq!(analytic.len(), 5 * 4 + 4);
    check_normalized(
        "Dense backward_batch dW (f32 vs f64 FD)",
        &analytic[..20],
        &fd_p[..20],
        RTOL_F32,
        ATOL_F32,
    );
    check_normalized(
        "Dense backward_batch db (f32 vs f64 FD)",
        &analytic[20..],
        &fd_p[20..],
        RTOL_F32,
        ATOL_F32,
    );
    // backward_batch adds into grad: a second call doubles it.
    let mut y = vec![Tensor::<SO>::zeros(); 3];
    d.forward_batch(&x, &mut y);
    let mut grad2 = grad.clone();
    let mut dx2 = vec![Tensor::<SI>::zeros(); 3];
    d.backward_batch(&x, &y, &g, &mut dx2, &mut grad2);
    for (a, b) in flat_params(&grad2).iter().zip(&analytic) {
        assert!((a - 2.0 * b).abs() <= 1e-6 * b.abs().max(1.0));
    }
}

#[test]
fn layer_prelu_backward_f32() {
    type S = Shape1<U6>;
    let mut rng = Rng::new(23);
    // Keep inputs at least 0.05 away from the kink, so x +- h never crosses 0.
    let x: Vec<Tensor<S>> = (0..3)
        .map(|_| {
            Tensor::from_fn(|_| {
                let v = rng.normal() * 2.0;
                if v.abs() < 0.05 {
                    0.5f32.copysign(v)
                } else {
                    v
                }
            })
        })
        .collect();
    let g: Vec<Tensor<S>> = (0..3).map(|_| normal_tensor(&mut rng, 1.0)).collect();
    for alpha in [0.25f32, -0.4, 1.3] {
        let p = nn::PReLU { alpha };
        let (dx, grad) = layer_backward(&p, &x, &g);
        let fd_x = layer_fd_inputs(&p, &x, &g, Forward::Batch);
        check_normalized(
            &format!("PReLU({alpha}) backward_batch dx"),
            &flat(&dx),
            &fd_x,
            RTOL_F32,
            ATOL_F32,
        );
        let fd_a = layer_fd_params(&p, &x, &g, Forward::Batch);
        // One scalar: check it directly and with the usual sensitivity test.
        check_normalized(
            &format!("PReLU({alpha}) backward_batch d/d alpha"),
            &flat_params(&grad),
            &fd_a,
            RTOL_F32,
            ATOL_F32,
        );
        // d/d alpha = sum over x <= 0 of g x, in f64.
        let want: f64 = x
            .iter()
            .zip(&g)
            .flat_map(|(x, g)| x.as_slice().iter().zip(g.as_slice()))
            .filter(|(x, _)| **x <= 0.0)
            .map(|(&x, &g)| x as f64 * g as f64)
            .sum();
        assert!((grad.alpha as f64 - want).abs() <= 1e-5 * want.abs().max(1.0));
    }
}

// ---------------------------------------------------------------------------------------------
// Whole generated networks
// ---------------------------------------------------------------------------------------------

nn::network! {
    /// Three Dense layers, smooth activations, softmax head.
    struct Net3 {
        input: [5],
        fc1: Dense(8), Tanh,
        fc2: Dense(6), GELU,
        fc3: Dense(3), Softmax,
    }
}

nn::network! {
    /// The piecewise activations with learnable and fixed slopes; no head.
    struct NetKinks {
        input: [4],
        fc1: Dense(6), prelu: PReLU,
        fc2: Dense(5), ELU(0.5),
        fc3: Dense(5), LeakyReLU(0.2),
        out: Dense(3),
    }
}

nn::network! {
    /// A binary classifier with a sigmoid head.
    struct NetBin {
        input: [6],
        fc1: Dense(5), SiLU,
        fc2: Dense(4), GELU(approximate = tanh),
        fc3: Dense(4), Softplus,
        fc4: Dense(3), Gaussian,
        out: Dense(1), Sigmoid,
    }
}

type Grads<N> = (
    Box<<N as Trainable>::Gradients>,
    Batch<<N as nn::Shapes>::InputShape, B>,
);

/// The batch loss of a network on a batch, as f64.
type Objective<N> = dyn Fn(&N, &[Input<N>; B]) -> f64;
/// The analytic parameter and input gradients of the batch loss.
type Backprop<N> = dyn Fn(&N, &[Input<N>; B]) -> Grads<N>;
/// The signs of the pre-activations of kinked activations.
type Guard<N> = dyn Fn(&N, &[Input<N>; B]) -> Vec<bool>;

/// Compares every parameter gradient and the input gradient of `analytic` with central
/// differences of `objective` (the f32 batch loss, as f64). `guard` returns the signs of the
/// pre-activations of kinked activations; finite differences must not move any across 0.
fn check_network<N: Trainable>(
    label: &str,
    net: &N,
    x: &[Input<N>; B],
    objective: &Objective<N>,
    analytic: &Backprop<N>,
    guard: &Guard<N>,
) {
    let (grads, dx) = analytic(net, x);
    let signs = guard(net, x);

    // Analytic gradients, collected through zip_gradients (the optimizer's view) and checked
    // against the gradients struct's own visit order.
    let mut ids = Vec::new();
    let mut analytic_flat = Vec::new();
    let mut walk = net.clone();
    walk.zip_gradients(&grads, &mut |id, p, g| {
        assert_eq!(
            p.len(),
            g.len(),
            "{id:?}: parameter and gradient lengths differ"
        );
        ids.extend(std::iter::repeat_n(id, g.len()));
        analytic_flat.extend(g.iter().map(|&v| v as f64));
    });
    assert_eq!(analytic_flat.len(), N::PARAMS);
    assert_eq!(analytic_flat.len(), <N as Parameters>::COUNT);
    assert_eq!(
        flat_params(&*grads),
        analytic_flat,
        "gradients' visit differs from zip_gradients"
    );
    let mut net_ids = Vec::new();
    net.visit("", &mut |id, v| {
        net_ids.extend(std::iter::repeat_n(id, v.len()))
    });
    assert_eq!(
        net_ids, ids,
        "network and gradients visit different parameters"
    );

    // Parameters.
    let mut fd = Vec::with_capacity(N::PARAMS);
    for k in 0..N::PARAMS {
        fd.push(richardson(
            &|delta| {
                let (np, v) = perturbed(net, k, delta);
                assert_eq!(
                    guard(&np, x),
                    signs,
                    "{label}: moving parameter {k} by {delta} crosses a kink"
                );
                (objective(&np, x), v as f64)
            },
            H_NET,
        ));
    }
    // Per tensor, so a failure names the layer and tensor.
    let mut start = 0;
    while start < ids.len() {
        let id = ids[start];
        let end = start + ids[start..].iter().take_while(|i| **i == id).count();
        let (e, i) = max_normalized(
            &analytic_flat[start..end],
            &fd[start..end],
            RTOL_F32,
            ATOL_F32,
        );
        assert!(
            e <= 1.0,
            "{label}: {}.{} [{}]: analytic {} vs finite difference {} (normalized {e:.3})",
            id.layer,
            id.name,
            i,
            analytic_flat[start + i],
            fd[start + i]
        );
        start = end;
    }
    check_normalized(
        &format!("{label}: all {} parameters", N::PARAMS),
        &analytic_flat,
        &fd,
        RTOL_F32,
        ATOL_F32,
    );

    // Inputs.
    let mut fd_x = Vec::new();
    for b in 0..B {
        for j in 0..<N::InputShape as Shape>::LEN {
            fd_x.push(richardson(
                &|delta| {
                    let mut xp = x.clone();
                    xp[b][j] += delta;
                    assert_eq!(
                        guard(net, &xp),
                        signs,
                        "{label}: moving input [{b}][{j}] by {delta} crosses a kink"
                    );
                    (objective(net, &xp), xp[b][j] as f64)
                },
                H_NET,
            ));
        }
    }
    check_normalized(
        &format!("{label}: input gradient"),
        &flat(&dx[..]),
        &fd_x,
        RTOL_F32,
        ATOL_F32,
    );
}

/// Step of the network checks: central differences at `H_NET` and `H_NET / 2`, combined by
/// Richardson extrapolation (`common::richardson`), `(4 D(h/2) - D(h)) / 3`. The extrapolation
/// cancels the `h^2` truncation term of the central difference `D` (the remaining `h^4` term is
/// `< 1e-7` relative here), so the step can be large enough (`1e-2`, `2e-2`) for the f32
/// rounding noise of the loss to stay `~1e-5`.
const H_NET: f32 = 2e-2;

fn no_kinks<N>(_: &N, _: &[Input<N>; B]) -> Vec<bool>
where
    N: nn::Network,
{
    Vec::new()
}

/// Cross-entropy on the logits (through `Loss::loss_grad`) and `backward_logits`.
fn ce_objective<N: Trainable>(labels: [usize; B]) -> impl Fn(&N, &[Input<N>; B]) -> f64 {
    move |net, x| {
        let cache = net.clone().forward_train::<B>(x);
        let mut g = nn::zeroed_batch::<N::OutputShape, B>();
        CrossEntropy.loss_grad(&N::cache_logits(&cache)[..], &labels, &mut g[..]) as f64
    }
}

fn ce_analytic<N: Trainable>(labels: [usize; B]) -> impl Fn(&N, &[Input<N>; B]) -> Grads<N> {
    move |net, x| {
        let cache = net.clone().forward_train::<B>(x);
        let mut g = nn::zeroed_batch::<N::OutputShape, B>();
        CrossEntropy.loss_grad(&N::cache_logits(&cache)[..], &labels, &mut g[..]);
        net.backward_logits(&cache, &g)
    }
}

/// MSE on the outputs (after any final activation) and `backward`.
fn mse_objective<N: Trainable>(
    targets: Vec<Tensor<N::OutputShape>>,
) -> impl Fn(&N, &[Input<N>; B]) -> f64 {
    move |net, x| {
        let cache = net.clone().forward_train::<B>(x);
        let mut g = nn::zeroed_batch::<N::OutputShape, B>();
        Mse.loss_grad(&N::cache_output(&cache)[..], &targets, &mut g[..]) as f64
    }
}

fn mse_analytic<N: Trainable>(
    targets: Vec<Tensor<N::OutputShape>>,
) -> impl Fn(&N, &[Input<N>; B]) -> Grads<N> {
    move |net, x| {
        let cache = net.clone().forward_train::<B>(x);
        let mut g = nn::zeroed_batch::<N::OutputShape, B>();
        Mse.loss_grad(&N::cache_output(&cache)[..], &targets, &mut g[..]);
        net.backward(&cache, &g)
    }
}

#[test]
fn network3_cross_entropy_backward_logits() {
    let net = Net3::new(7);
    let mut rng = Rng::new(70);
    let x: [Input<Net3>; B] = normal_array(&mut rng, 1.0);
    let labels = [0, 2, 1, 2];
    // The logits are the input of the softmax head.
    assert_cached_logits_match_forward("Net3", &net, &x, 1e-6);
    check_network(
        "Net3 CrossEntropy",
        &net,
        &x,
        &ce_objective::<Net3>(labels),
        &ce_analytic::<Net3>(labels),
        &no_kinks::<Net3>,
    );
}

#[test]
fn network3_mse_backward_through_softmax() {
    let net = Net3::new(8);
    let mut rng = Rng::new(80);
    let x: [Input<Net3>; B] = normal_array(&mut rng, 1.0);
    // Targets far from the outputs make the MSE gradients large enough to test relatively.
    let targets: Vec<Tensor<Shape1<nn::typenum::U3>>> = (0..B)
        .map(|b| Tensor::from_fn(|i| if i == b % 3 { 1.5 } else { -0.5 }))
        .collect();
    check_network(
        "Net3 Mse (backward through Softmax)",
        &net,
        &x,
        &mse_objective::<Net3>(targets.clone()),
        &mse_analytic::<Net3>(targets),
        &no_kinks::<Net3>,
    );
}

/// NetKinks' pre-activations at its three kinked activations (cache a1, a3, a5), flattened.
fn kink_preactivations(net: &NetKinks, x: &[Input<NetKinks>; B]) -> Vec<f32> {
    let c = net.clone().forward_train::<B>(x);
    let mut v = flat(&c.a1[..]);
    v.extend(flat(&c.a3[..]));
    v.extend(flat(&c.a5[..]));
    v.into_iter().map(|v| v as f32).collect()
}

/// Signs of NetKinks' pre-activations at its three kinked activations (cache a1, a3, a5).
fn kink_signs(net: &NetKinks, x: &[Input<NetKinks>; B]) -> Vec<bool> {
    kink_preactivations(net, x)
        .iter()
        .map(|&v| v > 0.0)
        .collect()
}

fn kink_margin(net: &NetKinks, x: &[Input<NetKinks>; B]) -> f32 {
    kink_preactivations(net, x)
        .iter()
        .map(|v| v.abs())
        .fold(f32::INFINITY, f32::min)
}

/// The first seed whose network and inputs keep every kinked pre-activation at least 0.05 from
/// 0, so perturbations of up to 2e-2 do not cross a kink (also asserted at every evaluation),
/// and that exercise both sides of the kinks (more than 10 of each sign among the 64).
fn kinks_setup() -> (NetKinks, [Input<NetKinks>; B]) {
    for seed in 0..10_000u64 {
        let mut net = NetKinks::new(seed);
        // A slope other than the initial 0.25, so the test does not depend on the default.
        net.prelu.alpha = 0.3;
        let mut rng = Rng::new(seed + 1_000_000);
        let x: [Input<NetKinks>; B] = normal_array(&mut rng, 1.0);
        let signs = kink_signs(&net, &x);
        // Both branches of every kinked activation must be exercised.
        let pos = signs.iter().filter(|s| **s).count();
        if kink_margin(&net, &x) >= 0.05 && pos > 10 && signs.len() - pos > 10 {
            return (net, x);
        }
    }
    panic!("no seed keeps the pre-activations away from the kinks");
}

#[test]
fn network_kinks_mse_backward() {
    let (net, x) = kinks_setup();
    let mut rng = Rng::new(90);
    let targets: Vec<Tensor<Shape1<nn::typenum::U3>>> =
        (0..B).map(|_| normal_tensor(&mut rng, 1.0)).collect();
    check_network(
        "NetKinks (PReLU, ELU 0.5, LeakyReLU 0.2) Mse",
        &net,
        &x,
        &mse_objective::<NetKinks>(targets.clone()),
        &mse_analytic::<NetKinks>(targets),
        &kink_signs,
    );
}

#[test]
fn network_kinks_cross_entropy_without_head() {
    // No final activation: the logits are the outputs, and backward_logits equals backward.
    let (net, x) = kinks_setup();
    let labels = [1, 0, 2, 1];
    let ce = ce_analytic::<NetKinks>(labels);
    let (g1, dx1) = ce(&net, &x);
    let cache = net.clone().forward_train::<B>(&x);
    let mut d = nn::zeroed_batch::<Shape1<nn::typenum::U3>, B>();
    CrossEntropy.loss_grad(&NetKinks::cache_logits(&cache)[..], &labels, &mut d[..]);
    let (g2, dx2) = net.backward(&cache, &d);
    assert_eq!(flat_params(&*g1), flat_params(&*g2));
    assert_eq!(flat(&dx1[..]), flat(&dx2[..]));
    check_network(
        "NetKinks CrossEntropy",
        &net,
        &x,
        &ce_objective::<NetKinks>(labels),
        &ce,
        &kink_signs,
    );
}

#[test]
fn network_sigmoid_head_binary_cross_entropy() {
    let net = NetBin::new(3);
    let mut rng = Rng::new(30);
    let x: [Input<NetBin>; B] = normal_array(&mut rng, 1.5);
    let labels = [1usize, 0, 0, 1];
    let objective = move |net: &NetBin, x: &[Input<NetBin>; B]| {
        let cache = net.clone().forward_train::<B>(x);
        let mut g = nn::zeroed_batch::<Shape1<U1>, B>();
        BinaryCrossEntropy.loss_grad(&NetBin::cache_logits(&cache)[..], &labels, &mut g[..]) as f64
    };
    let analytic = move |net: &NetBin, x: &[Input<NetBin>; B]| {
        let cache = net.clone().forward_train::<B>(x);
        let mut g = nn::zeroed_batch::<Shape1<U1>, B>();
        BinaryCrossEntropy.loss_grad(&NetBin::cache_logits(&cache)[..], &labels, &mut g[..]);
        net.backward_logits(&cache, &g)
    };
    check_network(
        "NetBin BinaryCrossEntropy",
        &net,
        &x,
        &objective,
        &analytic,
        &no_kinks::<NetBin>,
    );
}

#[test]
fn network_sigmoid_head_mse_backward_through_sigmoid() {
    let net = NetBin::new(4);
    let mut rng = Rng::new(40);
    let x: [Input<NetBin>; B] = normal_array(&mut rng, 1.5);
    let targets: Vec<Tensor<Shape1<U1>>> = [3.0f32, -2.0, 3.0, -2.0]
        .iter()
        .map(|&t| Tensor::filled(t))
        .collect();
    check_network(
        "NetBin Mse (backward through Sigmoid)",
        &net,
        &x,
        &mse_objective::<NetBin>(targets.clone()),
        &mse_analytic::<NetBin>(targets),
        &no_kinks::<NetBin>,
    );
}
