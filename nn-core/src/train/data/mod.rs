//! Data sets: CSV loading with row/column errors, stratified splits and standardization.

use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::error::Error;
use crate::init::Rng;
use crate::tensor::{Shape, Tensor};

/// Samples with their targets: `x[i]` goes with `y[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<X, Y> {
    /// The inputs.
    pub x: Vec<X>,
    /// The targets.
    pub y: Vec<Y>,
}

impl<X, Y> Default for Dataset<X, Y> {
    fn default() -> Self {
        Dataset {
            x: Vec::new(),
            y: Vec::new(),
        }
    }
}

impl<X: Clone, Y: Clone> Dataset<X, Y> {
    /// A data set from inputs and targets of equal length, or `Err`.
    pub fn new(x: Vec<X>, y: Vec<Y>) -> Result<Self, Error> {
        if x.len() != y.len() {
            return Err(Error::Config(format!(
                "{} inputs but {} targets",
                x.len(),
                y.len()
            )));
        }
        Ok(Dataset { x, y })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Dataset {
            x: indices.iter().map(|&i| self.x[i].clone()).collect(),
            y: indices.iter().map(|&i| self.y[i].clone()).collect(),
        }
    }

    /// Splits at `n`: the first `n` samples and the rest (e.g. MNIST-1D's canonical 4000/1000).
    pub fn split_at(&self, n: usize) -> (Self, Self) {
        let n = n.min(self.len());
        let first: Vec<usize> = (0..n).collect();
        let rest: Vec<usize> = (n..self.len()).collect();
        (self.subset(&first), self.subset(&rest))
    }

    /// Iterates over `(input, target)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&X, &Y)> {
        self.x.iter().zip(self.y.iter())
    }
}

impl<X: Clone> Dataset<X, usize> {
    /// Number of classes: the largest label plus one.
    pub fn num_classes(&self) -> usize {
        self.y.iter().max().map_or(0, |m| m + 1)
    }

    /// Samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &y in &self.y {
            counts[y] += 1;
        }
        counts
    }

    /// A seeded stratified split: each class is shuffled and `round(test_fraction * count)` of
    /// its samples go to the second (test) set, so both keep the class proportions. The same
    /// seed gives the same split. Returns `(train, test)`.
    pub fn stratified_split(&self, test_fraction: f32, seed: u64) -> (Self, Self) {
        let mut rng = Rng::new(seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class in 0..self.num_classes() {
            let mut idx: Vec<usize> = (0..self.len()).filter(|&i| self.y[i] == class).collect();
            rng.shuffle(&mut idx);
            let n_test = (test_fraction * idx.len() as f32).round() as usize;
            test.extend_from_slice(&idx[..n_test]);
            train.extend_from_slice(&idx[n_test..]);
        }
        rng.shuffle(&mut train);
        rng.shuffle(&mut test);
        (self.subset(&train), self.subset(&test))
    }
}

impl<S: Shape> Dataset<Tensor<S>, usize> {
    /// Loads a CSV file without a header: each row holds `S::LEN` feature values followed by an
    /// integer class label. `Err` names the file, row and column of a bad value, a wrong width
    /// or a bad label.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: name.clone(),
            source,
        })?;
        Self::from_csv_reader(file, &name)
    }

    /// Like [`Dataset::from_csv`], from any reader; `name` is used in errors.
    pub fn from_csv_reader(reader: impl std::io::Read, name: &str) -> Result<Self, Error> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut out = Dataset::default();
        let expected = S::LEN + 1;
        for (i, record) in rdr.records().enumerate() {
            let record = record.map_err(|e| Error::Io {
                path: name.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            })?;
            let row = record.position().map_or(i + 1, |p| p.line() as usize);
            if record.len() != expected {
                return Err(Error::Width {
                    path: name.to_string(),
                    row,
                    expected,
                    found: record.len(),
                });
            }
            let mut t = Tensor::<S>::zeros();
            for (c, field) in record.iter().take(S::LEN).enumerate() {
                let v: f32 = field
                    .trim()
                    .parse()
                    .map_err(|_| value_err(name, row, c, field))?;
                if !v.is_finite() {
                    return Err(value_err(name, row, c, field));
                }
                t[c] = v;
            }
            let label_text = record[S::LEN].trim();
            let label = parse_label(label_text).ok_or_else(|| Error::Label {
                path: name.to_string(),
                row,
                value: label_text.to_string(),
            })?;
            out.x.push(t);
            out.y.push(label);
        }
        if out.is_empty() {
            return Err(Error::Empty(name.to_string()));
        }
        Ok(out)
    }
}

fn value_err(path: &str, row: usize, col: usize, value: &str) -> Error {
    Error::Value {
        path: path.to_string(),
        row,
        column: col + 1,
        value: String::from(value),
    }
}

fn parse_label(text: &str) -> Option<usize> {
    if let Ok(v) = text.parse::<usize>() {
        return Some(v);
    }
    let v: f64 = text.parse().ok()?;
    (v >= 0.0 && v.fract() == 0.0 && v < 1e9).then_some(v as usize)
}

/// Per-feature standardization `(x - mean) / std`, fitted on a training split only and then
/// applied to every split. Features with zero spread are left centred (std taken as 1).
/// scikit-learn `StandardScaler` (population standard deviation).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Mean of each feature on the fitted data.
    pub mean: Vec<f32>,
    /// Standard deviation of each feature on the fitted data (1 where it was 0).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits means and standard deviations on `data` (accumulated in f64).
    pub fn fit<S: Shape, Y>(data: &Dataset<Tensor<S>, Y>) -> Self {
        let n = data.x.len().max(1) as f64;
        let mut mean = vec![0.0f64; S::LEN];
        for x in &data.x {
            for (m, &v) in mean.iter_mut().zip(x.as_slice()) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; S::LEN];
        for x in &data.x {
            for ((s, &v), &m) in var.iter_mut().zip(x.as_slice()).zip(&mean) {
                *s += (v as f64 - m) * (v as f64 - m);
            }
        }
        let std = var.iter().map(|s| {
            let sd = (s / n).sqrt();
            if sd > 1e-12 {
                sd as f32
            } else {
                1.0
            }
        });
        Standardizer {
            std: std.collect(),
            mean: mean.into_iter().map(|m| m as f32).collect(),
        }
    }

    /// Standardizes one tensor in place.
    pub fn apply<S: Shape>(&self, x: &mut Tensor<S>) {
        for ((v, m), s) in x.as_mut_slice().iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }

    /// Standardizes every input of a data set in place.
    pub fn transform<S: Shape, Y>(&self, data: &mut Dataset<Tensor<S>, Y>) {
        for x in &mut data.x {
            self.apply(x);
        }
    }
}
