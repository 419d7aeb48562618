//! hls4ml's layers in fixed point, bit for bit as its C simulation computes them (hls4ml 1.3,
//! Vivado/Vitis backend, `io_parallel`, `Strategy: Latency`), on this crate's layouts: vectors,
//! `[C][L]` signals and `[C][H][W]` images (channels first), dense weights `[out][in]`,
//! convolution weights `[out][in][k]` / `[out][in][kh][kw]` (PyTorch's).
//!
//! Every value is a raw integer ([`Fixed::raw`]) of a type ([`Spec`]) the caller names; the
//! functions allocate nothing and loop over bounds taken from their arguments (the generated
//! twin passes constants). Where hls4ml's result depends on the order of operations (an
//! `AP_SAT` accumulator saturates at every step), the order is hls4ml's own, given per
//! function with the source lines (`templates/vivado/nnet_utils/` of hls4ml 1.3).
//!
//! Weights: hls4ml's C simulation reads its weights from text, printed from Keras's `float32`
//! with `F = max(0, fractional bits)` decimals; [`hls4ml_text_value`] reproduces that round trip
//! so that a twin built from `f32` weights holds exactly the C simulation's weights.

use core::fmt::{self, Write as _};

use super::{Fixed, Spec};

/// The types of a Dense or convolution layer (hls4ml's `weight_t`, `bias_t`, `accum_t`,
/// `result_t`). The input's type is the previous layer's `result_t` and is passed separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DensePrecision {
    /// `weight_t`: the type the weights are stored in.
    pub weight: Spec,
    /// `bias_t`: the type the biases are stored in.
    pub bias: Spec,
    /// `accum_t`: every product and every partial sum is converted into it.
    pub accum: Spec,
    /// `result_t`: the accumulator is converted into it at the end.
    pub result: Spec,
}

impl DensePrecision {
    /// The same type everywhere (hls4ml's `Precision: ap_fixed<16,6>` default).
    pub const fn uniform(spec: Spec) -> DensePrecision {
        DensePrecision {
            weight: spec,
            bias: spec,
            accum: spec,
            result: spec,
        }
    }

    /// Panics unless the exact product of an `input` and a weight fits 64 bits and the
    /// accumulator has at most 62 bits (so that the exact sum of two accumulator values fits an
    /// `i64`).
    fn check(&self, input: Spec) {
        assert!(
            input.mul_spec(self.weight).is_some(),
            "fixed-point product of {input} and {} is wider than 64 bits",
            self.weight
        );
        assert!(
            self.accum.width() <= 62,
            "fixed-point accumulators are limited to 62 bits"
        );
    }
}

/// `(to) (a + b)` for two values of type `to`: the exact sum converted back (only overflow can
/// apply: same fractional bits), as `ap_fixed`'s `a += b`.
#[inline]
fn add_into(to: Spec, a: i64, b: i64) -> i64 {
    to.from_scaled(a + b, to.frac_bits()).raw
}

/// One output of hls4ml's matrix-vector kernel: `acc = (accum_t) bias`, then for each tap in
/// order `acc = (accum_t)(acc + (accum_t)(x * w))`, then `(result_t) acc`. `taps` yields
/// `(x, w)` raw pairs, `None` for a zero-padded input (its product is 0 and is still added,
/// which changes nothing).
#[inline]
fn mac(
    bias: i64,
    taps: impl Iterator<Item = (i64, i64)>,
    prod_frac: i32,
    p: &DensePrecision,
) -> i64 {
    let mut acc = p.accum.cast(Fixed::from_raw(bias), p.bias).raw;
    for (x, w) in taps {
        let m = p.accum.from_scaled(x * w, prod_frac).raw;
        acc = add_into(p.accum, acc, m);
    }
    p.result.cast(Fixed::from_raw(acc), p.accum).raw
}

