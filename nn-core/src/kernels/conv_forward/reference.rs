//! The convolution forward as a plain loop: the reference of the vectorized kernels.
#![cfg(test)]

use crate::kernels::Geom;

/// The plain loop over output columns `[ox0, ox1)` of every row (`acc` has `cout` cells): the
/// reference the vectorized kernels are tested against.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    g: Geom,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    acc: &mut [f32],
    ox0: usize,
    ox1: usize,
) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    for oy in 0..g.oh {
        for ox in ox0..ox1 {
            match b {
                Some(b) => acc.copy_from_slice(&b[..g.cout]),
                None => acc.fill(0.0),
            }
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
                    let base = (ky * g.kw + kx) * g.cin;
                    for ci in 0..g.cin {
                        let xv = x[ci * hw + iy * g.w + ix];
                        let row = &w[(base + ci) * g.cout..][..g.cout];
                        for co in 0..g.cout {
                            acc[co] += xv * row[co];
                        }
                    }
                }
            }
            for co in 0..g.cout {
                y[co * ohw + oy * g.ow + ox] = acc[co];
            }
        }
    }
}
