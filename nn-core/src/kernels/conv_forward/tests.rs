//! Every forward kernel against the plain loop ([`super::reference::forward`]), with every
//! instruction set this CPU has.

use std::vec::Vec;

use super::reference::forward as conv_forward_plain;
use super::{forward, ConvForward};
use crate::kernels::epilogue::test_epilogues::{Relu, Tanh};
use crate::kernels::epilogue::Linear;
use crate::kernels::{Epilogue, Geom};

/// The vectorized forward with every instruction set this CPU has, named.
fn every_isa<A: Epilogue>(
    g: Geom,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    n: usize,
    act: A,
) -> Vec<(&'static str, Vec<f32>)> {
    let mut out = Vec::new();
    let mut y = std::vec![f32::NAN; n];
    forward(crate::kernels::isa::Portable, g, x, w, Some(b), &mut y, act);
    out.push(("portable", y));
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            let mut y = std::vec![f32::NAN; n];
            // SAFETY: AVX2 and FMA were detected.
            unsafe {
                crate::kernels::isa::run_avx2(ConvForward {
                    g,
                    x,
                    w,
                    b: Some(b),
                    y: &mut y,
                    act,
                })
            };
            out.push(("avx2", y));
        }
        if std::is_x86_feature_detected!("avx512f") {
            let mut y = std::vec![f32::NAN; n];
            // SAFETY: AVX-512F was detected.
            unsafe {
                crate::kernels::isa::run_avx512(ConvForward {
                    g,
                    x,
                    w,
                    b: Some(b),
                    y: &mut y,
                    act,
                })
            };
            out.push(("avx512", y));
        }
    }
    out
}

