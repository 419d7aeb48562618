//! Mini-batch training with validation (given or held out), early stopping, checkpoints,
//! learning-rate schedules and a progress bar.

use std::format;
use std::path::PathBuf;
use std::string::{String, ToString};
use std::vec::Vec;

use indicatif::{ProgressBar, ProgressStyle};

use super::checks::{Sample, SamplesFor, TargetsFor};
use super::data::split::{check_fraction, Holdout};
use super::data::Dataset;
use super::error::Error;
use super::history::{EpochRecord, History};
use super::io::{safetensors_bytes, StateDict};
use super::metrics::{check_targets, evaluate_slices, Metrics};
use super::qat::{FakeQuantize, Qat};
use super::schedule::{Schedule, Scheduler};
use crate::init::Rng;
use crate::layers::{FieldInfo, Layout};
use crate::loss::Loss;
use crate::network::Head;
use crate::network::{Input, Network};
use crate::optim::Optimizer;
use crate::tensor::ShapeName;
use crate::trainable::{zeroed_batch, Trainable};
use std::boxed::Box;
use std::sync::Arc;

/// Trains a network with mini-batches of `B` samples.
///
/// ```no_run
/// # use nn_core::*;
/// # fn demo<N: Trainable>(net: &mut N, train: &Dataset<Input<N>, usize>)
/// # -> Result<(), Error> where CrossEntropy: Loss<N::OutputShape, Target = usize> {
/// let history = Trainer::new(Adam::new(1e-3), CrossEntropy)
///     .batch_size::<32>()
///     .epochs(50)
///     .validation_fraction(0.2) // a stratified fifth of `train` held out
///     .patience(5)
///     .schedule(Schedule::Cosine { min: 1e-5 })
///     .checkpoint("best.safetensors")
///     .seed(7)
///     .fit(net, train, None)?;
/// history.write_csv("history.csv")?;
/// # Ok(()) }
/// ```
///
/// Each epoch shuffles the training set with the seeded generator and runs ceil(n / B) steps;
/// the last, partial batch is completed with samples from the start of the epoch's order, so
/// every step sees exactly `B` samples. The same seed gives a bit-identical run.
#[derive(Debug, Clone)]
pub struct Trainer<O, L, const B: usize = 32, C = NoCheckpoint> {
    optimizer: O,
    loss: L,
    settings: Settings,
    checkpoint: C,
}

/// Where [`Trainer::fit`] writes the best weights: nowhere ([`NoCheckpoint`], the default) or a
/// file ([`Checkpoint`], set by [`Trainer::checkpoint`]). A type rather than an `Option`, so that
/// a trainer without a checkpoint does not compile a weight-file writer for every network it
/// trains (for ResNet-20 that writer is 10 s of release build).
pub trait CheckpointWriter {
    /// Writes `net`'s weights; `Ok(false)` when there is nowhere to write.
    fn write<N: Network + StateDict>(&self, net: &N) -> Result<bool, Error>;
}

/// No checkpoint (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheckpoint;

impl CheckpointWriter for NoCheckpoint {
    fn write<N: Network + StateDict>(&self, _: &N) -> Result<bool, Error> {
        Ok(false)
    }
}

/// A checkpoint file: safetensors, PyTorch names and layouts.
#[derive(Debug, Clone)]
pub struct Checkpoint(pub PathBuf);

impl CheckpointWriter for Checkpoint {
    fn write<N: Network + StateDict>(&self, net: &N) -> Result<bool, Error> {
        let mut tensors = Vec::new();
        net.export("", Layout::PyTorch, FieldInfo::default(), &mut tensors);
        let bytes = safetensors_bytes(&tensors)?;
        std::fs::write(&self.0, bytes).map_err(|source| Error::Io {
            path: self.0.display().to_string(),
            source,
        })?;
        Ok(true)
    }
}

/// The settings of a [`Trainer`] besides its optimizer and loss.
#[derive(Debug, Clone)]
struct Settings {
    epochs: usize,
    patience: Option<usize>,
    min_delta: f32,
    seed: u64,
    progress: bool,
    validation_fraction: Option<f32>,
    schedule: Schedule,
    quantizer: Option<Arc<dyn FakeQuantize>>,
}

