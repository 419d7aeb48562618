//! `save_onnx`: every reference network exported by nn runs in onnxruntime with the outputs of
//! nn's `forward` (within 1e-5), and imports back (`#[onnx]`) as the same network.
//!
//! The exported files are checked in under `tests/fixtures/onnx_export/` with onnxruntime's
//! outputs on them (`scripts/onnx/run_exported.py`, onnxruntime from PyPI: the oracle never
//! runs nn). `exports_match_the_checked_in_files` keeps those files what `save_onnx` writes
//! today; after a deliberate change to the export, rewrite them with
//! `NN_ONNX_EXPORT=overwrite cargo test --test onnx_export` and rerun the script.

mod common;
use common::fixtures::f32s;

use nn::prelude::*;
use serde_json::Value;

nn_models::m1! { pub struct M1 }
nn_models::m2! { pub struct M2 }
nn_models::m3! { pub struct M3 }
nn_models::m4! { pub struct M4 }

nn::network! {
    /// A residual network with batch norm, a projection and average pooling.
    pub struct ResBn {
        input: [2, 8, 8],
        stem: Conv2d(8, kernel = 3, padding = 1),
        bn0: BatchNorm2d,
        ReLU,
        block1: Residual {
            c1: Conv2d(8, kernel = 3, padding = 1),
            bn1: BatchNorm2d,
            ReLU,
            c2: Conv2d(8, kernel = 3, padding = 1),
            bn2: BatchNorm2d,
        },
        ReLU,
        block2: Residual(projection) {
            c3: Conv2d(12, kernel = 3, stride = 2, padding = 1),
            ReLU,
        },
        AvgPool2d(2, padding = 1, count_include_pad = false),
        Flatten,
        drop: Dropout(0.3),
        fc: Dense(6),
        Softmax,
    }
}

nn::network! {
    /// Every activation, 1-D convolutions and pooling, per-channel PReLU.
    pub struct Acts {
        input: [3, 16],
        c1: Conv1d(4, kernel = 3, padding = (2, 0)),
        p1: PReLU(per_channel = true),
        MaxPool1d(2, stride = 2),
        c2: Conv1d(4, kernel = 3, stride = 2, padding = same, bias = false),
        GELU,
        AvgPool1d(2),
        Flatten,
        d1: Dense(12),
        SiLU,
        d2: Dense(12),
        GELU(approximate = tanh),
        d3: Dense(12),
        ELU(0.7),
        d4: Dense(12),
        SELU,
        d5: Dense(12),
        LeakyReLU(0.2),
        d6: Dense(12),
        Softplus,
        d7: Dense(12),
        Tanh,
        d8: Dense(12),
        Gaussian,
        d9: Dense(12),
        // A step alone would make every later value one of a few; added to its input it keeps
        // the sample's information.
        stepped: Residual { Step },
        d10: Dense(12),
        p2: PReLU,
        d11: Dense(3),
        Sigmoid,
    }
}

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx_export")
}

/// `net` with its batch norms' running statistics set away from (0, 1).
fn with_statistics<N: SafeTensors>(net: N) -> N {
    let mut t = net.state_dict(Layout::PyTorch);
    for (k, x) in t.iter_mut().enumerate() {
        if x.name.ends_with("running_mean") {
            x.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.1 * ((i + k) % 5) as f32 - 0.2);
        }
        if x.name.ends_with("running_var") {
            x.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.5 + 0.25 * ((i * 3 + k) % 4) as f32);
        }
    }
    let bytes = nn::safetensors_bytes(&t).unwrap();
    N::from_safetensors_bytes(&bytes, "statistics", Layout::PyTorch).unwrap()
}

fn res_bn() -> ResBn {
    with_statistics(ResBn::new(5))
}

fn acts() -> Acts {
    Acts::new(6)
}

/// Writes (with `NN_ONNX_EXPORT=overwrite`) or compares the export of `net` as `name.onnx`.
fn check_file<N: Onnx>(net: &N, name: &str) {
    let bytes = net.to_onnx().unwrap();
    common::fixtures::check_onnx_file("onnx_export", name, &bytes, "scripts/onnx/run_exported.py");
}

#[test]
fn exports_match_the_checked_in_files() {
    check_file(&M1::new(1), "m1");
    check_file(&M2::new(2), "m2");
    check_file(&M3::new(3), "m3");
    check_file(&M4::new(4), "m4");
    check_file(&res_bn(), "res_bn");
    check_file(&acts(), "acts");
}

