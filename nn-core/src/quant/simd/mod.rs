//! Vector int8 kernels: dense layers and convolutions with AVX-512 VNNI (`vpdpbusd`) or AVX2
//! (`vpmaddwd` on widened values), chosen at run time, and a portable integer fallback. Every
//! path computes exactly the integers of the plain loops in [`super::ops`] (tested against
//! them), so the int8 twin gives the same bits on every machine.
//!
//! The trick of every int8 engine (oneDNN, XNNPACK, TFLite's ruy): `vpdpbusd` multiplies
//! unsigned by signed bytes, so activations enter as `x + 128` (a flip of the sign bit) and
//! the bias absorbs the difference: `sum (x - zx) w = sum (x + 128) w - (128 + zx) sum w`. The
//! per-output constant `bias - (128 + zx) sum w` is the kernel's `offset`. AVX2's `vpmaddubsw`
//! would saturate the pair sums at `i16` (`255 * 127 * 2 > 32767`), so the AVX2 path widens
//! bytes to `i16` and uses `vpmaddwd`, which cannot overflow here.
//!
//! Layouts: dense weights are packed as `[in / 4][out][4]` (four consecutive inputs of one
//! output side by side, so a vector holds 16 or 8 outputs), with the `in % 4` last inputs as
//! `[out][in % 4]`; a convolution keeps PyTorch's `[out][in][kh][kw]` and its input is
//! unfolded per block of output positions (positions are the vector lanes).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod vnni;

use super::fixed::Rounding;
use super::ops::{Output, Window2};
use super::Requantize;

/// The int8 instruction set a kernel runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa8 {
    /// Plain integer loops (every target, `no_std`).
    Portable,
    /// AVX2: bytes widened to `i16`, `vpmaddwd`, 8 lanes.
    Avx2,
    /// AVX-512 (F, BW, VL) with VNNI: `vpdpbusd`, 16 lanes.
    Vnni,
}

impl Isa8 {
    /// The widest int8 instruction set of this CPU: detected once at run time with `std`, from
    /// the compile-time target without it.
    pub fn detect() -> Isa8 {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            static LEVEL: AtomicU8 = AtomicU8::new(0);
            match LEVEL.load(Ordering::Relaxed) {
                1 => Isa8::Portable,
                2 => Isa8::Avx2,
                3 => Isa8::Vnni,
                _ => {
                    let l = if std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512bw")
                        && std::is_x86_feature_detected!("avx512vl")
                        && std::is_x86_feature_detected!("avx512vnni")
                    {
                        Isa8::Vnni
                    } else if std::is_x86_feature_detected!("avx2") {
                        Isa8::Avx2
                    } else {
                        Isa8::Portable
                    };
                    LEVEL.store(1 + l as u8, Ordering::Relaxed);
                    l
                }
            }
        }
        #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
        {
            if cfg!(all(
                target_feature = "avx512f",
                target_feature = "avx512bw",
                target_feature = "avx512vl",
                target_feature = "avx512vnni"
            )) {
                Isa8::Vnni
            } else if cfg!(target_feature = "avx2") {
                Isa8::Avx2
            } else {
                Isa8::Portable
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa8::Portable
        }
    }

    /// Whether this CPU can run `self` (tests run every path the machine has).
    pub fn available(self) -> bool {
        matches!(
            (self, Isa8::detect()),
            (Isa8::Portable, _) | (Isa8::Avx2, Isa8::Avx2 | Isa8::Vnni) | (Isa8::Vnni, Isa8::Vnni)
        )
    }
}

/// Where dense weight `(o, i)` of a layer with `n_in` inputs and `n_out` outputs is in the
/// packed layout (module docs).
#[inline]
pub fn packed_index(n_in: usize, n_out: usize, o: usize, i: usize) -> usize {
    let full = n_in / 4 * 4;
    if i < full {
        (i / 4) * n_out * 4 + o * 4 + i % 4
    } else {
        full * n_out + o * (n_in - full) + (i - full)
    }
}

