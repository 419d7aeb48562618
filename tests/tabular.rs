//! The tabular round trip of issue 16, as the `tabular` example runs it: CSV with a header ->
//! split (indices saved) -> scale -> train with a held-out validation part and a checkpoint ->
//! save model and scaler -> a fresh process (this test binary again) reloads both and gives
//! bit-identical predictions.

use std::path::{Path, PathBuf};
use std::process::Command;

use nn::prelude::*;

nn::network! {
    struct Cancer { input: [30], fc1: Dense(8), ReLU, out: Dense(2), Softmax }
}

/// Set in the child process: the directory the parent saved to.
const CHILD: &str = "NN_TABULAR_CHILD_DIR";

fn load() -> Dataset<Input<Cancer>, usize> {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/breast_cancer_named.csv.gz"
    );
    Dataset::from_csv_with(file, CsvOptions::new().header(true).delimiter(b';')).unwrap()
}

/// Every output value's bits, one sample per line.
fn bits(ys: &[Output<Cancer>]) -> String {
    ys.iter()
        .map(|y| {
            let v: Vec<String> = y
                .as_slice()
                .iter()
                .map(|v| format!("{:08x}", v.to_bits()))
                .collect();
            v.join(" ") + "\n"
        })
        .collect()
}

/// The child: reload model, scaler and split indices; predict the raw test rows.
fn child(dir: &Path) {
    let net = Cancer::load_safetensors(dir.join("model.safetensors")).unwrap();
    let scaler = Standardizer::load(dir.join("scaler.safetensors")).unwrap();
    let indices: Vec<usize> = std::fs::read_to_string(dir.join("test.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut test = load().subset(&indices).unwrap();
    scaler.transform(&mut test);
    std::fs::write(dir.join("child.txt"), bits(&net.forward_all(&test.x))).unwrap();
}

#[test]
fn a_fresh_process_reloads_model_and_scaler_and_predicts_the_same_bits() {
    if let Ok(dir) = std::env::var(CHILD) {
        child(Path::new(&dir));
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("nn-tabular-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = load();
    let split = data.stratified_split_indices(0.2, 11).unwrap();
    let (mut train, mut test) = (
        data.subset(&split.train).unwrap(),
        data.subset(&split.test).unwrap(),
    );
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    let mut net = Cancer::new(11);
    let history = Trainer::new(Adam::new(5e-3), CrossEntropy)
        .batch_size::<16>()
        .epochs(30)
        .validation_fraction(0.2)
        .patience(5)
        .checkpoint(dir.join("best.safetensors"))
        .seed(11)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap();
    assert!(history.checkpoint_epoch.is_some());
    assert!(accuracy(&net, &test).unwrap() > 0.9);
    net.save_safetensors(dir.join("model.safetensors")).unwrap();
    scaler.save(dir.join("scaler.safetensors")).unwrap();
    let indices: String = split.test.iter().map(|i| format!("{i}\n")).collect();
    std::fs::write(dir.join("test.txt"), indices).unwrap();
    let expected = bits(&net.forward_all(&test.x));

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_fresh_process_reloads_model_and_scaler_and_predicts_the_same_bits",
            "--exact",
        ])
        .env(CHILD, &dir)
        .status()
        .unwrap();
    assert!(status.success());
    let got = std::fs::read_to_string(dir.join("child.txt")).unwrap();
    assert_eq!(got.lines().count(), test.len());
    assert_eq!(got, expected, "the reloaded predictions differ");
    std::fs::remove_dir_all(&dir).ok();
}
