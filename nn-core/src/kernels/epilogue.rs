//! What a kernel applies to each output while it is still in registers: the activation of the
//! layer that called it, seen by the kernels only through [`Epilogue`].

/// How a vector kernel may apply an [`Epilogue`] in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fused {
    /// g(x) = x: nothing to do.
    Identity,
    /// g(x) = max(0, x), NaN propagated.
    Relu,
    /// Any other g: applied with [`Epilogue::apply`] after the vector store.
    Scalar,
}

/// An elementwise function a kernel applies to each output. The layers implement it for every
/// activation (`layers::activation`), so the kernels never name a layer type.
pub trait Epilogue: Copy + Send + Sync {
    /// How the kernels may apply it in registers.
    const FUSED: Fused;
    /// g(x): applied to stored outputs when [`Epilogue::FUSED`] is [`Fused::Scalar`].
    fn apply(&self, x: f32) -> f32;
}

/// No activation: outputs are stored as computed (the dense backward's products).
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Linear;

impl Epilogue for Linear {
    const FUSED: Fused = Fused::Identity;
    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        x
    }
}

/// Epilogues for the kernels' tests: ReLU (fused in registers) and tanh (applied after the
/// store), without reaching for the layers.
#[cfg(test)]
pub(crate) mod test_epilogues {
    use super::{Epilogue, Fused};

    /// max(0, x), NaN propagated.
    #[derive(Debug, Clone, Copy)]
    pub struct Relu;
    impl Epilogue for Relu {
        const FUSED: Fused = Fused::Relu;
        fn apply(&self, x: f32) -> f32 {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
    }

    /// tanh(x), applied after the store.
    #[derive(Debug, Clone, Copy)]
    pub struct Tanh;
    impl Epilogue for Tanh {
        const FUSED: Fused = Fused::Scalar;
        fn apply(&self, x: f32) -> f32 {
            libm::tanhf(x)
        }
    }
}
