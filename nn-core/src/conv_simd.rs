//! Vectorized convolution forward, written once over [`Isa`] and run with the widest instruction
//! set the CPU has (see [`crate::simd`]).
//!
//! Two register-blocked kernels, chosen from the geometry (constants after inlining):
//! - **filters**: a block is `V` vectors of filters times `P` output positions of a row; each
//!   weight vector feeds `P` positions, each input value (broadcast) `V` vectors. Any stride and
//!   padding; the `V * P` outputs are written channel by channel.
//! - **positions** (stride 1 along rows): a block is `NV` vectors of consecutive output columns
//!   times `F` filters; each input vector feeds `F` filters. Columns whose taps would leave the
//!   row (padding) go through the filters kernel.
//!
//! - **compact** (small images): a block is `NV` vectors of consecutive output positions of the
//!   whole image (several rows per vector) times `F` filters. The input is copied zero-padded;
//!   for each tap, the vector of a block's positions is picked by [`Isa::permute2`] from two
//!   unaligned loads of the padded copy (the positions' top-left cells span at most two
//!   vectors), and feeds `F` filters. Any stride; outputs are stored as whole vectors.
//!
//! The choice minimizes vector operations plus scalar stores for the layer; every kernel is
//! checked against the plain loop in `conv::tests`.

use core::marker::PhantomData;

use crate::activation::{Activation, Fused};
use crate::conv::Geom;
use crate::simd::{Isa, Kernel};

/// Where a kernel gets its geometry: a constant of a layer type (so the runtime-dispatched copy
/// still sees constants) or a value (tests).
pub(crate) trait GeomOf: Copy {
    /// The geometry.
    fn geom(self) -> Geom;
    /// The compact kernel's plan with the operations of `S` (`None`: another kernel).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn compact_plan<S: Isa>(self) -> Option<CompactPlan> {
        compact_plan::<S>(self.geom(), force())
    }
}

impl GeomOf for Geom {
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn geom(self) -> Geom {
        self
    }
}

/// A geometry known from types.
pub(crate) trait ConstGeom {
    /// The geometry.
    const G: Geom;
}

/// [`GeomOf`] for a [`ConstGeom`] type.
pub(crate) struct Const<T>(PhantomData<T>);

impl<T> Clone for Const<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Const<T> {}

impl<T> Const<T> {
    /// The marker.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub(crate) fn new() -> Self {
        Const(PhantomData)
    }
}

impl<T: ConstGeom> GeomOf for Const<T> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn geom(self) -> Geom {
        T::G
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn compact_plan<S: Isa>(self) -> Option<CompactPlan> {
        // Evaluated at compile time: the search is not repeated per call.
        const { compact_plan::<S>(T::G, 0) }
    }
}

/// `y = conv(x, w) + b` for one sample as a [`Kernel`] for [`crate::simd::dispatch`].
/// `act` is applied to every output (in registers where [`Activation::FUSED`] allows).
pub(crate) struct ConvForward<'a, G: GeomOf, A: Activation> {
    pub g: G,
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub b: Option<&'a [f32]>,
    pub y: &'a mut [f32],
    pub act: A,
}

impl<G: GeomOf, A: Activation> Kernel for ConvForward<'_, G, A> {
    type Out = ();
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) {
        let plan = self.g.compact_plan::<S>();
        forward_with(
            s,
            self.g.geom(),
            plan,
            self.x,
            self.w,
            self.b,
            self.y,
            self.act,
        )
    }
}

/// Cells of the on-stack copy of a zero-padded input (8 KiB; 64-bit targets only, so small
/// embedded stacks never carry it).
const SCRATCH: usize = 2048;

/// Accumulator registers a block may use (the rest hold weights, inputs and broadcasts).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn acc_budget<S: Isa>() -> usize {
    if S::REGS >= 32 {
        if cfg!(target_feature = "avx512f") {
            24
        } else {
            16
        }
    } else {
        12
    }
}

