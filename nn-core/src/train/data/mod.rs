//! Data sets: samples with their targets ([`Dataset`]), read from CSV files ([`csv`]), split
//! ([`split`]) and standardized ([`scale`]).
//!
//! A data set read from a file remembers each sample's file and row, through subsets and splits,
//! so that a bad label found later (by [`Trainer::fit`](crate::Trainer::fit) or
//! [`evaluate`](crate::evaluate)) is reported at its row of the file.

pub mod csv;
pub mod scale;
pub mod split;

use std::format;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use super::error::Error;
use crate::loss::{TargetError, MAX_CLASS_LABEL};

/// Samples with their targets: `x[i]` goes with `y[i]`.
///
/// Class labels are `usize` (`Dataset<Input<N>, usize>`); regression targets are tensors of the
/// network's output shape (`Dataset<Input<N>, Output<N>>`).
#[derive(Debug, Clone)]
pub struct Dataset<X, Y> {
    /// The inputs.
    pub x: Vec<X>,
    /// The targets.
    pub y: Vec<Y>,
    /// Where the samples came from, when they were read from a file.
    origin: Option<Origin>,
}

/// The file a data set was read from and each sample's 1-based row in it.
#[derive(Debug, Clone)]
struct Origin {
    path: Arc<str>,
    rows: Vec<usize>,
}

impl<X: PartialEq, Y: PartialEq> PartialEq for Dataset<X, Y> {
    /// The same samples and targets (where they came from does not count).
    fn eq(&self, other: &Self) -> bool {
        self.x == other.x && self.y == other.y
    }
}

impl<X, Y> Default for Dataset<X, Y> {
    fn default() -> Self {
        Dataset {
            x: Vec::new(),
            y: Vec::new(),
            origin: None,
        }
    }
}

impl<X, Y> Dataset<X, Y> {
    /// A data set from inputs and targets of equal length, or `Err`.
    pub fn new(x: Vec<X>, y: Vec<Y>) -> Result<Self, Error> {
        if x.len() != y.len() {
            return Err(Error::Config(format!(
                "{} inputs but {} targets",
                x.len(),
                y.len()
            )));
        }
        Ok(Dataset { x, y, origin: None })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Adds a sample (with no row of a file).
    pub fn push(&mut self, x: X, y: Y) {
        if let Some(o) = &mut self.origin {
            o.rows.resize(self.x.len(), 0);
            o.rows.push(0);
        }
        self.x.push(x);
        self.y.push(y);
    }

    /// Iterates over `(input, target)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&X, &Y)> {
        self.x.iter().zip(self.y.iter())
    }

    /// The file the samples were read from, if any.
    pub fn source(&self) -> Option<&str> {
        self.origin.as_ref().map(|o| &*o.path)
    }

    /// The 1-based row of sample `i` in its file ([`Dataset::source`]), if it was read from one.
    pub fn row(&self, i: usize) -> Option<usize> {
        let o = self.origin.as_ref()?;
        (self.x.len() == o.rows.len())
            .then(|| o.rows.get(i).copied())
            .flatten()
            .filter(|&r| r > 0)
    }

    /// Sample `i` as errors name it: `data.csv: row 60` when it came from a file, else
    /// `sample 59` (0-based, as indices into the data set are).
    pub fn describe(&self, i: usize) -> String {
        match (self.source(), self.row(i)) {
            (Some(path), Some(row)) => format!("{path}: row {row}"),
            _ => format!("sample {i}"),
        }
    }

    /// Sets where the samples came from (used by the CSV reader).
    pub(crate) fn set_origin(&mut self, path: &str, rows: Vec<usize>) {
        self.origin = Some(Origin {
            path: Arc::from(path),
            rows,
        });
    }
}

impl<X: Clone, Y: Clone> Dataset<X, Y> {
    /// The samples at `indices`, in that order (an index may repeat). `Err` names the first
    /// index that is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Self, Error> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::Config(format!(
                "index {bad} is out of range for a data set of {} samples",
                self.len()
            )));
        }
        Ok(self.pick(indices))
    }

    /// The samples at `indices`, which are in range.
    pub(crate) fn pick(&self, indices: &[usize]) -> Self {
        Dataset {
            x: indices.iter().map(|&i| self.x[i].clone()).collect(),
            y: indices.iter().map(|&i| self.y[i].clone()).collect(),
            origin: self.origin.as_ref().and_then(|o| {
                (o.rows.len() == self.x.len()).then(|| Origin {
                    path: o.path.clone(),
                    rows: indices.iter().map(|&i| o.rows[i]).collect(),
                })
            }),
        }
    }

    /// Splits at `n`: the first `n` samples and the rest (e.g. MNIST-1D's canonical 4000/1000).
    pub fn split_at(&self, n: usize) -> (Self, Self) {
        let n = n.min(self.len());
        let first: Vec<usize> = (0..n).collect();
        let rest: Vec<usize> = (n..self.len()).collect();
        (self.pick(&first), self.pick(&rest))
    }
}

impl<X> Dataset<X, usize> {
    /// Number of classes: the largest label plus one (0 for an empty data set).
    pub fn num_classes(&self) -> usize {
        self.y.iter().max().map_or(0, |m| m.saturating_add(1))
    }

    /// Samples per class, indexed by label. `Err` if a label is above [`MAX_CLASS_LABEL`].
    pub fn class_counts(&self) -> Result<Vec<usize>, Error> {
        self.check_labels(None)?;
        let mut counts = std::vec![0; self.num_classes()];
        for &y in &self.y {
            counts[y] += 1;
        }
        Ok(counts)
    }

    /// `Err` naming the first sample (by its row of the file, when it came from one) whose label
    /// is above [`MAX_CLASS_LABEL`] or, given `outputs`, is not a class of a network with that
    /// many outputs (`0..outputs`, or 0 and 1 for one output).
    pub fn check_labels(&self, outputs: Option<usize>) -> Result<(), Error> {
        for (i, &label) in self.y.iter().enumerate() {
            let error = match outputs {
                Some(outputs) => crate::loss::check_label(label, outputs),
                None if label > MAX_CLASS_LABEL => Err(TargetError::LabelTooLarge { label }),
                None => Ok(()),
            };
            if let Err(error) = error {
                return Err(Error::Target {
                    sample: self.describe(i),
                    error,
                });
            }
        }
        Ok(())
    }
}
