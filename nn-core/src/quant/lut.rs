//! Elementwise activations in int8 as lookup tables: an int8 input has only 256 possible
//! values, so any activation `g` becomes a 256-entry table of int8 outputs, computed once (at
//! quantization time) from the exact `f32` value of `g` at each dequantized input and quantized
//! with the output's quantization. The int8 twin of a network (`network!`) runs every
//! elementwise activation other than `ReLU` (fused into a clamp) this way: `Sigmoid`, `Tanh`,
//! `GELU`, `ELU`, `SELU`, `LeakyReLU`, `SiLU`, `Softplus`, `Gaussian`, `Step` and a `PReLU`
//! with one slope. TFLite itself uses tables for several int8 activations (its `LOGISTIC`,
//! `TANH`, `ELU`, `HARD_SWISH` kernels on some paths), but the tables here are built from this
//! crate's `f32` activations, so no bit-for-bit parity with LiteRT is claimed for them.
//!
//! No allocation, `no_std`: a table is 256 bytes plus the two quantizations.

use super::twin::TensorI8;
use super::QuantParams;
use crate::layers::activation::Activation;
use crate::tensor::Shape;

/// An elementwise int8 activation as a lookup table: `table[q + 128]` is the output for the
/// input `q` (the table runs from input -128 up to 127), with `input` and `output` the
/// quantizations it was built for.
#[derive(Debug, Clone, PartialEq)]
pub struct LutI8 {
    /// The int8 output for each int8 input, the input -128 first.
    pub table: [i8; 256],
    /// The input's quantization.
    pub input: QuantParams,
    /// The output's quantization.
    pub output: QuantParams,
}

impl LutI8 {
    /// Bytes of the table.
    pub const BYTES: usize = 256;

    /// The table of `g`: for every int8 input `q`, `output.quantize(g(input.dequantize(q)))`
    /// (the real value `g` gives for the real value `q` stands for, rounded half away from zero
    /// and saturated to the int8 range; a NaN becomes the output's zero point).
    pub fn from_fn(input: QuantParams, output: QuantParams, g: impl Fn(f32) -> f32) -> Self {
        let mut table = [0i8; 256];
        for (k, t) in table.iter_mut().enumerate() {
            let q = (k as i32 - 128) as i8;
            *t = output.quantize(g(input.dequantize(q)));
        }
        LutI8 {
            table,
            input,
            output,
        }
    }

    /// The table of an activation of this crate (its `f32` [`Activation::f`]), as
    /// [`LutI8::from_fn`].
    pub fn from_activation<A: Activation>(
        act: &A,
        input: QuantParams,
        output: QuantParams,
    ) -> Self {
        Self::from_fn(input, output, |x| act.f(x))
    }

    /// A table given as it is stored (the output for input -128 first), for example read from
    /// a weight file.
    pub fn from_table(table: [i8; 256], input: QuantParams, output: QuantParams) -> Self {
        LutI8 {
            table,
            input,
            output,
        }
    }

    /// The output for the input `q`.
    #[inline(always)]
    pub fn get(&self, q: i8) -> i8 {
        self.table[(q as i32 + 128) as usize]
    }

    /// `y[i] = table(x[i])` for every `i` of the shorter of the two slices.
    pub fn apply(&self, x: &[i8], y: &mut [i8]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = self.get(x);
        }
    }

    /// `y = table(x)`, value by value.
    pub fn forward<S: Shape>(&self, x: &TensorI8<S>, y: &mut TensorI8<S>) {
        self.apply(x.as_slice(), y.as_mut_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::activation::Tanh;

    #[test]
    fn table_is_the_quantized_activation_of_every_input() {
        let input = QuantParams {
            scale: 0.05,
            zero_point: -3,
        };
        let output = QuantParams {
            scale: 1.0 / 128.0,
            zero_point: 0,
        };
        let lut = LutI8::from_activation(&Tanh, input, output);
        for q in i8::MIN..=i8::MAX {
            let real = libm::tanhf(0.05 * (q as i32 + 3) as f32);
            let want = (libm::roundf(real * 128.0) as i32).clamp(-128, 127) as i8;
            assert_eq!(lut.get(q), want, "input {q}");
        }
        // tanh(6.5) is 127.9997 steps: 128, saturated to 127; tanh(-6.25) rounds to -128.
        assert_eq!(lut.get(127), 127);
        assert_eq!(lut.get(-128), -128);
        let x: [i8; 4] = [-128, -3, 0, 127];
        let mut y = [0i8; 3];
        lut.apply(&x, &mut y);
        assert_eq!(y, [lut.get(-128), 0, lut.get(0)]);
    }

    #[test]
    fn nan_becomes_the_zero_point() {
        let q = QuantParams {
            scale: 0.1,
            zero_point: 7,
        };
        let lut = LutI8::from_fn(q, q, |_| f32::NAN);
        assert!(lut.table.iter().all(|&v| v == 7));
    }
}