impl<O: Optimizer, L> Trainer<O, L, 32, NoCheckpoint> {
    /// A trainer with this optimizer and loss: batch 32, 10 epochs, seed 0, no early stopping,
    /// constant learning rate, progress bar on.
    pub fn new(optimizer: O, loss: L) -> Self {
        Trainer {
            optimizer,
            loss,
            settings: Settings {
                epochs: 10,
                patience: None,
                min_delta: 0.0,
                seed: 0,
                progress: true,
                validation_fraction: None,
                schedule: Schedule::Constant,
                quantizer: None,
            },
            checkpoint: NoCheckpoint,
        }
    }
}

impl<O: Optimizer, L, const B: usize, C: CheckpointWriter> Trainer<O, L, B, C> {
    /// Sets the mini-batch size (a const: the generated training code is specialized for it).
    ///
    /// The size must be at least 1: `batch_size::<0>()` does not compile (the error is reported
    /// when the function is instantiated, that is by `cargo build`, not by `cargo check`).
    pub fn batch_size<const NB: usize>(self) -> Trainer<O, L, NB, C> {
        const {
            assert!(
                NB > 0,
                "`Trainer::batch_size::<0>()`: the batch size must be at least 1 (a mini-batch of \
                 no samples has no gradient); use e.g. `batch_size::<32>()`"
            )
        };
        Trainer {
            optimizer: self.optimizer,
            loss: self.loss,
            settings: self.settings,
            checkpoint: self.checkpoint,
        }
    }
    /// Sets the number of epochs (at least 1).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.settings.epochs = epochs;
        self
    }
    /// Stops when the validation loss has not improved for `patience` epochs, and restores the
    /// weights of the best epoch. Needs a validation set (given to `fit` or held out with
    /// [`Trainer::validation_fraction`]). Keras `EarlyStopping(patience,
    /// restore_best_weights=True)`.
    pub fn patience(mut self, patience: usize) -> Self {
        self.settings.patience = Some(patience);
        self
    }
    /// The smallest decrease of the monitored loss that counts as an improvement (default 0;
    /// finite and at least 0).
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.settings.min_delta = min_delta;
        self
    }
    /// Seeds the shuffling (and the held-out part of [`Trainer::validation_fraction`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }
    /// Shows (default) or hides the progress bar. It is also hidden when stderr is not a terminal.
    pub fn progress(mut self, on: bool) -> Self {
        self.settings.progress = on;
        self
    }
    /// Holds out `fraction` of the training set (strictly between 0 and 1) as the validation
    /// set, when `fit` is given none: stratified by class for class labels, shuffled for
    /// regression targets, seeded by [`Trainer::seed`]. Keras `validation_split` (which takes
    /// the last samples instead).
    pub fn validation_fraction(mut self, fraction: f32) -> Self {
        self.settings.validation_fraction = Some(fraction);
        self
    }
    /// Writes the weights (safetensors, PyTorch names) to `path` after every epoch that
    /// improves the monitored loss (validation loss, or training loss without a validation
    /// set), so the file holds the best epoch's weights even if training is interrupted.
    /// Keras `ModelCheckpoint(save_best_only=True)`.
    pub fn checkpoint(self, path: impl Into<PathBuf>) -> Trainer<O, L, B, Checkpoint> {
        Trainer {
            optimizer: self.optimizer,
            loss: self.loss,
            settings: self.settings,
            checkpoint: Checkpoint(path.into()),
        }
    }
    /// Sets the learning-rate schedule (default [`Schedule::Constant`]); the optimizer's rate
    /// when `fit` starts is the initial rate.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.settings.schedule = schedule;
        self
    }
    /// Quantization-aware training: every step runs forward and backward with the parameters
    /// quantized by `quantizer` and applies the gradient to the f32 master parameters (the
    /// straight-through estimator); validation evaluates the quantized parameters, so early
    /// stopping and the checkpoint keep the epoch whose quantized network validates best, and
    /// after `fit` the network holds that epoch's master parameters (`to_fixed()` or
    /// `quantize_int8` quantize them as training did). See [`FakeQuantize`](crate::FakeQuantize)
    /// and [`FakeQuant`](crate::FakeQuant): weights and biases are quantized, activations are
    /// not.
    ///
    /// ```no_run
    /// # use nn_core::*;
    /// # fn demo<N: Trainable>(net: &mut N, train: &Dataset<Input<N>, usize>)
    /// # -> Result<(), Error> where CrossEntropy: Loss<N::OutputShape, Target = usize> {
    /// let spec = fixed_point::Spec::parse("ap_fixed<6,2,AP_RND_CONV,AP_SAT>").unwrap();
    /// Trainer::new(Adam::new(1e-3), CrossEntropy)
    ///     .quantization_aware(FakeQuant::fixed(spec)) // or FakeQuant::int8()
    ///     .epochs(5)
    ///     .fit(net, train, None)?;
    /// # Ok(()) }
    /// ```
    pub fn quantization_aware(mut self, quantizer: impl FakeQuantize + 'static) -> Self {
        self.settings.quantizer = Some(Arc::new(quantizer));
        self
    }
    /// The optimizer (for example to change the learning rate between calls to `fit`).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Trains `net` on `train`, evaluating on `validation` (or on the part held out by
    /// [`Trainer::validation_fraction`]) after each epoch.
    ///
    /// The data sets are `Dataset<Input<N>, T>`, with the loss's targets `T` (`usize` class labels
    /// for the cross-entropy losses, `Output<N>` tensors for [`Mse`](crate::Mse)). Checked at
    /// compile time, with a message naming the network, the loss and both shapes: the samples
    /// are the network's inputs ([`SamplesFor`]), the loss fits the network's output
    /// ([`LossFor`](crate::LossFor): [`BinaryCrossEntropy`](crate::BinaryCrossEntropy) needs one
    /// output) and the targets are the loss's ([`TargetsFor`]).
    ///
    /// `Err` before training if a data set is empty, a target does not suit the loss (naming
    /// its row of the file), the loss does not go with the network's final activation, or a
    /// setting is out of range (a learning rate that is not positive and finite, a fraction
    /// outside (0, 1), early stopping without validation); `Err` during training if the loss
    /// becomes NaN or infinite (naming the epoch and batch) or the checkpoint cannot be written.
    pub fn fit<N, X, Y>(
        &mut self,
        net: &mut N,
        train: &Dataset<X, Y>,
        validation: Option<&Dataset<X, Y>>,
    ) -> Result<History, Error>
    where
        N: Trainable,
        X: Sample + Clone,
        X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
        Y: TargetsFor<L, N, <N::OutputShape as ShapeName>::Array>,
        Y: Holdout,
    {
        let loss = Y::loss(&self.loss);
        let settings = &self.settings;
        self.optimizer.check().map_err(|e| Error::Setting {
            setting: e.setting,
            value: format!("{}", e.value),
            expected: e.expected,
        })?;
        settings.check(self.optimizer.learning_rate(), validation.is_some())?;
        check_targets(loss, train, "the training set")?;
        let held_out;
        let (train, validation) = match (validation, settings.validation_fraction) {
            (Some(v), _) => {
                check_targets(loss, v, "the validation set")?;
                (train, Some(v))
            }
            (None, Some(fraction)) => {
                let parts = Y::holdout(train, fraction, settings.seed)?;
                held_out = (train.pick(&parts.train), train.pick(&parts.test));
                (&held_out.0, Some(&held_out.1))
            }
            (None, None) => (train, None),
        };
        run::<N, Y::Loss, O, C, B>(
            settings,
            &self.checkpoint,
            &mut self.optimizer,
            loss,
            net,
            data::<N, X, Y>(train),
            validation.map(data::<N, X, Y>),
        )
    }
}

