//! The layout of a 1-D convolution run as a dense layer per output position ([`Lanes`]):
//! where its input's words and its packed weights are (the kernels are in `lanes` and
//! `vnni_lanes`).

use super::super::ops::Window2;
use super::SCRATCH;

/// A 1-D convolution's layout as a dense layer per output position ([`Lanes::of`]), a `const`
/// of its geometry kept in the layer's [`super::ConvPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lanes {
    /// Input channels and length.
    pub(crate) c: usize,
    pub(super) len: usize,
    /// Kernel, left padding, output length (the stride is in `step`).
    pub(crate) k: usize,
    pub(super) pad: usize,
    pub(super) out: usize,
    /// Positions of the padded input: `max(len + pad, (out - 1) stride + k)`.
    pub(super) lp: usize,
    /// Quads of four channels at one tap (`c % 4 == 0`), else of four taps of one channel.
    pub(super) by_channels: bool,
    /// Rows of the laid-out input, quads of a window per row, bytes from one row to the next
    /// and from one position to the next.
    pub(super) rows: usize,
    pub(super) taps: usize,
    pub(super) row_stride: usize,
    pub(super) step: usize,
}

impl Lanes {
    /// The layout of the 1-D convolution `g` (one input row, a kernel one row high), or `None`
    /// for a 2-D one or where its laid-out input does not fit the scratch.
    pub const fn of(g: Window2) -> Option<Lanes> {
        let (c, h, len) = g.input;
        let (k, stride, pad, out) = (g.kernel.1, g.stride.1, g.pad.1, g.output.1);
        if h != 1 || g.kernel.0 != 1 || g.output.0 != 1 || g.pad.0 != 0 {
            return None;
        }
        if c == 0 || len == 0 || k == 0 || stride == 0 || out == 0 {
            return None;
        }
        let reach = (out - 1) * stride + k;
        let lp = if len + pad > reach { len + pad } else { reach };
        let by_channels = c.is_multiple_of(4);
        let (rows, taps, row_stride, step) = if by_channels {
            (c / 4, k, 4 * lp, 4 * stride)
        } else {
            // A quad of taps reads up to 3 bytes past the padded signal.
            (c, k.div_ceil(4), (lp + 3).div_ceil(4) * 4, stride)
        };
        if rows * row_stride > SCRATCH {
            return None;
        }
        Some(Lanes {
            c,
            len,
            k,
            pad,
            out,
            lp,
            by_channels,
            rows,
            taps,
            row_stride,
            step,
        })
    }

    /// Weight quads per output channel.
    pub const fn quads(&self) -> usize {
        self.rows * self.taps
    }

    /// Bytes of packed weights for `n_out` output channels.
    pub const fn packed_len(&self, n_out: usize) -> usize {
        self.quads() * 4 * n_out
    }

    /// Where weight `(o, ch, t)` (output channel, input channel, tap) of a layer with `n_out`
    /// output channels is in the packed weights: quad `q`, `[q][o][4]`.
    pub const fn index(&self, n_out: usize, o: usize, ch: usize, t: usize) -> usize {
        let (q, b) = if self.by_channels {
            ((ch / 4) * self.taps + t, ch % 4)
        } else {
            (ch * self.taps + t / 4, t % 4)
        };
        (q * n_out + o) * 4 + b
    }

    /// Bytes of the laid-out input.
    pub(super) const fn bytes(&self) -> usize {
        self.rows * self.row_stride
    }
}
