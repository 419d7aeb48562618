//! The lecture's worked examples (module `nn::lecture`, `src/lecture.rs`) against the values JAX
//! computes in `scripts/lecture_numbers.py`, stored in `tests/fixtures/lecture.json`. The
//! fixture is only read here, never regenerated.
//!
//! Two kinds of check keep the docs, the layers and the fixture in step:
//!
//! * `conv2d_matches_jax`, `maxpool2d_matches_jax`, `avgpool2d_matches_jax` and
//!   `shared_weight_counts_match_jax` run the layers (and `network!` parameter counts) on the
//!   fixture's inputs and compare them with the fixture's JAX outputs.
//! * `doc_literals_equal_fixture` reads `src/lecture.rs`. Each array literal there that follows
//!   a `// lecture.json: <path>` comment must equal the fixture's value at `<path>`, and every
//!   expected path must appear. The doctests assert that the layers produce those literals.
//!   So a number changed in the docs only, or in the fixture only, fails here.
//!
//! Tolerances: the convolution and max-pool outputs are small integers, exact in f32, and
//! compared for equality. The averages are k/9 float64 references, compared with
//! `|got - want| <= 1e-6 |want|`.

mod common;

use std::collections::BTreeSet;

use common::fixtures::{fixture, Fx};

use nn::generic_array::ArrayLength;
use nn::typenum::consts::*;
use nn::{AvgPool2d, Conv2d, Layer, MaxPool2d, Shape, Shape3, Tensor};
use serde_json::Value;

const RTOL_AVG: f64 = 1e-6;

// ---------------------------------------------------------------------------------------------
// Reading the fixture
// ---------------------------------------------------------------------------------------------

/// The value at a dotted `path` such as `avgpool2d.cases.k3_s1.y`. In a list, a segment
/// selects the element whose `name` equals it.
fn at(path: &str) -> &'static Value {
    let mut v = fixture("lecture.json");
    for seg in path.split('.') {
        v = match v {
            Value::Object(m) => m
                .get(seg)
                .unwrap_or_else(|| panic!("lecture.json: no `{seg}` in `{path}`")),
            Value::Array(a) => {
                let found: Vec<&Value> = a.iter().filter(|c| c["name"] == seg).collect();
                assert_eq!(found.len(), 1, "lecture.json: `{seg}` in `{path}`");
                found[0]
            }
            _ => panic!("lecture.json: `{path}` goes through a scalar at `{seg}`"),
        };
    }
    v
}

/// The fixture tensor `{"shape": [...], "data": [...]}` at `path`.
fn tensor(path: &str) -> Fx {
    Fx::from_value(at(path), path)
}

/// The fixture's `[1, C, H, W]` tensor at `path` as a layer input of shape `S`. The values are
/// small integers, exact in f32.
fn input<S: Shape>(path: &str) -> Tensor<S> {
    let fx = tensor(path);
    let dims = &S::DIMS[..S::RANK];
    assert_eq!(fx.shape[0], 1, "`{path}`: batch of one");
    assert_eq!(&fx.shape[1..], dims, "`{path}`: shape");
    let values: Vec<f32> = fx
        .data
        .iter()
        .map(|&v| {
            assert_eq!(v as f32 as f64, v, "`{path}`: {v} is not an f32 value");
            v as f32
        })
        .collect();
    Tensor::try_from(&values[..]).expect("shape checked")
}

/// Asserts that `got` equals the fixture's `[1, C, H, W]` tensor at `path` exactly.
fn assert_exact<S: Shape>(got: &Tensor<S>, path: &str) {
    let want = tensor(path);
    assert_eq!(&want.shape[1..], &S::DIMS[..S::RANK], "`{path}`: shape");
    let got: Vec<f64> = got.as_slice().iter().map(|&v| f64::from(v)).collect();
    assert_eq!(got, want.data, "`{path}`");
}

/// Asserts `|got - want| <= RTOL_AVG |want|` elementwise against the tensor at `path`.
fn assert_close<S: Shape>(got: &Tensor<S>, path: &str) {
    let want = tensor(path);
    assert_eq!(&want.shape[1..], &S::DIMS[..S::RANK], "`{path}`: shape");
    for (i, (&g, &w)) in got.as_slice().iter().zip(&want.data).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            err <= RTOL_AVG * w.abs(),
            "`{path}`[{i}]: got {g}, JAX {w} (error {err:e})"
        );
    }
}

fn ints(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("list of integers")
        .iter()
        .map(|d| d.as_u64().expect("integer"))
        .collect()
}

fn int(path: &str) -> u64 {
    at(path)
        .as_u64()
        .unwrap_or_else(|| panic!("`{path}`: not an integer"))
}

/// Rounds half up to one decimal, as a slide prints a number.
fn round1(v: f64) -> f64 {
    (v * 10.0 + 0.5).floor() / 10.0
}

