//! Max and average pooling, forward and backward, over `[c][h][w]` planes (a 1-D layer is an
//! image of height 1): the vectorized max-pooling forward and the plain loops it is tested
//! against, and the backward loops (with fast paths for 2x2 windows and unpadded averages).

use super::geom::{Geom, GeomOf};
use super::isa::{dispatch, Isa, Kernel};

/// Index (within one channel plane) of the first maximum of the window at `(oy, ox)`, in
/// row-major order; NaN wins (it propagates). `None` if the window holds only padding.
#[inline(always)]
fn window_argmax(g: &Geom, plane: &[f32], oy: usize, ox: usize) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for ky in 0..g.kh {
        let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
        if iy >= g.h {
            continue;
        }
        for kx in 0..g.kw {
            let ix = (ox * g.sw + kx).wrapping_sub(g.pl);
            if ix >= g.w {
                continue;
            }
            let i = iy * g.w + ix;
            let v = plane[i];
            match best {
                Some((_, m)) if !beats(v, m) => {}
                _ => best = Some((i, v)),
            }
        }
    }
    best.map(|(i, _)| i)
}

/// NaN-sticky maximum: once `m` is NaN it stays NaN, and a NaN `v` wins.
#[inline(always)]
fn max_nan(m: f32, v: f32) -> f32 {
    #[allow(clippy::eq_op)]
    if v > m || v != v {
        v
    } else {
        m
    }
}

/// Max pooling forward: the vector kernel where the geometry allows it, else the plain loop.
/// (The layers pass a geometry fixed by a type, so the run-time dispatched kernel sees
/// constants.)
#[inline(always)]
pub fn max_forward<G: GeomOf>(g: G, x: &[f32], y: &mut [f32]) {
    if !dispatch(MaxForward { g, x, y }) {
        max_forward_plain(g.geom(), x, y);
    }
}

/// [`max_forward_vec`] as a [`Kernel`]: returns whether it ran.
struct MaxForward<'a, G: GeomOf> {
    g: G,
    x: &'a [f32],
    y: &'a mut [f32],
}

impl<G: GeomOf> Kernel for MaxForward<'_, G> {
    type Out = bool;
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) -> bool {
        max_forward_vec(s, self.g.geom(), self.x, self.y)
    }
}

/// How [`max_forward_vec`] covers the outputs: vectors of `rows` output rows of `cols`
/// consecutive outputs each (`rows > 1` only when `cols == ow`).
#[derive(Clone, Copy)]
struct MaxPlan {
    rows: usize,
    cols: usize,
    /// Output rows continue from one channel to the next (`h == oh * sh`).
    merged: bool,
}

/// The vector kernel's layout for `g` with `lanes` lanes, if the geometry allows it: no
/// padding, windows at most 4 wide, and the top rows of the windows of a vector's outputs
/// within two vectors of input.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn max_plan(g: Geom, lanes: usize) -> Option<MaxPlan> {
    let inside = g.pt == 0
        && g.pl == 0
        && (g.oh - 1) * g.sh + g.kh <= g.h
        && (g.ow - 1) * g.sw + g.kw <= g.w;
    if !inside || g.kw > 4 || g.kw > 2 * lanes || g.oh * g.ow == 0 {
        return None;
    }
    // Columns per vector: the top-left cells of `cols` outputs and their windows' widths lie
    // within `2 * lanes` cells.
    let cols = g.ow.min(lanes).min((2 * lanes - g.kw) / g.sw + 1);
    let merged = g.h == g.oh * g.sh;
    let mut rows = 1;
    if cols == g.ow {
        while (rows + 1) * g.ow <= lanes
            && rows * g.sh * g.w + (g.ow - 1) * g.sw + g.kw <= 2 * lanes
            && (merged || rows < g.oh)
        {
            rows += 1;
        }
    }
    Some(MaxPlan { rows, cols, merged })
}

