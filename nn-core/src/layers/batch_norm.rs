//! Batch normalization: a layer that behaves differently in training.
//!
//! The generated `forward` is inference (running statistics); only the batched training path
//! (`Trainable::forward_train`) uses batch statistics, so the two cannot be confused and there is
//! no mode flag to forget. Folding into the layer before it: `Dense::fold_batchnorm`,
//! `Conv2d::fold_batchnorm`, `Conv1d::fold_batchnorm`.

use generic_array::{ArrayLength, GenericArray};

use super::{
    FieldInfo, Layer, LayerTensors, Layout, ParamId, ParamKind, Parameters, TensorSpec, Zeroable,
};
use crate::tensor::{Shape, Shape1, Shape2, Shape3, Tensor};

/// The epsilon added to the variance (PyTorch's default).
pub const BN_EPS: f32 = 1e-5;
/// The weight of a new batch in the running statistics (PyTorch's `momentum=0.1`).
pub const BN_MOMENTUM: f32 = 0.1;

/// Batch normalization over `C` channels (features for vectors):
/// y = gamma (x - mean) / sqrt(var + eps) + beta, per channel.
///
/// Training (`forward_train`): mean and biased variance over the batch and the spatial
/// positions; the running statistics move towards them, running = 0.9 running + 0.1 batch, with
/// the unbiased variance (n / (n - 1)). Inference (`Layer::forward`): the running statistics.
/// eps = 1e-5. Starts at gamma 1, beta 0, running mean 0, running variance 1.
///
/// With a single value per channel in a batch (a batch of 1 on `[C]`), the batch variance is 0
/// and training outputs `beta`: use batches of at least 2 (PyTorch raises an error there).
///
/// Shapes: `[C] -> [C]` (`BatchNorm1d` on features), `[C, L] -> [C, L]` (`BatchNorm1d` on a
/// signal), `[C, H, W] -> [C, H, W]` (`BatchNorm2d`); 2C parameters plus 2C running statistics.
/// PyTorch `nn.BatchNorm1d(C)` / `nn.BatchNorm2d(C)`; Keras `layers.BatchNormalization`
/// (Keras' momentum 0.99 means PyTorch's 0.01).
#[repr(C)]
pub struct BatchNorm<C: ArrayLength> {
    /// Scale per channel (PyTorch `weight`).
    pub gamma: GenericArray<f32, C>,
    /// Shift per channel (PyTorch `bias`).
    pub beta: GenericArray<f32, C>,
    /// Running mean per channel (a buffer, not learned by gradient).
    pub running_mean: GenericArray<f32, C>,
    /// Running variance per channel (a buffer, not learned by gradient).
    pub running_var: GenericArray<f32, C>,
}

impl<C: ArrayLength> Clone for BatchNorm<C> {
    fn clone(&self) -> Self {
        BatchNorm {
            gamma: self.gamma.clone(),
            beta: self.beta.clone(),
            running_mean: self.running_mean.clone(),
            running_var: self.running_var.clone(),
        }
    }
}

impl<C: ArrayLength> Default for BatchNorm<C> {
    /// All zeros (a zeroed gradient); networks start from [`BatchNorm::init`].
    fn default() -> Self {
        BatchNorm {
            gamma: GenericArray::default(),
            beta: GenericArray::default(),
            running_mean: GenericArray::default(),
            running_var: GenericArray::default(),
        }
    }
}

impl<C: ArrayLength> core::fmt::Debug for BatchNorm<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BatchNorm<{}>", C::USIZE)
    }
}

impl<C: ArrayLength> PartialEq for BatchNorm<C> {
    /// Equal parameters and running statistics (as `f32`s: NaN is never equal).
    fn eq(&self, other: &Self) -> bool {
        self.gamma == other.gamma
            && self.beta == other.beta
            && self.running_mean == other.running_mean
            && self.running_var == other.running_var
    }
}

/// What a training forward pass of [`BatchNorm`] keeps for backward: the batch mean and
/// 1 / sqrt(var + eps) of each channel.
pub struct BnSaved<C: ArrayLength> {
    /// Batch mean per channel.
    pub mean: GenericArray<f32, C>,
    /// 1 / sqrt(batch variance + eps) per channel.
    pub inv_std: GenericArray<f32, C>,
}

impl<C: ArrayLength> Default for BnSaved<C> {
    /// Zero statistics (a placeholder until a training forward pass fills them in).
    fn default() -> Self {
        BnSaved {
            mean: GenericArray::default(),
            inv_std: GenericArray::default(),
        }
    }
}