/// The requantization of a layer's outputs: per output (dense) or per channel (convolution)
/// fixed-point multipliers and shifts, the real multipliers for [`Rounding::Double`], and the
/// output's zero point and clamp.
#[derive(Clone, Copy)]
pub struct Requant<'a> {
    /// Fixed-point multipliers.
    pub multiplier: &'a [i32],
    /// Their shifts.
    pub shift: &'a [i32],
    /// The full requantizations (for [`Rounding::Double`]).
    pub exact: &'a [Requantize],
    /// How accumulators are scaled back.
    pub rounding: Rounding,
    /// Zero point and clamp of the output.
    pub out: Output,
    /// The shifts prepared for the vector requantization ([`Prep`]), one per output/channel,
    /// or `None` (the kernels derive them from `shift` on every call).
    pub prep: Option<Prep<'a>>,
}

/// The shifts of a requantization prepared for the vector kernels, per output/channel:
/// left shift (`max(shift, 0)`), right shift (`max(-shift, 0)`), its mask `2^right - 1` and
/// half of it (rounded down). Derived once ([`Prep::of`]) instead of on every call.
#[derive(Clone, Copy)]
pub struct Prep<'a> {
    /// Left shifts.
    pub left: &'a [i32],
    /// Right shifts.
    pub right: &'a [i32],
    /// `2^right - 1`.
    pub mask: &'a [i32],
    /// `(2^right - 1) / 2`.
    pub half: &'a [i32],
}

impl Prep<'_> {
    /// `(left, right, mask, half)` of shift `shift`.
    pub const fn of(shift: i32) -> (i32, i32, i32, i32) {
        let left = if shift > 0 { shift } else { 0 };
        let right = if shift < 0 { -shift } else { 0 };
        let mask = ((1i64 << right) - 1) as i32;
        (left, right, mask, mask >> 1)
    }
}

impl Requant<'_> {
    /// The scalar requantization of accumulator `acc` of output/channel `o`.
    #[inline]
    fn scalar(&self, o: usize, acc: i32) -> i8 {
        self.exact[o].apply_with(self.rounding, acc, self.out.zero_point, self.out.range)
    }
}

/// Outputs per chunk of a dense layer (accumulators kept in registers: 4 x 16 or 8 x 8).
const CHUNK: usize = 64;

/// A dense layer: `y[o] = requant(offset[o] + sum_i (x[i] + 128) w[o][i])` with `w` packed
/// (module docs; `offset` folds the bias and the input's zero point).
pub fn dense(isa: Isa8, x: &[i8], w: &[i8], offset: &[i32], rq: &Requant<'_>, y: &mut [i8]) {
    let (n_in, n_out) = (x.len(), y.len());
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni
        && rq.rounding == Rounding::FixedPoint
        && n_in.is_multiple_of(4)
        && n_out <= 64
    {
        // SAFETY: `Isa8::Vnni` is only chosen where the CPU has it; the shape is checked.
        return unsafe { vnni::dense_layer(x, w, offset, rq, y) };
    }
    let full = n_in / 4 * 4;
    let mut o0 = 0;
    while o0 < n_out {
        let cnt = CHUNK.min(n_out - o0);
        let mut acc = [0i32; CHUNK];
        acc[..cnt].copy_from_slice(&offset[o0..o0 + cnt]);
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa8::Vnni` is only chosen where the CPU has it (`detect`/`available`).
            Isa8::Vnni => unsafe { vnni::dense_acc(x, w, n_out, o0, &mut acc[..cnt]) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2.
            Isa8::Avx2 => unsafe { avx2::dense_acc(x, w, n_out, o0, &mut acc[..cnt]) },
            _ => dense_acc(x, w, n_out, o0, &mut acc[..cnt]),
        }
        if full < n_in {
            let r = n_in - full;
            let tail = &x[full..];
            for (j, a) in acc[..cnt].iter_mut().enumerate() {
                let row = &w[full * n_out + (o0 + j) * r..][..r];
                for (&xi, &wi) in tail.iter().zip(row) {
                    *a += (xi as i32 + 128) * wi as i32;
                }
            }
        }
        requantize(isa, &acc[..cnt], rq, o0, &mut y[o0..o0 + cnt]);
        o0 += cnt;
    }
}

/// [`dense`] on `n` samples at once: `x` holds `n` inputs of `n_in` bytes one after the
/// other, `y` their `n` outputs (the same bytes as `n` calls of [`dense`]).
#[allow(clippy::too_many_arguments)]
pub fn dense_many(
    isa: Isa8,
    x: &[i8],
    n_in: usize,
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
    n_out: usize,
) {
    let n = x.len().checked_div(n_in).unwrap_or(0);
    let mut s = 0;
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni
        && rq.rounding == Rounding::FixedPoint
        && n_in.is_multiple_of(4)
        && n_out <= 64
    {
        while s + 4 <= n {
            // SAFETY: the CPU has VNNI (`Isa8::Vnni`); shapes checked above.
            unsafe {
                vnni::dense_four(
                    &x[s * n_in..(s + 4) * n_in],
                    w,
                    offset,
                    rq,
                    &mut y[s * n_out..(s + 4) * n_out],
                )
            };
            s += 4;
        }
    }
    while s < n {
        dense(
            isa,
            &x[s * n_in..(s + 1) * n_in],
            w,
            offset,
            rq,
            &mut y[s * n_out..(s + 1) * n_out],
        );
        s += 1;
    }
}

/// The portable accumulation of [`dense`] over the full quads.
fn dense_acc(x: &[i8], w: &[i8], n_out: usize, o0: usize, acc: &mut [i32]) {
    for (q, xq) in x.chunks_exact(4).enumerate() {
        let xu = [0, 1, 2, 3].map(|t| xq[t] as i32 + 128);
        let base = &w[q * n_out * 4 + o0 * 4..];
        for (a, wq) in acc.iter_mut().zip(base.chunks_exact(4)) {
            *a += xu[0] * wq[0] as i32
                + xu[1] * wq[1] as i32
                + xu[2] * wq[2] as i32
                + xu[3] * wq[3] as i32;
        }
    }
}

/// `y[j] = requant of output o0 + j`.
fn requantize(isa: Isa8, acc: &[i32], rq: &Requant<'_>, o0: usize, y: &mut [i8]) {
    if rq.rounding == Rounding::FixedPoint {
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa8::Vnni` is only chosen where the CPU has AVX-512.
            Isa8::Vnni => return unsafe { vnni::requantize(acc, rq, o0, y) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2.
            Isa8::Avx2 => return unsafe { avx2::requantize(acc, rq, o0, y) },
            _ => {}
        }
    }
    for (j, (y, &a)) in y.iter_mut().zip(acc).enumerate() {
        *y = rq.scalar(o0 + j, a);
    }
}

