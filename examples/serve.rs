//! Outgrowing one machine: train the digits CNN (M2) in Rust, export it to ONNX, and hand it
//! to the engines that serve models at scale.
//!
//! Run: `cargo run --release --example serve [OUT_DIR]` (default `serve_out`). Writes
//! - `OUT_DIR/digits_cnn.onnx`: the trained network (opset 17, dynamic batch, input `input`
//!   `[batch, 1, 8, 8]`, output `output` `[batch, 10]`);
//! - `OUT_DIR/model_repository/digits_cnn/{config.pbtxt, 1/model.onnx}`: a Triton Inference
//!   Server model repository (onnxruntime backend, dynamic batching);
//! - `OUT_DIR/test_inputs.csv`: the test split, one image per row, its label last;
//! - `OUT_DIR/serve_onnxruntime.py`: runs the exported file in onnxruntime on the whole test
//!   split as one batch and prints its accuracy, which must equal nn's (printed here).

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use nn::prelude::*;

nn_models::m2! {
    /// Digit classifier for 8x8 images (M2).
    pub struct DigitsCnn
}

const SEED: u64 = 42;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "serve_out".into()),
    );
    let mut data = Dataset::<Input<DigitsCnn>, usize>::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/digits.csv"
    ))?;
    for x in &mut data.x {
        x.as_mut_slice().iter_mut().for_each(|v| *v /= 16.0);
    }
    let (train, test) = data.stratified_split(0.2, SEED)?;
    let mut net = DigitsCnn::new(SEED);
    Trainer::new(Sgd::new(0.01).momentum(0.9), CrossEntropy)
        .batch_size::<32>()
        .epochs(30)
        .seed(SEED)
        .fit(&mut net, &train, None)?;
    let m = evaluate(&net, &CrossEntropy, &test)?;
    println!(
        "nn: test accuracy {:.4} on {} images",
        m.accuracy.unwrap_or(0.0),
        test.len()
    );

    // The ONNX file, and the same file as a Triton model.
    let repo = out.join("model_repository/digits_cnn");
    std::fs::create_dir_all(repo.join("1"))?;
    let file = out.join("digits_cnn.onnx");
    net.save_onnx(&file)?;
    net.save_onnx(repo.join("1/model.onnx"))?;
    std::fs::write(repo.join("config.pbtxt"), TRITON_CONFIG)?;

    // The test split for the serving side.
    let mut csv = String::new();
    for (x, y) in test.x.iter().zip(&test.y) {
        for v in x.as_slice() {
            write!(csv, "{v},")?;
        }
        writeln!(csv, "{y}")?;
    }
    std::fs::write(out.join("test_inputs.csv"), csv)?;
    std::fs::write(out.join("serve_onnxruntime.py"), ORT_SCRIPT)?;
    println!("wrote {}", file.display());
    println!(
        "wrote a Triton model repository: {}",
        out.join("model_repository").display()
    );
    println!(
        "check with onnxruntime: python {}",
        out.join("serve_onnxruntime.py").display()
    );
    Ok(())
}

/// Triton's model configuration: the onnxruntime backend, batches of up to 1,024 images
/// gathered by the server.
const TRITON_CONFIG: &str = r#"name: "digits_cnn"
platform: "onnxruntime_onnx"
max_batch_size: 1024
input [ { name: "input", data_type: TYPE_FP32, dims: [ 1, 8, 8 ] } ]
output [ { name: "output", data_type: TYPE_FP32, dims: [ 10 ] } ]
dynamic_batching { }
"#;

/// The serving side in Python: the exported file in onnxruntime, the whole test split at once.
const ORT_SCRIPT: &str = r#"# pip install onnxruntime numpy
import pathlib
import numpy as np
import onnxruntime as ort

here = pathlib.Path(__file__).parent
rows = np.loadtxt(here / "test_inputs.csv", delimiter=",", dtype=np.float32)
x, y = rows[:, :-1].reshape(-1, 1, 8, 8), rows[:, -1].astype(int)
session = ort.InferenceSession(str(here / "digits_cnn.onnx"), providers=["CPUExecutionProvider"])
(p,) = session.run(None, {"input": x})
print(f"onnxruntime: test accuracy {np.mean(p.argmax(1) == y):.4f} on {len(y)} images")
"#;
