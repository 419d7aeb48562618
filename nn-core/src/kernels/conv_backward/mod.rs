//! Vectorized convolution backward for a whole mini-batch, written once over [`Isa`] and run with
//! the widest instruction set the CPU has (see [`crate::kernels::isa`]).
//!
//! Every product of the backward is a sum over many positions, filters or taps; the kernels
//! below differ in which axis fills the vector lanes, and [`backward_with`] picks, per geometry,
//! the one with the fewest vector operations (constants after inlining: the layers pass their
//! geometry as a type, [`GeomOf`]).
//!
//! - **Weight gradient** `dw[ky][kx][ci][co] += sum over samples and positions of
//!   x[ci][oy*sh + ky - pt][ox*sw + kx - pl] * dy[co][oy][ox]`, register blocks accumulated over
//!   the whole batch and added into `dw` once:
//!   - [`dw::dw_taps`]: vectors along a kernel row's taps `(kx, ci)` (consecutive cells of a
//!     zero-padded, channels-innermost copy of the inputs) times filters (`dy` broadcast);
//!   - [`dw::dw_positions`] (stride 1): vectors along positions, every input channel and filter a
//!     zero-padded plane with the same pitch so a tap is a constant offset; lanes summed once.
//! - **Bias gradient** [`bias_grad`]: sums of `dy` per filter, vectors along positions.
//! - **Input gradient** `dx`, the transposed convolution, one sample at a time:
//!   - [`dx_rows::dx_positions`] (stride 1 along rows): vectors along a row's input columns times input
//!     channels, from a zero-padded copy of `dy`;
//!   - [`dx_rows::dx_filters`]: vectors along input channels times input columns of one phase of the
//!     stride (so strided layers skip the taps that miss `dy`);
//!   - [`dx_flat::dx_flat`] (stride 1): vectors along the flattened rows of `dy` padded by `k - 1 - p`,
//!     each weight broadcast once for many vectors (the kernel for one input channel);
//!   - [`dx_gemm::dx_gemm`] (stride 1): the product of the kernel and `dy` (vectors along `dy`'s
//!     positions), each tap's block added at a constant offset into a padded `dx`.
//!
//! Accumulator arrays are indexed by constants only (`unroll!`), so they stay in registers.
//! Scratch (padded copies) comes from the caller; [`backward`] keeps it per thread with `std`.
//! Without `alloc` (no scratch) the layers use the plain loop, [`reference::backward`], which is
//! also what `tests` checks every kernel against, with every geometry and instruction set.

// Accumulator arrays are indexed by loop counters on purpose: with constant bounds the loops
// unroll to constant indices and the arrays stay in registers (iterators over them do not always).
#![allow(clippy::needless_range_loop)]
// Without `alloc` only the plain loop (`reference`) is used.
#![cfg_attr(not(feature = "alloc"), allow(dead_code, unused_imports))]

use super::geom::{choose, Geom, GeomOf, UNFIXED};
use super::isa::{Isa, Kernel};

/// Runs `$body` with `$j` bound to `0`, `1`, ... `$n - 1` (`$n <= $max`, `$max` 8 or 25), as
/// straight-line code: indices into accumulator arrays are constants, so the arrays stay in
/// registers (a loop the optimizer does not unroll would keep them on the stack).
macro_rules! unroll {
    ($n:expr, 8, |$j:ident| $body:block) => {
        unroll!(@each $n, $j, $body, 0 1 2 3 4 5 6 7)
    };
    ($n:expr, 25, |$j:ident| $body:block) => {
        unroll!(@each $n, $j, $body,
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
    };
    (@each $n:expr, $j:ident, $body:block, $($k:literal)*) => {
        const { assert!($n <= [$($k),*].len()) };
        $(
            if $k < $n {
                let $j: usize = $k;
                $body
            }
        )*
    };
}

/// `$e` (a choice computed from the geometry `$g`) for a geometry fixed by the type `$G`, else
/// [`UNFIXED`]: the constant side of a [`choose!`].
macro_rules! fixed {
    ($G:ty, |$g:ident| $e:expr) => {
        match <$G as GeomOf>::FIXED {
            Some($g) => $e,
            None => UNFIXED,
        }
    };
}

mod dw;
mod dx_flat;
mod dx_gemm;
mod dx_rows;
pub mod reference;
#[cfg(test)]
mod tests;

use dw::{
    dw_positions, dw_positions_cost, dw_taps, dw_taps_cost, prepare_dy_planes, prepare_hwc,
    prepare_x_planes,
};
use dx_flat::{dx_flat, flat_cost};
use dx_gemm::{dx_gemm, gemm_cost, gemm_plane};
use dx_rows::{dx_filters, dx_positions, filters_cost, positions_cost};

/// Backward of a batch as a [`Kernel`] for [`crate::kernels::isa::dispatch`]: writes `dx`, adds into
/// `dw` and `db`. `x`, `dy`, `dx` hold `n` samples each; `scratch` has [`scratch_len`] cells.
pub(crate) struct ConvBackward<'a, G: GeomOf> {
    pub g: G,
    pub n: usize,
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub dy: &'a [f32],
    pub dx: &'a mut [f32],
    pub dw: &'a mut [f32],
    pub db: Option<&'a mut [f32]>,
    pub scratch: &'a mut [f32],
}

