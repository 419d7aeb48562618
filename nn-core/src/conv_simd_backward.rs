//! Vectorized convolution backward for a whole mini-batch, written once over [`Isa`] and run with
//! the widest instruction set the CPU has (see [`crate::simd`]).
//!
//! Every product of the backward is a sum over many positions, filters or taps; the kernels
//! below differ in which axis fills the vector lanes, and [`backward_with`] picks, per geometry,
//! the one with the fewest vector operations (constants after inlining: the layers pass their
//! geometry as a type, [`GeomOf`]).
//!
//! - **Weight gradient** `dw[ky][kx][ci][co] += sum over samples and positions of
//!   x[ci][oy*sh + ky - pt][ox*sw + kx - pl] * dy[co][oy][ox]`, register blocks accumulated over
//!   the whole batch and added into `dw` once:
//!   - [`dw_taps`]: vectors along a kernel row's taps `(kx, ci)` (consecutive cells of a
//!     zero-padded, channels-innermost copy of the inputs) times filters (`dy` broadcast);
//!   - [`dw_positions`] (stride 1): vectors along positions, every input channel and filter a
//!     zero-padded plane with the same pitch so a tap is a constant offset; lanes summed once.
//! - **Bias gradient** [`bias_grad`]: sums of `dy` per filter, vectors along positions.
//! - **Input gradient** `dx`, the transposed convolution, one sample at a time:
//!   - [`dx_positions`] (stride 1 along rows): vectors along a row's input columns times input
//!     channels, from a zero-padded copy of `dy`;
//!   - [`dx_filters`]: vectors along input channels times input columns of one phase of the
//!     stride (so strided layers skip the taps that miss `dy`);
//!   - [`dx_flat`] (stride 1): vectors along the flattened rows of `dy` padded by `k - 1 - p`,
//!     each weight broadcast once for many vectors (the kernel for one input channel);
//!   - [`dx_gemm`] (stride 1): the product of the kernel and `dy` (vectors along `dy`'s
//!     positions), each tap's block added at a constant offset into a padded `dx`.
//!
//! Accumulator arrays are indexed by constants only (`unroll!`), so they stay in registers.
//! Scratch (padded copies) comes from the caller; [`backward`] keeps it per thread with `std`.
//! Checked against the plain loop, every kernel with every geometry, in `conv::tests`.

// Accumulator arrays are indexed by loop counters on purpose: with constant bounds the loops
// unroll to constant indices and the arrays stay in registers (iterators over them do not always).
#![allow(clippy::needless_range_loop)]

use crate::conv::Geom;
use crate::conv_simd::GeomOf;
use crate::simd::{Isa, Kernel};

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

/// Backward of a batch as a [`Kernel`] for [`crate::simd::dispatch`]: writes `dx`, adds into
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
        backward_with(
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

/// Backward of a batch (`x.len()` / sample size samples) with the best instruction set.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn backward<G: GeomOf>(
    g: G,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    let geo = g.geom();
    let n = x.len().checked_div(geo.cin * geo.h * geo.w).unwrap_or(0);
    with_scratch(scratch_len(geo, n), |scratch| {
        crate::simd::dispatch(ConvBackward {
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
fn padded(g: Geom) -> (usize, usize) {
    ((g.oh - 1) * g.sh + g.kh, (g.ow - 1) * g.sw + g.kw)
}

/// The zero-padded copy of one sample's `dy` the input gradient reads: `(left padding, row
/// width)`. Rows are those of `dy`; input column `ix` with kernel column `kx` reads padded
/// column `left + (ix + pl - kx) / sw` (when the division is exact), always inside the row.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dy_padded(g: Geom) -> (usize, usize) {
    let left = (g.kw - 1).div_ceil(g.sw);
    (left, left + g.ow.max((g.w - 1 + g.pl) / g.sw + 1))
}

/// The flattened layout of the stride-1 input gradient ([`dx_flat`]): `(pitch, dy plane, dx
/// plane)`. `dy` padded by `k - 1 - p` on each side (rows `h + kh - 1` of `pitch = w + kw - 1`
/// cells) so every tap is a constant offset along the flattened rows; `dx` rows of the same
/// pitch (the last `kw - 1` cells of each row unused). Both planes have room for the last block.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn flat_layout(g: Geom) -> (usize, usize, usize) {
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
/// gradient ([`Dw`] + 1), bits 2-4 the input gradient ([`Dx`] + 1); 0 chooses by cost, and a
/// kernel the geometry does not allow is not forced.
#[cfg(test)]
pub(crate) static FORCE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The weight-gradient kernels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dw {
    /// [`dw_positions`] (stride 1).
    Positions,
    /// [`dw_taps`].
    Taps,
}

/// The input-gradient kernels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dx {
    /// [`dx_positions`] (stride 1 along rows).
    Positions,
    /// [`dx_filters`].
    Filters,
    /// [`dx_flat`] (stride 1).
    Flat,
    /// [`dx_gemm`] (stride 1).
    Gemm,
}

/// The weight-gradient kernel: the cheaper one the geometry allows (or the one tests force).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dw_kernel<S: Isa>(g: Geom) -> Dw {
    let unit = g.sh == 1 && g.sw == 1;
    #[cfg(test)]
    match FORCE.load(core::sync::atomic::Ordering::Relaxed) & 3 {
        1 if unit => return Dw::Positions,
        2 => return Dw::Taps,
        _ => {}
    }
    if unit && dw_positions_cost::<S>(g) < dw_taps_cost::<S>(g) {
        Dw::Positions
    } else {
        Dw::Taps
    }
}

/// The input-gradient kernel: the cheapest one the geometry allows (or the one tests force).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dx_kernel<S: Isa>(g: Geom) -> Dx {
    let unit = g.sh == 1 && g.sw == 1;
    #[cfg(test)]
    match (FORCE.load(core::sync::atomic::Ordering::Relaxed) >> 2) & 7 {
        1 if g.sw == 1 => return Dx::Positions,
        2 => return Dx::Filters,
        3 if unit => return Dx::Flat,
        4 if unit => return Dx::Gemm,
        _ => {}
    }
    let mut best = (filters_cost::<S>(g), Dx::Filters);
    if g.sw == 1 && positions_cost::<S>(g) < best.0 {
        best = (positions_cost::<S>(g), Dx::Positions);
    }
    if unit && flat_cost::<S>(g) < best.0 {
        best = (flat_cost::<S>(g), Dx::Flat);
    }
    if unit && gemm_cost::<S>(g) < best.0 {
        best = (gemm_cost::<S>(g), Dx::Gemm);
    }
    best.1
}

/// Backward of `n` samples with the operations of `s`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_with<S: Isa>(
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
        if dwk == Dw::Positions || dxk == Dx::Gemm {
            prepare_dy_planes(s, g, n, dy.as_ptr(), dq.as_mut_ptr());
        }
        if dwk == Dw::Positions {
            prepare_x_planes(s, g, n, x.as_ptr(), xp.as_mut_ptr());
            dw_positions(s, g, xp.as_ptr(), cs, dq.as_ptr(), q, dw.as_mut_ptr());
        } else {
            prepare_hwc(s, g, n, x.as_ptr(), xp.as_mut_ptr());
            dw_taps(s, g, n, xp.as_ptr(), dy.as_ptr(), dwt.as_mut_ptr());
            let taps = g.kh * g.kw * g.cin;
            for t in 0..taps {
                for co in 0..g.cout {
                    dw[t * g.cout + co] += dwt[co * taps + t];
                }
            }
        }
    }
    // The input gradient.
    match dxk {
        // SAFETY (both): the lengths were checked above; the scratch parts have the sizes
        // `parts` gives; `dq` holds the `dy` planes for `Gemm`.
        Dx::Flat => {
            unsafe { dx_flat(s, g, n, dy.as_ptr(), w.as_ptr(), dyp, dxf, dx.as_mut_ptr()) };
            return;
        }
        Dx::Gemm => {
            unsafe { dx_gemm(s, g, n, dq.as_ptr(), q, w.as_ptr(), dxf, dx.as_mut_ptr()) };
            return;
        }
        _ => {}
    }
    let positions = dxk == Dx::Positions;
    if !positions {
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
            if positions {
                dx_positions(s, g, dyp.as_ptr(), w.as_ptr(), dxi.as_mut_ptr());
            } else {
                dx_filters(s, g, dyp.as_ptr(), wt.as_ptr(), dxi.as_mut_ptr());
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

/// Copies the inputs zero-padded and channels innermost to `xp` (`n` samples of
/// `xh x xw x cin`, see [`padded`], then [`HWC_SLACK`] zeros).
///
/// # Safety
/// `x` holds `n` samples; `xp` has the size [`parts`] gives.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn prepare_hwc<S: Isa>(s: S, g: Geom, n: usize, x: *const f32, xp: *mut f32) {
    let (xh, xw) = padded(g);
    let (hw, xs) = (g.h * g.w, xh * xw * g.cin);
    // Input columns `[0, ix1)` land in the padded row (those right of it are never read).
    let ix1 = g.w.min(xw.saturating_sub(g.pl));
    // SAFETY: the `n` padded samples and the slack are zeroed, then input cell `(ci, iy, ix)`,
    // `iy + pt < xh`, `ix < ix1`, is copied to padded cell `(iy + pt, ix + pl, ci)`, inside the
    // sample.
    unsafe {
        core::ptr::write_bytes(xp, 0, n * xs + HWC_SLACK);
        for smp in 0..n {
            let xsmp = x.add(smp * g.cin * hw);
            let psmp = xp.add(smp * xs);
            for iy in 0..g.h.min(xh.saturating_sub(g.pt)) {
                let prow = psmp.add(((iy + g.pt) * xw + g.pl) * g.cin);
                if g.cin == 1 {
                    copy(s, xsmp.add(iy * g.w), prow, ix1);
                } else {
                    // Scalar moves: the volatile reads keep the optimizer from turning the
                    // strided accesses into gathers or scatters (much slower here).
                    for ix in 0..ix1 {
                        for ci in 0..g.cin {
                            *prow.add(ix * g.cin + ci) =
                                xsmp.add(ci * hw + iy * g.w + ix).read_volatile();
                        }
                    }
                }
            }
        }
    }
}

/// Vector operations of the taps weight-gradient kernel for one sample (plus the scalar
/// copies of the channels-innermost inputs).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dw_taps_cost<S: Isa>(g: Geom) -> usize {
    let copies = if g.cin > 1 { g.cin * g.h * g.w } else { 0 };
    g.oh * g.ow * g.kh * (g.kw * g.cin).div_ceil(S::LANES) * g.cout + copies
}