/// Output positions per filters-kernel block with `v` vectors of filters for rows of `width`
/// columns: the block size (at most the accumulator budget) that minimizes the vector loads and
/// multiply-adds of a row, wasted positions of the last block included.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn positions_per_block<S: Isa>(v: usize, width: usize) -> usize {
    let max = acc_budget::<S>() / v;
    let mut best = (usize::MAX, 1);
    let ps = [12, 10, 8, 6, 5, 4, 3, 2, 1];
    let mut i = 0;
    while i < ps.len() {
        let p = ps[i];
        if p <= max {
            let cost = width.div_ceil(p) * (p * v + v);
            if cost < best.0 {
                best = (cost, p);
            }
        }
        i += 1;
    }
    best.1
}

/// Output columns `[lo, hi)` whose every tap lies inside the input row.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn interior(g: Geom) -> (usize, usize) {
    let lo = min(g.pl.div_ceil(g.sw), g.ow);
    let hi = if g.w + g.pl >= g.kw {
        min((g.w + g.pl - g.kw) / g.sw + 1, g.ow)
    } else {
        0
    };
    (lo, if hi > lo { hi } else { lo })
}

/// The smaller of `a` and `b` (in `const fn`s).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Forward of one sample with the operations of `s`.
#[cfg(test)]
pub(crate) fn forward<S: Isa, A: Activation>(
    s: S,
    g: Geom,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    act: A,
) {
    forward_with(s, g, g.compact_plan::<S>(), x, w, b, y, act)
}

/// Forward of one sample with the operations of `s`; `plan` is `compact_plan(g)`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
fn forward_with<S: Isa, A: Activation>(
    s: S,
    g: Geom,
    plan: Option<CompactPlan>,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    act: A,
) {
    assert!(
        x.len() >= g.cin * g.h * g.w
            && w.len() >= g.kh * g.kw * g.cin * g.cout
            && y.len() >= g.cout * g.oh * g.ow
            && b.is_none_or(|b| b.len() >= g.cout)
            && g.sw >= 1
            && g.sh >= 1
    );
    if let Some(plan) = plan {
        // SAFETY: the lengths were checked above; `compact` reads the padded copy it makes and
        // writes `cout * oh * ow` outputs.
        unsafe { compact(s, g, plan, x.as_ptr(), w.as_ptr(), b, y.as_mut_ptr(), act) };
        return;
    }
    let l = S::LANES;
    let (lo, hi) = interior(g);
    let taps = g.kh * g.kw * g.cin;
    // Cost in vector operations (+ scalar stores, each about as dear) of the two kernels.
    let nvf = g.cout.div_ceil(l);
    let filters_cost = g.oh * g.ow * (nvf * taps + g.cout);
    let positions_cost = g.oh * ((hi - lo).div_ceil(l) * g.cout * taps)
        + g.oh * (g.ow - (hi - lo)) * (nvf * taps + g.cout);
    // SAFETY (both calls): the lengths were checked above, and every index the kernels form
    // stays inside them (see the kernels).
    unsafe {
        if g.sw == 1 && hi > lo && positions_cost < filters_cost {
            positions_all(s, g, x.as_ptr(), w.as_ptr(), b, y.as_mut_ptr(), act, lo, hi);
            filters_all(
                s,
                g,
                x.as_ptr(),
                w.as_ptr(),
                b,
                y.as_mut_ptr(),
                act,
                0,
                lo,
                lo,
                lo,
            );
            filters_all(
                s,
                g,
                x.as_ptr(),
                w.as_ptr(),
                b,
                y.as_mut_ptr(),
                act,
                hi,
                g.ow,
                hi,
                hi,
            );
        } else {
            filters_all(
                s,
                g,
                x.as_ptr(),
                w.as_ptr(),
                b,
                y.as_mut_ptr(),
                act,
                0,
                g.ow,
                lo,
                hi,
            );
        }
    }
}