impl<G: GeomOf> Kernel for ConvBackward<'_, G> {
    type Out = ();
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) {
        backward_with::<S, G>(
            s,
            self.g.geom(),
            self.n,
            self.x,
            self.w,
            self.dy,
            self.dx,
            self.dw,
            self.db,
            self.scratch,
        )
    }
}

/// Backward of a batch (`x.len()` / sample size samples) with the best instruction set. The
/// samples are split over the threads of [`crate::set_threads`]: each part writes its samples'
/// `dx` and sums its weight and bias gradients (the first part into `dw` and `db`, the others
/// into buffers added in part order afterwards, so a thread count always gives the same bits).
#[cfg(feature = "alloc")]
pub(crate) fn backward<G: GeomOf>(
    geom: G,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    use crate::threads;
    let g = geom.geom();
    let (xs, ys) = (g.cin * g.h * g.w, g.cout * g.oh * g.ow);
    let n = x.len().checked_div(xs).unwrap_or(0);
    let work = 3 * n * g.kh * g.kw * g.cin * ys;
    let parts = threads::parts_for(n, 1, work);
    if parts <= 1 {
        backward_part(geom, n, x, w, dy, dx, dw, db);
        return;
    }
    assert!(x.len() >= n * xs && dy.len() >= n * ys && dx.len() >= n * xs);
    let (nw, nb) = (dw.len(), db.as_ref().map_or(0, |b| b.len()));
    let mut extra = alloc::vec![0.0f32; (parts - 1) * (nw + nb)];
    /// One part's samples and where its results go.
    struct Part<'a> {
        samples: core::ops::Range<usize>,
        dx: &'a mut [f32],
        dw: &'a mut [f32],
        db: Option<&'a mut [f32]>,
    }
    let mut db = db;
    let mut work_list = alloc::vec::Vec::with_capacity(parts);
    {
        let (mut dx_rest, mut extra_rest) = (&mut dx[..n * xs], &mut extra[..]);
        let (mut dw0, mut db0) = (Some(&mut *dw), db.as_deref_mut());
        for k in 0..parts {
            let samples = threads::part(n, 1, parts, k);
            let (dxk, rest) = core::mem::take(&mut dx_rest).split_at_mut(samples.len() * xs);
            dx_rest = rest;
            let (dwk, dbk) = match dw0.take() {
                Some(dw) => (dw, db0.take()),
                None => {
                    let (e, rest) = core::mem::take(&mut extra_rest).split_at_mut(nw + nb);
                    extra_rest = rest;
                    let (dwk, dbk) = e.split_at_mut(nw);
                    (dwk, (nb > 0).then_some(dbk))
                }
            };
            work_list.push(Part {
                samples,
                dx: dxk,
                dw: dwk,
                db: dbk,
            });
        }
    }
    threads::for_chunks_mut(&mut work_list, 1, usize::MAX, |_, list| {
        for p in list {
            let (s0, m) = (p.samples.start, p.samples.len());
            backward_part(
                geom,
                m,
                &x[s0 * xs..][..m * xs],
                w,
                &dy[s0 * ys..][..m * ys],
                p.dx,
                p.dw,
                p.db.as_deref_mut(),
            );
        }
    });
    drop(work_list);
    // The other parts' gradients, in part order.
    for e in extra.chunks_exact(dw.len() + nb) {
        let (ew, eb) = e.split_at(dw.len());
        for (d, v) in dw.iter_mut().zip(ew) {
            *d += v;
        }
        if let Some(db) = db.as_deref_mut() {
            for (d, v) in db.iter_mut().zip(eb) {
                *d += v;
            }
        }
    }
}