/// Vector operations of the positions weight-gradient kernel for one sample.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn dw_positions_cost<S: Isa>(g: Geom) -> usize {
    let (xh, xw) = padded(g);
    g.kh * g.kw * g.cin * g.cout * (xh * xw).div_ceil(S::LANES)
}

/// Filters per block: the largest of 8, 6, 4, 3, 2 dividing `cout` (else 1) such that
/// `fit(f)`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn filters_dividing(cout: usize, fit: impl Fn(usize) -> bool) -> usize {
    for f in [8, 6, 4, 3, 2] {
        if cout.is_multiple_of(f) && fit(f) {
            return f;
        }
    }
    1
}

/// The weight gradient with vectors along taps: `dwt[co][ky][kx][ci] = sum over samples and
/// positions of dy[co][oy][ox] * x[ci][iy][ix]`, a kernel row's taps `(kx, ci)` being
/// consecutive cells of the channels-innermost input. A block is `NT` vectors of a kernel row's
/// taps times `F` filters, over every position of every sample.
///
/// # Safety
/// `xp` is filled by [`prepare_hwc`] for `n` samples, `dy` holds `n` samples, `dwt` has
/// `cout x taps` cells.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dw_taps<S: Isa>(s: S, g: Geom, n: usize, xp: *const f32, dy: *const f32, dwt: *mut f32) {
    // Vectors of a kernel row's taps per block: at most four, balanced.
    let nv = (g.kw * g.cin).div_ceil(S::LANES);
    let nt = nv.div_ceil(nv.div_ceil(4));
    let f = filters_dividing(g.cout, |f| {
        f * nt <= acc_budget::<S>() && f * nt + nt < S::REGS
    });
    macro_rules! go {
        ($(($t:literal, $f:literal))*) => {
            match (nt, f) {
                $(($t, $f) => dw_taps_tf::<S, $t, $f>(s, g, n, xp, dy, dwt),)*
                _ => unreachable!(),
            }
        };
    }
    // SAFETY: forwarded; `(nt, f)` is one of the listed pairs (`f * nt <= 24`).
    unsafe {
        go!(
            (1, 8)(1, 6)(1, 4)(1, 3)(1, 2)(1, 1)(2, 8)(2, 6)(2, 4)(2, 3)(2, 2)(2, 1)(3, 8)(3, 6)(
                3, 4
            )(3, 3)(3, 2)(3, 1)(4, 6)(4, 4)(4, 3)(4, 2)(4, 1)
        )
    }
}

