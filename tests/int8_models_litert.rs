//! Whole-model int8 parity with LiteRT (issue 17, item 3), and the int8 twin's weight files.
//!
//! `export_int8_models` (ignored; run by hand) builds M1, M2, M4 and a residual CNN with
//! average pooling from seeded weights, quantizes each with `quantize_int8` on a fixed
//! calibration set and writes its twin (`<model>.safetensors`) and int8 inputs
//! (`<model>_inputs.json`) to `tests/fixtures/int8_models/`. Then
//! `scripts/litert_int8/make_model_fixtures.py` rebuilds every model as a TFLite flatbuffer from
//! those int8 tensors, runs the inputs through LiteRT's reference kernels and writes
//! `<model>_litert.json` with LiteRT's int8 logits. The tests here load the checked-in twins and
//! require every output byte of `forward_int8` to equal LiteRT's.
//!
//! ```sh
//! cargo test --test int8_models_litert -- --ignored export_int8_models
//! /work/venv-litert/bin/python scripts/litert_int8/make_model_fixtures.py
//! ```

mod common;
use common::seeded::{inputs, with_biases};

use std::path::{Path, PathBuf};

use nn::quant::{Rounding, TensorI8};
use nn::{safetensors_bytes, Layout, SafeTensors};
use serde_json::{json, Value};

nn_models::m1! {
    /// M1, the jet tagger.
    struct JetTagger
}

nn_models::m2! {
    /// M2, the digits CNN.
    struct DigitsCnn
}

nn_models::m4! {
    /// M4, the MNIST-1D CNN.
    struct Mnist1dCnn
}

#[path = "common/residual_avg.rs"]
mod residual_avg;
residual_avg::residual_avg! {
    /// A residual block and average pooling.
    struct ResidualAvg
}

/// Calibration samples per model.
const CALIBRATION: usize = 64;
/// Inputs per model in the fixtures.
const INPUTS: usize = 64;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/int8_models")
}

/// Writes `<model>_inputs.json`: the int8 inputs (channels first) of the LiteRT run.
fn write_inputs(model: &str, network: &str, shape: &[usize], int8: &[Vec<i8>]) {
    let json = serde_json::json!({
        "generator": "tests/int8_models_litert.rs (export_int8_models)",
        "network": network,
        "twin": format!("{model}.safetensors"),
        "input_shape": shape,
        "layout": "channels first (C, H, W) / (C, L), as the twin's tensors",
        "inputs": int8,
    });
    let path = dir().join(format!("{model}_inputs.json"));
    std::fs::write(&path, serde_json::to_string(&json).unwrap() + "\n").unwrap();
}

/// Builds, quantizes and writes one model's twin and inputs (`$seed` fixes everything).
macro_rules! export {
    ($model:literal, $net:ident, $twin:ident, $seed:expr, $shape:expr) => {{
        let net = with_biases(&$net::new($seed), $seed + 1);
        let calibration = inputs::<<$net as nn::Shapes>::InputShape>($seed + 2, CALIBRATION, 1.0);
        let q: $twin = net.quantize_int8(&calibration).expect("quantize");
        q.save_safetensors(dir().join(concat!($model, ".safetensors")))
            .expect("save");
        // Half the inputs from the calibration set, half fresh and wider (some saturate).
        let mut xs = calibration[..INPUTS / 2].to_vec();
        xs.extend(inputs::<<$net as nn::Shapes>::InputShape>(
            $seed + 3,
            INPUTS / 2,
            1.5,
        ));
        let int8: Vec<Vec<i8>> = xs
            .iter()
            .map(|x| q.quantize_input(x).as_slice().to_vec())
            .collect();
        write_inputs($model, stringify!($net), &$shape, &int8);
        println!("{}", $twin::SUMMARY);
    }};
}

