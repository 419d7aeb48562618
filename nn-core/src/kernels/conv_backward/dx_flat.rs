//! The flat input-gradient kernel ([`dx_flat`], stride 1): vectors along the flattened rows of
//! `dy`, each weight broadcast once for many vectors.

#![allow(clippy::needless_range_loop)]

use super::*;

/// Input channels per block of [`dx_flat`] (the largest of 8, 6, 4, 3, 2 dividing `cin`, else 1,
/// whose block and broadcasts fit the registers), the most vectors of positions per block for
/// that many channels, and the vectors per block used (balanced over the flat rows).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn flat_block<S: Isa>(g: Geom) -> (usize, usize, usize) {
    let mut f = 1;
    let mut i = 0;
    while i < DIVIDING.len() {
        let c = DIVIDING[i];
        if g.cin.is_multiple_of(c) && c + c * flat_most::<S>(c) < S::REGS {
            f = c;
            break;
        }
        i += 1;
    }
    let (p, _, _) = flat_layout(g);
    let nvec = (g.h * p).div_ceil(S::LANES);
    let nq = nvec.div_ceil(nvec.div_ceil(flat_most::<S>(f)));
    (f, flat_most::<S>(f), nq)
}

/// The most vectors of positions per block of [`dx_flat`] with `f` input channels.
const fn flat_most<S: Isa>(f: usize) -> usize {
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
}

/// Vector multiply-adds of [`dx_flat`] for one sample, weighted by its loads per multiply-add
/// when above one (its blocks share the `dy` vectors and the weight broadcasts).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(super) const fn flat_cost<S: Isa>(g: Geom) -> usize {
    let (p, _, _) = flat_layout(g);
    let (f, _, nq) = flat_block::<S>(g);
    let nvec = (g.h * p).div_ceil(S::LANES);
    let fmas = nvec.div_ceil(nq) * nq * g.kh * g.kw * g.cout * g.cin;
    // Loads per block step: `nq` vectors and `f` broadcasts for `f * nq` multiply-adds.
    fmas * cmax(nq + f, f * nq) / (f * nq)
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
pub(super) unsafe fn dx_flat<S: Isa, G: GeomOf>(
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
                    choose!(const { fixed!(G, |g| flat_block::<S>(g).0) }, f, {
                        $($f => dx_flat_fq::<S, $f, $q>(s, g, nq, dyp.as_ptr(), w, dxf.as_mut_ptr()),)*
                        _ => unreachable!(),
                    })
                };
            }
            let _ = most;
            if const { S::REGS >= 32 } {
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
pub(super) unsafe fn dx_flat_fq<S: Isa, const F: usize, const NQ: usize>(
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
