//! Mini-batch training with validation, early stopping and a progress bar.

use std::format;
use std::string::String;
use std::vec::Vec;

use indicatif::{ProgressBar, ProgressStyle};

use super::checks::{Sample, SamplesFor, TargetsFor};
use super::data::Dataset;
use super::error::Error;
use crate::init::Rng;
use crate::loss::Loss;
use crate::network::Head;
use crate::network::{Input, Network};
use crate::optim::Optimizer;
use crate::tensor::{ShapeName, Tensor};
use crate::trainable::{zeroed_batch, Trainable};
use std::boxed::Box;

/// Loss and accuracy of a network on a data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction classified correctly (`None` for regression losses).
    pub accuracy: Option<f32>,
}

/// One epoch of training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's mini-batches (computed in training mode).
    pub train_loss: f32,
    /// Training accuracy over the epoch's mini-batches.
    pub train_accuracy: Option<f32>,
    /// Validation metrics after the epoch, if a validation set was given.
    pub validation: Option<Metrics>,
}

/// What [`Trainer::fit`] returns: every epoch's figures and how training ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch (1-based) whose weights the network holds at the end, when early stopping
    /// restored the best validation loss.
    pub best_epoch: Option<usize>,
    /// Whether patience ran out before the last epoch.
    pub stopped_early: bool,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}

/// Trains a network with mini-batches of `B` samples.
///
/// ```no_run
/// # use nn_core::*;
/// # fn demo<N: Trainable>(net: &mut N, train: &Dataset<Input<N>, usize>, val: &Dataset<Input<N>, usize>)
/// # -> Result<(), Error> where CrossEntropy: Loss<N::OutputShape, Target = usize> {
/// let history = Trainer::new(Sgd::new(0.1), CrossEntropy)
///     .batch_size::<32>()
///     .epochs(50)
///     .patience(5)
///     .seed(7)
///     .fit(net, train, Some(val))?;
/// println!("final validation: {:?}", history.last().unwrap().validation);
/// # Ok(()) }
/// ```
///
/// Each epoch shuffles the training set with the seeded generator and runs ceil(n / B) steps;
/// the last, partial batch is completed with samples from the start of the epoch's order, so
/// every step sees exactly `B` samples. The same seed gives a bit-identical run.
#[derive(Debug, Clone)]
pub struct Trainer<O, L, const B: usize = 32> {
    optimizer: O,
    loss: L,
    epochs: usize,
    patience: Option<usize>,
    min_delta: f32,
    seed: u64,
    progress: bool,
}

impl<O: Optimizer, L> Trainer<O, L, 32> {
    /// A trainer with this optimizer and loss: batch 32, 10 epochs, seed 0, no early stopping,
    /// progress bar on.
    pub fn new(optimizer: O, loss: L) -> Self {
        Trainer {
            optimizer,
            loss,
            epochs: 10,
            patience: None,
            min_delta: 0.0,
            seed: 0,
            progress: true,
        }
    }
}