/// Scratch bytes a vector convolution unfolds its input into (on the stack; larger layers
/// take the plain loops).
const SCRATCH: usize = 16 * 1024;

/// A 2-D convolution (channels first, weights `[out][in][kh][kw]`, filter `c` at
/// `w[c * w_stride..]`: its weights, then zeros up to the stride), as
/// [`super::ops::conv2d`] with `offset[c] = bias[c] - (128 + x_zero) * sum w[c]`; `bias`
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
    super::ops::conv2d_strided(x, x_zero, g, (w, w_stride), bias, requant, rq.out, y);
}

/// The most weight quads a vector convolution's filter can have (its unfolded rows, each at
/// least 32 bytes, fit the scratch).
const MAX_QUADS: usize = SCRATCH / 32 / 4 + 1;

/// Scratch bytes for small convolutions.
const SMALL_SCRATCH: usize = 4 * 1024;

/// The arguments of [`conv2d`] a vector path needs.
#[cfg(target_arch = "x86_64")]
struct ConvArgs<'a> {
    isa: Isa8,
    x: &'a [i8],
    x_zero: i32,
    g: Window2,
    w: &'a [i8],
    w_stride: usize,
    offset: &'a [i32],
    rq: &'a Requant<'a>,
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
            w_stride: a.w_stride,
        };
        match a.isa {
            // SAFETY: only chosen where the CPU has AVX-512 VNNI.
            Isa8::Vnni => unsafe { vnni::conv_block(&block, a.w, a.offset, a.rq, y) },
            // SAFETY: only chosen where the CPU has AVX2.
            _ => unsafe { avx2::conv_block(&block, a.w, a.offset, a.rq, y) },
        }
        oy0 += n_rows;
    }
    true
}

/// Whether the CPU has AVX-512 VBMI (`vpermi2b`), with `std` detected at run time, else from
/// the compile-time target.
#[cfg(target_arch = "x86_64")]
fn vbmi() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512vbmi")
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
    hp: usize,
    wp: usize,
    /// Quads of filter weights.
    quads: usize,
    /// Whether the permuted kernel applies: the padded input and [`REACH`] bytes fit the
    /// scratch, and every block of 16 outputs reads at most [`REACH`] bytes from its first
    /// one's.
    fits: bool,
    /// Whether some block reads past 128 bytes (two permutations per patch instead of one).
    wide: bool,
    /// The most bytes between a quad's weights' reads.
    span: usize,
    /// Per quad: where its first weight reads (least offset) and the four weights' offsets
    /// from there, one byte each.
    start: [u32; MAX_QUADS],
    word: [u32; MAX_QUADS],
}