/// The backward of `n` samples on this thread, with its scratch.
#[cfg(feature = "alloc")]
#[allow(clippy::too_many_arguments)]
fn backward_part<G: GeomOf>(
    g: G,
    n: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    with_scratch(scratch_len(g.geom(), n), |scratch| {
        crate::kernels::isa::dispatch(ConvBackward {
            g,
            n,
            x,
            w,
            dy,
            dx,
            dw,
            db,
            scratch,
        })
    });
}

/// Scratch cells kept per thread between calls (with `std`): 16 MiB.
#[cfg(feature = "std")]
const KEEP: usize = 1 << 22;

/// Runs `f` with `len` cells of scratch (any values): with `std`, a buffer kept per thread
/// (up to [`KEEP`] cells) so training steps do not allocate; else a fresh one.
#[cfg(feature = "alloc")]
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut f = Some(f);
    #[cfg(feature = "std")]
    if len <= KEEP {
        use core::cell::RefCell;
        std::thread_local! {
            static BUF: RefCell<alloc::vec::Vec<f32>> = const { RefCell::new(alloc::vec::Vec::new()) };
        }
        let r = BUF.try_with(|b| match b.try_borrow_mut() {
            Ok(mut v) => {
                if v.len() < len {
                    v.resize(len, 0.0);
                }
                f.take().map(|f| f(&mut v[..len]))
            }
            Err(_) => None,
        });
        if let Ok(Some(r)) = r {
            return r;
        }
    }
    let mut v = alloc::vec![0.0f32; len];
    match f.take() {
        Some(f) => f(&mut v),
        None => unreachable!("the closure runs once"),
    }
}

/// Copies `n` cells from `src` to `dst` with whole vectors, writing zeros after them up to the
/// next multiple of the lanes (masked stores are slow; the callers copy rows in increasing
/// order into zeroed padding, so the zeros land on padding or on cells written later).
///
/// # Safety
/// `src..src + n` readable, `dst..dst + n.next_multiple_of(LANES)` writable, not overlapping.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn copy<S: Isa>(s: S, src: *const f32, dst: *mut f32, n: usize) {
    let mut i = 0;
    // SAFETY: reads inside `[0, n)` of `src`, writes inside `[0, n.next_multiple_of(LANES))`.
    unsafe {
        while i < n {
            s.store(dst.add(i), s.load_n(src.add(i), n - i));
            i += S::LANES;
        }
    }
}

/// Rows and columns of the zero-padded input copy: every tap of every output position.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn padded(g: Geom) -> (usize, usize) {
    ((g.oh - 1) * g.sh + g.kh, (g.ow - 1) * g.sw + g.kw)
}

/// The zero-padded copy of one sample's `dy` the input gradient reads: `(left padding, row
/// width)`. Rows are those of `dy`; input column `ix` with kernel column `kx` reads padded
/// column `left + (ix + pl - kx) / sw` (when the division is exact), always inside the row.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn dy_padded(g: Geom) -> (usize, usize) {
    let left = (g.kw - 1).div_ceil(g.sw);
    (left, left + cmax(g.ow, (g.w - 1 + g.pl) / g.sw + 1))
}

/// The larger of `a` and `b` (in `const fn`s).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn cmax(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The smaller of `a` and `b` (in `const fn`s).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn cmin(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// The flattened layout of the stride-1 input gradient ([`dx_flat`]): `(pitch, dy plane, dx
/// plane)`. `dy` padded by `k - 1 - p` on each side (rows `h + kh - 1` of `pitch = w + kw - 1`
/// cells) so every tap is a constant offset along the flattened rows; `dx` rows of the same
/// pitch (the last `kw - 1` cells of each row unused). Both planes have room for the last block.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn flat_layout(g: Geom) -> (usize, usize, usize) {
    let p = g.w + g.kw - 1;
    let block = FLAT_BLOCK * MAX_LANES;
    (p, (g.h + g.kh) * p + block, g.h * p + block)
}

/// The most vectors of positions in a block of [`dx_flat`].
const FLAT_BLOCK: usize = 24;

/// Zeroed cells after the padded `dy`: the reads of the positions past a row in a partial block
/// of the filters kernel.
const DY_SLACK: usize = 16;

/// Widest vector the kernels use (cells): sizes slack and paddings for every instruction set.
const MAX_LANES: usize = 16;

/// Zeroed cells after the channels-innermost inputs: the reads of the last tap vectors past a
/// kernel row (at most four vectors).
const HWC_SLACK: usize = 8 * MAX_LANES;

