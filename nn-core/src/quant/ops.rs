//! int8 kernels with TensorFlow Lite's reference arithmetic, on this crate's layouts: tensors
//! channels first (`[C][L]`, `[C][H][W]`), dense weights `[out][in]`, convolution weights
//! `[out][in][k]` / `[out][in][kh][kw]` (PyTorch's). Plain loops: every bound comes from the
//! arguments, which the callers (generated code) pass as constants.
//!
//! Offsets follow TFLite: the input's zero point is subtracted before multiplying (weights are
//! symmetric), the bias (int32, scale `input_scale * weight_scale[c]`) starts the sum, and
//! [`Requantize`] brings each channel back to int8.

use super::fixed::{multiply_by_quantized_multiplier_smaller_than_one, quantize_multiplier};
use super::{Requantize, Rounding};

/// Where a quantized layer's output goes: its zero point and the int8 range of its fused
/// activation ([`FusedActivation::range`](super::FusedActivation::range)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// The output's zero point.
    pub zero_point: i32,
    /// The clamp `[min, max]` (the int8 range, narrowed by a fused ReLU or ReLU6).
    pub range: (i32, i32),
}

/// `y[o] = requant[o](bias[o] + sum_i (x[i] - x_zero) * w[o][i])`: TFLite's per-channel
/// `FullyConnected`, with the accumulator scaled back by `rounding` (LiteRT's reference kernel
/// rounds in `f64`, every integer-only runtime in fixed point). `w` is `[out][in]`; `y.len()`
/// outputs of `x.len()` inputs each.
#[allow(clippy::too_many_arguments)]
pub fn dense(
    x: &[i8],
    x_zero: i32,
    w: &[i8],
    bias: &[i32],
    requant: &[Requantize],
    rounding: Rounding,
    out: Output,
    y: &mut [i8],
) {
    let n = x.len();
    for (o, y) in y.iter_mut().enumerate() {
        let row = &w[o * n..(o + 1) * n];
        *y = dense_output(x, x_zero, row, bias[o], requant[o], rounding, out);
    }
}

/// One output of [`dense`]: `requant(bias + sum_i (x[i] - x_zero) * row[i])`.
#[inline]
pub fn dense_output(
    x: &[i8],
    x_zero: i32,
    row: &[i8],
    bias: i32,
    requant: Requantize,
    rounding: Rounding,
    out: Output,
) -> i8 {
    let mut acc = bias;
    for (&xi, &wi) in x.iter().zip(row) {
        acc += (xi as i32 - x_zero) * wi as i32;
    }
    requant.apply_with(rounding, acc, out.zero_point, out.range)
}

/// The geometry of a 2-D window over a `[C][H][W]` tensor: kernel, stride and padding (top,
/// left, bottom, right; padding is never read: TFLite skips those taps, which for a
/// convolution is the same as reading the zero point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window2 {
    /// Input channels, height and width.
    pub input: (usize, usize, usize),
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Stride along height and width.
    pub stride: (usize, usize),
    /// Padding on top and left (the window's origin is shifted by them).
    pub pad: (usize, usize),
    /// Output height and width.
    pub output: (usize, usize),
}

impl Window2 {
    /// The input positions `(row, col)` of window tap `(ki, kj)` for output `(oy, ox)`, or
    /// `None` in the padding.
    #[inline]
    fn tap(&self, oy: usize, ox: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let r = (oy * self.stride.0 + ki).checked_sub(self.pad.0)?;
        let c = (ox * self.stride.1 + kj).checked_sub(self.pad.1)?;
        (r < self.input.1 && c < self.input.2).then_some((r, c))
    }
}

/// 2-D convolution, TFLite's per-channel `Conv` on channels-first tensors: `x` is `[C][H][W]`,
/// `w` `[O][C][KH][KW]`, `y` `[O][OH][OW]` with `O = bias.len()`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    x: &[i8],
    x_zero: i32,
    g: Window2,
    w: &[i8],
    bias: &[i32],
    requant: &[Requantize],
    out: Output,
    y: &mut [i8],
) {
    let k = g.input.0 * g.kernel.0 * g.kernel.1;
    conv2d_strided(x, x_zero, g, (w, k), bias, requant, out, y);
}

/// [`conv2d`] with filter `o` at `w[o * stride..]` (filters padded to `stride`).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_strided(
    x: &[i8],
    x_zero: i32,
    g: Window2,
    (w, stride): (&[i8], usize),
    bias: &[i32],
    requant: &[Requantize],
    out: Output,
    y: &mut [i8],
) {
    let rounding = Rounding::FixedPoint;
    conv2d_strided_with(x, x_zero, g, (w, stride), bias, requant, (out, rounding), y);
}

