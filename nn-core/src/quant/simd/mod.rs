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
//! `[out][in % 4]`; a 2-D convolution keeps PyTorch's `[out][in][kh][kw]` and its input is
//! unfolded per block of output positions (positions are the vector lanes); a 1-D one is a
//! dense layer per output position, weights packed as a dense layer's ([`Lanes`]: the output
//! channels are the lanes).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod conv;
mod head;
mod lanes;
mod layout;
mod plan;
mod requant;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod vnni;
#[cfg(target_arch = "x86_64")]
mod vnni_conv;
#[cfg(target_arch = "x86_64")]
mod vnni_head;
#[cfg(target_arch = "x86_64")]
mod vnni_lanes;

pub use conv::conv2d;
pub use head::{dense_softmax_many_sized, dense_softmax_sized};
pub use lanes::conv1d_lanes;
pub use layout::Lanes;
pub use plan::{conv2d_planned, conv2d_pooled, conv2d_pooled_lanes, ConvPlan, PoolPlan};
pub use requant::{Prep, Requant};

use super::fixed::Rounding;
use super::ops::Window2;
use generic_array::typenum::Unsigned;

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

/// [`Isa8::detect`]'s answer, `1 + Isa8 as u8`, or 0 before the first call.
#[cfg(all(target_arch = "x86_64", feature = "std"))]
static LEVEL: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The detection behind [`Isa8::detect`], stored in [`LEVEL`].
#[cfg(all(target_arch = "x86_64", feature = "std"))]
#[cold]
#[inline(never)]
fn detect_once() -> Isa8 {
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
    LEVEL.store(1 + l as u8, core::sync::atomic::Ordering::Relaxed);
    l
}

