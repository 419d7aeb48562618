//! CSV loading errors name the file, row and column; splits and standardization behave.

use nn::prelude::*;
use nn::typenum::U3;

type X = Tensor<Shape1<U3>>;

fn load(text: &str) -> Result<Dataset<X, usize>, nn::Error> {
    Dataset::from_csv_reader(text.as_bytes(), "mem.csv")
}

#[test]
fn loads_rows_of_features_and_label() {
    let d = load("1,2,3,0\n4,5,6,1\n7.5,-8,9e-1,2.0\n").unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d.x[2].as_slice(), &[7.5, -8.0, 0.9]);
    assert_eq!(d.y, vec![0, 1, 2]);
    assert_eq!(d.num_classes(), 3);
}

#[test]
fn a_bad_value_names_row_and_column() {
    let err = load("1,2,3,0\n4,x5,6,1\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "mem.csv: row 2, column 2: `x5` is not a finite number"
    );
}

#[test]
fn a_non_finite_value_is_rejected() {
    let err = load("1,2,NaN,0\n").unwrap_err();
    assert!(
        matches!(
            err,
            nn::Error::Value {
                row: 1,
                column: 3,
                ..
            }
        ),
        "{err}"
    );
    let err = load("1,inf,2,0\n").unwrap_err();
    assert!(
        matches!(
            err,
            nn::Error::Value {
                row: 1,
                column: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_wrong_width_names_the_row_and_both_counts() {
    let err = load("1,2,3,0\n1,2,3,4,0\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "mem.csv: row 2 has 5 columns, expected 4 (3 features and the label)"
    );
}

#[test]
fn a_bad_label_is_rejected() {
    for bad in ["-1", "0.5", "cat"] {
        let err = load(&format!("1,2,3,{bad}\n")).unwrap_err();
        assert!(
            matches!(err, nn::Error::Label { row: 1, .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn an_empty_file_and_a_missing_file_are_errors() {
    assert!(matches!(load("").unwrap_err(), nn::Error::Empty(_)));
    let err = Dataset::<X, usize>::from_csv("/no/such/file.csv").unwrap_err();
    assert!(err.to_string().starts_with("/no/such/file.csv: "), "{err}");
}

#[test]
fn the_shipped_data_sets_load() {
    use nn::typenum::{U30, U40, U64};
    let dir = env!("CARGO_MANIFEST_DIR");
    let d =
        Dataset::<Tensor<Shape1<U64>>, usize>::from_csv(format!("{dir}/data/digits.csv")).unwrap();
    assert_eq!((d.len(), d.num_classes()), (1797, 10));
    let b =
        Dataset::<Tensor<Shape1<U30>>, usize>::from_csv(format!("{dir}/data/breast_cancer.csv"))
            .unwrap();
    assert_eq!((b.len(), b.class_counts().unwrap()), (569, vec![212, 357]));
    let m =
        Dataset::<Tensor<Shape1<U40>>, usize>::from_csv(format!("{dir}/data/mnist1d.csv")).unwrap();
    assert_eq!((m.len(), m.num_classes()), (5000, 10));
    // Loading digits with the breast-cancer width fails on the first row.
    let err = Dataset::<Tensor<Shape1<U30>>, usize>::from_csv(format!("{dir}/data/digits.csv"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            nn::Error::Width {
                row: 1,
                expected: 31,
                found: 65,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn stratified_split_keeps_proportions_and_is_seeded() {
    let mut d = Dataset::default();
    for i in 0..100 {
        d.x.push(X::filled(i as f32));
        d.y.push(if i < 80 { 0 } else { 1 });
    }
    let (train, test) = d.stratified_split(0.25, 1).unwrap();
    assert_eq!((train.len(), test.len()), (75, 25));
    assert_eq!(test.class_counts().unwrap(), vec![20, 5]);
    assert_eq!(train.class_counts().unwrap(), vec![60, 15]);
    let (train2, test2) = d.stratified_split(0.25, 1).unwrap();
    assert_eq!((train.clone(), test.clone()), (train2, test2));
    let (_, test3) = d.stratified_split(0.25, 2).unwrap();
    assert_ne!(test, test3);
    // No sample is lost or duplicated.
    let mut all: Vec<f32> = train.x.iter().chain(&test.x).map(|x| x[0]).collect();
    all.sort_by(f32::total_cmp);
    assert_eq!(all, (0..100).map(|i| i as f32).collect::<Vec<_>>());
}

#[test]
fn standardizer_is_fitted_on_training_data_only() {
    let train = load("0,10,5,0\n2,30,5,1\n").unwrap();
    let mut test = load("1,20,7,0\n").unwrap();
    let s = Standardizer::fit(&train).unwrap();
    assert_eq!(s.mean.as_slice(), [1.0, 20.0, 5.0]);
    assert_eq!(s.std.as_slice(), [1.0, 10.0, 1.0]); // the constant column keeps std 1
    s.transform(&mut test);
    assert_eq!(test.x[0].as_slice(), &[0.0, 0.0, 2.0]);
}

#[test]
fn tensors_from_arrays_and_slices() {
    let t: X = [1.0, 5.0, 2.0].into();
    assert_eq!(t.argmax(), 1);
    assert_eq!(X::try_from(&[1.0, 5.0, 2.0][..]).unwrap(), t);
    assert_eq!(X::from_array_ref(&[1.0, 5.0, 2.0]), &t);
    let e = X::try_from(&[1.0f32; 4][..]).unwrap_err();
    assert_eq!((e.expected, e.found), (3, 4));
    assert_eq!(
        e.to_string(),
        "expected 3 values for a tensor of shape [3], found 4"
    );
    assert_eq!(
        nn::argmax(&[f32::NAN, 1.0, 3.0, 3.0]),
        2,
        "first maximum, NaN never wins"
    );
}