/// hls4ml's Dense (`nnet_dense_latency.h` 12-68, `dense_latency`): for each output `o`,
/// `acc = (accum_t) b[o]`; for `i = 0, 1, ..., n_in - 1` in order,
/// `acc = (accum_t)(acc + (accum_t)(x[i] * w[o][i]))` (line 42 casts each exact product, lines
/// 53-60 add in input order, each `+=` converting the exact sum back into `accum_t`); then
/// `y[o] = (result_t) acc` (line 66). With an `AP_WRAP` accumulator the order does not matter;
/// with `AP_SAT` it does, and this is hls4ml's.
///
/// `x`: `n_in = x.len()` raw values of type `x_spec`; `w`: `[out][in]` raw `weight_t` (row `o`
/// holds output `o`'s weights; hls4ml's own array is the transpose, `[in][out]`); `b`:
/// `y.len()` raw `bias_t`; `y`: raw `result_t`.
///
/// Panics if the product of `x_spec` and `weight_t` is wider than 64 bits or `accum_t` wider
/// than 62, or if `w`/`b` are shorter than the shapes need.
pub fn dense(x: &[i64], x_spec: Spec, w: &[i64], b: &[i64], p: &DensePrecision, y: &mut [i64]) {
    p.check(x_spec);
    let n = x.len();
    let prod_frac = x_spec.frac_bits() + p.weight.frac_bits();
    for (o, y) in y.iter_mut().enumerate() {
        let row = &w[o * n..(o + 1) * n];
        *y = mac(
            b[o],
            x.iter().copied().zip(row.iter().copied()),
            prod_frac,
            p,
        );
    }
}

/// The geometry of a 2-D window over a `[C][H][W]` tensor (convolution or pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window2d {
    /// Input channels, height and width.
    pub input: (usize, usize, usize),
    /// Kernel (pool) height and width.
    pub kernel: (usize, usize),
    /// Stride along height and width.
    pub stride: (usize, usize),
    /// Zero padding on top and left: the window of output `(oy, ox)` starts at input row
    /// `oy * stride.0 - pad.0`, column `ox * stride.1 - pad.1`. (Padding at the bottom and
    /// right is implied by `output`.)
    pub pad: (usize, usize),
    /// Output height and width.
    pub output: (usize, usize),
}

impl Window2d {
    /// The geometry of PyTorch's / Keras's layers: output `floor((H + top + bottom - KH) / SH)
    /// + 1` (likewise the width) for padding `(top, bottom, left, right)`.
    pub const fn new(
        input: (usize, usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize, usize, usize),
    ) -> Window2d {
        let (_, h, w) = input;
        let (pt, pb, pl, pr) = padding;
        Window2d {
            input,
            kernel,
            stride,
            pad: (pt, pl),
            output: (
                (h + pt + pb - kernel.0) / stride.0 + 1,
                (w + pl + pr - kernel.1) / stride.1 + 1,
            ),
        }
    }

    /// The input cell `(row, col)` of tap `(ki, kj)` of output `(oy, ox)`, or `None` in the
    /// padding.
    #[inline]
    fn tap(&self, oy: usize, ox: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let r = (oy * self.stride.0 + ki).checked_sub(self.pad.0)?;
        let c = (ox * self.stride.1 + kj).checked_sub(self.pad.1)?;
        (r < self.input.1 && c < self.input.2).then_some((r, c))
    }

    /// The number of taps of output `(oy, ox)` inside the input.
    fn overlap(&self, oy: usize, ox: usize) -> usize {
        let mut n = 0;
        for ki in 0..self.kernel.0 {
            for kj in 0..self.kernel.1 {
                n += self.tap(oy, ox, ki, kj).is_some() as usize;
            }
        }
        n
    }
}

/// The geometry of a 1-D window over a `[C][L]` signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window1d {
    /// Input channels and length.
    pub input: (usize, usize),
    /// Kernel (pool) length.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on the left (the window of output `ox` starts at `ox * stride - pad`).
    pub pad: usize,
    /// Output length.
    pub output: usize,
}

impl Window1d {
    /// Output `floor((L + left + right - K) / S) + 1` for padding `(left, right)`.
    pub const fn new(
        input: (usize, usize),
        kernel: usize,
        stride: usize,
        padding: (usize, usize),
    ) -> Window1d {
        Window1d {
            input,
            kernel,
            stride,
            pad: padding.0,
            output: (input.1 + padding.0 + padding.1 - kernel) / stride + 1,
        }
    }

