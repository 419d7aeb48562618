//! The positions kernel (stride 1 along rows): `NV` vectors of consecutive output columns times
//! `F` filters.

use super::*;
use crate::kernels::epilogue::Fused;

/// The positions kernel over the interior columns `[lo, hi)` of every row (stride 1 along rows).
///
/// # Safety
/// As [`filters_all`]; `g.sw == 1` and `[lo, hi)` is the interior.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn positions_all<S: Isa, G: GeomOf, A: Epilogue>(
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
        choose!(const { fixed_nv::<S, G>() }, nv_of::<S>(lo, hi), {
            1 => positions_nv::<S, G, 1, _>(s, g, x, w, b, y, act, lo, hi),
            2 => positions_nv::<S, G, 2, _>(s, g, x, w, b, y, act, lo, hi),
            _ => positions_nv::<S, G, 3, _>(s, g, x, w, b, y, act, lo, hi),
        })
    }
}

/// Vectors of output columns per positions-kernel block for the interior `[lo, hi)`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn nv_of<S: Isa>(lo: usize, hi: usize) -> usize {
    min((hi - lo).div_ceil(S::LANES), 3)
}

/// [`nv_of`] for a geometry fixed by `G`, else [`UNFIXED`].
const fn fixed_nv<S: Isa, G: GeomOf>() -> usize {
    match G::FIXED {
        Some(g) => {
            let (lo, hi) = interior(g);
            nv_of::<S>(lo, if hi > lo { hi } else { lo })
        }
        None => UNFIXED,
    }
}

/// [`filters_per_block`] for a geometry fixed by `G`, else [`UNFIXED`].
const fn fixed_filters<S: Isa, G: GeomOf, const NV: usize>() -> usize {
    match G::FIXED {
        Some(g) => filters_per_block::<S, NV>(g.cout),
        None => UNFIXED,
    }
}

/// Filters per positions-kernel block: the largest of 8, 6, 4, 2 that divides the filter count
/// and fits the accumulator budget with `NV` vectors (1 otherwise).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn filters_per_block<S: Isa, const NV: usize>(cout: usize) -> usize {
    let max = acc_budget::<S>() / NV;
    let fs = [8, 6, 4, 2];
    let mut i = 0;
    while i < fs.len() {
        if fs[i] <= max && cout.is_multiple_of(fs[i]) {
            return fs[i];
        }
        i += 1;
    }
    1
}

/// # Safety
/// As [`positions_all`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn positions_nv<S: Isa, G: GeomOf, const NV: usize, A: Epilogue>(
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
        choose!(const { fixed_filters::<S, G, NV>() }, filters_per_block::<S, NV>(g.cout), {
            8 => positions_f::<S, 8, NV, _>(s, g, x, w, b, y, act, lo, hi),
            6 => positions_f::<S, 6, NV, _>(s, g, x, w, b, y, act, lo, hi),
            4 => positions_f::<S, 4, NV, _>(s, g, x, w, b, y, act, lo, hi),
            2 => positions_f::<S, 2, NV, _>(s, g, x, w, b, y, act, lo, hi),
            _ => positions_f::<S, 1, NV, _>(s, g, x, w, b, y, act, lo, hi),
        })
    }
}

/// # Safety
/// As [`positions_all`]; `F` divides `g.cout`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn positions_f<S: Isa, const F: usize, const NV: usize, A: Epilogue>(
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
                                *out.add(k) = act.apply(*out.add(k));
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
