//! The convolutions with the output channels in the lanes ([`conv1d_lanes`], and fused with a
//! 2 x 2 max pooling, [`conv2d_pooled_lanes`]) against the plain loops, on every instruction
//! set and requantization.

use super::*;

/// Geometries over the kernel's cases: input channels a multiple of 4 (quads of channels) or
/// not (quads of taps), kernels past one quad, strides, paddings, outputs shorter than a block
/// of 4, between 4 and 8, not a multiple of either; output channels in partial vectors and past
/// one chunk of 64.
#[test]
fn lanes_convolution_has_the_bytes_of_the_plain_loops() {
    let mut rng = Lcg(57);
    // (c_in, len, kernel, stride, pad, c_out)
    let cases = [
        (1, 40, 5, 1, 2, 32),
        (32, 40, 3, 2, 1, 32),
        (32, 20, 3, 2, 1, 32),
        (4, 9, 3, 1, 0, 16),
        (8, 30, 7, 3, 3, 17),
        (3, 11, 5, 2, 2, 5),
        (2, 3, 3, 1, 1, 40),
        (12, 6, 1, 1, 0, 70),
        (1, 2, 2, 1, 0, 1),
        (16, 64, 3, 1, 1, 8),
        (5, 100, 9, 4, 4, 33),
    ];
    let mut runs = 0;
    for (c_in, len, k, s, pad, c_out) in cases {
        let out = (len + 2 * pad - k) / s + 1;
        let g = Window2 {
            input: (c_in, 1, len),
            kernel: (1, k),
            stride: (1, s),
            pad: (0, pad),
            output: (1, out),
        };
        let l = Lanes::of(g).expect("a 1-D convolution");
        let t = ConvCase::random(&mut rng, g, c_out);
        let packed = packed(&l, &t);
        let rq = t.rq();
        let prepared = Prepared::of(&t.shift, rq.out);
        let want = t.plain();
        for (isa, rq) in variants(&rq, &prepared) {
            let mut got = vec![0i8; want.len()];
            conv1d_lanes(isa, &l, &t.x, t.x_zero, &packed, &t.offset, &rq, &mut got);
            assert_eq!(got, want, "{isa:?} {g:?} {c_out}");
            runs += 1;
        }
        // onnxruntime's rounding (the portable loops under every instruction set).
        let mut want = vec![0i8; want.len()];
        let w = (&t.wt[..], t.k);
        let onnx = (t.out, Rounding::Onnx);
        ops::conv2d_strided_with(&t.x, t.x_zero, g, w, &t.bias, &t.exact, onnx, &mut want);
        let rq = Requant {
            rounding: Rounding::Onnx,
            ..t.rq()
        };
        for isa in [Isa8::Portable, Isa8::Avx2, Isa8::Vnni] {
            if isa.available() {
                let mut got = vec![0i8; want.len()];
                conv1d_lanes(isa, &l, &t.x, t.x_zero, &packed, &t.offset, &rq, &mut got);
                assert_eq!(got, want, "{isa:?} {g:?} onnx");
            }
        }
    }
    assert!(runs >= cases.len() * 2);
}

/// A 2-D convolution has no lanes layout, nor one whose laid-out input passes the scratch.
#[test]
fn lanes_layout_is_for_signals_that_fit() {
    let square = Window2 {
        input: (1, 8, 8),
        kernel: (3, 3),
        stride: (1, 1),
        pad: (1, 1),
        output: (8, 8),
    };
    assert!(Lanes::of(square).is_none());
    let long = Window2 {
        input: (64, 1, 1000),
        kernel: (1, 3),
        stride: (1, 1),
        pad: (0, 1),
        output: (1, 1000),
    };
    assert!(Lanes::of(long).is_none());
    let fits = Window2 {
        input: (64, 1, 60),
        ..long
    };
    let fits = Window2 {
        output: (1, 60),
        ..fits
    };
    assert!(Lanes::of(fits).is_some());
}

/// The packed weights of `t` in the layout `l` ([`Lanes::index`]).
fn packed(l: &Lanes, t: &ConvCase) -> Vec<i8> {
    let (c_in, c_out, k) = (t.g.input.0, t.c_out, l.k);
    let mut packed = vec![0i8; l.packed_len(c_out)];
    for o in 0..c_out {
        for ch in 0..c_in {
            for tap in 0..k {
                packed[l.index(c_out, o, ch, tap)] = t.wt[(o * c_in + ch) * k + tap];
            }
        }
    }
    packed
}