/// # Safety
/// As [`dw_taps`]; `F` divides `cout`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dw_taps_tf<S: Isa, const NT: usize, const F: usize>(
    s: S,
    g: Geom,
    n: usize,
    xp: *const f32,
    dy: *const f32,
    dwt: *mut f32,
) {
    let l = S::LANES;
    let (xh, xw) = padded(g);
    let r = g.kw * g.cin;
    let (rp, xs) = (xw * g.cin, xh * xw * g.cin);
    let (np, ys) = (g.oh * g.ow, g.cout * g.oh * g.ow);
    let taps = g.kh * r;
    let nv = r.div_ceil(l);
    for ky in 0..g.kh {
        let mut tv0 = 0;
        while tv0 < nv {
            let mut c0 = 0;
            while c0 < g.cout {
                let mut acc = [[s.zero(); NT]; F];
                // SAFETY: the tap vectors start at a position's corner plus kernel row `ky`
                // (inside the sample) and run at most `(tv0 + NT) * l <= r + 4 * l` cells: inside
                // the next cells or the slack. `dy` cells `(smp, c0 + f, oy, ox)` exist.
                unsafe {
                    for smp in 0..n {
                        let xb = xp.add(smp * xs + ky * rp + tv0 * l);
                        let db = dy.add(smp * ys + c0 * np);
                        for oy in 0..g.oh {
                            let xr = xb.add(oy * g.sh * rp);
                            let dr = db.add(oy * g.ow);
                            for ox in 0..g.ow {
                                let xq = xr.add(ox * g.sw * g.cin);
                                let mut xv = [s.zero(); NT];
                                for (t, v) in xv.iter_mut().enumerate() {
                                    *v = s.load(xq.add(t * l));
                                }
                                let dq = dr.add(ox);
                                unroll!(F, 8, |f| {
                                    let d = s.splat(*dq.add(f * np));
                                    for t in 0..NT {
                                        acc[f][t] = s.fma(d, xv[t], acc[f][t]);
                                    }
                                });
                            }
                        }
                    }
                }
                // Read the block with constant indices only, then store the taps of the row.
                let tmp: [[S::V; NT]; F] = acc;
                for (f, a) in tmp.iter().enumerate() {
                    for (t, &v) in a.iter().enumerate() {
                        let k = (tv0 + t) * l;
                        if k < r {
                            // SAFETY: filter `c0 + f`, taps `ky * r + k..ky * r + r` at most.
                            unsafe {
                                s.store_n(dwt.add((c0 + f) * taps + ky * r + k), v, r - k);
                            }
                        }
                    }
                }
                c0 += F;
            }
            tv0 += NT;
        }
    }
}

/// Copies the inputs to the planes of the positions kernel ([`planes`]): input channel `ci` of
/// sample `smp`, padded cell `(r, c)` at `ci * cs + (smp * xh + r) * xw + c`; zeros elsewhere.
///
/// # Safety
/// `x` holds `n` samples; `xq` has `cin * cs` cells.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn prepare_x_planes<S: Isa>(s: S, g: Geom, n: usize, x: *const f32, xq: *mut f32) {
    let (xh, xw) = padded(g);
    let (_, cs) = planes(g, n);
    let hw = g.h * g.w;
    let ix1 = g.w.min(xw.saturating_sub(g.pl));
    // SAFETY: plane `ci` is `cs` cells, zeroed, then the input rows' first `ix1` cells at
    // column `pl` of their padded rows, in increasing order (`copy`'s zeros land on padding or
    // on rows written later, at most `LANES` cells past the last, inside the plane).
    unsafe {
        for ci in 0..g.cin {
            let plane = xq.add(ci * cs);
            core::ptr::write_bytes(plane, 0, cs);
            for smp in 0..n {
                for iy in 0..g.h.min(xh.saturating_sub(g.pt)) {
                    copy(
                        s,
                        x.add((smp * g.cin + ci) * hw + iy * g.w),
                        plane.add((smp * xh + iy + g.pt) * xw + g.pl),
                        ix1,
                    );
                }
            }
        }
    }
}

/// Copies `dy` to planes of the input's padded rows and columns ([`planes`]): filter `co` of
/// sample `smp`, cell `(oy, ox)` at `co * q + (smp * xh + oy) * xw + ox`; zeros elsewhere.
///
/// # Safety
/// `dy` holds `n` samples; `dq` has `cout * q + DQ_SLACK` cells.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn prepare_dy_planes<S: Isa>(s: S, g: Geom, n: usize, dy: *const f32, dq: *mut f32) {
    let (xh, xw) = padded(g);
    let (q, _) = planes(g, n);
    let np = g.oh * g.ow;
    // SAFETY: plane `co` is `q` cells, zeroed, then the rows of `dy` (`ow <= xw` cells) in
    // increasing order; the zeros `copy` writes past the last row stay inside the plane or the
    // slack.
    unsafe {
        core::ptr::write_bytes(dq, 0, g.cout * q + DQ_SLACK);
        for co in 0..g.cout {
            let plane = dq.add(co * q);
            for smp in 0..n {
                for oy in 0..g.oh {
                    copy(
                        s,
                        dy.add((smp * g.cout + co) * np + oy * g.ow),
                        plane.add((smp * xh + oy) * xw),
                        g.ow,
                    );
                }
            }
        }
    }
}

/// Cells after the `dy` planes: reads of [`dx_gemm`] past the last sample's rows.
const DQ_SLACK: usize = 8 * MAX_LANES;

/// The weight gradient with vectors along positions (stride 1): for a block of `T` taps and
/// `F` filters, `T x F` vectors of products summed over the planes of [`prepare_x_planes`] and
/// [`prepare_dy_planes`], a
/// tap being a constant offset; the sums of their lanes are added into `dw`.
///
/// # Safety
/// `xq` and `dq` are filled by [`prepare_x_planes`] and [`prepare_dy_planes`] (`cs`, `q` from
/// [`planes`]); `dw` holds the
/// kernel; `g.sh == g.sw == 1`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dw_positions<S: Isa>(
    s: S,
    g: Geom,
    xq: *const f32,
    cs: usize,
    dq: *const f32,
    q: usize,
    dw: *mut f32,
) {
    let big = S::REGS >= 32;
    let f = filters_dividing(g.cout, |f| big || f <= 8);
    macro_rules! go {
        ($(($f:literal, $t:literal))*) => {
            match f {
                $($f => dw_positions_ft::<S, $f, $t>(s, g, xq, cs, dq, q, dw),)*
                _ => unreachable!(),
            }
        };
    }
    // SAFETY: forwarded; `F * T <= acc budget`, `F * T + T + 1 <= REGS`.
    unsafe {
        if big {
            go!((8, 3)(6, 4)(4, 5)(3, 7)(2, 10)(1, 12))
        } else {
            go!((8, 1)(6, 1)(4, 2)(3, 3)(2, 4)(1, 6))
        }
    }
}

