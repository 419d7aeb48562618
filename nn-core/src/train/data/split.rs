//! Seeded splits of a data set: shuffled ([`Dataset::split`]) or stratified by class
//! ([`Dataset::stratified_split`]), with the indices of each part
//! ([`Dataset::split_indices`], [`Dataset::stratified_split_indices`]) to share a split with
//! another tool.

use std::format;
use std::vec::Vec;

use super::Dataset;
use crate::init::Rng;
use crate::train::error::Error;

/// The indices of the two parts of a split, into the data set that was split: the first part
/// (`train`) and the held-out part (`test`), each in its shuffled order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Indices of the first (training) part.
    pub train: Vec<usize>,
    /// Indices of the held-out (test or validation) part.
    pub test: Vec<usize>,
}

/// `Err` unless `fraction` is a number strictly between 0 and 1.
pub(crate) fn check_fraction(setting: &'static str, fraction: f32) -> Result<(), Error> {
    if fraction > 0.0 && fraction < 1.0 {
        Ok(())
    } else {
        Err(Error::Setting {
            setting,
            value: format!("{fraction}"),
            expected: "a fraction strictly between 0 and 1",
        })
    }
}

/// `Err` when a part would be empty.
fn check_parts(parts: &SplitIndices, fraction: f32, n: usize) -> Result<(), Error> {
    if parts.test.is_empty() || parts.train.is_empty() {
        let which = if parts.test.is_empty() {
            "held-out"
        } else {
            "training"
        };
        return Err(Error::Config(format!(
            "a split of {n} samples with fraction {fraction} leaves the {which} part empty; \
             use a fraction nearer 0.5 or more data"
        )));
    }
    Ok(())
}

impl<X: Clone, Y: Clone> Dataset<X, Y> {
    /// The indices of a seeded shuffled split: `round(test_fraction * len)` samples are held
    /// out. The same seed gives the same split. `Err` unless `test_fraction` is strictly
    /// between 0 and 1 and both parts have samples.
    pub fn split_indices(&self, test_fraction: f32, seed: u64) -> Result<SplitIndices, Error> {
        check_fraction("test_fraction", test_fraction)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        let n_test = (test_fraction as f64 * self.len() as f64).round() as usize;
        let test = order.split_off(self.len() - n_test);
        let parts = SplitIndices { train: order, test };
        check_parts(&parts, test_fraction, self.len())?;
        Ok(parts)
    }

    /// A seeded shuffled split into `(train, test)` ([`Dataset::split_indices`]); for
    /// regression, or classes that need no balancing.
    pub fn split(&self, test_fraction: f32, seed: u64) -> Result<(Self, Self), Error> {
        let parts = self.split_indices(test_fraction, seed)?;
        Ok((self.pick(&parts.train), self.pick(&parts.test)))
    }
}

impl<X: Clone> Dataset<X, usize> {
    /// The indices of a seeded stratified split: each class is shuffled and
    /// `round(test_fraction * count)` of its samples are held out, so both parts keep the class
    /// proportions. The same seed gives the same split. `Err` unless `test_fraction` is strictly
    /// between 0 and 1, every label is at most [`MAX_CLASS_LABEL`](crate::MAX_CLASS_LABEL) and
    /// both parts have samples.
    pub fn stratified_split_indices(
        &self,
        test_fraction: f32,
        seed: u64,
    ) -> Result<SplitIndices, Error> {
        check_fraction("test_fraction", test_fraction)?;
        self.check_labels(None)?;
        let mut rng = Rng::new(seed);
        // Indices grouped by class, ascending within each class: a sort, not a pass per class.
        let mut by_class: Vec<usize> = (0..self.len()).collect();
        by_class.sort_by_key(|&i| self.y[i]);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class in by_class.chunk_by_mut(|&a, &b| self.y[a] == self.y[b]) {
            rng.shuffle(class);
            let n_test = (test_fraction * class.len() as f32).round() as usize;
            test.extend_from_slice(&class[..n_test]);
            train.extend_from_slice(&class[n_test..]);
        }
        rng.shuffle(&mut train);
        rng.shuffle(&mut test);
        let parts = SplitIndices { train, test };
        check_parts(&parts, test_fraction, self.len())?;
        Ok(parts)
    }

    /// A seeded stratified split into `(train, test)` ([`Dataset::stratified_split_indices`]).
    pub fn stratified_split(&self, test_fraction: f32, seed: u64) -> Result<(Self, Self), Error> {
        let parts = self.stratified_split_indices(test_fraction, seed)?;
        Ok((self.pick(&parts.train), self.pick(&parts.test)))
    }
}

/// Picks the held-out part of a training set for [`Trainer::validation_fraction`]: stratified
/// for class labels, shuffled for regression targets.
///
/// [`Trainer::validation_fraction`]: crate::Trainer::validation_fraction
pub trait Holdout: Clone + Sized {
    /// The indices of the two parts of `data` (see [`SplitIndices`]).
    fn holdout<X: Clone>(
        data: &Dataset<X, Self>,
        fraction: f32,
        seed: u64,
    ) -> Result<SplitIndices, Error>;
}

impl Holdout for usize {
    fn holdout<X: Clone>(
        data: &Dataset<X, usize>,
        fraction: f32,
        seed: u64,
    ) -> Result<SplitIndices, Error> {
        data.stratified_split_indices(fraction, seed)
    }
}

impl<S: crate::tensor::Shape> Holdout for crate::tensor::Tensor<S> {
    fn holdout<X: Clone>(
        data: &Dataset<X, Self>,
        fraction: f32,
        seed: u64,
    ) -> Result<SplitIndices, Error> {
        data.split_indices(fraction, seed)
    }
}
