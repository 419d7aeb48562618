//! The 1-D convolution with the output channels in the lanes ([`conv1d_lanes`]) against the
//! plain loops, on every instruction set and requantization.

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
        let mut packed = vec![0i8; l.packed_len(c_out)];
        for o in 0..c_out {
            for ch in 0..c_in {
                for tap in 0..k {
                    packed[l.index(c_out, o, ch, tap)] = t.wt[(o * c_in + ch) * k + tap];
                }
            }
        }
        let (rq, prepared) = (t.rq(), Prepared::of(&t.shift));
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