/// # Safety
/// As [`dw_positions`]; `F` divides `cout`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dw_positions_ft<S: Isa, const F: usize, const T: usize>(
    s: S,
    g: Geom,
    xq: *const f32,
    cs: usize,
    dq: *const f32,
    q: usize,
    dw: *mut f32,
) {
    let l = S::LANES;
    let (_, xw) = padded(g);
    let taps = g.kh * g.kw * g.cin;
    let mut c0 = 0;
    while c0 < g.cout {
        let mut t0 = 0;
        while t0 < taps {
            let nt = (taps - t0).min(T);
            // Offsets of the block's taps (`(ky, kx, ci)` as in the weights); taps past the
            // kernel repeat the first and are dropped.
            let mut off = [0usize; T];
            for (j, o) in off.iter_mut().enumerate() {
                let t = if j < nt { t0 + j } else { t0 };
                let (k, ci) = (t / g.cin, t % g.cin);
                *o = ci * cs + (k / g.kw) * xw + k % g.kw;
            }
            let mut acc = [[s.zero(); F]; T];
            // SAFETY: position vectors `p < q` (a multiple of the lanes) of filter planes
            // `c0 + f < cout`; input reads at `off[j] + p`, inside plane `ci` (its `cs` cells
            // leave `xh * xw` past `q` for the offsets).
            unsafe {
                let mut p = 0;
                while p < q {
                    let mut xv = [s.zero(); T];
                    for (j, v) in xv.iter_mut().enumerate() {
                        *v = s.load(xq.add(off[j] + p));
                    }
                    unroll!(F, 8, |f| {
                        let d = s.load(dq.add((c0 + f) * q + p));
                        for j in 0..T {
                            acc[j][f] = s.fma(xv[j], d, acc[j][f]);
                        }
                    });
                    p += l;
                }
            }
            let tmp: [[S::V; F]; T] = acc;
            for (j, a) in tmp.iter().enumerate().take(nt) {
                for (f, &v) in a.iter().enumerate() {
                    // SAFETY: tap `t0 + j < taps`, filter `c0 + f < cout`.
                    unsafe { *dw.add((t0 + j) * g.cout + c0 + f) += s.sum(v) };
                }
            }
            t0 += nt;
        }
        c0 += F;
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

/// Vector multiply-adds of the positions kernel for one sample: every (input row, kernel row)
/// pair that meets a row of `dy`, kernel column, filter, input channel and vector of columns;
/// weighted by its loads per multiply-add when above one.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn positions_cost<S: Isa>(g: Geom) -> usize {
    let nv = g.w.div_ceil(S::LANES).min(3);
    let (f, _) = positions_block::<S>(g, nv);
    let fmas = g.kh * g.oh * g.kw * g.cout * g.cin * g.w.div_ceil(S::LANES);
    fmas * (nv + f).max(f * nv) / (f * nv)
}

/// Vector multiply-adds (and scalar stores) of the filters kernel for one sample.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn filters_cost<S: Isa>(g: Geom) -> usize {
    g.kh * g.oh * g.w * g.kw.div_ceil(g.sw) * g.cout * g.cin.div_ceil(S::LANES) + g.cin * g.h * g.w
}

/// The input gradient of one sample, vectors along input columns (stride 1 along rows): a
/// block is `NV` vectors of a row's columns times `F` input channels, its sums split into `K`
/// chains over the filters so at least eight multiply-adds are independent.
///
/// # Safety
/// `dyp` holds one sample's padded `dy` ([`dy_padded`], `cout x oh` rows), `w` the kernel,
/// `dx` one sample; `g.sw == 1`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_positions<S: Isa>(s: S, g: Geom, dyp: *const f32, w: *const f32, dx: *mut f32) {
    // SAFETY: forwarded.
    unsafe {
        match g.w.div_ceil(S::LANES) {
            1 => dx_positions_nv::<S, 1>(s, g, dyp, w, dx),
            2 => dx_positions_nv::<S, 2>(s, g, dyp, w, dx),
            _ => dx_positions_nv::<S, 3>(s, g, dyp, w, dx),
        }
    }
}

/// Input channels per positions block (the largest of 8, 6, 4, 3, 2 dividing `cin` and fitting
/// the accumulators with `nv` vectors; else 1) and chains.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn positions_block<S: Isa>(g: Geom, nv: usize) -> (usize, usize) {
    let mut f = 1;
    for c in [8, 6, 4, 3, 2] {
        if c * nv <= acc_budget::<S>() && g.cin.is_multiple_of(c) {
            f = c;
            break;
        }
    }
    (f, 8usize.div_ceil(f * nv))
}

/// # Safety
/// As [`dx_positions`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_positions_nv<S: Isa, const NV: usize>(
    s: S,
    g: Geom,
    dyp: *const f32,
    w: *const f32,
    dx: *mut f32,
) {
    macro_rules! go {
        ($(($f:literal, $k:literal))*) => {
            match positions_block::<S>(g, NV) {
                $(($f, $k) => dx_positions_fk::<S, NV, $f, $k>(s, g, dyp, w, dx),)*
                _ => unreachable!(),
            }
        };
    }
    // SAFETY: forwarded; `positions_block` gives one of the listed pairs for `NV`.
    unsafe {
        match NV {
            1 => go!((8, 1)(6, 2)(4, 2)(3, 3)(2, 4)(1, 8)),
            2 => go!((8, 1)(6, 1)(4, 1)(3, 2)(2, 2)(1, 4)),
            _ => go!((8, 1)(6, 1)(4, 1)(3, 1)(2, 2)(1, 3)),
        }
    }
}

