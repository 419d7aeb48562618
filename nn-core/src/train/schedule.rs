//! Learning-rate schedules for [`Trainer::schedule`](crate::Trainer::schedule): the rate of
//! each epoch from the optimizer's initial rate, set before the epoch runs.

use std::format;

use super::error::Error;

/// How the learning rate changes from epoch to epoch. The optimizer's learning rate when
/// `fit` starts is the initial rate `lr0`; epochs count from 1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Schedule {
    /// `lr0` throughout (the default).
    #[default]
    Constant,
    /// `lr0 * factor^floor((epoch - 1) / every)`: PyTorch `StepLR(step_size=every,
    /// gamma=factor)`, Keras `ExponentialDecay(decay_steps=every epochs, decay_rate=factor,
    /// staircase=True)`.
    Step {
        /// Epochs between decays (at least 1).
        every: usize,
        /// The factor (above 0).
        factor: f32,
    },
    /// Cosine annealing from `lr0` at epoch 1 to `min` at the last epoch:
    /// `min + (lr0 - min) * (1 + cos(pi * (epoch - 1) / (epochs - 1))) / 2`. PyTorch
    /// `CosineAnnealingLR(T_max=epochs - 1, eta_min=min)`, Keras `CosineDecay(alpha=min / lr0)`.
    Cosine {
        /// The final rate (at least 0, at most `lr0`).
        min: f32,
    },
    /// Multiplies the rate by `factor` when the monitored loss (validation loss, or training
    /// loss without a validation set) has not improved for `patience` epochs, never below
    /// `min`: PyTorch `ReduceLROnPlateau(factor, patience, min_lr=min)`, Keras
    /// `ReduceLROnPlateau(factor, patience, min_lr=min)`.
    ReduceOnPlateau {
        /// The factor (above 0, below 1).
        factor: f32,
        /// Epochs without improvement before a reduction.
        patience: usize,
        /// The smallest rate (at least 0).
        min: f32,
    },
}

impl Schedule {
    /// `Err` naming a parameter out of range for initial rate `lr0`.
    pub(crate) fn check(&self, lr0: f32) -> Result<(), Error> {
        let bad = |expected: &'static str, value: f32| {
            Err(Error::Setting {
                setting: "schedule",
                value: format!("{self:?} (with an initial learning rate of {lr0}): {value}"),
                expected,
            })
        };
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { every: 0, .. } => bad("a step of at least 1 epoch", 0.0),
            Schedule::Step { factor, .. } if !(factor > 0.0 && factor.is_finite()) => {
                bad("a factor above 0", factor)
            }
            Schedule::Cosine { min } if !(min >= 0.0 && min <= lr0) => {
                bad("a final rate from 0 to the initial rate", min)
            }
            Schedule::ReduceOnPlateau { factor, .. } if !(factor > 0.0 && factor < 1.0) => {
                bad("a factor above 0 and below 1", factor)
            }
            Schedule::ReduceOnPlateau { min, .. } if !(min >= 0.0 && min.is_finite()) => {
                bad("a smallest rate of at least 0", min)
            }
            _ => Ok(()),
        }
    }
}

/// A schedule in progress.
pub(crate) struct Scheduler {
    schedule: Schedule,
    lr0: f32,
    epochs: usize,
    lr: f32,
    best: f32,
    since_best: usize,
}

impl Scheduler {
    pub(crate) fn new(schedule: Schedule, lr0: f32, epochs: usize) -> Self {
        Scheduler {
            schedule,
            lr0,
            epochs,
            lr: lr0,
            best: f32::INFINITY,
            since_best: 0,
        }
    }

    /// The rate of `epoch` (1-based).
    pub(crate) fn rate(&self, epoch: usize) -> f32 {
        let e = (epoch - 1) as f64;
        match self.schedule {
            Schedule::Constant => self.lr0,
            Schedule::Step { every, factor } => {
                (self.lr0 as f64 * (factor as f64).powi((e as usize / every.max(1)) as i32)) as f32
            }
            Schedule::Cosine { min } => {
                let t = if self.epochs > 1 {
                    e / (self.epochs - 1) as f64
                } else {
                    0.0
                };
                let (min, lr0) = (min as f64, self.lr0 as f64);
                (min + (lr0 - min) * (1.0 + (core::f64::consts::PI * t).cos()) / 2.0) as f32
            }
            Schedule::ReduceOnPlateau { .. } => self.lr,
        }
    }

    /// Records the monitored loss after an epoch (for `ReduceOnPlateau`).
    pub(crate) fn observe(&mut self, loss: f32) {
        if let Schedule::ReduceOnPlateau {
            factor,
            patience,
            min,
        } = self.schedule
        {
            if loss < self.best {
                self.best = loss;
                self.since_best = 0;
            } else {
                self.since_best += 1;
                if self.since_best > patience {
                    self.lr = (self.lr * factor).max(min);
                    self.since_best = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_cosine_follow_their_formulas() {
        let s = Scheduler::new(
            Schedule::Step {
                every: 2,
                factor: 0.5,
            },
            0.1,
            6,
        );
        let got: std::vec::Vec<f32> = (1..=6).map(|e| s.rate(e)).collect();
        assert_eq!(got, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
        let s = Scheduler::new(Schedule::Cosine { min: 0.0 }, 1.0, 5);
        let got: std::vec::Vec<f32> = (1..=5).map(|e| s.rate(e)).collect();
        let want = [1.0, 0.853_553_4, 0.5, 0.146_446_6, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn reduce_on_plateau_waits_for_patience_then_reduces_down_to_min() {
        // PyTorch: reduces after `patience` bad epochs in a row, i.e. on the (patience + 1)th.
        let mut s = Scheduler::new(
            Schedule::ReduceOnPlateau {
                factor: 0.1,
                patience: 1,
                min: 0.002,
            },
            1.0,
            10,
        );
        let mut rates = std::vec::Vec::new();
        for loss in [1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.4, 0.7, 0.7, 0.7] {
            rates.push(s.rate(1));
            s.observe(loss);
        }
        let want = [1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.01, 0.002];
        for (r, w) in rates.iter().zip(want) {
            assert!((r - w).abs() <= 1e-6 * w, "{rates:?}");
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(Schedule::Step {
            every: 0,
            factor: 0.5
        }
        .check(0.1)
        .is_err());
        assert!(Schedule::Step {
            every: 1,
            factor: f32::NAN
        }
        .check(0.1)
        .is_err());
        assert!(Schedule::Cosine { min: 0.2 }.check(0.1).is_err());
        assert!(Schedule::Cosine { min: -0.1 }.check(0.1).is_err());
        let plateau = |factor| Schedule::ReduceOnPlateau {
            factor,
            patience: 2,
            min: 0.0,
        };
        assert!(plateau(1.0).check(0.1).is_err());
        assert!(plateau(0.5).check(0.1).is_ok());
    }
}