/// Max pooling forward with the operations of `s` (see [`max_plan`]); `false` (nothing
/// written) where the geometry does not allow it. Each output is the maximum of its window in
/// row-major order with [`Isa::max_nan`], the same operations as [`max_forward_plain`], so the
/// results are identical (NaN payloads and zero signs included).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn max_forward_vec<S: Isa>(s: S, g: Geom, x: &[f32], y: &mut [f32]) -> bool {
    let l = S::LANES;
    let Some(plan) = max_plan(g, l) else {
        return false;
    };
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    assert!(x.len() >= g.cin * hw && y.len() >= g.cin * ohw);
    // Lane `i` reads the cells `t[i] + kx` of each window row: table `kx`.
    let mut idx = [s.indices(&[0; 16]); 4];
    for (kx, ix) in idx.iter_mut().enumerate().take(g.kw) {
        let mut t = [0u32; 16];
        for (i, ti) in t.iter_mut().enumerate().take(plan.rows * plan.cols) {
            *ti = ((i / plan.cols) * g.sh * g.w + (i % plan.cols) * g.sw + kx) as u32;
        }
        *ix = s.indices(&t);
    }
    // Groups of output rows: across channels when merged, else within each channel.
    let (groups, rows_per) = if plan.merged {
        (1, g.cin * g.oh)
    } else {
        (g.cin, g.oh)
    };
    let (xl, yp, xp) = (x.len(), y.as_mut_ptr(), x.as_ptr());
    for grp in 0..groups {
        let mut r = 0;
        while r < rows_per {
            let nr = plan.rows.min(rows_per - r);
            // Global output row and its first input row.
            let (orow, irow) = (grp * g.oh + r, grp * g.h + r * g.sh);
            let mut ox = 0;
            while ox < g.ow {
                let nc = plan.cols.min(g.ow - ox);
                let start = irow * g.w + ox * g.sw;
                let out = orow * g.ow + ox;
                if start + (g.kh - 1) * g.w + 2 * l <= xl {
                    // SAFETY: the loads read `2 * l` cells from `start + ky * w`, inside `x`
                    // (checked just above); the store writes `nr * nc` outputs (`nc` of one
                    // row, or `nr` whole rows of one channel or of consecutive ones when
                    // merged) from `out`, inside `y`'s `cin * oh * ow` cells.
                    unsafe {
                        let mut m = s.zero();
                        for ky in 0..g.kh {
                            let p = xp.add(start + ky * g.w);
                            let (a, b) = (s.load(p), s.load(p.add(l)));
                            for (kx, &ix) in idx.iter().enumerate().take(g.kw) {
                                let v = s.permute2(a, b, ix);
                                m = if ky == 0 && kx == 0 {
                                    v
                                } else {
                                    s.max_nan(m, v)
                                };
                            }
                        }
                        s.store_n(yp.add(out), m, nr * nc);
                    }
                } else {
                    // The last cells of the input: the plain loop for these outputs.
                    for j in 0..nr * nc {
                        let (ro, co) = (j / nc, j % nc);
                        let first = (irow + ro * g.sh) * g.w + (ox + co) * g.sw;
                        let mut m = f32::NEG_INFINITY;
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                m = max_nan(m, x[first + ky * g.w + kx]);
                            }
                        }
                        y[out + ro * g.ow + co] = m;
                    }
                }
                ox += nc;
            }
            r += nr;
        }
    }
    true
}

/// The plain loop (the reference of [`max_forward_vec`] in the tests).
#[inline(always)]
fn max_forward_plain(g: Geom, x: &[f32], y: &mut [f32]) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    // Without padding every window lies inside the input: no bounds tests in the loop.
    let inside = g.pt == 0
        && g.pl == 0
        && (g.oh - 1) * g.sh + g.kh <= g.h
        && (g.ow - 1) * g.sw + g.kw <= g.w;
    // The channel count is hidden from the optimizer (see the 2x2 case below).
    for c in 0..core::hint::black_box(g.cin) {
        let plane = &x[c * hw..][..hw];
        let out = &mut y[c * ohw..][..ohw];
        if inside && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 {
            // The common 2x2 / stride 2 case: pairs of rows, pairs of columns. The channel and
            // row counts are hidden from the optimizer (`black_box`): with them constant, LLVM
            // unrolls everything and vectorizes across rows and channels with AVX-512 gathers and
            // scatters, 5x slower on Zen 5 (1.45 us against 0.30 us for LeNet's first pooling).
            let ow = g.ow;
            for oy in 0..core::hint::black_box(g.oh) {
                let r0 = &plane[2 * oy * g.w..][..2 * ow];
                let r1 = &plane[(2 * oy + 1) * g.w..][..2 * ow];
                let o = &mut out[oy * g.ow..][..ow];
                for ox in 0..ow {
                    o[ox] = max_nan(
                        max_nan(max_nan(r0[2 * ox], r0[2 * ox + 1]), r1[2 * ox]),
                        r1[2 * ox + 1],
                    );
                }
            }
            continue;
        }
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut m = f32::NEG_INFINITY;
                if inside {
                    for ky in 0..g.kh {
                        let row = &plane[(oy * g.sh + ky) * g.w + ox * g.sw..][..g.kw];
                        for &v in row {
                            m = max_nan(m, v);
                        }
                    }
                } else {
                    for ky in 0..g.kh {
                        let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
                        if iy >= g.h {
                            continue;
                        }
                        for kx in 0..g.kw {
                            let ix = (ox * g.sw + kx).wrapping_sub(g.pl);
                            if ix < g.w {
                                m = max_nan(m, plane[iy * g.w + ix]);
                            }
                        }
                    }
                }
                out[oy * g.ow + ox] = m;
            }
        }
    }
}

