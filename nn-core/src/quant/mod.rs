//! Integer-only int8 arithmetic with the TensorFlow Lite (LiteRT) quantization scheme, the
//! foundation of the int8 twins of networks.
//!
//! The scheme (TFLite's int8 specification): a real value `r` is stored as an int8 `q` with
//! `r = scale * (q - zero_point)`. Activations are quantized per tensor and asymmetrically
//! (any zero point in `[-128, 127]`); weights per output channel and symmetrically (zero point
//! 0, values in `[-127, 127]`); biases are int32 with scale `input_scale * weight_scale[c]`.
//! Products accumulate in int32 and are brought back to int8 by a fixed-point multiplier and a
//! shift per channel ([`Requantize`]), rounding exactly as TFLite's reference kernels do
//! ([`fixed`]), so that the same model gives the same bits here and in LiteRT.
//!
//! [`calibrate`] (with `alloc`) chooses the quantization of activations from a calibration set
//! and quantizes weights and biases. [`ops`] has the kernels on this crate's layouts (channels first, PyTorch weight layouts):
//! dense, 1-D/2-D convolution, max and average pooling, and the rescaled addition of residual
//! blocks, each a plain loop whose bounds come from its arguments.

#[cfg(feature = "alloc")]
pub mod calibrate;
pub mod fixed;
pub mod lut;
#[cfg(feature = "std")]
pub mod onnx;
pub mod ops;
pub mod simd;
pub mod twin;

pub use fixed::{multiply_by_quantized_multiplier, quantize_multiplier, Requantize, Rounding};
pub use lut::LutI8;
pub use twin::{ConvI8, DenseI8, TensorI8};

/// The quantization of a tensor: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    /// The step between two consecutive integers, in real units (positive, finite).
    pub scale: f32,
    /// The integer that stands for real 0 (in `[-128, 127]` for int8).
    pub zero_point: i32,
}

impl QuantParams {
    /// The int8 nearest to `real` (round half away from zero), saturated to `[-128, 127]`:
    /// TFLite's `Quantize` (`zero_point + round(real / scale)`, the division in `f32`).
    pub fn quantize(&self, real: f32) -> i8 {
        let q = (self.zero_point as i64).saturating_add(libm::roundf(real / self.scale) as i64);
        q.clamp(i8::MIN as i64, i8::MAX as i64) as i8
    }

    /// The real value `q` stands for: `scale * (q - zero_point)`.
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point) as f32
    }
}

/// The activation fused into a quantized layer: a clamp of its int8 output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FusedActivation {
    /// No clamp beyond the int8 range.
    None,
    /// `max(0, x)`: the output never goes below the zero point.
    Relu,
    /// `min(max(0, x), 6)`.
    Relu6,
}

impl FusedActivation {
    /// The int8 range `[min, max]` of an output with quantization `out` after this activation:
    /// TFLite's `CalculateActivationRangeQuantized` (0 and 6 quantized with [`QuantParams::quantize`]
    /// before the clamp to the int8 range).
    pub fn range(self, out: QuantParams) -> (i32, i32) {
        let quantize = |r: f32| {
            out.zero_point
                .saturating_add(libm::roundf(r / out.scale) as i32)
        };
        let (lo, hi) = (i8::MIN as i32, i8::MAX as i32);
        match self {
            FusedActivation::None => (lo, hi),
            FusedActivation::Relu => (lo.max(quantize(0.0)), hi),
            FusedActivation::Relu6 => (lo.max(quantize(0.0)), hi.min(quantize(6.0))),
        }
    }
}

/// What `quantize_int8` returns for a network with a layer the int8 twin does not support yet:
/// never a value (the method's `Err` names the layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {}