    #[inline]
    fn tap(&self, ox: usize, k: usize) -> Option<usize> {
        let i = (ox * self.stride + k).checked_sub(self.pad)?;
        (i < self.input.1).then_some(i)
    }

    /// The same window as a 2-D one of height 1.
    const fn as_2d(&self) -> Window2d {
        Window2d {
            input: (self.input.0, 1, self.input.1),
            kernel: (1, self.kernel),
            stride: (1, self.stride),
            pad: (0, self.pad),
            output: (1, self.output),
        }
    }
}

/// hls4ml's Conv2D (`nnet_conv2d.h` 42-57 -> `nnet_conv2d_latency.h` 10-86,
/// `conv_2d_latency_cl`) on a `[C][H][W]` input: for each output pixel the im2col buffer
/// (`fill_buffer`, generated by `fpga_backend.py` `_compute_conv2d_im2col`: padded cells are
/// `0`) goes through the Dense steps (see [`dense`]) with the taps in hls4ml's order
/// `i_in = (kh * KW + kw) * C + c`, i.e. `for kh { for kw { for c } }` (lines 69-76).
///
/// `w`: `[out][in][kh][kw]` raw `weight_t` (hls4ml's is `[kh][kw][in][out]`); `b`: `out` raw
/// `bias_t`; `y`: `[out][OH][OW]` raw `result_t` with `out = b.len()`. Zero padding is
/// supported (hls4ml's `padding="same"` and PyTorch's `padding=`): a padded tap multiplies 0.
///
/// Panics as [`dense`].
pub fn conv2d(
    x: &[i64],
    x_spec: Spec,
    g: Window2d,
    w: &[i64],
    b: &[i64],
    p: &DensePrecision,
    y: &mut [i64],
) {
    p.check(x_spec);
    let (c_in, h, wd) = g.input;
    let (kh, kw) = g.kernel;
    let (oh, ow) = g.output;
    let prod_frac = x_spec.frac_bits() + p.weight.frac_bits();
    let k = c_in * kh * kw;
    for (o, &bias) in b.iter().enumerate() {
        let filter = &w[o * k..(o + 1) * k];
        for oy in 0..oh {
            for ox in 0..ow {
                let taps = (0..kh).flat_map(move |ki| {
                    (0..kw).flat_map(move |kj| {
                        let cell = g.tap(oy, ox, ki, kj);
                        (0..c_in).map(move |c| {
                            let xv = match cell {
                                Some((r, col)) => x[(c * h + r) * wd + col],
                                None => 0,
                            };
                            (xv, filter[(c * kh + ki) * kw + kj])
                        })
                    })
                });
                y[(o * oh + oy) * ow + ox] = mac(bias, taps, prod_frac, p);
            }
        }
    }
}

/// hls4ml's Conv1D (`nnet_conv1d.h` -> `nnet_conv1d_latency.h` 10-87, `conv_1d_latency_cl`)
/// on a `[C][L]` input: per output position the im2col buffer (`_compute_conv1d_im2col`:
/// padded cells `0`) goes through the Dense steps with the taps in the order
/// `i_in = kw * C + c`, i.e. `for kw { for c }` (`Accum1`, lines 68-76). The pointwise kernel
/// (`K = 1`, `pointwise_conv_1d_latency_cl`, lines 89-160) adds in channel order too, so it is
/// the same computation.
///
/// `w`: `[out][in][k]` raw `weight_t` (hls4ml's is `[k][in][out]`); `y`: `[out][OL]`.
/// Panics as [`dense`].
pub fn conv1d(
    x: &[i64],
    x_spec: Spec,
    g: Window1d,
    w: &[i64],
    b: &[i64],
    p: &DensePrecision,
    y: &mut [i64],
) {
    p.check(x_spec);
    let (c_in, len) = g.input;
    let k = g.kernel;
    let ol = g.output;
    let prod_frac = x_spec.frac_bits() + p.weight.frac_bits();
    for (o, &bias) in b.iter().enumerate() {
        let filter = &w[o * c_in * k..(o + 1) * c_in * k];
        for ox in 0..ol {
            let taps = (0..k).flat_map(move |kj| {
                let cell = g.tap(ox, kj);
                (0..c_in).map(move |c| {
                    let xv = match cell {
                        Some(i) => x[c * len + i],
                        None => 0,
                    };
                    (xv, filter[c * k + kj])
                })
            });
            y[o * ol + ox] = mac(bias, taps, prod_frac, p);
        }
    }
}

