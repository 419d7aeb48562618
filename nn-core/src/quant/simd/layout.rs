//! The layout of a convolution run as a dense layer per output position ([`Lanes`]): where its
//! input's words and its packed weights are (the kernels are in `lanes` and `vnni_lanes`). A
//! 1-D convolution ([`Lanes::of`]), or a small 2-D one fused with a 2 x 2 max pooling
//! ([`Lanes::pooled`]).

use super::super::ops::Window2;
use super::SCRATCH;

/// The larger of `a` and `b` (`Ord::max` is not `const`).
pub(super) const fn cmax(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Rows and columns of `g`'s padded input: the input with its top and left padding, or as far
/// as the last window reaches, whichever is more.
pub(super) const fn padded_size(g: Window2) -> (usize, usize) {
    let (_, h, w) = g.input;
    let (oh, ow) = g.output;
    (
        cmax(h + g.pad.0, oh.saturating_sub(1) * g.stride.0 + g.kernel.0),
        cmax(w + g.pad.1, ow.saturating_sub(1) * g.stride.1 + g.kernel.1),
    )
}

/// A convolution's layout as a dense layer per output position ([`Lanes::of`],
/// [`Lanes::pooled`]), a `const` of its geometry kept in the layer's [`super::ConvPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lanes {
    /// Input channels and values per channel (`h w`).
    pub(crate) c: usize,
    pub(super) len: usize,
    /// Weights per channel of a filter (`kh kw`), left padding, output positions (`oh ow`; the
    /// stride is in `step` and `row_step`).
    pub(crate) k: usize,
    pub(super) pad: usize,
    pub(super) out: usize,
    /// Positions of the padded input (`hp wp`; a signal's: `max(len + pad, (out - 1) stride +
    /// k)`).
    pub(super) lp: usize,
    /// Input rows and width, the top padding (a signal: 1, `len`, 0).
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) pt: usize,
    /// Positions per padded row (a signal: `lp`), output positions per row (`out`), and bytes
    /// from one output row's first word to the next's (0).
    pub(super) wp: usize,
    pub(super) ow: usize,
    pub(super) row_step: usize,
    /// Kernel width (a signal: `k`): tap `t` of a quad of channels is at row `t / kw`, column
    /// `t % kw` of the window.
    pub(super) kw: usize,
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
            h: 1,
            w: len,
            pt: 0,
            wp: lp,
            ow: out,
            row_step: 0,
            kw: k,
            by_channels,
            rows,
            taps,
            row_stride,
            step,
        })
    }

    /// The layout of the 2-D convolution `g` followed by a 2 x 2 max pooling of stride 2, for
    /// the kernel that pools the channels' vectors before requantizing them: input channels a
    /// multiple of 4 (quads of four channels at one tap), an input of at most 128 bytes and a
    /// laid-out input of at most 512 bytes (laid out by one byte permutation
    /// per 64 bytes), an output of whole windows. `None` elsewhere (and for a signal).
    pub const fn pooled(g: Window2, window: (usize, usize)) -> Option<Lanes> {
        let (c, h, w) = g.input;
        let (kh, kw) = g.kernel;
        let (oh, ow) = g.output;
        let (sh, sw) = g.stride;
        let (pt, pl) = g.pad;
        if window.0 != 2 || window.1 != 2 || h < 2 || oh < 2 || ow < 2 || oh % 2 != 0 {
            return None;
        }
        if ow % 2 != 0 || c == 0 || c % 4 != 0 || kh == 0 || kw == 0 || sh == 0 || sw == 0 {
            return None;
        }
        let (hp, wp) = padded_size(g);
        if c * h * w > 128 || c * hp * wp > super::PAD_TABLE {
            return None;
        }
        Some(Lanes {
            c,
            len: h * w,
            k: kh * kw,
            pad: pl,
            out: oh * ow,
            lp: hp * wp,
            h,
            w,
            pt,
            wp,
            ow,
            row_step: 4 * sh * wp,
            kw,
            by_channels: true,
            rows: c / 4,
            taps: kh * kw,
            row_stride: 4 * hp * wp,
            step: 4 * sw,
        })
    }

    /// Where the word of quad `(r, t)` for output position `p` is: `r row_stride +
    /// word(p, t)` bytes into the laid-out input.
    #[inline]
    pub(super) const fn word(&self, p: usize, t: usize) -> usize {
        (p / self.ow) * self.row_step + (p % self.ow) * self.step + self.tap(t)
    }

    /// Bytes from a position's first word to its tap `t`'s (of a quad of channels; of a quad
    /// of taps, `4 t`).
    #[inline]
    pub(super) const fn tap(&self, t: usize) -> usize {
        4 * ((t / self.kw) * self.wp + t % self.kw)
    }

    /// Where channel `ch`'s value at padded position `j` is in the input (`[c][h][w]`), or
    /// `None` in the padding (row `j / wp`; a row of a signal's quads of taps reads past its
    /// `lp` positions, into the padding).
    pub(super) const fn source(&self, ch: usize, j: usize) -> Option<usize> {
        let (y, x) = (j / self.wp, j % self.wp);
        if y >= self.pt && y - self.pt < self.h && x >= self.pad && x - self.pad < self.w {
            Some(ch * self.len + (y - self.pt) * self.w + x - self.pad)
        } else {
            None
        }
    }

    /// Whether this is a signal's layout (one row).
    pub(super) const fn is_signal(&self) -> bool {
        self.lp == self.wp
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