impl ConvPlan {
    /// The plan of geometry `g`.
    pub const fn new(g: Window2) -> ConvPlan {
        let (c, h, w) = g.input;
        let (kh, kw) = g.kernel;
        let (oh, ow) = g.output;
        let (sh, sw) = g.stride;
        let hp = cmax(h + g.pad.0, (oh.saturating_sub(1)) * sh + kh);
        let wp = cmax(w + g.pad.1, (ow.saturating_sub(1)) * sw + kw);
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
        let positions = oh * ow;
        let mut p = 0;
        while p < positions {
            let last = cmin(p + 15, positions - 1);
            let reach = plan.offset(last) - plan.offset(p) + span;
            if reach >= REACH {
                return plan;
            }
            plan.wide |= reach >= 128;
            p += 16;
        }
        plan.fits = true;
        plan
    }

    /// Where output position `pos` reads, relative to each quad's start.
    #[inline(always)]
    const fn offset(&self, pos: usize) -> usize {
        let (oy, ox) = (pos / self.g.output.1, pos % self.g.output.1);
        oy * self.g.stride.0 * self.wp + ox * self.g.stride.1
    }
}

/// Where filter weight `t` (`(c, ki, kj)` flattened) reads in the padded input.
const fn tap(t: usize, kh: usize, kw: usize, hp: usize, wp: usize) -> usize {
    let (c, r) = (t / (kh * kw), t % (kh * kw));
    (c * hp + r / kw) * wp + r % kw
}

const fn cmax(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

const fn cmin(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// How many bytes from a block's first read a permuted patch may read (two `vpermi2b`).
const REACH: usize = 256;

/// The padded, flipped input of `u` (as [`Unfold::pad`]) and [`REACH`] zero bytes after it, written
/// into the front of `scratch` (the rest stays uninitialized: zeroing a whole scratch on every
/// call cost more than a small convolution).
#[cfg(target_arch = "x86_64")]
fn padded<'s>(
    scratch: &'s mut [core::mem::MaybeUninit<i8>],
    u: &Unfold,
    x: &[i8],
    x_zero: i32,
) -> &'s [i8] {
    let plane = u.g.input.0 * u.hp * u.wp;
    let len = u.plane_len() + REACH;
    let (c, h, w) = u.g.input;
    assert!(len <= scratch.len() && x.len() >= c * h * w);
    assert!(u.g.pad.0 + h <= u.hp && u.g.pad.1 + w <= u.wp);
    let z = (x_zero.clamp(-128, 127) as i8 as u8 ^ 0x80) as i8;
    // SAFETY: the CPU has AVX-512 F and BW (the callers run on VNNI); `pad_plane` writes the
    // `plane + (len - plane)` bytes from the start of `scratch` (checked to hold them) before
    // the slice over them is made.
    unsafe {
        let dst = scratch.as_mut_ptr() as *mut i8;
        vnni::pad_plane(dst, (c, h, w), (u.hp, u.wp), u.g.pad, z, x, len - plane);
        core::slice::from_raw_parts(dst, len)
    }
}

/// Patches a pooled convolution's block may need (window elements times weight quads).
const POOL_PATCHES: usize = 160;

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
    /// fit [`POOL_PATCHES`], the pooled outputs fill their vectors as well as the convolution's
    /// would, and every block of 16 pooled outputs reads at most 128 bytes from each window
    /// element's first one.
    fits: bool,
    /// Whether some block reads past 128 bytes.
    wide: bool,
}

