//! The compact kernel for small images: vectors of output positions across rows, gathered from a
//! zero-padded copy by a two-vector permute; its plan (block sizes) chosen by cost.

use super::*;
use crate::kernels::epilogue::Fused;

/// The compact plan of `g` (`None`: another kernel is cheaper or the geometry does not fit):
/// for a geometry fixed by its type, evaluated at compile time.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) fn plan_of<S: Isa, G: GeomOf>(g: G) -> Option<CompactPlan> {
    let (fixed, plan) = const { fixed_plan::<S>(G::FIXED) };
    if fixed {
        plan
    } else {
        compact_plan::<S>(g.geom(), force())
    }
}

/// [`compact_plan`] of a fixed geometry, and whether there is one.
const fn fixed_plan<S: Isa>(g: Option<Geom>) -> (bool, Option<CompactPlan>) {
    match g {
        Some(g) => (true, compact_plan::<S>(g, 0)),
        None => (false, None),
    }
}

/// How the compact kernel runs a geometry.
#[derive(Clone, Copy, Debug)]
pub(super) struct CompactPlan {
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
pub(super) const fn compact_plan<S: Isa>(g: Geom, force: u8) -> Option<CompactPlan> {
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
pub(super) unsafe fn compact<S: Isa, G: GeomOf, A: Epilogue>(
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
        choose!(const { fixed_block::<S, G>() }, block_of(plan), {
            0x101 => compact_k::<S, 16, 1, A>(s, g, plan, x, w, b, y, act),
            0x81 => compact_k::<S, 8, 1, A>(s, g, plan, x, w, b, y, act),
            0x82 => compact_k::<S, 8, 2, A>(s, g, plan, x, w, b, y, act),
            0x83 => compact_k::<S, 8, 3, A>(s, g, plan, x, w, b, y, act),
            0x61 => compact_k::<S, 6, 1, A>(s, g, plan, x, w, b, y, act),
            0x62 => compact_k::<S, 6, 2, A>(s, g, plan, x, w, b, y, act),
            0x63 => compact_k::<S, 6, 3, A>(s, g, plan, x, w, b, y, act),
            0x64 => compact_k::<S, 6, 4, A>(s, g, plan, x, w, b, y, act),
            0x41 => compact_k::<S, 4, 1, A>(s, g, plan, x, w, b, y, act),
            0x42 => compact_k::<S, 4, 2, A>(s, g, plan, x, w, b, y, act),
            0x43 => compact_k::<S, 4, 3, A>(s, g, plan, x, w, b, y, act),
            0x44 => compact_k::<S, 4, 4, A>(s, g, plan, x, w, b, y, act),
            0x11 => compact_k::<S, 1, 1, A>(s, g, plan, x, w, b, y, act),
            0x12 => compact_k::<S, 1, 2, A>(s, g, plan, x, w, b, y, act),
            0x13 => compact_k::<S, 1, 3, A>(s, g, plan, x, w, b, y, act),
            _ => compact_k::<S, 1, 4, A>(s, g, plan, x, w, b, y, act),
        })
    }
}

/// A compact plan's block as one number, `F * 16 + NV` (`0x<F><NV>` in hex) (the block sizes `compact_plan` chooses
/// from: `F` in 16, 8, 6, 4, 1; `NV` in 1..=4, and 1 for 16 filters; 8 filters take at most 3).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn block_of(plan: CompactPlan) -> usize {
    let nv = if plan.f == 16 {
        1
    } else if plan.f == 8 && plan.nv > 3 {
        3
    } else {
        plan.nv
    };
    plan.f * 16 + nv
}

/// [`block_of`] the compact plan of a geometry fixed by `G` (one that has a plan), else
/// [`UNFIXED`].
const fn fixed_block<S: Isa, G: GeomOf>() -> usize {
    match G::FIXED {
        Some(g) => match compact_plan::<S>(g, 0) {
            Some(plan) => block_of(plan),
            None => 0,
        },
        None => UNFIXED,
    }
}

/// The compact kernel with `F` filters and `NV` vectors of positions per block.
///
/// # Safety
/// As [`compact`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn compact_k<S: Isa, const F: usize, const NV: usize, A: Epilogue>(
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
                                *out.add(j) = act.apply(*out.add(j));
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
