//! Convolutions on the vector paths: the padded input unfolded into rows of positions (or read
//! in place, stride 1), then [`super::vnni_conv::conv_block`] or [`super::avx2::conv_block`];
//! the plain loops of [`super::super::ops`] where no vector path fits.

use super::super::ops::Window2;
#[cfg(target_arch = "x86_64")]
use super::{avx2, vnni_conv, ConvBlock, Grid};
use super::{Isa8, Requant, MAX_QUADS, SCRATCH, SMALL_SCRATCH};

/// A 2-D convolution (channels first, weights `[out][in][kh][kw]`, filter `c` at
/// `w[c * w_stride..]`: its weights, then zeros up to the stride), as
/// [`super::super::ops::conv2d`] with `offset[c] = bias[c] - (128 + x_zero) * sum w[c]`; `bias`
/// serves the portable path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    isa: Isa8,
    x: &[i8],
    x_zero: i32,
    g: Window2,
    (w, w_stride): (&[i8], usize),
    bias: &[i32],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa8::Portable {
        let args = ConvArgs {
            isa,
            x,
            x_zero,
            g,
            w,
            w_stride,
            offset,
            rq,
        };
        if isa == Isa8::Vnni && g.stride == (1, 1) {
            let done = match Unfold::new(g, SMALL_SCRATCH) {
                Some(u) if u.plane_len() + 16 <= SMALL_SCRATCH => {
                    conv_grid::<SMALL_SCRATCH>(&args, &u, y)
                }
                _ => Unfold::new(g, SCRATCH)
                    .filter(|u| u.plane_len() + 16 <= SCRATCH)
                    .is_some_and(|u| conv_grid::<SCRATCH>(&args, &u, y)),
            };
            if done {
                return;
            }
        }
        // The scratch is zeroed on every call: a small one where it is enough.
        let done = match Unfold::new(g, SMALL_SCRATCH) {
            Some(u) if u.chunk_rows == g.output.0 => conv_vector::<SMALL_SCRATCH>(&args, &u, y),
            _ => Unfold::new(g, SCRATCH).is_some_and(|u| conv_vector::<SCRATCH>(&args, &u, y)),
        };
        if done {
            return;
        }
    }
    let _ = (isa, offset);
    let requant = rq.exact;
    super::super::ops::conv2d_strided(x, x_zero, g, (w, w_stride), bias, requant, rq.out, y);
}

/// The arguments of [`conv2d`] a vector path needs.
#[cfg(target_arch = "x86_64")]
pub(super) struct ConvArgs<'a> {
    pub(super) isa: Isa8,
    pub(super) x: &'a [i8],
    pub(super) x_zero: i32,
    pub(super) g: Window2,
    pub(super) w: &'a [i8],
    pub(super) w_stride: usize,
    pub(super) offset: &'a [i32],
    pub(super) rq: &'a Requant<'a>,
}

/// The vector convolution with `N` bytes of scratch laid out by `u` (always `true`).
#[cfg(target_arch = "x86_64")]
fn conv_vector<const N: usize>(a: &ConvArgs<'_>, u: &Unfold, y: &mut [i8]) -> bool {
    let g = a.g;
    let u = &Unfold {
        vnni: a.isa == Isa8::Vnni,
        ..*u
    };
    let mut scratch = [0i8; N];
    let (plane, rows) = scratch.split_at_mut(u.plane_len());
    u.pad(a.x, a.x_zero, plane);
    let k = u.k();
    let mut oy0 = 0;
    while oy0 < g.output.0 {
        let n_rows = u.chunk_rows.min(g.output.0 - oy0);
        u.unfold(plane, oy0, n_rows, rows);
        let block = ConvBlock {
            rows,
            stride: u.row_stride,
            k,
            positions: n_rows * g.output.1,
            first: oy0 * g.output.1,
            plane_len: g.output.0 * g.output.1,
            grid: None,
            perm: None,
            pool: None,
            w_stride: a.w_stride,
        };
        match a.isa {
            // SAFETY: only chosen where the CPU has AVX-512 VNNI.
            Isa8::Vnni => unsafe { vnni_conv::conv_block(&block, a.w, a.offset, a.rq, y) },
            // SAFETY: only chosen where the CPU has AVX2.
            _ => unsafe { avx2::conv_block(&block, a.w, a.offset, a.rq, y) },
        }
        oy0 += n_rows;
    }
    true
}