/// [`conv2d_strided`] with the accumulators scaled back as `rounding` says.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_strided_with(
    x: &[i8],
    x_zero: i32,
    g: Window2,
    (w, stride): (&[i8], usize),
    bias: &[i32],
    requant: &[Requantize],
    (out, rounding): (Output, Rounding),
    y: &mut [i8],
) {
    let (c_in, h, wd) = g.input;
    let (kh, kw) = g.kernel;
    let (oh, ow) = g.output;
    for o in 0..bias.len() {
        let filter = &w[o * stride..o * stride + c_in * kh * kw];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = bias[o];
                for c in 0..c_in {
                    for ki in 0..kh {
                        for kj in 0..kw {
                            if let Some((r, col)) = g.tap(oy, ox, ki, kj) {
                                let xv = x[(c * h + r) * wd + col] as i32 - x_zero;
                                acc += xv * filter[(c * kh + ki) * kw + kj] as i32;
                            }
                        }
                    }
                }
                y[(o * oh + oy) * ow + ox] =
                    requant[o].apply_with(rounding, acc, out.zero_point, out.range);
            }
        }
    }
}

/// 2-D max pooling per channel (input and output share their quantization), clamped to
/// `range`: TFLite's int8 `MaxPool`.
pub fn max_pool2d(x: &[i8], g: Window2, range: (i32, i32), y: &mut [i8]) {
    let inside = |o: usize, s: usize, k: usize, n: usize| o == 0 || (o - 1) * s + k <= n;
    if g.pad == (0, 0)
        && inside(g.output.0, g.stride.0, g.kernel.0, g.input.1)
        && inside(g.output.1, g.stride.1, g.kernel.1, g.input.2)
    {
        return max_pool2d_inside(x, g, range, y);
    }
    pool2d(x, g, y, |plane, wd, (r0, r1), (c0, c1)| {
        let mut m = i8::MIN;
        for row in plane[r0 * wd..r1 * wd].chunks_exact(wd) {
            for &v in &row[c0..c1] {
                m = m.max(v);
            }
        }
        (m as i32).clamp(range.0, range.1) as i8
    });
}

/// [`max_pool2d`] without padding (every window inside the input): the output rows are the
/// running maxima of the input rows under them.
fn max_pool2d_inside(x: &[i8], g: Window2, range: (i32, i32), y: &mut [i8]) {
    let (c_in, h, wd) = g.input;
    let (oh, ow) = g.output;
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let (lo, hi) = (
        range.0.clamp(-128, 127) as i8,
        range.1.clamp(-128, 127) as i8,
    );
    for (plane, out) in x
        .chunks_exact(h * wd)
        .zip(y.chunks_exact_mut(oh * ow))
        .take(c_in)
    {
        if (kh, kw, sh, sw) == (2, 2, 2, 2) {
            // The common 2 x 2 pooling: pairs of rows, pairs of columns.
            for oy in 0..oh {
                let r0 = &plane[2 * oy * wd..][..2 * ow];
                let r1 = &plane[(2 * oy + 1) * wd..][..2 * ow];
                let o = &mut out[oy * ow..][..ow];
                for ox in 0..ow {
                    let a = r0[2 * ox].max(r0[2 * ox + 1]);
                    let b = r1[2 * ox].max(r1[2 * ox + 1]);
                    o[ox] = a.max(b).clamp(lo, hi);
                }
            }
            continue;
        }
        for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
            out_row.fill(i8::MIN);
            for ki in 0..kh {
                let row = &plane[(oy * sh + ki) * wd..][..wd];
                for (ox, o) in out_row.iter_mut().enumerate() {
                    for &v in &row[ox * sw..ox * sw + kw] {
                        *o = (*o).max(v);
                    }
                }
            }
            for o in out_row.iter_mut() {
                *o = (*o).clamp(lo, hi);
            }
        }
    }
}

