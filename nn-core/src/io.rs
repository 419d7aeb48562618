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

use generic_array::ArrayLength;
use safetensors::{Dtype, SafeTensors as SafeTensorsFile};

use crate::error::Error;
use crate::network::Network;

/// How tensors are laid out and named in a weight file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// PyTorch `state_dict`: dense `[out, in]`, convolutions `[out, in, kh, kw]`, flatten C, H, W.
    PyTorch,
    /// Keras: kernels `[in, out]` and HWIO, flatten H, W, C; Keras parameter names.
    Keras,
}

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

/// What a field needs to know about its place in the network: a `Dense` right after the
/// `Flatten` of a `[c, h, w]` (or `[c, l]`) tensor reorders its input rows for Keras.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldInfo {
    /// The `[c, h, w]` flattened into this layer's input (`h = 1` for signals).
    pub flatten_chw: Option<[usize; 3]>,
}

/// The tensors of a weight file, handed out by name and shape; remembers which were used.
pub struct Source<'a> {
    path: String,
    tensors: SafeTensorsFile<'a>,
    used: HashSet<String>,
}

impl<'a> Source<'a> {
    /// Parses a safetensors buffer; `path` names it in errors.
    pub fn new(path: &str, bytes: &'a [u8]) -> Result<Self, Error> {
        let tensors = SafeTensorsFile::deserialize(bytes).map_err(|e| Error::WeightFile {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        Ok(Source {
            path: path.to_string(),
            tensors,
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

fn name(layer: &str, param: &str) -> String {
    if layer.is_empty() {
        param.to_string()
    } else {
        format!("{layer}.{param}")
    }
}

/// Keras row index of input `i` (C, H, W order) after a flatten of `[c, h, w]`: H, W, C order.
fn keras_row(i: usize, info: FieldInfo) -> usize {
    match info.flatten_chw {
        Some([c, h, w]) => {
            let (ci, rest) = (i / (h * w), i % (h * w));
            rest * c + ci
        }
        None => i,
    }
}

impl<I: ArrayLength, O: ArrayLength> StateDict for crate::dense::Dense<I, O> {
    fn export(&self, layer: &str, layout: Layout, info: FieldInfo, out: &mut Vec<NamedTensor>) {
        let (ni, no) = (I::USIZE, O::USIZE);
        let mut data = vec![0.0; ni * no];
        let (wname, shape) = match layout {
            Layout::PyTorch => {
                for i in 0..ni {
                    for o in 0..no {
                        data[o * ni + i] = self.w[i][o];
                    }
                }
                ("weight", vec![no, ni])
            }
            Layout::Keras => {
                for i in 0..ni {
                    data[keras_row(i, info) * no..][..no].copy_from_slice(&self.w[i]);
                }
                ("kernel", vec![ni, no])
            }
        };
        out.push(NamedTensor {
            name: name(layer, wname),
            shape,
            data,
        });
        out.push(NamedTensor {
            name: name(layer, "bias"),
            shape: vec![no],
            data: self.b.to_vec(),
        });
    }

    fn import(
        &mut self,
        layer: &str,
        layout: Layout,
        info: FieldInfo,
        src: &mut Source<'_>,
    ) -> Result<(), Error> {
        let (ni, no) = (I::USIZE, O::USIZE);
        match layout {
            Layout::PyTorch => {
                let data = src.take(&name(layer, "weight"), &[no, ni])?;
                for i in 0..ni {
                    for o in 0..no {
                        self.w[i][o] = data[o * ni + i];
                    }
                }
            }
            Layout::Keras => {
                let data = src.take(&name(layer, "kernel"), &[ni, no])?;
                for i in 0..ni {
                    self.w[i].copy_from_slice(&data[keras_row(i, info) * no..][..no]);
                }
            }
        }
        let b = src.take(&name(layer, "bias"), &[no])?;
        self.b.copy_from_slice(&b);
        Ok(())
    }
}

macro_rules! conv_state {
    ($name:ident, [$($k:ident),*], [$($geo:ident),*]) => {
        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> StateDict
            for crate::conv::$name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            fn export(&self, layer: &str, layout: Layout, _info: FieldInfo, out: &mut Vec<NamedTensor>) {
                let (ci, co, taps) = (CI::USIZE, CO::USIZE, 1 $(* $k::USIZE)*);
                let kernel: Vec<usize> = vec![$($k::USIZE),*];
                let mem = self.weights();
                match layout {
                    Layout::PyTorch => {
                        // mem[(t * ci + i) * co + o] -> torch[((o * ci + i) * taps + t)]
                        let mut data = vec![0.0; mem.len()];
                        for t in 0..taps {
                            for i in 0..ci {
                                for o in 0..co {
                                    data[(o * ci + i) * taps + t] = mem[(t * ci + i) * co + o];
                                }
                            }
                        }
                        let mut shape = vec![co, ci];
                        shape.extend_from_slice(&kernel);
                        out.push(NamedTensor { name: name(layer, "weight"), shape, data });
                    }
                    Layout::Keras => {
                        let mut shape = kernel.clone();
                        shape.extend_from_slice(&[ci, co]);
                        out.push(NamedTensor { name: name(layer, "kernel"), shape, data: mem.to_vec() });
                    }
                }
                if BIAS {
                    out.push(NamedTensor { name: name(layer, "bias"), shape: vec![co], data: self.b.to_vec() });
                }
            }

            fn import(&mut self, layer: &str, layout: Layout, _info: FieldInfo, src: &mut Source<'_>) -> Result<(), Error> {
                let (ci, co, taps) = (CI::USIZE, CO::USIZE, 1 $(* $k::USIZE)*);
                let kernel: Vec<usize> = vec![$($k::USIZE),*];
                match layout {
                    Layout::PyTorch => {
                        let mut shape = vec![co, ci];
                        shape.extend_from_slice(&kernel);
                        let data = src.take(&name(layer, "weight"), &shape)?;
                        let mem = self.weights_mut();
                        for t in 0..taps {
                            for i in 0..ci {
                                for o in 0..co {
                                    mem[(t * ci + i) * co + o] = data[(o * ci + i) * taps + t];
                                }
                            }
                        }
                    }
                    Layout::Keras => {
                        let mut shape = kernel.clone();
                        shape.extend_from_slice(&[ci, co]);
                        let data = src.take(&name(layer, "kernel"), &shape)?;
                        self.weights_mut().copy_from_slice(&data);
                    }
                }
                if BIAS {
                    let b = src.take(&name(layer, "bias"), &[co])?;
                    self.b.copy_from_slice(&b);
                }
                Ok(())
            }
        }
    };
}
conv_state!(Conv2d, [KH, KW], [SH, SW, PT, PB, PL, PR]);
conv_state!(Conv1d, [K], [S, P0, P1]);

impl<C: ArrayLength> StateDict for crate::norm::BatchNorm<C> {
    fn export(&self, layer: &str, layout: Layout, _info: FieldInfo, out: &mut Vec<NamedTensor>) {
        let names = match layout {
            Layout::PyTorch => ["weight", "bias", "running_mean", "running_var"],
            Layout::Keras => ["gamma", "beta", "moving_mean", "moving_variance"],
        };
        for (n, v) in names.iter().zip([
            &self.gamma,
            &self.beta,
            &self.running_mean,
            &self.running_var,
        ]) {
            out.push(NamedTensor {
                name: name(layer, n),
                shape: vec![C::USIZE],
                data: v.to_vec(),
            });
        }
    }
    fn import(
        &mut self,
        layer: &str,
        layout: Layout,
        _info: FieldInfo,
        src: &mut Source<'_>,
    ) -> Result<(), Error> {
        let names = match layout {
            Layout::PyTorch => ["weight", "bias", "running_mean", "running_var"],
            Layout::Keras => ["gamma", "beta", "moving_mean", "moving_variance"],
        };
        for (n, v) in names.iter().zip([
            &mut self.gamma,
            &mut self.beta,
            &mut self.running_mean,
            &mut self.running_var,
        ]) {
            let data = src.take(&name(layer, n), &[C::USIZE])?;
            v.copy_from_slice(&data);
        }
        Ok(())
    }
}

fn alpha_name(layout: Layout) -> &'static str {
    match layout {
        Layout::PyTorch => "weight",
        Layout::Keras => "alpha",
    }
}

impl StateDict for crate::activation::PReLU {
    fn export(&self, layer: &str, layout: Layout, _info: FieldInfo, out: &mut Vec<NamedTensor>) {
        out.push(NamedTensor {
            name: name(layer, alpha_name(layout)),
            shape: vec![1],
            data: vec![self.alpha],
        });
    }
    fn import(
        &mut self,
        layer: &str,
        layout: Layout,
        _info: FieldInfo,
        src: &mut Source<'_>,
    ) -> Result<(), Error> {
        self.alpha = src.take(&name(layer, alpha_name(layout)), &[1])?[0];
        Ok(())
    }
}

impl<C: ArrayLength> StateDict for crate::activation::PReLUChannels<C> {
    fn export(&self, layer: &str, layout: Layout, _info: FieldInfo, out: &mut Vec<NamedTensor>) {
        out.push(NamedTensor {
            name: name(layer, alpha_name(layout)),
            shape: vec![C::USIZE],
            data: self.alpha.to_vec(),
        });
    }
    fn import(
        &mut self,
        layer: &str,
        layout: Layout,
        _info: FieldInfo,
        src: &mut Source<'_>,
    ) -> Result<(), Error> {
        let data = src.take(&name(layer, alpha_name(layout)), &[C::USIZE])?;
        self.alpha.copy_from_slice(&data);
        Ok(())
    }
}

/// Serializes tensors to safetensors bytes.
pub fn to_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>, Error> {
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
    safetensors::serialize(views, None).map_err(|e| Error::WeightFile {
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
        let bytes = to_bytes(&self.state_dict(layout))?;
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
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: name.clone(),
            source,
        })?;
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
