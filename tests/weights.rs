//! Weight files (`nn::SafeTensors`): loading reference weights written by Python, save/load round
//! trips in both layouts, every load error, and a fuzz test of the loader.
//!
//! Fixtures (from `scripts/make_weights.py`, see `scripts/README.md`, section "Weight files"):
//! `tests/fixtures/m2_torch.safetensors` (PyTorch names and layouts), `m2_keras.safetensors`
//! (the same weights in Keras layout) and `m2_outputs.json` (5 digits inputs with JAX's logits
//! and softmax outputs of M2 in float64).
//!
//! Erroneous files are written by hand here (an 8-byte little-endian header length, a JSON
//! header `{"name": {"dtype", "shape", "data_offsets"}, ...}`, then the data), so the tests do
//! not depend on a second safetensors writer.
//!
//! Run with `cargo test --release --test weights -- --nocapture` to see the error margins and
//! the fuzz statistics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nn::prelude::*;
use nn::{Layout, NamedTensor, SafeTensors};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestRunner};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------------

nn_models::m2! {
    /// The digits CNN of `scripts/make_weights.py` (M2).
    pub struct M2
}

nn::network! {
    /// A plain MLP.
    pub struct Mlp {
        input: [6],
        fc1: Dense(16), ReLU,
        fc2: Dense(8), Tanh,
        out: Dense(3),
        Softmax,
    }
}

nn::network! {
    /// Batch norm (2-D and 1-D), PReLU per channel and shared, a convolution without bias and
    /// two residual projections (a 1x1 strided convolution `r1_proj` and a Dense `r2_proj`).
    pub struct Deep {
        input: [2, 6, 6],
        stem: Conv2d(4, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d,
        act1: PReLU(per_channel = true),
        r1: Residual(projection) {
            c1: Conv2d(8, kernel = 3, stride = 2, padding = 1, bias = false), bn2: BatchNorm2d, ReLU,
            c2: Conv2d(8, kernel = 3, padding = 1),
        } -> [8, 3, 3],
        act2: PReLU,
        Flatten,
        fc1: Dense(6), bn3: BatchNorm1d, Tanh,
        r2: Residual(projection) { d1: Dense(4), Tanh, d2: Dense(4) },
        out: Dense(3),
        Softmax,
    }
}

nn::network! {
    /// Signals: Conv1d, BatchNorm1d on channels, per-channel PReLU and a Dense after the flatten
    /// of a `[c, l]` tensor (Keras orders those rows l, c).
    pub struct Signal {
        input: [2, 10],
        k1: Conv1d(3, kernel = 3, padding = 1), bn: BatchNorm1d, pr: PReLU(per_channel = true),
        k2: Conv1d(4, kernel = 3, stride = 2),
        Flatten,
        fc: Dense(5),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect()
}

/// A fresh path in the temporary directory (unique per process and tag).
fn tmp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "nn-weights-test-{}-{tag}.safetensors",
        std::process::id()
    ))
}

/// One tensor as written by hand: any dtype string, any shape, raw bytes.
#[derive(Clone, Debug)]
struct Raw {
    name: String,
    dtype: String,
    shape: Vec<u64>,
    data: Vec<u8>,
}

impl Raw {
    fn f32(name: &str, shape: &[u64], values: &[f32]) -> Raw {
        Raw {
            name: name.to_string(),
            dtype: "F32".to_string(),
            shape: shape.to_vec(),
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
    fn from_named(t: &NamedTensor) -> Raw {
        let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
        Raw::f32(&t.name, &shape, &t.data)
    }
    fn values(&self) -> Vec<f32> {
        assert_eq!(self.dtype, "F32");
        self.data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// Assembles a safetensors file: consistent offsets, tensors in the given order, header padded
/// with spaces to a multiple of 8 (as the reference writer does).
fn encode(tensors: &[Raw], metadata: Option<Value>) -> Vec<u8> {
    let mut header = Map::new();
    if let Some(m) = metadata {
        header.insert("__metadata__".into(), m);
    }
    let mut offset = 0usize;
    let mut data = Vec::new();
    for t in tensors {
        let end = offset + t.data.len();
        header.insert(
            t.name.clone(),
            json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, end]}),
        );
        data.extend_from_slice(&t.data);
        offset = end;
    }
    raw_file(
        &serde_json::to_vec(&Value::Object(header)).unwrap(),
        &data,
        None,
    )
}

/// `len` (or the header's length) as 8 bytes little endian, the header (padded with spaces to a
/// multiple of 8 when `len` is `None`), then the data.
fn raw_file(header: &[u8], data: &[u8], len: Option<u64>) -> Vec<u8> {
    let mut h = header.to_vec();
    if len.is_none() {
        while !h.len().is_multiple_of(8) {
            h.push(b' ');
        }
    }
    let mut out = len.unwrap_or(h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

/// Parses a (valid) safetensors file by hand: the metadata and the tensors in offset order.
fn decode(bytes: &[u8]) -> (Option<Value>, Vec<Raw>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n]).expect("header JSON");
    let data = &bytes[8 + n..];
    let mut metadata = None;
    let mut out: Vec<(u64, Raw)> = Vec::new();
    for (name, info) in header {
        if name == "__metadata__" {
            metadata = Some(info);
            continue;
        }
        let off: Vec<u64> = serde_json::from_value(info["data_offsets"].clone()).unwrap();
        out.push((
            off[0],
            Raw {
                name,
                dtype: info["dtype"].as_str().unwrap().to_string(),
                shape: serde_json::from_value(info["shape"].clone()).unwrap(),
                data: data[off[0] as usize..off[1] as usize].to_vec(),
            },
        ));
    }
    out.sort_by_key(|(o, _)| *o);
    (metadata, out.into_iter().map(|(_, r)| r).collect())
}

/// The tensors of `net` in `layout` as raw tensors.
fn raws<N: SafeTensors>(net: &N, layout: Layout) -> Vec<Raw> {
    net.state_dict(layout).iter().map(Raw::from_named).collect()
}

/// Fills every parameter with distinct seeded values, including some special ones (negative
/// zero, a subnormal, values near f32's limits) that a lossy path would change.
fn randomize<N: Parameters>(net: &mut N, seed: u64) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let specials = [
        -0.0f32,
        1.0e-40,
        -3.0e38,
        3.4028235e38,
        1.1754944e-38,
        -7.0e-45,
    ];
    let mut k = 0usize;
    net.visit_mut("", &mut |_, values| {
        for v in values.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *v = if k % 97 == 5 {
                specials[(k / 97) % specials.len()]
            } else {
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0
            };
            k += 1;
        }
    });
}

/// Non-trivial running statistics for a batch norm.
fn set_running(mean: &mut [f32], var: &mut [f32], seed: f32) {
    for (i, (m, v)) in mean.iter_mut().zip(var.iter_mut()).enumerate() {
        *m = seed + 0.37 * i as f32 - 0.81;
        *v = 0.25 + seed * 0.5 + 0.13 * i as f32;
    }
}

/// Names, shapes and bit patterns of two state dicts agree.
fn assert_same_state(what: &str, a: &[NamedTensor], b: &[NamedTensor]) {
    assert_eq!(a.len(), b.len(), "{what}: number of tensors");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.name, y.name, "{what}: tensor order/names");
        assert_eq!(x.shape, y.shape, "{what}: shape of {}", x.name);
        let xb: Vec<u32> = x.data.iter().map(|v| v.to_bits()).collect();
        let yb: Vec<u32> = y.data.iter().map(|v| v.to_bits()).collect();
        assert!(
            xb == yb,
            "{what}: values of {} are not bit-identical",
            x.name
        );
    }
}