/// A stride-1 convolution read straight from its padded input (no unfolding): the positions
/// run over the padded width, the columns past the output's are computed and not stored.
#[cfg(target_arch = "x86_64")]
fn conv_grid<const N: usize>(a: &ConvArgs<'_>, u: &Unfold, y: &mut [i8]) -> bool {
    let g = a.g;
    let k = u.k();
    let k4 = k.div_ceil(4) * 4;
    if k4 > 4 * MAX_QUADS {
        return false;
    }
    let mut scratch = [0i8; N];
    u.pad(a.x, a.x_zero, &mut scratch[..u.plane_len()]);
    let (kh, kw) = g.kernel;
    let mut offsets = [0u32; 4 * MAX_QUADS];
    let mut t = 0;
    for c in 0..g.input.0 {
        for ki in 0..kh {
            for kj in 0..kw {
                offsets[t] = ((c * u.hp + ki) * u.wp + kj) as u32;
                t += 1;
            }
        }
    }
    let (oh, ow) = g.output;
    let block = ConvBlock {
        rows: &scratch,
        w_stride: a.w_stride,
        stride: 0,
        k,
        // Every read, at most `(oh - 1 + kh - 1) * wp + ow + kw - 1 <= c * hp * wp` past a
        // channel's start plus 16 bytes from a position below `grid_len` rounded up to 16,
        // stays in the plane and its 32 bytes of slack.
        positions: (oh - 1) * u.wp + ow,
        first: 0,
        plane_len: oh * ow,
        grid: Some(Grid {
            offsets: &offsets[..k4],
            wp: u.wp,
            ow,
        }),
        perm: None,
        pool: None,
    };
    // SAFETY: only chosen where the CPU has AVX-512 VNNI.
    unsafe { vnni_conv::conv_block(&block, a.w, a.offset, a.rq, y) };
    true
}

/// How a convolution's input is padded and unfolded in [`SCRATCH`] bytes: the padded planes
/// first, then rows of unfolded positions for `chunk_rows` output rows at a time.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Unfold {
    pub(super) g: Window2,
    /// Strided rows gathered with AVX-512 (the CPU has it).
    pub(super) vnni: bool,
    /// Padded height and width.
    pub(super) hp: usize,
    pub(super) wp: usize,
    pub(super) chunk_rows: usize,
    pub(super) row_stride: usize,
}

#[cfg(target_arch = "x86_64")]
impl Unfold {
    /// The layout, or `None` when the layer does not fit the scratch.
    pub(super) fn new(g: Window2, scratch: usize) -> Option<Unfold> {
        let (c, h, w) = g.input;
        let (kh, kw) = g.kernel;
        let (oh, ow) = g.output;
        let hp = (h + g.pad.0).max((oh - 1) * g.stride.0 + kh);
        let wp = (w + g.pad.1).max((ow - 1) * g.stride.1 + kw);
        let plane = c * hp * wp + 16;
        let k4 = (c * kh * kw).div_ceil(4) * 4;
        let room = scratch.checked_sub(plane)?;
        // Each row holds `rows * ow` positions rounded up to 16, plus 16 bytes of slack for
        // the 16-byte copies and reads past its end.
        let mut rows = oh;
        while rows > 0 && k4 * ((rows * ow).div_ceil(16) * 16 + 16) > room {
            rows -= 1;
        }
        if rows == 0 || oh == 0 || ow == 0 {
            return None;
        }
        let row_stride = (rows * ow).div_ceil(16) * 16 + 16;
        Some(Unfold {
            g,
            vnni: false,
            hp,
            wp,
            chunk_rows: rows,
            row_stride,
        })
    }

    pub(super) fn plane_len(&self) -> usize {
        self.g.input.0 * self.hp * self.wp + 16
    }

    fn k(&self) -> usize {
        self.g.input.0 * self.g.kernel.0 * self.g.kernel.1
    }

