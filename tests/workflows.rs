//! Real-data workflows (issue 16): regression targets from CSV, splits with their indices,
//! scalers that persist, CSV options and gzip, learning-rate schedules, checkpoints, history
//! CSV, confusion matrices; and every misuse the issue lists is an `Err` naming what is wrong,
//! never a panic or a silent result.

use nn::prelude::*;
use nn::typenum::{U2, U3};

nn::network! {
    /// Three classes from three features.
    struct Three { input: [3], fc: Dense(8), ReLU, out: Dense(3), Softmax }
}

nn::network! {
    /// Two regression targets from three features.
    struct Reg { input: [3], fc: Dense(8), Tanh, out: Dense(2) }
}

nn::network! {
    struct Cancer { input: [30], fc1: Dense(8), ReLU, out: Dense(2), Softmax }
}

type X3 = Tensor<Shape1<U3>>;

fn path(name: &str) -> String {
    format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// 30 samples of three classes, one feature row per class pattern; labels 0, 1, 2 in turn.
fn three_text(bad_row: Option<(usize, &str)>) -> String {
    (1..=30)
        .map(|row| {
            let class = (row - 1) % 3;
            let label = match bad_row {
                Some((r, text)) if r == row => text.to_string(),
                _ => class.to_string(),
            };
            let v = row as f32 * 0.1;
            format!(
                "{},{},{},{label}\n",
                v + class as f32,
                -v,
                class as f32 * 2.0 - v
            )
        })
        .collect()
}

fn three(text: &str) -> Dataset<X3, usize> {
    Dataset::from_csv_reader(text.as_bytes(), "three.csv").expect("valid CSV")
}

fn quiet<O: Optimizer, L>(t: Trainer<O, L, 32>) -> Trainer<O, L, 8> {
    t.batch_size::<8>().epochs(3).progress(false)
}

// ---- bad labels: evaluate, accuracy and fit agree, naming the CSV row, label and outputs ----

#[test]
fn a_label_beyond_the_outputs_is_the_same_err_from_evaluate_accuracy_and_fit() {
    let data = three(&three_text(Some((8, "7"))));
    let want =
        "three.csv: row 8: label 7 is not a class of a network with 3 outputs (labels 0 to 2)";
    let net = Three::new(1);
    let e = evaluate(&net, &CrossEntropy, &data).unwrap_err();
    assert_eq!(e.to_string(), want);
    let a = accuracy(&net, &data).unwrap_err();
    assert_eq!(a.to_string(), want);
    let mut net = Three::new(1);
    let f = quiet(Trainer::new(Sgd::new(0.1), CrossEntropy))
        .fit(&mut net, &data, None)
        .unwrap_err();
    assert_eq!(f.to_string(), want);
}

#[test]
fn the_row_survives_splits_and_subsets() {
    let data = three(&three_text(Some((20, "5"))));
    // Row 20 has label 5; wherever it lands after a shuffled split, errors name row 20.
    let (a, b) = data.split(0.5, 3).unwrap();
    let net = Three::new(1);
    let errors: Vec<String> = [a, b]
        .iter()
        .filter_map(|d| evaluate(&net, &CrossEntropy, d).err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("three.csv: row 20: label 5 "),
        "{errors:?}"
    );
    // Built in code, a data set names the 0-based sample instead.
    let d = Dataset::new(vec![X3::zeros(); 3], vec![0, 4, 1]).unwrap();
    let e = accuracy(&net, &d).unwrap_err().to_string();
    assert_eq!(
        e,
        "sample 1: label 4 is not a class of a network with 3 outputs (labels 0 to 2)"
    );
}

#[test]
fn labels_that_cannot_be_classes_are_refused_when_read() {
    for bad in ["1e12", "18446744073709551615", "65536"] {
        let err = Dataset::<X3, usize>::from_csv_reader(
            format!("1,2,3,0\n1,2,3,{bad}\n").as_bytes(),
            "big.csv",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, nn::Error::Label { row: 2, .. }), "{msg}");
        assert!(
            msg.contains("larger than any class label nn accepts (65535)"),
            "{msg}"
        );
    }
    // The largest accepted label is read; a stratified split of it is immediate.
    let d = Dataset::<X3, usize>::from_csv_reader(
        "1,2,3,65535\n1,2,3,0\n4,5,6,0\n".as_bytes(),
        "m.csv",
    )
    .unwrap();
    assert_eq!(d.num_classes(), 65_536);
    assert!(d.stratified_split(0.5, 1).is_ok());
    // A label set in code above the limit is an Err, not a huge allocation or a wrap-around.
    let d = Dataset::new(vec![X3::zeros(); 2], vec![0, usize::MAX]).unwrap();
    assert_eq!(d.num_classes(), usize::MAX);
    assert!(d.class_counts().is_err());
    assert!(d.stratified_split(0.5, 1).is_err());
}

