//! Convolutions planned at compile time: [`ConvPlan`] (the layout of the permuted-patch kernel)
//! and [`PoolPlan`] (a convolution fused with its max pooling), `const fn`s of the geometry that
//! the int8 twin keeps in a `static` per layer, and the kernels they drive.

use super::super::fixed::Rounding;
use super::super::ops::Window2;
#[cfg(target_arch = "x86_64")]
use super::conv::{conv2d, Unfold};
use super::layout::{cmax, padded_size};
#[cfg(target_arch = "x86_64")]
use super::{vnni_conv, ConvBlock, InBlockPool, Perm, PooledBlock};
use super::{
    Isa8, Lanes, PadTable, Requant, MAX_QUADS, POOL_PATCHES, REACH, SCRATCH, SMALL_SCRATCH,
};

/// Whether the CPU has AVX-512 VBMI (`vpermi2b`), with `std` detected at run time, else from
/// the compile-time target (never elsewhere than on x86-64).
pub(super) fn vbmi() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(target_arch = "x86_64", target_feature = "avx512vbmi"))
    }
}

/// A convolution's geometry and the layout of its permuted-patch kernel ([`conv2d_planned`]),
/// computed at compile time: [`ConvPlan::new`] is a `const fn`, and the int8 twin keeps one in
/// a `static` per convolution, so nothing of it is recomputed per call.
#[derive(Debug, Clone, Copy)]
pub struct ConvPlan {
    /// The geometry.
    pub g: Window2,
    /// Padded height and width (as the vector paths pad).
    pub(super) hp: usize,
    pub(super) wp: usize,
    /// Quads of filter weights.
    pub(super) quads: usize,
    /// Whether the permuted kernel applies: the padded input and `REACH` (256) bytes fit the
    /// scratch, and every block of 16 outputs reads at most `REACH` (256) bytes from its first
    /// one's.
    pub(super) fits: bool,
    /// Whether some block reads past 128 bytes (two permutations per patch instead of one).
    pub(super) wide: bool,
    /// The most bytes between a quad's weights' reads.
    pub(super) span: usize,
    /// Per quad: where its first weight reads (least offset) and the four weights' offsets
    /// from there, one byte each.
    pub(super) start: [u32; MAX_QUADS],
    pub(super) word: [u32; MAX_QUADS],
    /// The padded input as byte permutations of the input, where it fits ([`PadTable`]).
    pub(super) pad: PadTable,
    /// A convolution's layout as a dense layer per position ([`Lanes`]), where it applies: the
    /// layer's weights are then packed for it (`ConvI8::in_lanes`). A 1-D convolution's
    /// ([`Lanes::of`]); in a [`PoolPlan`], a small 2-D convolution's ([`Lanes::pooled`], for
    /// [`conv2d_pooled_lanes`]), else `None` (the other fused kernels read filters in
    /// PyTorch's layout).
    pub lanes: Option<Lanes>,
}

impl ConvPlan {
    /// The plan of geometry `g`.
    pub const fn new(g: Window2) -> ConvPlan {
        let c = g.input.0;
        let (kh, kw) = g.kernel;
        let (oh, ow) = g.output;
        let (sh, sw) = g.stride;
        let (hp, wp) = padded_size(g);
        let k = c * kh * kw;
        let quads = k.div_ceil(4);
        let mut plan = ConvPlan {
            g,
            hp,
            wp,
            quads,
            fits: false,
            wide: false,
            span: 0,
            start: [0; MAX_QUADS],
            word: [0; MAX_QUADS],
            pad: PadTable::new(g.input, (hp, wp), g.pad),
            lanes: Lanes::of(g),
        };
        let plane = c * hp * wp + 16;
        if quads == 0 || quads > MAX_QUADS || plane + REACH > SCRATCH || oh == 0 || ow == 0 {
            return plan;
        }
        // Where each weight reads in the padded input (relative to the output's position), a
        // quad at a time; the weights past the filter's end (zeros) read where the quad's
        // first one does.
        let mut span = 0;
        let mut q = 0;
        while q < quads {
            let (mut lo, mut hi, mut t) = (usize::MAX, 0, 4 * q);
            while t < 4 * q + 4 && t < k {
                let a = tap(t, kh, kw, hp, wp);
                lo = cmin(lo, a);
                hi = cmax(hi, a);
                t += 1;
            }
            span = cmax(span, hi - lo);
            let mut word = 0u32;
            let mut t = 4 * q;
            while t < 4 * q + 4 && t < k {
                word |= (cmin(tap(t, kh, kw, hp, wp) - lo, 255) as u32) << (8 * (t - 4 * q));
                t += 1;
            }
            plan.start[q] = lo as u32;
            plan.word[q] = word;
            q += 1;
        }
        plan.span = span;
        let steps = (sh * wp, sw);
        if let Some(wide) = blocks_reach(oh * ow, ow, steps, span) {
            (plan.fits, plan.wide) = (true, wide);
        }
        plan
    }
}