#[test]
#[ignore = "writes tests/fixtures/int8_models/ (run by hand, then make_model_fixtures.py)"]
fn export_int8_models() {
    std::fs::create_dir_all(dir()).unwrap();
    export!("m1", JetTagger, JetTaggerInt8, 17, [16]);
    export!("m2", DigitsCnn, DigitsCnnInt8, 27, [1, 8, 8]);
    export!("m4", Mnist1dCnn, Mnist1dCnnInt8, 47, [1, 40]);
    export!("residual_avg", ResidualAvg, ResidualAvgInt8, 57, [2, 8, 8]);
}

// --- Parity with LiteRT -------------------------------------------------------------------

/// The LiteRT run of one model: `(input, LiteRT's int8 logits)` per sample.
struct Fixture {
    model: &'static str,
    samples: Vec<(Vec<i8>, Vec<i8>)>,
}

fn read_json(file: &str) -> Value {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn int8s(v: &Value) -> Vec<i8> {
    v.as_array()
        .expect("a list of int8")
        .iter()
        .map(|x| i8::try_from(x.as_i64().expect("an integer")).expect("an int8"))
        .collect()
}

impl Fixture {
    /// Reads `<model>_litert.json`, checking that it was made by LiteRT 2.3.0's reference
    /// kernels from the inputs of `<model>_inputs.json`.
    fn read(model: &'static str) -> Fixture {
        let fx = read_json(&format!("{model}_litert.json"));
        assert_eq!(
            fx["generator"],
            "scripts/litert_int8/make_model_fixtures.py"
        );
        assert_eq!(
            fx["litert"], "2.3.0",
            "{model}: fixtures from another LiteRT"
        );
        assert_eq!(
            fx["kernels"], "BUILTIN_REF",
            "{model}: not the reference kernels"
        );
        let samples: Vec<(Vec<i8>, Vec<i8>)> = fx["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .map(|s| (int8s(&s["input"]), int8s(&s["output"])))
            .collect();
        let inputs = read_json(&format!("{model}_inputs.json"));
        let ours: Vec<Vec<i8>> = inputs["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(int8s)
            .collect();
        let theirs: Vec<Vec<i8>> = samples.iter().map(|s| s.0.clone()).collect();
        assert_eq!(ours, theirs, "{model}: {model}_litert.json was made from other inputs than {model}_inputs.json (rerun make_model_fixtures.py)");
        Fixture { model, samples }
    }

    /// Requires every int8 logit of `ours` (one list per sample) to equal LiteRT's; returns
    /// the number of values compared.
    fn check(&self, ours: &[Vec<i8>], classes: usize) -> usize {
        assert_eq!(ours.len(), self.samples.len());
        let (mut compared, mut max_diff, mut wrong) = (0usize, 0i32, Vec::new());
        for (k, (y, (_, expected))) in ours.iter().zip(&self.samples).enumerate() {
            assert_eq!(
                expected.len(),
                classes,
                "{}: sample {k} has {} logits",
                self.model,
                expected.len()
            );
            assert_eq!(y.len(), classes);
            for (c, (&a, &b)) in y.iter().zip(expected).enumerate() {
                compared += 1;
                let d = (a as i32 - b as i32).abs();
                max_diff = max_diff.max(d);
                if d != 0 {
                    wrong.push(format!("sample {k}, class {c}: ours {a}, LiteRT {b}"));
                }
            }
        }
        println!(
            "{}: {compared} int8 logits of {} samples compared with LiteRT 2.3.0 (BUILTIN_REF), max difference {max_diff}",
            self.model,
            self.samples.len()
        );
        assert!(
            wrong.is_empty(),
            "{}: {} of {compared} int8 logits differ from LiteRT's (max difference {max_diff}); first: {}",
            self.model,
            wrong.len(),
            wrong[..wrong.len().min(5)].join("; ")
        );
        compared
    }
}

/// Loads a checked-in twin with LiteRT's reference dense rounding, runs `forward_int8` on every
/// input of the fixture and compares every byte with LiteRT's.
macro_rules! parity {
    ($model:literal, $twin:ident, $classes:expr) => {{
        let path = dir().join(concat!($model, ".safetensors"));
        let mut q = $twin::load_safetensors(&path).unwrap_or_else(|e| panic!("{e}"));
        // LiteRT's reference FULLY_CONNECTED rounds acc * m in f64 (scripts/litert_int8/README.md);
        // its CONV_2D and ADD use the fixed-point multiplier, as the twin always does.
        q.rounding = Rounding::Double;
        let fx = Fixture::read($model);
        let ours: Vec<Vec<i8>> = fx
            .samples
            .iter()
            .map(|(input, _)| {
                let mut x = TensorI8::zeros();
                assert_eq!(x.as_slice().len(), input.len(), "{}: input length", $model);
                x.as_mut_slice().copy_from_slice(input);
                q.forward_int8(&x).as_slice().to_vec()
            })
            .collect();
        fx.check(&ours, $classes)
    }};
}

#[test]
fn m1_int8_logits_equal_litert() {
    assert_eq!(parity!("m1", JetTaggerInt8, 5), INPUTS * 5);
}

#[test]
fn m2_int8_logits_equal_litert() {
    assert_eq!(parity!("m2", DigitsCnnInt8, 10), INPUTS * 10);
}

#[test]
fn m4_int8_logits_equal_litert() {
    assert_eq!(parity!("m4", Mnist1dCnnInt8, 10), INPUTS * 10);
}

#[test]
fn residual_avg_pool_int8_logits_equal_litert() {
    assert_eq!(parity!("residual_avg", ResidualAvgInt8, 6), INPUTS * 6);
}

// --- Weight files ---------------------------------------------------------------------------

/// A safetensors file as its JSON header (tensors and `__metadata__`) and its data.
fn split(bytes: &[u8]) -> (serde_json::Map<String, Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).expect("a JSON header");
    let header = header.as_object().expect("an object").clone();
    (header, bytes[8 + n..].to_vec())
}

/// The safetensors bytes of a header and data.
fn join(header: &serde_json::Map<String, Value>, data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::to_vec(header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

fn m2_bytes() -> Vec<u8> {
    std::fs::read(dir().join("m2.safetensors")).unwrap()
}

/// M2's checked-in twin with `edit` applied to its header and data, loaded.
fn load_edited(
    edit: impl FnOnce(&mut serde_json::Map<String, Value>, &mut Vec<u8>),
) -> Result<DigitsCnnInt8, nn::Error> {
    let (mut header, mut data) = split(&m2_bytes());
    edit(&mut header, &mut data);
    DigitsCnnInt8::from_safetensors_bytes(&join(&header, &data), "m2-edited.safetensors")
}

/// The byte range of tensor `name` in the data.
fn range(header: &serde_json::Map<String, Value>, name: &str) -> std::ops::Range<usize> {
    let o = &header[name]["data_offsets"];
    o[0].as_u64().unwrap() as usize..o[1].as_u64().unwrap() as usize
}

macro_rules! round_trip {
    ($model:literal, $twin:ident) => {{
        let bytes = std::fs::read(dir().join(concat!($model, ".safetensors"))).unwrap();
        let q = $twin::from_safetensors_bytes(&bytes, $model).unwrap_or_else(|e| panic!("{e}"));
        let again = q.to_safetensors_bytes().unwrap();
        let ((h0, d0), (h1, d1)) = (split(&bytes), split(&again));
        // Names, dtypes, shapes, offsets and metadata; then every byte of every tensor.
        assert_eq!(
            h0, h1,
            "{}: the header changed through load and save",
            $model
        );
        assert_eq!(d0, d1, "{}: the data changed through load and save", $model);
        h0.len() - 1
    }};
}

#[test]
fn loading_then_saving_reproduces_every_tensor() {
    // 4 layers x 3 tensors + 9 quantizations x 2.
    assert_eq!(round_trip!("m1", JetTaggerInt8), 4 * 3 + 9 * 2);
    assert_eq!(round_trip!("m2", DigitsCnnInt8), 3 * 3 + 10 * 2);
    assert_eq!(round_trip!("m4", Mnist1dCnnInt8), 4 * 3 + 10 * 2);
    assert_eq!(round_trip!("residual_avg", ResidualAvgInt8), 6 * 3 + 16 * 2);
}

#[test]
fn a_quantized_twin_saved_and_loaded_computes_the_same_bits() {
    let net = with_biases(&ResidualAvg::new(5), 6);
    let calibration = inputs::<<ResidualAvg as nn::Shapes>::InputShape>(7, 16, 1.0);
    let mut q = net.quantize_int8(&calibration).unwrap();
    q.rounding = Rounding::Double;
    let path =
        std::env::temp_dir().join(format!("nn-int8-twin-{}.safetensors", std::process::id()));
    q.save_safetensors(&path).unwrap();
    let loaded = ResidualAvgInt8::load_safetensors(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        loaded.rounding,
        Rounding::Double,
        "the rounding comes back from the metadata"
    );
    let (a, b) = (q.tensors, loaded.tensors);
    assert_eq!(a, b);
    assert_eq!(
        q.add0, loaded.add0,
        "the residual sum's rescaling is derived again on load"
    );
    for (o, i) in [(0, 0), (15, 11), (5, 7)] {
        assert_eq!(q.fc1.weight(o, i), loaded.fc1.weight(o, i));
    }
    assert_eq!(q.conv4.requant, loaded.conv4.requant);
    let mut compared = 0;
    for x in inputs::<<ResidualAvg as nn::Shapes>::InputShape>(8, 16, 1.5) {
        let xq = q.quantize_input(&x);
        assert_eq!(q.forward_int8(&xq), loaded.forward_int8(&xq));
        assert_eq!(q.forward(&x), loaded.forward(&x));
        compared += 1;
    }
    assert_eq!(compared, 16);
}

/// `Err(Int8Tensor)` for tensor `name` whose message contains `what`; returns the message.
fn int8_error(r: Result<DigitsCnnInt8, nn::Error>, name: &str, what: &str) -> String {
    let e = r.expect_err("a bad file loads as an Err");
    let message = e.to_string();
    match &e {
        nn::Error::Int8Tensor {
            path,
            name: n,
            message: m,
        } => {
            assert_eq!(path, "m2-edited.safetensors");
            assert_eq!(n, name, "{message}");
            assert!(m.contains(what), "{message}");
        }
        other => panic!("expected Int8Tensor for {name}, got {other:?}"),
    }
    message
}

#[test]
fn a_tensor_of_the_wrong_dtype_is_an_error_naming_file_and_tensor() {
    let message = int8_error(
        load_edited(|h, _| h["conv1.bias"]["dtype"] = json!("F32")),
        "conv1.bias",
        "is F32",
    );
    assert_eq!(
        message,
        "m2-edited.safetensors: `conv1.bias` is F32, the int8 twin needs I32"
    );
    int8_error(
        load_edited(|h, _| h["fc.weight"]["dtype"] = json!("U8")),
        "fc.weight",
        "is U8, the int8 twin needs I8",
    );
    int8_error(
        load_edited(|h, _| h["tensors.3.scale"]["dtype"] = json!("I32")),
        "tensors.3.scale",
        "is I32, the int8 twin needs F32",
    );
}

#[test]
fn a_tensor_of_the_wrong_shape_is_an_error() {
    let e = load_edited(|h, _| h["fc.weight"]["shape"] = json!([64, 10])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "m2-edited.safetensors: tensor `fc.weight` has shape [64, 10], the network expects [10, 64]"
    );
    assert!(matches!(e, nn::Error::TensorShape { ref name, .. } if name == "fc.weight"));
    // A scalar stored as a one-element vector.
    let e = load_edited(|h, _| h["tensors.0.zero_point"]["shape"] = json!([1])).unwrap_err();
    assert!(
        matches!(e, nn::Error::TensorShape { ref name, .. } if name == "tensors.0.zero_point"),
        "{e}"
    );
}

#[test]
fn a_missing_or_extra_tensor_is_an_error() {
    let e = load_edited(|h, _| {
        let v = h.remove("conv2.weight_scale").unwrap();
        h.insert("conv2.scale".into(), v);
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "m2-edited.safetensors: tensor `conv2.weight_scale` (shape [16]) is missing"
    );
    assert!(matches!(e, nn::Error::MissingTensor { ref name, .. } if name == "conv2.weight_scale"));
    let e = load_edited(|h, _| {
        let v = h.remove("tensors.9.zero_point").unwrap();
        h.insert("tensors.10.zero_point".into(), v);
    })
    .unwrap_err();
    assert!(
        matches!(e, nn::Error::MissingTensor { ref name, .. } if name == "tensors.9.zero_point"),
        "{e}"
    );
    let e = load_edited(|h, d| {
        let end = d.len();
        d.extend([1, 2, 3, 4]);
        h.insert(
            "fc.running_mean".into(),
            json!({"dtype": "I32", "shape": [1], "data_offsets": [end, end + 4]}),
        );
    })
    .unwrap_err();
    assert!(
        matches!(e, nn::Error::ExtraTensor { ref name, .. } if name == "fc.running_mean"),
        "{e}"
    );
    assert!(e
        .to_string()
        .starts_with("m2-edited.safetensors: tensor `fc.running_mean` does not belong"));
}

#[test]
fn values_out_of_range_are_errors() {
    int8_error(
        load_edited(|h, d| {
            let r = range(h, "conv2.weight");
            d[r.start + 5] = 0x80;
        }),
        "conv2.weight",
        "has -128 at flat index 5",
    );
    int8_error(
        load_edited(|h, d| {
            let r = range(h, "tensors.2.zero_point");
            d[r].copy_from_slice(&200i32.to_le_bytes());
        }),
        "tensors.2.zero_point",
        "is 200, outside the int8 range",
    );
    for bad in [0.0f32, -0.5, f32::NAN, f32::INFINITY] {
        int8_error(
            load_edited(|h, d| {
                let r = range(h, "fc.weight_scale");
                d[r.start + 12..r.start + 16].copy_from_slice(&bad.to_le_bytes());
            }),
            "fc.weight_scale",
            "at flat index 3: a scale must be positive and finite",
        );
    }
}

#[test]
fn a_file_that_is_not_an_int8_twin_is_an_error() {
    // An f32 network's weights: no format tag.
    let f32_file = {
        let net = DigitsCnn::new(1);
        safetensors_bytes(&net.state_dict(Layout::PyTorch)).unwrap()
    };
    let e = DigitsCnnInt8::from_safetensors_bytes(&f32_file, "digits.safetensors").unwrap_err();
    assert!(
        matches!(e, nn::Error::Int8Tensor { ref name, .. } if name == "__metadata__.format"),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("digits.safetensors: `__metadata__.format` is missing"),
        "{e}"
    );
    int8_error(
        load_edited(|h, _| h["__metadata__"]["format"] = json!("nn-int8/0")),
        "__metadata__.format",
        "is `nn-int8/0`, an int8 twin's file has `nn-int8/1`",
    );
    int8_error(
        load_edited(|h, _| h["__metadata__"]["rounding"] = json!("HalfEven")),
        "__metadata__.rounding",
        "is `HalfEven`, expected `FixedPoint` or `Double`",
    );
    int8_error(
        load_edited(|h, _| {
            h["__metadata__"]
                .as_object_mut()
                .unwrap()
                .remove("rounding");
        }),
        "__metadata__.rounding",
        "is missing",
    );
    // Not a safetensors file at all, and no file.
    let bytes = m2_bytes();
    let e = DigitsCnnInt8::from_safetensors_bytes(&bytes[..bytes.len() - 3], "cut.safetensors")
        .unwrap_err();
    assert!(
        matches!(e, nn::Error::WeightFile { ref path, .. } if path == "cut.safetensors"),
        "{e}"
    );
    let e = DigitsCnnInt8::load_safetensors("/nonexistent/m2.safetensors").unwrap_err();
    assert!(
        matches!(e, nn::Error::Io { ref path, .. } if path == "/nonexistent/m2.safetensors"),
        "{e}"
    );
}

#[test]
fn corrupted_files_load_as_errors_without_panics() {
    let bytes = m2_bytes();
    let mut errors = 0;
    // Every truncation at a stride, and single flipped bytes over the header and the data.
    for len in (0..bytes.len()).step_by(7) {
        errors += DigitsCnnInt8::from_safetensors_bytes(&bytes[..len], "cut").is_err() as usize;
    }
    let truncations = bytes.len().div_ceil(7);
    assert_eq!(errors, truncations, "every truncated file is an Err");
    let mut loaded = 0;
    for at in (0..bytes.len()).step_by(3) {
        let mut b = bytes.clone();
        b[at] ^= 0xA5;
        match DigitsCnnInt8::from_safetensors_bytes(&b, "flipped") {
            Ok(_) => loaded += 1, // a flipped weight or bias is still a valid twin
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert!(loaded > 0 && loaded < bytes.len().div_ceil(3), "{loaded}");
}

// --- SUMMARY and forward_batch -------------------------------------------------------------

#[test]
fn the_summary_lists_int8_layers_and_bytes() {
    let s = DigitsCnnInt8::SUMMARY;
    assert!(
        s.starts_with("Model: DigitsCnnInt8 (int8 twin of DigitsCnn)\n"),
        "{s}"
    );
    let row = |label: &str| {
        s.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label} in\n{s}"))
            .split("  ")
            .filter(|c| !c.is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("conv1 "),
        [
            "conv1 (Conv2d + ReLU)",
            "0 -> 2",
            "[8, 8, 8]",
            "72",
            "32",
            "104"
        ]
    );
    assert_eq!(
        row("conv2 "),
        [
            "conv2 (Conv2d + ReLU)",
            "3 -> 5",
            "[16, 4, 4]",
            "1,152",
            "64",
            "1,216"
        ]
    );
    assert_eq!(
        row("fc "),
        ["fc (Dense)", "7 -> 8", "[10]", "640", "40", "680"]
    );
    assert!(
        s.contains(
            "Total bytes: 1,864 (int8 weights) + 136 (int32 biases) = 2,000 (WEIGHT_BYTES)\n"
        ),
        "{s}"
    );
    assert_eq!(DigitsCnnInt8::WEIGHT_BYTES, 2_000);
    assert!(
        s.contains("f32 network: 7,592 bytes (1,898 parameters); int8 / f32 = 0.263x\n"),
        "{s}"
    );
    assert_eq!(DigitsCnn::PARAMS * 4, 7_592);
    let r = ResidualAvgInt8::SUMMARY;
    assert!(r.contains("block (Residual add)      5 + 2 -> 6"), "{r}");
    assert!(
        r.contains("logits (dequantize): tensor 14, f32, then Softmax in f32 -> [6]"),
        "{r}"
    );
    assert!(JetTaggerInt8::SUMMARY
        .contains("output (Dense)      6 -> 7   [5]                    160            20    180"));
}

#[test]
fn forward_batch_equals_forward() {
    let q = DigitsCnnInt8::load_safetensors(dir().join("m2.safetensors")).unwrap();
    let xs = inputs::<<DigitsCnn as nn::Shapes>::InputShape>(9, 37, 1.0);
    let mut ys = vec![nn::Output::<DigitsCnn>::zeros(); xs.len()];
    q.forward_batch(&xs, &mut ys).unwrap();
    for (x, y) in xs.iter().zip(&ys) {
        assert_eq!(&q.forward(x), y);
    }
    assert!(
        (ys[0].as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5,
        "softmax"
    );
    let e = q.forward_batch(&xs, &mut ys[..3]).unwrap_err();
    assert_eq!((e.inputs, e.outputs), (37, 3));
    q.forward_batch(&[], &mut []).unwrap();
}

/// `forward`'s copies (baseline, AVX2, AVX-512 VNNI with the dense layers' instruction set a
/// constant) give the same bits, on every copy this CPU runs.
#[test]
fn forward_copies_agree() {
    #[cfg(target_arch = "x86_64")]
    let (avx2, vnni) = {
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        let vnni = nn::quant::simd::Isa8::detect() == nn::quant::simd::Isa8::Vnni;
        (avx2, avx2 && vnni)
    };
    let m1 = JetTaggerInt8::load_safetensors(dir().join("m1.safetensors")).unwrap();
    let m4 = Mnist1dCnnInt8::load_safetensors(dir().join("m4.safetensors")).unwrap();
    let mut checked = 0;
    macro_rules! check {
        ($q:expr, $shape:ty, $seed:expr) => {
            for x in inputs::<$shape>($seed, 24, 1.5) {
                let want = $q.__nn_forward_base(&x);
                assert_eq!($q.forward(&x), want);
                checked += 1;
                #[cfg(target_arch = "x86_64")]
                {
                    if avx2 {
                        // SAFETY: the CPU has AVX2 and FMA (checked above).
                        assert_eq!(unsafe { $q.__nn_forward_avx2(&x) }, want);
                        checked += 1;
                    }
                    if vnni {
                        // SAFETY: the CPU has AVX-512 VNNI, AVX2 and FMA (checked above).
                        assert_eq!(unsafe { $q.__nn_forward_vnni(&x) }, want);
                        checked += 1;
                    }
                }
            }
        };
    }
    check!(m1, <JetTagger as nn::Shapes>::InputShape, 3);
    check!(m4, <Mnist1dCnn as nn::Shapes>::InputShape, 4);
    assert!(checked >= 48, "{checked}");
}

/// The batch path takes chunks of samples through the layers together (chunks of 16 where their
/// activations fit 32 KB, as M1's, then of 8; dense layers eight or four samples at a time): the
/// same bytes as `forward`, for an MLP, a 1-D CNN and a residual network, at batch sizes around
/// the chunk sizes (27 = 16 + 8 + 3, 40 = 16 + 16 + 8).
#[test]
fn forward_batch_in_chunks_equals_forward() {
    fn check<S: nn::Shape, O: nn::Shape>(
        forward: impl Fn(&nn::Tensor<S>) -> nn::Tensor<O>,
        batch: impl Fn(&[nn::Tensor<S>], &mut [nn::Tensor<O>]),
        seed: u64,
    ) -> usize {
        let mut checked = 0;
        for n in [1, 4, 7, 8, 9, 16, 21, 27, 40] {
            let xs = inputs::<S>(seed + n as u64, n, 1.5);
            let mut ys = vec![nn::Tensor::<O>::zeros(); n];
            batch(&xs, &mut ys);
            for (x, y) in xs.iter().zip(&ys) {
                assert_eq!(&forward(x), y, "batch of {n}");
                checked += 1;
            }
        }
        checked
    }
    let m1 = JetTaggerInt8::load_safetensors(dir().join("m1.safetensors")).unwrap();
    let m4 = Mnist1dCnnInt8::load_safetensors(dir().join("m4.safetensors")).unwrap();
    let res = ResidualAvgInt8::load_safetensors(dir().join("residual_avg.safetensors")).unwrap();
    let mut checked = check(
        |x| m1.forward(x),
        |xs, ys| m1.forward_batch(xs, ys).unwrap(),
        1,
    );
    // Both roundings: the vector dense kernel takes four samples only with the fixed point.
    let mut m1_fixed = m1.clone();
    m1_fixed.rounding = if m1.rounding == Rounding::Double {
        Rounding::FixedPoint
    } else {
        Rounding::Double
    };
    checked += check(
        |x| m1_fixed.forward(x),
        |xs, ys| m1_fixed.forward_batch(xs, ys).unwrap(),
        4,
    );
    checked += check(
        |x| m4.forward(x),
        |xs, ys| m4.forward_batch(xs, ys).unwrap(),
        2,
    );
    checked += check(
        |x| res.forward(x),
        |xs, ys| res.forward_batch(xs, ys).unwrap(),
        3,
    );
    assert_eq!(checked, 4 * 133);
}
