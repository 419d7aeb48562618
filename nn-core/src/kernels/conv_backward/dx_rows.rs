//! Input-gradient kernels along rows: vectors of input columns times input channels
//! ([`dx_positions`], stride 1) or of input channels times columns of one stride phase
//! ([`dx_filters`]).

#![allow(clippy::needless_range_loop)]

use super::*;

/// Vector multiply-adds of the positions kernel for one sample: every (input row, kernel row)
/// pair that meets a row of `dy`, kernel column, filter, input channel and vector of columns;
/// weighted by its loads per multiply-add when above one.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn positions_cost<S: Isa>(g: Geom) -> usize {
    let nv = cmin(g.w.div_ceil(S::LANES), 3);
    let (f, _) = positions_block::<S>(g, nv);
    let fmas = g.kh * g.oh * g.kw * g.cout * g.cin * g.w.div_ceil(S::LANES);
    fmas * cmax(nv + f, f * nv) / (f * nv)
}

/// Vector multiply-adds (and scalar stores) of the filters kernel for one sample.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn filters_cost<S: Isa>(g: Geom) -> usize {
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
pub(super) unsafe fn dx_positions<S: Isa, G: GeomOf>(
    s: S,
    g: Geom,
    dyp: *const f32,
    w: *const f32,
    dx: *mut f32,
) {
    // SAFETY: forwarded.
    unsafe {
        choose!(const { fixed!(G, |g| g.w.div_ceil(S::LANES)) }, g.w.div_ceil(S::LANES), {
            1 => dx_positions_nv::<S, G, 1>(s, g, dyp, w, dx),
            2 => dx_positions_nv::<S, G, 2>(s, g, dyp, w, dx),
            _ => dx_positions_nv::<S, G, 3>(s, g, dyp, w, dx),
        })
    }
}

/// Input channels per positions block (the largest of 8, 6, 4, 3, 2 dividing `cin` and fitting
/// the accumulators with `nv` vectors; else 1) and chains.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn positions_block<S: Isa>(g: Geom, nv: usize) -> (usize, usize) {
    let mut f = 1;
    let mut i = 0;
    while i < DIVIDING.len() {
        let c = DIVIDING[i];
        if c * nv <= acc_budget::<S>() && g.cin.is_multiple_of(c) {
            f = c;
            break;
        }
        i += 1;
    }
    (f, 8usize.div_ceil(f * nv))
}

/// # Safety
/// As [`dx_positions`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) unsafe fn dx_positions_nv<S: Isa, G: GeomOf, const NV: usize>(
    s: S,
    g: Geom,
    dyp: *const f32,
    w: *const f32,
    dx: *mut f32,
) {
    macro_rules! go {
        ($(($f:literal, $k:literal))*) => {
            choose!(const { fixed!(G, |g| positions_block::<S>(g, NV).0) }, positions_block::<S>(g, NV).0, {
                $($f => dx_positions_fk::<S, NV, $f, $k>(s, g, dyp, w, dx),)*
                _ => unreachable!(),
            })
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
pub(super) unsafe fn dx_positions_fk<S: Isa, const NV: usize, const F: usize, const K: usize>(
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
pub(super) unsafe fn dx_filters<S: Isa, G: GeomOf>(
    s: S,
    g: Geom,
    dyp: *const f32,
    wt: *const f32,
    dx: *mut f32,
) {
    // SAFETY: forwarded.
    unsafe {
        choose!(const { fixed!(G, |g| g.cin.div_ceil(S::LANES)) }, g.cin.div_ceil(S::LANES), {
            1 => dx_filters_v::<S, G, 1>(s, g, dyp, wt, dx, 0),
            2 => dx_filters_v::<S, G, 2>(s, g, dyp, wt, dx, 0),
            3 => dx_filters_v::<S, G, 3>(s, g, dyp, wt, dx, 0),
            _ => {
                let mut c0 = 0;
                while c0 < g.cin {
                    dx_filters_v::<S, G, 4>(s, g, dyp, wt, dx, c0);
                    c0 += 4 * S::LANES;
                }
            },
        })
    }
}

/// Columns per filters block with `v` vectors of channels: the size (within the accumulators)
/// with the fewest vector operations over the longest phase, wasted columns of the last block
/// included; and chains (at least eight independent multiply-adds).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn filters_block<S: Isa>(g: Geom, v: usize) -> (usize, usize) {
    let m = g.w.div_ceil(g.sw);
    let mut best = (usize::MAX, 1);
    let ps = [12, 10, 8, 6, 5, 4, 3, 2, 1];
    let mut i = 0;
    while i < ps.len() {
        let p = ps[i];
        if p * v <= acc_budget::<S>() {
            let cost = m.div_ceil(p) * (p * v + v);
            if cost < best.0 {
                best = (cost, p);
            }
        }
        i += 1;
    }
    (best.1, 8usize.div_ceil(best.1 * v))
}

/// # Safety
/// As [`dx_filters`].
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) unsafe fn dx_filters_v<S: Isa, G: GeomOf, const V: usize>(
    s: S,
    g: Geom,
    dyp: *const f32,
    wt: *const f32,
    dx: *mut f32,
    c0: usize,
) {
    macro_rules! go {
        ($(($p:literal, $k:literal))*) => {
            choose!(const { fixed!(G, |g| filters_block::<S>(g, V).0) }, filters_block::<S>(g, V).0, {
                $($p => dx_filters_vpk::<S, V, $p, $k>(s, g, dyp, wt, dx, c0),)*
                _ => unreachable!(),
            })
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
pub(super) unsafe fn dx_filters_vpk<S: Isa, const V: usize, const P: usize, const K: usize>(
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