/// The filters kernel over columns `[ox0, ox1)` of every row; blocks inside the interior
/// `[lo, hi)` skip the column checks.
///
/// # Safety
/// `x`, `w`, `y` (and `b`) hold the cells `g` describes.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn filters_all<S: Isa, A: Activation>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    ox0: usize,
    ox1: usize,
    lo: usize,
    hi: usize,
) {
    if ox0 >= ox1 {
        return;
    }
    let nvf = g.cout.div_ceil(S::LANES);
    // SAFETY: forwarded.
    unsafe {
        match nvf {
            1 => filters_rows::<S, 1, _>(s, g, x, w, b, y, act, 0, ox0, ox1, lo, hi),
            2 => filters_rows::<S, 2, _>(s, g, x, w, b, y, act, 0, ox0, ox1, lo, hi),
            3 => filters_rows::<S, 3, _>(s, g, x, w, b, y, act, 0, ox0, ox1, lo, hi),
            _ => {
                let mut c0 = 0;
                while c0 < g.cout {
                    filters_rows::<S, 4, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi);
                    c0 += 4 * S::LANES;
                }
            }
        }
    }
}

/// The filters kernel for filters `c0..` (up to `V` vectors) over columns `[ox0, ox1)`.
///
/// # Safety
/// As [`filters_all`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn filters_rows<S: Isa, const V: usize, A: Activation>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    c0: usize,
    ox0: usize,
    ox1: usize,
    lo: usize,
    hi: usize,
) {
    // SAFETY: forwarded.
    unsafe {
        match positions_per_block::<S>(V, ox1 - ox0) {
            12 => filters_rows_p::<S, V, 12, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            10 => filters_rows_p::<S, V, 10, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            8 => filters_rows_p::<S, V, 8, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            6 => filters_rows_p::<S, V, 6, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            5 => filters_rows_p::<S, V, 5, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            4 => filters_rows_p::<S, V, 4, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            3 => filters_rows_p::<S, V, 3, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            2 => filters_rows_p::<S, V, 2, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            _ => filters_rows_p::<S, V, 1, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
        }
    }
}

/// Splits each row's columns `[ox0, ox1)` into blocks of `P`: a whole block inside the interior
/// `[lo, hi)` skips the column checks, the others check.
///
/// # Safety
/// As [`filters_all`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn filters_rows_p<S: Isa, const V: usize, const P: usize, A: Activation>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    c0: usize,
    ox0: usize,
    ox1: usize,
    lo: usize,
    hi: usize,
) {
    let nc = (g.cout - c0).min(V * S::LANES);
    // Padded columns the blocks read: with zero padding written out, every block runs unchecked.
    let wp = ((ox0 + (ox1 - ox0).div_ceil(P) * P - 1) * g.sw + g.kw).max(g.w + g.pl);
    let needs_checks = ox0 * g.sw < g.pl || wp > g.w + g.pl;
    if needs_checks && cfg!(target_pointer_width = "64") && g.cin * g.h * wp <= SCRATCH {
        let mut buf = core::mem::MaybeUninit::<[f32; SCRATCH]>::uninit();
        let p = buf.as_mut_ptr() as *mut f32;
        // SAFETY: `cin * h * wp <= SCRATCH` cells are written (zeros, then each input row at
        // column `pl`), so the kernel reads only initialized cells of `buf`; `x` holds
        // `cin * h * w` cells (checked by `forward`).
        unsafe {
            for r in 0..g.cin * g.h {
                let row = p.add(r * wp);
                core::ptr::write_bytes(row, 0, wp);
                core::ptr::copy_nonoverlapping(x.add(r * g.w), row.add(g.pl), g.w);
            }
            let gp = Geom { w: wp, pl: 0, ..g };
            for oy in 0..g.oh {
                let mut ox = ox0;
                while ox < ox1 {
                    let n = (ox1 - ox).min(P);
                    filters_block::<S, V, P, false, _>(s, gp, p, w, b, y, act, c0, nc, oy, ox, n);
                    ox += n;
                }
            }
        }
        return;
    }
    for oy in 0..g.oh {
        let mut ox = ox0;
        while ox < ox1 {
            let n = (ox1 - ox).min(P);
            // SAFETY: forwarded; unchecked blocks lie inside [lo, hi).
            unsafe {
                if n == P && ox >= lo && ox + P <= hi {
                    filters_block::<S, V, P, false, _>(s, g, x, w, b, y, act, c0, nc, oy, ox, P);
                } else {
                    filters_block::<S, V, P, true, _>(s, g, x, w, b, y, act, c0, nc, oy, ox, n);
                }
            }
            ox += n;
        }
    }
}