#[cfg(target_arch = "x86_64")]
impl ConvPlan {
    /// The permuted-patch kernel's view of this convolution over the padded input `rows`
    /// (filters `w_stride` bytes apart), its outputs pooled inside blocks with `pool`.
    fn block<'a>(
        &'a self,
        rows: &'a [i8],
        w_stride: usize,
        pool: Option<InBlockPool>,
    ) -> ConvBlock<'a> {
        let (g, positions) = (self.g, self.g.output.0 * self.g.output.1);
        ConvBlock {
            rows,
            w_stride,
            stride: 0,
            k: g.input.0 * g.kernel.0 * g.kernel.1,
            positions,
            first: 0,
            plane_len: positions,
            grid: None,
            perm: Some(Perm {
                start: &self.start[..self.quads],
                word: &self.word[..self.quads],
                ow: g.output.1,
                wp: self.wp,
                stride: g.stride,
                wide: self.wide,
            }),
            pool,
        }
    }

    /// How the vector paths pad this convolution's input.
    fn padding(&self) -> Unfold {
        Unfold {
            g: self.g,
            vnni: true,
            hp: self.hp,
            wp: self.wp,
            chunk_rows: 0,
            row_stride: 0,
        }
    }
}

/// Whether every block of 16 of `positions` (a grid `width` wide, position `(y, x)` at
/// `y steps.0 + x steps.1`) reads within `REACH` (256) bytes from its first one's, with `span`
/// more for a quad's weights: `Some(wide)`, `wide` where some block reads past 128 bytes.
const fn blocks_reach(
    positions: usize,
    width: usize,
    steps: (usize, usize),
    span: usize,
) -> Option<bool> {
    let mut wide = false;
    let mut p = 0;
    while p < positions {
        let last = cmin(p + 15, positions - 1);
        let reach = last / width * steps.0 + last % width * steps.1
            - (p / width * steps.0 + p % width * steps.1)
            + span;
        if reach >= REACH {
            return None;
        }
        wide |= reach >= 128;
        p += 16;
    }
    Some(wide)
}

/// Where filter weight `t` (`(c, ki, kj)` flattened) reads in the padded input.
const fn tap(t: usize, kh: usize, kw: usize, hp: usize, wp: usize) -> usize {
    let (c, r) = (t / (kh * kw), t % (kh * kw));
    (c * hp + r / kw) * wp + r % kw
}

const fn cmin(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Uninitialized scratch bytes on the stack, aligned to a cache line (the padded input's rows
/// then start where the vector loads expect).
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct Scratch<const N: usize>([core::mem::MaybeUninit<i8>; N]);

#[cfg(target_arch = "x86_64")]
impl<const N: usize> Scratch<N> {
    fn new() -> Self {
        Scratch([core::mem::MaybeUninit::uninit(); N])
    }
}

/// The padded, flipped input of `plan` (as [`Unfold::pad`]) and `REACH` (256) zero bytes after
/// it, written into the front of `scratch` (the rest stays uninitialized: zeroing a whole
/// scratch on every call cost more than a small convolution): by byte permutations where the
/// plan has a [`PadTable`] (the caller checked VBMI), else row by row.
#[cfg(target_arch = "x86_64")]
fn padded<'s>(
    scratch: &'s mut [core::mem::MaybeUninit<i8>],
    plan: &ConvPlan,
    x: &[i8],
    x_zero: i32,
) -> &'s [i8] {
    let u = plan.padding();
    let plane = u.g.input.0 * u.hp * u.wp;
    let len = u.plane_len() + REACH;
    let (c, h, w) = u.g.input;
    assert!(len <= scratch.len() && x.len() >= c * h * w);
    assert!(u.g.pad.0 + h <= u.hp && u.g.pad.1 + w <= u.wp);
    let z = (x_zero.clamp(-128, 127) as i8 as u8 ^ 0x80) as i8;
    let t = &plan.pad;
    // SAFETY: the CPU has AVX-512 F and BW (the callers run on VNNI), and VBMI where the
    // permutations are taken (the callers' `vbmi()`); `pad_permuted` writes whole vectors of
    // 64 up to `len` rounded up (checked to fit), `pad_plane` the `plane + (len - plane)`
    // bytes from the start of `scratch` (checked to hold them), before the slice over them is
    // made.
    unsafe {
        let dst = scratch.as_mut_ptr() as *mut i8;
        if t.chunks > 0 && len.next_multiple_of(64) <= scratch.len() {
            vnni_conv::pad_permuted(dst, len, t, z, &x[..c * h * w]);
        } else {
            vnni_conv::pad_plane(dst, (c, h, w), (u.hp, u.wp), u.g.pad, z, x, len - plane);
        }
        core::slice::from_raw_parts(dst, len)
    }
}

