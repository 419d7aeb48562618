//! How well a network does on a data set: mean loss and accuracy ([`evaluate`], [`accuracy`]),
//! and for classifiers a confusion matrix with per-class precision and recall ([`Confusion`]).

use std::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use super::checks::{Sample, SamplesFor, TargetsFor};
use super::data::Dataset;
use super::error::Error;
use crate::loss::Loss;
use crate::network::{Head, Input, Network};
use crate::tensor::ShapeName;

/// Loss and accuracy of a network on a data set (one epoch's validation in a
/// [`History`](crate::History)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction classified correctly (`None` for regression losses).
    pub accuracy: Option<f32>,
}

/// What [`evaluate`] returns: the [`Metrics`] and, for classification losses, the confusion
/// matrix (per-class precision, recall and F1).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction classified correctly (`None` for regression losses).
    pub accuracy: Option<f32>,
    /// Counts of true class against predicted class (`None` for regression losses).
    pub confusion: Option<Confusion>,
}

impl Evaluation {
    /// Loss and accuracy without the confusion matrix.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            loss: self.loss,
            accuracy: self.accuracy,
        }
    }
}

/// A confusion matrix: `count(t, p)` samples of true class `t` were predicted as class `p`.
/// scikit-learn `confusion_matrix` (rows are true classes) and `classification_report`
/// (printed by `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    classes: usize,
    counts: Vec<usize>,
}