impl PoolPlan {
    /// The plan of convolution `g` followed by max pooling `window` (stride `window`).
    pub const fn new(g: Window2, window: (usize, usize)) -> PoolPlan {
        let conv = ConvPlan::new(g);
        let (ph, pw) = window;
        let mut plan = PoolPlan {
            conv,
            window,
            pooled: (0, 0),
            fits: false,
            wide: false,
        };
        if ph == 0 || pw == 0 {
            return plan;
        }
        let pooled = (g.output.0 / ph, g.output.1 / pw);
        plan.pooled = pooled;
        let positions = pooled.0 * pooled.1;
        if !conv.fits || positions == 0 || conv.quads * ph * pw > POOL_PATCHES {
            return plan;
        }
        // Fused, each window element takes its own vectors of 16 pooled outputs: no more of
        // them than the convolution alone would take (small pooled planes leave lanes empty).
        if ph * pw * positions.div_ceil(16) > (ph * pw * positions).div_ceil(16) {
            return plan;
        }
        let (row, col) = (ph * g.stride.0 * conv.wp, pw * g.stride.1);
        let mut p = 0;
        while p < positions {
            let last = cmin(p + 15, positions - 1);
            let first = p / pooled.1 * row + p % pooled.1 * col;
            let reach = last / pooled.1 * row + last % pooled.1 * col - first + conv.span;
            if reach >= REACH {
                return plan;
            }
            plan.wide |= reach >= 128;
            p += 16;
        }
        plan.fits = true;
        plan
    }
}

/// What [`vnni::conv_pool`] reads: the padded input, the quads' layout, the geometry.
#[cfg(target_arch = "x86_64")]
pub(crate) struct PooledBlock<'a> {
    pub rows: &'a [i8],
    pub start: &'a [u32],
    pub word: &'a [u32],
    pub w_stride: usize,
    pub wp: usize,
    pub stride: (usize, usize),
    pub window: (usize, usize),
    pub pooled: (usize, usize),
    pub wide: bool,
}

/// The convolution of `plan` followed by its max pooling into `y` (the pooled output), the
/// same bytes as [`conv2d`] then [`max_pool2d`] (pooled before the requantization, which is
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
    let c = plan.conv;
    let fits = plan.fits
        && rq.rounding == Rounding::FixedPoint
        && w_stride.is_multiple_of(4)
        && w_stride >= 4 * c.quads
        && offset.len() * w_stride <= w.len()
        && rq.multiplier.len() >= offset.len()
        && rq.shift.len() >= offset.len()
        && y.len() == offset.len() * plan.pooled.0 * plan.pooled.1
        && x.len() == c.g.input.0 * c.g.input.1 * c.g.input.2;
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni && fits && vbmi() {
        let u = Unfold {
            g: c.g,
            vnni: true,
            hp: c.hp,
            wp: c.wp,
            chunk_rows: 0,
            row_stride: 0,
        };
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
            unsafe { vnni::conv_pool(&block, w, offset, rq, y) };
        };
        let len = u.plane_len() + REACH;
        // Only the padded input and the bytes a gather may read past it are written.
        if len <= SMALL_SCRATCH {
            let mut scratch = [core::mem::MaybeUninit::<i8>::uninit(); SMALL_SCRATCH];
            run(padded(&mut scratch, &u, x, x_zero), y);
        } else {
            let mut scratch = [core::mem::MaybeUninit::<i8>::uninit(); SCRATCH];
            run(padded(&mut scratch, &u, x, x_zero), y);
        }
        return true;
    }
    let _ = (isa, x, x_zero, fits);
    false
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
        let g = plan.g;
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
        let u = Unfold {
            g,
            vnni: true,
            hp: plan.hp,
            wp: plan.wp,
            chunk_rows: 0,
            row_stride: 0,
        };
        if u.plane_len() + REACH <= SMALL_SCRATCH {
            conv_perm::<SMALL_SCRATCH>(&args, plan, &u, y);
        } else {
            conv_perm::<SCRATCH>(&args, plan, &u, y);
        }
        return;
    }
    conv2d(isa, x, x_zero, plan.g, (w, w_stride), bias, offset, rq, y);
}