/// nn's forward against onnxruntime's outputs on the exported file; the largest difference.
fn against_onnxruntime<N: Network>(net: &N, name: &str) -> f32
where
    for<'a> nn::Input<N>: TryFrom<&'a [f32]>,
{
    let path = dir().join(format!("{name}.json"));
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let xs = f32s(&f["inputs"]);
    let ys = f32s(&f["ort_outputs"]);
    let n = f["count"].as_u64().unwrap() as usize;
    let (n_in, n_out) = (xs.len() / n, ys.len() / n);
    let mut worst = 0f32;
    for s in 0..n {
        let Ok(x) = nn::Input::<N>::try_from(&xs[s * n_in..(s + 1) * n_in]) else {
            panic!("{name}: input {s} has the wrong length");
        };
        let y = net.forward(&x);
        for (a, b) in y.as_slice().iter().zip(&ys[s * n_out..(s + 1) * n_out]) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= 1e-5, "{name}: max |nn - onnxruntime| = {worst:e}");
    println!("{name}: {n} samples, max |nn - onnxruntime| = {worst:e}");
    worst
}

#[test]
fn reference_models_match_onnxruntime() {
    against_onnxruntime(&M1::new(1), "m1");
    against_onnxruntime(&M2::new(2), "m2");
    against_onnxruntime(&M3::new(3), "m3");
    against_onnxruntime(&M4::new(4), "m4");
    against_onnxruntime(&res_bn(), "res_bn");
    against_onnxruntime(&acts(), "acts");
}

nn::network! { #[onnx = "tests/fixtures/onnx_export/m1.onnx"] pub struct M1Back; }
nn::network! { #[onnx = "tests/fixtures/onnx_export/m2.onnx"] pub struct M2Back; }
nn::network! { #[onnx = "tests/fixtures/onnx_export/m3.onnx"] pub struct M3Back; }
nn::network! { #[onnx = "tests/fixtures/onnx_export/m4.onnx"] pub struct M4Back; }
nn::network! { #[onnx = "tests/fixtures/onnx_export/res_bn.onnx"] pub struct ResBnBack; }
nn::network! { #[onnx = "tests/fixtures/onnx_export/acts.onnx"] pub struct ActsBack; }

/// The re-imported network has the same tensors (names, shapes, values) and computes the same
/// bits as the exported one.
fn same_network<A, B>(a: &A, b: &B, name: &str)
where
    A: Network + SafeTensors,
    B: Network + SafeTensors,
    for<'x> nn::Input<A>: TryFrom<&'x [f32]>,
    for<'x> nn::Input<B>: TryFrom<&'x [f32]>,
{
    let (ta, tb) = (a.state_dict(Layout::PyTorch), b.state_dict(Layout::PyTorch));
    let names = |t: &[nn::NamedTensor]| {
        t.iter()
            .map(|x| (x.name.clone(), x.shape.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&ta), names(&tb), "{name}: tensors");
    for (x, y) in ta.iter().zip(&tb) {
        assert!(x.data == y.data, "{name}: tensor {} differs", x.name);
    }
    let path = dir().join(format!("{name}.json"));
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let xs = f32s(&f["inputs"]);
    let n = f["count"].as_u64().unwrap() as usize;
    let n_in = xs.len() / n;
    for s in 0..n {
        let chunk = &xs[s * n_in..(s + 1) * n_in];
        let (Ok(xa), Ok(xb)) = (
            nn::Input::<A>::try_from(chunk),
            nn::Input::<B>::try_from(chunk),
        ) else {
            panic!("{name}: input length");
        };
        let (ya, yb) = (a.forward(&xa), b.forward(&xb));
        let bits = |t: &[f32]| t.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(ya.as_slice()),
            bits(yb.as_slice()),
            "{name}: sample {s}"
        );
    }
}

#[test]
fn exported_models_import_back_as_the_same_network() {
    same_network(&M1::new(1), &M1Back::pretrained(), "m1");
    same_network(&M2::new(2), &M2Back::pretrained(), "m2");
    same_network(&M3::new(3), &M3Back::pretrained(), "m3");
    same_network(&M4::new(4), &M4Back::pretrained(), "m4");
    same_network(&res_bn(), &ResBnBack::pretrained(), "res_bn");
    same_network(&acts(), &ActsBack::pretrained(), "acts");
    assert_eq!(ResBnBack::PARAMS, ResBn::PARAMS);
    assert_eq!(ActsBack::PARAMS, Acts::PARAMS);
    assert_eq!(M3Back::MACS, M3::MACS);
}
