//! The weight-gradient kernels: vectors along a kernel row's taps ([`dw_taps`]) or along
//! positions ([`dw_positions`]), accumulated over the whole batch.

#![allow(clippy::needless_range_loop)]

use super::*;

/// Copies the inputs zero-padded and channels innermost to `xp` (`n` samples of
/// `xh x xw x cin`, see [`padded`], then [`HWC_SLACK`] zeros).
///
/// # Safety
/// `x` holds `n` samples; `xp` has the size [`parts`] gives.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) unsafe fn prepare_hwc<S: Isa>(s: S, g: Geom, n: usize, x: *const f32, xp: *mut f32) {
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
pub(super) const fn dw_taps_cost<S: Isa>(g: Geom) -> usize {
    let copies = if g.cin > 1 { g.cin * g.h * g.w } else { 0 };
    g.oh * g.ow * g.kh * (g.kw * g.cin).div_ceil(S::LANES) * g.cout + copies
}

/// Vector operations of the positions weight-gradient kernel for one sample.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn dw_positions_cost<S: Isa>(g: Geom) -> usize {
    let (xh, xw) = padded(g);
    g.kh * g.kw * g.cin * g.cout * (xh * xw).div_ceil(S::LANES)
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
pub(super) unsafe fn dw_taps<S: Isa, G: GeomOf>(
    s: S,
    g: Geom,
    n: usize,
    xp: *const f32,
    dy: *const f32,
    dwt: *mut f32,
) {
    macro_rules! go {
        ($(($code:literal, $t:literal, $f:literal))*) => {
            choose!(const { fixed!(G, |g| taps_block::<S>(g)) }, taps_block::<S>(g), {
                $($code => dw_taps_tf::<S, $t, $f>(s, g, n, xp, dy, dwt),)*
                _ => unreachable!(),
            })
        };
    }
    // SAFETY: forwarded; `taps_block` is one of the listed codes (`f * nt <= 24`).
    unsafe {
        go!(
            (0x18, 1, 8)(0x16, 1, 6)(0x14, 1, 4)(0x13, 1, 3)(0x12, 1, 2)(0x11, 1, 1)(0x28, 2, 8)(
                0x26, 2, 6
            )(0x24, 2, 4)(0x23, 2, 3)(0x22, 2, 2)(0x21, 2, 1)(0x38, 3, 8)(0x36, 3, 6)(
                0x34, 3, 4
            )(0x33, 3, 3)(0x32, 3, 2)(0x31, 3, 1)(0x46, 4, 6)(0x44, 4, 4)(0x43, 4, 3)(
                0x42, 4, 2
            )(0x41, 4, 1)
        )
    }
}

/// The block of [`dw_taps`] as `0x<NT><F>`: `NT` vectors of a kernel row's taps (at most four,
/// balanced) times `F` filters (the largest of 8, 6, 4, 3, 2 dividing `cout` whose block and
/// broadcasts fit the registers, else 1).
const fn taps_block<S: Isa>(g: Geom) -> usize {
    let nv = (g.kw * g.cin).div_ceil(S::LANES);
    let nt = nv.div_ceil(nv.div_ceil(4));
    let mut f = 1;
    let mut i = 0;
    while i < DIVIDING.len() {
        let c = DIVIDING[i];
        if g.cout.is_multiple_of(c) && c * nt <= acc_budget::<S>() && c * nt + nt < S::REGS {
            f = c;
            break;
        }
        i += 1;
    }
    nt * 16 + f
}

/// # Safety
/// As [`dw_taps`]; `F` divides `cout`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) unsafe fn dw_taps_tf<S: Isa, const NT: usize, const F: usize>(
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
pub(super) unsafe fn prepare_x_planes<S: Isa>(
    s: S,
    g: Geom,
    n: usize,
    x: *const f32,
    xq: *mut f32,
) {
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
pub(super) unsafe fn prepare_dy_planes<S: Isa>(
    s: S,
    g: Geom,
    n: usize,
    dy: *const f32,
    dq: *mut f32,
) {
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
pub(super) unsafe fn dw_positions<S: Isa, G: GeomOf>(
    s: S,
    g: Geom,
    xq: *const f32,
    cs: usize,
    dq: *const f32,
    q: usize,
    dw: *mut f32,
) {
    macro_rules! go {
        ($(($f:literal, $t:literal))*) => {
            choose!(const { fixed!(G, |g| positions_filters::<S>(g)) }, positions_filters::<S>(g), {
                $($f => dw_positions_ft::<S, $f, $t>(s, g, xq, cs, dq, q, dw),)*
                _ => unreachable!(),
            })
        };
    }
    // SAFETY: forwarded; `F * T <= acc budget`, `F * T + T + 1 <= REGS`.
    unsafe {
        if const { S::REGS >= 32 } {
            go!((8, 3)(6, 4)(4, 5)(3, 7)(2, 10)(1, 12))
        } else {
            go!((8, 1)(6, 1)(4, 2)(3, 3)(2, 4)(1, 6))
        }
    }
}

/// Filters per block of [`dw_positions`]: the largest of 8, 6, 4, 3, 2 dividing `cout` (at most
/// 8 with 16 registers: all of them qualify), else 1.
const fn positions_filters<S: Isa>(g: Geom) -> usize {
    let mut i = 0;
    while i < DIVIDING.len() {
        if g.cout.is_multiple_of(DIVIDING[i]) {
            return DIVIDING[i];
        }
        i += 1;
    }
    1
}

/// # Safety
/// As [`dw_positions`]; `F` divides `cout`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) unsafe fn dw_positions_ft<S: Isa, const F: usize, const T: usize>(
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