/// # Safety
/// As [`dx_positions`]; `F` divides `cin`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_positions_fk<S: Isa, const NV: usize, const F: usize, const K: usize>(
    s: S,
    g: Geom,
    dyp: *const f32,
    w: *const f32,
    dx: *mut f32,
) {
    let l = S::LANES;
    let (left, dwp) = dy_padded(g);
    let hw = g.h * g.w;
    let plane = g.oh * dwp;
    for iy in 0..g.h {
        let mut ix0 = 0;
        while ix0 < g.w {
            let cols = (g.w - ix0).min(NV * l);
            let mut ci0 = 0;
            while ci0 < g.cin {
                let mut acc = [[[s.zero(); NV]; F]; K];
                for ky in 0..g.kh {
                    // The row of `dy` this kernel row meets, if any.
                    let t = (iy + g.pt).wrapping_sub(ky);
                    if t > iy + g.pt || !t.is_multiple_of(g.sh) || t / g.sh >= g.oh {
                        continue;
                    }
                    let oy = t / g.sh;
                    for kx in 0..g.kw {
                        // SAFETY: column `ix0 + c` (`c < cols`) with kernel column `kx` reads
                        // padded column `left + ix0 + c + pl - kx` (`left >= kw - 1`), inside the
                        // row (see `dy_padded`), of filter `co < cout`; the weights are taps
                        // `(ky, kx, ci0 + f)`, filter `co`.
                        unsafe {
                            let xr = dyp.add(oy * dwp + left + ix0 + g.pl - kx);
                            let wr = w.add(((ky * g.kw + kx) * g.cin + ci0) * g.cout);
                            let mut co = 0;
                            while co + K <= g.cout {
                                unroll!(K, 8, |k| {
                                    let xq = xr.add((co + k) * plane);
                                    let mut xv = [s.zero(); NV];
                                    for (v, xvv) in xv.iter_mut().enumerate() {
                                        *xvv = s.load_n(xq.add(v * l), cols.saturating_sub(v * l));
                                    }
                                    for f in 0..F {
                                        let wf = s.splat(*wr.add(f * g.cout + co + k));
                                        for v in 0..NV {
                                            acc[k][f][v] = s.fma(xv[v], wf, acc[k][f][v]);
                                        }
                                    }
                                });
                                co += K;
                            }
                            while co < g.cout {
                                let xq = xr.add(co * plane);
                                let mut xv = [s.zero(); NV];
                                for (v, xvv) in xv.iter_mut().enumerate() {
                                    *xvv = s.load_n(xq.add(v * l), cols.saturating_sub(v * l));
                                }
                                for f in 0..F {
                                    let wf = s.splat(*wr.add(f * g.cout + co));
                                    for v in 0..NV {
                                        acc[0][f][v] = s.fma(xv[v], wf, acc[0][f][v]);
                                    }
                                }
                                co += 1;
                            }
                        }
                    }
                }
                // Read the block with constant indices only, add the chains, store.
                let tmp: [[[S::V; NV]; F]; K] = acc;
                for f in 0..F {
                    for v in 0..NV {
                        if v * l < cols {
                            let mut a = tmp[0][f][v];
                            for t in tmp.iter().skip(1) {
                                a = s.add(a, t[f][v]);
                            }
                            // SAFETY: channel `ci0 + f < cin`, row `iy`, columns
                            // `ix0 + v * l..ix0 + cols` of `dx`.
                            unsafe {
                                s.store_n(
                                    dx.add((ci0 + f) * hw + iy * g.w + ix0 + v * l),
                                    a,
                                    cols - v * l,
                                )
                            };
                        }
                    }
                }
                ci0 += F;
            }
            ix0 += cols;
        }
    }
}

/// The input gradient of one sample, vectors along input channels: a block is `V` vectors of
/// channels times `P` input columns of one row and one phase (columns `ph + sw * m` for
/// consecutive `m`, which all meet `dy` through the same kernel columns).
///
/// # Safety
/// `dyp` holds one sample's padded `dy` ([`dy_padded`]) and its slack, `wt` the kernel
/// `[ky][kx][co][ci]`, `dx` one sample.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_filters<S: Isa>(s: S, g: Geom, dyp: *const f32, wt: *const f32, dx: *mut f32) {
    // SAFETY: forwarded.
    unsafe {
        match g.cin.div_ceil(S::LANES) {
            1 => dx_filters_v::<S, 1>(s, g, dyp, wt, dx, 0),
            2 => dx_filters_v::<S, 2>(s, g, dyp, wt, dx, 0),
            3 => dx_filters_v::<S, 3>(s, g, dyp, wt, dx, 0),
            _ => {
                let mut c0 = 0;
                while c0 < g.cin {
                    dx_filters_v::<S, 4>(s, g, dyp, wt, dx, c0);
                    c0 += 4 * S::LANES;
                }
            }
        }
    }
}

/// Columns per filters block with `v` vectors of channels: the size (within the accumulators)
/// with the fewest vector operations over the longest phase, wasted columns of the last block
/// included; and chains (at least eight independent multiply-adds).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn filters_block<S: Isa>(g: Geom, v: usize) -> (usize, usize) {
    let m = g.w.div_ceil(g.sw);
    let mut best = (usize::MAX, 1);
    for p in [12, 10, 8, 6, 5, 4, 3, 2, 1] {
        if p * v <= acc_budget::<S>() {
            let cost = m.div_ceil(p) * (p * v + v);
            if cost < best.0 {
                best = (cost, p);
            }
        }
    }
    (best.1, 8usize.div_ceil(best.1 * v))
}

/// # Safety
/// As [`dx_filters`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_filters_v<S: Isa, const V: usize>(
    s: S,
    g: Geom,
    dyp: *const f32,
    wt: *const f32,
    dx: *mut f32,
    c0: usize,
) {
    macro_rules! go {
        ($(($p:literal, $k:literal))*) => {
            match filters_block::<S>(g, V) {
                $(($p, $k) => dx_filters_vpk::<S, V, $p, $k>(s, g, dyp, wt, dx, c0),)*
                _ => unreachable!(),
            }
        };
    }
    // SAFETY: forwarded; `filters_block` gives one of the listed pairs for `V`.
    unsafe {
        match V {
            1 => go!((12, 1)(10, 1)(8, 1)(6, 2)(5, 2)(4, 2)(3, 3)(2, 4)(1, 8)),
            2 => go!((12, 1)(10, 1)(8, 1)(6, 1)(5, 1)(4, 1)(3, 2)(2, 2)(1, 4)),
            3 => go!((8, 1)(6, 1)(5, 1)(4, 1)(3, 1)(2, 2)(1, 3)),
            _ => go!((6, 1)(5, 1)(4, 1)(3, 1)(2, 1)(1, 2)),
        }
    }
}