impl Settings {
    /// `Err` naming the first setting out of range.
    fn check(&self, lr0: f32, validation_given: bool) -> Result<(), Error> {
        if self.epochs == 0 {
            return Err(Error::Setting {
                setting: "epochs",
                value: String::from("0"),
                expected: "at least 1",
            });
        }
        if !(self.min_delta >= 0.0 && self.min_delta.is_finite()) {
            return Err(Error::Setting {
                setting: "min_delta",
                value: format!("{}", self.min_delta),
                expected: "a finite number of at least 0",
            });
        }
        if let Some(f) = self.validation_fraction {
            check_fraction("validation_fraction", f)?;
            if validation_given {
                return Err(Error::Config(String::from(
                    "fit was given a validation set and the trainer holds out a validation \
                     fraction: give one or the other",
                )));
            }
        }
        if self.patience.is_some() && !validation_given && self.validation_fraction.is_none() {
            return Err(Error::Config(String::from(
                "early stopping (patience) needs a validation set: give one to fit or hold one \
                 out with validation_fraction",
            )));
        }
        self.schedule.check(lr0)
    }
}

/// A data set as the network's inputs and the loss's targets.
struct Data<'a, N: Network, T> {
    x: &'a [Input<N>],
    y: &'a [T],
}

impl<N: Network, T> Clone for Data<'_, N, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<N: Network, T> Copy for Data<'_, N, T> {}