/// The planes of the positions weight-gradient kernel (stride 1): `(positions, plane stride)`.
/// Every input channel and filter is one plane of `n x xh x xw` cells ([`padded`]), `dy`
/// padded with zeros to the input's rows and columns so a tap is a constant offset; positions
/// rounded up to whole vectors, and room for the taps' offsets past them.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn planes(g: Geom, n: usize) -> (usize, usize) {
    let (xh, xw) = padded(g);
    let q = (n * xh * xw).next_multiple_of(MAX_LANES);
    (q, q + xh * xw + MAX_LANES)
}

/// Cells of the parts of the scratch: the inputs (channels innermost, or planes), `dy` planes
/// (stride 1 only), the weight gradient filters-major, one sample's padded `dy` (either
/// layout), the kernel with its channel axes swapped, one sample's flattened `dx` (stride 1).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn parts(g: Geom, n: usize) -> [usize; 6] {
    let (xh, xw) = padded(g);
    let (_, dw) = dy_padded(g);
    let (q, cs) = planes(g, n);
    let unit = g.sh == 1 && g.sw == 1;
    let taps = g.kh * g.kw * g.cin;
    let (_, fdy, fdx) = flat_layout(g);
    [
        (n * g.cin * xh * xw + HWC_SLACK).max(if unit { g.cin * cs } else { 0 }),
        if unit { g.cout * q + DQ_SLACK } else { 0 },
        g.cout * taps,
        (g.cout * g.oh * dw + dw + DY_SLACK).max(if unit { g.cout * fdy } else { 0 }),
        taps * g.cout,
        if unit {
            g.cin * fdx.max(gemm_plane(g))
        } else {
            0
        },
    ]
}

/// Cells of scratch [`ConvBackward`] needs for `n` samples.
pub(crate) fn scratch_len(g: Geom, n: usize) -> usize {
    if empty(g) || n == 0 {
        0
    } else {
        parts(g, n).iter().sum()
    }
}

/// Whether some dimension is zero (nothing to compute but a zero `dx`).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn empty(g: Geom) -> bool {
    g.cin == 0
        || g.cout == 0
        || g.h == 0
        || g.w == 0
        || g.kh == 0
        || g.kw == 0
        || g.oh == 0
        || g.ow == 0
}

/// Kernel choices the tests force, so every kernel meets every geometry: bits 0-1 the weight
/// gradient (`DW_*` + 1), bits 2-4 the input gradient (`DX_*` + 1); 0 chooses by cost, and a
/// kernel the geometry does not allow is not forced.
#[cfg(test)]
pub(crate) static FORCE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// [`DW_POSITIONS`] or [`DW_TAPS`]: the cheaper weight-gradient kernel the geometry allows.
const fn dw_kernel_of<S: Isa>(g: Geom) -> usize {
    let unit = g.sh == 1 && g.sw == 1;
    if unit && dw_positions_cost::<S>(g) < dw_taps_cost::<S>(g) {
        DW_POSITIONS
    } else {
        DW_TAPS
    }
}

/// Weight-gradient kernel: [`dw_positions`] (stride 1).
const DW_POSITIONS: usize = 0;
/// Weight-gradient kernel: [`dw_taps`].
const DW_TAPS: usize = 1;
/// Input-gradient kernel: [`dx_positions`] (stride 1 along rows).
const DX_POSITIONS: usize = 0;
/// Input-gradient kernel: [`dx_filters`].
const DX_FILTERS: usize = 1;
/// Input-gradient kernel: [`dx_flat`] (stride 1).
const DX_FLAT: usize = 2;
/// Input-gradient kernel: [`dx_gemm`] (stride 1).
const DX_GEMM: usize = 3;

/// The cheapest input-gradient kernel the geometry allows ([`DX_POSITIONS`] ...).
const fn dx_kernel_of<S: Isa>(g: Geom) -> usize {
    let unit = g.sh == 1 && g.sw == 1;
    let mut best = (filters_cost::<S>(g), DX_FILTERS);
    if g.sw == 1 && positions_cost::<S>(g) < best.0 {
        best = (positions_cost::<S>(g), DX_POSITIONS);
    }
    if unit && flat_cost::<S>(g) < best.0 {
        best = (flat_cost::<S>(g), DX_FLAT);
    }
    if unit && gemm_cost::<S>(g) < best.0 {
        best = (gemm_cost::<S>(g), DX_GEMM);
    }
    best.1
}

