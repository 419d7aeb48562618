//! The filters kernel: `V` vectors of filters times `P` output positions of a row, any stride
//! and padding.

use super::*;

/// Output positions per filters-kernel block with `v` vectors of filters for rows of `width`
/// columns: the block size (at most the accumulator budget) that minimizes the vector loads and
/// multiply-adds of a row, wasted positions of the last block included.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn positions_per_block<S: Isa>(v: usize, width: usize) -> usize {
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

/// The filters kernel over columns `[ox0, ox1)` of every row; blocks inside the interior
/// `[lo, hi)` skip the column checks.
///
/// # Safety
/// `x`, `w`, `y` (and `b`) hold the cells `g` describes.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn filters_all<S: Isa, G: GeomOf, A: Epilogue, const PART: u8>(
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
    // SAFETY: forwarded.
    unsafe {
        choose!(const { fixed_vectors::<S, G>() }, vectors::<S>(g), {
            1 => filters_rows::<S, G, 1, _, PART>(s, g, x, w, b, y, act, 0, ox0, ox1, lo, hi),
            2 => filters_rows::<S, G, 2, _, PART>(s, g, x, w, b, y, act, 0, ox0, ox1, lo, hi),
            3 => filters_rows::<S, G, 3, _, PART>(s, g, x, w, b, y, act, 0, ox0, ox1, lo, hi),
            _ => {
                let mut c0 = 0;
                while c0 < g.cout {
                    filters_rows::<S, G, 4, _, PART>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi);
                    c0 += 4 * S::LANES;
                }
            },
        })
    }
}

/// Vectors of filters per filters-kernel block (at most 4).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn vectors<S: Isa>(g: Geom) -> usize {
    min(g.cout.div_ceil(S::LANES), 4)
}

/// [`vectors`] for a geometry fixed by `G`, else [`UNFIXED`].
const fn fixed_vectors<S: Isa, G: GeomOf>() -> usize {
    match G::FIXED {
        Some(g) => vectors::<S>(g),
        None => UNFIXED,
    }
}

/// [`positions_per_block`] for the columns of role `PART` of a geometry fixed by `G`, else
/// [`UNFIXED`].
const fn fixed_positions<S: Isa, G: GeomOf, const V: usize, const PART: u8>() -> usize {
    match G::FIXED {
        Some(g) => {
            let (ox0, ox1) = columns(g, PART);
            positions_per_block::<S>(V, ox1.saturating_sub(ox0))
        }
        None => UNFIXED,
    }
}

/// The filters kernel for filters `c0..` (up to `V` vectors) over columns `[ox0, ox1)`.
///
/// # Safety
/// As [`filters_all`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
unsafe fn filters_rows<S: Isa, G: GeomOf, const V: usize, A: Epilogue, const PART: u8>(
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
        let positions = positions_per_block::<S>(V, ox1 - ox0);
        choose!(const { fixed_positions::<S, G, V, PART>() }, positions, {
            12 => filters_rows_p::<S, V, 12, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            10 => filters_rows_p::<S, V, 10, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            8 => filters_rows_p::<S, V, 8, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            6 => filters_rows_p::<S, V, 6, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            5 => filters_rows_p::<S, V, 5, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            4 => filters_rows_p::<S, V, 4, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            3 => filters_rows_p::<S, V, 3, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            2 => filters_rows_p::<S, V, 2, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
            _ => filters_rows_p::<S, V, 1, _>(s, g, x, w, b, y, act, c0, ox0, ox1, lo, hi),
        })
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
unsafe fn filters_rows_p<S: Isa, const V: usize, const P: usize, A: Epilogue>(
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
unsafe fn filters_block<S: Isa, const V: usize, const P: usize, const CHECK: bool, A: Epilogue>(
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
                *out.add((c0 + c) * ohw) = act.apply(val);
            }
        }
    }
}
