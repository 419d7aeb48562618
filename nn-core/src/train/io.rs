//! Weights on disk: safetensors files with PyTorch `state_dict` names and layouts (or Keras
//! layouts), checked tensor by tensor.
//!
//! | layer | PyTorch layout (`Layout::PyTorch`) | Keras layout (`Layout::Keras`) |
//! |---|---|---|
//! | `Dense` | `name.weight` `[out, in]`, `name.bias` `[out]` | `name.kernel` `[in, out]` (rows in H, W, C order after a `Flatten` of an image), `name.bias` |
//! | `Conv2d` | `name.weight` `[out, in, kh, kw]`, `name.bias` | `name.kernel` `[kh, kw, in, out]` (HWIO), `name.bias` |
//! | `Conv1d` | `name.weight` `[out, in, k]`, `name.bias` | `name.kernel` `[k, in, out]`, `name.bias` |
//! | `BatchNorm1d/2d` | `name.weight`, `name.bias`, `name.running_mean`, `name.running_var` `[c]` (`num_batches_tracked` is ignored) | `name.gamma`, `name.beta`, `name.moving_mean`, `name.moving_variance` |
//! | `PReLU` | `name.weight` `[1]` or `[c]` | `name.alpha` |

use std::collections::HashSet;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use safetensors::{Dtype, SafeTensors as SafeTensorsFile};

use super::error::Error;
use crate::layers::{FieldInfo, LayerTensors, Layout};
use crate::network::Network;

/// One named `f32` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Full name, e.g. `fc1.weight`.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub data: Vec<f32>,
}

/// The tensors of a weight file, handed out by name and shape; remembers which were used.
pub struct Source<'a> {
    path: String,
    tensors: SafeTensorsFile<'a>,
    metadata: Option<std::collections::HashMap<String, String>>,
    used: HashSet<String>,
}