/// The samples of `data` as inputs of `N` (the same slice; [`SamplesFor`] checks the type), and
/// its targets.
fn data<N, X, Y>(data: &Dataset<X, Y>) -> Data<'_, N, Y>
where
    N: Network,
    X: Sample,
    X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
{
    Data {
        x: <X::Name as SamplesFor<N, _>>::inputs(&data.x),
        y: &data.y,
    }
}

/// [`Trainer::fit`] after its checks.
#[allow(clippy::too_many_arguments)]
fn run<N, L, O, C, const B: usize>(
    settings: &Settings,
    checkpoint: &C,
    optimizer: &mut O,
    loss: &L,
    net: &mut N,
    train: Data<'_, N, L::Target>,
    validation: Option<Data<'_, N, L::Target>>,
) -> Result<History, Error>
where
    N: Trainable,
    L: Loss<N::OutputShape>,
    O: Optimizer,
    C: CheckpointWriter,
{
    check_pairing::<N, L>()?;
    let on_logits = L::ABSORBS != Head::None;
    let n = train.x.len();
    let steps = n.div_ceil(B);
    let mut rng = Rng::new(settings.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut history = History::default();
    let mut scheduler = Scheduler::new(
        settings.schedule,
        optimizer.learning_rate(),
        settings.epochs,
    );
    // The best monitored loss so far; with early stopping, the best weights too.
    let mut best_loss: Option<f32> = None;
    let mut best_net: Option<(usize, N)> = None;
    let mut since_best = 0;
    let bar = if settings.progress {
        ProgressBar::new(settings.epochs as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} epochs {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(N::NAME);
    let mut grad = zeroed_batch::<N::OutputShape, B>();
    let mut targets: Vec<L::Target> = Vec::with_capacity(B);
    // One set of buffers for every step: no allocation (and page faults) per step.
    let mut x = zeroed_batch::<N::InputShape, B>();
    let mut cache = N::new_cache::<B>();
    let mut grads: Box<N::Gradients> = Default::default();
    // Quantization-aware training: the master parameters while the network holds quantized ones.
    let mut qat = settings.quantizer.as_deref().map(|q| Qat::new(q, net));

    for epoch in 1..=settings.epochs {
        let learning_rate = scheduler.rate(epoch);
        optimizer.set_learning_rate(learning_rate);
        rng.shuffle(&mut order);
        let (mut loss_sum, mut correct, mut counted) = (0.0f64, 0usize, 0usize);
        let mut classified = false;
        for step in 0..steps {
            let idx = (0..B).map(|k| order[(step * B + k) % n]);
            for (slot, i) in x.iter_mut().zip(idx.clone()) {
                slot.clone_from(&train.x[i]);
            }
            targets.clear();
            targets.extend(idx.map(|i| train.y[i].clone()));
            if let Some(q) = &mut qat {
                q.quantize(net);
            }
            net.forward_train_into(&x, &mut cache);
            let pred = if on_logits {
                N::cache_logits(&cache)
            } else {
                N::cache_output(&cache)
            };
            let step_loss = loss.loss_grad(&pred[..], &targets, &mut grad[..]);
            if !step_loss.is_finite() {
                if let Some(q) = &mut qat {
                    q.restore(net);
                }
                bar.abandon();
                return Err(Error::NonFinite {
                    epoch,
                    batch: step + 1,
                    loss: step_loss,
                });
            }
            let real = B.min(n - step * B);
            for (p, t) in pred.iter().zip(&targets).take(real) {
                if let Some(ok) = loss.correct(p, t) {
                    classified = true;
                    correct += ok as usize;
                }
            }
            counted += real;
            loss_sum += step_loss as f64 * real as f64;
            if on_logits {
                net.backward_logits_into(&mut cache, &grad, &mut grads);
            } else {
                net.backward_into(&mut cache, &grad, &mut grads);
            }
            if let Some(q) = &mut qat {
                q.restore(net); // the straight-through estimator: the gradient goes to the master
            }
            optimizer.step(net, &grads);
        }
        let train_loss = (loss_sum / counted as f64) as f32;
        let train_accuracy = classified.then(|| correct as f32 / counted as f32);
        let val = match validation {
            Some(v) => {
                if let Some(q) = &mut qat {
                    q.quantize(net);
                }
                let m = evaluate_slices(net, loss, v.x, v.y, false).metrics();
                if let Some(q) = &mut qat {
                    q.restore(net);
                }
                if !m.loss.is_finite() {
                    bar.abandon();
                    return Err(Error::NonFinite {
                        epoch,
                        batch: 0,
                        loss: m.loss,
                    });
                }
                Some(m)
            }
            None => None,
        };
        history.epochs.push(EpochRecord {
            epoch,
            learning_rate,
            train_loss,
            train_accuracy,
            validation: val,
        });
        bar.set_message(epoch_message(train_loss, train_accuracy, val));
        bar.inc(1);

        let monitored = val.map_or(train_loss, |m| m.loss);
        scheduler.observe(monitored);
        let improved = best_loss.is_none_or(|b| monitored < b - settings.min_delta);
        if improved {
            best_loss = Some(monitored);
            since_best = 0;
            if checkpoint.write(net)? {
                history.checkpoint_epoch = Some(epoch);
            }
            if settings.patience.is_some() {
                best_net = Some((epoch, net.clone()));
            }
        } else if let Some(patience) = settings.patience {
            since_best += 1;
            if since_best >= patience {
                history.stopped_early = epoch < settings.epochs;
                break;
            }
        }
    }
    if let Some((epoch, weights)) = best_net {
        *net = weights;
        history.best_epoch = Some(epoch);
    }
    bar.finish();
    Ok(history)
}

fn epoch_message(loss: f32, acc: Option<f32>, val: Option<Metrics>) -> String {
    let mut s = format!("loss {loss:.4}");
    if let Some(a) = acc {
        s += &format!(" acc {a:.4}");
    }
    if let Some(v) = val {
        s += &format!(" | val loss {:.4}", v.loss);
        if let Some(a) = v.accuracy {
            s += &format!(" acc {a:.4}");
        }
    }
    s
}

fn check_pairing<N: Network, L: Loss<N::OutputShape>>() -> Result<(), Error> {
    match (L::ABSORBS, N::HEAD) {
        (_, Head::None) => Ok(()),
        (a, h) if a == h => Ok(()),
        (Head::None, _) => Ok(()),
        (a, h) => Err(Error::Config(format!(
            "the {} loss works on the logits before a final {:?}, but network `{}` ends in {:?}; \
             end the network with {:?} or with no activation",
            L::NAME,
            a,
            N::NAME,
            h,
            a
        ))),
    }
}