/// The register-blocked and row-vectorized kernels against the plain scalar loop, over many
/// geometries (filters that are and are not multiples of 8, strides, paddings, borders).
#[test]
fn vectorized_kernels_match_the_plain_loop() {
    let mut seed = 7u32;
    let mut rnd = || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let mut checked = 0;
    for &(cin, cout) in &[(1, 8), (3, 16), (2, 32), (1, 6), (4, 5), (3, 24), (2, 80)] {
        for &(h, w) in &[(1, 12), (5, 9), (8, 8), (3, 17), (4, 40), (2, 70)] {
            for &(kh, kw) in &[(1, 3), (3, 3), (2, 5)] {
                for &(sh, sw) in &[(1, 1), (2, 2), (1, 2)] {
                    for &(pt, pb, pl, pr) in &[(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0)] {
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
                        let x: std::vec::Vec<f32> = (0..cin * h * w).map(|_| rnd()).collect();
                        let wt: std::vec::Vec<f32> =
                            (0..kh * kw * cin * cout).map(|_| rnd()).collect();
                        let b: std::vec::Vec<f32> = (0..cout).map(|_| rnd()).collect();
                        let mut acc = std::vec![0.0; cout];
                        let mut want = std::vec![0.0; cout * oh * ow];
                        conv_forward_plain(g, &x, &wt, Some(&b), &mut want, &mut acc, 0, ow);

                        let n = cout * oh * ow;
                        // Every instruction set without activation; the fused
                        // activations with the one `dispatch` picks (each instantiation
                        // of the kernels with a run-time geometry is costly to compile).
                        let fused = |act: &'static str| {
                            let mut y = std::vec![f32::NAN; n];
                            let k = |y: &mut [f32]| match act {
                                "relu" => crate::kernels::isa::dispatch(ConvForward {
                                    g,
                                    x: &x,
                                    w: &wt,
                                    b: Some(&b),
                                    y,
                                    act: Relu,
                                }),
                                _ => crate::kernels::isa::dispatch(ConvForward {
                                    g,
                                    x: &x,
                                    w: &wt,
                                    b: Some(&b),
                                    y,
                                    act: Tanh,
                                }),
                            };
                            k(&mut y);
                            std::vec![("dispatch", y)]
                        };
                        let runs = [
                            ("identity", every_isa(g, &x, &wt, &b, n, Linear)),
                            ("relu", fused("relu")),
                            ("tanh", fused("tanh")),
                        ];
                        for (act, outputs) in runs {
                            for (isa, got) in outputs {
                                for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                                    let e = match act {
                                        "relu" => Relu.apply(*e),
                                        "tanh" => Tanh.apply(*e),
                                        _ => *e,
                                    };
                                    assert!(
                                        (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                                        "{isa}, {act}, {g:?}: output {i}: {a} vs {e}"
                                    );
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} geometries checked");
}

/// One geometry through the vectorized forward (every instruction set without activation,
/// Relu and Tanh with the one `dispatch` picks) against the plain loop; returns the number
/// of runs compared.
fn check_forward(g: Geom, rnd: &mut impl FnMut() -> f32) -> usize {
    let x: Vec<f32> = (0..g.cin * g.h * g.w).map(|_| rnd()).collect();
    let wt: Vec<f32> = (0..g.kh * g.kw * g.cin * g.cout).map(|_| rnd()).collect();
    let b: Vec<f32> = (0..g.cout).map(|_| rnd()).collect();
    let n = g.cout * g.oh * g.ow;
    let mut acc = std::vec![0.0; g.cout];
    let mut want = std::vec![0.0; n];
    conv_forward_plain(g, &x, &wt, Some(&b), &mut want, &mut acc, 0, g.ow);
    // Outputs with guard cells after them, checked untouched.
    let fused = |relu: bool| {
        let mut y = std::vec![f32::NAN; n + 16];
        y[n..].fill(1234.5);
        let (x, w, b, y2) = (&x[..], &wt[..], Some(&b[..]), &mut y[..n]);
        if relu {
            crate::kernels::isa::dispatch(ConvForward {
                g,
                x,
                w,
                b,
                y: y2,
                act: Relu,
            });
        } else {
            crate::kernels::isa::dispatch(ConvForward {
                g,
                x,
                w,
                b,
                y: y2,
                act: Tanh,
            });
        }
        assert!(
            y[n..].iter().all(|&v| v == 1234.5),
            "{g:?}: write past the end"
        );
        y.truncate(n);
        std::vec![("dispatch", y)]
    };
    let runs = [
        ("identity", every_isa(g, &x, &wt, &b, n, Linear)),
        ("relu", fused(true)),
        ("tanh", fused(false)),
    ];
    let mut checked = 0;
    for (act, outputs) in runs {
        for (isa, got) in outputs {
            assert_eq!(got.len(), n);
            for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                let e = match act {
                    "relu" => Relu.apply(*e),
                    "tanh" => Tanh.apply(*e),
                    _ => *e,
                };
                assert!(
                    (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                    "{isa}, {act}, {g:?}: output {i}: {a} vs {e}"
                );
            }
            checked += 1;
        }
    }
    checked
}

/// Every forward kernel, forced in turn (the compact one where the geometry allows it, then
/// the filters and positions ones), against the plain loop over small images: sizes that
/// are and are not multiples of the vector width, one and several rows per vector, strides,
/// asymmetric padding, filter counts that are not multiples of the block.
#[test]
fn forced_forward_kernels_match_the_plain_loop() {
    use super::FORCE;
    use core::sync::atomic::Ordering;
    let mut seed = 5u32;
    let mut rnd = || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let (mut checked, mut compact) = (0, 0);
    for force in [1, 2] {
        for &(cin, cout) in &[(1, 8), (8, 16), (3, 5), (2, 6), (1, 1), (6, 16), (4, 24)] {
            for &(h, w) in &[(8, 8), (4, 4), (5, 7), (1, 40), (12, 12), (3, 17), (2, 2)] {
                for &(kh, kw) in &[(3, 3), (1, 5), (2, 2), (5, 5)] {
                    for &(sh, sw) in &[(1, 1), (2, 2), (2, 1), (1, 3)] {
                        for &(pt, pb, pl, pr) in &[(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 0, 1)] {
                            if kh > h + pt + pb || kw > w + pl + pr {
                                continue;
                            }
                            let (oh, ow) =
                                ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                            #[rustfmt::skip]
                            let g = Geom { cin, cout, h, w, kh, kw, sh, sw, pt, pl, oh, ow };
                            FORCE.store(force, Ordering::Relaxed);
                            if force == 1 && super::compact_allowed(g) {
                                compact += 1;
                            }
                            checked += check_forward(g, &mut rnd);
                            FORCE.store(0, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 2000, "only {checked} runs checked");
    assert!(
        compact > 600,
        "the compact kernel ran for only {compact} geometries"
    );
}