/// The weight-gradient kernel: the cheaper one the geometry allows (or the one tests force).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dw_kernel<S: Isa>(g: Geom) -> usize {
    #[cfg(test)]
    let unit = g.sh == 1 && g.sw == 1;
    #[cfg(test)]
    match FORCE.load(core::sync::atomic::Ordering::Relaxed) & 3 {
        1 if unit => return DW_POSITIONS,
        2 => return DW_TAPS,
        _ => {}
    }
    dw_kernel_of::<S>(g)
}

/// The input-gradient kernel: the cheapest one the geometry allows (or the one tests force).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dx_kernel<S: Isa>(g: Geom) -> usize {
    #[cfg(test)]
    let unit = g.sh == 1 && g.sw == 1;
    #[cfg(test)]
    match (FORCE.load(core::sync::atomic::Ordering::Relaxed) >> 2) & 7 {
        1 if g.sw == 1 => return DX_POSITIONS,
        2 => return DX_FILTERS,
        3 if unit => return DX_FLAT,
        4 if unit => return DX_GEMM,
        _ => {}
    }
    dx_kernel_of::<S>(g)
}

/// Backward of `n` samples with the operations of `s`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_with<S: Isa, G: GeomOf>(
    s: S,
    g: Geom,
    n: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    scratch: &mut [f32],
) {
    let (xs, ys) = (g.cin * g.h * g.w, g.cout * g.oh * g.ow);
    assert!(
        x.len() >= n * xs
            && dy.len() >= n * ys
            && dx.len() >= n * xs
            && w.len() >= g.kh * g.kw * g.cin * g.cout
            && dw.len() >= g.kh * g.kw * g.cin * g.cout
            && db.as_ref().is_none_or(|b| b.len() >= g.cout)
            && scratch.len() >= scratch_len(g, n)
            && g.sh >= 1
            && g.sw >= 1
    );
    if n == 0 {
        return;
    }
    if empty(g) {
        dx[..n * xs].fill(0.0);
        return;
    }
    let [lx, lq, lt, lp, lw, lf] = parts(g, n);
    let (xp, rest) = scratch.split_at_mut(lx);
    let (dq, rest) = rest.split_at_mut(lq);
    let (dwt, rest) = rest.split_at_mut(lt);
    let (dyp, rest) = rest.split_at_mut(lp);
    let (wt, rest) = rest.split_at_mut(lw);
    let dxf = &mut rest[..lf];
    if let Some(db) = db {
        // SAFETY: `dy` holds `n` samples and `db` `cout` cells (checked above).
        unsafe { bias_grad(s, g, n, dy.as_ptr(), db.as_mut_ptr()) };
    }
    let (dwk, dxk) = (dw_kernel::<S>(g), dx_kernel::<S>(g));
    let (q, cs) = planes(g, n);
    // SAFETY: the lengths were checked above; the scratch parts have the sizes `parts` gives.
    unsafe {
        if dwk == DW_POSITIONS || dxk == DX_GEMM {
            prepare_dy_planes(s, g, n, dy.as_ptr(), dq.as_mut_ptr());
        }
        // The weight gradient: the kernel a constant for a fixed geometry (rustc compiles only
        // the one chosen).
        choose!(const { fixed!(G, |g| dw_kernel_of::<S>(g)) }, dwk, {
            DW_POSITIONS => {
                prepare_x_planes(s, g, n, x.as_ptr(), xp.as_mut_ptr());
                dw_positions::<S, G>(s, g, xp.as_ptr(), cs, dq.as_ptr(), q, dw.as_mut_ptr());
            },
            _ => {
                prepare_hwc(s, g, n, x.as_ptr(), xp.as_mut_ptr());
                dw_taps::<S, G>(s, g, n, xp.as_ptr(), dy.as_ptr(), dwt.as_mut_ptr());
                let taps = g.kh * g.kw * g.cin;
                for t in 0..taps {
                    for co in 0..g.cout {
                        dw[t * g.cout + co] += dwt[co * taps + t];
                    }
                }
            },
        })
    }
    // The input gradient.
    // SAFETY: the lengths were checked above; the scratch parts have the sizes `parts` gives;
    // `dq` holds the `dy` planes when the kernel is `Gemm`.
    unsafe {
        choose!(const { fixed!(G, |g| dx_kernel_of::<S>(g)) }, dxk, {
            DX_FLAT => dx_flat::<S, G>(s, g, n, dy.as_ptr(), w.as_ptr(), dyp, dxf, dx.as_mut_ptr()),
            DX_GEMM => dx_gemm::<S, G>(s, g, n, dq.as_ptr(), q, w.as_ptr(), dxf, dx.as_mut_ptr()),
            DX_POSITIONS => dx_rows::<S, G, true>(s, g, n, dy, w, wt, dyp, dx),
            _ => dx_rows::<S, G, false>(s, g, n, dy, w, wt, dyp, dx),
        })
    }
}