impl<O: Optimizer, L, const B: usize> Trainer<O, L, B> {
    /// Sets the mini-batch size (a const: the generated training code is specialized for it).
    ///
    /// The size must be at least 1: `batch_size::<0>()` does not compile (the error is reported
    /// when the function is instantiated, that is by `cargo build`, not by `cargo check`).
    pub fn batch_size<const NB: usize>(self) -> Trainer<O, L, NB> {
        const {
            assert!(
                NB > 0,
                "`Trainer::batch_size::<0>()`: the batch size must be at least 1 (a mini-batch of \
                 no samples has no gradient); use e.g. `batch_size::<32>()`"
            )
        };
        let Trainer {
            optimizer,
            loss,
            epochs,
            patience,
            min_delta,
            seed,
            progress,
        } = self;
        Trainer {
            optimizer,
            loss,
            epochs,
            patience,
            min_delta,
            seed,
            progress,
        }
    }
    /// Sets the number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Stops when the validation loss has not improved for `patience` epochs, and restores the
    /// weights of the best epoch. Needs a validation set.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }
    /// The smallest decrease of validation loss that counts as an improvement (default 0).
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta;
        self
    }
    /// Seeds the shuffling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Shows (default) or hides the progress bar. It is also hidden when stderr is not a terminal.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
    /// The optimizer (for example to change the learning rate between calls to `fit`).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Trains `net` on `train`, evaluating on `validation` after each epoch.
    ///
    /// The data sets are `Dataset<Input<N>, T>`, with the loss's targets `T` (`usize` class labels
    /// for the cross-entropy losses, `Output<N>` tensors for [`Mse`](crate::Mse)). Checked at
    /// compile time, with a message naming the network, the loss and both shapes: the samples
    /// are the network's inputs ([`SamplesFor`]), the loss fits the network's output
    /// ([`LossFor`](crate::LossFor): [`BinaryCrossEntropy`](crate::BinaryCrossEntropy) needs one
    /// output) and the targets are the loss's ([`TargetsFor`]).
    ///
    /// `Err` if a data set is empty, a target does not suit the loss, the loss does not go with
    /// the network's final activation, or the loss becomes NaN or infinite (naming the epoch
    /// and batch).
    pub fn fit<N, X, Y>(
        &mut self,
        net: &mut N,
        train: &Dataset<X, Y>,
        validation: Option<&Dataset<X, Y>>,
    ) -> Result<History, Error>
    where
        N: Trainable,
        X: Sample,
        X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
        Y: TargetsFor<L, N, <N::OutputShape as ShapeName>::Array>,
    {
        let Trainer {
            optimizer,
            loss,
            epochs,
            patience,
            min_delta,
            seed,
            progress,
        } = self;
        let settings = Settings {
            epochs: *epochs,
            patience: *patience,
            min_delta: *min_delta,
            seed: *seed,
            progress: *progress,
        };
        run::<N, Y::Loss, O, B>(
            &settings,
            optimizer,
            Y::loss(loss),
            net,
            data::<N, X, Y>(train),
            validation.map(data::<N, X, Y>),
        )
    }
}

