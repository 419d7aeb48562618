//! Loss functions: each gives the mean loss over a mini-batch and its gradient.
//!
//! Conventions (PyTorch): cross-entropy losses are averaged over the batch, MSE over all elements.
//! The cross-entropy losses take logits: when the network ends in `Softmax` (or `Sigmoid`), the
//! trainer hands them the input of that last activation, which is exact and stable.

use typenum::U1;

use crate::math::{self, Real};
use crate::network::Head;
use crate::tensor::{argmax, Shape, Shape1, Tensor};

/// A loss over network outputs of shape `O`.
pub trait Loss<O: Shape> {
    /// One sample's target: a class index or a tensor.
    type Target: Clone;
    /// The final activation this loss works through, if it takes logits
    /// (`Head::Softmax` for cross-entropy, `Head::Sigmoid` for binary cross-entropy).
    const ABSORBS: Head;
    /// A name for messages.
    const NAME: &'static str;

    /// Mean loss over the batch; writes d(mean loss)/d(prediction) into `grad`.
    fn loss_grad(&self, pred: &[Tensor<O>], target: &[Self::Target], grad: &mut [Tensor<O>])
        -> f32;

    /// Loss of one sample (the batch mean is the mean of these).
    fn sample_loss(&self, pred: &Tensor<O>, target: &Self::Target) -> f32;

    /// Whether a prediction is right, for classification losses; `None` for regression.
    fn correct(&self, pred: &Tensor<O>, target: &Self::Target) -> Option<bool>;

    /// The number of classes of a classification loss (0 for regression losses).
    const CLASSES: usize = 0;

    /// The class a prediction (logits, or the output for losses that take no logits) stands
    /// for, for classification losses; `None` for regression.
    fn class(&self, pred: &Tensor<O>) -> Option<usize> {
        let _ = pred;
        None
    }

    /// The class of a target, for classification losses; `None` for regression.
    fn target_class(&self, target: &Self::Target) -> Option<usize> {
        let _ = target;
        None
    }

    /// `Err` saying why when a target is not valid for this loss (a class out of range, a
    /// target that is not finite).
    fn check_target(&self, target: &Self::Target) -> Result<(), TargetError>;
}

/// The largest class label a data set may hold: 65,535. A label above it is almost always a
/// column that is not a class (an identifier or a measurement), and a network with that many
/// outputs is beyond what this crate is for.
pub const MAX_CLASS_LABEL: usize = 65_535;

/// Why a label above [`MAX_CLASS_LABEL`] is refused, after "label N ".
pub(crate) const TOO_LARGE: &str = "is larger than any class label nn accepts (65535): is this \
     column an identifier or a measurement? For regression, read the targets as tensors: \
     `Dataset::<Input<Net>, Output<Net>>`";

/// Why a target does not suit a loss or a network ([`Loss::check_target`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    /// A class label that is not one of the network's classes, `0..classes`.
    Label {
        /// The label.
        label: usize,
        /// The number of classes: the outputs, or 2 for one output read as a probability.
        classes: usize,
        /// The network's outputs.
        outputs: usize,
    },
    /// A class label above [`MAX_CLASS_LABEL`].
    LabelTooLarge {
        /// The label.
        label: usize,
    },
    /// A regression target with a NaN or infinite value.
    NotFinite {
        /// Flat index of the value in the target tensor.
        index: usize,
    },
}

impl core::fmt::Display for TargetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            TargetError::Label {
                label,
                classes,
                outputs,
            } => write!(
                f,
                "label {label} is not a class of a network with {outputs} output{} (labels 0 to {})",
                if outputs == 1 { "" } else { "s" },
                classes.saturating_sub(1)
            ),
            TargetError::LabelTooLarge { label } => write!(f, "label {label} {TOO_LARGE}"),
            TargetError::NotFinite { index } => {
                write!(f, "target value {index} is NaN or infinite")
            }
        }
    }
}

/// `Ok` when `label` is one of the classes of a network with `outputs` outputs: `0..outputs`,
/// or 0 and 1 for one output (a probability or a logit thresholded at the middle).
pub fn check_label(label: usize, outputs: usize) -> Result<(), TargetError> {
    let classes = if outputs == 1 { 2 } else { outputs };
    if label < classes {
        Ok(())
    } else {
        Err(TargetError::Label {
            label,
            classes,
            outputs,
        })
    }
}

/// Binary cross-entropy on a logit z with target t in {0, 1}:
/// max(z, 0) - z t + ln(1 + e^-|z|); gradient sigmoid(z) - t.
/// PyTorch `BCEWithLogitsLoss`, Keras `BinaryCrossentropy(from_logits=True)`.
pub fn bce_with_logits<R: Real>(z: R, t: R) -> (R, R) {
    let loss = z.max(R::ZERO) - z * t + (-z.abs()).exp().ln_1p();
    (loss, math::sigmoid(z) - t)
}

/// Softmax cross-entropy of logits `z` with class `label`: `logsumexp(z) - z[label]`; gradient
/// softmax(z) - onehot(label), written into `grad`. PyTorch `CrossEntropyLoss`.
pub fn softmax_cross_entropy<R: Real>(z: &[R], label: usize, grad: &mut [R]) -> R {
    let mut m = z[0];
    for &v in z {
        m = m.max(v);
    }
    let mut sum = R::ZERO;
    for (g, &v) in grad.iter_mut().zip(z) {
        *g = (v - m).exp();
        sum = sum + *g;
    }
    for g in grad.iter_mut() {
        *g = *g / sum;
    }
    grad[label] = grad[label] - R::ONE;
    sum.ln() + m - z[label]
}

