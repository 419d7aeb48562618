//! Convolutions with the output channels in the vector lanes (1-D ones, and small 2-D ones
//! fused with a 2 x 2 max pooling, [`Lanes::pooled`]): each output position is a
//! dense layer over its window of the padded input, the weights packed as a dense layer's
//! (`[quad][out][4]`), so a weight vector serves 16 channels and several positions, and the
//! requantization's parameters are whole vectors loaded once per layer (the convolution kernels
//! of [`super::vnni_conv`] keep positions in the lanes: a signal of 20 or 10 positions left
//! most of its second vector empty, and each channel took its own requantization).
//!
//! The input is laid out once per call in rows of words, each word four bytes a quad of
//! weights multiplies:
//! - four channels at one tap where the channels are a multiple of 4 ([`Lanes::by_channels`]):
//!   row `r` holds channels `4 r..4 r + 4` of every padded position, a word per position;
//! - else four taps of one channel: row `c` is channel `c`'s padded signal, and quad `t` of a
//!   window reads taps `4 t..4 t + 4` (the taps past the kernel have zero weights).

use super::layout::Lanes;
use super::{Isa8, Requant, SCRATCH};

/// The convolution of `x` (`[c][h][w]`, input zero point `x_zero`) laid out by `l`, weights `w`
/// packed by [`Lanes::index`] (zeros where a quad has no weight), into `y` (`[out channels]
/// [out]`, the channels `offset.len()`): the bytes of [`super::super::ops::conv2d`] with the
/// filters in PyTorch's layout. AVX-512 VNNI with the fixed-point requantization runs
/// the kernel of `vnni_lanes` on a signal; anything else one dense layer per position (a 2-D
/// layout's fast kernel is the pooled one, [`super::conv2d_pooled_lanes`]).
#[allow(clippy::too_many_arguments)]
pub fn conv1d_lanes(
    isa: Isa8,
    l: &Lanes,
    x: &[i8],
    x_zero: i32,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let n_out = offset.len();
    assert!(
        x.len() == l.c * l.len && y.len() == n_out * l.out && w.len() >= l.packed_len(n_out),
        "conv1d_lanes: shapes"
    );
    let zp = x_zero.clamp(-128, 127) as i8;
    let mut scratch = [core::mem::MaybeUninit::<i8>::uninit(); SCRATCH];
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni && rq.rounding == super::Rounding::FixedPoint && l.is_signal() {
        // SAFETY: `Isa8::Vnni` is only chosen where the CPU has it; the layout fits the
        // scratch (`Lanes::of`), the shapes are checked above.
        unsafe {
            let rows = super::vnni_lanes::lay_out(l, x, zp, &mut scratch);
            super::vnni_lanes::conv(l, rows, w, offset, rq, y);
        }
        return;
    }
    let rows = lay_out(l, x, zp, &mut scratch);
    per_position(isa, l, rows, w, offset, rq, y);
}

/// `x` laid out by `l` into the front of `scratch` (module docs), the padding `zp`, bytes as
/// they are (the dense kernels add 128 themselves).
fn lay_out<'s>(
    l: &Lanes,
    x: &[i8],
    zp: i8,
    scratch: &'s mut [core::mem::MaybeUninit<i8>],
) -> &'s [i8] {
    let at = |ch: usize, j: usize| l.source(ch, j).map_or(zp, |i| x[i]);
    let rows = &mut scratch[..l.bytes()];
    for r in 0..l.rows {
        let row = &mut rows[r * l.row_stride..(r + 1) * l.row_stride];
        for (i, b) in row.iter_mut().enumerate() {
            let v = if l.by_channels {
                at(4 * r + i % 4, i / 4)
            } else {
                at(r, i)
            };
            b.write(v);
        }
    }
    // SAFETY: every byte of `rows` was written just above.
    unsafe { core::slice::from_raw_parts(rows.as_ptr() as *const i8, rows.len()) }
}

/// One dense layer per output position: its window's words gathered, then the dense kernels of
/// `isa` by chunks of 64 channels, any rounding.
fn per_position(
    isa: Isa8,
    l: &Lanes,
    rows: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let n_out = offset.len();
    let n4 = 4 * l.quads();
    // Not zeroed (16 KB on every call): each position writes all `n4` bytes before they are
    // read.
    let mut window = [core::mem::MaybeUninit::<i8>::uninit(); SCRATCH];
    let mut bytes = [0i8; super::CHUNK];
    for p in 0..l.out {
        for r in 0..l.rows {
            for t in 0..l.taps {
                let from = r * l.row_stride + l.word(p, t);
                let q = r * l.taps + t;
                for (d, &v) in window[4 * q..4 * q + 4]
                    .iter_mut()
                    .zip(&rows[from..from + 4])
                {
                    d.write(v);
                }
            }
        }
        // SAFETY: the `n4 = 4 quads` bytes were all written just above.
        let window = unsafe { core::slice::from_raw_parts(window.as_ptr() as *const i8, n4) };
        let mut o0 = 0;
        while o0 < n_out {
            let cnt = super::CHUNK.min(n_out - o0);
            super::dense_chunk(isa, (window, n_out), w, offset, rq, o0, &mut bytes[..cnt]);
            for (j, &b) in bytes[..cnt].iter().enumerate() {
                y[(o0 + j) * l.out + p] = b;
            }
            o0 += cnt;
        }
    }
}