/// One block: filters `c0..c0 + nc` (`nc <= V * LANES`) at positions `ox..ox + n` (`n <= P`) of
/// row `oy`. With `CHECK`, taps outside the row read zero (and positions past `n` are computed
/// from in-bounds cells and dropped); without, every tap of the `P` positions is in the row.
///
/// # Safety
/// As [`filters_all`]; without `CHECK`, every tap of the `P` positions is in the row.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn filters_block<
    S: Isa,
    const V: usize,
    const P: usize,
    const CHECK: bool,
    A: Activation,
>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    c0: usize,
    nc: usize,
    oy: usize,
    ox: usize,
    n: usize,
) {
    let l = S::LANES;
    let hw = g.h * g.w;
    // SAFETY: every pointer below stays inside the buffers: weights `(tap * cout + c0 + v * l)`
    // with at most `nc - v * l` lanes, inputs at a checked or interior `(iy, ix)`, outputs at
    // `(c0 + c, oy, ox + j)` with `c < nc`, `j < n`.
    unsafe {
        let mut bias = [s.zero(); V];
        if let Some(b) = b {
            for (v, bv) in bias.iter_mut().enumerate() {
                *bv = s.load_n(b.as_ptr().add(c0 + v * l), nc.saturating_sub(v * l));
            }
        }
        let mut acc = [bias; P];
        for ky in 0..g.kh {
            let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
            if iy >= g.h {
                continue;
            }
            for kx in 0..g.kw {
                let mut ix = [0usize; P];
                let mut ok = [true; P];
                for j in 0..P {
                    ix[j] = ((ox + j) * g.sw + kx).wrapping_sub(g.pl);
                    if CHECK {
                        ok[j] = ix[j] < g.w;
                        if !ok[j] {
                            ix[j] = 0;
                        }
                    }
                }
                let wt = w.add((ky * g.kw + kx) * g.cin * g.cout + c0);
                let xr = x.add(iy * g.w);
                for ci in 0..g.cin {
                    let wp = wt.add(ci * g.cout);
                    let mut wv = [s.zero(); V];
                    for (v, wvv) in wv.iter_mut().enumerate() {
                        *wvv = s.load_n(wp.add(v * l), nc.saturating_sub(v * l));
                    }
                    let xp = xr.add(ci * hw);
                    for j in 0..P {
                        let xv = *xp.add(ix[j]);
                        let xv = if CHECK && !ok[j] { 0.0 } else { xv };
                        let xs = s.splat(xv);
                        for v in 0..V {
                            acc[j][v] = s.fma(xs, wv[v], acc[j][v]);
                        }
                    }
                }
            }
        }
        // Spill the block with constant indices only (so `acc` itself stays in registers), then
        // write it channel by channel.
        let ohw = g.oh * g.ow;
        let tmp: [[S::V; V]; P] = acc;
        for (j, t) in tmp.iter().enumerate().take(n) {
            let out = y.add(oy * g.ow + ox + j);
            // `t` is `V` vectors of `LANES` consecutive `f32`s.
            debug_assert_eq!(core::mem::size_of::<S::V>(), 4 * l);
            let t = core::slice::from_raw_parts(t.as_ptr() as *const f32, V * l);
            for (c, &val) in t.iter().enumerate().take(nc) {
                *out.add((c0 + c) * ohw) = act.f(val);
            }
        }
    }
}

