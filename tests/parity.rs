//! Parity with reference values computed by an independent framework (JAX, float64), stored in
//! `tests/fixtures/*.json` (schema: `scripts/README.md`). The files are only read here, never
//! regenerated. Inputs in the fixtures are f32-representable, so the f32 code sees exactly the
//! inputs JAX used; the references are exact f64 values.
//!
//! Tolerance: `|got - want| <= atol + rtol |want|` with `rtol = 1e-5`, `atol = 1e-6` (the
//! README's suggestion): f32 has a relative precision of 6e-8, so `1e-5` allows ~80 ulps of
//! accumulated rounding, and `atol` covers references that are tiny but non-zero where f32
//! gives 0 (e.g. `sigmoid(-30) ~ 9.4e-14`). Places that use another tolerance say why.
//!
//! Each test prints, per fixture file, the maximum absolute error, the maximum relative error
//! (over values with `|want| > atol`, where a relative error means something) and the maximum
//! normalized error `|got - want| / (atol + rtol |want|)` (must be `<= 1`). Run with
//! `cargo test --test parity -- --nocapture` to read them.
//!
//! `conv.json` and `pool.json` are not covered yet: the convolution and pooling layers are the
//! next milestone.

mod common;

use common::fixtures::{load, req, tensors_from, ATOL_FWD, RTOL_FWD};

use nn::generic_array::ArrayLength;
use nn::typenum::{U1, U10, U16, U2, U3, U30, U4, U5, U57, U64};
use nn::{bce_with_logits, softmax_cross_entropy};
use nn::{
    Activation, BinaryCrossEntropy, CrossEntropy, Dense, Layer, Loss, Mse, Shape, Shape1, Tensor,
};
use serde_json::Value;

/// The README's tolerance (the forward tolerance of the other parity suites), used here for
/// every value.
const RTOL: f64 = RTOL_FWD;
const ATOL: f64 = ATOL_FWD;

// ---------------------------------------------------------------------------------------------
// Reading fixtures
// ---------------------------------------------------------------------------------------------

// `load`, `req` (a tensor `{"shape", "data"}` of a case, with `Fx::f32s` checking that inputs are
// f32 values) and `tensors_from` are `common::fixtures`'.

fn labels(v: &Value, field: &str) -> Vec<usize> {
    v[field]["data"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|d| d.as_u64().expect("integer label") as usize)
        .collect()
}

fn name(v: &Value) -> String {
    v["name"].as_str().expect("name").to_string()
}

fn cases<'a>(v: &'a Value, list: &str) -> &'a Vec<Value> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("missing list `{list}`"))
}