/// Whether `v` replaces `m` as the running maximum of a window scanned in row-major order: a
/// larger value, or the first NaN (so the first maximum wins ties, and the first NaN wins).
#[inline(always)]
fn beats(v: f32, m: f32) -> bool {
    #[allow(clippy::eq_op)]
    let r = v > m || (v != v && m == m);
    r
}

/// Backward of max pooling for one sample: each output's gradient goes to the first maximum of
/// its window (see [`window_argmax`]); cells in no window, or never a maximum, get 0.
#[inline(always)]
pub fn max_backward(g: Geom, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let inside = g.pt == 0
        && g.pl == 0
        && (g.oh - 1) * g.sh + g.kh <= g.h
        && (g.ow - 1) * g.sw + g.kw <= g.w;
    if inside && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 {
        max_backward_2x2(g, x, dy, dx);
    } else {
        max_backward_any(g, x, dy, dx);
    }
}

/// [`max_backward`] for any geometry: the plain loop (also the reference of the 2x2 case).
#[inline(always)]
fn max_backward_any(g: Geom, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    dx.fill(0.0);
    for c in 0..g.cin {
        let plane = &x[c * hw..][..hw];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                if let Some(i) = window_argmax(&g, plane, oy, ox) {
                    dx[c * hw + i] += dy[c * ohw + oy * g.ow + ox];
                }
            }
        }
    }
}

/// [`max_backward`] for 2x2 windows with stride 2 and no padding: the windows tile the input,
/// so every covered cell is written once (`0.0 + dy` at the maximum, as the general loop's
/// accumulation into zeros gives, 0 elsewhere) and only the uncovered last row or column (odd
/// sizes) is zeroed separately.
#[inline(always)]
fn max_backward_2x2(g: Geom, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let (hw, ohw, w, ow) = (g.h * g.w, g.oh * g.ow, g.w, g.ow);
    // Measured within the training step at batch 32 (LeNet-5, M3 / the 8x8 digits CNN, M2), us
    // per step with uniformly random inputs / smooth inputs: this loop 588 / 600 and 62.5 / 63;
    // a branchy loop storing once into a zeroed `dx`, 735 / 520 and 61 / 62 (its branches
    // mispredict on random data); the general loop 811 / 543; branch-free masks with the counts
    // hidden from the optimizer 564 / 569 but 96 for M2. This one does not depend on the data.
    // The channel and row counts are hidden from the optimizer, as in `max_forward`.
    for c in 0..core::hint::black_box(g.cin) {
        let plane = &x[c * hw..][..hw];
        let grad = &dy[c * ohw..][..ohw];
        let out = &mut dx[c * hw..][..hw];
        for oy in 0..core::hint::black_box(g.oh) {
            let r0 = &plane[2 * oy * w..][..2 * ow];
            let r1 = &plane[(2 * oy + 1) * w..][..2 * ow];
            let gr = &grad[oy * ow..][..ow];
            let (o0, o1) = out[2 * oy * w..][..2 * w].split_at_mut(w);
            let (o0, o1) = (&mut o0[..2 * ow], &mut o1[..2 * ow]);
            for ox in 0..ow {
                let (a, b) = (r0[2 * ox], r0[2 * ox + 1]);
                let (c, d) = (r1[2 * ox], r1[2 * ox + 1]);
                // Row-major scan a, b, c, d: index of the first maximum (or first NaN).
                let (mut m, mut k) = (a, 0u8);
                if beats(b, m) {
                    (m, k) = (b, 1);
                }
                if beats(c, m) {
                    (m, k) = (c, 2);
                }
                if beats(d, m) {
                    k = 3;
                }
                let v = 0.0 + gr[ox];
                o0[2 * ox] = if k == 0 { v } else { 0.0 };
                o0[2 * ox + 1] = if k == 1 { v } else { 0.0 };
                o1[2 * ox] = if k == 2 { v } else { 0.0 };
                o1[2 * ox + 1] = if k == 3 { v } else { 0.0 };
            }
            // An odd width leaves the last column out of every window.
            out[2 * oy * w..][2 * ow..w].fill(0.0);
            out[(2 * oy + 1) * w..][2 * ow..w].fill(0.0);
        }
        // An odd height leaves the last row out.
        out[2 * g.oh * w..].fill(0.0);
    }
}