/// The input gradient along rows, one sample at a time: [`dx_positions`] (`POSITIONS`) or
/// [`dx_filters`] from a zero-padded copy of each sample's `dy`.
///
/// # Safety
/// The lengths of [`backward_with`]: `dy`, `dx` hold `n` samples, `wt` and `dyp` have the sizes
/// of [`parts`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn dx_rows<S: Isa, G: GeomOf, const POSITIONS: bool>(
    s: S,
    g: Geom,
    n: usize,
    dy: &[f32],
    w: &[f32],
    wt: &mut [f32],
    dyp: &mut [f32],
    dx: &mut [f32],
) {
    let (xs, ys) = (g.cin * g.h * g.w, g.cout * g.oh * g.ow);
    if !POSITIONS {
        // The kernel `[ky][kx][co][ci]`, input channels innermost for the filters kernel.
        let taps = g.kh * g.kw;
        for t in 0..taps {
            for ci in 0..g.cin {
                for co in 0..g.cout {
                    wt[(t * g.cout + co) * g.cin + ci] = w[(t * g.cin + ci) * g.cout + co];
                }
            }
        }
    }
    let (left, dwp) = dy_padded(g);
    // The padding stays zero: every sample writes the same cells.
    dyp.fill(0.0);
    for i in 0..n {
        for r in 0..g.cout * g.oh {
            // SAFETY: row `r` of sample `i`'s `dy` (`ow` cells) to columns `left..left + ow` of
            // padded row `r` (`left + ow <= dwp`).
            unsafe {
                copy(
                    s,
                    dy.as_ptr().add(i * ys + r * g.ow),
                    dyp.as_mut_ptr().add(r * dwp + left),
                    g.ow,
                )
            };
        }
        let dxi = &mut dx[i * xs..][..xs];
        // SAFETY: `dyp` holds the padded copy (`parts`), `w`/`wt` the kernel, `dxi` a sample.
        unsafe {
            if POSITIONS {
                dx_positions::<S, G>(s, g, dyp.as_ptr(), w.as_ptr(), dxi.as_mut_ptr());
            } else {
                dx_filters::<S, G>(s, g, dyp.as_ptr(), wt.as_ptr(), dxi.as_mut_ptr());
            }
        }
    }
}

/// `db[co] += sum of dy[co]` over the `n` samples.
///
/// # Safety
/// `dy` holds `n` samples of `cout * oh * ow` cells, `db` `cout` cells.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn bias_grad<S: Isa>(s: S, g: Geom, n: usize, dy: *const f32, db: *mut f32) {
    let l = S::LANES;
    let np = g.oh * g.ow;
    let chunks = np.div_ceil(l);
    let items = n * chunks;
    // SAFETY: item `i` is chunk `i % chunks` of filter `co` of sample `i / chunks`: at most
    // `np - c * l` cells inside that filter's plane.
    unsafe {
        let load = |co: usize, i: usize| {
            let (smp, c) = (i / chunks, i % chunks);
            s.load_n(dy.add((smp * g.cout + co) * np + c * l), np - c * l)
        };
        for co in 0..g.cout {
            // Four chains so the additions overlap.
            let mut a = [s.zero(); 4];
            let mut i = 0;
            while i + 4 <= items {
                a[0] = s.add(a[0], load(co, i));
                a[1] = s.add(a[1], load(co, i + 1));
                a[2] = s.add(a[2], load(co, i + 2));
                a[3] = s.add(a[3], load(co, i + 3));
                i += 4;
            }
            while i < items {
                a[0] = s.add(a[0], load(co, i));
                i += 1;
            }
            let t = s.add(s.add(a[0], a[1]), s.add(a[2], a[3]));
            *db.add(co) += s.sum(t);
        }
    }
}

/// Accumulator registers a block of the input gradient may use.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn acc_budget<S: Isa>() -> usize {
    if S::REGS >= 32 {
        24
    } else {
        12
    }
}

/// The candidates for filters (or channels) per block, largest first.
const DIVIDING: [usize; 5] = [8, 6, 4, 3, 2];

/// Cells after the `dy` planes: reads of [`dx_gemm`] past the last sample's rows.
const DQ_SLACK: usize = 8 * MAX_LANES;