/// Channels `c0..c0 + nc` (`nc <= V * LANES`), blocks of `P` columns of a phase, sums split
/// into `K` chains over the filters; columns past the phase's last read the next padded cells
/// (or the slack) and are dropped.
///
/// # Safety
/// As [`dx_filters`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_filters_vpk<S: Isa, const V: usize, const P: usize, const K: usize>(
    s: S,
    g: Geom,
    dyp: *const f32,
    wt: *const f32,
    dx: *mut f32,
    c0: usize,
) {
    let l = S::LANES;
    let nc = (g.cin - c0).min(V * l);
    let (left, dwp) = dy_padded(g);
    let hw = g.h * g.w;
    let plane = g.oh * dwp;
    for iy in 0..g.h {
        for ph in 0..g.sw.min(g.w) {
            let mcount = (g.w - ph).div_ceil(g.sw);
            let mut m0 = 0;
            while m0 < mcount {
                let np = (mcount - m0).min(P);
                let mut acc = [[[s.zero(); V]; P]; K];
                for ky in 0..g.kh {
                    let t = (iy + g.pt).wrapping_sub(ky);
                    if t > iy + g.pt || !t.is_multiple_of(g.sh) || t / g.sh >= g.oh {
                        continue;
                    }
                    let oy = t / g.sh;
                    for kx in 0..g.kw {
                        // Column `ph + sw * m` meets `dy` through `kx` iff `ph + pl - kx` is a
                        // multiple of `sw`, at padded column `e / sw + m` (`left * sw >= kx`).
                        let e = ph + g.pl + left * g.sw - kx;
                        if !e.is_multiple_of(g.sw) {
                            continue;
                        }
                        // SAFETY: the weights are tap `(ky, kx)`, filters `co < cout`, channels
                        // `c0..c0 + nc`; columns `j < np` read padded columns inside the row
                        // (see `dy_padded`), the others at most `P - 1` cells further, inside
                        // the next rows or the slack.
                        unsafe {
                            let xr = dyp.add(oy * dwp + e / g.sw + m0);
                            let wr = wt.add((ky * g.kw + kx) * g.cout * g.cin + c0);
                            let mut co = 0;
                            while co + K <= g.cout {
                                unroll!(K, 8, |k| {
                                    let mut wv = [s.zero(); V];
                                    for (v, wvv) in wv.iter_mut().enumerate() {
                                        *wvv = s.load_n(
                                            wr.add((co + k) * g.cin + v * l),
                                            nc.saturating_sub(v * l),
                                        );
                                    }
                                    let xq = xr.add((co + k) * plane);
                                    unroll!(P, 25, |j| {
                                        let xs = s.splat(*xq.add(j));
                                        for v in 0..V {
                                            acc[k][j][v] = s.fma(xs, wv[v], acc[k][j][v]);
                                        }
                                    });
                                });
                                co += K;
                            }
                            while co < g.cout {
                                let mut wv = [s.zero(); V];
                                for (v, wvv) in wv.iter_mut().enumerate() {
                                    *wvv = s.load_n(
                                        wr.add(co * g.cin + v * l),
                                        nc.saturating_sub(v * l),
                                    );
                                }
                                let xq = xr.add(co * plane);
                                unroll!(P, 25, |j| {
                                    let xs = s.splat(*xq.add(j));
                                    for v in 0..V {
                                        acc[0][j][v] = s.fma(xs, wv[v], acc[0][j][v]);
                                    }
                                });
                                co += 1;
                            }
                        }
                    }
                }
                // Read the block with constant indices only, add the chains, then write it
                // channel by channel.
                let tmp: [[[S::V; V]; P]; K] = acc;
                let mut sum = tmp[0];
                for t in tmp.iter().skip(1) {
                    for j in 0..P {
                        for v in 0..V {
                            sum[j][v] = s.add(sum[j][v], t[j][v]);
                        }
                    }
                }
                for (j, t) in sum.iter().enumerate().take(np) {
                    debug_assert_eq!(core::mem::size_of::<S::V>(), 4 * l);
                    // SAFETY: `t` is `V` vectors of `LANES` consecutive `f32`s; the outputs are
                    // channels `c0 + c < cin`, row `iy`, column `ph + sw * (m0 + j) < w`.
                    unsafe {
                        let t = core::slice::from_raw_parts(t.as_ptr() as *const f32, V * l);
                        let out = dx.add(iy * g.w + ph + g.sw * (m0 + j));
                        for (c, &val) in t.iter().enumerate().take(nc) {
                            *out.add((c0 + c) * hw) = val;
                        }
                    }
                }
                m0 += np;
            }
        }
    }
}

/// Input channels per block of [`dx_flat`] (the largest of 8, 6, 4, 3, 2 dividing `cin`, else 1,
/// whose block and broadcasts fit the registers), the most vectors of positions per block for
/// that many channels, and the vectors per block used (balanced over the flat rows).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn flat_block<S: Isa>(g: Geom) -> (usize, usize, usize) {
    let most = |f: usize| -> usize {
        if S::REGS >= 32 {
            match f {
                1 => 24,
                2 => 12,
                3 => 8,
                4 => 6,
                6 => 4,
                _ => 2,
            }
        } else {
            match f {
                1 => 12,
                2 => 5,
                3 => 3,
                4 => 2,
                _ => 1,
            }
        }
    };
    let f = filters_dividing(g.cin, |f| f + f * most(f) < S::REGS);
    let (p, _, _) = flat_layout(g);
    let nvec = (g.h * p).div_ceil(S::LANES);
    let nq = nvec.div_ceil(nvec.div_ceil(most(f)));
    (f, most(f), nq)
}

/// Vector multiply-adds of [`dx_flat`] for one sample, weighted by its loads per multiply-add
/// when above one (its blocks share the `dy` vectors and the weight broadcasts).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn flat_cost<S: Isa>(g: Geom) -> usize {
    let (p, _, _) = flat_layout(g);
    let (f, _, nq) = flat_block::<S>(g);
    let nvec = (g.h * p).div_ceil(S::LANES);
    let fmas = nvec.div_ceil(nq) * nq * g.kh * g.kw * g.cout * g.cin;
    // Loads per block step: `nq` vectors and `f` broadcasts for `f * nq` multiply-adds.
    fmas * (nq + f).max(f * nq) / (f * nq)
}