/// Binary cross-entropy on logits for a one-output network; target class 0 or 1.
/// Mean over the batch. PyTorch `nn.BCEWithLogitsLoss()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BinaryCrossEntropy;

impl Loss<Shape1<U1>> for BinaryCrossEntropy {
    type Target = usize;
    const ABSORBS: Head = Head::Sigmoid;
    const NAME: &'static str = "binary cross-entropy";
    fn loss_grad(
        &self,
        pred: &[Tensor<Shape1<U1>>],
        target: &[usize],
        grad: &mut [Tensor<Shape1<U1>>],
    ) -> f32 {
        let inv = 1.0 / pred.len() as f32;
        let mut total = 0.0;
        for ((p, &t), g) in pred.iter().zip(target).zip(grad.iter_mut()) {
            let (l, d) = bce_with_logits(p[0], t as f32);
            total += l;
            g[0] = d * inv;
        }
        total * inv
    }
    fn sample_loss(&self, pred: &Tensor<Shape1<U1>>, target: &usize) -> f32 {
        bce_with_logits(pred[0], *target as f32).0
    }
    const CLASSES: usize = 2;
    fn class(&self, pred: &Tensor<Shape1<U1>>) -> Option<usize> {
        Some((pred[0] > 0.0) as usize)
    }
    fn target_class(&self, target: &usize) -> Option<usize> {
        Some(*target)
    }
    fn correct(&self, pred: &Tensor<Shape1<U1>>, target: &usize) -> Option<bool> {
        Some((pred[0] > 0.0) == (*target == 1))
    }
    fn check_target(&self, target: &usize) -> Result<(), TargetError> {
        check_label(*target, 1)
    }
}

/// Softmax cross-entropy on logits with a class index target. Mean over the batch.
/// PyTorch `nn.CrossEntropyLoss()`, Keras `SparseCategoricalCrossentropy(from_logits=True)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropy;

impl<S: Shape> Loss<S> for CrossEntropy {
    type Target = usize;
    const ABSORBS: Head = Head::Softmax;
    const NAME: &'static str = "cross-entropy";
    fn loss_grad(&self, pred: &[Tensor<S>], target: &[usize], grad: &mut [Tensor<S>]) -> f32 {
        let inv = 1.0 / pred.len() as f32;
        let mut total = 0.0;
        for ((p, &t), g) in pred.iter().zip(target).zip(grad.iter_mut()) {
            total += softmax_cross_entropy(p.as_slice(), t, g.as_mut_slice());
            for v in g.as_mut_slice() {
                *v *= inv;
            }
        }
        total * inv
    }
    fn sample_loss(&self, pred: &Tensor<S>, target: &usize) -> f32 {
        let mut g = Tensor::<S>::zeros();
        softmax_cross_entropy(pred.as_slice(), *target, g.as_mut_slice())
    }
    const CLASSES: usize = S::LEN;
    fn class(&self, pred: &Tensor<S>) -> Option<usize> {
        Some(argmax(pred.as_slice()))
    }
    fn target_class(&self, target: &usize) -> Option<usize> {
        Some(*target)
    }
    fn correct(&self, pred: &Tensor<S>, target: &usize) -> Option<bool> {
        Some(argmax(pred.as_slice()) == *target)
    }
    fn check_target(&self, target: &usize) -> Result<(), TargetError> {
        if *target < S::LEN {
            Ok(())
        } else {
            Err(TargetError::Label {
                label: *target,
                classes: S::LEN,
                outputs: S::LEN,
            })
        }
    }
}

/// Mean squared error over all elements: mean((p - t)^2); gradient 2 (p - t) / (B * len).
/// PyTorch `nn.MSELoss()`, Keras `MeanSquaredError`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mse;

impl<S: Shape> Loss<S> for Mse {
    type Target = Tensor<S>;
    const ABSORBS: Head = Head::None;
    const NAME: &'static str = "mean squared error";
    fn loss_grad(&self, pred: &[Tensor<S>], target: &[Tensor<S>], grad: &mut [Tensor<S>]) -> f32 {
        let n = (pred.len() * S::LEN) as f32;
        let mut total = 0.0;
        for ((p, t), g) in pred.iter().zip(target).zip(grad.iter_mut()) {
            for ((&p, &t), g) in p.as_slice().iter().zip(t.as_slice()).zip(g.as_mut_slice()) {
                let d = p - t;
                total += d * d;
                *g = 2.0 * d / n;
            }
        }
        total / n
    }
    fn sample_loss(&self, pred: &Tensor<S>, target: &Tensor<S>) -> f32 {
        let mut total = 0.0;
        for (&p, &t) in pred.as_slice().iter().zip(target.as_slice()) {
            total += (p - t) * (p - t);
        }
        total / S::LEN as f32
    }
    fn correct(&self, _: &Tensor<S>, _: &Tensor<S>) -> Option<bool> {
        None
    }
    fn check_target(&self, target: &Tensor<S>) -> Result<(), TargetError> {
        match target.as_slice().iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(index) => Err(TargetError::NotFinite { index }),
        }
    }
}