/// A convolution followed by a max pooling whose windows do not overlap (stride = window, no
/// padding), planned at compile time as [`ConvPlan`]: [`conv2d_pooled`].
#[derive(Debug, Clone, Copy)]
pub struct PoolPlan {
    /// The convolution's plan.
    pub conv: ConvPlan,
    /// The pooling window (and stride).
    pub window: (usize, usize),
    /// The pooled output's height and width.
    pub pooled: (usize, usize),
    /// Whether [`conv2d_pooled`] applies: the convolution's plan does, the patches of a block
    /// fit `POOL_PATCHES`, the pooled outputs fill their vectors as well as the convolution's
    /// would, and every block of 16 pooled outputs reads at most 128 bytes from each window
    /// element's first one.
    pub(super) fits: bool,
    /// Whether some block reads past 128 bytes.
    pub(super) wide: bool,
    /// Where the window elements' kernel does not fit: whether the convolution's own blocks can
    /// pool (2 x 2 windows, each block of 16 outputs whole pairs of rows).
    pub(super) in_block: bool,
    /// Where the convolution has the channels-in-lanes layout ([`Lanes::pooled`], in
    /// `conv.lanes`): its input laid out by byte permutations ([`conv2d_pooled_lanes`]).
    pub(super) lanes_pad: PadTable,
}

impl PoolPlan {
    /// The plan of convolution `g` followed by max pooling `window` (stride `window`).
    pub const fn new(g: Window2, window: (usize, usize)) -> PoolPlan {
        let mut conv = ConvPlan::new(g);
        // A small 2-D convolution with four channels to a quad pools its channels' vectors
        // ([`conv2d_pooled_lanes`]); the others read the filters in PyTorch's layout.
        conv.lanes = Lanes::pooled(g, window);
        let lanes_pad = match &conv.lanes {
            Some(l) => PadTable::interleaved(l),
            None => PadTable::NONE,
        };
        let (ph, pw) = window;
        let mut plan = PoolPlan {
            conv,
            window,
            pooled: (0, 0),
            fits: false,
            wide: false,
            in_block: false,
            lanes_pad,
        };
        if ph == 0 || pw == 0 {
            return plan;
        }
        let pooled = (g.output.0 / ph, g.output.1 / pw);
        plan.pooled = pooled;
        let positions = pooled.0 * pooled.1;
        let (oh, ow) = g.output;
        plan.in_block =
            conv.fits && ph == 2 && pw == 2 && oh % 2 == 0 && ow % 2 == 0 && 16 % (2 * ow) == 0;
        if !conv.fits || positions == 0 || conv.quads * ph * pw > POOL_PATCHES {
            return plan;
        }
        // Fused, each window element takes its own vectors of 16 pooled outputs: no more of
        // them than the convolution alone would take (small pooled planes leave lanes empty).
        if ph * pw * positions.div_ceil(16) > (ph * pw * positions).div_ceil(16) {
            return plan;
        }
        let steps = (ph * g.stride.0 * conv.wp, pw * g.stride.1);
        if let Some(wide) = blocks_reach(positions, pooled.1, steps, conv.span) {
            (plan.fits, plan.wide) = (true, wide);
        }
        plan
    }
}

