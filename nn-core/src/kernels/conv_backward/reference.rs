//! The convolution backward as a plain loop, one sample at a time: the reference of the
//! vectorized kernels in the tests, and the backward without `alloc` (no scratch for those).
#![cfg(any(test, not(feature = "alloc")))]

use crate::kernels::Geom;
use crate::math::dot;

/// Backward of the convolution for one sample: writes `dx`, adds into `dw` and `db`. `gco` has
/// `cout` cells.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn backward(
    g: Geom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    gco: &mut [f32],
) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    dx.fill(0.0);
    let mut db = db;
    // The row count is hidden from the optimizer so it does not unroll the rows and vectorize
    // across them with gathers and scatters (see `pool::max_forward`).
    for oy in 0..core::hint::black_box(g.oh) {
        for ox in 0..g.ow {
            for co in 0..g.cout {
                gco[co] = dy[co * ohw + oy * g.ow + ox];
            }
            if let Some(db) = db.as_deref_mut() {
                for co in 0..g.cout {
                    db[co] += gco[co];
                }
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
                        let xi = ci * hw + iy * g.w + ix;
                        let xv = x[xi];
                        let off = (base + ci) * g.cout;
                        let row = &w[off..][..g.cout];
                        let drow = &mut dw[off..][..g.cout];
                        for (d, &gc) in drow.iter_mut().zip(gco.iter()) {
                            *d += xv * gc;
                        }
                        dx[xi] += dot(row, gco);
                    }
                }
            }
        }
    }
}