/// The settings of a [`Trainer`] besides its optimizer and loss.
struct Settings {
    epochs: usize,
    patience: Option<usize>,
    min_delta: f32,
    seed: u64,
    progress: bool,
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
fn run<N, L, O, const B: usize>(
    settings: &Settings,
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
{
    check_pairing::<N, L>()?;
    check_data(loss, train, "the training set")?;
    if let Some(v) = validation {
        check_data(loss, v, "the validation set")?;
    }
    if settings.patience.is_some() && validation.is_none() {
        return Err(Error::Config(String::from(
            "early stopping (patience) needs a validation set",
        )));
    }
    let on_logits = L::ABSORBS != Head::None;
    let n = train.x.len();
    let steps = n.div_ceil(B);
    let mut rng = Rng::new(settings.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut history = History::default();
    let mut best: Option<(f32, usize, N)> = None;
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

    for epoch in 1..=settings.epochs {
        rng.shuffle(&mut order);
        let (mut loss_sum, mut correct, mut counted) = (0.0f64, 0usize, 0usize);
        for step in 0..steps {
            let idx = (0..B).map(|k| order[(step * B + k) % n]);
            for (slot, i) in x.iter_mut().zip(idx.clone()) {
                slot.clone_from(&train.x[i]);
            }
            targets.clear();
            targets.extend(idx.map(|i| train.y[i].clone()));
            net.forward_train_into(&x, &mut cache);
            let pred = if on_logits {
                N::cache_logits(&cache)
            } else {
                N::cache_output(&cache)
            };
            let step_loss = loss.loss_grad(&pred[..], &targets, &mut grad[..]);
            if !step_loss.is_finite() {
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
            optimizer.step(net, &grads);
        }
        let train_loss = (loss_sum / counted as f64) as f32;
        let train_accuracy =
            is_classifier::<N, L>(loss, train).then(|| correct as f32 / counted as f32);
        let val = match validation {
            Some(v) => {
                let m = evaluate_data(net, loss, v);
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
            train_loss,
            train_accuracy,
            validation: val,
        });
        bar.set_message(epoch_message(train_loss, train_accuracy, val));
        bar.inc(1);

        if let (Some(patience), Some(m)) = (settings.patience, val) {
            let improved = best
                .as_ref()
                .is_none_or(|(b, _, _)| m.loss < *b - settings.min_delta);
            if improved {
                best = Some((m.loss, epoch, net.clone()));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= patience {
                    history.stopped_early = epoch < settings.epochs;
                    break;
                }
            }
        }
    }
    if let Some((_, epoch, weights)) = best {
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

fn is_classifier<N: Network, L: Loss<N::OutputShape>>(
    loss: &L,
    data: Data<'_, N, L::Target>,
) -> bool {
    match (data.x.first(), data.y.first()) {
        (Some(x), Some(y)) => {
            loss.correct(&Tensor::zeros(), y).is_some() && x.as_slice().len() == N::INPUT_LEN
        }
        _ => false,
    }
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

fn check_data<N: Network, L: Loss<N::OutputShape>>(
    loss: &L,
    data: Data<'_, N, L::Target>,
    what: &str,
) -> Result<(), Error> {
    if data.x.is_empty() {
        return Err(Error::Empty(String::from(what)));
    }
    if data.x.len() != data.y.len() {
        return Err(Error::Config(format!(
            "{what} has {} inputs but {} targets",
            data.x.len(),
            data.y.len()
        )));
    }
    for (index, t) in data.y.iter().enumerate() {
        loss.check_target(t)
            .map_err(|reason| Error::Target { index, reason })?;
    }
    Ok(())
}

/// Mean loss and accuracy of `net` on `data`, in inference mode ([`Network::forward`] or, for
/// losses on logits, [`Network::forward_logits`]).
///
/// `data` is a `Dataset<Input<N>, T>` with the loss's targets `T`, checked at compile time as
/// in [`Trainer::fit`].
pub fn evaluate<N, L, X, Y>(net: &N, loss: &L, data: &Dataset<X, Y>) -> Metrics
where
    N: Network,
    X: Sample,
    X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
    Y: TargetsFor<L, N, <N::OutputShape as ShapeName>::Array>,
{
    evaluate_data(net, Y::loss(loss), self::data::<N, X, Y>(data))
}

/// [`evaluate`] after its checks.
fn evaluate_data<N, L>(net: &N, loss: &L, data: Data<'_, N, L::Target>) -> Metrics
where
    N: Network,
    L: Loss<N::OutputShape>,
{
    let on_logits = L::ABSORBS != Head::None;
    let (mut total, mut correct, mut classified) = (0.0f64, 0usize, false);
    for (x, y) in data.x.iter().zip(data.y) {
        let p = if on_logits {
            net.forward_logits(x)
        } else {
            net.forward(x)
        };
        total += loss.sample_loss(&p, y) as f64;
        if let Some(ok) = loss.correct(&p, y) {
            classified = true;
            correct += ok as usize;
        }
    }
    let n = data.x.len().max(1) as f64;
    Metrics {
        loss: (total / n) as f32,
        accuracy: classified.then(|| (correct as f64 / n) as f32),
    }
}

/// Fraction of samples whose predicted class (argmax of the output; for one output, output > 0.5
/// after a sigmoid or > 0 otherwise) equals the label.
///
/// `data` is a `Dataset<Input<N>, usize>`, checked at compile time as in [`Trainer::fit`].
pub fn accuracy<N, X>(net: &N, data: &Dataset<X, usize>) -> f32
where
    N: Network,
    X: Sample,
    X::Name: SamplesFor<N, <N::InputShape as ShapeName>::Array, Sample = X>,
{
    let data = self::data::<N, X, usize>(data);
    let mut correct = 0;
    for (x, &y) in data.x.iter().zip(data.y) {
        let out = net.forward_logits(x);
        let class = if N::OUTPUT_LEN == 1 {
            (out[0] > 0.0) as usize
        } else {
            out.argmax()
        };
        correct += (class == y) as usize;
    }
    correct as f32 / data.x.len().max(1) as f32
}