fn names(net_tensors: &[NamedTensor]) -> Vec<(String, Vec<usize>)> {
    net_tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect()
}

fn shapes(list: &[(&str, &[usize])]) -> Vec<(String, Vec<usize>)> {
    list.iter()
        .map(|(n, s)| (n.to_string(), s.to_vec()))
        .collect()
}

/// Save/load round trips through files and bytes, in both layouts, and across layouts.
fn roundtrip<N: SafeTensors + Network>(tag: &str, net: &N, x: &Tensor<N::InputShape>) -> usize {
    let torch = net.state_dict(Layout::PyTorch);
    let y = net.forward(x);
    let mut checks = 0;
    for layout in [Layout::PyTorch, Layout::Keras] {
        let path = tmp(&format!("{tag}-{layout:?}"));
        net.save_safetensors_as(&path, layout).expect("save");
        let back = N::load_safetensors_as(&path, layout).expect("load what was saved");
        assert_same_state(
            &format!("{tag} {layout:?} (PyTorch view)"),
            &torch,
            &back.state_dict(Layout::PyTorch),
        );
        assert_same_state(
            &format!("{tag} {layout:?}"),
            &net.state_dict(layout),
            &back.state_dict(layout),
        );
        let yb = back.forward(x);
        assert!(
            y.as_slice()
                .iter()
                .zip(yb.as_slice())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{tag} {layout:?}: forward differs after the round trip"
        );
        // The same bytes through `from_safetensors_bytes`, and the file is what to_bytes makes.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            bytes,
            nn::safetensors_bytes(&net.state_dict(layout)).unwrap(),
            "{tag} {layout:?}: file bytes"
        );
        let back2 = N::from_safetensors_bytes(&bytes, "mem", layout).expect("from bytes");
        assert_same_state(
            &format!("{tag} {layout:?} bytes"),
            &torch,
            &back2.state_dict(Layout::PyTorch),
        );
        // A hand-written file with the same tensors in reverse order and metadata loads the same.
        let mut r = raws(net, layout);
        r.reverse();
        let hand = encode(&r, Some(json!({"format": "pt", "note": "reversed"})));
        let back3 = N::from_safetensors_bytes(&hand, "hand", layout).expect("hand-written file");
        assert_same_state(
            &format!("{tag} {layout:?} hand"),
            &torch,
            &back3.state_dict(Layout::PyTorch),
        );
        // Loading a file of the other layout fails (names differ) for every network with weights.
        let other = if layout == Layout::PyTorch {
            Layout::Keras
        } else {
            Layout::PyTorch
        };
        if net
            .state_dict(layout)
            .iter()
            .any(|t| t.name.ends_with(".weight") || t.name.ends_with(".kernel"))
        {
            assert!(
                N::from_safetensors_bytes(&bytes, "mem", other).is_err(),
                "{tag}: {layout:?} file loaded as {other:?}"
            );
        }
        std::fs::remove_file(&path).ok();
        checks += 5;
    }
    // save_safetensors is the PyTorch layout.
    let path = tmp(&format!("{tag}-default"));
    net.save_safetensors(&path).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        nn::safetensors_bytes(&torch).unwrap(),
        "{tag}: save_safetensors"
    );
    let back = N::load_safetensors(&path).unwrap();
    assert_same_state(
        &format!("{tag} default"),
        &torch,
        &back.state_dict(Layout::PyTorch),
    );
    std::fs::remove_file(&path).ok();
    // Keras file -> network -> PyTorch tensors equals the original PyTorch tensors.
    let keras_bytes = nn::safetensors_bytes(&net.state_dict(Layout::Keras)).unwrap();
    let via = N::from_safetensors_bytes(&keras_bytes, "k", Layout::Keras).unwrap();
    assert_eq!(
        nn::safetensors_bytes(&via.state_dict(Layout::PyTorch)).unwrap(),
        nn::safetensors_bytes(&torch).unwrap()
    );
    checks + 3
}