/// Element-wise conversion `y[i] = (to) x[i]` (hls4ml's `linear` activation, and any
/// `res_T = data_T` assignment).
pub fn cast(x: &[i64], from: Spec, to: Spec, y: &mut [i64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = to.cast(Fixed::from_raw(x), from).raw;
    }
}

/// hls4ml's ReLU (`nnet_activation.h` 39-50): `res = data > 0 ? (res_T) data : 0`, the
/// conversion with the output type's modes (an `ap_ufixed<12,4,AP_RND,AP_SAT>` output rounds
/// and saturates).
pub fn relu(x: &[i64], in_spec: Spec, out_spec: Spec, y: &mut [i64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x > 0 {
            out_spec.cast(Fixed::from_raw(x), in_spec).raw
        } else {
            0
        };
    }
}

/// hls4ml's `relu_max` (`nnet_activation.h` 52-66; `relu6` is `max = 6`): `data < 0 -> 0`,
/// `data > max -> (res_T) max`, else `(res_T) data`.
pub fn relu_max(x: &[i64], in_spec: Spec, out_spec: Spec, max: i64, y: &mut [i64]) {
    let max_out = out_spec.from_scaled(max, 0).raw;
    let f = in_spec.frac_bits();
    for (y, &x) in y.iter_mut().zip(x) {
        // `x > max` compared exactly: x * 2^-f > max.
        let above = if f >= 0 {
            (x as i128) > (max as i128) << f.min(100)
        } else {
            ((x as i128) << (-f).min(100)) > max as i128
        };
        *y = if x < 0 {
            0
        } else if above {
            max_out
        } else {
            out_spec.cast(Fixed::from_raw(x), in_spec).raw
        };
    }
}

/// The types of a pooling layer: hls4ml's `accum_t` (the pool operation returns it) and
/// `result_t` (the layer's output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolPrecision {
    /// `accum_t`: the pooled value's type (max: the maximum converted into it; average: the
    /// running sum's type).
    pub accum: Spec,
    /// `result_t`: the output type.
    pub result: Spec,
}

/// The padding value hls4ml's max pooling compares (`pad_val<T, Max>`, `nnet_pooling.h` 44-58):
/// `T` with only its top bit set: the most negative value of a signed type, but
/// `2^(W-1)` raw (half the range) for an unsigned one.
const fn max_pad(spec: Spec) -> i64 {
    if spec.is_signed() {
        spec.min_raw()
    } else {
        1i64 << (spec.width() - 1)
    }
}

/// hls4ml's 2-D max pooling (`pooling2d_cl`, `nnet_pooling.h` 170-225, with `max`, lines
/// 10-16) on a `[C][H][W]` input: per window `y = max(x)` compared in the input type (padded
/// cells hold hls4ml's `pad_val`: the most negative value for a signed type; for an *unsigned*
/// input hls4ml pads with `2^(W-1)` raw, and so does this), returned as `accum_t` and stored
/// as `result_t`: `y = (result_t)(accum_t) max`. Output `[C][OH][OW]`.
pub fn max_pool2d(x: &[i64], x_spec: Spec, g: Window2d, p: &PoolPrecision, y: &mut [i64]) {
    let (c_in, h, wd) = g.input;
    let (oh, ow) = g.output;
    let pad = max_pad(x_spec);
    for c in 0..c_in {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m: Option<i64> = None;
                for ki in 0..g.kernel.0 {
                    for kj in 0..g.kernel.1 {
                        let v = match g.tap(oy, ox, ki, kj) {
                            Some((r, col)) => x[(c * h + r) * wd + col],
                            None => pad,
                        };
                        m = Some(match m {
                            Some(m) if m >= v => m,
                            _ => v,
                        });
                    }
                }
                let acc = p.accum.cast(Fixed::from_raw(m.unwrap_or(0)), x_spec);
                y[(c * oh + oy) * ow + ox] = p.result.cast(acc, p.accum).raw;
            }
        }
    }
}

