//! Comparing an analytic gradient with finite differences. Two rules, kept apart because the
//! suites justify different tolerances:
//!
//! * [`check_scaled`]: `|analytic - fd| <= TOL * scale`, `scale` = the largest `|fd|` of the
//!   tensor (`gradcheck_conv`, `gradcheck_deep`). Negative controls: every entry 1 % off, and
//!   only the largest entry 1 % off, must both be rejected. Returns a [`Row`] for the summary.
//! * [`check_normalized`]: `|analytic - fd| <= atol + rtol |fd|` entry by entry (`gradcheck`,
//!   with tolerances per precision). Negative control: every entry 1 % off must be rejected.

use std::collections::BTreeMap;

/// [`check_scaled`]'s tolerance, relative to the tensor's gradient scale (largest |fd|).
pub const TOL: f64 = 2e-3;

/// The outcome of one [`check_scaled`] comparison (one gradient tensor).
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

/// `max |a - b|` and its index; asserts that every value is finite.
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

/// Asserts `|analytic - fd| <= TOL * scale` and that 1 % errors are rejected (all entries, and
/// the largest one alone).
pub fn check_scaled(class: &'static str, label: &str, analytic: &[f64], fd: &[f64]) -> Row {
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

/// Largest normalized error `|a - b| / (atol + rtol |b|)` over the pairs, with its index.
pub fn max_normalized(analytic: &[f64], fd: &[f64], rtol: f64, atol: f64) -> (f64, usize) {
    assert_eq!(analytic.len(), fd.len(), "length mismatch");
    let mut worst = (0.0f64, 0usize);
    for (i, (&a, &b)) in analytic.iter().zip(fd).enumerate() {
        assert!(
            a.is_finite() && b.is_finite(),
            "non-finite value at {i}: {a} vs {b}"
        );
        let e = (a - b).abs() / (atol + rtol * b.abs());
        if e > worst.0 {
            worst = (e, i);
        }
    }
    worst
}

/// Largest absolute and relative (over entries with `|fd| > atol`) errors, for the messages.
pub fn abs_rel(analytic: &[f64], fd: &[f64], atol: f64) -> (f64, f64) {
    let mut abs = 0.0f64;
    let mut rel = 0.0f64;
    for (&a, &b) in analytic.iter().zip(fd) {
        abs = abs.max((a - b).abs());
        if b.abs() > atol {
            rel = rel.max((a - b).abs() / b.abs());
        }
    }
    (abs, rel)
}

/// Asserts that `analytic` matches `fd` within `atol + rtol |fd|` entry by entry, and that the
/// same comparison rejects `1.01 * analytic` (so the check is able to fail). Returns the
/// largest normalized error.
pub fn check_normalized(label: &str, analytic: &[f64], fd: &[f64], rtol: f64, atol: f64) -> f64 {
    let (e, i) = max_normalized(analytic, fd, rtol, atol);
    let (abs, rel) = abs_rel(analytic, fd, atol);
    println!(
        "{label}: {} values, max abs err {abs:.3e}, max rel err {rel:.3e}, max normalized {e:.3e}",
        analytic.len()
    );
    assert!(
        e <= 1.0,
        "{label}: gradient mismatch at index {i}: analytic {} vs finite difference {} \
         (normalized error {e:.3}, rtol {rtol}, atol {atol})",
        analytic[i],
        fd[i]
    );
    let scaled: Vec<f64> = analytic.iter().map(|a| a * 1.01).collect();
    let (es, _) = max_normalized(&scaled, fd, rtol, atol);
    assert!(
        es > 1.0,
        "{label}: the check cannot tell a 1% gradient error (normalized {es:.3}); too loose"
    );
    e
}

/// A check of a suite: the rows of its comparisons.
pub type CheckFn = fn() -> Vec<Row>;

/// One `#[test]` per check function (in a module `check`, so the test of `foo` is
/// `check::foo`), and the list `ALL` of `(name, function)` for a summary table.
#[allow(unused_macros)] // not every test file that uses `common` has checks
macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        mod check {
            $(
                #[test]
                fn $name() {
                    let rows = super::$name();
                    assert!(!rows.is_empty());
                }
            )*
        }
        const ALL: &[(&str, $crate::common::CheckFn)] =
            &[$((stringify!($name), $name as $crate::common::CheckFn)),*];
    };
}
#[allow(unused_imports)]
pub(crate) use checks;

/// Prints, per class of rows, the number of comparisons and values and the largest absolute,
/// scaled and relative errors.
pub fn print_class_summary(title: &str, rows: &[Row]) {
    #[derive(Default)]
    struct Agg {
        comparisons: usize,
        values: usize,
        max_abs: f64,
        max_over_scale: f64,
        max_rel: f64,
    }
    let mut classes: BTreeMap<&str, Agg> = BTreeMap::new();
    for r in rows {
        let a = classes.entry(r.class).or_default();
        a.comparisons += 1;
        a.values += r.n;
        a.max_abs = a.max_abs.max(r.max_abs);
        a.max_over_scale = a.max_over_scale.max(r.max_over_scale);
        a.max_rel = a.max_rel.max(r.max_rel);
    }
    let width = classes.keys().map(|c| c.len()).max().unwrap_or(0).max(5);
    println!();
    println!("{title}:");
    println!(
        "| {:<width$} | {:>11} | {:>6} | {:>10} | {:>10} | {:>10} |",
        "class", "comparisons", "values", "max abs", "abs/scale", "max rel"
    );
    for (c, a) in &classes {
        println!(
            "| {:<width$} | {:>11} | {:>6} | {:>10.3e} | {:>10.3e} | {:>10.3e} |",
            c, a.comparisons, a.values, a.max_abs, a.max_over_scale, a.max_rel
        );
    }
}