/// The input gradient with stride 1 along both axes, flattened: `dy` zero-padded by `k - 1 - p`
/// on every side into rows of `pitch` cells ([`flat_layout`]), so input cell `(iy, ix)` at flat
/// position `iy * pitch + ix` is the sum over taps `(ky, kx)` and filters of the weight times
/// padded `dy` at the position plus a constant offset. A block is `NQ` vectors of consecutive
/// positions times `F` input channels, the weights broadcast once per tap and filter; the rows
/// are then copied out of the flat layout.
///
/// # Safety
/// `dy` holds `n` samples, `w` the kernel, `dx` `n` samples; `dyp` and `dxf` have the sizes of
/// [`parts`]; `g.sh == g.sw == 1`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn dx_flat<S: Isa>(
    s: S,
    g: Geom,
    n: usize,
    dy: *const f32,
    w: *const f32,
    dyp: &mut [f32],
    dxf: &mut [f32],
    dx: *mut f32,
) {
    let (p, fdy, fdx) = flat_layout(g);
    let (xs, ys, np) = (g.cin * g.h * g.w, g.cout * g.oh * g.ow, g.oh * g.ow);
    // Where `dy` cell `(oy, ox)` lands: row `oy + kh - 1 - pt`, column `ox + kw - 1 - pl`
    // (cropped where negative or past the padded row).
    let (r0, c0) = (
        g.kh as isize - 1 - g.pt as isize,
        g.kw as isize - 1 - g.pl as isize,
    );
    let (ox0, ox1) = (
        (-c0).max(0) as usize,
        (p as isize - c0).clamp(0, g.ow as isize) as usize,
    );
    let rows = g.h + g.kh - 1;
    // The padding stays zero: every sample writes the same cells.
    dyp[..g.cout * fdy].fill(0.0);
    let (f, most, nq) = flat_block::<S>(g);
    for i in 0..n {
        for co in 0..g.cout {
            for oy in 0..g.oh {
                let r = oy as isize + r0;
                if r < 0 || r >= rows as isize || ox0 >= ox1 {
                    continue;
                }
                // SAFETY: `dy` row `oy` of filter `co`, cells `ox0..ox1`, to padded row `r` at
                // column `ox0 + c0 >= 0`, ending inside the row or (with the zeros `copy`
                // writes) within the plane's margin; rows are written in increasing order.
                unsafe {
                    copy(
                        s,
                        dy.add(i * ys + co * np + oy * g.ow + ox0),
                        dyp.as_mut_ptr()
                            .add(co * fdy + r as usize * p + (ox0 as isize + c0) as usize),
                        ox1 - ox0,
                    )
                };
            }
        }
        // SAFETY: forwarded; `dxf` has `cin` planes of `fdx` cells.
        unsafe {
            macro_rules! go {
                ($(($f:literal, $q:literal))*) => {
                    match (f, most) {
                        $(($f, $q) => dx_flat_fq::<S, $f, $q>(s, g, nq, dyp.as_ptr(), w, dxf.as_mut_ptr()),)*
                        _ => unreachable!(),
                    }
                };
            }
            if S::REGS >= 32 {
                go!((1, 24)(2, 12)(3, 8)(4, 6)(6, 4)(8, 2));
            } else {
                go!((1, 12)(2, 5)(3, 3)(4, 2)(6, 1));
            }
        }
        // Copy the rows out of the flat layout (the last rows without the zeros past `dx`).
        for ci in 0..g.cin {
            for iy in 0..g.h {
                let at = i * xs + (ci * g.h + iy) * g.w;
                // SAFETY: flat row `iy` of channel `ci` (`w` cells) to `dx` row `iy` of sample
                // `i`; `copy` writes zeros past the row only onto rows written later, and only
                // where they stay inside `dx`.
                unsafe {
                    let src = dxf.as_ptr().add(ci * fdx + iy * p);
                    let dst = dx.add(at);
                    if at + g.w.next_multiple_of(S::LANES) > n * xs {
                        let mut k = 0;
                        while k < g.w {
                            s.store_n(dst.add(k), s.load_n(src.add(k), g.w - k), g.w - k);
                            k += S::LANES;
                        }
                    } else {
                        copy(s, src, dst, g.w);
                    }
                }
            }
        }
    }
}

/// Blocks of `nq <= NQ` vectors of positions (the unused accumulators vanish when the geometry
/// is a constant).
///
/// # Safety
/// As [`dx_flat`]; `F` divides `cin`; `dyp` holds the padded sample; `nq <= NQ`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn dx_flat_fq<S: Isa, const F: usize, const NQ: usize>(
    s: S,
    g: Geom,
    nq: usize,
    dyp: *const f32,
    w: *const f32,
    dxf: *mut f32,
) {
    let l = S::LANES;
    let (p, fdy, fdx) = flat_layout(g);
    let used = g.h * p;
    let mut ci0 = 0;
    while ci0 < g.cin {
        let mut q0 = 0;
        while q0 < used {
            let mut acc = [[s.zero(); NQ]; F];
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let o = (g.kh - 1 - ky) * p + (g.kw - 1 - kx);
                    // SAFETY: the weights are tap `(ky, kx)`, channels `ci0 + f < cin`, filter
                    // `co`; the `dy` vectors start at `q0 + o + j * l < used + nq * l + o`,
                    // inside the plane (`fdy` leaves `kh * p + NQ * l` past `used`).
                    unsafe {
                        let wr = w.add(((ky * g.kw + kx) * g.cin + ci0) * g.cout);
                        for co in 0..g.cout {
                            let mut wf = [s.zero(); F];
                            for (f, v) in wf.iter_mut().enumerate() {
                                *v = s.splat(*wr.add(f * g.cout + co));
                            }
                            let xr = dyp.add(co * fdy + q0 + o);
                            unroll!(NQ, 25, |j| {
                                if j < nq {
                                    let xv = s.load(xr.add(j * l));
                                    for f in 0..F {
                                        acc[f][j] = s.fma(wf[f], xv, acc[f][j]);
                                    }
                                }
                            });
                        }
                    }
                }
            }
            let tmp: [[S::V; NQ]; F] = acc;
            for (f, a) in tmp.iter().enumerate() {
                for (j, &v) in a.iter().enumerate().take(nq) {
                    // SAFETY: channel `ci0 + f`, flat positions `q0 + j * l..` below
                    // `used + nq * l <= fdx`.
                    unsafe { s.store(dxf.add((ci0 + f) * fdx + q0 + j * l), v) };
                }
            }
            q0 += nq * l;
        }
        ci0 += F;
    }
}

/// Cells per input channel of [`dx_gemm`]'s padded input gradient: the padded input
/// ([`padded`]) and room for the last block's vectors.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn gemm_plane(g: Geom) -> usize {
    let (xh, xw) = padded(g);
    xh * xw + xw + 8 * MAX_LANES
}

/// Taps and vectors of positions per block of [`dx_gemm`] (the most of each, then the vectors
/// used, balanced over the flattened rows of `dy`).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn gemm_block<S: Isa>(g: Geom) -> (usize, usize, usize) {
    let (_, xw) = padded(g);
    let nvec = (g.oh * xw).div_ceil(S::LANES);
    let combos: [(usize, usize); 4] = if S::REGS >= 32 {
        [(12, 2), (8, 3), (6, 4), (4, 6)]
    } else {
        [(12, 1), (5, 2), (3, 3), (2, 4)]
    };
    let (t, u) = combos
        .into_iter()
        .find(|&(_, u)| u >= nvec)
        .unwrap_or(combos[3]);
    (t, u, nvec.div_ceil(nvec.div_ceil(u)))
}

/// Vector operations of [`dx_gemm`] for one sample: multiply-adds (weighted by loads per
/// multiply-add above one), additions into the padded gradient, copies out.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn gemm_cost<S: Isa>(g: Geom) -> usize {
    let (_, xw) = padded(g);
    let (t, _, nu) = gemm_block::<S>(g);
    let nvec = (g.oh * xw).div_ceil(S::LANES);
    let blocks = nvec.div_ceil(nu) * nu;
    let taps = g.kh * g.kw * g.cin;
    let fmas = blocks * taps.div_ceil(t) * t * g.cout;
    fmas * (nu + t).max(t * nu) / (t * nu)
        + 3 * taps * blocks
        + g.cin * g.h * g.w.div_ceil(S::LANES)
}