// ---------------------------------------------------------------------------------------------
// 1. Convolution
// ---------------------------------------------------------------------------------------------

type LectureConv = Conv2d<U1, U1, U3, U3>;

/// Writes the fixture's PyTorch-layout kernel `w[co][ci][ky][kx]` into the layer's
/// `[ky][kx][ci][co]` memory (the same order for one channel in and out, written out anyway).
fn load_kernel<CI: ArrayLength, CO: ArrayLength, KH: ArrayLength, KW: ArrayLength>(
    conv: &mut Conv2d<CI, CO, KH, KW>,
    w: &Fx,
) {
    let (ci_n, co_n, kh, kw) = (CI::USIZE, CO::USIZE, KH::USIZE, KW::USIZE);
    assert_eq!(w.shape, [co_n, ci_n, kh, kw], "kernel shape");
    let mem = conv.weights_mut();
    for co in 0..co_n {
        for ci in 0..ci_n {
            for ky in 0..kh {
                for kx in 0..kw {
                    let v = w.data[((co * ci_n + ci) * kh + ky) * kw + kx];
                    assert_eq!(v as f32 as f64, v, "kernel value {v} is not an f32");
                    mem[((ky * kw + kx) * ci_n + ci) * co_n + co] = v as f32;
                }
            }
        }
    }
}