    /// `x` with its padding (the zero point) into `plane` (`[c][hp][wp]`), plus 128: each
    /// byte with its sign bit flipped, as the unsigned operand of the kernels.
    pub(super) fn pad(&self, x: &[i8], x_zero: i32, plane: &mut [i8]) {
        let (c, h, w) = self.g.input;
        let (pt, pl) = self.g.pad;
        let z = (x_zero.clamp(-128, 127) as i8 as u8 ^ 0x80) as i8;
        plane[..self.plane_len()].fill(z);
        for ci in 0..c {
            for r in 0..h {
                let dst = (ci * self.hp + r + pt) * self.wp + pl;
                for (d, &v) in plane[dst..dst + w]
                    .iter_mut()
                    .zip(&x[(ci * h + r) * w..][..w])
                {
                    *d = (v as u8 ^ 0x80) as i8;
                }
            }
        }
    }

    /// Output rows `oy0..oy0 + n` unfolded into `rows`: row `k` (filter weight `(c, ki, kj)`)
    /// holds, for each position, the (flipped) input under that weight; rows from `k` to the
    /// next multiple of 4 are zero.
    fn unfold(&self, plane: &[i8], oy0: usize, n: usize, rows: &mut [i8]) {
        let (c, _, _) = self.g.input;
        let (kh, kw) = self.g.kernel;
        let (sh, sw) = self.g.stride;
        let ow = self.g.output.1;
        let k = self.k();
        let positions = n * ow;
        for ci in 0..c {
            for ki in 0..kh {
                for kj in 0..kw {
                    let row = ((ci * kh + ki) * kw + kj) * self.row_stride;
                    for r in 0..n {
                        let src = (ci * self.hp + (oy0 + r) * sh + ki) * self.wp + kj;
                        let dst = row + r * ow;
                        if sw == 1 && src + 16 <= plane.len() && dst + 16 <= rows.len() && ow <= 8 {
                            // One 4- or 8-byte move (the spill past `ow` lands in bytes that
                            // the next row overwrites, or in the row's slack).
                            // SAFETY: 16 bytes are readable at `src` and writable at `dst`.
                            unsafe {
                                let (s, d) = (plane.as_ptr().add(src), rows.as_mut_ptr().add(dst));
                                if ow <= 4 {
                                    (d as *mut u32)
                                        .write_unaligned((s as *const u32).read_unaligned());
                                } else {
                                    (d as *mut u64)
                                        .write_unaligned((s as *const u64).read_unaligned());
                                }
                            }
                        } else if sw == 1 {
                            copy16(&plane[src..], &mut rows[dst..], ow);
                        } else if sw == 2
                            && ow <= 32
                            && self.vnni
                            && src + 2 * ow <= plane.len() + 1
                            && dst + ow <= rows.len()
                        {
                            // SAFETY: the CPU has AVX-512 (VNNI implies F, BW and VL here);
                            // `2 ow - 1` bytes from `src` and `ow` from `dst` are in bounds.
                            unsafe {
                                vnni_conv::gather_even(
                                    plane.as_ptr().add(src),
                                    rows.as_mut_ptr().add(dst),
                                    ow,
                                )
                            };
                        } else {
                            for ox in 0..ow {
                                rows[dst + ox] = plane[src + ox * sw];
                            }
                        }
                    }
                }
            }
        }
        for kz in k..k.div_ceil(4) * 4 {
            rows[kz * self.row_stride..][..positions.div_ceil(16) * 16].fill(0);
        }
    }
}

/// `n` bytes from `src` to `dst`, 16 at a time (both have 16 bytes of slack past `n`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn copy16(src: &[i8], dst: &mut [i8], n: usize) {
    let rounded = n.div_ceil(16) * 16;
    let (src, dst) = (&src[..rounded], &mut dst[..rounded]);
    if rounded == 16 {
        // One vector (a loop would become a call to `memcpy`, slow for 16 bytes).
        // SAFETY: both slices are 16 bytes long.
        unsafe {
            let v = (src.as_ptr() as *const u128).read_unaligned();
            (dst.as_mut_ptr() as *mut u128).write_unaligned(v);
        }
        return;
    }
    let mut j = 0;
    while j < rounded {
        // SAFETY: `j + 16 <= rounded`, the length of both slices.
        unsafe {
            let v = (src.as_ptr().add(j) as *const u128).read_unaligned();
            (dst.as_mut_ptr().add(j) as *mut u128).write_unaligned(v);
        }
        j += 16;
    }
}
