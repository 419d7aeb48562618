//! A tabular workflow from a CSV file to a model another process serves: a gzip-compressed,
//! `;`-separated file with a header row -> stratified split (its indices saved) -> standardize
//! -> train with a held-out validation part, early stopping, a cosine learning-rate schedule
//! and a checkpoint -> save the model, the scaler and the training history -> a fresh process
//! loads model and scaler, recomputes the test predictions, and checks they are bit-identical.
//!
//! Run: `cargo run --release --example tabular` (writes to a temporary directory, or to the
//! directory given as the first argument). `tabular predict DIR` is the second process.

use std::path::{Path, PathBuf};
use std::process::Command;

use nn::prelude::*;

nn::network! {
    /// Benign (1) or malignant (0) from 30 measurements of a cell nucleus image.
    pub struct Cancer {
        input: [30],
        hidden: Dense(16), ReLU,
        Dropout(0.1),
        out: Dense(2),
        Softmax,
    }
}

const SEED: u64 = 42;

/// The data file: breast cancer with a header row, `;`-separated, gzip-compressed.
fn data_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/breast_cancer_named.csv.gz")
}

fn load() -> Result<Dataset<Input<Cancer>, usize>, nn::Error> {
    Dataset::from_csv_with(data_file(), CsvOptions::new().header(true).delimiter(b';'))
}

/// Predictions as text, one sample per line, each probability as its bits in hex: equal text
/// means bit-identical predictions.
fn prediction_bits(outputs: &[Output<Cancer>]) -> String {
    let line = |y: &Output<Cancer>| {
        let bits: Vec<String> = y
            .as_slice()
            .iter()
            .map(|v| format!("{:08x}", v.to_bits()))
            .collect();
        bits.join(" ")
    };
    outputs.iter().map(line).collect::<Vec<_>>().join("\n") + "\n"
}

fn write(path: &Path, text: &str) -> Result<(), nn::Error> {
    std::fs::write(path, text).map_err(|source| nn::Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn read(path: &Path) -> Result<String, nn::Error> {
    std::fs::read_to_string(path).map_err(|source| nn::Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The first process: everything up to the saved files and the expected predictions.
fn train(dir: &Path) -> Result<(), nn::Error> {
    let data = load()?;
    let split = data.stratified_split_indices(0.2, SEED)?;
    let (mut train, mut test) = (data.subset(&split.train)?, data.subset(&split.test)?);
    let scaler = Standardizer::fit(&train)?;
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    println!(
        "{}: {} samples ({} train, {} test), classes {:?}",
        data.source().unwrap_or("data"),
        data.len(),
        train.len(),
        test.len(),
        data.class_counts()?
    );

    let mut net = Cancer::new(SEED);
    let history = Trainer::new(Adam::new(3e-3), CrossEntropy)
        .batch_size::<32>()
        .epochs(200)
        .validation_fraction(0.15)
        .patience(20)
        .schedule(Schedule::Cosine { min: 1e-4 })
        .checkpoint(dir.join("best.safetensors"))
        .seed(SEED)
        .progress(false)
        .fit(&mut net, &train, None)?;
    println!(
        "trained {} epochs; best epoch {:?} (checkpoint holds epoch {:?}), stopped early: {}",
        history.epochs.len(),
        history.best_epoch,
        history.checkpoint_epoch,
        history.stopped_early
    );
    let report = evaluate(&net, &CrossEntropy, &test)?;
    println!(
        "test loss {:.4}, accuracy {:.4}",
        report.loss,
        report.accuracy.unwrap_or(0.0)
    );
    if let Some(confusion) = &report.confusion {
        println!("{confusion}");
    }

    net.save_safetensors(dir.join("model.safetensors"))?;
    scaler.save(dir.join("scaler.safetensors"))?;
    history.write_csv(dir.join("history.csv"))?;
    let indices: Vec<String> = split.test.iter().map(|i| i.to_string()).collect();
    write(&dir.join("test_indices.txt"), &(indices.join("\n") + "\n"))?;
    write(
        &dir.join("expected.txt"),
        &prediction_bits(&net.forward_all(&test.x)),
    )?;
    println!(
        "saved model, scaler, history and the test split to {}",
        dir.display()
    );
    Ok(())
}

/// The second process: loads the model and the scaler, reads the raw test rows, predicts.
fn predict(dir: &Path) -> Result<String, nn::Error> {
    let net = Cancer::load_safetensors(dir.join("model.safetensors"))?;
    let scaler = Standardizer::load(dir.join("scaler.safetensors"))?;
    let indices: Result<Vec<usize>, _> = read(&dir.join("test_indices.txt"))?
        .lines()
        .map(str::parse)
        .collect();
    let indices = indices.map_err(|e| nn::Error::Config(format!("test_indices.txt: {e}")))?;
    let mut test = load()?.subset(&indices)?;
    scaler.transform(&mut test);
    Ok(prediction_bits(&net.forward_all(&test.x)))
}

fn main() -> Result<(), nn::Error> {
    let args: Vec<String> = std::env::args().collect();
    if let (Some("predict"), Some(dir)) = (args.get(1).map(String::as_str), args.get(2)) {
        print!("{}", predict(Path::new(dir))?);
        return Ok(());
    }
    let dir = match args.get(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("nn-tabular-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|source| nn::Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    train(&dir)?;

    // A fresh process: this program again, in `predict` mode.
    let exe = std::env::current_exe().map_err(|source| nn::Error::Io {
        path: String::from("the running program"),
        source,
    })?;
    let out = Command::new(exe)
        .arg("predict")
        .arg(&dir)
        .output()
        .map_err(|source| nn::Error::Io {
            path: String::from("the predicting process"),
            source,
        })?;
    let expected = read(&dir.join("expected.txt"))?;
    let got = String::from_utf8_lossy(&out.stdout);
    let same = out.status.success() && got == expected;
    println!(
        "a fresh process reloaded model and scaler: {} test predictions, bit-identical: {}",
        expected.lines().count(),
        if same { "yes" } else { "NO" }
    );
    if !same {
        return Err(nn::Error::Config(format!(
            "the reloaded model's predictions differ (stderr: {})",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}