/// The positions kernel over the interior columns `[lo, hi)` of every row (stride 1 along rows).
///
/// # Safety
/// As [`filters_all`]; `g.sw == 1` and `[lo, hi)` is the interior.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn positions_all<S: Isa, A: Activation>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    lo: usize,
    hi: usize,
) {
    let nv = (hi - lo).div_ceil(S::LANES).min(3);
    // SAFETY: forwarded.
    unsafe {
        match nv {
            1 => positions_nv::<S, 1, _>(s, g, x, w, b, y, act, lo, hi),
            2 => positions_nv::<S, 2, _>(s, g, x, w, b, y, act, lo, hi),
            _ => positions_nv::<S, 3, _>(s, g, x, w, b, y, act, lo, hi),
        }
    }
}

/// Filters per positions-kernel block: the largest of 8, 6, 4, 2 that divides the filter count
/// and fits the accumulator budget with `NV` vectors (1 otherwise).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn filters_per_block<S: Isa, const NV: usize>(cout: usize) -> usize {
    let max = acc_budget::<S>() / NV;
    for f in [8, 6, 4, 2] {
        if f <= max && cout.is_multiple_of(f) {
            return f;
        }
    }
    1
}

/// # Safety
/// As [`positions_all`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn positions_nv<S: Isa, const NV: usize, A: Activation>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    lo: usize,
    hi: usize,
) {
    // SAFETY: forwarded.
    unsafe {
        match filters_per_block::<S, NV>(g.cout) {
            8 => positions_f::<S, 8, NV, _>(s, g, x, w, b, y, act, lo, hi),
            6 => positions_f::<S, 6, NV, _>(s, g, x, w, b, y, act, lo, hi),
            4 => positions_f::<S, 4, NV, _>(s, g, x, w, b, y, act, lo, hi),
            2 => positions_f::<S, 2, NV, _>(s, g, x, w, b, y, act, lo, hi),
            _ => positions_f::<S, 1, NV, _>(s, g, x, w, b, y, act, lo, hi),
        }
    }
}

/// # Safety
/// As [`positions_all`]; `F` divides `g.cout`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn positions_f<S: Isa, const F: usize, const NV: usize, A: Activation>(
    s: S,
    g: Geom,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
    lo: usize,
    hi: usize,
) {
    let l = S::LANES;
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut co = 0;
    while co < g.cout {
        for oy in 0..g.oh {
            let mut ox = lo;
            while ox < hi {
                let cols = (hi - ox).min(NV * l);
                // SAFETY: filters `co..co + F` exist; the input vectors start at interior
                // columns and read at most `cols - v * l` cells of one row; outputs likewise.
                unsafe {
                    let mut acc = [[s.zero(); NV]; F];
                    if let Some(b) = b {
                        for (f, a) in acc.iter_mut().enumerate() {
                            *a = [s.splat(b[co + f]); NV];
                        }
                    }
                    for ky in 0..g.kh {
                        let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
                        if iy >= g.h {
                            continue;
                        }
                        for kx in 0..g.kw {
                            let xr = x.add(iy * g.w + ox + kx - g.pl);
                            let wt = w.add((ky * g.kw + kx) * g.cin * g.cout + co);
                            for ci in 0..g.cin {
                                let xp = xr.add(ci * hw);
                                let mut xv = [s.zero(); NV];
                                for (v, xvv) in xv.iter_mut().enumerate() {
                                    *xvv = s.load_n(xp.add(v * l), cols.saturating_sub(v * l));
                                }
                                let wp = wt.add(ci * g.cout);
                                for (f, a) in acc.iter_mut().enumerate() {
                                    let wf = s.splat(*wp.add(f));
                                    for v in 0..NV {
                                        a[v] = s.fma(xv[v], wf, a[v]);
                                    }
                                }
                            }
                        }
                    }
                    for (f, a) in acc.iter().enumerate() {
                        let out = y.add((co + f) * ohw + oy * g.ow + ox);
                        for (v, &av) in a.iter().enumerate() {
                            if v * l < cols {
                                let av = if A::FUSED == Fused::Relu {
                                    // `max(0, v)` returns `v` when it is NaN, as `ReLU` does.
                                    s.max(s.zero(), av)
                                } else {
                                    av
                                };
                                s.store_n(out.add(v * l), av, cols - v * l);
                            }
                        }
                        if A::FUSED == Fused::Scalar {
                            for k in 0..cols {
                                *out.add(k) = act.f(*out.add(k));
                            }
                        }
                    }
                }
                ox += cols;
            }
        }
        co += F;
    }
}