impl<C: ArrayLength> BatchNorm<C> {
    /// Sets gamma 1, beta 0, running mean 0, running variance 1 (PyTorch's start).
    pub fn init(&mut self) {
        self.gamma.iter_mut().for_each(|g| *g = 1.0);
        self.beta.iter_mut().for_each(|b| *b = 0.0);
        self.running_mean.iter_mut().for_each(|m| *m = 0.0);
        self.running_var.iter_mut().for_each(|v| *v = 1.0);
    }

    /// Per-channel scale and shift of inference: y = a x + c.
    #[inline(always)]
    pub fn affine(&self, c: usize) -> (f32, f32) {
        let a = self.gamma[c] / libm::sqrtf(self.running_var[c] + BN_EPS);
        (a, self.beta[c] - a * self.running_mean[c])
    }

    /// Training forward over a mini-batch: normalizes with the batch statistics, updates the
    /// running statistics, and returns what backward needs.
    pub fn forward_train<S: Shape>(&mut self, x: &[Tensor<S>], y: &mut [Tensor<S>]) -> BnSaved<C> {
        let plane = S::LEN / C::USIZE;
        let n = (x.len() * plane) as f64;
        let mut saved = BnSaved {
            mean: GenericArray::default(),
            inv_std: GenericArray::default(),
        };
        for c in 0..C::USIZE {
            let mut sum = 0.0f64;
            for t in x {
                sum += t.as_slice()[c * plane..(c + 1) * plane]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>();
            }
            let mean = sum / n;
            let mut sq = 0.0f64;
            for t in x {
                sq += t.as_slice()[c * plane..(c + 1) * plane]
                    .iter()
                    .map(|&v| (v as f64 - mean) * (v as f64 - mean))
                    .sum::<f64>();
            }
            let var = sq / n;
            let inv_std = 1.0 / libm::sqrt(var + BN_EPS as f64);
            let (g, b) = (self.gamma[c], self.beta[c]);
            for (t, o) in x.iter().zip(y.iter_mut()) {
                let (xs, ys) = (
                    &t.as_slice()[c * plane..(c + 1) * plane],
                    &mut o.as_mut_slice()[c * plane..(c + 1) * plane],
                );
                for (yv, &xv) in ys.iter_mut().zip(xs) {
                    *yv = g * ((xv as f64 - mean) * inv_std) as f32 + b;
                }
            }
            let unbiased = if n > 1.0 { var * n / (n - 1.0) } else { var };
            self.running_mean[c] =
                (1.0 - BN_MOMENTUM) * self.running_mean[c] + BN_MOMENTUM * mean as f32;
            self.running_var[c] =
                (1.0 - BN_MOMENTUM) * self.running_var[c] + BN_MOMENTUM * unbiased as f32;
            saved.mean[c] = mean as f32;
            saved.inv_std[c] = inv_std as f32;
        }
        saved
    }

    /// Backward of [`BatchNorm::forward_train`] through the batch statistics: writes `dx` and
    /// adds the gradients of gamma and beta into `grad`.
    /// dx = gamma inv_std / n (n dy - sum dy - xhat sum(dy xhat)), xhat = (x - mean) inv_std.
    pub fn backward_train<S: Shape>(
        &self,
        x: &[Tensor<S>],
        saved: &BnSaved<C>,
        dy: &[Tensor<S>],
        dx: &mut [Tensor<S>],
        grad: &mut Self,
    ) {
        let plane = S::LEN / C::USIZE;
        let n = (x.len() * plane) as f32;
        for c in 0..C::USIZE {
            let (mean, inv_std) = (saved.mean[c], saved.inv_std[c]);
            let range = c * plane..(c + 1) * plane;
            let (mut sum_dy, mut sum_dy_xhat) = (0.0f32, 0.0f32);
            for (t, d) in x.iter().zip(dy) {
                for (&xv, &dv) in t.as_slice()[range.clone()]
                    .iter()
                    .zip(&d.as_slice()[range.clone()])
                {
                    sum_dy += dv;
                    sum_dy_xhat += dv * (xv - mean) * inv_std;
                }
            }
            grad.beta[c] += sum_dy;
            grad.gamma[c] += sum_dy_xhat;
            let k = self.gamma[c] * inv_std / n;
            for ((t, d), o) in x.iter().zip(dy).zip(dx.iter_mut()) {
                let xs = &t.as_slice()[range.clone()];
                let ds = &d.as_slice()[range.clone()];
                for ((ov, &xv), &dv) in o.as_mut_slice()[range.clone()].iter_mut().zip(xs).zip(ds) {
                    let xhat = (xv - mean) * inv_std;
                    *ov = k * (n * dv - sum_dy - xhat * sum_dy_xhat);
                }
            }
        }
    }
}