#[test]
fn conv2d_matches_jax() {
    let cfg = at("conv2d.config");
    assert_eq!(cfg["in_channels"], 1);
    assert_eq!(cfg["out_channels"], 1);
    assert_eq!(ints(&cfg["kernel"]), [3, 3]);
    assert_eq!(ints(&cfg["stride"]), [1, 1]);
    assert_eq!(ints(&cfg["padding"]), [0, 0, 0, 0]);
    assert_eq!(cfg["bias"], true);

    let x: Tensor<Shape3<U1, U5, U5>> = input("conv2d.x");
    let w = tensor("conv2d.w");
    let mut conv = LectureConv::default();
    load_kernel(&mut conv, &w);
    let b = tensor("conv2d.b");
    assert_eq!(b.data, [0.0]);
    conv.b[0] = b.data[0] as f32;

    let mut y = Tensor::<Shape3<U1, U3, U3>>::zeros();
    conv.forward(&x, &mut y);
    assert_exact(&y, "conv2d.y");
    // The slide's numbers are the mathematics' numbers.
    assert_eq!(at("conv2d.slide_matches"), true);
    assert_exact(&y, "conv2d.slide_y");

    // A true convolution: the kernel turned by 180 degrees.
    let mut flipped = tensor("conv2d.w");
    flipped.data.reverse();
    load_kernel(&mut conv, &flipped);
    conv.forward(&x, &mut y);
    assert_exact(&y, "conv2d.y_flipped_kernel");
    assert_ne!(
        tensor("conv2d.y_flipped_kernel").data,
        tensor("conv2d.slide_y").data
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Max pooling
// ---------------------------------------------------------------------------------------------

#[test]
fn maxpool2d_matches_jax() {
    let cfg = at("maxpool2d.config");
    assert_eq!(ints(&cfg["kernel"]), [3, 3]);
    assert_eq!(ints(&cfg["stride"]), [1, 1]);
    assert_eq!(ints(&cfg["padding"]), [0, 0, 0, 0]);

    let x: Tensor<Shape3<U1, U7, U7>> = input("maxpool2d.x");
    let pool = MaxPool2d::<U3, U3, U1, U1>::default();
    let mut y = Tensor::<Shape3<U1, U5, U5>>::zeros();
    pool.forward(&x, &mut y);
    assert_exact(&y, "maxpool2d.y");

    // The slide differs from the mathematics in exactly the cells the fixture lists.
    assert_eq!(at("maxpool2d.slide_matches"), false);
    let slide = tensor("maxpool2d.slide_y");
    let differ: Vec<Vec<u64>> = (0..25)
        .filter(|&i| f64::from(y.as_slice()[i]) != slide.data[i])
        .map(|i| vec![(i / 5) as u64, (i % 5) as u64])
        .collect();
    let listed: Vec<Vec<u64>> = at("maxpool2d.mismatches")
        .as_array()
        .expect("mismatches")
        .iter()
        .map(|m| ints(&m["index"]))
        .collect();
    assert_eq!(differ, listed);
    assert_eq!(differ, [[2, 2]]);
    assert_eq!(slide.data[2 * 5 + 2], 7.0);
    assert_eq!(y.as_slice()[2 * 5 + 2], 9.0);
}

// ---------------------------------------------------------------------------------------------
// 3. Average pooling
// ---------------------------------------------------------------------------------------------

fn check_avg_config(case: &str, stride: u64) {
    let cfg = at(&format!("avgpool2d.cases.{case}.config"));
    assert_eq!(ints(&cfg["kernel"]), [3, 3]);
    assert_eq!(ints(&cfg["stride"]), [stride, stride]);
    assert_eq!(ints(&cfg["padding"]), [0, 0, 0, 0]);
    assert_eq!(cfg["count_include_pad"], true);
    // The JAX means are the window sums over 9.
    let y = tensor(&format!("avgpool2d.cases.{case}.y"));
    let sums = tensor(&format!("avgpool2d.cases.{case}.window_sums"));
    for (m, s) in y.data.iter().zip(&sums.data) {
        assert!((m - s / 9.0).abs() <= 1e-15 * s, "{case}: {m} != {s}/9");
    }
}

#[test]
fn avgpool2d_matches_jax() {
    let names: BTreeSet<&str> = at("avgpool2d.cases")
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, BTreeSet::from(["k3_s1", "k3_s3"]));

    let x: Tensor<Shape3<U1, U7, U7>> = input("avgpool2d.x");

    check_avg_config("k3_s1", 1);
    let pool = AvgPool2d::<U3, U3, U1, U1>::default();
    let mut y1 = Tensor::<Shape3<U1, U5, U5>>::zeros();
    pool.forward(&x, &mut y1);
    assert_close(&y1, "avgpool2d.cases.k3_s1.y");

    check_avg_config("k3_s3", 3);
    let pool = AvgPool2d::<U3, U3>::default(); // stride = window = 3
    let mut y3 = Tensor::<Shape3<U1, U2, U2>>::zeros();
    pool.forward(&x, &mut y3);
    assert_close(&y3, "avgpool2d.cases.k3_s3.y");

    // Where the slide's two numbers sit, and whether the slide rounded them.
    let values = at("avgpool2d.slide_values").as_array().expect("values");
    assert_eq!(values.len(), 2);
    for v in values {
        let slide = v["slide"].as_f64().expect("slide");
        let jax = v["jax"].as_f64().expect("jax");
        let [r1, c1] = ints(&v["index_stride1"])[..] else {
            panic!("index_stride1")
        };
        let [r3, c3] = ints(&v["index_stride3"])[..] else {
            panic!("index_stride3")
        };
        let got1 = f64::from(y1.as_slice()[(r1 * 5 + c1) as usize]);
        let got3 = f64::from(y3.as_slice()[(r3 * 2 + c3) as usize]);
        assert!((got1 - jax).abs() <= RTOL_AVG * jax && got1 == got3);
        assert_eq!(round1(got1), slide, "slide {slide} vs {got1}");
        let exact = v["slide_matches"] == "exact";
        assert_eq!(jax == slide, exact, "slide {slide}, JAX {jax}");
    }
    // 4.2 is rounded (38/9), 5.0 exact (45/9).
    assert_eq!(values[0]["window_sum"], 38);
    assert_eq!(values[1]["window_sum"], 45);
    // Of the square windows and strides, only 3x3 with stride 1 or 3 gives both numbers.
    let both: Vec<Vec<u64>> = at("avgpool2d.square_window_strides_explaining_both")
        .as_array()
        .expect("list")
        .iter()
        .map(ints)
        .collect();
    assert_eq!(both, [[3, 1], [3, 3]]);
}

// ---------------------------------------------------------------------------------------------
// 4. Shared weights: parameter counts
// ---------------------------------------------------------------------------------------------

nn::network! {
    /// One 3x3 filter over a 256x256 RGB image, with a bias.
    struct SharedKernel {
        input: [3, 256, 256],
        conv: Conv2d(1, kernel = 3),
    }
}

nn::network! {
    /// The same filter without a bias.
    struct SharedKernelNoBias {
        input: [3, 256, 256],
        conv: Conv2d(1, kernel = 3, bias = false),
    }
}

nn::network! {
    /// A Dense layer as wide as its flattened 16x16 RGB input.
    struct DenseSmall {
        input: [3, 16, 16],
        Flatten,
        fc: Dense(768),
    }
}

#[test]
fn shared_weight_counts_match_jax() {
    let hwc = ints(at("shared_weights.image_hwc"));
    assert_eq!(hwc, [256, 256, 3]);
    let kernel = ints(at("shared_weights.kernel"));
    assert_eq!(kernel, [3, 3, 3]);

    // The convolution, counted by `network!`.
    assert_eq!(
        SharedKernelNoBias::PARAMS as u64,
        int("shared_weights.kernel_weights")
    );
    assert_eq!(
        SharedKernel::PARAMS as u64,
        int("shared_weights.kernel_params_with_bias")
    );
    assert_eq!(
        int("shared_weights.kernel_weights"),
        int("shared_weights.slide_kernel_weights")
    );
    assert_eq!(
        SharedKernelNoBias::MACS as u64,
        kernel.iter().product::<u64>() * (hwc[0] - 2) * (hwc[1] - 2)
    );

    // The Dense count: the formula n^2 + n checked by `network!` on a small image, then the
    // fixture's numbers at the slide's size by arithmetic (the macro rejects such a layer).
    let small = 3 * 16 * 16;
    assert_eq!(DenseSmall::PARAMS, small * small + small);
    let n = hwc.iter().product::<u64>();
    assert_eq!(n, int("shared_weights.dense_inputs"));
    assert_eq!(n, int("shared_weights.dense_outputs"));
    assert_eq!(n * n, int("shared_weights.dense_weights"));
    assert_eq!(n * n + n, int("shared_weights.dense_params_with_bias"));
    assert_eq!(n * n, 38_654_705_664);
    assert_eq!(
        u64::from((n * n).ilog10()),
        int("shared_weights.dense_weights_log10_floor")
    );
    assert_eq!(at("shared_weights.slide_dense"), "O(10^10)");
    assert!(n * n > 1 << 26);
}

// ---------------------------------------------------------------------------------------------
// The docs' literals against the fixture
// ---------------------------------------------------------------------------------------------

/// Marks an array literal in `src/lecture.rs`: the next line opens it.
const MARK: &str = "// lecture.json: ";

/// Every fixture path the docs must carry as a literal.
const DOC_PATHS: &[&str] = &[
    "conv2d.x",
    "conv2d.w",
    "conv2d.y",
    "conv2d.y_flipped_kernel",
    "maxpool2d.x",
    "maxpool2d.y",
    "avgpool2d.x",
    "avgpool2d.cases.k3_s3.y",
    "avgpool2d.cases.k3_s1.y",
];

/// `(path, values)` for each marked literal of `src/lecture.rs`, in order. Each value is
/// parsed by serde_json, as the fixture's numbers are, so equal decimal text gives equal
/// values.
fn doc_literals(src: &str) -> Vec<(String, Vec<f64>)> {
    let lines: Vec<&str> = src
        .lines()
        .map(|l| {
            let l = l.trim_start();
            l.strip_prefix("//!").unwrap_or(l).trim()
        })
        .collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(path) = line.strip_prefix(MARK) else {
            continue;
        };
        let rest = lines[i + 1..].join("\n");
        let open = rest
            .find('[')
            .unwrap_or_else(|| panic!("`{path}`: no literal after the marker"));
        assert!(
            !rest[..open].contains('\n'),
            "`{path}`: the literal must open on the line after the marker"
        );
        let close = open + rest[open..].find(']').expect("closing bracket");
        let values = rest[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                let t = t
                    .trim_end_matches("f32")
                    .trim_end_matches("f64")
                    .replace('_', "");
                serde_json::from_str::<f64>(&t)
                    .unwrap_or_else(|e| panic!("`{path}`: `{t}` is not a number: {e}"))
            })
            .collect();
        out.push((path.to_string(), values));
    }
    out
}