// ---- splits ----

#[test]
fn fractions_outside_zero_one_are_errors_not_panics_or_empty_sets() {
    let data = three(&three_text(None));
    for f in [1.5, -0.2, f32::NAN, 0.0, 1.0, f32::INFINITY] {
        let e = data.stratified_split(f, 1).unwrap_err().to_string();
        assert!(
            e.contains("`test_fraction` is") && e.contains("strictly between 0 and 1"),
            "{e}"
        );
        assert!(data.split(f, 1).is_err());
    }
    // A fraction that rounds to no held-out sample is an Err too.
    let e = data.split(0.01, 1).unwrap_err().to_string();
    assert!(e.contains("leaves the held-out part empty"), "{e}");
}

#[test]
fn split_indices_partition_the_data_and_are_seeded() {
    let data = three(&three_text(None));
    let s = data.split_indices(0.2, 9).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (24, 6));
    let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
    all.sort();
    assert_eq!(all, (0..30).collect::<Vec<_>>());
    assert_eq!(data.split_indices(0.2, 9).unwrap(), s);
    assert_ne!(data.split_indices(0.2, 10).unwrap(), s);
    let (train, test) = data.split(0.2, 9).unwrap();
    assert_eq!(test, data.subset(&s.test).unwrap());
    assert_eq!(train, data.subset(&s.train).unwrap());
    // Stratified: 2 of each class's 10 held out.
    let st = data.stratified_split_indices(0.2, 9).unwrap();
    let held: Vec<usize> = st.test.iter().map(|&i| data.y[i]).collect();
    for c in 0..3 {
        assert_eq!(held.iter().filter(|&&y| y == c).count(), 2, "{held:?}");
    }
    let e = data.subset(&[0, 30]).unwrap_err().to_string();
    assert_eq!(e, "index 30 is out of range for a data set of 30 samples");
}

// ---- regression data and scalers ----

#[test]
fn regression_targets_are_read_as_tensors() {
    type Y2 = Tensor<Shape1<U2>>;
    let d =
        Dataset::<X3, Y2>::from_csv_reader("1,2,3,0.25,-1.5\n4,5,6,1e3,2\n".as_bytes(), "r.csv")
            .unwrap();
    assert_eq!(d.y[0].as_slice(), [0.25, -1.5]);
    assert_eq!(d.y[1].as_slice(), [1000.0, 2.0]);
    let e = Dataset::<X3, Y2>::from_csv_reader("1,2,3,0.5\n".as_bytes(), "r.csv")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "r.csv: row 1 has 4 columns, expected 5 (3 features and the targets)"
    );
    let e = Dataset::<X3, Y2>::from_csv_reader("1,2,3,0.5,nan\n".as_bytes(), "r.csv")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "r.csv: row 1, column 5: `nan` is not a finite number");
    // The diabetes file: ten features and a target.
    type D = Dataset<Tensor<Shape1<nn::typenum::U10>>, Tensor<Shape1<nn::typenum::U1>>>;
    let diabetes = D::from_csv(path("diabetes.csv")).unwrap();
    assert_eq!(diabetes.len(), 442);
    assert_eq!(diabetes.y[0].as_slice(), [151.0]);
}