/// Number of real (non-padding) cells in the window at `(oy, ox)`.
#[inline(always)]
fn window_cells(g: &Geom, oy: usize, ox: usize) -> usize {
    let rows = (0..g.kh)
        .filter(|ky| (oy * g.sh + ky).wrapping_sub(g.pt) < g.h)
        .count();
    let cols = (0..g.kw)
        .filter(|kx| (ox * g.sw + kx).wrapping_sub(g.pl) < g.w)
        .count();
    rows * cols
}

#[inline(always)]
fn avg_divisor(g: &Geom, oy: usize, ox: usize, count_pad: bool) -> f32 {
    if count_pad {
        (g.kh * g.kw) as f32
    } else {
        window_cells(g, oy, ox).max(1) as f32
    }
}

#[inline(always)]
pub fn avg_forward<G: GeomOf>(g: G, x: &[f32], y: &mut [f32], count_pad: bool) {
    let g = g.geom();
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    for c in 0..g.cin {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut s = 0.0f32;
                for ky in 0..g.kh {
                    let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
                    if iy >= g.h {
                        continue;
                    }
                    for kx in 0..g.kw {
                        let ix = (ox * g.sw + kx).wrapping_sub(g.pl);
                        if ix < g.w {
                            s += x[c * hw + iy * g.w + ix];
                        }
                    }
                }
                y[c * ohw + oy * g.ow + ox] = s / avg_divisor(&g, oy, ox, count_pad);
            }
        }
    }
}

#[inline(always)]
pub fn avg_backward(g: Geom, dy: &[f32], dx: &mut [f32], count_pad: bool) {
    let inside = g.pt == 0
        && g.pl == 0
        && (g.oh - 1) * g.sh + g.kh <= g.h
        && (g.ow - 1) * g.sw + g.kw <= g.w;
    if inside {
        avg_backward_inside(g, dy, dx);
    } else {
        avg_backward_any(g, dy, dx, count_pad);
    }
}

/// [`avg_backward`] for any geometry: the plain loop (also the reference of the unpadded case).
#[inline(always)]
fn avg_backward_any(g: Geom, dy: &[f32], dx: &mut [f32], count_pad: bool) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    dx.fill(0.0);
    for c in 0..g.cin {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let d = dy[c * ohw + oy * g.ow + ox] / avg_divisor(&g, oy, ox, count_pad);
                for ky in 0..g.kh {
                    let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
                    if iy >= g.h {
                        continue;
                    }
                    for kx in 0..g.kw {
                        let ix = (ox * g.sw + kx).wrapping_sub(g.pl);
                        if ix < g.w {
                            dx[c * hw + iy * g.w + ix] += d;
                        }
                    }
                }
            }
        }
    }
}

/// [`avg_backward`] when every window lies inside the input: the divisor is KH·KW whatever
/// `COUNT_PAD` says, and no cell needs a bounds test. Same additions in the same order as
/// [`avg_backward_any`], so the same results.
#[inline(always)]
fn avg_backward_inside(g: Geom, dy: &[f32], dx: &mut [f32]) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let div = (g.kh * g.kw) as f32;
    dx.fill(0.0);
    for c in 0..g.cin {
        let grad = &dy[c * ohw..][..ohw];
        let out = &mut dx[c * hw..][..hw];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let d = grad[oy * g.ow + ox] / div;
                for ky in 0..g.kh {
                    let row = &mut out[(oy * g.sh + ky) * g.w + ox * g.sw..][..g.kw];
                    for v in row {
                        *v += d;
                    }
                }
            }
        }
    }
}