impl<C: ArrayLength> Parameters for BatchNorm<C> {
    const COUNT: usize = 2 * C::USIZE;
    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId, &[f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            self.gamma.as_slice(),
        );
        f(
            ParamId {
                layer,
                name: "bias",
                kind: ParamKind::Bias,
            },
            self.beta.as_slice(),
        );
    }
    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            self.gamma.as_mut_slice(),
        );
        f(
            ParamId {
                layer,
                name: "bias",
                kind: ParamKind::Bias,
            },
            self.beta.as_mut_slice(),
        );
    }
    fn zip_mut(
        &mut self,
        o: &Self,
        layer: &'static str,
        f: &mut dyn FnMut(ParamId, &mut [f32], &[f32]),
    ) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Other,
            },
            self.gamma.as_mut_slice(),
            o.gamma.as_slice(),
        );
        f(
            ParamId {
                layer,
                name: "bias",
                kind: ParamKind::Bias,
            },
            self.beta.as_mut_slice(),
            o.beta.as_slice(),
        );
    }
}

macro_rules! bn_layer {
    ($shape:ident < C $(, $d:ident)* >) => {
        /// Inference: the running statistics. (Training goes through `forward_train`.)
        impl<C: ArrayLength $(, $d)*> Layer<$shape<C $(, $d)*>, $shape<C $(, $d)*>> for BatchNorm<C>
        where
            $shape<C $(, $d)*>: Shape,
        {
            type Grad = Self;
            #[inline(always)]
            fn forward(&self, x: &Tensor<$shape<C $(, $d)*>>, y: &mut Tensor<$shape<C $(, $d)*>>) {
                let plane = <$shape<C $(, $d)*> as Shape>::LEN / C::USIZE;
                for c in 0..C::USIZE {
                    let (a, b) = self.affine(c);
                    let (xs, ys) = (&x.as_slice()[c * plane..][..plane], &mut y.as_mut_slice()[c * plane..][..plane]);
                    for (yv, &xv) in ys.iter_mut().zip(xs) {
                        *yv = a * xv + b;
                    }
                }
            }
            /// Backward of the inference form (statistics held fixed).
            fn backward_batch(
                &self,
                x: &[Tensor<$shape<C $(, $d)*>>],
                _y: &[Tensor<$shape<C $(, $d)*>>],
                dy: &[Tensor<$shape<C $(, $d)*>>],
                dx: &mut [Tensor<$shape<C $(, $d)*>>],
                grad: &mut Self,
            ) {
                let plane = <$shape<C $(, $d)*> as Shape>::LEN / C::USIZE;
                for ((t, d), o) in x.iter().zip(dy).zip(dx.iter_mut()) {
                    for c in 0..C::USIZE {
                        let s = libm::sqrtf(self.running_var[c] + BN_EPS);
                        let (a, m) = (self.gamma[c] / s, self.running_mean[c]);
                        for i in c * plane..(c + 1) * plane {
                            o.as_mut_slice()[i] = a * d.as_slice()[i];
                            grad.gamma[c] += d.as_slice()[i] * (t.as_slice()[i] - m) / s;
                            grad.beta[c] += d.as_slice()[i];
                        }
                    }
                }
            }
        }
    };
}
bn_layer!(Shape1<C>);
bn_layer!(Shape2<C, L>);
bn_layer!(Shape3<C, H, W>);

// SAFETY: four `f32` arrays.
unsafe impl<C: ArrayLength> Zeroable for BatchNorm<C> {}

/// PyTorch: `weight`, `bias`, `running_mean`, `running_var` (`[c]` each; a file's
/// `num_batches_tracked` is ignored); Keras: `gamma`, `beta`, `moving_mean`, `moving_variance`.
impl<C: ArrayLength> LayerTensors for BatchNorm<C> {
    fn tensor_count(&self) -> usize {
        4
    }
    fn tensor_spec(&self, i: usize, layout: Layout) -> TensorSpec {
        let names = match layout {
            Layout::PyTorch => ["weight", "bias", "running_mean", "running_var"],
            Layout::Keras => ["gamma", "beta", "moving_mean", "moving_variance"],
        };
        TensorSpec::new(names[i], &[C::USIZE])
    }
    fn read_tensor(&self, i: usize, _layout: Layout, _info: FieldInfo, out: &mut [f32]) {
        let v = [
            &self.gamma,
            &self.beta,
            &self.running_mean,
            &self.running_var,
        ][i];
        out.copy_from_slice(v);
    }
    fn write_tensor(&mut self, i: usize, _layout: Layout, _info: FieldInfo, data: &[f32]) {
        let v = match i {
            0 => &mut self.gamma,
            1 => &mut self.beta,
            2 => &mut self.running_mean,
            _ => &mut self.running_var,
        };
        v.copy_from_slice(data);
    }
}