impl Confusion {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Confusion {
            classes,
            counts: std::vec![0; classes * classes],
        }
    }

    /// Counts one sample of class `truth` predicted as `predicted`; ignored when either is not
    /// below [`Confusion::classes`].
    pub fn add(&mut self, truth: usize, predicted: usize) {
        if truth < self.classes && predicted < self.classes {
            self.counts[truth * self.classes + predicted] += 1;
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Samples of true class `truth` predicted as `predicted` (0 out of range).
    pub fn count(&self, truth: usize, predicted: usize) -> usize {
        if truth < self.classes && predicted < self.classes {
            self.counts[truth * self.classes + predicted]
        } else {
            0
        }
    }

    /// Samples counted.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Samples whose true class is `class` (a row sum).
    pub fn support(&self, class: usize) -> usize {
        (0..self.classes).map(|p| self.count(class, p)).sum()
    }

    /// Samples predicted as `class` (a column sum).
    pub fn predicted(&self, class: usize) -> usize {
        (0..self.classes).map(|t| self.count(t, class)).sum()
    }

    /// Of the samples predicted as `class`, the fraction that are of it; `None` when none was
    /// predicted as `class` (scikit-learn then reports 0 with a warning).
    pub fn precision(&self, class: usize) -> Option<f32> {
        let n = self.predicted(class);
        (n > 0).then(|| self.count(class, class) as f32 / n as f32)
    }

    /// Of the samples of `class`, the fraction predicted as it; `None` when there are none.
    pub fn recall(&self, class: usize) -> Option<f32> {
        let n = self.support(class);
        (n > 0).then(|| self.count(class, class) as f32 / n as f32)
    }

    /// The harmonic mean of precision and recall (0 when both are 0; `None` when either is).
    pub fn f1(&self, class: usize) -> Option<f32> {
        let (p, r) = (self.precision(class)?, self.recall(class)?);
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }

    /// The fraction of samples on the diagonal (0 for an empty matrix).
    pub fn accuracy(&self) -> f32 {
        let right: usize = (0..self.classes).map(|c| self.count(c, c)).sum();
        right as f32 / self.total().max(1) as f32
    }
}

impl fmt::Display for Confusion {
    /// The matrix (rows: true class, columns: predicted), then precision, recall, F1 and
    /// support per class; `-` where a figure is undefined.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.total().to_string().len().max(5);
        write!(f, "{:>10}", "true\\pred")?;
        for p in 0..self.classes {
            write!(f, " {p:>w$}")?;
        }
        writeln!(f)?;
        for t in 0..self.classes {
            write!(f, "{t:>10}")?;
            for p in 0..self.classes {
                write!(f, " {:>w$}", self.count(t, p))?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "{:>10} {:>9} {:>9} {:>9} {:>9}",
            "class", "precision", "recall", "f1", "support"
        )?;
        let show = |v: Option<f32>| v.map_or(String::from("-"), |v| std::format!("{v:.3}"));
        for c in 0..self.classes {
            writeln!(
                f,
                "{c:>10} {:>9} {:>9} {:>9} {:>9}",
                show(self.precision(c)),
                show(self.recall(c)),
                show(self.f1(c)),
                self.support(c)
            )?;
        }
        write!(
            f,
            "{:>10} {:>9.3} {:>9} {:>9} {:>9}",
            "accuracy",
            self.accuracy(),
            "",
            "",
            self.total()
        )
    }
}

/// `Err` naming the first sample whose target does not suit `loss` (by its row of the file the
/// data set was read from, when it was), and for an empty data set.
pub(crate) fn check_targets<X, L, O>(
    loss: &L,
    data: &Dataset<X, L::Target>,
    what: &str,
) -> Result<(), Error>
where
    O: crate::tensor::Shape,
    L: Loss<O>,
{
    if data.is_empty() {
        return Err(Error::Empty(String::from(what)));
    }
    if data.x.len() != data.y.len() {
        return Err(Error::Config(std::format!(
            "{what} has {} inputs but {} targets",
            data.x.len(),
            data.y.len()
        )));
    }
    for (i, t) in data.y.iter().enumerate() {
        loss.check_target(t).map_err(|error| Error::Target {
            sample: data.describe(i),
            error,
        })?;
    }
    Ok(())
}

/// Mean loss and accuracy of `net` on `data`, in inference mode ([`Network::forward`] or, for
/// losses on logits, [`Network::forward_logits`]), with the confusion matrix for classification
/// losses.
///
/// `data` is a `Dataset<Input<N>, T>` with the loss's targets `T`, checked at compile time as
/// in [`Trainer::fit`](crate::Trainer::fit). `Err` if it is empty or a target does not suit the
/// loss (a label that is not a class of the network: the error names its row of the file).
pub fn evaluate<N, L, X, Y>(net: &N, loss: &L, data: &Dataset<X, Y>) -> Result<Evaluation, Error>
where
    N: Network,
    X: Sample,
    X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
    Y: TargetsFor<L, N, <N::OutputShape as ShapeName>::Array>,
{
    let loss = Y::loss(loss);
    check_targets(loss, data, "the data set given to evaluate")?;
    let x = <X::Name as SamplesFor<N, _>>::inputs(&data.x);
    Ok(evaluate_slices(net, loss, x, &data.y, true))
}

/// [`evaluate`] on checked slices; the confusion matrix only when `confusion`.
pub(crate) fn evaluate_slices<N, L>(
    net: &N,
    loss: &L,
    x: &[Input<N>],
    y: &[L::Target],
    confusion: bool,
) -> Evaluation
where
    N: Network,
    L: Loss<N::OutputShape>,
{
    let on_logits = L::ABSORBS != Head::None;
    let mut matrix = (confusion && L::CLASSES > 0).then(|| Confusion::new(L::CLASSES));
    let (mut total, mut correct, mut classified) = (0.0f64, 0usize, false);
    for (x, t) in x.iter().zip(y) {
        let p = if on_logits {
            net.forward_logits(x)
        } else {
            net.forward(x)
        };
        total += loss.sample_loss(&p, t) as f64;
        if let Some(ok) = loss.correct(&p, t) {
            classified = true;
            correct += ok as usize;
        }
        if let (Some(m), Some(truth), Some(class)) =
            (matrix.as_mut(), loss.target_class(t), loss.class(&p))
        {
            m.add(truth, class);
        }
    }
    let n = x.len().max(1) as f64;
    Evaluation {
        loss: (total / n) as f32,
        accuracy: classified.then(|| (correct as f64 / n) as f32),
        confusion: matrix,
    }
}

/// Fraction of samples whose predicted class (argmax of the output; for one output, output > 0.5
/// after a sigmoid or > 0 otherwise) equals the label.
///
/// `data` is a `Dataset<Input<N>, usize>`, checked at compile time as in
/// [`Trainer::fit`](crate::Trainer::fit). `Err` if it is empty or a label is not a class of the
/// network (`0..OUTPUT_LEN`, or 0 and 1 for one output; the error names its row of the file).
pub fn accuracy<N, X>(net: &N, data: &Dataset<X, usize>) -> Result<f32, Error>
where
    N: Network,
    X: Sample,
    X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
{
    if data.is_empty() {
        return Err(Error::Empty(String::from("the data set given to accuracy")));
    }
    data.check_labels(Some(N::OUTPUT_LEN))?;
    let x = <X::Name as SamplesFor<N, _>>::inputs(&data.x);
    let mut correct = 0;
    for (x, &y) in x.iter().zip(&data.y) {
        correct += (predicted_class(net, &net.forward_logits(x)) == y) as usize;
    }
    Ok(correct as f32 / x.len() as f32)
}

/// The class of logits from [`Network::forward_logits`]: the argmax, or for one output whether
/// it is above 0 (the middle of a sigmoid, or of a linear output with labels 0 and 1).
pub(crate) fn predicted_class<N: Network>(
    _: &N,
    logits: &crate::tensor::Tensor<N::OutputShape>,
) -> usize {
    if N::OUTPUT_LEN == 1 {
        (logits[0] > 0.0) as usize
    } else {
        logits.argmax()
    }
}