/// hls4ml's 1-D max pooling (`pooling1d_cl`, `nnet_pooling.h` 77-118) on a `[C][L]` input;
/// as [`max_pool2d`].
pub fn max_pool1d(x: &[i64], x_spec: Spec, g: Window1d, p: &PoolPrecision, y: &mut [i64]) {
    max_pool2d(x, x_spec, g.as_2d(), p, y);
}

/// hls4ml's 2-D average pooling (`pooling2d_cl` with `avg`, `nnet_pooling.h` 18-26): per
/// window `acc = 0` in `accum_t`, then `acc = (accum_t)(acc + x)` for every cell in row-major
/// order (padded cells are `0`), then `acc /= n` where `n` is the window size if `count_pad`
/// else the number of cells inside the input. `ap_fixed`'s `/=` by an integer keeps the
/// fractional bits and divides the raw value, truncating toward zero (`sdiv`,
/// `ap_fixed_base.h` 1097-1112); finally `y = (result_t) acc`. Output `[C][OH][OW]`.
///
/// Panics if `accum_t` is wider than 62 bits.
pub fn avg_pool2d(
    x: &[i64],
    x_spec: Spec,
    g: Window2d,
    count_pad: bool,
    p: &PoolPrecision,
    y: &mut [i64],
) {
    assert!(
        p.accum.width() <= 62,
        "fixed-point accumulators are limited to 62 bits"
    );
    let (c_in, h, wd) = g.input;
    let (oh, ow) = g.output;
    for c in 0..c_in {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0i64;
                for ki in 0..g.kernel.0 {
                    for kj in 0..g.kernel.1 {
                        if let Some((r, col)) = g.tap(oy, ox, ki, kj) {
                            // The exact sum of an accum_t and an input value, then into accum_t.
                            let v = x[(c * h + r) * wd + col];
                            acc = add_exact_into(p.accum, acc, v, x_spec);
                        } else {
                            acc = add_into(p.accum, acc, 0);
                        }
                    }
                }
                let n = if count_pad {
                    g.kernel.0 * g.kernel.1
                } else {
                    g.overlap(oy, ox)
                };
                // Rust's `/` on integers truncates toward zero, as `sdiv` does.
                let q = acc / n.max(1) as i64;
                let acc = p.accum.from_scaled(q, p.accum.frac_bits());
                y[(c * oh + oy) * ow + ox] = p.result.cast(acc, p.accum).raw;
            }
        }
    }
}

/// hls4ml's 1-D average pooling (`pooling1d_cl` with `avg`) on a `[C][L]` input; as
/// [`avg_pool2d`].
pub fn avg_pool1d(
    x: &[i64],
    x_spec: Spec,
    g: Window1d,
    count_pad: bool,
    p: &PoolPrecision,
    y: &mut [i64],
) {
    avg_pool2d(x, x_spec, g.as_2d(), count_pad, p, y);
}

/// `(to)(a + v)` for `a` of type `to` and `v` of type `v_spec`: the exact sum (on the finer of
/// the two grids) converted into `to`.
fn add_exact_into(to: Spec, a: i64, v: i64, v_spec: Spec) -> i64 {
    let (fa, fv) = (to.frac_bits(), v_spec.frac_bits());
    let f = fa.max(fv);
    let sum = ((a as i128) << (f - fa)) + ((v as i128) << (f - fv));
    match i64::try_from(sum) {
        Ok(s) => to.from_scaled(s, f),
        // Only for extreme type pairs: the sum needs more than 64 bits at the finer grid.
        // Quantize first (exactly, by halving the grid until it fits), then convert.
        Err(_) => {
            let mut s = sum;
            let mut f = f;
            while i64::try_from(s).is_err() {
                // Keep a sticky bit so that rounding still sees a nonzero remainder.
                s = (s >> 1) | (s & 1);
                f -= 1;
            }
            to.from_scaled(s as i64, f)
        }
    }
    .raw
}