/// Small 2-D convolutions with four channels to a quad, fused with a 2 x 2 max pooling
/// ([`Lanes::pooled`]): the pooled kernel ([`conv2d_pooled_lanes`], blocks of two pooled
/// positions and single ones, one to five chunks of 16 channels, strides, paddings, 1 x 1 to
/// 3 x 3 kernels) and the convolution alone in that layout ([`conv1d_lanes`], on every
/// instruction set and both roundings) against the plain loops.
#[test]
fn pooled_lanes_convolution_has_the_bytes_of_the_plain_loops() {
    let mut rng = Lcg(91);
    // (c_in, h, w, kernel, stride, pad, c_out)
    let cases = [
        (8, 4, 4, 3, 1, 1, 16),
        (4, 6, 4, 3, 1, 1, 70),
        (8, 4, 4, 3, 1, 1, 33),
        (4, 8, 4, 3, 2, 1, 16),
        (8, 2, 2, 1, 1, 0, 3),
        (12, 2, 4, 3, 1, 1, 17),
        (4, 4, 8, 2, 2, 0, 5),
        (16, 2, 2, 3, 1, 1, 48),
    ];
    let (mut fused, mut checked) = (0, 0);
    for (c_in, h, w, k, s, pad, c_out) in cases {
        let (oh, ow) = ((h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1);
        let g = Window2 {
            input: (c_in, h, w),
            kernel: (k, k),
            stride: (s, s),
            pad: (pad, pad),
            output: (oh, ow),
        };
        let l = Lanes::pooled(g, (2, 2)).unwrap_or_else(|| panic!("{g:?} has the layout"));
        let plan = PoolPlan::new(g, (2, 2));
        assert_eq!(plan.conv.lanes, Some(l), "the pooled plan keeps the layout");
        let t = ConvCase::random(&mut rng, g, c_out);
        let w_lanes = packed(&l, &t);
        let rq = t.rq();
        let prepared = Prepared::of(&t.shift, rq.out);
        let want = t.plain();
        let want_pooled = t.plain_pooled((2, 2));
        for (isa, rq) in variants(&rq, &prepared) {
            let mut got = vec![0i8; want.len()];
            conv1d_lanes(isa, &l, &t.x, t.x_zero, &w_lanes, &t.offset, &rq, &mut got);
            assert_eq!(got, want, "{isa:?} {g:?} {c_out}: the convolution alone");
            let mut got = vec![0i8; want_pooled.len()];
            let (x, z) = (&t.x, t.x_zero);
            if conv2d_pooled_lanes(isa, x, z, &plan, &l, &w_lanes, &t.offset, &rq, &mut got) {
                assert_eq!(got, want_pooled, "{isa:?} {g:?} {c_out}: pooled");
                fused += 1;
                checked += got.len();
            } else {
                assert!(got.iter().all(|&v| v == 0), "nothing written");
                assert!(
                    isa != Isa8::Vnni || !vbmi(),
                    "{g:?}: the VNNI kernel applies"
                );
            }
            // Not the plan's layout: refused.
            let other = Lanes::pooled(Window2 { pad: (0, 0), ..g }, (2, 2));
            if let Some(other) = other.filter(|o| *o != l) {
                let mut got = vec![0i8; want_pooled.len()];
                assert!(!conv2d_pooled_lanes(
                    isa, x, z, &plan, &other, &w_lanes, &t.offset, &rq, &mut got
                ));
            }
        }
        // onnxruntime's rounding: the portable loops, and never the pooled kernel.
        let rq = Requant {
            rounding: Rounding::Onnx,
            ..t.rq()
        };
        let mut want = vec![0i8; want.len()];
        let onnx = (t.out, Rounding::Onnx);
        let wt = (&t.wt[..], t.k);
        ops::conv2d_strided_with(&t.x, t.x_zero, g, wt, &t.bias, &t.exact, onnx, &mut want);
        for isa in [Isa8::Portable, Isa8::Avx2, Isa8::Vnni] {
            if isa.available() {
                let mut got = vec![0i8; want.len()];
                conv1d_lanes(isa, &l, &t.x, t.x_zero, &w_lanes, &t.offset, &rq, &mut got);
                assert_eq!(got, want, "{isa:?} {g:?} onnx");
                let mut pooled = vec![0i8; want_pooled.len()];
                let (x, z) = (&t.x, t.x_zero);
                assert!(!conv2d_pooled_lanes(
                    isa,
                    x,
                    z,
                    &plan,
                    &l,
                    &w_lanes,
                    &t.offset,
                    &rq,
                    &mut pooled
                ));
            }
        }
    }
    if Isa8::Vnni.available() && vbmi() {
        assert!(
            fused >= 2 * cases.len() && checked > 1_000,
            "{fused} {checked}"
        );
    }
}

/// Where the pooled 2-D layout does not apply: input channels not a multiple of 4, an odd
/// output, a pooling other than 2 x 2, an input over 128 bytes, a signal.
#[test]
fn pooled_lanes_layout_is_for_small_planes_of_channel_quads() {
    let g = Window2 {
        input: (8, 4, 4),
        kernel: (3, 3),
        stride: (1, 1),
        pad: (1, 1),
        output: (4, 4),
    };
    assert!(Lanes::pooled(g, (2, 2)).is_some());
    assert!(Lanes::pooled(g, (3, 3)).is_none());
    assert!(Lanes::pooled(
        Window2 {
            input: (6, 4, 4),
            ..g
        },
        (2, 2)
    )
    .is_none());
    let odd = Window2 {
        input: (8, 3, 4),
        output: (3, 4),
        ..g
    };
    assert!(Lanes::pooled(odd, (2, 2)).is_none());
    let big = Window2 {
        input: (8, 4, 6),
        output: (4, 6),
        ..g
    };
    assert!(Lanes::pooled(big, (2, 2)).is_none(), "192 input bytes");
    let signal = Window2 {
        input: (8, 1, 16),
        kernel: (1, 3),
        pad: (0, 1),
        output: (1, 16),
        ..g
    };
    assert!(Lanes::pooled(signal, (1, 2)).is_none());
    assert!(Lanes::pooled(g, (2, 2)).is_some_and(|l| !l.is_signal()));
    assert!(Lanes::of(signal).is_some_and(|l| l.is_signal()));
    // A twin's weights take the 2-D layout only where its kernel runs (elsewhere the
    // per-position loops are slower than PyTorch's layout's kernels); a signal's, everywhere.
    let here = Isa8::detect() == Isa8::Vnni && vbmi();
    assert_eq!(Lanes::pooled(g, (2, 2)).unwrap().runs_here(), here);
    assert!(Lanes::of(signal).unwrap().runs_here());
}
