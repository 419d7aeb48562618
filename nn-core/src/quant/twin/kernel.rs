//! What the int8 layers derive from their public fields: the quantization of a channel's
//! weights and bias, and the per-channel state the vector kernels read ([`Kernel`]).

use generic_array::{ArrayLength, GenericArray};

use super::super::ops::Output;
use super::super::simd;
use super::super::{FusedActivation, QuantParams, Requantize, Rounding};

/// Quantizes one output channel: its weights `row` symmetrically into `q`
/// (`scale = max |w| / 127`, 1 for a channel of zeros; `round(w / scale)` in `[-127, 127]`)
/// and its bias as an int32 in units of `input.scale * scale`. Returns the scale and the bias.
pub(super) fn quantize_channel(
    row: impl Iterator<Item = f32> + Clone,
    q: &mut [i8],
    bias: f32,
    input: QuantParams,
) -> (f32, i32) {
    let m = row.clone().fold(0.0f32, |m, v| m.max(v.abs()));
    let s = if m > 0.0 && m.is_finite() {
        m / 127.0
    } else {
        1.0
    };
    for (q, v) in q.iter_mut().zip(row) {
        *q = libm::roundf(v / s).clamp(-127.0, 127.0) as i8;
    }
    let b = libm::round(bias as f64 / (input.scale as f64 * s as f64));
    (s, b.clamp(i32::MIN as f64, i32::MAX as f64) as i32)
}

/// What the vector kernels keep for each output channel of a dense layer or convolution,
/// derived once from its public fields: the bias they start from (the input enters as unsigned
/// bytes, `x + 128`, so `bias - (128 + input.zero_point) * sum of the channel's weights`), the
/// fixed-point multipliers and shifts side by side for vector loads, and the output's zero
/// point with the activation's clamp.
#[derive(Clone)]
pub(super) struct Kernel<C: ArrayLength> {
    pub(super) offset: GenericArray<i32, C>,
    pub(super) multiplier: GenericArray<i32, C>,
    pub(super) shift: GenericArray<i32, C>,
    /// The shifts prepared for the vector requantization (`simd::Prep`).
    pub(super) left: GenericArray<i32, C>,
    pub(super) right: GenericArray<i32, C>,
    pub(super) mask: GenericArray<i32, C>,
    pub(super) half: GenericArray<i32, C>,
    pub(super) out: Output,
}

/// The single rounding's constants of a dense layer's outputs (`simd::Prep::once`, in the
/// order of `simd::Prep::once_index`), where its output is clamped at or above its zero point
/// and every output has one; else `None`. Kept by [`super::DenseI8`] beside its [`Kernel`]
/// (which the convolutions share: they have no use for the constants).
#[cfg(target_arch = "x86_64")]
pub(super) fn once_constants<C: ArrayLength>(k: &Kernel<C>) -> Option<GenericArray<i64, C>> {
    if k.out.range.0 < k.out.zero_point {
        return None;
    }
    let mut once = GenericArray::<i64, C>::default();
    let all = (0..C::USIZE).all(|c| {
        simd::Prep::once(k.shift[c], k.out.zero_point)
            .map(|v| once[simd::Prep::once_index(C::USIZE, c)] = v)
            .is_some()
    });
    all.then_some(once)
}

impl<C: ArrayLength> Kernel<C> {
    /// The requantization of each channel (`input.scale * weight_scale[c] / output.scale`).
    pub(super) fn requantizations(
        weight_scale: &GenericArray<f32, C>,
        input: QuantParams,
        output: QuantParams,
    ) -> GenericArray<Requantize, C> {
        let mut requant: GenericArray<Requantize, C> = GenericArray::default();
        for (r, &s) in requant.iter_mut().zip(weight_scale.iter()) {
            *r = Requantize::new(input.scale, s, output.scale);
        }
        requant
    }

    /// The state for channels with biases `bias`, requantizations `requant` and weight sums
    /// `sums` (one per channel, in order).
    pub(super) fn new(
        bias: &GenericArray<i32, C>,
        requant: &GenericArray<Requantize, C>,
        sums: impl Iterator<Item = i32>,
        (input, output, activation): (QuantParams, QuantParams, FusedActivation),
    ) -> Self {
        let flip = 128 + input.zero_point;
        let mut k = Kernel {
            offset: GenericArray::default(),
            multiplier: GenericArray::default(),
            shift: GenericArray::default(),
            left: GenericArray::default(),
            right: GenericArray::default(),
            mask: GenericArray::default(),
            half: GenericArray::default(),
            out: Output {
                zero_point: output.zero_point,
                range: activation.range(output),
            },
        };
        for (c, sum) in sums.enumerate().take(C::USIZE) {
            k.offset[c] = bias[c].wrapping_sub(flip.wrapping_mul(sum));
            (k.multiplier[c], k.shift[c]) = (requant[c].multiplier, requant[c].shift);
            (k.left[c], k.right[c], k.mask[c], k.half[c]) = simd::Prep::of(k.shift[c]);
        }
        k
    }

    /// The kernels' view of the requantization.
    pub(super) fn requant<'a>(
        &'a self,
        exact: &'a [Requantize],
        rounding: Rounding,
    ) -> simd::Requant<'a> {
        simd::Requant {
            multiplier: &self.multiplier,
            shift: &self.shift,
            exact,
            rounding,
            out: self.out,
            prep: Some(simd::Prep {
                left: &self.left,
                right: &self.right,
                mask: &self.mask,
                half: &self.half,
                once: &[],
            }),
        }
    }
}