/// The input gradient with stride 1 along both axes as a matrix product: for each tap
/// `(ky, kx, ci)` the sum over filters of the weight times `dy`, along `dy`'s rows flattened
/// with the padded input's pitch ([`prepare_dy_planes`]), is added at the tap's constant offset
/// into the padded input gradient, whose rows are then copied out. A block is `T` taps times
/// `NU` vectors of positions.
///
/// # Safety
/// `dq` holds the `dy` planes ([`prepare_dy_planes`], `q` from [`planes`]), `w` the kernel, `dx`
/// `n` samples; `dxp` has `cin` planes of [`gemm_plane`] cells; `g.sh == g.sw == 1`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn dx_gemm<S: Isa>(
    s: S,
    g: Geom,
    n: usize,
    dq: *const f32,
    q: usize,
    w: *const f32,
    dxp: &mut [f32],
    dx: *mut f32,
) {
    let (xh, xw) = padded(g);
    let gp = gemm_plane(g);
    let xs = g.cin * g.h * g.w;
    let (tm, um, nu) = gemm_block::<S>(g);
    // Input columns `[0, c1)` lie in the padded rows (the others get no gradient).
    let c1 = g.w.min(xw.saturating_sub(g.pl));
    for i in 0..n {
        dxp[..g.cin * gp].fill(0.0);
        // SAFETY: forwarded.
        unsafe {
            macro_rules! go {
                ($(($t:literal, $u:literal))*) => {
                    match (tm, um) {
                        $(($t, $u) => dx_gemm_tu::<S, $t, $u>(s, g, i, nu, dq, q, w, dxp.as_mut_ptr()),)*
                        _ => unreachable!(),
                    }
                };
            }
            if S::REGS >= 32 {
                go!((12, 2)(8, 3)(6, 4)(4, 6));
            } else {
                go!((12, 1)(5, 2)(3, 3)(2, 4));
            }
        }
        for ci in 0..g.cin {
            for iy in 0..g.h {
                let at = i * xs + (ci * g.h + iy) * g.w;
                // SAFETY: `dx` row `iy` of channel `ci` of sample `i` (`w` cells) from padded row
                // `iy + pt` at column `pl` (`c1` cells inside it); `copy`'s zeros land on the rest
                // of the row or on rows written later, and only where they stay inside `dx`.
                unsafe {
                    let dst = dx.add(at);
                    if iy + g.pt >= xh || c1 == 0 {
                        core::ptr::write_bytes(dst, 0, g.w);
                        continue;
                    }
                    let src = dxp.as_ptr().add(ci * gp + (iy + g.pt) * xw + g.pl);
                    if c1 == g.w && at + g.w.next_multiple_of(S::LANES) <= n * xs {
                        copy(s, src, dst, g.w);
                    } else {
                        let mut k = 0;
                        while k < c1 {
                            s.store_n(dst.add(k), s.load_n(src.add(k), c1 - k), c1 - k);
                            k += S::LANES;
                        }
                        core::ptr::write_bytes(dst.add(c1), 0, g.w - c1);
                    }
                }
            }
        }
    }
}

/// Sample `i`, blocks of `T` taps (a partial last one checked) and `nu <= NU` vectors of
/// positions (the unused accumulators vanish when the geometry is a constant).
///
/// # Safety
/// As [`dx_gemm`]; `nu <= NU`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn dx_gemm_tu<S: Isa, const T: usize, const NU: usize>(
    s: S,
    g: Geom,
    i: usize,
    nu: usize,
    dq: *const f32,
    q: usize,
    w: *const f32,
    dxp: *mut f32,
) {
    let taps = g.kh * g.kw * g.cin;
    let mut t0 = 0;
    // SAFETY: forwarded; full blocks have `T` taps, the last `taps - t0`.
    unsafe {
        while t0 + T <= taps {
            dx_gemm_block::<S, T, NU, false>(s, g, i, nu, t0, T, dq, q, w, dxp);
            t0 += T;
        }
        if t0 < taps {
            dx_gemm_block::<S, T, NU, true>(s, g, i, nu, t0, taps - t0, dq, q, w, dxp);
        }
    }
}

/// Taps `t0..t0 + nt` (`nt <= T`, all `T` unless `CHECK`) of sample `i`.
///
/// # Safety
/// As [`dx_gemm_tu`]; `t0 + nt <= taps`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn dx_gemm_block<S: Isa, const T: usize, const NU: usize, const CHECK: bool>(
    s: S,
    g: Geom,
    i: usize,
    nu: usize,
    t0: usize,
    nt: usize,
    dq: *const f32,
    q: usize,
    w: *const f32,
    dxp: *mut f32,
) {
    let l = S::LANES;
    let (xh, xw) = padded(g);
    let gp = gemm_plane(g);
    let (base, used) = (i * xh * xw, g.oh * xw);
    let mut u0 = 0;
    while u0 < used {
        let mut acc = [[s.zero(); NU]; T];
        // SAFETY: the `dy` vectors of filter `co` start at sample `i`'s position `u0 + j * l <
        // used + NU * l`: inside the plane, the next planes or the slack (positions past
        // `xh * xw` belong to the next sample: their products land past the padded rows, see
        // below). The weights are taps `t0 + t < taps`, filter `co`.
        unsafe {
            for co in 0..g.cout {
                let dr = dq.add(co * q + base + u0);
                let mut dv = [s.zero(); NU];
                for (j, v) in dv.iter_mut().enumerate().take(nu) {
                    *v = s.load(dr.add(j * l));
                }
                let wr = w.add(t0 * g.cout + co);
                unroll!(T, 25, |t| {
                    if !CHECK || t < nt {
                        let wb = s.splat(*wr.add(t * g.cout));
                        for j in 0..NU {
                            if j < nu {
                                acc[t][j] = s.fma(wb, dv[j], acc[t][j]);
                            }
                        }
                    }
                });
            }
        }
        // Add the block at each tap's offset: position `u` of tap `(ky, kx, ci)` is padded cell
        // `(oy + ky, ox + kx)` of channel `ci`. Positions past the sample's rows of `dy` (zero
        // there up to `xh * xw`, the next sample after) land on rows `>= xh`: the plane's room.
        let tmp: [[S::V; NU]; T] = acc;
        for (t, a) in tmp.iter().enumerate().take(nt) {
            let (k, ci) = ((t0 + t) / g.cin, (t0 + t) % g.cin);
            let off = ci * gp + (k / g.kw) * xw + k % g.kw + u0;
            for (j, &v) in a.iter().enumerate().take(nu) {
                // SAFETY: `off + j * l + l <= ci * gp + (kh - 1) * xw + kw - 1 + used + NU * l`,
                // inside the plane (`gp` leaves `xw + 8 * MAX_LANES` past `xh * xw`).
                unsafe {
                    let p = dxp.add(off + j * l);
                    s.store(p, s.add(s.load(p), v));
                }
            }
        }
        u0 += nu * l;
    }
}