/// The convolution of `plan` (any stride), its patches gathered from the padded input by one
/// byte permutation per quad of weights, 16 consecutive outputs per vector (no unfolding, no
/// lanes spent on padding columns).
#[cfg(target_arch = "x86_64")]
fn conv_perm<const N: usize>(a: &ConvArgs<'_>, plan: &ConvPlan, u: &Unfold, y: &mut [i8]) {
    let mut scratch = [core::mem::MaybeUninit::<i8>::uninit(); N];
    let rows = padded(&mut scratch, u, a.x, a.x_zero);
    let positions = plan.g.output.0 * plan.g.output.1;
    let perm = Perm {
        start: &plan.start[..plan.quads],
        word: &plan.word[..plan.quads],
        ow: plan.g.output.1,
        wp: plan.wp,
        stride: plan.g.stride,
        wide: plan.wide,
    };
    let block = ConvBlock {
        rows,
        w_stride: a.w_stride,
        stride: 0,
        k: plan.g.input.0 * plan.g.kernel.0 * plan.g.kernel.1,
        positions,
        first: 0,
        plane_len: positions,
        grid: None,
        perm: Some(perm),
    };
    // SAFETY: only chosen where the CPU has AVX-512 VNNI and VBMI.
    unsafe { vnni::conv_block(&block, a.w, a.offset, a.rq, y) };
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
    };
    // SAFETY: only chosen where the CPU has AVX-512 VNNI.
    unsafe { vnni::conv_block(&block, a.w, a.offset, a.rq, y) };
    true
}

/// A chunk of unfolded output positions handed to a vector convolution: `k` rows (one per
/// weight of a filter, then zero rows up to a multiple of 4), each `positions` bytes at
/// `stride`, already biased by 128 (unsigned); `first` is the chunk's first output position,
/// `plane_len` the positions per output channel.
pub(crate) struct ConvBlock<'a> {
    pub rows: &'a [i8],
    /// Bytes from one filter's weights to the next.
    pub w_stride: usize,
    pub stride: usize,
    pub k: usize,
    pub positions: usize,
    pub first: usize,
    pub plane_len: usize,
    /// Read straight from the padded input instead: row `t` starts at `offsets[t]` of `rows`,
    /// and position `p` is output `(p / wp, p % wp)` (columns from `ow` on are not outputs).
    pub grid: Option<Grid<'a>>,
    /// Patches gathered by a byte permutation from the padded input instead (`rows`), the
    /// positions being the outputs in order (AVX-512 VBMI).
    pub perm: Option<Perm<'a>>,
}

/// The layout of a convolution whose patches are gathered from its padded input `rows` by
/// `vpermi2b` ([`vnni::conv_block`]): quad `q`'s weights read `rows` at `start[q]` plus the
/// bytes of `word[q]` (one per weight of the quad), plus the position's offset
/// `(oy sh) wp + ox sw`; every block of 16 positions fits [`REACH`] bytes from its first one's.
#[derive(Clone, Copy)]
pub(crate) struct Perm<'a> {
    pub start: &'a [u32],
    pub word: &'a [u32],
    pub ow: usize,
    pub wp: usize,
    pub stride: (usize, usize),
    /// Some block reads past 128 bytes.
    pub wide: bool,
}

/// The layout of a convolution read from its padded input (stride 1): the row of filter
/// weight `t` is the input shifted by `offsets[t]`, and the positions run over the padded
/// width `wp`, of which the first `ow` of each row are outputs.
#[derive(Clone, Copy)]
pub(crate) struct Grid<'a> {
    pub offsets: &'a [u32],
    pub wp: usize,
    pub ow: usize,
}

impl ConvBlock<'_> {
    /// Where row `t` starts in `rows`.
    #[inline(always)]
    pub fn row_start(&self, t: usize) -> usize {
        match self.grid {
            Some(g) => g.offsets[t] as usize,
            None => t * self.stride,
        }
    }

    /// The output segments of the positions `p..p + lanes`: for each output row they touch,
    /// the offset (in a channel's outputs) that lane 0 would write to and the mask of the
    /// lanes that are outputs of that row. Returns how many of `segs` are filled.
    pub fn segments(&self, p: usize, lanes: usize, segs: &mut [(isize, u32); 24]) -> usize {
        let Some(g) = self.grid else {
            let n = lanes.min(self.positions - p);
            segs[0] = ((self.first + p) as isize, ((1u64 << n) - 1) as u32);
            return 1;
        };
        let mut count = 0;
        let mut l = 0;
        while l < lanes && p + l < self.positions && count < segs.len() {
            let pos = p + l;
            let (oy, ox) = (pos / g.wp, pos % g.wp);
            let in_row = (g.wp - ox).min(lanes - l);
            let valid =
                g.ow.saturating_sub(ox)
                    .min(in_row)
                    .min(self.positions - pos);
            if valid > 0 {
                let mask = (((1u64 << valid) - 1) << l) as u32;
                segs[count] = ((oy * g.ow + ox) as isize - l as isize, mask);
                count += 1;
            }
            l += in_row;
        }
        count
    }

    /// Quads of filter weights (rows padded to a multiple of 4).
    pub fn quads(&self) -> usize {
        self.k.div_ceil(4)
    }

    /// The four bytes of filter `c`'s weights `4q..4q + 4` as one little-endian word: read
    /// whole where filters are padded to a multiple of 4 (`w_stride`), else with the bytes past
    /// the filter's last weight (the next filter's, or past the end) as zeros.
    #[inline(always)]
    pub fn weight_quad(&self, w: &[i8], c: usize, q: usize) -> i32 {
        let s = c * self.w_stride + 4 * q;
        if self.w_stride.is_multiple_of(4) && s + 4 <= w.len() {
            // SAFETY: `s..s + 4` is inside `w`.
            return unsafe { (w.as_ptr().add(s) as *const i32).read_unaligned() };
        }
        let mut b = [0u8; 4];
        let inside = (self.k - 4 * q).min(4);
        for (t, b) in b.iter_mut().enumerate().take(inside) {
            *b = w.get(s + t).map_or(0, |&v| v as u8);
        }
        i32::from_le_bytes(b)
    }
}

