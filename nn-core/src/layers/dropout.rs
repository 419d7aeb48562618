//! Dropout: a layer that behaves differently in training.

use super::Layer;
use crate::tensor::{Shape, Tensor};

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