/// The decimal text hls4ml's writer prints for a weight (`writer/vivado_writer.py` 18-71,
/// `print_array_to_cpp`, with the format of `model/types.py` 723-728): Python's
/// `'{:.Ff}'.format(w)` with `F = max(0, fractional bits of the weight's type)`: the `f32`'s
/// exact value correctly rounded to `F` decimals, ties to even, `-0.000` kept. At most 64 +
/// 576 characters; non-finite weights print as Rust prints them (`inf`, `NaN`).
#[derive(Clone)]
pub struct WeightText {
    buf: [u8; 640],
    len: usize,
}

impl WeightText {
    /// The text of `w` stored in `spec`.
    pub fn new(w: f32, spec: Spec) -> WeightText {
        let decimals = spec.frac_bits().max(0) as usize;
        let mut text = WeightText {
            buf: [0; 640],
            len: 0,
        };
        // Rust's fixed-precision formatting is exact with ties to even, as Python's.
        write!(text, "{:.*}", decimals, w as f64).expect("weight text fits 640 bytes");
        text
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).expect("ASCII")
    }
}

impl fmt::Write for WeightText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl fmt::Display for WeightText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for WeightText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The `double` hls4ml's C simulation reads for a Keras `float32` weight `w` stored in
/// `spec`: [`WeightText`] (the writer's `'{:.Ff}'`) parsed back as the nearest `f64`
/// (`std::istringstream >> double`, `nnet_helpers.h` 22-48). `spec.from_f64` of it is the C
/// simulation's weight. Non-finite weights give `0.0` (libstdc++'s `>>` does not read `inf` or
/// `nan` and leaves 0).
pub fn hls4ml_text_value(w: f32, spec: Spec) -> f64 {
    if !w.is_finite() {
        return 0.0;
    }
    WeightText::new(w, spec)
        .as_str()
        .parse()
        .expect("a formatted float parses")
}