/// How a convolution's input is padded and unfolded in [`SCRATCH`] bytes: the padded planes
/// first, then rows of unfolded positions for `chunk_rows` output rows at a time.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Unfold {
    g: Window2,
    /// Strided rows gathered with AVX-512 (the CPU has it).
    vnni: bool,
    /// Padded height and width.
    hp: usize,
    wp: usize,
    chunk_rows: usize,
    row_stride: usize,
}

#[cfg(target_arch = "x86_64")]
impl Unfold {
    /// The layout, or `None` when the layer does not fit the scratch.
    fn new(g: Window2, scratch: usize) -> Option<Unfold> {
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

    fn plane_len(&self) -> usize {
        self.g.input.0 * self.hp * self.wp + 16
    }

    fn k(&self) -> usize {
        self.g.input.0 * self.g.kernel.0 * self.g.kernel.1
    }

    /// `x` with its padding (the zero point) into `plane` (`[c][hp][wp]`), plus 128: each
    /// byte with its sign bit flipped, as the unsigned operand of the kernels.
    fn pad(&self, x: &[i8], x_zero: i32, plane: &mut [i8]) {
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
                                vnni::gather_even(
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

/// [`super::ops::max_pool2d`], with the 2 x 2, stride-2 windows of an unpadded input in
/// AVX-512 where the CPU has it (the same bytes).
pub fn max_pool2d(x: &[i8], g: Window2, range: (i32, i32), y: &mut [i8]) {
    #[cfg(target_arch = "x86_64")]
    {
        let (c, h, wd) = g.input;
        let (oh, ow) = g.output;
        if g.kernel == (2, 2)
            && g.stride == (2, 2)
            && g.pad == (0, 0)
            && 2 * oh <= h
            && 2 * ow <= wd
            && ow <= 32
            && x.len() >= c * h * wd
            && y.len() >= c * oh * ow
            && Isa8::detect() == Isa8::Vnni
        {
            let (lo, hi) = (
                range.0.clamp(-128, 127) as i8,
                range.1.clamp(-128, 127) as i8,
            );
            for (plane, out) in x
                .chunks_exact(h * wd)
                .zip(y.chunks_exact_mut(oh * ow))
                .take(c)
            {
                // SAFETY: the CPU has AVX-512 (VNNI implies F, BW and VL here); every window is
                // inside the plane and `out` has `oh * ow` bytes (checked above).
                unsafe { vnni::max_pool_2x2(plane, wd, (oh, ow), (lo, hi), out) };
            }
            return;
        }
    }
    super::ops::max_pool2d(x, g, range, y);
}

/// `q = clamp(zero_point + round(x / scale))` for every value: [`super::QuantParams::quantize`]
/// (round half away from zero, NaN to the zero point), vectorized where the CPU allows.
pub fn quantize(isa: Isa8, x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni {
        // SAFETY: only chosen where the CPU has AVX-512.
        return unsafe { vnni::quantize(x, scale, zero_point, y) };
    }
    let _ = isa;
    let q = super::QuantParams { scale, zero_point };
    for (y, &v) in y.iter_mut().zip(x) {
        *y = q.quantize(v);
    }
}
