//! Optimizers: plain or momentum SGD with L2 weight decay, and Adam.
//!
//! An optimizer walks the network's parameters and their gradients in lockstep through
//! generated code ([`Trainable::zip_gradients`]); its state is one flat buffer in that order.

use alloc::vec::Vec;

use crate::layers::{ParamId, ParamKind};
use crate::trainable::Trainable;

/// Updates a network's parameters from their gradients.
pub trait Optimizer {
    /// One update step with gradients of the mean mini-batch loss.
    fn step<N: Trainable>(&mut self, net: &mut N, grads: &N::Gradients);
    /// The learning rate.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (learning-rate schedules call this before each epoch).
    fn set_learning_rate(&mut self, lr: f32);
    /// `Err` naming the first setting that is out of range (a learning rate that is not
    /// positive and finite, a momentum outside `[0, 1)`). The trainer checks before training.
    fn check(&self) -> Result<(), BadSetting>;
}

/// An optimizer setting out of range ([`Optimizer::check`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadSetting {
    /// The setting, as its field is named (`lr`, `momentum`).
    pub setting: &'static str,
    /// The value given.
    pub value: f32,
    /// What it must be.
    pub expected: &'static str,
}

/// `Err` unless `value` satisfies `ok` (and is finite).
fn need(
    setting: &'static str,
    value: f32,
    ok: bool,
    expected: &'static str,
) -> Result<(), BadSetting> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(BadSetting {
            setting,
            value,
            expected,
        })
    }
}

const POSITIVE: &str = "a finite number above 0";
const NON_NEGATIVE: &str = "a finite number of at least 0";
const UNIT: &str = "at least 0 and below 1";

/// `w`, or 0 when it is subnormal (below `f32::MIN_POSITIVE` in magnitude). Weight decay drives
/// unused weights toward 0 and into the subnormal range, where every multiply-add with them is
/// slow on x86 (a microcode assist per operation): MNIST-1D's CNN after 60 epochs of Adam with
/// weight decay had 1,948 of 9,610 weights subnormal and ran inference 21x slower (36 us against
/// 1.7 us). A subnormal weight is below 1.2e-38: setting it to 0 changes no result that
/// matters. (PyTorch leaves this to `torch.set_flush_denormal(True)`, a per-thread CPU mode.)
#[inline(always)]
fn flush(w: f32) -> f32 {
    if w.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        w
    }
}

/// Walks parameter/gradient pairs with a running offset into flat optimizer state.
fn for_each<N: Trainable>(
    net: &mut N,
    grads: &N::Gradients,
    mut f: impl FnMut(usize, ParamId, &mut [f32], &[f32]),
) {
    let mut offset = 0;
    net.zip_gradients(grads, &mut |id, p, g| {
        f(offset, id, p, g);
        offset += p.len();
    });
}

/// Stochastic gradient descent, PyTorch's `torch.optim.SGD` update:
/// g = grad + weight_decay * w (weights only), v = momentum * v + g, w -= lr * v.
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum (0 for plain SGD).
    pub momentum: f32,
    /// L2 penalty coefficient applied to weights (not biases): adds `weight_decay * w` to the
    /// gradient, i.e. the loss gets `weight_decay / 2 * |w|^2`.
    pub weight_decay: f32,
    velocity: Vec<f32>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }
    /// Sets the momentum.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets the L2 weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn check(&self) -> Result<(), BadSetting> {
        need("lr", self.lr, self.lr > 0.0, POSITIVE)?;
        let mu = self.momentum;
        need("momentum", mu, (0.0..1.0).contains(&mu), UNIT)?;
        let wd = self.weight_decay;
        need("weight_decay", wd, wd >= 0.0, NON_NEGATIVE)
    }
    fn step<N: Trainable>(&mut self, net: &mut N, grads: &N::Gradients) {
        if self.velocity.len() != N::PARAMS {
            self.velocity = alloc::vec![0.0; N::PARAMS];
        }
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        let vel = &mut self.velocity;
        for_each(net, grads, |off, id, p, g| {
            let decay = if id.kind == ParamKind::Weight {
                wd
            } else {
                0.0
            };
            // Separate loops: with the test inside, the vectorized loop stores to the velocity
            // under a mask even without momentum, and masked stores to never-written (copy-on-
            // write zero) pages are very slow on some CPUs.
            if mu == 0.0 {
                for (p, &g) in p.iter_mut().zip(g) {
                    let gi = g + decay * *p;
                    *p = flush(*p - lr * gi);
                }
            } else {
                let v = &mut vel[off..off + p.len()];
                for ((p, &g), v) in p.iter_mut().zip(g).zip(v) {
                    let gi = g + decay * *p;
                    *v = mu * *v + gi;
                    *p = flush(*p - lr * *v);
                }
            }
        });
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
}

/// Adam (Kingma and Ba), PyTorch's `torch.optim.Adam` update with bias correction:
/// g = grad + weight_decay * w (weights only); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
#[derive(Debug, Clone)]
pub struct Adam {
    /// Learning rate (default 1e-3).
    pub lr: f32,
    /// Decay of the first moment (default 0.9).
    pub beta1: f32,
    /// Decay of the second moment (default 0.999).
    pub beta2: f32,
    /// Added to the denominator (default 1e-8).
    pub eps: f32,
    /// L2 penalty on weights (not biases), added to the gradient.
    pub weight_decay: f32,
    t: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// Adam with learning rate `lr` and the usual defaults.
    pub fn new(lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
    /// Sets the L2 weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Optimizer for Adam {
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn check(&self) -> Result<(), BadSetting> {
        need("lr", self.lr, self.lr > 0.0, POSITIVE)?;
        need("beta1", self.beta1, (0.0..1.0).contains(&self.beta1), UNIT)?;
        need("beta2", self.beta2, (0.0..1.0).contains(&self.beta2), UNIT)?;
        need("eps", self.eps, self.eps > 0.0, POSITIVE)?;
        let wd = self.weight_decay;
        need("weight_decay", wd, wd >= 0.0, NON_NEGATIVE)
    }
    fn step<N: Trainable>(&mut self, net: &mut N, grads: &N::Gradients) {
        if self.m.len() != N::PARAMS {
            self.m = alloc::vec![0.0; N::PARAMS];
            self.v = alloc::vec![0.0; N::PARAMS];
            self.t = 0;
        }
        self.t += 1;
        let (b1, b2, eps, wd, lr) = (self.beta1, self.beta2, self.eps, self.weight_decay, self.lr);
        let c1 = 1.0 - libm::powf(b1, self.t as f32);
        let c2 = 1.0 - libm::powf(b2, self.t as f32);
        let (ms, vs) = (&mut self.m, &mut self.v);
        for_each(net, grads, |off, id, p, g| {
            let decay = if id.kind == ParamKind::Weight {
                wd
            } else {
                0.0
            };
            let m = &mut ms[off..off + p.len()];
            let v = &mut vs[off..off + p.len()];
            for i in 0..p.len() {
                let gi = g[i] + decay * p[i];
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                let mh = m[i] / c1;
                let vh = v[i] / c2;
                p[i] = flush(p[i] - lr * mh / (libm::sqrtf(vh) + eps));
            }
        });
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
}