/// A pooling geometry from its sizes (tests).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn geom(
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
    oh: usize,
    ow: usize,
) -> Geom {
    #[rustfmt::skip]
    let g = Geom { cin: c, cout: c, h, w, kh, kw, sh, sw, pt, pl, oh, ow };
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// The vector max-pooling kernel with every instruction set this CPU has, named; `None`
    /// where the geometry does not allow it.
    fn every_isa(g: Geom, x: &[f32]) -> Vec<(&'static str, Option<Vec<f32>>)> {
        let n = g.cin * g.oh * g.ow;
        let fresh = || {
            let mut y = std::vec![1234.5; n + 16];
            y[..n].fill(f32::from_bits(0x7fc0_dead));
            y
        };
        let done = |ran: bool, y: Vec<f32>| ran.then_some(y);
        let mut out = Vec::new();
        let mut y = fresh();
        let ran = max_forward_vec(crate::kernels::isa::Portable, g, x, &mut y[..n]);
        out.push(("portable", done(ran, y)));
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut y = fresh();
                // SAFETY: AVX2 and FMA were detected.
                let ran = unsafe {
                    crate::kernels::isa::run_avx2(MaxForward {
                        g,
                        x,
                        y: &mut y[..n],
                    })
                };
                out.push(("avx2", done(ran, y)));
            }
            if std::is_x86_feature_detected!("avx512f") {
                let mut y = fresh();
                // SAFETY: AVX-512F was detected.
                let ran = unsafe {
                    crate::kernels::isa::run_avx512(MaxForward {
                        g,
                        x,
                        y: &mut y[..n],
                    })
                };
                out.push(("avx512", done(ran, y)));
            }
        }
        out
    }

    /// The vector max pooling against the plain loop, bit for bit (NaN payloads, zero signs),
    /// over many geometries and inputs holding NaNs, infinities and signed zeros; nothing is
    /// written past the output.
    #[test]
    fn vector_max_pool_matches_the_plain_loop() {
        let mut seed = 3u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        let (mut checked, mut vectorized) = (0, 0);
        for &c in &[1, 3, 8, 16] {
            for &(h, w) in &[
                (8, 8),
                (4, 4),
                (24, 24),
                (5, 7),
                (1, 40),
                (2, 70),
                (9, 33),
                (3, 2),
            ] {
                for &(kh, kw) in &[(2, 2), (3, 3), (1, 2), (2, 3), (4, 4), (1, 5)] {
                    for &(sh, sw) in &[(2, 2), (1, 1), (3, 3), (2, 1), (1, 2)] {
                        for &(pt, pb, pl, pr) in &[(0, 0, 0, 0), (1, 0, 1, 1)] {
                            if kh > h + pt + pb || kw > w + pl + pr {
                                continue;
                            }
                            let (oh, ow) =
                                ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                            let g = geom(c, h, w, kh, kw, sh, sw, pt, pl, oh, ow);
                            let x: Vec<f32> = (0..c * h * w)
                                .map(|_| match rnd() % 64 {
                                    0 => f32::from_bits(0x7fc0_0000 | (rnd() % 1024)),
                                    1 => f32::NEG_INFINITY,
                                    2 => f32::INFINITY,
                                    3 => 0.0,
                                    4 => -0.0,
                                    r => (r % 8) as f32 - 4.0,
                                })
                                .collect();
                            let n = c * oh * ow;
                            let mut want = std::vec![0.0; n];
                            max_forward_plain(g, &x, &mut want);
                            for (isa, got) in every_isa(g, &x) {
                                let Some(got) = got else { continue };
                                assert!(
                                    got[n..].iter().all(|&v| v == 1234.5),
                                    "{isa}, {g:?}: write past the end"
                                );
                                for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                                    assert_eq!(
                                        a.to_bits(),
                                        e.to_bits(),
                                        "{isa}, {g:?}: output {i}: {a} vs {e}"
                                    );
                                }
                                vectorized += 1;
                            }
                            // And through the layer's entry point.
                            let mut y = std::vec![0.0; n];
                            max_forward(g, &x, &mut y);
                            assert!(y.iter().zip(&want).all(|(a, e)| a.to_bits() == e.to_bits()));
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 500, "only {checked} geometries checked");
        assert!(
            vectorized > 500,
            "the vector kernel ran only {vectorized} times"
        );
    }
}

#[cfg(all(test, feature = "std"))]
mod backward_tests {
    use super::*;
    use crate::init::Rng;
    use std::vec;
    use std::vec::Vec;

    /// Values with many exact ties, signed zeros, infinities and NaNs.
    fn nasty(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| match rng.below(12) {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => -0.0,
                4 => 0.0,
                _ => rng.below(4) as f32 - 1.0,
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn max_2x2_matches_plain_loop() {
        let mut rng = Rng::new(5);
        for (c, h, w) in [
            (1, 2, 2),
            (3, 4, 6),
            (2, 5, 4),
            (2, 4, 7),
            (4, 7, 9),
            (6, 24, 24),
        ] {
            let (oh, ow) = (h / 2, w / 2);
            let g = geom(c, h, w, 2, 2, 2, 2, 0, 0, oh, ow);
            for _ in 0..20 {
                let x = nasty(&mut rng, c * h * w);
                let mut dy = nasty(&mut rng, c * oh * ow);
                dy.iter_mut()
                    .for_each(|v| *v = if v.is_nan() { -0.0 } else { *v });
                let mut want = vec![f32::NAN; x.len()];
                max_backward_any(g, &x, &dy, &mut want);
                let mut got = vec![f32::NAN; x.len()];
                max_backward_2x2(g, &x, &dy, &mut got);
                assert_eq!(bits(&got), bits(&want), "{c}x{h}x{w}");
                let mut via = vec![f32::NAN; x.len()];
                max_backward(g, &x, &dy, &mut via);
                assert_eq!(bits(&via), bits(&want));
            }
        }
    }

    #[test]
    fn max_routes_to_first_maximum_and_first_nan() {
        let nan = f32::NAN;
        // One 2x2 window per case, row-major [a, b; c, d]: where the gradient goes.
        let cases: [([f32; 4], usize); 8] = [
            ([1.0, 3.0, 3.0, 2.0], 1),
            ([5.0, 5.0, 5.0, 5.0], 0),
            ([nan, 5.0, nan, 1.0], 0),
            ([1.0, nan, 7.0, nan], 1),
            ([1.0, 2.0, 3.0, nan], 3),
            ([-0.0, 0.0, 0.0, -1.0], 0),
            ([f32::NEG_INFINITY; 4], 0),
            ([-1.0, -2.0, 4.0, 4.0], 2),
        ];
        let g = geom(1, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1);
        for (x, at) in cases {
            let mut dx = [nan; 4];
            max_backward(g, &x, &[2.5], &mut dx);
            let mut want = [0.0; 4];
            want[at] = 2.5;
            assert_eq!(dx, want, "{x:?}");
        }
    }

    #[test]
    fn avg_inside_matches_plain_loop() {
        let mut rng = Rng::new(6);
        // (c, h, w, kh, kw, sh, sw): tiling, overlapping, gapped, uncovered edges.
        for (c, h, w, kh, kw, sh, sw) in [
            (2, 4, 4, 2, 2, 2, 2),
            (3, 5, 7, 2, 2, 2, 2),
            (2, 6, 5, 3, 2, 1, 1),
            (1, 9, 8, 2, 3, 3, 2),
            (2, 1, 12, 1, 3, 1, 2),
        ] {
            let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
            let g = geom(c, h, w, kh, kw, sh, sw, 0, 0, oh, ow);
            for count_pad in [false, true] {
                let dy: Vec<f32> = (0..c * oh * ow).map(|_| rng.normal()).collect();
                let mut want = vec![f32::NAN; c * h * w];
                avg_backward_any(g, &dy, &mut want, count_pad);
                let mut got = vec![f32::NAN; c * h * w];
                avg_backward(g, &dy, &mut got, count_pad);
                assert_eq!(bits(&got), bits(&want));
            }
        }
    }
}