/// 2-D average pooling per channel (input and output share their quantization), clamped to
/// `range`: TFLite's int8 `AveragePool`, the sum divided by the count rounded half away from
/// zero. With `pad_zero_point: None` the count is the taps inside the input (TFLite's only
/// behaviour); with `Some(z)` every tap of the window counts and padding reads `z`, the
/// quantized 0 (PyTorch's `count_include_pad=True`).
pub fn avg_pool2d(
    x: &[i8],
    g: Window2,
    pad_zero_point: Option<i32>,
    range: (i32, i32),
    y: &mut [i8],
) {
    let window = (g.kernel.0 * g.kernel.1) as i32;
    pool2d(x, g, y, |plane, wd, (r0, r1), (c0, c1)| {
        let mut sum = 0i32;
        for row in plane[r0 * wd..r1 * wd].chunks_exact(wd) {
            for &v in &row[c0..c1] {
                sum += v as i32;
            }
        }
        let inside = ((r1 - r0) * (c1 - c0)) as i32;
        let count = match pad_zero_point {
            Some(z) => {
                sum += (window - inside) * z;
                window
            }
            None => inside.max(1),
        };
        // C++'s truncating division, after adding half the count away from zero.
        let avg = if sum > 0 {
            (sum + count / 2) / count
        } else {
            (sum - count / 2) / count
        };
        avg.clamp(range.0, range.1) as i8
    });
}

/// Applies `reduce` to every window of every channel: it gets the channel's plane, its
/// width, and the rows and columns of the window inside the input (half-open ranges).
fn pool2d(
    x: &[i8],
    g: Window2,
    y: &mut [i8],
    reduce: impl Fn(&[i8], usize, (usize, usize), (usize, usize)) -> i8,
) {
    let (c_in, h, wd) = g.input;
    let (oh, ow) = g.output;
    let span = |o: usize, stride: usize, pad: usize, k: usize, n: usize| {
        let start = o * stride;
        let lo = start.max(pad) - pad;
        let hi = (start + k).saturating_sub(pad).min(n);
        (lo, hi.max(lo))
    };
    for c in 0..c_in {
        let plane = &x[c * h * wd..(c + 1) * h * wd];
        let out = &mut y[c * oh * ow..(c + 1) * oh * ow];
        for oy in 0..oh {
            let rows = span(oy, g.stride.0, g.pad.0, g.kernel.0, h);
            for ox in 0..ow {
                let cols = span(ox, g.stride.1, g.pad.1, g.kernel.1, wd);
                out[oy * ow + ox] = reduce(plane, wd, rows, cols);
            }
        }
    }
}

/// The addition of two int8 tensors with their own quantizations (a residual block's sum):
/// TFLite's int8 `Add`. Both inputs are brought to a common scale (twice the larger input
/// scale) with 20 bits of headroom, added, and requantized to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddParams {
    /// The first input's zero point.
    pub a_zero: i32,
    /// The second input's zero point.
    pub b_zero: i32,
    /// The first input's multiplier and shift (below one).
    pub a: (i32, i32),
    /// The second input's multiplier and shift (below one).
    pub b: (i32, i32),
    /// The output's multiplier and shift.
    pub out: (i32, i32),
    /// The output's zero point and clamp.
    pub output: Output,
}

/// The headroom of [`add`]: inputs are shifted left by 20 bits before rescaling.
const ADD_LEFT_SHIFT: i32 = 20;

impl AddParams {
    /// The parameters for inputs with scales `a_scale`, `b_scale` and an output with scale
    /// `out_scale`, computed as TFLite's `PrepareGeneralSubOp`/`Add` prepare does (in `f64`
    /// from the `f32` scales).
    pub fn new(
        (a_scale, a_zero): (f32, i32),
        (b_scale, b_zero): (f32, i32),
        out_scale: f32,
        output: Output,
    ) -> Self {
        let twice_max = 2.0 * a_scale.max(b_scale) as f64;
        let a = quantize_multiplier(a_scale as f64 / twice_max);
        let b = quantize_multiplier(b_scale as f64 / twice_max);
        let out =
            quantize_multiplier(twice_max / ((1i64 << ADD_LEFT_SHIFT) as f64 * out_scale as f64));
        AddParams {
            a_zero,
            b_zero,
            a,
            b,
            out,
            output,
        }
    }
}

/// `y = requant(rescale(a) + rescale(b))` elementwise ([`AddParams`]).
pub fn add(a: &[i8], b: &[i8], p: &AddParams, y: &mut [i8]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        let sa = (a as i32 - p.a_zero) * (1 << ADD_LEFT_SHIFT);
        let sb = (b as i32 - p.b_zero) * (1 << ADD_LEFT_SHIFT);
        let ra = multiply_by_quantized_multiplier_smaller_than_one(sa, p.a.0, p.a.1);
        let rb = multiply_by_quantized_multiplier_smaller_than_one(sb, p.b.0, p.b.1);
        let raw = multiply_by_quantized_multiplier_smaller_than_one(ra + rb, p.out.0, p.out.1)
            + p.output.zero_point;
        *y = raw.clamp(p.output.range.0, p.output.range.1) as i8;
    }
}