/// The convolution of `plan` followed by its max pooling into `y` (the pooled output), the
/// same bytes as [`conv2d`] then [`super::max_pool2d`] (pooled before the requantization, which is
/// non-decreasing): where the CPU has AVX-512 VNNI and VBMI, the plan fits and the filters
/// are padded to whole words. `false`, writing nothing, elsewhere.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_pooled(
    isa: Isa8,
    x: &[i8],
    x_zero: i32,
    plan: &PoolPlan,
    (w, w_stride): (&[i8], usize),
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) -> bool {
    let c = &plan.conv;
    let shapes = rq.rounding == Rounding::FixedPoint
        && w_stride.is_multiple_of(4)
        && w_stride >= 4 * c.quads
        && offset.len() * w_stride <= w.len()
        && rq.multiplier.len() >= offset.len()
        && rq.shift.len() >= offset.len()
        && y.len() == offset.len() * plan.pooled.0 * plan.pooled.1
        && x.len() == c.g.input.0 * c.g.input.1 * c.g.input.2;
    let (fits, in_block) = (plan.fits && shapes, plan.in_block && shapes);
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni && fits && vbmi() {
        let u = c.padding();
        let run = |rows: &[i8], y: &mut [i8]| {
            let block = PooledBlock {
                rows,
                start: &c.start[..c.quads],
                word: &c.word[..c.quads],
                w_stride,
                wp: c.wp,
                stride: c.g.stride,
                window: plan.window,
                pooled: plan.pooled,
                wide: plan.wide,
            };
            // SAFETY: the CPU has AVX-512 VNNI and VBMI; the plan fits.
            unsafe { vnni_conv::conv_pool(&block, w, offset, rq, y) };
        };
        let len = u.plane_len() + REACH;
        // Only the padded input and the bytes a gather may read past it are written.
        if len <= SMALL_SCRATCH {
            let mut scratch = Scratch::<SMALL_SCRATCH>::new();
            run(padded(&mut scratch.0, c, x, x_zero), y);
        } else {
            let mut scratch = Scratch::<SCRATCH>::new();
            run(padded(&mut scratch.0, c, x, x_zero), y);
        }
        return true;
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni && in_block && vbmi() {
        let u = c.padding();
        let (w, rq) = ((w, w_stride), (offset, rq));
        if u.plane_len() + REACH <= SMALL_SCRATCH {
            let mut scratch = Scratch::<SMALL_SCRATCH>::new();
            pool_in_blocks(c, padded(&mut scratch.0, c, x, x_zero), w, rq, y);
        } else {
            let mut scratch = Scratch::<SCRATCH>::new();
            pool_in_blocks(c, padded(&mut scratch.0, c, x, x_zero), w, rq, y);
        }
        return true;
    }
    let _ = (isa, x, x_zero, fits, in_block);
    false
}

impl Lanes {
    /// Whether this CPU runs this layout's fast kernel: a signal's everywhere its loops are
    /// the layer's path (`conv1d_lanes`), a pooled 2-D layout's where it has AVX-512 VNNI and
    /// VBMI (`conv2d_pooled_lanes`). Elsewhere the 2-D layout would leave the layer to the
    /// per-position loops, slower than the kernels of PyTorch's layout (M2's int8 twin on AVX2:
    /// 3,930 -> 4,500 ns), so its weights stay in that layout (`ConvI8::in_lanes`).
    pub(crate) fn runs_here(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if !self.is_signal() {
            return Isa8::detect() == Isa8::Vnni && vbmi();
        }
        self.is_signal()
    }
}

/// [`conv2d_pooled`] for weights packed in the channels-in-lanes layout `l` of the plan
/// ([`Lanes::pooled`], `plan.conv.lanes`; packed by [`Lanes::index`]): the input laid out four
/// channels to a word by one byte permutation per 64 bytes, then each output position a dense
/// layer over its window's words with the channels in the lanes, the four positions of each
/// window pooled as vectors before one requantization (`vnni_lanes::conv_pool`). The same
/// bytes as [`super::conv1d_lanes`] then [`super::max_pool2d`]. `false`, writing nothing,
/// unless the CPU has AVX-512 VNNI and VBMI, the rounding is the fixed-point one and `l` is the
/// plan's.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_pooled_lanes(
    isa: Isa8,
    x: &[i8],
    x_zero: i32,
    plan: &PoolPlan,
    l: &Lanes,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) -> bool {
    let shapes = rq.rounding == Rounding::FixedPoint
        && plan.conv.lanes == Some(*l)
        && plan.lanes_pad.chunks > 0
        && w.len() >= l.packed_len(offset.len())
        && rq.multiplier.len() >= offset.len()
        && rq.shift.len() >= offset.len()
        && y.len() == offset.len() * plan.pooled.0 * plan.pooled.1
        && plan.pooled == (l.out / l.ow / 2, l.ow / 2)
        && x.len() == l.c * l.len;
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni && shapes && vbmi() {
        let t = &plan.lanes_pad;
        // Whole vectors of 64: the table's last one ends in zeros past the layout.
        let (len, whole) = (l.bytes(), l.bytes().next_multiple_of(64));
        let mut scratch = Scratch::<SMALL_SCRATCH>::new();
        assert!(whole <= SMALL_SCRATCH && 64 * t.chunks <= whole);
        let z = (x_zero.clamp(-128, 127) as i8 as u8 ^ 0x80) as i8;
        // SAFETY: the CPU has AVX-512 VNNI and VBMI (checked); `pad_permuted` writes `whole`
        // bytes (checked to fit the scratch, at least the table's vectors) from the input the
        // table was built for (`x.len() == c h w <= 128`, `Lanes::pooled`), before the `len`
        // of them in the layout are read; the weights hold `l.packed_len(n_out)` bytes
        // (checked).
        unsafe {
            let dst = scratch.0.as_mut_ptr() as *mut i8;
            vnni_conv::pad_permuted(dst, whole, t, z, x);
            let rows = core::slice::from_raw_parts(dst, len);
            super::vnni_lanes::conv_pool(l, rows, w, offset, rq, plan.pooled, y);
        }
        return true;
    }
    let _ = (isa, x, x_zero, shapes);
    false
}