/// Forces a forward kernel in tests: 1 the compact kernel (where the geometry allows it), 2 the
/// others (filters and positions, by cost); 0 chooses by cost.
#[cfg(test)]
pub(crate) static FORCE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Whether the compact kernel can run `g` with every instruction set of this CPU (tests).
#[cfg(test)]
pub(crate) fn compact_allowed(g: Geom) -> bool {
    compact_plan::<crate::simd::Portable>(g, 1).is_some()
}

/// The forced kernel (tests) or 0.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn force() -> u8 {
    #[cfg(test)]
    return FORCE.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(test))]
    0
}

/// How the compact kernel runs a geometry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CompactPlan {
    /// Filters per block.
    f: usize,
    /// Vectors of positions per block.
    nv: usize,
    /// Columns (= row pitch) and rows of one channel of the padded copy.
    cols: usize,
    rows: usize,
}

/// Offset in the padded copy of the top-left cell of output position `q` (row-major).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn compact_base(g: Geom, cols: usize, q: usize) -> usize {
    (q / g.ow) * g.sh * cols + (q % g.ow) * g.sw
}

/// The compact kernel's plan for `g`, if the geometry allows it and it is the cheapest kernel
/// (`force`: see [`FORCE`]). A `const fn`: for a layer it is evaluated at compile time.
const fn compact_plan<S: Isa>(g: Geom, force: u8) -> Option<CompactPlan> {
    let l = S::LANES;
    let n = g.oh * g.ow;
    if !cfg!(target_pointer_width = "64") || n == 0 || g.sw == 0 || g.sh == 0 || force == 2 {
        return None;
    }
    // The padded copy holds every cell a tap reads, plus two vectors of zeros for the last
    // loads.
    let cols = (g.ow - 1) * g.sw + g.kw;
    let rows = (g.oh - 1) * g.sh + g.kh;
    if g.cin * rows * cols + 2 * l > SCRATCH {
        return None;
    }
    // The positions of every vector must lie within two vectors of the copy.
    let nvec = n.div_ceil(l);
    let mut k = 0;
    while k < nvec {
        let (q0, q1) = (k * l, min((k + 1) * l, n) - 1);
        if compact_base(g, cols, q1) - compact_base(g, cols, q0) >= 2 * l {
            return None;
        }
        k += 1;
    }
    let taps = g.kh * g.kw * g.cin;
    let budget = acc_budget::<S>();
    let mut best = (
        usize::MAX,
        CompactPlan {
            f: 1,
            nv: 1,
            cols,
            rows,
        },
    );
    let fs = [16, 8, 6, 4, 1];
    let mut i = 0;
    while i < fs.len() {
        let f = fs[i];
        let mut nv = 1;
        while nv <= 4 {
            if nv * f <= budget && (nv == 1 || nv <= nvec) {
                // Multiply-adds (blocks padded to whole `F` and `NV`, and fewer than 8
                // accumulators wait on the multiply-add latency), input vectors, each block's
                // bias and stores, and the copy.
                let blocks = g.cout.div_ceil(f) * nvec.div_ceil(nv);
                let macs = if nv * f > 8 { nv * f } else { 8 };
                let cost = blocks * (taps * (macs + nv * S::PERMUTE_COST) + nv * f + f)
                    + (g.cin * rows * cols).div_ceil(l) * 2;
                if cost < best.0 {
                    best = (cost, CompactPlan { f, nv, cols, rows });
                }
            }
            nv += 1;
        }
        i += 1;
    }
    if force == 1 {
        return Some(best.1);
    }
    // The other kernels' costs (as `forward` computes them), with the same latency rule.
    let (lo, hi) = interior(g);
    let nvf = g.cout.div_ceil(l);
    let v = min(nvf, 4);
    let acc = v * positions_per_block::<S>(v, g.ow);
    let lat = 8usize.div_ceil(min(acc, 8));
    let mut other = g.oh * g.ow * (nvf * taps * lat + g.cout);
    if g.sw == 1 && hi > lo {
        let positions_cost = g.oh * ((hi - lo).div_ceil(l) * g.cout * taps)
            + g.oh * (g.ow - (hi - lo)) * (nvf * taps + g.cout);
        other = min(other, positions_cost);
    }
    // Measured on Zen 5 (LeNet's and MNIST-1D's convolutions), the compact kernel needs a
    // quarter fewer operations to be faster: its two loads per input vector and the permute
    // cost more than counted.
    if best.0 * 4 < other * 3 {
        Some(best.1)
    } else {
        None
    }
}