impl Isa8 {
    /// The widest int8 instruction set of this CPU: detected once at run time with `std`, from
    /// the compile-time target without it.
    ///
    /// Inlined (a load and a compare, every layer call asks); the first call's detection is
    /// out of line.
    #[inline]
    pub fn detect() -> Isa8 {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            match LEVEL.load(core::sync::atomic::Ordering::Relaxed) {
                1 => Isa8::Portable,
                2 => Isa8::Avx2,
                3 => Isa8::Vnni,
                _ => detect_once(),
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
    #[inline]
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

/// Outputs per chunk of a dense layer (accumulators kept in registers: 4 x 16 or 8 x 8).
const CHUNK: usize = 64;

/// The sizes of a dense layer: run-time values ([`Dyn`]) or a layer type's constants
/// ([`Typed`]), so that one kernel body serves both and a layer type gets its own copy, in
/// which masks, loop counts and register blocks fold.
trait Sizes: Copy {
    /// Inputs.
    fn n_in(self) -> usize;
    /// Outputs.
    fn n_out(self) -> usize;
}

/// Sizes known at run time: inputs, outputs.
#[derive(Clone, Copy)]
struct Dyn(usize, usize);

impl Sizes for Dyn {
    #[inline(always)]
    fn n_in(self) -> usize {
        self.0
    }
    #[inline(always)]
    fn n_out(self) -> usize {
        self.1
    }
}

/// Sizes of a layer type: `I` inputs, `O` outputs.
#[derive(Clone, Copy)]
struct Typed<I, O>(core::marker::PhantomData<(I, O)>);

impl<I: Unsigned, O: Unsigned> Typed<I, O> {
    const NEW: Self = Typed(core::marker::PhantomData);
}

impl<I: Unsigned, O: Unsigned> Sizes for Typed<I, O> {
    #[inline(always)]
    fn n_in(self) -> usize {
        I::USIZE
    }
    #[inline(always)]
    fn n_out(self) -> usize {
        O::USIZE
    }
}

/// Whether the AVX-512 VNNI dense kernels take a layer of sizes `sz` with requantization `rq`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn vnni_dense(isa: Isa8, sz: impl Sizes, rq: &Requant<'_>) -> bool {
    vnni_dense_one(isa, sz, rq) && sz.n_in().is_multiple_of(4)
}

/// Whether the one-sample AVX-512 VNNI dense kernel ([`vnni::dense_layer`]) takes the layer: as
/// [`vnni_dense`], and also with inputs not a multiple of 4 (it makes a last quad of the
/// `in % 4` last inputs).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn vnni_dense_one(isa: Isa8, sz: impl Sizes, rq: &Requant<'_>) -> bool {
    isa == Isa8::Vnni && rq.rounding == Rounding::FixedPoint && sz.n_out() <= 64
}

/// A dense layer: `y[o] = requant(offset[o] + sum_i (x[i] + 128) w[o][i])` with `w` packed
/// (module docs; `offset` folds the bias and the input's zero point).
pub fn dense(isa: Isa8, x: &[i8], w: &[i8], offset: &[i32], rq: &Requant<'_>, y: &mut [i8]) {
    dense_with(isa, Dyn(x.len(), y.len()), x, w, offset, rq, y)
}

/// [`dense`] with the sizes as types (`I` inputs, `O` outputs): the same bytes, with every size a
/// constant in the AVX-512 VNNI kernel (one copy per layer shape), so that its masks, loop counts
/// and register blocks fold away. Panics unless `x` has `I` values and `y` `O`.
#[inline]
pub fn dense_sized<I: Unsigned, O: Unsigned>(
    isa: Isa8,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    assert!(
        x.len() == I::USIZE && y.len() == O::USIZE,
        "dense_sized: shapes"
    );
    dense_with(isa, Typed::<I, O>::NEW, x, w, offset, rq, y)
}

/// [`dense`] with sizes `sz` (`x.len() == sz.n_in()`, `y.len() == sz.n_out()`).
#[inline]
fn dense_with(
    isa: Isa8,
    sz: impl Sizes,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    #[cfg(target_arch = "x86_64")]
    if vnni_dense_one(isa, sz, rq) {
        // SAFETY: `Isa8::Vnni` is only chosen where the CPU has it; the shape is checked.
        return unsafe { vnni::dense_layer(sz, x, w, offset, rq, y) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = sz;
    dense_chunks(isa, x, w, offset, rq, y)
}

/// [`dense`] by chunks of [`CHUNK`] outputs: any shape and instruction set.
fn dense_chunks(isa: Isa8, x: &[i8], w: &[i8], offset: &[i32], rq: &Requant<'_>, y: &mut [i8]) {
    let n_out = y.len();
    let mut o0 = 0;
    while o0 < n_out {
        let cnt = CHUNK.min(n_out - o0);
        dense_chunk(isa, (x, n_out), w, offset, rq, o0, &mut y[o0..o0 + cnt]);
        o0 += cnt;
    }
}

/// Outputs `o0..o0 + y.len()` (at most [`CHUNK`]) of the dense layer of `x` with `n_out`
/// outputs (as [`dense`]).
fn dense_chunk(
    isa: Isa8,
    (x, n_out): (&[i8], usize),
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    o0: usize,
    y: &mut [i8],
) {
    let n_in = x.len();
    let full = n_in / 4 * 4;
    let cnt = y.len();
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
    requantize(isa, &acc[..cnt], rq, o0, y);
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
    dense_many_with(isa, Dyn(n_in, n_out), x, w, offset, rq, y)
}

/// [`dense_many`] with the sizes as types (`I` inputs, `O` outputs per sample; as
/// [`dense_sized`]): the same bytes.
#[inline]
pub fn dense_many_sized<I: Unsigned, O: Unsigned>(
    isa: Isa8,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    dense_many_with(isa, Typed::<I, O>::NEW, x, w, offset, rq, y)
}

/// [`dense_many`] with sizes `sz`: eight samples at a time through the VNNI kernel where it
/// applies and the layer has at most 32 outputs (16 accumulators), then four, the rest one by
/// one.
#[inline]
fn dense_many_with(
    isa: Isa8,
    sz: impl Sizes,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let (n_in, n_out) = (sz.n_in(), sz.n_out());
    let n = x.len().checked_div(n_in).unwrap_or(0);
    let mut s = 0;
    #[cfg(target_arch = "x86_64")]
    if vnni_dense(isa, sz, rq) {
        // SAFETY: the CPU has VNNI (`Isa8::Vnni`); shapes checked by `vnni_dense`.
        unsafe {
            if n_out <= 32 {
                s = vnni_blocks::<8>(sz, x, w, offset, rq, y, s);
            }
            s = vnni_blocks::<4>(sz, x, w, offset, rq, y, s);
        }
    }
    while s < n {
        dense_with(
            isa,
            sz,
            &x[s * n_in..(s + 1) * n_in],
            w,
            offset,
            rq,
            &mut y[s * n_out..(s + 1) * n_out],
        );
        s += 1;
    }
}

/// Blocks of `N` samples from sample `s` through [`vnni::dense_block`] while `N` are left;
/// returns the first sample not done.
///
/// # Safety
/// As [`vnni::dense_block`]'s: the CPU has VNNI, `vnni_dense` accepted the layer, and at most 32
/// outputs for `N > 4`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn vnni_blocks<const N: usize>(
    sz: impl Sizes,
    x: &[i8],
    w: &[i8],
    offset: &[i32],
    rq: &Requant<'_>,
    y: &mut [i8],
    mut s: usize,
) -> usize {
    let (n_in, n_out) = (sz.n_in(), sz.n_out());
    let n = x.len().checked_div(n_in).unwrap_or(0);
    while s + N <= n {
        let (xs, ys) = (
            &x[s * n_in..(s + N) * n_in],
            &mut y[s * n_out..(s + N) * n_out],
        );
        // SAFETY: forwarded from the caller; the slices hold `N` samples.
        unsafe { vnni::dense_block::<N, _>(sz, xs, w, offset, rq, ys) };
        s += N;
    }
    s
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

/// What [`vnni_conv::conv_pool`] reads: the padded input, the quads' layout, the geometry.
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

/// Scratch bytes a vector convolution unfolds its input into (on the stack; larger layers
/// take the plain loops).
const SCRATCH: usize = 16 * 1024;

/// The most weight quads a vector convolution's filter can have (its unfolded rows, each at
/// least 32 bytes, fit the scratch).
const MAX_QUADS: usize = SCRATCH / 32 / 4 + 1;

/// Scratch bytes for small convolutions.
const SMALL_SCRATCH: usize = 4 * 1024;

/// How many bytes from a block's first read a permuted patch may read (two `vpermi2b`).
const REACH: usize = 256;

/// Patches a pooled convolution's block may need (window elements times weight quads).
const POOL_PATCHES: usize = 160;

/// The padded input of a small convolution built by permutation (`vnni_conv::pad_permuted`):
/// where the input has at most 128 bytes and the padded plane at most [`PAD_TABLE`], for each
/// byte of the plane the input byte it copies (`index`, one `vpermi2b` per 64), and per 64
/// bytes the lanes that copy (`from`) and those of the zero point (`zero`; the others, past the
/// plane, are 0). `chunks` (the plane's vectors of 64) is 0 where it does not fit.
#[derive(Debug, Clone, Copy)]
pub(super) struct PadTable {
    pub(super) index: [u8; PAD_TABLE],
    pub(super) from: [u64; PAD_TABLE / 64],
    pub(super) zero: [u64; PAD_TABLE / 64],
    pub(super) chunks: usize,
}

/// The largest padded plane [`PadTable`] builds (bytes).
pub(super) const PAD_TABLE: usize = 512;

impl PadTable {
    /// The table of input `(c, h, w)` placed at `(pt, pl)` in planes of `hp x wp`.
    pub(super) const fn new(
        (c, h, w): (usize, usize, usize),
        (hp, wp): (usize, usize),
        (pt, pl): (usize, usize),
    ) -> PadTable {
        let mut t = PadTable {
            index: [0; PAD_TABLE],
            from: [0; PAD_TABLE / 64],
            zero: [0; PAD_TABLE / 64],
            chunks: 0,
        };
        let plane = c * hp * wp;
        if c * h * w > 128 || plane > PAD_TABLE || plane == 0 || pt + h > hp || pl + w > wp {
            return t;
        }
        let mut o = 0;
        while o < plane {
            let (r, col) = (o % (hp * wp) / wp, o % wp);
            let bit = 1u64 << (o % 64);
            if r >= pt && r < pt + h && col >= pl && col < pl + w {
                t.index[o] = (((o / (hp * wp) * h + r - pt) * w) + col - pl) as u8;
                t.from[o / 64] |= bit;
            } else {
                t.zero[o / 64] |= bit;
            }
            o += 1;
        }
        t.chunks = plane.div_ceil(64);
        t
    }

    /// No table (`chunks` 0).
    pub(super) const NONE: PadTable = PadTable {
        index: [0; PAD_TABLE],
        from: [0; PAD_TABLE / 64],
        zero: [0; PAD_TABLE / 64],
        chunks: 0,
    };

    /// The table of [`Lanes::pooled`]'s layout of an input `(c, h, w)`: four channels to a
    /// word, `c / 4` planes of `hp wp` words, the input placed at `(pt, pl)` in each.
    pub(super) const fn interleaved(l: &Lanes) -> PadTable {
        let mut t = PadTable::NONE;
        let plane = l.c * l.lp;
        if l.c * l.len > 128 || plane > PAD_TABLE || plane == 0 || l.is_signal() {
            return t;
        }
        let mut o = 0;
        while o < plane {
            let (group, j) = (o / (4 * l.lp), o % (4 * l.lp) / 4);
            let bit = 1u64 << (o % 64);
            match l.source(4 * group + o % 4, j) {
                Some(i) => {
                    t.index[o] = i as u8;
                    t.from[o / 64] |= bit;
                }
                None => t.zero[o / 64] |= bit,
            }
            o += 1;
        }
        t.chunks = plane.div_ceil(64);
        t
    }
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
    /// With `perm`: each block's outputs max-pooled 2 x 2 before the requantization, within
    /// the block (its 16 positions are whole pairs of output rows), into the pooled output.
    pub pool: Option<InBlockPool>,
}

/// A 2 x 2 max pooling done inside [`ConvBlock`]s: the convolution's output width (2, 4 or 8:
/// a block of 16 positions is whole pairs of rows) and the pooled output's plane length.
#[derive(Clone, Copy)]
pub(crate) struct InBlockPool {
    pub ow: usize,
    pub plane: usize,
}

/// The layout of a convolution whose patches are gathered from its padded input `rows` by
/// `vpermi2b` ([`vnni_conv::conv_block`]): quad `q`'s weights read `rows` at `start[q]` plus the
/// bytes of `word[q]` (one per weight of the quad), plus the position's offset
/// `(oy sh) wp + ox sw`; every block of 16 positions fits `plan::REACH` bytes from its first one's.
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
///
/// The AVX-512 path reads the values one at a time, for an input written just before (a vector
/// load spanning the stores that wrote it waits for them); [`quantize_stored`] reads whole
/// vectors.
pub fn quantize(isa: Isa8, x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]) {
    quantize_as::<true>(isa, x, scale, zero_point, y)
}

/// [`quantize`] reading 16 values a load: for inputs that were not written just before (a
/// batch), the same bytes.
pub fn quantize_stored(isa: Isa8, x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]) {
    quantize_as::<false>(isa, x, scale, zero_point, y)
}

/// [`quantize`] with the AVX-512 path's loads one value at a time (`SCALAR`) or 16 at a time.
#[inline(always)]
fn quantize_as<const SCALAR: bool>(
    isa: Isa8,
    x: &[f32],
    scale: f32,
    zero_point: i32,
    y: &mut [i8],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa8::Vnni {
        // SAFETY: only chosen where the CPU has AVX-512.
        return unsafe { vnni::quantize::<SCALAR>(x, scale, zero_point, y) };
    }
    let _ = isa;
    let q = super::QuantParams { scale, zero_point };
    for (y, &v) in y.iter_mut().zip(x) {
        *y = q.quantize(v);
    }
}