fn input<N: Network>(seed: u32) -> Tensor<N::InputShape> {
    let v: Vec<f32> = (0..N::INPUT_LEN)
        .map(|i| ((i as u32 * 7919 + seed * 104729) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Tensor::try_from(&v[..]).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Reference weights from Python
// ---------------------------------------------------------------------------------------------

struct Case {
    name: String,
    x: Vec<f32>,
    logits: Vec<f64>,
    y: Vec<f64>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("m2_outputs.json")).expect("m2_outputs.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let t = |c: &Value, k: &str, shape: &[u64]| -> Vec<f64> {
        let s: Vec<u64> = serde_json::from_value(c[k]["shape"].clone()).unwrap();
        assert_eq!(s, shape, "{k}");
        c[k]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let cases: Vec<Case> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            x: t(c, "x", &[1, 8, 8]).iter().map(|&v| v as f32).collect(),
            logits: t(c, "logits", &[10]),
            y: t(c, "y", &[10]),
        })
        .collect();
    assert_eq!(cases.len(), 5);
    cases
}

/// Max abs error and max `|got - want| / (1e-5 + 1e-5 |want|)` of `net` over the cases.
fn compare(net: &M2, what: &str) -> (f64, f64) {
    let (mut max_abs, mut max_ratio) = (0.0f64, 0.0f64);
    for c in cases() {
        let x = Input::<M2>::try_from(&c.x[..]).unwrap();
        for (got, want, kind) in [
            (net.forward(&x), &c.y, "softmax"),
            (net.forward_logits(&x), &c.logits, "logits"),
        ] {
            for (i, (&g, &w)) in got.as_slice().iter().zip(want.iter()).enumerate() {
                let err = (g as f64 - w).abs();
                let tol = 1e-5 + 1e-5 * w.abs();
                assert!(
                    err <= tol,
                    "{what} {} {kind}[{i}]: got {g}, want {w} (error {err:.3e})",
                    c.name
                );
                max_abs = max_abs.max(err);
                max_ratio = max_ratio.max(err / tol);
            }
        }
    }
    (max_abs, max_ratio)
}

#[test]
fn m2_torch_file_matches_jax() {
    let net = M2::load_safetensors(fixture("m2_torch.safetensors")).expect("load m2_torch");
    let (abs, ratio) = compare(&net, "torch");
    println!("m2_torch.safetensors: max abs error {abs:.3e} (max error / tolerance {ratio:.3})");
}

#[test]
fn m2_keras_file_matches_jax() {
    let net = M2::load_safetensors_as(fixture("m2_keras.safetensors"), Layout::Keras)
        .expect("load m2_keras");
    let (abs, ratio) = compare(&net, "keras");
    println!("m2_keras.safetensors: max abs error {abs:.3e} (max error / tolerance {ratio:.3})");
}

#[test]
fn m2_torch_and_keras_files_give_the_same_network() {
    let t = M2::load_safetensors(fixture("m2_torch.safetensors")).unwrap();
    let k = M2::load_safetensors_as(fixture("m2_keras.safetensors"), Layout::Keras).unwrap();
    assert_same_state(
        "torch vs keras file",
        &t.state_dict(Layout::PyTorch),
        &k.state_dict(Layout::PyTorch),
    );
    // Exporting in each layout reproduces Python's tensors bit for bit.
    for (file, layout) in [
        ("m2_torch.safetensors", Layout::PyTorch),
        ("m2_keras.safetensors", Layout::Keras),
    ] {
        let (meta, py) = decode(&std::fs::read(fixture(file)).unwrap());
        assert!(
            meta.is_some(),
            "{file}: Python writes __metadata__, which the loader must skip"
        );
        let mut ours = t.state_dict(layout);
        ours.sort_by(|a, b| a.name.cmp(&b.name));
        let mut py: Vec<NamedTensor> = py
            .iter()
            .map(|r| NamedTensor {
                name: r.name.clone(),
                shape: r.shape.iter().map(|&d| d as usize).collect(),
                data: r.values(),
            })
            .collect();
        py.sort_by(|a, b| a.name.cmp(&b.name));
        assert_same_state(&format!("export vs {file}"), &py, &ours);
    }
    assert_eq!(
        names(&t.state_dict(Layout::PyTorch)),
        shapes(&[
            ("conv1.weight", &[8, 1, 3, 3]),
            ("conv1.bias", &[8]),
            ("conv2.weight", &[16, 8, 3, 3]),
            ("conv2.bias", &[16]),
            ("fc.weight", &[10, 64]),
            ("fc.bias", &[10]),
        ])
    );
    // The Keras fc rule, checked index by index on the loaded network.
    let torch_fc = &t.state_dict(Layout::PyTorch)[4].data;
    let keras_fc = &t.state_dict(Layout::Keras)[4].data;
    for c in 0..16 {
        for h in 0..2 {
            for w in 0..2 {
                for o in 0..10 {
                    assert_eq!(
                        keras_fc[((h * 2 + w) * 16 + c) * 10 + o],
                        torch_fc[o * 64 + c * 4 + h * 2 + w]
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn roundtrip_m2() {
    let mut net = M2::new(7);
    randomize(&mut net, 1);
    let n = roundtrip("m2", &net, &input::<M2>(1));
    let fresh = M2::new(11);
    roundtrip("m2-fresh", &fresh, &input::<M2>(2));
    println!("roundtrip_m2: {n} checks per network");
}

#[test]
fn roundtrip_mlp() {
    let mut net = Mlp::new(3);
    randomize(&mut net, 2);
    roundtrip("mlp", &net, &input::<Mlp>(3));
    assert_eq!(
        names(&net.state_dict(Layout::Keras)),
        shapes(&[
            ("fc1.kernel", &[6, 16]),
            ("fc1.bias", &[16]),
            ("fc2.kernel", &[16, 8]),
            ("fc2.bias", &[8]),
            ("out.kernel", &[8, 3]),
            ("out.bias", &[3]),
        ])
    );
    // Without a flatten, the Keras kernel is the transpose of the PyTorch weight.
    let t = net.state_dict(Layout::PyTorch);
    let k = net.state_dict(Layout::Keras);
    for o in 0..16 {
        for i in 0..6 {
            assert_eq!(
                k[0].data[i * 16 + o].to_bits(),
                t[0].data[o * 6 + i].to_bits()
            );
        }
    }
}

fn deep() -> Deep {
    let mut net = Deep::new(5);
    randomize(&mut net, 3);
    set_running(&mut net.bn1.running_mean, &mut net.bn1.running_var, 0.3);
    set_running(&mut net.bn2.running_mean, &mut net.bn2.running_var, 1.7);
    set_running(&mut net.bn3.running_mean, &mut net.bn3.running_var, -0.4);
    net
}

#[test]
fn roundtrip_batchnorm_prelu_residual() {
    let net = deep();
    roundtrip("deep", &net, &input::<Deep>(4));
    let t = net.state_dict(Layout::PyTorch);
    assert_eq!(
        names(&t),
        shapes(&[
            ("stem.weight", &[4, 2, 3, 3]),
            ("bn1.weight", &[4]),
            ("bn1.bias", &[4]),
            ("bn1.running_mean", &[4]),
            ("bn1.running_var", &[4]),
            ("act1.weight", &[4]),
            ("c1.weight", &[8, 4, 3, 3]),
            ("bn2.weight", &[8]),
            ("bn2.bias", &[8]),
            ("bn2.running_mean", &[8]),
            ("bn2.running_var", &[8]),
            ("c2.weight", &[8, 8, 3, 3]),
            ("c2.bias", &[8]),
            ("r1_proj.weight", &[8, 4, 1, 1]),
            ("act2.weight", &[1]),
            ("fc1.weight", &[6, 72]),
            ("fc1.bias", &[6]),
            ("bn3.weight", &[6]),
            ("bn3.bias", &[6]),
            ("bn3.running_mean", &[6]),
            ("bn3.running_var", &[6]),
            ("d1.weight", &[4, 6]),
            ("d1.bias", &[4]),
            ("d2.weight", &[4, 4]),
            ("d2.bias", &[4]),
            ("r2_proj.weight", &[4, 6]),
            ("r2_proj.bias", &[4]),
            ("out.weight", &[3, 4]),
            ("out.bias", &[3]),
        ]),
        "PyTorch names (print: {:?})",
        names(&t)
    );
    let k = net.state_dict(Layout::Keras);
    let knames: Vec<String> = k.iter().map(|t| t.name.clone()).collect();
    for n in [
        "stem.kernel",
        "bn1.gamma",
        "bn1.beta",
        "bn1.moving_mean",
        "bn1.moving_variance",
        "act1.alpha",
        "r1_proj.kernel",
        "act2.alpha",
        "bn3.moving_variance",
        "r2_proj.kernel",
    ] {
        assert!(
            knames.iter().any(|k| k == n),
            "Keras names lack {n}: {knames:?}"
        );
    }
    // The running statistics are in the file and come back (they are not learned parameters,
    // so `randomize` does not reach them; `set_running` made them non-default).
    let back =
        Deep::from_safetensors_bytes(&nn::safetensors_bytes(&t).unwrap(), "deep", Layout::PyTorch)
            .unwrap();
    assert_eq!(
        back.bn2.running_mean.as_slice(),
        net.bn2.running_mean.as_slice()
    );
    assert_eq!(
        back.bn2.running_var.as_slice(),
        net.bn2.running_var.as_slice()
    );
    assert_ne!(
        back.bn2.running_var.as_slice(),
        Deep::default().bn2.running_var.as_slice()
    );
    let back =
        Deep::from_safetensors_bytes(&nn::safetensors_bytes(&k).unwrap(), "deep", Layout::Keras)
            .unwrap();
    assert_eq!(
        back.bn3.running_mean.as_slice(),
        net.bn3.running_mean.as_slice()
    );
    assert_eq!(
        back.bn3.running_var.as_slice(),
        net.bn3.running_var.as_slice()
    );
    assert_eq!(back.act1.alpha.as_slice(), net.act1.alpha.as_slice());
    assert_eq!(back.act2.alpha.to_bits(), net.act2.alpha.to_bits());
}

#[test]
fn roundtrip_signal_conv1d() {
    let mut net = Signal::new(9);
    randomize(&mut net, 4);
    set_running(&mut net.bn.running_mean, &mut net.bn.running_var, 0.9);
    roundtrip("signal", &net, &input::<Signal>(5));
    let t = net.state_dict(Layout::PyTorch);
    let k = net.state_dict(Layout::Keras);
    assert_eq!(
        names(&k),
        shapes(&[
            ("k1.kernel", &[3, 2, 3]),
            ("k1.bias", &[3]),
            ("bn.gamma", &[3]),
            ("bn.beta", &[3]),
            ("bn.moving_mean", &[3]),
            ("bn.moving_variance", &[3]),
            ("pr.alpha", &[3]),
            ("k2.kernel", &[3, 3, 4]),
            ("k2.bias", &[4]),
            ("fc.kernel", &[16, 5]),
            ("fc.bias", &[5]),
        ])
    );
    // Conv1d: torch [out, in, k] vs Keras [k, in, out].
    let (tw, kw) = (&t[0].data, &k[0].data);
    for o in 0..3 {
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(
                    kw[(j * 2 + i) * 3 + o].to_bits(),
                    tw[(o * 2 + i) * 3 + j].to_bits()
                );
            }
        }
    }
    // Dense after flattening [4, 4] (c, l): Keras row l*4 + c holds torch column c*4 + l.
    let (tf, kf) = (&t[9].data, &k[9].data);
    for c in 0..4 {
        for l in 0..4 {
            for o in 0..5 {
                assert_eq!(
                    kf[(l * 4 + c) * 5 + o].to_bits(),
                    tf[o * 16 + c * 4 + l].to_bits()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

fn m2_raws(layout: Layout) -> Vec<Raw> {
    let mut net = M2::new(1);
    randomize(&mut net, 9);
    raws(&net, layout)
}

fn load_m2(bytes: &[u8], layout: Layout) -> Result<M2, nn::Error> {
    M2::from_safetensors_bytes(bytes, "weights/m2.safetensors", layout)
}

fn err_m2(bytes: &[u8], layout: Layout) -> (nn::Error, String) {
    let e = load_m2(bytes, layout).expect_err("this file must not load");
    let msg = e.to_string();
    assert!(
        msg.contains("weights/m2.safetensors"),
        "message does not name the file: {msg}"
    );
    (e, msg)
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message `{msg}` does not mention `{p}`");
    }
}

#[test]
fn error_missing_tensor() {
    for (layout, drop, shape) in [
        (Layout::PyTorch, "conv2.bias", vec![16usize]),
        (Layout::PyTorch, "fc.weight", vec![10, 64]),
        (Layout::Keras, "fc.kernel", vec![64, 10]),
        (Layout::Keras, "conv1.kernel", vec![3, 3, 1, 8]),
    ] {
        let r: Vec<Raw> = m2_raws(layout)
            .into_iter()
            .filter(|t| t.name != drop)
            .collect();
        let (e, msg) = err_m2(&encode(&r, None), layout);
        match e {
            nn::Error::MissingTensor {
                ref name,
                ref expected,
                ..
            } => {
                assert_eq!(name, drop);
                assert_eq!(expected, &shape);
            }
            other => panic!("expected MissingTensor for {drop}, got {other:?}"),
        }
        assert_mentions(
            &msg,
            &[&format!("`{drop}`"), &format!("{shape:?}"), "missing"],
        );
    }
    // A Keras file read as PyTorch: the first PyTorch name is missing.
    let (e, msg) = err_m2(&encode(&m2_raws(Layout::Keras), None), Layout::PyTorch);
    assert!(
        matches!(e, nn::Error::MissingTensor { ref name, .. } if name == "conv1.weight"),
        "{e:?}"
    );
    assert_mentions(&msg, &["`conv1.weight`", "[8, 1, 3, 3]"]);
    // An empty file (no tensors at all).
    let (e, _) = err_m2(&encode(&[], None), Layout::PyTorch);
    assert!(matches!(e, nn::Error::MissingTensor { .. }), "{e:?}");
}

#[test]
fn error_extra_tensor() {
    for (layout, extra) in [
        (Layout::PyTorch, "fc2.weight"),
        (Layout::Keras, "conv1.weight"),
        (Layout::PyTorch, "conv1.kernel"),
    ] {
        let mut r = m2_raws(layout);
        r.insert(2, Raw::f32(extra, &[2], &[1.0, 2.0]));
        let (e, msg) = err_m2(&encode(&r, None), layout);
        match e {
            nn::Error::ExtraTensor { ref name, .. } => assert_eq!(name, extra),
            other => panic!("expected ExtraTensor for {extra}, got {other:?}"),
        }
        assert_mentions(&msg, &[&format!("`{extra}`"), "does not belong"]);
    }
    // An extra tensor of another dtype is still an extra tensor.
    let mut r = m2_raws(Layout::PyTorch);
    r.push(Raw {
        name: "step".into(),
        dtype: "I64".into(),
        shape: vec![],
        data: 5i64.to_le_bytes().to_vec(),
    });
    let (e, _) = err_m2(&encode(&r, None), Layout::PyTorch);
    assert!(
        matches!(e, nn::Error::ExtraTensor { ref name, .. } if name == "step"),
        "{e:?}"
    );
}

#[test]
fn error_wrong_shape() {
    let cases: Vec<(Layout, &str, Vec<u64>, Vec<usize>)> = vec![
        (Layout::PyTorch, "fc.weight", vec![64, 10], vec![10, 64]), // a Keras kernel under a PyTorch name
        (
            Layout::PyTorch,
            "conv1.weight",
            vec![8, 1, 9],
            vec![8, 1, 3, 3],
        ),
        (Layout::PyTorch, "conv1.bias", vec![], vec![8]), // a scalar (one value: 4 bytes)
        (
            Layout::Keras,
            "conv2.kernel",
            vec![16, 8, 3, 3],
            vec![3, 3, 8, 16],
        ), // a PyTorch weight under a Keras name
        (Layout::Keras, "fc.bias", vec![1, 10], vec![10]),
    ];
    for (layout, target, found, expected) in cases {
        let r: Vec<Raw> = m2_raws(layout)
            .into_iter()
            .map(|mut t| {
                if t.name == target {
                    let n: u64 = found.iter().product();
                    t.data = (0..n)
                        .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
                        .collect();
                    t.shape = found.clone();
                }
                t
            })
            .collect();
        let (e, msg) = err_m2(&encode(&r, None), layout);
        let found_usize: Vec<usize> = found.iter().map(|&d| d as usize).collect();
        match e {
            nn::Error::TensorShape {
                ref name,
                expected: ref ex,
                found: ref fo,
                ..
            } => {
                assert_eq!(name, target);
                assert_eq!(ex, &expected);
                assert_eq!(fo, &found_usize);
            }
            other => panic!("expected TensorShape for {target}, got {other:?}"),
        }
        assert_mentions(
            &msg,
            &[
                &format!("`{target}`"),
                &format!("{found_usize:?}"),
                &format!("{expected:?}"),
            ],
        );
    }
}

#[test]
fn error_wrong_dtype() {
    for (dtype, target, elem) in [
        ("F64", "fc.weight", 8usize),
        ("I32", "conv1.bias", 4),
        ("F16", "conv2.weight", 2),
        ("BF16", "fc.bias", 2),
    ] {
        let r: Vec<Raw> = m2_raws(Layout::PyTorch)
            .into_iter()
            .map(|mut t| {
                if t.name == target {
                    let n = t.data.len() / 4;
                    t.data = match dtype {
                        "F64" => t
                            .values()
                            .iter()
                            .flat_map(|&v| (v as f64).to_le_bytes())
                            .collect(),
                        "I32" => (0..n as i32).flat_map(|i| i.to_le_bytes()).collect(),
                        _ => vec![0x3c; n * elem],
                    };
                    t.dtype = dtype.to_string();
                }
                t
            })
            .collect();
        let (e, msg) = err_m2(&encode(&r, None), Layout::PyTorch);
        match e {
            nn::Error::TensorDtype {
                ref name,
                ref found,
                ..
            } => {
                assert_eq!(name, target);
                assert_eq!(found, dtype);
            }
            other => panic!("expected TensorDtype for {target}, got {other:?}"),
        }
        assert_mentions(&msg, &[&format!("`{target}`"), dtype, "F32"]);
    }
}

#[test]
fn error_truncated_file() {
    let good = encode(&m2_raws(Layout::PyTorch), None);
    assert!(load_m2(&good, Layout::PyTorch).is_ok());
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // Inside the length prefix, inside the header, just after it, inside the data, one byte short.
    for cut in [0, 3, 7, 8, 8 + n / 2, 8 + n, 8 + n + 100, good.len() - 1] {
        let (e, msg) = err_m2(&good[..cut], Layout::PyTorch);
        assert!(
            matches!(e, nn::Error::WeightFile { .. }),
            "cut at {cut}: {e:?}"
        );
        assert_mentions(&msg, &["not a valid safetensors file"]);
    }
    // A byte too many is not a valid file either.
    let mut long = good.clone();
    long.push(0);
    let (e, _) = err_m2(&long, Layout::PyTorch);
    assert!(matches!(e, nn::Error::WeightFile { .. }), "{e:?}");
    // Through the file API: the path names the file.
    let path = tmp("truncated");
    std::fs::write(&path, &good[..good.len() - 4]).unwrap();
    let e = M2::load_safetensors(&path).expect_err("truncated");
    assert!(matches!(e, nn::Error::WeightFile { .. }), "{e:?}");
    assert_mentions(&e.to_string(), &[&path.display().to_string()]);
    std::fs::remove_file(&path).ok();
}

#[test]
fn error_corrupt_header() {
    let data = vec![0u8; 16];
    for header in [
        &b"this is not JSON at all!"[..],
        b"{\"conv1.weight\": {\"dtype\": \"F32\", ",
        b"[1, 2, 3]",
        b"{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": \"zero\"}}",
        b"{\"a\": {\"dtype\": \"Q7\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
        b"{\"a\": {\"dtype\": \"F32\", \"shape\": [5], \"data_offsets\": [0, 16]}}",
        b"{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [4, 20]}}",
        b"\xff\xfe{}\x00",
    ] {
        let file = raw_file(header, &data, Some(header.len() as u64));
        let (e, msg) = err_m2(&file, Layout::PyTorch);
        assert!(
            matches!(e, nn::Error::WeightFile { .. }),
            "{:?}: {e:?}",
            String::from_utf8_lossy(header)
        );
        assert_mentions(&msg, &["not a valid safetensors file"]);
    }
}

#[test]
fn error_header_length_beyond_file() {
    let good = encode(&m2_raws(Layout::PyTorch), None);
    for len in [
        good.len() as u64,
        good.len() as u64 - 7,
        99_999_999,
        100_000_001,
        u64::MAX,
        1 << 63,
    ] {
        let mut bad = good.clone();
        bad[..8].copy_from_slice(&len.to_le_bytes());
        let (e, msg) = err_m2(&bad, Layout::PyTorch);
        assert!(
            matches!(e, nn::Error::WeightFile { .. }),
            "length {len}: {e:?}"
        );
        assert_mentions(&msg, &["not a valid safetensors file"]);
    }
}

#[test]
fn error_non_finite_weight() {
    for (layout, target, index, value) in [
        (Layout::PyTorch, "fc.weight", 197usize, f32::NAN),
        (Layout::PyTorch, "conv1.bias", 0, f32::INFINITY),
        (Layout::Keras, "conv2.kernel", 1151, f32::NEG_INFINITY),
        (Layout::Keras, "fc.kernel", 3, f32::from_bits(0x7fc0_0001)), // a NaN payload
    ] {
        let r: Vec<Raw> = m2_raws(layout)
            .into_iter()
            .map(|mut t| {
                if t.name == target {
                    t.data[index * 4..index * 4 + 4].copy_from_slice(&value.to_le_bytes());
                }
                t
            })
            .collect();
        let (e, msg) = err_m2(&encode(&r, None), layout);
        match e {
            nn::Error::NonFiniteWeight {
                ref name, index: i, ..
            } => {
                assert_eq!(name, target);
                assert_eq!(i, index);
            }
            other => panic!("expected NonFiniteWeight for {target}, got {other:?}"),
        }
        assert_mentions(
            &msg,
            &[
                &format!("`{target}`"),
                &format!("index {index}"),
                "NaN or infinite",
            ],
        );
    }
}

#[test]
fn error_missing_file() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no_such_weights.safetensors");
    for layout in [Layout::PyTorch, Layout::Keras] {
        let e = M2::load_safetensors_as(&path, layout).expect_err("missing file");
        match &e {
            nn::Error::Io { path: p, source } => {
                assert_eq!(p, &path.display().to_string());
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Io, got {other:?}"),
        }
        assert_mentions(&e.to_string(), &[&path.display().to_string()]);
    }
    // Saving into a directory that does not exist is an Io error naming the path as well.
    let bad = std::env::temp_dir().join("nn-weights-no-such-dir/x/m2.safetensors");
    let e = M2::new(1).save_safetensors(&bad).expect_err("no directory");
    assert!(
        matches!(e, nn::Error::Io { ref path, .. } if path == &bad.display().to_string()),
        "{e:?}"
    );
}

#[test]
fn num_batches_tracked_is_ignored() {
    let net = deep();
    let mut r = raws(&net, Layout::PyTorch);
    // As PyTorch writes it: an I64 scalar after each batch norm's tensors.
    for bn in ["bn1", "bn2", "bn3"] {
        let at = r
            .iter()
            .position(|t| t.name == format!("{bn}.running_var"))
            .unwrap()
            + 1;
        r.insert(
            at,
            Raw {
                name: format!("{bn}.num_batches_tracked"),
                dtype: "I64".into(),
                shape: vec![],
                data: 12i64.to_le_bytes().to_vec(),
            },
        );
    }
    let bytes = encode(&r, Some(json!({"format": "pt"})));
    let back = Deep::from_safetensors_bytes(&bytes, "deep", Layout::PyTorch)
        .expect("num_batches_tracked must be ignored");
    assert_same_state(
        "with num_batches_tracked",
        &net.state_dict(Layout::PyTorch),
        &back.state_dict(Layout::PyTorch),
    );
    // It is not written back.
    assert!(back
        .state_dict(Layout::PyTorch)
        .iter()
        .all(|t| !t.name.contains("num_batches_tracked")));
    // Other unknown tensors still fail next to it.
    r.push(Raw::f32("bn1.momentum", &[1], &[0.1]));
    let e = Deep::from_safetensors_bytes(&encode(&r, None), "deep", Layout::PyTorch)
        .expect_err("extra");
    assert!(
        matches!(e, nn::Error::ExtraTensor { ref name, .. } if name == "bn1.momentum"),
        "{e:?}"
    );
}

#[test]
fn error_names_the_source() {
    let r: Vec<Raw> = m2_raws(Layout::PyTorch).into_iter().skip(1).collect();
    let e = M2::from_safetensors_bytes(&encode(&r, None), "<from the network>", Layout::PyTorch)
        .unwrap_err();
    assert!(
        matches!(&e, nn::Error::MissingTensor { path, .. } if path == "<from the network>"),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("<from the network>: "), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Keras flatten order when something sits between Flatten and Dense
// ---------------------------------------------------------------------------------------------

nn::network! {
    /// Flatten directly into Dense.
    pub struct FlatDense {
        input: [2, 2, 3],
        conv: Conv2d(3, kernel = 1),
        Flatten,
        fc: Dense(4),
    }
}

nn::network! {
    /// The same with a Dropout (identity at inference) between Flatten and Dense: Keras's Dense
    /// still sees the H, W, C order, so its kernel must be the same.
    pub struct FlatDropDense {
        input: [2, 2, 3],
        conv: Conv2d(3, kernel = 1),
        Flatten, Dropout(0.5),
        fc: Dense(4),
    }
}

nn::network! {
    /// The same with a ReLU between Flatten and Dense.
    pub struct FlatReluDense {
        input: [2, 2, 3],
        conv: Conv2d(3, kernel = 1),
        Flatten, ReLU,
        fc: Dense(4),
    }
}

/// Regression test: the Keras row reordering of a `Dense` applies when the layer's input comes
/// from `Flatten` through layers that keep values in place (`Flatten, Dropout(p), Dense`, or an
/// activation in between); it was once only applied right after `Flatten`.
#[test]
fn keras_flatten_order_survives_dropout() {
    let mut a = FlatDense::new(1);
    randomize(&mut a, 5);
    let bytes = nn::safetensors_bytes(&a.state_dict(Layout::PyTorch)).unwrap();
    let b = FlatDropDense::from_safetensors_bytes(&bytes, "same weights", Layout::PyTorch).unwrap();
    assert_same_state(
        "PyTorch layout",
        &a.state_dict(Layout::PyTorch),
        &b.state_dict(Layout::PyTorch),
    );
    assert_same_state(
        "Keras layout, Dropout",
        &a.state_dict(Layout::Keras),
        &b.state_dict(Layout::Keras),
    );
    let c = FlatReluDense::from_safetensors_bytes(&bytes, "same weights", Layout::PyTorch).unwrap();
    assert_same_state(
        "Keras layout, ReLU",
        &a.state_dict(Layout::Keras),
        &c.state_dict(Layout::Keras),
    );
}

// ---------------------------------------------------------------------------------------------
// Fuzz: mutated files never make the loader panic
// ---------------------------------------------------------------------------------------------

/// Valid files to mutate: M2 in both layouts (the Python fixtures) and `Deep` in both layouts
/// (with `num_batches_tracked`), so every layer kind's import is reached.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = vec![
        std::fs::read(fixture("m2_torch.safetensors")).unwrap(),
        std::fs::read(fixture("m2_keras.safetensors")).unwrap(),
    ];
    let net = deep();
    let mut r = raws(&net, Layout::PyTorch);
    r.push(Raw {
        name: "bn1.num_batches_tracked".into(),
        dtype: "I64".into(),
        shape: vec![],
        data: 3i64.to_le_bytes().to_vec(),
    });
    out.push(encode(&r, Some(json!({"format": "pt"}))));
    out.push(nn::safetensors_bytes(&net.state_dict(Layout::Keras)).unwrap());
    out
}

static CALLS: AtomicUsize = AtomicUsize::new(0);
static OKS: AtomicUsize = AtomicUsize::new(0);
/// Results by kind: Ok, WeightFile, MissingTensor, ExtraTensor, TensorShape, TensorDtype,
/// NonFiniteWeight, other.
static KINDS: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
const KIND_NAMES: [&str; 8] = [
    "Ok",
    "WeightFile",
    "Missing",
    "Extra",
    "Shape",
    "Dtype",
    "NonFinite",
    "other",
];

fn kind<N>(r: &Result<N, nn::Error>) -> usize {
    match r {
        Ok(_) => 0,
        Err(nn::Error::WeightFile { .. }) => 1,
        Err(nn::Error::MissingTensor { .. }) => 2,
        Err(nn::Error::ExtraTensor { .. }) => 3,
        Err(nn::Error::TensorShape { .. }) => 4,
        Err(nn::Error::TensorDtype { .. }) => 5,
        Err(nn::Error::NonFiniteWeight { .. }) => 6,
        Err(_) => 7,
    }
}

fn kinds_snapshot() -> [usize; 8] {
    std::array::from_fn(|i| KINDS[i].load(Ordering::Relaxed))
}

/// Loads `bytes` into both networks in both layouts; any panic fails the property. A network
/// that loads has only finite parameters, and saving it gives a file that loads back the same.
fn load_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    fn one<N: SafeTensors>(bytes: &[u8], layout: Layout) -> Result<(), TestCaseError> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        let r = N::from_safetensors_bytes(bytes, "fuzz", layout);
        KINDS[kind(&r)].fetch_add(1, Ordering::Relaxed);
        if let Ok(net) = r {
            OKS.fetch_add(1, Ordering::Relaxed);
            let sd = net.state_dict(layout);
            prop_assert!(sd.iter().all(|t| t.data.iter().all(|v| v.is_finite())));
            let again =
                N::from_safetensors_bytes(&nn::safetensors_bytes(&sd).unwrap(), "again", layout)
                    .unwrap();
            prop_assert!(again.state_dict(layout) == sd);
        }
        Ok(())
    }
    for layout in [Layout::PyTorch, Layout::Keras] {
        one::<M2>(bytes, layout)?;
        one::<Deep>(bytes, layout)?;
    }
    Ok(())
}

/// Header of a corpus file as a JSON map, and its data.
fn split(bytes: &[u8]) -> (Map<String, Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (
        serde_json::from_slice(&bytes[8..8 + n]).unwrap(),
        bytes[8 + n..].to_vec(),
    )
}

const DTYPES: &[&str] = &[
    "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
    "F8_E4M3", "F8_E5M2", "F4", "F6_E2M3", "C64", "f32", "", "F33", "F32 ",
];

const NAMES: &[&str] = &[
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "fc.weight",
    "fc.bias",
    "conv1.kernel",
    "conv2.kernel",
    "fc.kernel",
    "stem.weight",
    "bn1.weight",
    "bn1.running_var",
    "bn1.num_batches_tracked",
    "act1.weight",
    "act2.alpha",
    "r1_proj.weight",
    "r2_proj.bias",
    "__metadata__",
    "",
    ".weight",
    "fc.weight\u{0}",
    "é",
    "num_batches_tracked",
];

/// A dimension: small, the ones M2 uses, or huge (overflowing products).
fn dim() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..20,
        2 => prop::sample::select(vec![1u64, 3, 8, 9, 10, 16, 64, 72]),
        1 => prop::sample::select(vec![1u64 << 31, 1 << 32, 1 << 62, (1 << 63) + 1, u64::MAX, u64::MAX / 4 + 1]),
        1 => any::<u64>(),
    ]
}

/// Any JSON value, from a small grammar (depth 3).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|v| json!(v)),
        dim().prop_map(|v| json!(v)),
        (-1e30f64..1e30).prop_map(|v| json!(v)),
        prop::sample::select(DTYPES).prop_map(|s| json!(s)),
        "[a-z_.0-9]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{0,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One tensor entry of a header, usually well formed, sometimes with fields of any type.
fn tensor_info() -> impl Strategy<Value = Value> {
    let dtype =
        prop_oneof![4 => prop::sample::select(DTYPES).prop_map(|s| json!(s)), 1 => json_value()];
    let shape = prop_oneof![4 => prop::collection::vec(dim(), 0..5).prop_map(|s| json!(s)), 1 => json_value()];
    let offsets = prop_oneof![
        4 => (dim(), dim()).prop_map(|(a, b)| json!([a, b])),
        1 => prop::collection::vec(dim(), 0..4).prop_map(|v| json!(v)),
        1 => json_value(),
    ];
    let extra = prop::option::of(("[a-z_]{1,6}", json_value()));
    (dtype, shape, offsets, extra, 0u8..8).prop_map(|(d, s, o, extra, drop)| {
        let mut m = Map::new();
        if drop != 0 {
            m.insert("dtype".into(), d);
        }
        if drop != 1 {
            m.insert("shape".into(), s);
        }
        if drop != 2 {
            m.insert("data_offsets".into(), o);
        }
        if let Some((k, v)) = extra {
            m.insert(k, v);
        }
        Value::Object(m)
    })
}

/// M2's tensors (PyTorch or Keras names and shapes), each kept as it is (most of the time) or
/// given another dtype, another shape, a random entry, or dropped; plus maybe an extra entry.
fn plausible_m2() -> impl Strategy<Value = Vec<(String, Value)>> {
    const TORCH: [(&str, &[u64]); 6] = [
        ("conv1.weight", &[8, 1, 3, 3]),
        ("conv1.bias", &[8]),
        ("conv2.weight", &[16, 8, 3, 3]),
        ("conv2.bias", &[16]),
        ("fc.weight", &[10, 64]),
        ("fc.bias", &[10]),
    ];
    const KERAS: [(&str, &[u64]); 6] = [
        ("conv1.kernel", &[3, 3, 1, 8]),
        ("conv1.bias", &[8]),
        ("conv2.kernel", &[3, 3, 8, 16]),
        ("conv2.bias", &[16]),
        ("fc.kernel", &[64, 10]),
        ("fc.bias", &[10]),
    ];
    let change = (
        0u8..16,
        prop::sample::select(DTYPES),
        prop::collection::vec(dim(), 0..5),
        tensor_info(),
    );
    (
        any::<bool>(),
        prop::collection::vec(change, 6),
        prop::option::of((prop::sample::select(NAMES), tensor_info())),
    )
        .prop_map(|(keras, changes, extra)| {
            let table = if keras { KERAS } else { TORCH };
            let mut out = Vec::new();
            for ((name, shape), (what, dtype, other_shape, info)) in table.iter().zip(changes) {
                let entry = match what {
                    12 => json!({"dtype": dtype, "shape": shape, "data_offsets": [0, 0]}),
                    13 => json!({"dtype": "F32", "shape": other_shape, "data_offsets": [0, 0]}),
                    14 => info,
                    15 => continue,
                    _ => json!({"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}),
                };
                out.push((name.to_string(), entry));
            }
            out.extend(extra.map(|(n, v)| (n.to_string(), v)));
            out
        })
}

/// Edits of a corpus file's header (the data stays).
#[derive(Clone, Debug)]
enum Edit {
    /// Set dimension `d` of tensor `t` (or append one).
    Dim(Index, Index, u64),
    /// Drop the last dimension.
    DropDim(Index),
    Dtype(Index, &'static str),
    Offsets(Index, u64, u64),
    /// Add `delta` to both offsets of a tensor.
    Shift(Index, i64),
    Remove(Index),
    Rename(Index, &'static str),
    /// Replace a field of a tensor by any JSON value.
    Field(Index, Index, Value),
    /// A new tensor entry.
    Add(&'static str, Value),
    Metadata(Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), any::<Index>(), dim()).prop_map(|(t, d, v)| Edit::Dim(t, d, v)),
        1 => any::<Index>().prop_map(Edit::DropDim),
        2 => (any::<Index>(), prop::sample::select(DTYPES)).prop_map(|(t, d)| Edit::Dtype(t, d)),
        2 => (any::<Index>(), dim(), dim()).prop_map(|(t, a, b)| Edit::Offsets(t, a, b)),
        2 => (any::<Index>(), -64i64..64).prop_map(|(t, d)| Edit::Shift(t, d)),
        2 => any::<Index>().prop_map(Edit::Remove),
        2 => (any::<Index>(), prop::sample::select(NAMES)).prop_map(|(t, n)| Edit::Rename(t, n)),
        2 => (any::<Index>(), any::<Index>(), json_value()).prop_map(|(t, f, v)| Edit::Field(t, f, v)),
        1 => (prop::sample::select(NAMES), tensor_info()).prop_map(|(n, v)| Edit::Add(n, v)),
        1 => json_value().prop_map(Edit::Metadata),
    ]
}

fn apply(header: &mut Map<String, Value>, e: &Edit) {
    let keys: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let key = |i: &Index| -> Option<String> {
        (!keys.is_empty()).then(|| keys[i.index(keys.len())].clone())
    };
    match e {
        Edit::Dim(t, d, v) => {
            if let Some(k) = key(t) {
                if let Some(shape) = header[&k]["shape"].as_array_mut() {
                    let n = shape.len();
                    let i = d.index(n + 1);
                    if i == n {
                        shape.push(json!(v))
                    } else {
                        shape[i] = json!(v)
                    }
                }
            }
        }
        Edit::DropDim(t) => {
            if let Some(k) = key(t) {
                if let Some(shape) = header[&k]["shape"].as_array_mut() {
                    shape.pop();
                }
            }
        }
        Edit::Dtype(t, d) => {
            if let Some(k) = key(t) {
                header[&k]["dtype"] = json!(d);
            }
        }
        Edit::Offsets(t, a, b) => {
            if let Some(k) = key(t) {
                header[&k]["data_offsets"] = json!([a, b]);
            }
        }
        Edit::Shift(t, delta) => {
            if let Some(k) = key(t) {
                let off: Vec<u64> =
                    serde_json::from_value(header[&k]["data_offsets"].clone()).unwrap_or_default();
                let moved: Vec<Value> = off
                    .iter()
                    .map(|&o| json!((o as i128 + *delta as i128).clamp(0, u64::MAX as i128) as u64))
                    .collect();
                header[&k]["data_offsets"] = Value::Array(moved);
            }
        }
        Edit::Remove(t) => {
            if let Some(k) = key(t) {
                header.remove(&k);
            }
        }
        Edit::Rename(t, n) => {
            if let Some(k) = key(t) {
                if let Some(v) = header.remove(&k) {
                    header.insert(n.to_string(), v);
                }
            }
        }
        Edit::Field(t, f, v) => {
            if let Some(k) = key(t) {
                let field = ["dtype", "shape", "data_offsets", "other"][f.index(4)];
                header[&k][field] = v.clone();
            }
        }
        Edit::Add(n, v) => {
            header.insert(n.to_string(), v.clone());
        }
        Edit::Metadata(v) => {
            header.insert("__metadata__".into(), v.clone());
        }
    }
}

/// Rewrites the offsets of a header so that the tensors are laid out one after the other in
/// key order, and returns the data length that makes the file consistent (`None` if some
/// entry is not a well-formed tensor entry or a size overflows).
fn make_consistent(header: &mut Map<String, Value>) -> Option<u64> {
    let mut offset = 0u64;
    for (k, v) in header.iter_mut() {
        if k == "__metadata__" {
            continue;
        }
        let bits = match v.get("dtype")?.as_str()? {
            "F64" | "I64" | "U64" | "C64" => 64,
            "F32" | "I32" | "U32" => 32,
            "F16" | "BF16" | "I16" | "U16" => 16,
            "F4" => 4,
            "F6_E2M3" | "F6_E3M2" => 6,
            _ => 8,
        };
        let shape: Vec<u64> = serde_json::from_value(v.get("shape")?.clone()).ok()?;
        let n = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))?
            .checked_mul(bits)?
            / 8;
        if n > 1 << 16 {
            return None;
        }
        v["data_offsets"] = json!([offset, offset + n]);
        offset += n;
    }
    Some(offset)
}

/// A runner with a fixed seed per strategy (reproducible runs), unless `PROPTEST_RNG_SEED` is
/// set, which explores other inputs. Failures are not persisted to files.
fn runner(cases: u32, seed: u64) -> TestRunner {
    let base = ProptestConfig::default();
    let rng_seed = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        base.rng_seed
    } else {
        RngSeed::Fixed(seed)
    };
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        rng_seed,
        ..base
    })
}

/// Runs one strategy for `cases` cases; returns (cases run, seconds).
fn fuzz<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    f: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> (usize, f64)
where
    S::Value: std::fmt::Debug,
{
    let count = AtomicUsize::new(0);
    let calls0 = CALLS.load(Ordering::Relaxed);
    let oks0 = OKS.load(Ordering::Relaxed);
    let kinds0 = kinds_snapshot();
    let t = Instant::now();
    let seed = 20250301 + name.len() as u64 * 1000 + name.bytes().map(u64::from).sum::<u64>();
    let result = runner(cases, seed).run(&strategy, |v| {
        count.fetch_add(1, Ordering::Relaxed);
        f(v)
    });
    let secs = t.elapsed().as_secs_f64();
    let n = count.load(Ordering::Relaxed);
    println!(
        "fuzz {name:<14} {n:>6} cases, {:>6} loads ({:>5} Ok), {secs:.2} s",
        CALLS.load(Ordering::Relaxed) - calls0,
        OKS.load(Ordering::Relaxed) - oks0
    );
    let kinds: Vec<String> = kinds_snapshot()
        .iter()
        .zip(kinds0)
        .zip(KIND_NAMES)
        .filter(|((now, before), _)| **now > *before)
        .map(|((now, before), k)| format!("{k} {}", now - before))
        .collect();
    println!("     {:<14} results: {}", "", kinds.join(", "));
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
    (n, secs)
}

/// Each strategy gets `FUZZ_CASES` cases; 5 strategies, 20,000 cases, 80,000 loads in all
/// (each case is loaded into M2 and Deep in both layouts).
const FUZZ_CASES: u32 = 4000;

#[test]
fn fuzz_from_safetensors_bytes_never_panics() {
    let corpus = corpus();
    let t = Instant::now();
    let mut total = 0;
    let pick = |i: usize| corpus[i % corpus.len()].clone();

    // 1. Random byte flips, half of them aimed at the length prefix and header.
    total += fuzz(
        "byte flips",
        FUZZ_CASES,
        (
            0..4usize,
            prop::collection::vec((any::<bool>(), any::<Index>(), 1u8..=255), 1..8),
        ),
        |(b, flips)| {
            let mut bytes = pick(b);
            let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            for (in_header, at, x) in flips {
                let i = if in_header {
                    at.index(header_end)
                } else {
                    at.index(bytes.len())
                };
                bytes[i] ^= x;
            }
            load_all(&bytes)
        },
    )
    .0;

    // 2. Truncations (and a few extensions with garbage).
    total += fuzz(
        "truncations",
        FUZZ_CASES,
        (
            0..4usize,
            any::<Index>(),
            prop::collection::vec(any::<u8>(), 0..3),
        ),
        |(b, at, tail)| {
            let mut bytes = pick(b);
            let cut = at.index(bytes.len() + 1);
            bytes.truncate(cut);
            bytes.extend_from_slice(&tail);
            load_all(&bytes)
        },
    )
    .0;

    // 3. Insertions and deletions of byte runs.
    total += fuzz(
        "insert/delete",
        FUZZ_CASES,
        (
            0..4usize,
            prop::collection::vec(
                (
                    any::<bool>(),
                    any::<Index>(),
                    prop::collection::vec(any::<u8>(), 1..16),
                ),
                1..4,
            ),
        ),
        |(b, ops)| {
            let mut bytes = pick(b);
            for (insert, at, run) in ops {
                let i = at.index(bytes.len() + 1);
                if insert {
                    bytes.splice(i..i, run);
                } else {
                    let end = (i + run.len()).min(bytes.len());
                    bytes.drain(i..end);
                }
            }
            load_all(&bytes)
        },
    )
    .0;

    // 4. Structured header edits, then either the original data or a data region that fits the
    //    edited header (so the network's checks run), and sometimes a wrong length prefix.
    total += fuzz(
        "header edits",
        FUZZ_CASES,
        (
            0..4usize,
            prop::collection::vec(edit(), 1..5),
            0u8..4,
            any::<u32>(),
            -16i64..16,
        ),
        |(b, edits, mode, fill, len_delta)| {
            let (mut header, data) = split(&pick(b));
            for e in &edits {
                apply(&mut header, e);
            }
            let data = match (mode, make_consistent(&mut header.clone())) {
                // consistent offsets, data from the original file (padded / cut) or a fill pattern
                (0 | 1, Some(len)) => {
                    make_consistent(&mut header);
                    let mut d = if mode == 0 {
                        data
                    } else {
                        fill.to_le_bytes().repeat(len as usize / 4 + 1)
                    };
                    d.resize(len as usize, 0);
                    d
                }
                _ => data,
            };
            let h = serde_json::to_vec(&Value::Object(header)).unwrap();
            let len = if mode == 3 {
                Some((h.len() as i64 + len_delta).max(0) as u64)
            } else {
                None
            };
            load_all(&raw_file(&h, &data, len))
        },
    )
    .0;

    // 5. Headers from a small grammar: tensor entries under known and odd names, any JSON value
    //    as an entry, or M2's tensors with a few changes; consistent offsets most of the time,
    //    random data (so NaN and infinities appear too).
    let entry = prop_oneof![6 => tensor_info(), 1 => json_value()];
    let random_entries = prop::collection::vec((prop::sample::select(NAMES), entry), 0..8)
        .prop_map(|v| {
            v.into_iter()
                .map(|(k, e)| (k.to_string(), e))
                .collect::<Vec<_>>()
        });
    total += fuzz(
        "grammar",
        FUZZ_CASES,
        (
            prop_oneof![random_entries, plausible_m2()],
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..64),
            prop_oneof![8 => Just(Value::Null), 1 => json_value()],
        ),
        |(entries, consistent, noise, top)| {
            let mut header: Map<String, Value> = entries.into_iter().collect();
            let data = match (consistent, make_consistent(&mut header.clone())) {
                (true, Some(len)) => {
                    make_consistent(&mut header);
                    noise
                        .iter()
                        .copied()
                        .cycle()
                        .take(len as usize)
                        .collect::<Vec<u8>>()
                }
                _ => noise,
            };
            // Occasionally the whole header is some other JSON value.
            let h = if top.is_null() {
                Value::Object(header)
            } else {
                top
            };
            load_all(&raw_file(&serde_json::to_vec(&h).unwrap(), &data, None))
        },
    )
    .0;

    println!(
        "fuzz total: {total} cases, {} loads ({} Ok), {:.2} s",
        CALLS.load(Ordering::Relaxed),
        OKS.load(Ordering::Relaxed),
        t.elapsed().as_secs_f64()
    );
    assert_eq!(total, 5 * FUZZ_CASES as usize);
}