/// The compact kernel (see the module docs) with the block sizes of `plan`.
///
/// # Safety
/// `x`, `w`, `y` (and `b`) hold the cells `g` describes; `plan` is `compact_plan(g)`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn compact<S: Isa, A: Activation>(
    s: S,
    g: Geom,
    plan: CompactPlan,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
) {
    // SAFETY: forwarded.
    unsafe {
        match (plan.f, plan.nv) {
            (16, _) => compact_k::<S, 16, 1, A>(s, g, plan, x, w, b, y, act),
            (8, 1) => compact_k::<S, 8, 1, A>(s, g, plan, x, w, b, y, act),
            (8, 2) => compact_k::<S, 8, 2, A>(s, g, plan, x, w, b, y, act),
            (8, _) => compact_k::<S, 8, 3, A>(s, g, plan, x, w, b, y, act),
            (6, 1) => compact_k::<S, 6, 1, A>(s, g, plan, x, w, b, y, act),
            (6, 2) => compact_k::<S, 6, 2, A>(s, g, plan, x, w, b, y, act),
            (6, 3) => compact_k::<S, 6, 3, A>(s, g, plan, x, w, b, y, act),
            (6, _) => compact_k::<S, 6, 4, A>(s, g, plan, x, w, b, y, act),
            (4, 1) => compact_k::<S, 4, 1, A>(s, g, plan, x, w, b, y, act),
            (4, 2) => compact_k::<S, 4, 2, A>(s, g, plan, x, w, b, y, act),
            (4, 3) => compact_k::<S, 4, 3, A>(s, g, plan, x, w, b, y, act),
            (4, _) => compact_k::<S, 4, 4, A>(s, g, plan, x, w, b, y, act),
            (_, 1) => compact_k::<S, 1, 1, A>(s, g, plan, x, w, b, y, act),
            (_, 2) => compact_k::<S, 1, 2, A>(s, g, plan, x, w, b, y, act),
            (_, 3) => compact_k::<S, 1, 3, A>(s, g, plan, x, w, b, y, act),
            _ => compact_k::<S, 1, 4, A>(s, g, plan, x, w, b, y, act),
        }
    }
}

