//! Per-feature standardization of inputs or regression targets, fitted on a training split,
//! inverted for predictions, and saved next to the weights.

use std::collections::HashMap;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use super::Dataset;
use crate::tensor::{Shape, Tensor};
use crate::train::error::Error;
use crate::train::io::{read_file, safetensors_bytes_with, NamedTensor, Source};

/// Per-value standardization `(x - mean) / std` of tensors of shape `S`: a network's inputs
/// ([`Standardizer::fit`]) or its regression targets ([`Standardizer::fit_targets`]), fitted on
/// a training split only and then applied to every split; [`Standardizer::invert`] takes
/// predictions back to the targets' units. Values with zero spread are only centred (std taken
/// as 1). scikit-learn `StandardScaler` (population standard deviation).
///
/// Saved as a small safetensors file (tensors `mean` and `std`, shape `[S::LEN]`) with
/// [`Standardizer::save`]; [`Standardizer::load`] checks the length against `S`.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<S: Shape> {
    /// Mean of each value on the fitted data.
    pub mean: Tensor<S>,
    /// Standard deviation of each value on the fitted data (1 where it was 0).
    pub std: Tensor<S>,
}

impl<S: Shape> Standardizer<S> {
    /// Fits on the inputs of `data` (accumulated in f64). `Err` if it is empty.
    pub fn fit<Y>(data: &Dataset<Tensor<S>, Y>) -> Result<Self, Error> {
        Self::fit_tensors(&data.x, "the data set given to Standardizer::fit")
    }

    /// Fits on the regression targets of `data`. `Err` if it is empty.
    pub fn fit_targets<X>(data: &Dataset<X, Tensor<S>>) -> Result<Self, Error> {
        Self::fit_tensors(&data.y, "the data set given to Standardizer::fit_targets")
    }

    /// Fits on `values`; `what` names them in errors. `Err` if there are none or a statistic is
    /// not finite (a NaN or infinite value, or values near `f32::MAX`).
    pub fn fit_tensors(values: &[Tensor<S>], what: &str) -> Result<Self, Error> {
        if values.is_empty() {
            return Err(Error::Empty(String::from(what)));
        }
        let n = values.len() as f64;
        let mut mean = std::vec![0.0f64; S::LEN];
        for x in values {
            for (m, &v) in mean.iter_mut().zip(x.as_slice()) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = std::vec![0.0f64; S::LEN];
        for x in values {
            for ((s, &v), &m) in var.iter_mut().zip(x.as_slice()).zip(&mean) {
                *s += (v as f64 - m) * (v as f64 - m);
            }
        }
        let mut out = Standardizer {
            mean: Tensor::zeros(),
            std: Tensor::zeros(),
        };
        for i in 0..S::LEN {
            let sd = (var[i] / n).sqrt();
            out.mean[i] = mean[i] as f32;
            out.std[i] = if sd > 1e-12 { sd as f32 } else { 1.0 };
        }
        out.check(what)?;
        Ok(out)
    }

    /// `Err` naming the first value whose mean or standard deviation is not finite and > 0.
    fn check(&self, what: &str) -> Result<(), Error> {
        for i in 0..S::LEN {
            let (m, s) = (self.mean[i], self.std[i]);
            if !m.is_finite() || !s.is_finite() || s <= 0.0 {
                return Err(Error::Config(format!(
                    "{what}: value {i} has mean {m} and standard deviation {s}; both must be \
                     finite and the deviation positive"
                )));
            }
        }
        Ok(())
    }

    /// Standardizes one tensor in place: `(x - mean) / std`.
    pub fn apply(&self, x: &mut Tensor<S>) {
        for ((v, m), s) in x
            .as_mut_slice()
            .iter_mut()
            .zip(self.mean.as_slice())
            .zip(self.std.as_slice())
        {
            *v = (*v - m) / s;
        }
    }

    /// Undoes [`Standardizer::apply`] in place: `x * std + mean` (a prediction in the targets'
    /// units). scikit-learn `inverse_transform`.
    pub fn invert(&self, x: &mut Tensor<S>) {
        for ((v, m), s) in x
            .as_mut_slice()
            .iter_mut()
            .zip(self.mean.as_slice())
            .zip(self.std.as_slice())
        {
            *v = *v * s + m;
        }
    }

    /// [`Standardizer::invert`] on every tensor of `values` (predictions of a network trained
    /// on standardized targets).
    pub fn inverse_transform(&self, values: &mut [Tensor<S>]) {
        values.iter_mut().for_each(|v| self.invert(v));
    }

    /// Standardizes every input of a data set in place.
    pub fn transform<Y>(&self, data: &mut Dataset<Tensor<S>, Y>) {
        data.x.iter_mut().for_each(|x| self.apply(x));
    }

    /// Standardizes every regression target of a data set in place.
    pub fn transform_targets<X>(&self, data: &mut Dataset<X, Tensor<S>>) {
        data.y.iter_mut().for_each(|y| self.apply(y));
    }

    /// The scaler as safetensors bytes: tensors `mean` and `std` of shape `[S::LEN]`, and the
    /// metadata `format: nn.Standardizer`.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, Error> {
        let tensor = |name: &str, t: &Tensor<S>| NamedTensor {
            name: name.to_string(),
            shape: std::vec![S::LEN],
            data: t.as_slice().to_vec(),
        };
        let mut meta = HashMap::new();
        meta.insert(String::from("format"), String::from(FORMAT));
        safetensors_bytes_with(
            &[tensor("mean", &self.mean), tensor("std", &self.std)],
            Some(meta),
        )
    }

    /// Writes the scaler to `path` (see [`Standardizer::to_safetensors_bytes`]); the values
    /// round-trip bit for bit.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let bytes = self.to_safetensors_bytes()?;
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a scaler written by [`Standardizer::save`]. `Err` names the file and what is wrong:
    /// not a safetensors file, not a scaler, a tensor missing, of another length than `S`'s
    /// `S::LEN` values, or with a value that is not finite (or a deviation that is not positive).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let (bytes, name) = read_file(path.as_ref())?;
        Self::from_safetensors_bytes(&bytes, &name)
    }

    /// Reads a scaler from bytes written by [`Standardizer::to_safetensors_bytes`]; `name`
    /// names them in errors.
    pub fn from_safetensors_bytes(bytes: &[u8], name: &str) -> Result<Self, Error> {
        let mut src = Source::new(name, bytes)?;
        if src.metadata("format") != Some(FORMAT) {
            return Err(Error::WeightFile {
                path: name.to_string(),
                message: format!(
                    "not a scaler written by Standardizer::save (its metadata has no `format: {FORMAT}`)"
                ),
            });
        }
        let mut out = Standardizer {
            mean: Tensor::zeros(),
            std: Tensor::zeros(),
        };
        out.mean
            .as_mut_slice()
            .copy_from_slice(&src.take("mean", &[S::LEN])?);
        out.std
            .as_mut_slice()
            .copy_from_slice(&src.take("std", &[S::LEN])?);
        src.finish()?;
        out.check(name)?;
        Ok(out)
    }
}

/// The `format` metadata of a saved [`Standardizer`].
const FORMAT: &str = "nn.Standardizer";
