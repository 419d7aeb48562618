//! The `nn-import` program: the declaration it prints for a PyTorch-exported model, the
//! safetensors file it writes, and its usage and error paths (exit code 1 and a message on
//! stderr).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nn_onnx::{Model, Node, ValueInfo};

const BIN: &str = env!("CARGO_BIN_EXE_nn-import");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/onnx")
        .join(name)
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "nn-import-cli-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("nn-import runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8 output")
}

const DIGITS_LAYERS: &str = "        input: [1, 8, 8],
        conv0: Conv2d(8, kernel = 3, padding = 1),
        ReLU,
        MaxPool2d(2),
        conv3: Conv2d(16, kernel = 3, padding = 1),
        ReLU,
        MaxPool2d(2),
        Flatten,
        fc7: Dense(10),
        Softmax,
    }
}
";

#[test]
fn prints_the_declaration_and_writes_the_weights() {
    let dir = TempDir::new("weights");
    let out = dir.0.join("digits.safetensors");
    let model = fixture("m2_digits_cnn.onnx");
    let o = run(&[
        model.to_str().unwrap(),
        "--name",
        "Digits",
        "--weights",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "stderr:\n{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    let expected = format!(
        "nn::network! {{\n    /// Imported from `m2_digits_cnn.onnx`: [1, 8, 8] -> [10].\n    #[weights = \"{}\"]\n    pub struct Digits {{\n{DIGITS_LAYERS}",
        out.display()
    );
    assert_eq!(text(&o.stdout), expected);

    assert!(out.is_file(), "{} was not written", out.display());
    let bytes = std::fs::read(&out).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let mut got: Vec<(String, Vec<usize>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            assert_eq!(v.dtype(), safetensors::Dtype::F32, "{n}");
            (n, v.shape().to_vec())
        })
        .collect();
    got.sort();
    let want: Vec<(String, Vec<usize>)> = [
        ("conv0.bias", vec![8]),
        ("conv0.weight", vec![8, 1, 3, 3]),
        ("conv3.bias", vec![16]),
        ("conv3.weight", vec![16, 8, 3, 3]),
        ("fc7.bias", vec![10]),
        ("fc7.weight", vec![10, 64]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(got, want);

    // The values are the file's (PyTorch's layout already: Conv weights and Gemm transB = 1).
    let onnx = Model::read(&model).unwrap();
    for (ours, theirs) in [
        ("conv0.weight", "0.weight"),
        ("conv0.bias", "0.bias"),
        ("conv3.weight", "3.weight"),
        ("fc7.weight", "7.weight"),
        ("fc7.bias", "7.bias"),
    ] {
        let v = st.tensor(ours).unwrap();
        let values: Vec<f32> = v
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let reference = onnx.initializer(theirs).unwrap().as_f32().unwrap();
        assert_eq!(values, reference, "{ours} differs from `{theirs}`");
    }

    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let source = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("source").cloned());
    assert_eq!(source.as_deref(), Some("m2_digits_cnn.onnx"));
}

#[test]
fn without_options_names_the_struct_after_the_file() {
    let o = run(&[fixture("m2_digits_cnn.onnx").to_str().unwrap()]);
    assert!(o.status.success(), "stderr:\n{}", text(&o.stderr));
    let expected = format!(
        "nn::network! {{\n    /// Imported from `m2_digits_cnn.onnx`: [1, 8, 8] -> [10].\n    pub struct M2DigitsCnn {{\n{DIGITS_LAYERS}"
    );
    assert_eq!(text(&o.stdout), expected);
}

#[test]
fn missing_file_is_exit_code_1_naming_the_file() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("no-such-model.onnx");
    let o = run(&[path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "");
    let err = text(&o.stderr);
    assert!(err.starts_with("nn-import: cannot read `"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("usage: nn-import MODEL.onnx"), "{err}");
}

#[test]
fn unknown_option_is_exit_code_1() {
    let o = run(&[fixture("m2_digits_cnn.onnx").to_str().unwrap(), "--bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "");
    let err = text(&o.stderr);
    assert!(
        err.starts_with("nn-import: unknown option `--bogus`"),
        "{err}"
    );
    assert!(err.contains("usage: nn-import MODEL.onnx"), "{err}");
}

#[test]
fn usage_errors() {
    for (args, message) in [
        (&[][..], "nn-import: no model file given"),
        (
            &["a.onnx", "b.onnx"][..],
            "nn-import: unexpected argument `b.onnx` (one model at a time)",
        ),
        (&["a.onnx", "--name"][..], "nn-import: --name needs a value"),
        (
            &["a.onnx", "--weights"][..],
            "nn-import: --weights needs a path",
        ),
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.starts_with(message), "{args:?}: {err}");
        assert!(err.contains("usage: nn-import"), "{args:?}: {err}");
    }
}

#[test]
fn help_prints_the_usage_and_succeeds() {
    for flag in ["--help", "-h"] {
        let o = run(&[flag]);
        assert!(o.status.success());
        let out = text(&o.stdout);
        assert!(
            out.starts_with(
                "usage: nn-import MODEL.onnx [--name Name] [--weights OUT.safetensors]"
            ),
            "{out}"
        );
    }
}

#[test]
fn a_file_that_is_not_onnx_is_exit_code_1() {
    let dir = TempDir::new("garbage");
    let path = dir.0.join("garbage.onnx");
    std::fs::write(&path, b"this is not a protobuf \xff\xff\xff\xff").unwrap();
    let o = run(&[path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("not an ONNX model"), "{err}");
}

#[test]
fn an_unsupported_model_names_the_file_and_the_node() {
    let dir = TempDir::new("unsupported");
    let path = dir.0.join("rnn.onnx");
    let weights = dir.0.join("rnn.safetensors");
    let mut m = Model::new("rnn");
    m.inputs.push(ValueInfo::float_batched("x", &[4]));
    m.nodes.push(Node::new("/rnn/LSTM", "LSTM", ["x"], ["y"]));
    m.outputs.push(ValueInfo::float_batched("y", &[4]));
    m.write(&path).unwrap();
    let o = run(&[
        path.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "");
    let err = text(&o.stderr);
    assert!(
        err.starts_with(&format!(
            "nn-import: `{}`: node `/rnn/LSTM` (LSTM): operator `LSTM` has no nn layer",
            path.display()
        )),
        "{err}"
    );
    assert!(
        !weights.exists(),
        "no weights are written for a refused model"
    );
}
