//! [`TensorI8`], the int8 tensors between the layers of a twin.

use core::fmt;

use generic_array::typenum::Unsigned;
use generic_array::GenericArray;

use super::super::fixed;
use super::super::simd::{self, Isa8};
use super::super::{QuantParams, Rounding};
use crate::tensor::{Shape, Tensor};

/// An int8 tensor of shape `S`: the values between the layers of an int8 twin, each standing
/// for `scale * (q - zero_point)` with the quantization of the tensor.
#[repr(transparent)]
pub struct TensorI8<S: Shape> {
    data: GenericArray<i8, S::Len>,
}

impl<S: Shape> Clone for TensorI8<S> {
    fn clone(&self) -> Self {
        TensorI8 {
            data: self.data.clone(),
        }
    }
}

impl<S: Shape> PartialEq for TensorI8<S> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl<S: Shape> fmt::Debug for TensorI8<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<S: Shape> Default for TensorI8<S> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<S: Shape> TensorI8<S> {
    /// All zeros.
    pub fn zeros() -> Self {
        TensorI8 {
            data: GenericArray::default(),
        }
    }

    /// `N` tensors of zeros, written in place (`array::from_fn` of [`TensorI8::zeros`] built
    /// them aside and copied them over: a `memcpy` per layer and chunk in `forward_batch`).
    #[inline(always)]
    pub fn zeros_array<const N: usize>() -> [Self; N] {
        // SAFETY: `TensorI8` is `repr(transparent)` over an array of `i8`, for which all-zero
        // bytes are a valid value (zero).
        unsafe { core::mem::zeroed() }
    }

    /// The values, in the layout of `Tensor<S>` (channels first).
    pub fn as_slice(&self) -> &[i8] {
        &self.data
    }

    /// The values, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [i8] {
        &mut self.data
    }

    /// `x` quantized with `q` (round half away from zero, saturated).
    pub fn quantize(x: &Tensor<S>, q: QuantParams) -> Self {
        Self::quantize_with(x, q, Rounding::FixedPoint)
    }

    /// `x` quantized with `q`, rounded as `rounding` says: onnxruntime's `QuantizeLinear`
    /// ([`fixed::quantize_onnx`], half to even) for [`Rounding::Onnx`], else
    /// [`TensorI8::quantize`] (TFLite's, half away from zero).
    pub fn quantize_with(x: &Tensor<S>, q: QuantParams, rounding: Rounding) -> Self {
        let mut out = Self::zeros();
        out.quantize_from(x, q, rounding);
        out
    }

    /// [`TensorI8::quantize_with`] into `self` (no copy of a returned tensor).
    #[inline]
    pub fn quantize_from(&mut self, x: &Tensor<S>, q: QuantParams, rounding: Rounding) {
        if rounding != Rounding::Onnx {
            let isa = Isa8::detect();
            return simd::quantize(isa, x.as_slice(), q.scale, q.zero_point, &mut self.data);
        }
        for (o, &v) in self.data.iter_mut().zip(x.as_slice()) {
            *o = fixed::quantize_onnx(v, q.scale, q.zero_point);
        }
    }

    /// [`TensorI8::quantize_many`], rounded as `rounding` says ([`TensorI8::quantize_with`]).
    pub fn quantize_many_with(
        xs: &[Tensor<S>],
        q: QuantParams,
        out: &mut [Self],
        rounding: Rounding,
    ) {
        if rounding != Rounding::Onnx {
            return Self::quantize_many(xs, q, out);
        }
        for (x, o) in xs.iter().zip(out.iter_mut()) {
            *o = Self::quantize_with(x, q, rounding);
        }
    }

    /// [`TensorI8::quantize`] of several tensors into `out` (one vector pass over all).
    pub fn quantize_many(xs: &[Tensor<S>], q: QuantParams, out: &mut [Self]) {
        let n = xs.len().min(out.len());
        simd::quantize_stored(
            Isa8::detect(),
            Tensor::flatten_batch(&xs[..n]),
            q.scale,
            q.zero_point,
            Self::flat_mut(&mut out[..n]),
        );
    }

    /// The real values with quantization `q`.
    pub fn dequantize(&self, q: QuantParams) -> Tensor<S> {
        let mut out = Tensor::<S>::zeros();
        for (o, &v) in out.as_mut_slice().iter_mut().zip(self.as_slice()) {
            *o = q.dequantize(v);
        }
        out
    }

    /// The values of several tensors side by side (`xs.len() * S::Len` bytes).
    pub fn flat(xs: &[Self]) -> &[i8] {
        // SAFETY: `TensorI8` is `repr(transparent)` over a `GenericArray<i8, _>`, which has the
        // layout of an array of bytes: a slice of them is `len * S::Len` contiguous bytes.
        unsafe { core::slice::from_raw_parts(xs.as_ptr() as *const i8, xs.len() * S::Len::USIZE) }
    }

    /// [`TensorI8::flat`], mutable.
    pub fn flat_mut(xs: &mut [Self]) -> &mut [i8] {
        // SAFETY: as in `flat`.
        unsafe {
            core::slice::from_raw_parts_mut(xs.as_mut_ptr() as *mut i8, xs.len() * S::Len::USIZE)
        }
    }

    /// The same values as a tensor of another shape with as many values (`Flatten`).
    pub fn reshape<T: Shape<Len = S::Len>>(self) -> TensorI8<T> {
        TensorI8 { data: self.data }
    }

    /// `max(x, zero_point)` in place: ReLU on values with that zero point.
    pub fn relu(&mut self, zero_point: i32) {
        let z = zero_point.clamp(i8::MIN as i32, i8::MAX as i32) as i8;
        for v in self.data.iter_mut() {
            *v = (*v).max(z);
        }
    }
}