/// The compact kernel with `F` filters and `NV` vectors of positions per block.
///
/// # Safety
/// As [`compact`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn compact_k<S: Isa, const F: usize, const NV: usize, A: Activation>(
    s: S,
    g: Geom,
    plan: CompactPlan,
    x: *const f32,
    w: *const f32,
    b: Option<&[f32]>,
    y: *mut f32,
    act: A,
) {
    let l = S::LANES;
    let (cols, rows) = (plan.cols, plan.rows);
    let plane = rows * cols;
    let n = g.oh * g.ow;
    let nvec = n.div_ceil(l);
    let mut buf = core::mem::MaybeUninit::<[f32; SCRATCH]>::uninit();
    let p = buf.as_mut_ptr() as *mut f32;
    // SAFETY: `cin * plane + 2 * l <= SCRATCH` (checked by `compact_plan`): the copy is zeroed,
    // then each input row that a tap reads is copied at its padded place (row `iy + pt`, column
    // `pl`, at most `cols - pl` cells), reading `x` inside its `cin * h * w` cells.
    unsafe {
        core::ptr::write_bytes(p, 0, g.cin * plane + 2 * l);
        let ncopy = g.w.min(cols.saturating_sub(g.pl));
        for ci in 0..g.cin {
            for r in g.pt..rows.min(g.h + g.pt) {
                core::ptr::copy_nonoverlapping(
                    x.add((ci * g.h + r - g.pt) * g.w),
                    p.add(ci * plane + r * cols + g.pl),
                    ncopy,
                );
            }
        }
    }
    let mut co = 0;
    while co < g.cout {
        // Filters past the last are computed as copies of it and not stored.
        let fi: [usize; F] = core::array::from_fn(|f| (co + f).min(g.cout - 1));
        let mut k = 0;
        while k < nvec {
            // Vectors past the last likewise.
            let mut g0 = [0usize; NV];
            let mut idx = [s.indices(&[0; 16]); NV];
            for v in 0..NV {
                let q0 = (k + v).min(nvec - 1) * l;
                g0[v] = compact_base(g, cols, q0);
                let mut t = [0u32; 16];
                for (i, ti) in t.iter_mut().enumerate().take(l.min(n - q0)) {
                    *ti = (compact_base(g, cols, q0 + i) - g0[v]) as u32;
                }
                idx[v] = s.indices(&t);
            }
            // SAFETY: the loads start at `g0 + c * plane + ky * cols + kx`, at most
            // `cin * plane - 1` (the bottom-right tap of the last position), and read two
            // vectors, inside the copy's `cin * plane + 2 * l` cells; the weights read are
            // `(tap * cin + ci) * cout + fi` with `fi < cout`; the outputs written are filter
            // `co + f < cout`, positions `(k + v) * l ..` up to `n`.
            unsafe {
                let mut acc = [[s.zero(); NV]; F];
                if let Some(b) = b {
                    for (f, a) in acc.iter_mut().enumerate() {
                        *a = [s.splat(*b.get_unchecked(fi[f])); NV];
                    }
                }
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let wt = w.add((ky * g.kw + kx) * g.cin * g.cout);
                        let xt = p.add(ky * cols + kx);
                        for ci in 0..g.cin {
                            let xc = xt.add(ci * plane);
                            let mut xv = [s.zero(); NV];
                            for v in 0..NV {
                                let xp = xc.add(g0[v]);
                                xv[v] = s.permute2(s.load(xp), s.load(xp.add(l)), idx[v]);
                            }
                            let wc = wt.add(ci * g.cout);
                            for (f, a) in acc.iter_mut().enumerate() {
                                let wf = s.splat(*wc.add(fi[f]));
                                for v in 0..NV {
                                    a[v] = s.fma(xv[v], wf, a[v]);
                                }
                            }
                        }
                    }
                }
                for (f, a) in acc.iter().enumerate() {
                    if co + f >= g.cout {
                        break;
                    }
                    for (v, &av) in a.iter().enumerate() {
                        if k + v >= nvec {
                            break;
                        }
                        let q0 = (k + v) * l;
                        let cnt = n - q0;
                        let out = y.add((co + f) * n + q0);
                        let av = if A::FUSED == Fused::Relu {
                            // `max(0, v)` returns `v` when it is NaN, as `ReLU` does.
                            s.max(s.zero(), av)
                        } else {
                            av
                        };
                        s.store_n(out, av, cnt);
                        if A::FUSED == Fused::Scalar {
                            for j in 0..cnt.min(l) {
                                *out.add(j) = act.f(*out.add(j));
                            }
                        }
                    }
                }
            }
            k += NV;
        }
        co += F;
    }
}
