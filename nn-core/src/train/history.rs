//! The record of a training run: one [`EpochRecord`] per epoch, written as CSV by
//! [`History::write_csv`] (Keras `CSVLogger`).

use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use super::error::Error;
use super::metrics::Metrics;

/// One epoch of training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The learning rate the epoch ran with (after the trainer's schedule).
    pub learning_rate: f32,
    /// Mean training loss over the epoch's mini-batches (computed in training mode).
    pub train_loss: f32,
    /// Training accuracy over the epoch's mini-batches.
    pub train_accuracy: Option<f32>,
    /// Validation metrics after the epoch, if a validation set was given or held out.
    pub validation: Option<Metrics>,
}

/// What [`Trainer::fit`](crate::Trainer::fit) returns: every epoch's figures and how training
/// ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch (1-based) whose weights the network holds at the end, when early stopping
    /// restored the best validation loss.
    pub best_epoch: Option<usize>,
    /// Whether patience ran out before the last epoch.
    pub stopped_early: bool,
    /// The epoch whose weights the checkpoint file holds, when the trainer wrote one.
    pub checkpoint_epoch: Option<usize>,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The history as CSV text with a header row:
    /// `epoch,learning_rate,train_loss,train_accuracy,val_loss,val_accuracy`; a figure that was
    /// not measured (accuracy of a regression, validation without a validation set) is empty.
    /// Numbers are written so that they read back as the same `f32`.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("epoch,learning_rate,train_loss,train_accuracy,val_loss,val_accuracy\n");
        let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
        for e in &self.epochs {
            let val = e.validation;
            let fields = [
                e.epoch.to_string(),
                e.learning_rate.to_string(),
                e.train_loss.to_string(),
                opt(e.train_accuracy),
                opt(val.map(|m| m.loss)),
                opt(val.and_then(|m| m.accuracy)),
            ];
            out += &fields.join(",");
            out.push('\n');
        }
        out
    }

    /// Writes [`History::to_csv`] to `path`.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.to_csv()).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    }
}
