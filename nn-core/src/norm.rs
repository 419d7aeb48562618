//! Batch normalization and dropout: layers that behave differently in training.
//!
//! The generated `forward` is inference (running statistics, no dropout); only the batched
//! training path (`Trainable::forward_train`) uses batch statistics and drops units, so the
//! two cannot be confused and there is no mode flag to forget.

use generic_array::{ArrayLength, GenericArray};

use crate::layer::{Layer, ParamId, ParamKind, Parameters};
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

/// Dropout: in training each value is zeroed with probability `p` and the others scaled by
/// 1 / (1 - p) (inverted dropout); at inference it is the identity. Seeded through the
/// network's generator. PyTorch `nn.Dropout(p)`; Keras `layers.Dropout(p)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// Probability of dropping a value, in [0, 1).
    pub p: f32,
}

impl<S: Shape> Layer<S, S> for Dropout {
    type Grad = ();
    #[inline(always)]
    fn forward(&self, x: &Tensor<S>, y: &mut Tensor<S>) {
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }
    fn backward_batch(
        &self,
        _x: &[Tensor<S>],
        _y: &[Tensor<S>],
        dy: &[Tensor<S>],
        dx: &mut [Tensor<S>],
        _: &mut (),
    ) {
        for (o, d) in dx.iter_mut().zip(dy) {
            o.as_mut_slice().copy_from_slice(d.as_slice());
        }
    }
}

#[cfg(feature = "alloc")]
impl Dropout {
    /// Training forward: draws the mask from `rng` and returns it (0 or 1 / (1 - p) per value).
    pub fn forward_train<S: Shape>(
        &self,
        rng: &mut crate::init::Rng,
        x: &[Tensor<S>],
        y: &mut [Tensor<S>],
    ) -> alloc::vec::Vec<f32> {
        let keep = 1.0 - self.p;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        let mut mask = alloc::vec::Vec::with_capacity(x.len() * S::LEN);
        for (t, o) in x.iter().zip(y.iter_mut()) {
            for (ov, &xv) in o.as_mut_slice().iter_mut().zip(t.as_slice()) {
                let m = if rng.uniform() < keep { scale } else { 0.0 };
                mask.push(m);
                *ov = xv * m;
            }
        }
        mask
    }

    /// Backward of [`Dropout::forward_train`]: dx = dy * mask.
    pub fn backward_train<S: Shape>(&self, mask: &[f32], dy: &[Tensor<S>], dx: &mut [Tensor<S>]) {
        for ((o, d), m) in dx.iter_mut().zip(dy).zip(mask.chunks_exact(S::LEN)) {
            for ((ov, &dv), &mv) in o.as_mut_slice().iter_mut().zip(d.as_slice()).zip(m) {
                *ov = dv * mv;
            }
        }
    }
}

/// Adds `b` into `a`, elementwise (the join of a residual block).
#[inline(always)]
pub fn add_into<S: Shape>(a: &mut Tensor<S>, b: &Tensor<S>) {
    for (x, &y) in a.as_mut_slice().iter_mut().zip(b.as_slice()) {
        *x += y;
    }
}

/// Adds batch `b` into batch `a`, elementwise.
#[inline(always)]
pub fn add_batch_into<S: Shape>(a: &mut [Tensor<S>], b: &[Tensor<S>]) {
    for (x, y) in a.iter_mut().zip(b) {
        add_into(x, y);
    }
}

/// Folding batch normalization into the layer before it, for inference:
/// BN(W x + b) = (a W) x + (a b + c) with a = gamma / sqrt(running_var + eps) and
/// c = beta - a running_mean, per output channel.
impl<I: ArrayLength, O: ArrayLength> crate::dense::Dense<I, O> {
    /// This layer followed by `bn` (inference form) as one Dense layer.
    pub fn fold_batchnorm(&self, bn: &BatchNorm<O>) -> Self {
        let mut out = self.clone();
        for o in 0..O::USIZE {
            let (a, c) = bn.affine(o);
            for i in 0..I::USIZE {
                out.w[i][o] *= a;
            }
            out.b[o] = a * self.b[o] + c;
        }
        out
    }
}

macro_rules! fold_conv {
    ($name:ident, [$($k:ident),*], [$($geo:ident),*]) => {
        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool>
            crate::conv::$name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            /// This convolution followed by `bn` (inference form) as one convolution with a bias.
            pub fn fold_batchnorm(&self, bn: &BatchNorm<CO>) -> crate::conv::$name<CI, CO, $($k,)* $($geo,)* true> {
                let mut out = crate::conv::$name::<CI, CO, $($k,)* $($geo,)* true>::default();
                out.weights_mut().copy_from_slice(self.weights());
                let co_n = CO::USIZE;
                for (i, w) in out.weights_mut().iter_mut().enumerate() {
                    *w *= bn.affine(i % co_n).0;
                }
                for co in 0..co_n {
                    let (a, c) = bn.affine(co);
                    let b = if BIAS { self.b[co] } else { 0.0 };
                    out.b[co] = a * b + c;
                }
                out
            }
        }
    };
}
fold_conv!(Conv2d, [KH, KW], [SH, SW, PT, PB, PL, PR]);
fold_conv!(Conv1d, [K], [S, P0, P1]);