#[test]
fn regression_trains_with_target_scaling_and_a_held_out_validation_part() {
    let text: String = (0..60)
        .map(|i| {
            let (a, b, c) = (i as f32 * 0.1, (i % 7) as f32, (i % 3) as f32);
            format!("{a},{b},{c},{},{}\n", 100.0 + 10.0 * a - b, 0.5 * c)
        })
        .collect();
    let mut data =
        Dataset::<Input<Reg>, Output<Reg>>::from_csv_reader(text.as_bytes(), "reg.csv").unwrap();
    let xs = Standardizer::fit(&data).unwrap();
    let ys = Standardizer::fit_targets(&data).unwrap();
    let raw = data.clone();
    xs.transform(&mut data);
    ys.transform_targets(&mut data);
    // Targets standardized to mean 0; inverted back to the same values (within rounding).
    let mean: f32 = data.y.iter().map(|y| y[0]).sum::<f32>() / 60.0;
    assert!(mean.abs() < 1e-5);
    let mut back = data.y.clone();
    ys.inverse_transform(&mut back);
    for (b, r) in back.iter().zip(&raw.y) {
        assert!((b[0] - r[0]).abs() < 1e-3 && (b[1] - r[1]).abs() < 1e-5);
    }
    let mut net = Reg::new(2);
    let history = Trainer::new(Adam::new(1e-2), Mse)
        .batch_size::<8>()
        .epochs(30)
        .validation_fraction(0.25)
        .progress(false)
        .fit(&mut net, &data, None)
        .unwrap();
    let first = history.epochs[0].validation.unwrap().loss;
    let last = history.last().unwrap().validation.unwrap().loss;
    assert!(last < 0.5 * first, "validation MSE {first} -> {last}");
    assert!(history.epochs[0].train_accuracy.is_none());
}

#[test]
fn scalers_save_and_load_bit_for_bit_and_check_their_length() {
    let data = three(&three_text(None));
    let s = Standardizer::fit(&data).unwrap();
    let dir = std::env::temp_dir().join(format!("nn-workflows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scaler.safetensors");
    s.save(&file).unwrap();
    let back = Standardizer::<Shape1<U3>>::load(&file).unwrap();
    let bits = |t: &X3| t.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        (bits(&back.mean), bits(&back.std)),
        (bits(&s.mean), bits(&s.std))
    );
    let e = Standardizer::<Shape1<U2>>::load(&file)
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("tensor `mean` has shape [3], the network expects [2]"),
        "{e}"
    );
    // A weight file is not a scaler.
    let weights = dir.join("net.safetensors");
    Three::new(0).save_safetensors(&weights).unwrap();
    let e = Standardizer::<Shape1<U3>>::load(&weights)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a scaler written by Standardizer::save"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn statistics_of_nothing_are_errors() {
    let empty: Dataset<X3, usize> = Dataset::default();
    assert!(matches!(
        Standardizer::fit(&empty),
        Err(nn::Error::Empty(_))
    ));
    let net = Three::new(0);
    assert!(matches!(
        evaluate(&net, &CrossEntropy, &empty),
        Err(nn::Error::Empty(_))
    ));
    assert!(matches!(accuracy(&net, &empty), Err(nn::Error::Empty(_))));
}

// ---- CSV options ----

#[test]
fn header_delimiter_and_gzip_read_the_same_data() {
    let plain = Dataset::<Input<Cancer>, usize>::from_csv(path("breast_cancer.csv")).unwrap();
    let named = Dataset::<Input<Cancer>, usize>::from_csv_with(
        path("breast_cancer_named.csv.gz"),
        CsvOptions::new().header(true).delimiter(b';'),
    )
    .unwrap();
    assert_eq!(plain, named);
    // Rows count the header: the first sample is row 2.
    assert_eq!(named.row(0), Some(2));
    // Without the header option, the header is a bad value named by row and column.
    let e = Dataset::<Input<Cancer>, usize>::from_csv_with(
        path("breast_cancer_named.csv.gz"),
        CsvOptions::new().delimiter(b';'),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.ends_with(
            "breast_cancer_named.csv.gz: row 1, column 1: `mean radius` is not a finite number"
        ),
        "{e}"
    );
    // With a header, errors also name the column.
    let text = "a;b;c;class\n1;2;3;0\n4;x;6;1\n";
    let e = Dataset::<X3, usize>::from_csv_reader_with(
        text.as_bytes(),
        "h.csv",
        CsvOptions::new().header(true).delimiter(b';'),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "h.csv: row 3, column 2 (`b`): `x` is not a finite number"
    );
}