impl<'a> Source<'a> {
    /// The file's `__metadata__` value for `key`, if any.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key).map(String::as_str)
    }

    /// Parses a safetensors buffer; `path` names it in errors.
    pub fn new(path: &str, bytes: &'a [u8]) -> Result<Self, Error> {
        let bad = |e: safetensors::SafeTensorError| Error::WeightFile {
            path: path.to_string(),
            message: e.to_string(),
        };
        let tensors = SafeTensorsFile::deserialize(bytes).map_err(bad)?;
        let (_, header) = SafeTensorsFile::read_metadata(bytes).map_err(bad)?;
        Ok(Source {
            path: path.to_string(),
            tensors,
            metadata: header.metadata().clone(),
            used: HashSet::new(),
        })
    }

    /// The values of tensor `name`, which must have shape `shape`, be `f32` and finite.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, Error> {
        let path = self.path.clone();
        let view = self
            .tensors
            .tensor(name)
            .map_err(|_| Error::MissingTensor {
                path: path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
            })?;
        self.used.insert(name.to_string());
        if view.dtype() != Dtype::F32 {
            return Err(Error::TensorDtype {
                path,
                name: name.to_string(),
                found: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != shape {
            return Err(Error::TensorShape {
                path,
                name: name.to_string(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(index) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteWeight {
                path,
                name: name.to_string(),
                index,
            });
        }
        Ok(data)
    }

    /// The raw view of tensor `name`, marked as used: `Err` naming it if it is missing
    /// (`shape` is what the caller expects, for the message). Its dtype and shape are the
    /// caller's to check.
    pub(crate) fn view(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<safetensors::tensor::TensorView<'a>, Error> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|_| Error::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
            })?;
        self.used.insert(name.to_string());
        Ok(view)
    }

    /// The name of the source, as errors give it.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// `Err` naming the first tensor of the file that no layer took (PyTorch's batch-norm
    /// counters `*.num_batches_tracked` are ignored).
    pub fn finish(&self) -> Result<(), Error> {
        let mut names = self.tensors.names();
        names.sort();
        for name in names {
            if !self.used.contains(name) && !name.ends_with(".num_batches_tracked") {
                return Err(Error::ExtraTensor {
                    path: self.path.clone(),
                    name: name.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Export and import of a layer's (or a network's) tensors by name.
pub trait StateDict {
    /// Appends this layer's tensors, named `layer.<param>`, in `layout`.
    fn export(&self, layer: &str, layout: Layout, info: FieldInfo, out: &mut Vec<NamedTensor>);
    /// Reads this layer's tensors from `src`.
    fn import(
        &mut self,
        layer: &str,
        layout: Layout,
        info: FieldInfo,
        src: &mut Source<'_>,
    ) -> Result<(), Error>;
}

/// Every parameterized layer: its tensors ([`LayerTensors`]) named `<layer>.<name>`.
impl<L: LayerTensors> StateDict for L {
    fn export(&self, layer: &str, layout: Layout, info: FieldInfo, out: &mut Vec<NamedTensor>) {
        for i in 0..self.tensor_count() {
            let spec = self.tensor_spec(i, layout);
            let mut data = vec![0.0; spec.len()];
            self.read_tensor(i, layout, info, &mut data);
            out.push(NamedTensor {
                name: name(layer, spec.name),
                shape: spec.shape().to_vec(),
                data,
            });
        }
    }

    fn import(
        &mut self,
        layer: &str,
        layout: Layout,
        info: FieldInfo,
        src: &mut Source<'_>,
    ) -> Result<(), Error> {
        for i in 0..self.tensor_count() {
            let spec = self.tensor_spec(i, layout);
            let data = src.take(&name(layer, spec.name), spec.shape())?;
            self.write_tensor(i, layout, info, &data);
        }
        Ok(())
    }
}

fn name(layer: &str, param: &str) -> String {
    if layer.is_empty() {
        param.to_string()
    } else {
        format!("{layer}.{param}")
    }
}

/// Serializes tensors to safetensors bytes.
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>, Error> {
    safetensors_bytes_with(tensors, None)
}

/// Serializes tensors to safetensors bytes with the file's `__metadata__` strings.
pub fn safetensors_bytes_with(
    tensors: &[NamedTensor],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>, Error> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Result<Vec<_>, _> = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            safetensors::tensor::TensorView::new(Dtype::F32, t.shape.clone(), b)
                .map(|v| (t.name.clone(), v))
        })
        .collect();
    let views = views.map_err(|e| Error::WeightFile {
        path: "(memory)".to_string(),
        message: e.to_string(),
    })?;
    safetensors::serialize(views, metadata).map_err(|e| Error::WeightFile {
        path: "(memory)".to_string(),
        message: e.to_string(),
    })
}

/// Saving and loading a whole network as a safetensors file. Implemented for every network
/// `network!` generates.
pub trait SafeTensors: Network + StateDict + Default {
    /// All tensors, PyTorch names and `layout`.
    fn state_dict(&self, layout: Layout) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        self.export("", layout, FieldInfo::default(), &mut out);
        out
    }

    /// Writes the weights with PyTorch names and layouts.
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.save_safetensors_as(path, Layout::PyTorch)
    }

    /// Writes the weights in `layout`.
    fn save_safetensors_as(&self, path: impl AsRef<Path>, layout: Layout) -> Result<(), Error> {
        let path = path.as_ref();
        let bytes = safetensors_bytes(&self.state_dict(layout))?;
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a network from a file with PyTorch names and layouts.
    fn load_safetensors(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_safetensors_as(path, Layout::PyTorch)
    }

    /// Reads a network from a file in `layout`.
    fn load_safetensors_as(path: impl AsRef<Path>, layout: Layout) -> Result<Self, Error> {
        let (bytes, name) = read_file(path.as_ref())?;
        Self::from_safetensors_bytes(&bytes, &name, layout)
    }

    /// Reads a network from safetensors bytes; `name` names the source in errors. Every tensor
    /// must be present with the right shape, `f32` and finite, and no other tensor may be there.
    fn from_safetensors_bytes(bytes: &[u8], name: &str, layout: Layout) -> Result<Self, Error> {
        let mut src = Source::new(name, bytes)?;
        let mut net = Self::default();
        net.import("", layout, FieldInfo::default(), &mut src)?;
        src.finish()?;
        Ok(net)
    }
}

impl<N: Network + StateDict + Default> SafeTensors for N {}

/// The bytes of the file at `path` and its name for errors.
pub(crate) fn read_file(path: &Path) -> Result<(Vec<u8>, String), Error> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((bytes, name)),
        Err(source) => Err(Error::Io { path: name, source }),
    }
}