#[test]
fn doc_literals_equal_fixture() {
    let src = include_str!("../src/lecture.rs");
    let literals = doc_literals(src);
    let found: BTreeSet<&str> = literals.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        found,
        DOC_PATHS.iter().copied().collect::<BTreeSet<_>>(),
        "marked literals in src/lecture.rs"
    );
    assert_eq!(literals.len(), DOC_PATHS.len(), "a path marked twice");
    for (path, values) in &literals {
        let want = tensor(path);
        assert_eq!(
            values, &want.data,
            "src/lecture.rs literal `{path}` != lecture.json"
        );
    }

    // The parameter counts in the prose and the doctest.
    for (field, forms) in [
        ("kernel_weights", vec!["**27**", "PARAMS, 27"]),
        ("kernel_params_with_bias", vec!["PARAMS, 28"]),
        ("dense_inputs", vec!["196,608", "196_608"]),
        ("dense_weights", vec!["38,654,705,664", "38_654_705_664"]),
        (
            "dense_params_with_bias",
            vec!["38,654,902,272", "38_654_902_272"],
        ),
    ] {
        let v = int(&format!("shared_weights.{field}"));
        for form in forms {
            let digits: String = form.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(digits, v.to_string(), "{field}: `{form}`");
            assert!(
                src.contains(form),
                "src/lecture.rs does not say `{form}` ({field})"
            );
        }
    }
}

#[test]
fn fixture_has_the_four_examples() {
    let keys: BTreeSet<&str> = fixture("lecture.json")
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "generator",
            "conventions",
            "conv2d",
            "maxpool2d",
            "avgpool2d",
            "shared_weights"
        ])
    );
    assert_eq!(at("generator.script"), "scripts/lecture_numbers.py");
}