#[test]
fn a_truncated_gzip_file_is_an_error() {
    let bytes = std::fs::read(path("breast_cancer_named.csv.gz")).unwrap();
    let cut = &bytes[..bytes.len() / 2];
    let e = Dataset::<Input<Cancer>, usize>::from_csv_reader_with(
        cut,
        "cut.csv.gz",
        CsvOptions::new().header(true).delimiter(b';'),
    )
    .unwrap_err();
    assert!(
        matches!(e, nn::Error::Io { .. } | nn::Error::Width { .. }),
        "{e}"
    );
    assert!(e.to_string().starts_with("cut.csv.gz"), "{e}");
}

// ---- settings ----

#[test]
fn bad_hyperparameters_are_errors_before_training() {
    let data = three(&three_text(None));
    let fit = |opt: Sgd| {
        let mut net = Three::new(1);
        quiet(Trainer::new(opt, CrossEntropy)).fit(&mut net, &data, None)
    };
    let e = fit(Sgd::new(-0.1)).unwrap_err().to_string();
    assert_eq!(e, "`lr` is -0.1; it must be a finite number above 0");
    assert!(fit(Sgd::new(f32::NAN)).is_err());
    assert!(fit(Sgd::new(0.1).momentum(1.5)).is_err());
    assert!(fit(Sgd::new(0.1).weight_decay(-1.0)).is_err());
    let mut net = Three::new(1);
    let adam =
        quiet(Trainer::new(Adam::new(f32::INFINITY), CrossEntropy)).fit(&mut net, &data, None);
    assert!(adam.unwrap_err().to_string().starts_with("`lr` is inf"));
    let mut trainer = Trainer::new(Sgd::new(0.1), CrossEntropy).progress(false);
    type Set = Box<dyn Fn(Trainer<Sgd, CrossEntropy>) -> Trainer<Sgd, CrossEntropy>>;
    let settings: [(&str, Set); 6] = [
        ("epochs", Box::new(|t| t.epochs(0))),
        ("min_delta", Box::new(|t| t.min_delta(f32::NAN))),
        (
            "validation_fraction",
            Box::new(|t| t.validation_fraction(1.2)),
        ),
        (
            "schedule",
            Box::new(|t| {
                t.schedule(Schedule::Step {
                    every: 0,
                    factor: 0.5,
                })
            }),
        ),
        (
            "schedule",
            Box::new(|t| t.schedule(Schedule::Cosine { min: 1.0 })),
        ),
        ("patience", Box::new(|t| t.patience(3))),
    ];
    for (name, set) in settings {
        trainer = set(trainer);
        let mut net = Three::new(1);
        let e = trainer.fit(&mut net, &data, None).unwrap_err().to_string();
        let expected = if name == "patience" {
            "early stopping (patience) needs a validation set"
        } else {
            name
        };
        assert!(e.contains(expected), "{name}: {e}");
        trainer = Trainer::new(Sgd::new(0.1), CrossEntropy).progress(false);
    }
    // A validation set and a validation fraction at once.
    let mut net = Three::new(1);
    let e = quiet(Trainer::new(Sgd::new(0.1), CrossEntropy).validation_fraction(0.2))
        .fit(&mut net, &data, Some(&data))
        .unwrap_err()
        .to_string();
    assert!(e.contains("give one or the other"), "{e}");
}

// ---- schedules, checkpoints, history ----

#[test]
fn schedules_set_each_epochs_rate() {
    let data = three(&three_text(None));
    let mut net = Three::new(1);
    let h = Trainer::new(Sgd::new(0.08), CrossEntropy)
        .batch_size::<8>()
        .epochs(5)
        .progress(false)
        .schedule(Schedule::Step {
            every: 2,
            factor: 0.5,
        })
        .fit(&mut net, &data, None)
        .unwrap();
    let rates: Vec<f32> = h.epochs.iter().map(|e| e.learning_rate).collect();
    assert_eq!(rates, [0.08, 0.08, 0.04, 0.04, 0.02]);
    let mut net = Three::new(1);
    let h = Trainer::new(Sgd::new(0.1), CrossEntropy)
        .batch_size::<8>()
        .epochs(3)
        .progress(false)
        .schedule(Schedule::Cosine { min: 0.0 })
        .fit(&mut net, &data, None)
        .unwrap();
    let rates: Vec<f32> = h.epochs.iter().map(|e| e.learning_rate).collect();
    assert_eq!(rates[0], 0.1);
    assert!(
        (rates[1] - 0.05).abs() < 1e-7 && rates[2] == 0.0,
        "{rates:?}"
    );
}