/// [`conv2d_pooled`] in the convolution's own blocks (`PoolPlan::in_block`): each block of 16
/// outputs, whole pairs of rows, pooled 2 x 2 before its requantization.
#[cfg(target_arch = "x86_64")]
fn pool_in_blocks(
    c: &ConvPlan,
    rows: &[i8],
    (w, w_stride): (&[i8], usize),
    (offset, rq): (&[i32], &Requant<'_>),
    y: &mut [i8],
) {
    let (oh, ow) = c.g.output;
    let pool = InBlockPool {
        ow,
        plane: (oh / 2) * (ow / 2),
    };
    let block = c.block(rows, w_stride, Some(pool));
    // SAFETY: only chosen where the CPU has AVX-512 VNNI and VBMI.
    unsafe { vnni_conv::conv_block(&block, w, offset, rq, y) };
}

/// [`conv2d`] with its plan: the permuted-patch kernel where the CPU has AVX-512 VNNI and
/// VBMI and the plan fits, else [`conv2d`] (the same bytes).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_planned(
    isa: Isa8,
    x: &[i8],
    x_zero: i32,
    plan: &ConvPlan,
    (w, w_stride): (&[i8], usize),
    bias: &[i32],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni && plan.fits && vbmi() {
        if plan.padding().plane_len() + REACH <= SMALL_SCRATCH {
            conv_perm::<SMALL_SCRATCH>((x, x_zero), plan, (w, w_stride), (offset, rq), y);
        } else {
            conv_perm::<SCRATCH>((x, x_zero), plan, (w, w_stride), (offset, rq), y);
        }
        return;
    }
    conv2d(isa, x, x_zero, plan.g, (w, w_stride), bias, offset, rq, y);
}

/// The convolution of `plan` (any stride), its patches gathered from the padded input by one
/// byte permutation per quad of weights, 16 consecutive outputs per vector (no unfolding, no
/// lanes spent on padding columns).
#[cfg(target_arch = "x86_64")]
fn conv_perm<const N: usize>(
    (x, x_zero): (&[i8], i32),
    plan: &ConvPlan,
    (w, w_stride): (&[i8], usize),
    (offset, rq): (&[i32], &Requant<'_>),
    y: &mut [i8],
) {
    let mut scratch = Scratch::<N>::new();
    let rows = padded(&mut scratch.0, plan, x, x_zero);
    let block = plan.block(rows, w_stride, None);
    // SAFETY: only chosen where the CPU has AVX-512 VNNI and VBMI.
    unsafe { vnni_conv::conv_block(&block, w, offset, rq, y) };
}
