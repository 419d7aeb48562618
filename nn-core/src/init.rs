//! Seeded weight initialization.
//!
//! Every network built with the same seed has bit-identical weights: the generator is ChaCha8
//! (`rand_chacha`, portable and reproducible across platforms), one stream per layer, and normal
//! samples come from `rand_distr`'s ziggurat.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// How to draw a weight matrix with `fan_in` inputs and `fan_out` outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// He (Kaiming) normal: N(0, 2 / fan_in). The default before ReLU-like activations.
    He,
    /// Xavier (Glorot) uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). The default before
    /// sigmoid, tanh, softmax or no activation (Keras' default).
    Xavier,
    /// LeCun normal: N(0, 1 / fan_in). The default before SELU.
    LeCun,
    /// All zeros (useful for tests).
    Zeros,
}

impl Init {
    /// Fills `w` for a layer with the given fan-in and fan-out.
    pub fn fill(self, w: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) {
        match self {
            Init::He => rng.fill_normal(w, libm::sqrt(2.0 / fan_in as f64) as f32),
            Init::LeCun => rng.fill_normal(w, libm::sqrt(1.0 / fan_in as f64) as f32),
            Init::Xavier => {
                let l = libm::sqrt(6.0 / (fan_in + fan_out) as f64) as f32;
                rng.fill_uniform(w, -l, l)
            }
            Init::Zeros => w.fill(0.0),
        }
    }
}

/// The seeded random generator used for initialization, shuffling and splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A generator for `seed` on an independent stream (one per layer), so adding a layer does
    /// not change how the others are drawn.
    pub fn with_stream(seed: u64, stream: u64) -> Self {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream);
        Rng(r)
    }

    /// Fills with N(0, std^2).
    pub fn fill_normal(&mut self, w: &mut [f32], std: f32) {
        for v in w {
            let z: f32 = StandardNormal.sample(&mut self.0);
            *v = z * std;
        }
    }

    /// Fills with U(lo, hi).
    pub fn fill_uniform(&mut self, w: &mut [f32], lo: f32, hi: f32) {
        for v in w {
            *v = lo + (hi - lo) * self.0.random::<f32>();
        }
    }

    /// A uniform value in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        self.0.random::<f32>()
    }

    /// A standard normal value.
    pub fn normal(&mut self) -> f32 {
        StandardNormal.sample(&mut self.0)
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
