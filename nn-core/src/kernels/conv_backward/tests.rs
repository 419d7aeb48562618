//! Every backward kernel, paired every way, against the plain per-sample loop
//! ([`super::reference::backward`]), with every instruction set this CPU has.

use std::vec::Vec;

use super::reference::backward as conv_backward;
use crate::kernels::Geom;

/// The vectorized backward of a batch with every instruction set this CPU has, named: `(dx,
/// dw, db)` from `dw0`, `db0`.
#[allow(clippy::too_many_arguments)]
fn every_isa_backward(
    g: Geom,
    n: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dw0: &[f32],
    db0: &[f32],
) -> Vec<(&'static str, [Vec<f32>; 3])> {
    use super::{backward_with, scratch_len, ConvBackward};
    // Outputs and scratch with guard cells after them, checked untouched.
    const GUARD: usize = 64;
    let (nx, ns) = (n * g.cin * g.h * g.w, scratch_len(g, n));
    let fresh = || {
        let mut dx = std::vec![f32::NAN; nx + GUARD];
        dx[nx..].fill(1234.5);
        let mut sc = std::vec![f32::NAN; ns + GUARD];
        sc[ns..].fill(1234.5);
        (dx, dw0.to_vec(), db0.to_vec(), sc)
    };
    let check = |isa: &str, mut dx: Vec<f32>, sc: Vec<f32>| {
        assert!(
            dx[nx..].iter().chain(&sc[ns..]).all(|&v| v == 1234.5),
            "{isa}, {g:?}: write past the end"
        );
        dx.truncate(nx);
        dx
    };
    let mut out = Vec::new();
    let (mut dx, mut dw, mut db, mut sc) = fresh();
    backward_with::<_, Geom>(
        crate::kernels::isa::Portable,
        g,
        n,
        x,
        w,
        dy,
        &mut dx[..nx],
        &mut dw,
        Some(&mut db),
        &mut sc[..ns],
    );
    out.push(("portable", [check("portable", dx, sc), dw, db]));
    #[cfg(target_arch = "x86_64")]
    {
        let mut run = |isa: &'static str, avx512: bool| {
            let (mut dx, mut dw, mut db, mut sc) = fresh();
            let k = ConvBackward {
                g,
                n,
                x,
                w,
                dy,
                dx: &mut dx[..nx],
                dw: &mut dw,
                db: Some(&mut db),
                scratch: &mut sc[..ns],
            };
            // SAFETY: the caller detected the instruction set.
            unsafe {
                if avx512 {
                    crate::kernels::isa::run_avx512(k)
                } else {
                    crate::kernels::isa::run_avx2(k)
                }
            };
            out.push((isa, [check(isa, dx, sc), dw, db]));
        };
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            run("avx2", false);
        }
        if std::is_x86_feature_detected!("avx512f") {
            run("avx512", true);
        }
    }
    out
}

/// The vectorized batch backward (input, weight and bias gradients, the latter two added to
/// nonzero values) against the plain per-sample loop, over many geometries.
#[test]
fn vectorized_backward_matches_the_plain_loop() {
    let mut seed = 11u32;
    let mut rnd = || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let n = 3;
    let mut checked = 0;
    for &(cin, cout) in &[
        (1, 8),
        (3, 16),
        (2, 32),
        (1, 6),
        (4, 5),
        (3, 24),
        (2, 80),
        (4, 6),
    ] {
        for &(h, w) in &[
            (1, 12),
            (5, 9),
            (8, 8),
            (3, 17),
            (4, 40),
            (2, 70),
            (4, 4),
            (7, 3),
        ] {
            for &(kh, kw) in &[(1, 3), (3, 3), (2, 5), (5, 5), (1, 1)] {
                for &(sh, sw) in &[(1, 1), (2, 2), (1, 2), (2, 1)] {
                    for &(pt, pb, pl, pr) in
                        &[(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0), (2, 0, 1, 3)]
                    {
                        if kh > h + pt + pb || kw > w + pl + pr {
                            continue;
                        }
                        let (oh, ow) = ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                        let g = Geom {
                            cin,
                            cout,
                            h,
                            w,
                            kh,
                            kw,
                            sh,
                            sw,
                            pt,
                            pl,
                            oh,
                            ow,
                        };
                        let (xs, ys, ws) = (cin * h * w, cout * oh * ow, kh * kw * cin * cout);
                        let x: Vec<f32> = (0..n * xs).map(|_| rnd()).collect();
                        let dy: Vec<f32> = (0..n * ys).map(|_| rnd()).collect();
                        let wt: Vec<f32> = (0..ws).map(|_| rnd()).collect();
                        let dw0: Vec<f32> = (0..ws).map(|_| rnd()).collect();
                        let db0: Vec<f32> = (0..cout).map(|_| rnd()).collect();
                        let mut want_dx = std::vec![0.0; n * xs];
                        let (mut want_dw, mut want_db) = (dw0.clone(), db0.clone());
                        let mut gco = std::vec![0.0; cout];
                        for i in 0..n {
                            conv_backward(
                                g,
                                &x[i * xs..][..xs],
                                &wt,
                                &dy[i * ys..][..ys],
                                &mut want_dx[i * xs..][..xs],
                                &mut want_dw,
                                Some(&mut want_db),
                                &mut gco,
                            );
                        }
                        let want = [want_dx, want_dw, want_db];
                        // Every pairing of the weight- and input-gradient kernels.
                        let mut got = Vec::new();
                        #[allow(clippy::unusual_byte_groupings)] // weight-kernel_dx-kernel bits
                        for force in [0b001_01, 0b010_10, 0b011_01, 0b100_10] {
                            super::FORCE.store(force, core::sync::atomic::Ordering::Relaxed);
                            got.extend(every_isa_backward(g, n, &x, &wt, &dy, &dw0, &db0));
                        }
                        super::FORCE.store(0, core::sync::atomic::Ordering::Relaxed);
                        for (isa, got) in got {
                            for (part, (got, want)) in
                                ["dx", "dw", "db"].iter().zip(got.iter().zip(&want))
                            {
                                assert_eq!(got.len(), want.len());
                                for (i, (a, e)) in got.iter().zip(want).enumerate() {
                                    assert!(
                                        (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                                        "{isa}, {g:?}: {part} {i}: {a} vs {e}"
                                    );
                                }
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 4000, "only {checked} geometries checked");
}