/// The C simulation's raw weight for a Keras `float32` weight `w`:
/// `spec.from_f64(hls4ml_text_value(w, spec))`.
pub fn hls4ml_weight(w: f32, spec: Spec) -> i64 {
    spec.from_f64(hls4ml_text_value(w, spec)).raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Overflow, Quant};

    /// Python's `'{:.Ff}'.format(np.float32)` as hls4ml's writer calls it (numpy 2.4.6,
    /// CPython 3.11.7): (f32 bits, F, text).
    const PYTHON_TEXT: &[(u32, usize, &str)] = &include!("python_weight_text.in");

    #[test]
    fn weight_text_matches_python() {
        for &(bits, f, text) in PYTHON_TEXT {
            let w = f32::from_bits(bits);
            let spec = Spec::ap_fixed(64, 64 - f as i16);
            assert_eq!(WeightText::new(w, spec).as_str(), text, "{w:e} F={f}");
            let v: f64 = text.parse().unwrap();
            assert_eq!(hls4ml_text_value(w, spec).to_bits(), v.to_bits());
        }
        // I > W: F < 0 prints no decimals.
        assert_eq!(
            WeightText::new(2.5, Spec::ap_fixed(4, 8)).as_str(),
            "2",
            "ties to even"
        );
        assert_eq!(hls4ml_text_value(f32::NAN, Spec::ap_fixed(16, 6)), 0.0);
        // A weight off the grid is rounded to 10 decimals first: 2^-11 prints as 0.0004882812,
        // which truncates to 0 in ap_fixed<16,6>, as 2^-11 itself does; RND rounds it to 0 too
        // (below half an ulp once printed), though 2^-11 itself is a tie that RND rounds up.
        let rnd = Spec::ap_fixed(16, 6).with_quant(Quant::Rnd);
        assert_eq!(rnd.from_f64(libm::ldexp(1.0, -11)).raw, 1);
        assert_eq!(hls4ml_weight(libm::ldexpf(1.0, -11), rnd), 0);
    }

    fn spec16() -> Spec {
        Spec::ap_fixed(16, 6)
    }

    #[test]
    fn dense_saturates_in_order() {
        // accum ap_fixed<8,4,TRN,SAT> (max 7.9375): bias 7, then +2 (saturates at 7.9375), then
        // -3 -> 4.9375. In the other order: 7 - 3 + 2 = 6.
        let acc = Spec::ap_fixed(8, 4).with_overflow(Overflow::Sat);
        let p = DensePrecision {
            weight: spec16(),
            bias: spec16(),
            accum: acc,
            result: spec16(),
        };
        let one = 1 << 10;
        let x = [2 * one, -3 * one];
        let w = [one, one];
        let mut y = [0];
        dense(&x, spec16(), &w, &[7 * one], &p, &mut y);
        assert_eq!(y[0], (4 * one) + one * 15 / 16);
        dense(&[-3 * one, 2 * one], spec16(), &w, &[7 * one], &p, &mut y);
        assert_eq!(y[0], 6 * one);
    }

    #[test]
    fn conv_order_and_padding() {
        // 1 channel 2x2 input, 3x3 kernel of ones, padding 1: each output sums its neighbours.
        let s = spec16();
        let one = 1 << 10;
        let x = [one, 2 * one, 3 * one, 4 * one];
        let w = [one; 9];
        let g = Window2d::new((1, 2, 2), (3, 3), (1, 1), (1, 1, 1, 1));
        assert_eq!(g.output, (2, 2));
        let mut y = [0; 4];
        conv2d(&x, s, g, &w, &[0], &DensePrecision::uniform(s), &mut y);
        assert_eq!(y, [10 * one; 4]);
        // conv1d with 2 channels: [[1, 2, 3], [4, 5, 6]], kernel 2 weights [[1, 0], [0, 1]].
        let x = [one, 2 * one, 3 * one, 4 * one, 5 * one, 6 * one];
        let w = [one, 0, 0, one];
        let g = Window1d::new((2, 3), 2, 1, (0, 0));
        let mut y = [0; 2];
        conv1d(&x, s, g, &w, &[one], &DensePrecision::uniform(s), &mut y);
        assert_eq!(y, [(1 + 1 + 5) * one, (1 + 2 + 6) * one]);
    }

    #[test]
    fn pooling() {
        let s = spec16();
        let p = PoolPrecision {
            accum: s,
            result: s,
        };
        let x = [-5, 3, 7, -1, 2, 2, 0, 9, -8];
        let g = Window2d::new((1, 3, 3), (2, 2), (2, 2), (0, 1, 0, 1));
        assert_eq!(g.output, (2, 2));
        let mut y = [0; 4];
        max_pool2d(&x, s, g, &p, &mut y);
        assert_eq!(y, [3, 7, 9, -8]);
        // Average: (-5 + 3 - 1 + 2) / 4 = -0.25 raw -> truncated toward zero: 0; the padded
        // corner (-8) / 1 without count_pad, -8 / 4 = -2 with it.
        avg_pool2d(&x, s, g, false, &p, &mut y);
        assert_eq!(y, [(-1) / 4, (7 + 2) / 2, 9 / 2, -8]);
        avg_pool2d(&x, s, g, true, &p, &mut y);
        assert_eq!(y, [0, 9 / 4, 9 / 4, -2]);
        // Unsigned input, padded: hls4ml pads with the top bit set.
        let u = Spec::ap_ufixed(8, 4);
        let g = Window1d::new((1, 2), 2, 2, (1, 1));
        let mut y = [0; 2];
        max_pool1d(
            &[5, 6],
            u,
            g,
            &PoolPrecision {
                accum: u,
                result: u,
            },
            &mut y,
        );
        assert_eq!(y, [128, 128]);
    }

    #[test]
    fn relu_variants() {
        let s = spec16();
        let u = Spec::ap_ufixed(12, 4)
            .with_quant(Quant::Rnd)
            .with_overflow(Overflow::Sat);
        let x = [-3, 0, 5, 20 << 10, 7 << 10];
        let mut y = [0; 5];
        relu(&x, s, u, &mut y);
        assert_eq!(y, [0, 0, 1, u.max_raw(), 7 << 8]); // 5 / 4 = 1.25 rounds to 1
        relu_max(&x, s, s, 6, &mut y);
        assert_eq!(y, [0, 0, 5, 6 << 10, 6 << 10]);
    }
}