#[test]
fn the_checkpoint_holds_the_best_epochs_weights_and_history_writes_csv() {
    let data = Dataset::<Input<Cancer>, usize>::from_csv(path("breast_cancer.csv")).unwrap();
    let (mut train, mut test) = data.stratified_split(0.2, 1).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.transform(&mut train);
    s.transform(&mut test);
    let dir = std::env::temp_dir().join(format!("nn-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("best.safetensors");
    let mut net = Cancer::new(3);
    let h = Trainer::new(Sgd::new(0.5).momentum(0.9), CrossEntropy)
        .batch_size::<16>()
        .epochs(40)
        .validation_fraction(0.3)
        .patience(5)
        .checkpoint(&file)
        .seed(2)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap();
    assert_eq!(h.checkpoint_epoch, h.best_epoch);
    let best = Cancer::load_safetensors(&file).unwrap();
    let x = &test.x[..20];
    assert_eq!(
        best.forward_all(x),
        net.forward_all(x),
        "restored weights = checkpoint"
    );
    // History as CSV: a header and one row per epoch, blank where nothing was measured.
    let csv = h.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,learning_rate,train_loss,train_accuracy,val_loss,val_accuracy"
    );
    assert_eq!(lines.len(), h.epochs.len() + 1);
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], "1");
    assert_eq!(
        first[4].parse::<f32>().unwrap(),
        h.epochs[0].validation.unwrap().loss
    );
    h.write_csv(dir.join("history.csv")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("history.csv")).unwrap(),
        csv
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---- conveniences ----

#[test]
fn forward_all_predict_classes_and_the_confusion_matrix_agree() {
    let data = Dataset::<Input<Cancer>, usize>::from_csv(path("breast_cancer.csv")).unwrap();
    let (mut train, mut test) = data.stratified_split(0.2, 4).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.transform(&mut train);
    s.transform(&mut test);
    let mut net = Cancer::new(5);
    quiet(Trainer::new(Sgd::new(0.1), CrossEntropy))
        .fit(&mut net, &train, None)
        .unwrap();
    let all = net.forward_all(&test.x);
    for (x, y) in test.x.iter().zip(&all) {
        let one = net.forward(x);
        for (a, b) in one.as_slice().iter().zip(y.as_slice()) {
            assert!((a - b).abs() < 1e-6);
        }
    }
    let classes = net.predict_classes(&test.x);
    let right = classes.iter().zip(&test.y).filter(|(p, y)| p == y).count();
    let report = evaluate(&net, &CrossEntropy, &test).unwrap();
    let acc = accuracy(&net, &test).unwrap();
    assert_eq!(acc, right as f32 / test.len() as f32);
    let m = report
        .confusion
        .expect("a classifier's report has a confusion matrix");
    assert_eq!((m.classes(), m.total()), (2, test.len()));
    assert_eq!(m.accuracy(), acc);
    for c in 0..2 {
        let predicted = classes.iter().filter(|&&p| p == c).count();
        assert_eq!(m.predicted(c), predicted);
        assert_eq!(m.support(c), test.y.iter().filter(|&&y| y == c).count());
        let tp = m.count(c, c) as f32;
        assert_eq!(m.precision(c), Some(tp / predicted as f32));
        assert_eq!(m.recall(c), Some(tp / m.support(c) as f32));
    }
    let text = m.to_string();
    assert!(
        text.contains("precision") && text.contains("support"),
        "{text}"
    );
    // A regression loss has no confusion matrix.
    let regression = Dataset::new(test.x.clone(), all).unwrap();
    assert!(evaluate(&net, &Mse, &regression)
        .unwrap()
        .confusion
        .is_none());
}
