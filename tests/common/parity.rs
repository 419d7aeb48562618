//! Error statistics and reports of the parity suites that run one fixture case per test
//! (`parity_conv`, `parity_deep`), and the check that the tests cover the fixture files.
//!
//! Every comparison uses `|got - want| <= atol + rtol |want|`, with the forward tolerances of
//! [`super::fixtures`] for forward values and the gradient tolerances for gradients.

use super::fixtures::{fixture, ATOL_FWD, ATOL_GRAD, RTOL_FWD, RTOL_GRAD};

/// Errors of one compared tensor.
#[derive(Clone, Debug)]
pub struct Errors {
    pub what: String,
    /// `true` for gradients, `false` for forward values.
    pub grad: bool,
    pub n: usize,
    pub rtol: f64,
    pub atol: f64,
    pub max_abs: f64,
    /// Over entries with `|want| > atol`.
    pub max_rel: f64,
    /// Largest `|got - want| / (atol + rtol |want|)` (must be `<= 1`; infinite where `got` is
    /// not finite).
    pub max_norm: f64,
    pub worst: String,
}

/// Compares `got` with the fixture's `want` with the forward (`grad == false`) or gradient
/// tolerances.
pub fn compare(what: &str, grad: bool, got: &[f64], want: &[f64]) -> Errors {
    let (rtol, atol) = if grad {
        (RTOL_GRAD, ATOL_GRAD)
    } else {
        (RTOL_FWD, ATOL_FWD)
    };
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values computed, {} in the fixture",
        got.len(),
        want.len()
    );
    let mut e = Errors {
        what: what.to_string(),
        grad,
        n: got.len(),
        rtol,
        atol,
        max_abs: 0.0,
        max_rel: 0.0,
        max_norm: 0.0,
        worst: String::new(),
    };
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = if g.is_finite() {
            (g - w).abs()
        } else {
            f64::INFINITY
        };
        e.max_abs = e.max_abs.max(err);
        if w.abs() > atol {
            e.max_rel = e.max_rel.max(err / w.abs());
        }
        let norm = err / (atol + rtol * w.abs());
        if norm > e.max_norm || e.worst.is_empty() {
            e.max_norm = e.max_norm.max(norm);
            e.worst = format!("[{i}]: got {g:e}, want {w:e}");
        }
    }
    e
}

/// What one fixture case gave.
#[derive(Clone, Debug)]
pub struct Report {
    pub label: String,
    pub errors: Vec<Errors>,
    /// Contract violations other than value mismatches.
    pub failures: Vec<String>,
}

impl Report {
    pub fn new(label: impl Into<String>) -> Self {
        Report {
            label: label.into(),
            errors: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Compares forward values.
    pub fn fwd(&mut self, what: &str, got: &[f64], want: &[f64]) {
        self.errors.push(compare(what, false, got, want));
    }

    /// Compares gradients.
    pub fn grad(&mut self, what: &str, got: &[f64], want: &[f64]) {
        self.errors.push(compare(what, true, got, want));
    }

    /// The errors of the tensor `what`, if it was compared.
    pub fn get(&self, what: &str) -> Option<&Errors> {
        self.errors.iter().find(|e| e.what == what)
    }

    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.errors.iter().all(|e| e.max_norm <= 1.0)
    }

    /// Largest absolute, relative and normalized errors of the forward values or gradients.
    pub fn max_of(&self, grad: bool) -> (f64, f64, f64) {
        self.errors
            .iter()
            .filter(|e| e.grad == grad)
            .fold((0.0, 0.0, 0.0), |(a, r, n), e| {
                (a.max(e.max_abs), r.max(e.max_rel), n.max(e.max_norm))
            })
    }

    pub fn print(&self) {
        for e in &self.errors {
            println!(
                "{} {}: {} values, max abs err {:.3e}, max rel err {:.3e}, max normalized {:.3e} (rtol {:e}, atol {:e}), worst {}",
                self.label, e.what, e.n, e.max_abs, e.max_rel, e.max_norm, e.rtol, e.atol, e.worst
            );
        }
        let (fa, fr, fnorm) = self.max_of(false);
        let (ga, gr, gnorm) = self.max_of(true);
        println!(
            "{} MAX: forward abs {fa:.3e} rel {fr:.3e} norm {fnorm:.3}; gradients abs {ga:.3e} rel {gr:.3e} norm {gnorm:.3}",
            self.label
        );
        for f in &self.failures {
            println!("{}: FAILURE: {f}", self.label);
        }
    }

    /// Fails with every tensor out of tolerance and every contract violation.
    pub fn assert_ok(&self) {
        let mut msgs: Vec<String> = self
            .errors
            .iter()
            .filter(|e| e.max_norm > 1.0)
            .map(|e| {
                format!(
                    "{}: max normalized error {:.3} > 1 (max abs {:.3e}, rtol {:e}, atol {:e}), worst {}",
                    e.what, e.max_norm, e.max_abs, e.rtol, e.atol, e.worst
                )
            })
            .collect();
        msgs.extend(self.failures.iter().cloned());
        assert!(msgs.is_empty(), "{}:\n  {}", self.label, msgs.join("\n  "));
    }
}

/// Whether one fixture case may be tested more than once (e.g. through a layer and through a
/// generated network).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    Allowed,
    Forbidden,
}

/// Asserts that the cases tested (`file/list/name`) are exactly the cases of the fixture files:
/// `files` names each file's lists of cases, and no other top-level list may exist.
pub fn assert_covers(files: &[(&str, &[&str])], tested: &[(&str, &str, &str)], repeats: Repeats) {
    let mut in_files = Vec::new();
    for &(file, lists) in files {
        let v = fixture(file);
        // No list is left out: every array at the top level is one of the lists above.
        for (k, val) in v.as_object().expect("top level object") {
            if val.is_array() {
                assert!(lists.contains(&k.as_str()), "{file}: untested list `{k}`");
            }
        }
        for list in lists {
            for c in v[*list].as_array().expect("list") {
                in_files.push(format!(
                    "{file}/{list}/{}",
                    c["name"].as_str().expect("name")
                ));
            }
        }
    }
    let mut tested: Vec<String> = tested
        .iter()
        .map(|(f, l, n)| format!("{f}/{l}/{n}"))
        .collect();
    in_files.sort();
    tested.sort();
    let before = tested.len();
    tested.dedup();
    if repeats == Repeats::Forbidden {
        assert_eq!(before, tested.len(), "a case is tested twice");
    }
    assert_eq!(
        in_files, tested,
        "the cases tested differ from the cases in the fixture files"
    );
    println!("coverage: {} cases, all tested", tested.len());
}
