//! The input gradient as a matrix product ([`dx_gemm`], stride 1): kernel times `dy`, each
//! tap's block added at a constant offset into a padded `dx`.

#![allow(clippy::needless_range_loop)]

use super::*;

/// Cells per input channel of [`dx_gemm`]'s padded input gradient: the padded input
/// ([`padded`]) and room for the last block's vectors.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn gemm_plane(g: Geom) -> usize {
    let (xh, xw) = padded(g);
    xh * xw + xw + 8 * MAX_LANES
}

/// Taps and vectors of positions per block of [`dx_gemm`] (the most of each, then the vectors
/// used, balanced over the flattened rows of `dy`).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn gemm_block<S: Isa>(g: Geom) -> (usize, usize, usize) {
    let (_, xw) = padded(g);
    let nvec = (g.oh * xw).div_ceil(S::LANES);
    let combos: [(usize, usize); 4] = if S::REGS >= 32 {
        [(12, 2), (8, 3), (6, 4), (4, 6)]
    } else {
        [(12, 1), (5, 2), (3, 3), (2, 4)]
    };
    let mut c = combos[3];
    let mut i = 0;
    while i < combos.len() {
        if combos[i].1 >= nvec {
            c = combos[i];
            break;
        }
        i += 1;
    }
    let (t, u) = c;
    (t, u, nvec.div_ceil(nvec.div_ceil(u)))
}

/// Vector operations of [`dx_gemm`] for one sample: multiply-adds (weighted by loads per
/// multiply-add above one), additions into the padded gradient, copies out.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn gemm_cost<S: Isa>(g: Geom) -> usize {
    let (_, xw) = padded(g);
    let (t, _, nu) = gemm_block::<S>(g);
    let nvec = (g.oh * xw).div_ceil(S::LANES);
    let blocks = nvec.div_ceil(nu) * nu;
    let taps = g.kh * g.kw * g.cin;
    let fmas = blocks * taps.div_ceil(t) * t * g.cout;
    fmas * cmax(nu + t, t * nu) / (t * nu)
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
pub(super) unsafe fn dx_gemm<S: Isa, G: GeomOf>(
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
                    choose!(const { fixed!(G, |g| gemm_block::<S>(g).0) }, tm, {
                        $($t => dx_gemm_tu::<S, $t, $u>(s, g, i, nu, dq, q, w, dxp.as_mut_ptr()),)*
                        _ => unreachable!(),
                    })
                };
            }
            let _ = um;
            if const { S::REGS >= 32 } {
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
pub(super) unsafe fn dx_gemm_tu<S: Isa, const T: usize, const NU: usize>(
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
pub(super) unsafe fn dx_gemm_block<S: Isa, const T: usize, const NU: usize, const CHECK: bool>(
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