fn flat<S: Shape>(t: &[Tensor<S>]) -> Vec<f32> {
    t.iter()
        .flat_map(|t| t.as_slice().iter().copied())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Error statistics
// ---------------------------------------------------------------------------------------------

/// Running maxima of the errors of one fixture file, and the failures.
struct Stats {
    file: &'static str,
    rtol: f64,
    atol: f64,
    count: usize,
    max_abs: f64,
    max_rel: f64,
    max_norm: f64,
    worst: String,
    worst_rel: String,
    failures: Vec<String>,
}

impl Stats {
    fn new(file: &'static str, rtol: f64, atol: f64) -> Self {
        Stats {
            file,
            rtol,
            atol,
            count: 0,
            max_abs: 0.0,
            max_rel: 0.0,
            max_norm: 0.0,
            worst: String::new(),
            worst_rel: String::new(),
            failures: Vec::new(),
        }
    }

    /// Compares `got` (f32 results) with `want` (f64 references) elementwise with this file's
    /// tolerance.
    fn check(&mut self, what: &str, got: &[f32], want: &[f64]) {
        let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
        self.check_with(what, &got, want, self.rtol, self.atol);
    }

    /// Compares with an explicit tolerance (for the callers that justify another one).
    fn check_with(&mut self, what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
        assert_eq!(
            got.len(),
            want.len(),
            "{}: {what}: {} values computed, {} in the fixture",
            self.file,
            got.len(),
            want.len()
        );
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            self.count += 1;
            let err = (g - w).abs();
            if !g.is_finite() {
                self.failures
                    .push(format!("{what}[{i}]: got {g}, want {w} (not finite)"));
                continue;
            }
            self.max_abs = self.max_abs.max(err);
            if w.abs() > atol && err / w.abs() > self.max_rel {
                self.max_rel = err / w.abs();
                self.worst_rel = format!("{what}[{i}]: got {g:e}, want {w:e}");
            }
            let norm = err / (atol + rtol * w.abs());
            if norm > self.max_norm {
                self.max_norm = norm;
                self.worst = format!("{what}[{i}]: got {g:e}, want {w:e}");
            }
            if norm > 1.0 {
                self.failures.push(format!(
                    "{what}[{i}]: got {g:e}, want {w:e}, |err| {err:.3e} > {atol:e} + {rtol:e} |want|"
                ));
            }
        }
    }

    /// Prints the maxima and fails if any value was out of tolerance.
    fn finish(self) {
        println!(
            "{}: {} values, max abs err {:.3e}, max rel err {:.3e} (|want| > {:e}), max normalized \
             err {:.3e} (rtol {:e}, atol {:e})\n    worst normalized: {}\n    worst relative: {}",
            self.file,
            self.count,
            self.max_abs,
            self.max_rel,
            self.atol,
            self.max_norm,
            self.rtol,
            self.atol,
            self.worst,
            self.worst_rel
        );
        assert!(self.count > 0, "{}: nothing was compared", self.file);
        assert!(
            self.failures.is_empty(),
            "{}: {} values out of tolerance:\n{}",
            self.file,
            self.failures.len(),
            self.failures
                .iter()
                .take(30)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// dense.json
// ---------------------------------------------------------------------------------------------

fn dense_case<I, O>(case: &Value, st: &mut Stats)
where
    I: ArrayLength + Send + Sync + 'static,
    O: ArrayLength + Send + Sync + 'static,
{
    let n = name(case);
    let (x, w, b, y, g) = (
        req(case, "x"),
        req(case, "w"),
        req(case, "b"),
        req(case, "y"),
        req(case, "g"),
    );
    let (dx, dw, db) = (req(case, "dx"), req(case, "dw"), req(case, "db"));
    let batch = case["config"]["batch"].as_u64().unwrap() as usize;
    assert_eq!(w.shape, [O::USIZE, I::USIZE], "{n}: w is [out, in]");
    assert_eq!(x.shape, [batch, I::USIZE]);

    // PyTorch layout W[o][i] -> the layer's transposed storage w[i][o].
    let mut layer = Dense::<I, O>::default();
    let wf = w.f32s();
    for o in 0..O::USIZE {
        for i in 0..I::USIZE {
            layer.w[i][o] = wf[o * I::USIZE + i];
        }
    }
    layer.b.copy_from_slice(&b.f32s());
    for o in 0..O::USIZE {
        for i in 0..I::USIZE {
            assert_eq!(layer.weight(o, i), wf[o * I::USIZE + i]);
        }
    }

    let xs = tensors_from::<Shape1<I>>(&x.f32s());
    let gs = tensors_from::<Shape1<O>>(&g.f32s());
    let mut ys = vec![Tensor::<Shape1<O>>::zeros(); batch];
    layer.forward_batch(&xs, &mut ys);
    st.check(&format!("{n} y"), &flat(&ys), &y.data);
    // The single-sample inference path gives the same values up to rounding (the batched
    // product sums in another order).
    for (xb, yb) in xs.iter().zip(&ys) {
        let mut y1 = Tensor::<Shape1<O>>::zeros();
        layer.forward(xb, &mut y1);
        for (a, b) in y1.as_slice().iter().zip(yb.as_slice()) {
            assert!(
                (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                "{n}: forward {y1:?} differs from forward_batch {yb:?}"
            );
        }
    }

    let mut dxs = vec![Tensor::<Shape1<I>>::zeros(); batch];
    let mut grad = Dense::<I, O>::default();
    layer.backward_batch(&xs, &ys, &gs, &mut dxs, &mut grad);
    st.check(&format!("{n} dx"), &flat(&dxs), &dx.data);
    // dW in the fixture's [out, in] order.
    let dw_got: Vec<f32> = (0..O::USIZE)
        .flat_map(|o| (0..I::USIZE).map(move |i| (o, i)))
        .map(|(o, i)| grad.w[i][o])
        .collect();
    st.check(&format!("{n} dW"), &dw_got, &dw.data);
    st.check(&format!("{n} db"), grad.b.as_slice(), &db.data);
}

#[test]
fn dense_parity() {
    let v = load("dense.json");
    let mut st = Stats::new("dense.json", RTOL, ATOL);
    let list = cases(&v, "cases");
    assert_eq!(list.len(), 3);
    for case in list {
        let c = &case["config"];
        let io = (
            c["in_features"].as_u64().unwrap(),
            c["out_features"].as_u64().unwrap(),
        );
        match io {
            (4, 3) => dense_case::<U4, U3>(case, &mut st),
            (16, 64) => dense_case::<U16, U64>(case, &mut st),
            (30, 1) => dense_case::<U30, U1>(case, &mut st),
            other => panic!("dense.json: no typenum sizes for {other:?}; add a match arm"),
        }
    }
    st.finish();
}

// ---------------------------------------------------------------------------------------------
// activations.json
// ---------------------------------------------------------------------------------------------

fn param(case: &Value, key: &str) -> f64 {
    case["params"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{}: missing parameter `{key}`", name(case)))
}

/// f and df in f32 (the network's instantiation) through `Activation`, and dx through the
/// `Layer` implementation with upstream 1.
fn activation_case_f32<A>(a: A, label: &str, case: &Value, st: &mut Stats)
where
    A: Activation + Layer<Shape1<U57>, Shape1<U57>>,
{
    let (x, y, dydx) = (req(case, "x"), req(case, "y"), req(case, "dydx"));
    let xs = x.f32s();
    let f: Vec<f32> = xs.iter().map(|&x| a.f(x)).collect();
    let df: Vec<f32> = xs.iter().zip(&f).map(|(&x, &y)| a.df(x, y)).collect();
    st.check(&format!("{label} y"), &f, &y.data);
    st.check(&format!("{label} dydx"), &df, &dydx.data);

    // The Layer path (forward_batch, backward_batch with dy = 1) gives the same values.
    let xt = tensors_from::<Shape1<U57>>(&xs);
    let mut yt = vec![Tensor::<Shape1<U57>>::zeros(); 1];
    a.forward_batch(&xt, &mut yt);
    assert_eq!(
        yt[0].as_slice(),
        &f[..],
        "{label}: Layer::forward differs from f"
    );
    let ones = vec![Tensor::<Shape1<U57>>::filled(1.0); 1];
    let mut dx = vec![Tensor::<Shape1<U57>>::zeros(); 1];
    let mut grad = Default::default();
    a.backward_batch(&xt, &yt, &ones, &mut dx, &mut grad);
    assert_eq!(
        dx[0].as_slice(),
        &df[..],
        "{label}: Layer::backward_batch differs from df"
    );
}

/// The same formulas in f64. This separates formula errors from f32 rounding: only the
/// library's constants, stored as f32, limit the agreement (see `activations_parity_f64`).
fn activation_case_f64<A: Activation>(a: A, label: &str, case: &Value, st: &mut Stats, rtol: f64) {
    let (x, y, dydx) = (req(case, "x"), req(case, "y"), req(case, "dydx"));
    let xs = x.f32s_as_f64();
    let f: Vec<f64> = xs.iter().map(|&x| a.f(x)).collect();
    let df: Vec<f64> = xs.iter().zip(&f).map(|(&x, &y)| a.df(x, y)).collect();
    let atol = st.atol;
    st.check_with(&format!("{label} y (f64)"), &f, &y.data, rtol, atol);
    st.check_with(&format!("{label} dydx (f64)"), &df, &dydx.data, rtol, atol);
}

/// Runs `$body` with `$a` bound to the activation of a fixture case.
macro_rules! with_activation {
    ($case:expr, |$a:ident, $label:ident| $body:expr) => {{
        let case: &Value = $case;
        let n = name(case);
        let $label = match case["params"].as_object() {
            Some(p) if !p.is_empty() => format!("{n}{:?}", p),
            _ => n.clone(),
        };
        match n.as_str() {
            "identity" => {
                let $a = nn::Identity;
                $body
            }
            "step" => {
                let $a = nn::Step;
                $body
            }
            "sigmoid" => {
                let $a = nn::Sigmoid;
                $body
            }
            "tanh" => {
                let $a = nn::Tanh;
                $body
            }
            "relu" => {
                let $a = nn::ReLU;
                $body
            }
            "gelu" => {
                let $a = nn::GELU {
                    tanh_approximation: false,
                };
                $body
            }
            "gelu_tanh" => {
                let $a = nn::GELU {
                    tanh_approximation: true,
                };
                $body
            }
            "softplus" => {
                let $a = nn::Softplus;
                $body
            }
            "elu" => {
                let $a = nn::ELU {
                    alpha: param(case, "alpha") as f32,
                };
                $body
            }
            "selu" => {
                // The library has PyTorch's constants built in; they must be the fixture's.
                let (l, al) = (param(case, "lambda"), param(case, "alpha"));
                assert_eq!(nn::SELU_LAMBDA, l, "SELU lambda");
                assert_eq!(nn::SELU_ALPHA, al, "SELU alpha");
                let $a = nn::SELU;
                $body
            }
            "leaky_relu" => {
                let $a = nn::LeakyReLU {
                    slope: param(case, "negative_slope") as f32,
                };
                $body
            }
            "prelu" => {
                let $a = nn::PReLU {
                    alpha: param(case, "alpha") as f32,
                };
                $body
            }
            "silu" => {
                let $a = nn::SiLU;
                $body
            }
            "gaussian" => {
                let $a = nn::Gaussian;
                $body
            }
            other => panic!("activations.json: unknown activation `{other}`"),
        }
    }};
}

#[test]
fn activations_parity() {
    let v = load("activations.json");
    let mut st = Stats::new("activations.json", RTOL, ATOL);
    let list = cases(&v, "cases");
    let mut seen = Vec::new();
    for case in list {
        assert_eq!(req(case, "x").data.len(), 57);
        with_activation!(case, |a, label| {
            activation_case_f32(a, &label, case, &mut st)
        });
        seen.push(name(case));

        if name(case) == "prelu" {
            // dy/d alpha through PReLU's Layer::backward_batch: one sample of one element per
            // grid point with upstream 1, so the accumulated gradient is dy/d alpha at x.
            let alpha = param(case, "alpha") as f32;
            let p = nn::PReLU { alpha };
            let x = req(case, "x").f32s();
            let dyda = req(case, "dyda");
            let mut got = Vec::new();
            for &xi in &x {
                let xt = [Tensor::<Shape1<U1>>::filled(xi)];
                let mut yt = [Tensor::<Shape1<U1>>::zeros()];
                p.forward_batch(&xt, &mut yt);
                let mut dx = [Tensor::<Shape1<U1>>::zeros()];
                let mut g = nn::PReLU::default();
                p.backward_batch(&xt, &yt, &[Tensor::filled(1.0)], &mut dx, &mut g);
                got.push(g.alpha);
            }
            st.check("prelu dyda", &got, &dyda.data);
            // And on the whole grid at once: the sum of dy/d alpha.
            let xt = tensors_from::<Shape1<U57>>(&x);
            let mut yt = vec![Tensor::<Shape1<U57>>::zeros()];
            p.forward_batch(&xt, &mut yt);
            let mut dx = vec![Tensor::<Shape1<U57>>::zeros()];
            let mut g = nn::PReLU::default();
            p.backward_batch(&xt, &yt, &[Tensor::filled(1.0)], &mut dx, &mut g);
            let want: f64 = dyda.data.iter().sum();
            // The rounding of an f32 sum scales with sum |terms|, not with |sum|, so rtol is
            // taken relative to sum |terms| (here the terms are all <= 0, so the two agree).
            let scale: f64 = dyda.data.iter().map(|v| v.abs()).sum();
            st.check_with(
                "prelu sum dyda",
                &[g.alpha as f64],
                &[want],
                RTOL * scale / want.abs().max(f64::MIN_POSITIVE),
                ATOL,
            );
        }
    }
    for expected in [
        "identity",
        "step",
        "sigmoid",
        "tanh",
        "relu",
        "gelu",
        "gelu_tanh",
        "softplus",
        "elu",
        "selu",
        "leaky_relu",
        "prelu",
        "silu",
        "gaussian",
    ] {
        assert!(seen.iter().any(|s| s == expected), "no `{expected}` case");
    }
    assert_eq!(seen.len(), 16, "cases: {seen:?}");
    st.finish();
}

#[test]
fn activations_parity_f64() {
    // The formulas in f64 against the f64 references. The library stores its constants as f32
    // (SELU's lambda and alpha, GELU's sqrt(2/pi), 1/sqrt(2), 1/sqrt(2 pi), the ELU/leaky
    // parameters): each carries a relative rounding of up to 6e-8, e.g. SELU lambda
    // 1.050701 vs 1.0507009873554805 (1.2e-8), alpha 1.6732632 vs 1.6732632423543772
    // (~1.3e-8), leaky slope 0.01f32 = 0.0099999998 (2.2e-9). So rtol 2e-7, and atol 1e-12
    // (the references' own values near 0, like softplus(-30) = 9.4e-14, are computed exactly in
    // f64 here).
    //
    // GELU (erf form) needs rtol 1e-6: it evaluates Phi(x) as (1 + erf(x c)) / 2 with
    // c = 1/sqrt(2) rounded to f32 (relative error -1.7e-8), and in the left tail
    // d ln Phi / d ln c ~ x^2, so y has a relative error of ~1.7e-8 x^2: 4.4e-7 at x = -5
    // (y = -1.43e-6), ~8e-7 at x = -7, the last grid point with |y| > atol. In f32 this is far
    // below the f32 rounding of 1 + erf (checked in `activations_parity`).
    let v = load("activations.json");
    let mut st = Stats::new("activations.json (f64 formulas)", 2e-7, 1e-12);
    for case in cases(&v, "cases") {
        let rtol = if name(case) == "gelu" { 1e-6 } else { 2e-7 };
        with_activation!(case, |a, label| activation_case_f64(
            a, &label, case, &mut st, rtol
        ));
    }
    st.finish();
}

// ---------------------------------------------------------------------------------------------
// softmax.json
// ---------------------------------------------------------------------------------------------

fn softmax_case<N>(case: &Value, st: &mut Stats)
where
    N: ArrayLength + Send + Sync + 'static,
{
    type T<N> = Tensor<Shape1<N>>;
    let n = name(case);
    let (x, y, g, dx) = (
        req(case, "x"),
        req(case, "y"),
        req(case, "g"),
        req(case, "dx"),
    );
    let xs = tensors_from::<Shape1<N>>(&x.f32s());
    let gs = tensors_from::<Shape1<N>>(&g.f32s());
    let mut ys = vec![T::<N>::zeros()];
    nn::Softmax.forward_batch(&xs, &mut ys);
    st.check(&format!("{n} y"), ys[0].as_slice(), &y.data);
    // Softmax::apply on slices agrees with the Layer.
    let mut y2 = vec![0.0f32; N::USIZE];
    nn::Softmax::apply(xs[0].as_slice(), &mut y2);
    assert_eq!(&y2[..], ys[0].as_slice());
    let mut dxs = vec![T::<N>::zeros()];
    nn::Softmax.backward_batch(&xs, &ys, &gs, &mut dxs, &mut ());
    st.check(&format!("{n} dx"), dxs[0].as_slice(), &dx.data);
}

#[test]
fn softmax_parity() {
    let v = load("softmax.json");
    let mut st = Stats::new("softmax.json", RTOL, ATOL);
    let list = cases(&v, "cases");
    assert!(list.len() >= 6);
    for case in list {
        match req(case, "x").data.len() {
            1 => softmax_case::<U1>(case, &mut st),
            3 => softmax_case::<U3>(case, &mut st),
            4 => softmax_case::<U4>(case, &mut st),
            5 => softmax_case::<U5>(case, &mut st),
            10 => softmax_case::<U10>(case, &mut st),
            16 => softmax_case::<U16>(case, &mut st),
            other => panic!("softmax.json: no typenum size for length {other}; add a match arm"),
        }
    }
    st.finish();
}

// ---------------------------------------------------------------------------------------------
// losses.json
// ---------------------------------------------------------------------------------------------

fn cross_entropy_case<C>(case: &Value, st: &mut Stats)
where
    C: ArrayLength + Send + Sync + 'static,
{
    let n = name(case);
    let z = req(case, "logits");
    let lab = labels(case, "labels");
    let want_loss = case["loss"].as_f64().unwrap();
    let dz = req(case, "dlogits");
    assert_eq!(z.shape, [lab.len(), C::USIZE]);
    let zs = tensors_from::<Shape1<C>>(&z.f32s());
    let mut grad = vec![Tensor::<Shape1<C>>::zeros(); lab.len()];
    let loss = CrossEntropy.loss_grad(&zs, &lab, &mut grad);
    st.check(&format!("{n} loss"), &[loss], &[want_loss]);
    st.check(&format!("{n} dlogits"), &flat(&grad), &dz.data);
    // The mean of the per-sample losses.
    let mean = zs
        .iter()
        .zip(&lab)
        .map(|(z, t)| CrossEntropy.sample_loss(z, t) as f64)
        .sum::<f64>()
        / lab.len() as f64;
    st.check_with(
        &format!("{n} mean sample_loss"),
        &[mean],
        &[want_loss],
        RTOL,
        ATOL,
    );
}

fn mse_case<K>(case: &Value, st: &mut Stats)
where
    K: ArrayLength + Send + Sync + 'static,
{
    let n = name(case);
    let p = req(case, "prediction");
    let t = req(case, "target");
    let want_loss = case["loss"].as_f64().unwrap();
    let dp = req(case, "dprediction");
    let ps = tensors_from::<Shape1<K>>(&p.f32s());
    let ts = tensors_from::<Shape1<K>>(&t.f32s());
    let mut grad = vec![Tensor::<Shape1<K>>::zeros(); ps.len()];
    let loss = Mse.loss_grad(&ps, &ts, &mut grad);
    st.check(&format!("{n} loss"), &[loss], &[want_loss]);
    st.check(&format!("{n} dprediction"), &flat(&grad), &dp.data);
}

#[test]
fn losses_parity() {
    let v = load("losses.json");
    let mut st = Stats::new("losses.json", RTOL, ATOL);

    let bce = cases(&v, "bce_with_logits");
    assert!(!bce.is_empty());
    for case in bce {
        let n = name(case);
        let z = req(case, "logits");
        let t = req(case, "targets");
        let targets: Vec<usize> = t
            .data
            .iter()
            .map(|&v| {
                assert!(v == 0.0 || v == 1.0, "{n}: BCE target {v}");
                v as usize
            })
            .collect();
        let zs = tensors_from::<Shape1<U1>>(&z.f32s());
        let mut grad = vec![Tensor::<Shape1<U1>>::zeros(); zs.len()];
        let loss = BinaryCrossEntropy.loss_grad(&zs, &targets, &mut grad);
        st.check(
            &format!("{n} loss"),
            &[loss],
            &[case["loss"].as_f64().unwrap()],
        );
        st.check(
            &format!("{n} dlogits"),
            &flat(&grad),
            &req(case, "dlogits").data,
        );
    }

    let ce = cases(&v, "softmax_cross_entropy");
    assert!(!ce.is_empty());
    for case in ce {
        match req(case, "logits").shape[1] {
            2 => cross_entropy_case::<U2>(case, &mut st),
            3 => cross_entropy_case::<U3>(case, &mut st),
            5 => cross_entropy_case::<U5>(case, &mut st),
            10 => cross_entropy_case::<U10>(case, &mut st),
            other => panic!("losses.json: no typenum size for {other} classes; add a match arm"),
        }
    }

    let mse = cases(&v, "mse");
    assert!(!mse.is_empty());
    for case in mse {
        match req(case, "prediction").shape[1] {
            1 => mse_case::<U1>(case, &mut st),
            3 => mse_case::<U3>(case, &mut st),
            10 => mse_case::<U10>(case, &mut st),
            other => panic!("losses.json: no typenum size for width {other}; add a match arm"),
        }
    }
    st.finish();
}

/// The generic logit losses in f64 against the f64 references: no f32 rounding and no f32
/// constants are involved, so they must agree to f64 precision. rtol 1e-12 (a few hundred ulps
/// of the logsumexp of logits up to 1000), atol 1e-15 (the BCE gradient at z = 40, t = 1 is
/// -4.2e-18 / B, where f64 `sigmoid(40) - 1` gives 0).
#[test]
fn losses_parity_f64() {
    let v = load("losses.json");
    let mut st = Stats::new("losses.json (f64 formulas)", 1e-12, 1e-15);
    for case in cases(&v, "bce_with_logits") {
        let n = name(case);
        let z = req(case, "logits").f32s_as_f64();
        let t = req(case, "targets");
        let b = z.len() as f64;
        let mut loss = 0.0;
        let mut grad = Vec::new();
        for (&z, &t) in z.iter().zip(&t.data) {
            let (l, g) = bce_with_logits(z, t);
            loss += l;
            grad.push(g / b);
        }
        let (rtol, atol) = (st.rtol, st.atol);
        st.check_with(
            &format!("{n} loss"),
            &[loss / b],
            &[case["loss"].as_f64().unwrap()],
            rtol,
            atol,
        );
        st.check_with(
            &format!("{n} dlogits"),
            &grad,
            &req(case, "dlogits").data,
            rtol,
            atol,
        );
    }
    for case in cases(&v, "softmax_cross_entropy") {
        let n = name(case);
        let z = req(case, "logits");
        let zx = z.f32s_as_f64();
        let lab = labels(case, "labels");
        let b = lab.len() as f64;
        let c = z.shape[1];
        let mut loss = 0.0;
        let mut grad = Vec::new();
        for (r, &label) in lab.iter().enumerate() {
            let mut g = vec![0.0f64; c];
            loss += softmax_cross_entropy(&zx[r * c..(r + 1) * c], label, &mut g);
            grad.extend(g.iter().map(|v| v / b));
        }
        let (rtol, atol) = (st.rtol, st.atol);
        st.check_with(
            &format!("{n} loss"),
            &[loss / b],
            &[case["loss"].as_f64().unwrap()],
            rtol,
            atol,
        );
        st.check_with(
            &format!("{n} dlogits"),
            &grad,
            &req(case, "dlogits").data,
            rtol,
            atol,
        );
    }
    st.finish();
}
