//! Every vector path against the plain integer loops of `ops`, on random layers.

use super::plan::vbmi;
use super::*;
use crate::quant::ops::{self, Output};
use crate::quant::Requantize;
use generic_array::typenum::Unsigned;
use std::vec;
use std::vec::Vec;

/// A small deterministic generator (LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u32) as i32
    }
    fn bytes(&mut self, n: usize, lo: i32, hi: i32) -> Vec<i8> {
        (0..n).map(|_| self.range(lo, hi) as i8).collect()
    }
}

const ISAS: [Isa8; 3] = [Isa8::Portable, Isa8::Avx2, Isa8::Vnni];

/// The prepared shifts of `shift`, as the twins keep them ([`Prep`]), with the single
/// rounding's constants for output `out` where it has them (as `Kernel::new` derives them).
struct Prepared {
    left: Vec<i32>,
    right: Vec<i32>,
    mask: Vec<i32>,
    half: Vec<i32>,
    once: Vec<i64>,
}

impl Prepared {
    fn of(shift: &[i32], out: Output) -> Prepared {
        let mut p = Prepared {
            left: vec![],
            right: vec![],
            mask: vec![],
            half: vec![],
            once: vec![0; shift.len()],
        };
        for &s in shift {
            let (l, r, m, h) = Prep::of(s);
            p.left.push(l);
            p.right.push(r);
            p.mask.push(m);
            p.half.push(h);
        }
        let all = shift.iter().enumerate().all(|(c, &s)| {
            Prep::once(s, out.zero_point)
                .map(|k| p.once[Prep::once_index(shift.len(), c)] = k)
                .is_some()
        });
        if !all || out.range.0 < out.zero_point {
            p.once.clear();
        }
        p
    }
}

/// Every instruction set of this CPU, each with the shifts derived on every call, with them
/// prepared, and with the single rounding's constants where the output has them.
fn variants<'a>(rq: &Requant<'a>, p: &'a Prepared) -> Vec<(Isa8, Requant<'a>)> {
    let prep = Prep {
        left: &p.left,
        right: &p.right,
        mask: &p.mask,
        half: &p.half,
        once: &[],
    };
    let mut out = vec![];
    for isa in ISAS.into_iter().filter(|i| i.available()) {
        out.push((isa, *rq));
        out.push((
            isa,
            Requant {
                prep: Some(prep),
                ..*rq
            },
        ));
        if !p.once.is_empty() {
            out.push((
                isa,
                Requant {
                    prep: Some(Prep {
                        once: &p.once,
                        ..prep
                    }),
                    ..*rq
                },
            ));
        }
    }
    out
}

fn requants(rng: &mut Lcg, n: usize) -> Vec<Requantize> {
    (0..n)
        .map(|_| {
            // Real multipliers from 1e-5 to 2 (above one takes the left shift).
            let m = 1e-5 * 10f32.powf(rng.range(0, 5300) as f32 / 1000.0);
            Requantize::new(1.0, m, 1.0)
        })
        .collect()
}

/// An output quantization: no clamp, a folded ReLU, or a folded ReLU with an upper clamp
/// (`ReLU6`'s).
fn output(rng: &mut Lcg) -> Output {
    let zero_point = rng.range(-128, 127);
    let range = match rng.range(0, 2) {
        0 => (-128, 127),
        1 => (zero_point, 127),
        _ => (zero_point, rng.range(zero_point, 127)),
    };
    Output { zero_point, range }
}

/// A random dense layer: input, weights (`[out][in]` and packed), biases, requantizations and
/// output, with the kernels' `offset`.
struct DenseCase {
    x: Vec<i8>,
    rows: Vec<i8>,
    bias: Vec<i32>,
    x_zero: i32,
    exact: Vec<Requantize>,
    mult: Vec<i32>,
    shift: Vec<i32>,
    out: Output,
    packed: Vec<i8>,
    offset: Vec<i32>,
}

impl DenseCase {
    fn random(rng: &mut Lcg, n_in: usize, n_out: usize) -> DenseCase {
        let x = rng.bytes(n_in, -128, 127);
        let rows = rng.bytes(n_in * n_out, -127, 127);
        let bias: Vec<i32> = (0..n_out).map(|_| rng.range(-50_000, 50_000)).collect();
        let x_zero = rng.range(-128, 127);
        let exact = requants(rng, n_out);
        let (mult, shift): (Vec<i32>, Vec<i32>) =
            exact.iter().map(|r| (r.multiplier, r.shift)).unzip();
        let out = output(rng);
        let mut packed = vec![0i8; n_in * n_out];
        let mut offset = bias.clone();
        for o in 0..n_out {
            for i in 0..n_in {
                let v = rows[o * n_in + i];
                packed[packed_index(n_in, n_out, o, i)] = v;
                offset[o] -= (128 + x_zero) * v as i32;
            }
        }
        DenseCase {
            x,
            rows,
            bias,
            x_zero,
            exact,
            mult,
            shift,
            out,
            packed,
            offset,
        }
    }

    fn rq(&self, rounding: Rounding) -> Requant<'_> {
        Requant {
            multiplier: &self.mult,
            shift: &self.shift,
            exact: &self.exact,
            rounding,
            out: self.out,
            prep: None,
        }
    }

    /// The plain loop's outputs for input `x`.
    fn plain(&self, x: &[i8], rounding: Rounding) -> Vec<i8> {
        let mut want = vec![0i8; self.bias.len()];
        let (rows, bias, exact) = (&self.rows, &self.bias, &self.exact);
        ops::dense(
            x,
            self.x_zero,
            rows,
            bias,
            exact,
            rounding,
            self.out,
            &mut want,
        );
        want
    }
}

#[test]
fn dense_paths_match_the_plain_loop() {
    let mut rng = Lcg(11);
    let mut checked = 0;
    for &n_in in &[1usize, 3, 4, 5, 16, 17, 64, 70] {
        for &n_out in &[1usize, 5, 8, 16, 17, 64, 65, 130] {
            let case = DenseCase::random(&mut rng, n_in, n_out);
            let (x, packed, offset) = (&case.x, &case.packed, &case.offset);
            for rounding in [Rounding::FixedPoint, Rounding::Double] {
                let want = case.plain(x, rounding);
                let rq = case.rq(rounding);
                let prepared = Prepared::of(&case.shift, rq.out);
                for (isa, rq) in variants(&rq, &prepared) {
                    let mut got = vec![0i8; n_out];
                    dense(isa, x, packed, offset, &rq, &mut got);
                    assert_eq!(got, want, "{isa:?} {n_in} -> {n_out} {rounding:?}");
                    checked += n_out;
                    // Fifteen samples at once (the sample itself and fourteen others): a block
                    // of eight where the layer allows, of four, and three alone.
                    let mut xs = rng.bytes(15 * n_in, -128, 127);
                    xs[3 * n_in..4 * n_in].copy_from_slice(x);
                    let mut ys = vec![0i8; 15 * n_out];
                    dense_many(isa, &xs, n_in, packed, offset, &rq, &mut ys, n_out);
                    for s in 0..15 {
                        let one = case.plain(&xs[s * n_in..(s + 1) * n_in], rounding);
                        assert_eq!(
                            ys[s * n_out..(s + 1) * n_out],
                            one[..],
                            "{isa:?} sample {s}"
                        );
                    }
                    assert_eq!(ys[3 * n_out..4 * n_out], want[..]);
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

/// [`dense_sized`] and [`dense_many_sized`] (sizes as types; the VNNI kernels with constant
/// sizes where the CPU has them) against the plain loop, for the shapes those kernels take
/// (with 1, 2 or 3 inputs past the last whole quad too) and for the ones handed to the chunked
/// path.
#[test]
fn dense_with_sizes_as_types_matches_the_plain_loop() {
    use generic_array::typenum::{
        Unsigned, U1, U12, U16, U17, U3, U30, U31, U32, U4, U48, U5, U64, U65,
    };
    fn check<I: Unsigned, O: Unsigned>(rng: &mut Lcg) -> usize {
        let mut checked = 0;
        for _ in 0..4 {
            let case = DenseCase::random(rng, I::USIZE, O::USIZE);
            for rounding in [Rounding::FixedPoint, Rounding::Double] {
                let want = case.plain(&case.x, rounding);
                let rq = case.rq(rounding);
                let prepared = Prepared::of(&case.shift, rq.out);
                for (isa, rq) in variants(&rq, &prepared) {
                    let mut got = vec![0i8; O::USIZE];
                    dense_sized::<I, O>(isa, &case.x, &case.packed, &case.offset, &rq, &mut got);
                    let (n_in, n_out) = (I::USIZE, O::USIZE);
                    assert_eq!(got, want, "{isa:?} {n_in} -> {n_out} {rounding:?}");
                    checked += n_out;
                    // Fifteen samples at once (a block of eight where the layer has at most 32
                    // outputs, of four, and three alone).
                    let xs = rng.bytes(15 * n_in, -128, 127);
                    let mut ys = vec![0i8; 15 * n_out];
                    let (packed, offset) = (&case.packed, &case.offset);
                    dense_many_sized::<I, O>(isa, &xs, packed, offset, &rq, &mut ys);
                    for s in 0..15 {
                        let one = case.plain(&xs[s * n_in..(s + 1) * n_in], rounding);
                        assert_eq!(ys[s * n_out..(s + 1) * n_out], one[..], "{isa:?} {s}");
                        checked += n_out;
                    }
                }
            }
        }
        checked
    }
    let mut rng = Lcg(23);
    let checked = check::<U16, U64>(&mut rng)
        + check::<U64, U32>(&mut rng)
        + check::<U32, U5>(&mut rng)
        + check::<U4, U1>(&mut rng)
        + check::<U12, U48>(&mut rng)
        + check::<U48, U17>(&mut rng)
        + check::<U17, U5>(&mut rng)
        + check::<U30, U32>(&mut rng)
        + check::<U31, U17>(&mut rng)
        + check::<U3, U64>(&mut rng)
        + check::<U16, U65>(&mut rng);
    assert!(checked > 2_000, "{checked}");
}

#[test]
fn convolution_paths_match_the_plain_loop() {
    let mut rng = Lcg(5);
    let mut checked = 0;
    let mut planned = 0;
    // Planned cases whose padded input is built by permutation (`PadTable`).
    let mut permuted_pads = 0;
    let mut wide = 0;
    for case in 0..300 {
        let c_in = rng.range(1, 5) as usize;
        let (kh, kw) = (rng.range(1, 5) as usize, rng.range(1, 5) as usize);
        let (h, w) = (
            kh + rng.range(0, 12) as usize,
            kw + rng.range(0, 20) as usize,
        );
        let (sh, sw) = (rng.range(1, 3) as usize, rng.range(1, 3) as usize);
        let (pt, pl) = (
            rng.range(0, (kh as i32 - 1).max(0)) as usize,
            rng.range(0, (kw as i32 - 1).max(0)) as usize,
        );
        let (pb, pr) = (
            rng.range(0, (kh as i32 - 1).max(0)) as usize,
            rng.range(0, (kw as i32 - 1).max(0)) as usize,
        );
        let oh = (h + pt + pb - kh) / sh + 1;
        let ow = (w + pl + pr - kw) / sw + 1;
        let c_out = rng.range(1, 19) as usize;
        let g = Window2 {
            input: (c_in, h, w),
            kernel: (kh, kw),
            stride: (sh, sw),
            pad: (pt, pl),
            output: (oh, ow),
        };
        let k = c_in * kh * kw;
        let x = rng.bytes(c_in * h * w, -128, 127);
        let wt = rng.bytes(c_out * k, -127, 127);
        let bias: Vec<i32> = (0..c_out).map(|_| rng.range(-50_000, 50_000)).collect();
        let x_zero = rng.range(-128, 127);
        let exact = requants(&mut rng, c_out);
        let (mult, shift): (Vec<i32>, Vec<i32>) =
            exact.iter().map(|r| (r.multiplier, r.shift)).unzip();
        let out = output(&mut rng);
        let offset: Vec<i32> = (0..c_out)
            .map(|c| {
                let s: i32 = wt[c * k..(c + 1) * k].iter().map(|&v| v as i32).sum();
                bias[c] - (128 + x_zero) * s
            })
            .collect();
        let mut want = vec![0i8; c_out * oh * ow];
        ops::conv2d(&x, x_zero, g, &wt, &bias, &exact, out, &mut want);
        let rq = Requant {
            multiplier: &mult,
            shift: &shift,
            exact: &exact,
            rounding: Rounding::FixedPoint,
            out,
            prep: None,
        };
        let plan = ConvPlan::new(g);
        planned += plan.fits as usize;
        permuted_pads += (plan.fits && plan.pad.chunks > 0) as usize;
        wide += (plan.fits && plan.wide) as usize;
        let prepared = Prepared::of(&shift, rq.out);
        for (isa, rq) in variants(&rq, &prepared) {
            let mut got = vec![0i8; c_out * oh * ow];
            conv2d(isa, &x, x_zero, g, (&wt, k), &bias, &offset, &rq, &mut got);
            assert_eq!(got, want, "case {case}: {isa:?} {g:?}, {c_out} filters");
            checked += got.len();
            // With the compile-time plan (the permuted-patch kernel where it fits).
            let mut got = vec![0i8; c_out * oh * ow];
            conv2d_planned(
                isa,
                &x,
                x_zero,
                &plan,
                (&wt, k),
                &bias,
                &offset,
                &rq,
                &mut got,
            );
            assert_eq!(got, want, "case {case}: {isa:?} {g:?} planned");
            // The same filters padded with zeros to a multiple of 4 (as `ConvI8` keeps them).
            let k4 = k.div_ceil(4) * 4;
            let mut padded = vec![0i8; c_out * k4];
            for c in 0..c_out {
                padded[c * k4..c * k4 + k].copy_from_slice(&wt[c * k..(c + 1) * k]);
            }
            let mut got = vec![0i8; c_out * oh * ow];
            conv2d(
                isa,
                &x,
                x_zero,
                g,
                (&padded, k4),
                &bias,
                &offset,
                &rq,
                &mut got,
            );
            assert_eq!(got, want, "case {case}: {isa:?} {g:?}, padded filters");
            let mut got = vec![0i8; c_out * oh * ow];
            let (w, s) = (&padded, k4);
            conv2d_planned(
                isa,
                &x,
                x_zero,
                &plan,
                (w, s),
                &bias,
                &offset,
                &rq,
                &mut got,
            );
            assert_eq!(
                got, want,
                "case {case}: {isa:?} {g:?}, padded filters, planned"
            );
        }
    }
    assert!(checked > 50_000, "{checked}");
    // Most of the random layers take the permuted kernel (on CPUs with VBMI).
    assert!(planned > 150, "{planned} of 300 planned");
    assert!(
        permuted_pads > 30 && permuted_pads < planned,
        "{permuted_pads} of {planned} planned padded by permutation"
    );
    // Some reach past 128 bytes (two permutations per patch).
    assert!(wide > 10, "{wide} of 300 wide");
}

#[test]
fn a_convolution_larger_than_the_scratch_is_unfolded_in_chunks() {
    // 3 x 3 over 4 channels of 40 x 40: the padded input fits the scratch, the unfolded rows
    // (36 x 1,600 bytes) do not, so they come in chunks of output rows (strided), or the
    // input is read in place (stride 1 with VNNI).
    let mut rng = Lcg(9);
    for stride in [(1, 1), (2, 1), (1, 2)] {
        let output = ((40 + 2 - 3) / stride.0 + 1, (40 + 2 - 3) / stride.1 + 1);
        let g = Window2 {
            input: (4, 40, 40),
            kernel: (3, 3),
            stride,
            pad: (1, 1),
            output,
        };
        let (k, c_out) = (4 * 9, 11);
        let x = rng.bytes(4 * 40 * 40, -128, 127);
        let wt = rng.bytes(c_out * k, -127, 127);
        let bias: Vec<i32> = (0..c_out).map(|_| rng.range(-5000, 5000)).collect();
        let exact = requants(&mut rng, c_out);
        let (mult, shift): (Vec<i32>, Vec<i32>) =
            exact.iter().map(|r| (r.multiplier, r.shift)).unzip();
        let out = Output {
            zero_point: -3,
            range: (-128, 127),
        };
        let offset: Vec<i32> = (0..c_out)
            .map(|c| {
                bias[c]
                    - (128 - 7)
                        * wt[c * k..(c + 1) * k]
                            .iter()
                            .map(|&v| v as i32)
                            .sum::<i32>()
            })
            .collect();
        let n = c_out * output.0 * output.1;
        let mut want = vec![0i8; n];
        ops::conv2d(&x, -7, g, &wt, &bias, &exact, out, &mut want);
        let rq = Requant {
            multiplier: &mult,
            shift: &shift,
            exact: &exact,
            rounding: Rounding::FixedPoint,
            out,
            prep: None,
        };
        let prepared = Prepared::of(&shift, rq.out);
        for (isa, rq) in variants(&rq, &prepared) {
            let mut got = vec![0i8; n];
            conv2d(isa, &x, -7, g, (&wt, k), &bias, &offset, &rq, &mut got);
            assert_eq!(got, want, "{isa:?} stride {stride:?}");
        }
    }
}

#[test]
fn vector_quantization_rounds_as_the_scalar_one() {
    let mut rng = Lcg(3);
    let mut x: Vec<f32> = (0..2000)
        .map(|_| (rng.range(-100_000, 100_000) as f32) / 997.0)
        .collect();
    // Halves, near-halves, huge values, infinities and NaN.
    x.extend([
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        0.499_999_97,
        -0.499_999_97,
        1e30,
        -1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -0.0,
        0.0,
    ]);
    for &(scale, zero_point) in &[
        (1.0f32, 0),
        (0.05, -7),
        (0.3, 100),
        (1e-3, -128),
        (0.013_7, 3),
        (3.1, -20),
    ] {
        let q = crate::quant::QuantParams { scale, zero_point };
        // Around every half of the quotients that do not saturate, a float on each side too
        // (a multiplication by `1 / scale` instead of the division fails here).
        let mut x = x.clone();
        for k in -300..300 {
            let tie = (k as f32 + 0.5) * scale;
            x.extend([tie.next_down(), tie, tie.next_up()]);
        }
        let want: Vec<i8> = x.iter().map(|&v| q.quantize(v)).collect();
        for isa in ISAS.into_iter().filter(|i| i.available()) {
            let mut got = vec![0i8; x.len()];
            quantize(isa, &x, scale, zero_point, &mut got);
            assert_eq!(got, want, "{isa:?} scale {scale}");
            // Reading 16 values a load (and the masked tail) gives the same.
            let mut stored = vec![0i8; x.len()];
            quantize_stored(isa, &x, scale, zero_point, &mut stored);
            assert_eq!(stored, want, "{isa:?} scale {scale}, vector loads");
        }
    }
}

#[test]
fn max_pooling_matches_the_definition() {
    let mut rng = Lcg(21);
    for case in 0..200 {
        let c = rng.range(1, 4) as usize;
        let (k, s) = if case % 2 == 0 {
            (2, 2)
        } else {
            (rng.range(1, 3) as usize, rng.range(1, 3) as usize)
        };
        let (h, w) = (k + rng.range(0, 20) as usize, k + rng.range(0, 70) as usize);
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let g = Window2 {
            input: (c, h, w),
            kernel: (k, k),
            stride: (s, s),
            pad: (0, 0),
            output: (oh, ow),
        };
        let x = rng.bytes(c * h * w, -128, 127);
        let lo = if case % 3 == 0 {
            rng.range(-128, 0)
        } else {
            -128
        };
        let mut got = vec![0i8; c * oh * ow];
        max_pool2d(&x, g, (lo, 127), &mut got);
        for ci in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut m = i8::MIN;
                    for ki in 0..k {
                        for kj in 0..k {
                            m = m.max(x[(ci * h + oy * s + ki) * w + ox * s + kj]);
                        }
                    }
                    let want = (m as i32).clamp(lo, 127) as i8;
                    assert_eq!(got[(ci * oh + oy) * ow + ox], want, "case {case}: {g:?}");
                }
            }
        }
    }
}

#[test]
fn pooled_convolution_matches_conv_then_pool() {
    let mut rng = Lcg(17);
    let (mut checked, mut fused, mut in_blocks) = (0, 0, 0);
    for case in 0..300 {
        let c_in = rng.range(1, 8) as usize;
        let (kh, kw) = (rng.range(1, 4) as usize, rng.range(1, 4) as usize);
        let (h, w) = (
            kh + rng.range(1, 12) as usize,
            kw + rng.range(1, 12) as usize,
        );
        let (sh, sw) = (rng.range(1, 2) as usize, rng.range(1, 2) as usize);
        let (pt, pl) = (
            rng.range(0, (kh as i32 - 1).max(0)) as usize,
            rng.range(0, (kw as i32 - 1).max(0)) as usize,
        );
        let oh = (h + 2 * pt - kh) / sh + 1;
        let ow = (w + 2 * pl - kw) / sw + 1;
        let window = (rng.range(1, 3) as usize, rng.range(1, 3) as usize);
        if oh < window.0 || ow < window.1 {
            continue;
        }
        let g = Window2 {
            input: (c_in, h, w),
            kernel: (kh, kw),
            stride: (sh, sw),
            pad: (pt, pl),
            output: (oh, ow),
        };
        let c_out = rng.range(1, 19) as usize;
        let t = ConvCase::random(&mut rng, g, c_out);
        let want = t.plain_pooled(window);
        let (rq, plan) = (t.rq(), PoolPlan::new(g, window));
        let prepared = Prepared::of(&t.shift, rq.out);
        for (isa, rq) in variants(&rq, &prepared) {
            let mut got = vec![0i8; want.len()];
            let (wp, k4) = (&t.padded, t.k4);
            let done = conv2d_pooled(
                isa,
                &t.x,
                t.x_zero,
                &plan,
                (wp, k4),
                &t.offset,
                &rq,
                &mut got,
            );
            if done {
                assert_eq!(got, want, "case {case}: {isa:?} {g:?} pooled {window:?}");
                checked += got.len();
                fused += 1;
                in_blocks += !plan.fits as usize;
            } else {
                assert!(got.iter().all(|&v| v == 0), "nothing written");
                let taken = plan.fits || plan.in_block;
                assert!(isa != Isa8::Vnni || !taken || !vbmi(), "case {case}");
            }
            // Filters not padded to whole words are not the fused kernel's.
            if !t.k.is_multiple_of(4) {
                let mut got = vec![0i8; want.len()];
                let (x, w) = (&t.x, (&t.wt[..], t.k));
                assert!(!conv2d_pooled(
                    isa, x, t.x_zero, &plan, w, &t.offset, &rq, &mut got
                ));
            }
        }
    }
    if Isa8::Vnni.available() && vbmi() {
        assert!(
            fused > 50 && checked > 10_000,
            "{fused} fused, {checked} outputs"
        );
        // Some pooled in the convolution's own blocks (2 x 2 windows, rows 2, 4 or 8 wide).
        assert!(in_blocks > 5, "{in_blocks} pooled in blocks");
    }
}

#[test]
fn convolutions_pooled_in_their_blocks_match_conv_then_pool() {
    // 2 x 2 max pooling inside the convolution's blocks (outputs 2, 4 or 8 wide): four
    // channels' pooled outputs to a vector, stored at once where each pooled plane is 4 bytes
    // (M2's second convolution) and channel by channel elsewhere.
    let mut rng = Lcg(29);
    let (mut checked, mut in_blocks) = (0, 0);
    // (input channels, height, width, kernel, padding, output channels)
    let shapes = [
        (8usize, 4usize, 4usize, 3usize, 1usize, 16usize),
        (3, 4, 4, 3, 1, 7),
        (2, 8, 8, 3, 1, 5),
        (4, 10, 2, 3, 1, 9),
        (1, 6, 8, 1, 0, 13),
        (5, 8, 4, 3, 1, 18),
    ];
    for (case, &(c_in, h, w, k, pad, c_out)) in shapes.iter().enumerate() {
        let g = Window2 {
            input: (c_in, h, w),
            kernel: (k, k),
            stride: (1, 1),
            pad: (pad, pad),
            output: (h + 2 * pad - k + 1, w + 2 * pad - k + 1),
        };
        let plan = PoolPlan::new(g, (2, 2));
        assert!(plan.in_block, "case {case}: {g:?} pools in blocks");
        // The window elements' kernel takes those it fits (here the 8 x 8 case).
        in_blocks += !plan.fits as usize;
        for _ in 0..4 {
            let t = ConvCase::random(&mut rng, g, c_out);
            let want = t.plain_pooled((2, 2));
            let rq = t.rq();
            let prepared = Prepared::of(&t.shift, rq.out);
            for (isa, rq) in variants(&rq, &prepared) {
                let mut got = vec![0i8; want.len()];
                let w = (&t.padded[..], t.k4);
                let done = conv2d_pooled(isa, &t.x, t.x_zero, &plan, w, &t.offset, &rq, &mut got);
                if done {
                    assert_eq!(got, want, "case {case}: {isa:?} {g:?}");
                    checked += got.len();
                }
            }
        }
    }
    if Isa8::Vnni.available() && vbmi() {
        assert!(checked > 2_000, "{checked} outputs checked");
    }
    assert_eq!(in_blocks, 5, "shapes pooled in the convolution's blocks");
}

#[test]
fn wide_signals_take_the_planned_kernels() {
    // Rows wider than a vector (a Conv1d over 150 samples), pooled and not.
    let mut rng = Lcg(23);
    let cases = [
        (2usize, 150usize, 5usize, 6usize, true),
        (2, 300, 5, 4, false),
        (3, 97, 3, 17, true),
        (1, 64, 4, 3, true),
        (1, 150, 5, 9, true),
    ];
    for (c_in, w, kw, c_out, fits) in cases {
        let g = Window2 {
            input: (c_in, 1, w),
            kernel: (1, kw),
            stride: (1, 1),
            pad: (0, kw / 2),
            output: (1, w + 2 * (kw / 2) - kw + 1),
        };
        let t = ConvCase::random(&mut rng, g, c_out);
        let (want, pooled_want) = (t.plain(), t.plain_pooled((1, 2)));
        let plan = ConvPlan::new(g);
        // Two channels 304 bytes apart are beyond two permutations' reach (256 bytes).
        assert_eq!(plan.fits, fits, "{g:?}");
        let pool_plan = PoolPlan::new(g, (1, 2));
        let rq = t.rq();
        let prepared = Prepared::of(&t.shift, rq.out);
        let (x, z, w) = (&t.x, t.x_zero, (&t.padded[..], t.k4));
        for (isa, rq) in variants(&rq, &prepared) {
            let mut got = vec![0i8; want.len()];
            conv2d_planned(isa, x, z, &plan, w, &t.bias, &t.offset, &rq, &mut got);
            assert_eq!(got, want, "{isa:?} {g:?}");
            let mut got = vec![0i8; pooled_want.len()];
            if conv2d_pooled(isa, x, z, &pool_plan, w, &t.offset, &rq, &mut got) {
                assert_eq!(got, pooled_want, "{isa:?} {g:?} pooled");
            }
        }
    }
}

/// A random convolution of `c_out` filters over geometry `g`: its input, filters (as given and
/// padded with zeros to whole words, as `ConvI8` keeps them), biases, requantization and the
/// vector kernels' offsets.
struct ConvCase {
    g: Window2,
    c_out: usize,
    k: usize,
    k4: usize,
    x: Vec<i8>,
    wt: Vec<i8>,
    padded: Vec<i8>,
    bias: Vec<i32>,
    x_zero: i32,
    exact: Vec<Requantize>,
    mult: Vec<i32>,
    shift: Vec<i32>,
    out: Output,
    offset: Vec<i32>,
}

impl ConvCase {
    fn random(rng: &mut Lcg, g: Window2, c_out: usize) -> ConvCase {
        let (c_in, h, w) = g.input;
        let k = c_in * g.kernel.0 * g.kernel.1;
        let k4 = k.div_ceil(4) * 4;
        let x = rng.bytes(c_in * h * w, -128, 127);
        let wt = rng.bytes(c_out * k, -127, 127);
        let mut padded = vec![0i8; c_out * k4];
        for c in 0..c_out {
            padded[c * k4..c * k4 + k].copy_from_slice(&wt[c * k..(c + 1) * k]);
        }
        let bias: Vec<i32> = (0..c_out).map(|_| rng.range(-50_000, 50_000)).collect();
        let x_zero = rng.range(-128, 127);
        let exact = requants(rng, c_out);
        let (mult, shift): (Vec<i32>, Vec<i32>) =
            exact.iter().map(|r| (r.multiplier, r.shift)).unzip();
        let out = output(rng);
        let offset: Vec<i32> = (0..c_out)
            .map(|c| {
                let s: i32 = wt[c * k..(c + 1) * k].iter().map(|&v| v as i32).sum();
                bias[c] - (128 + x_zero) * s
            })
            .collect();
        ConvCase {
            g,
            c_out,
            k,
            k4,
            x,
            wt,
            padded,
            bias,
            x_zero,
            exact,
            mult,
            shift,
            out,
            offset,
        }
    }

    /// The fixed-point requantization (shifts derived on every call).
    fn rq(&self) -> Requant<'_> {
        Requant {
            multiplier: &self.mult,
            shift: &self.shift,
            exact: &self.exact,
            rounding: Rounding::FixedPoint,
            out: self.out,
            prep: None,
        }
    }

    /// The plain loops' output.
    fn plain(&self) -> Vec<i8> {
        let (oh, ow) = self.g.output;
        let mut y = vec![0i8; self.c_out * oh * ow];
        let (g, x, e) = (self.g, &self.x, &self.exact);
        ops::conv2d(x, self.x_zero, g, &self.wt, &self.bias, e, self.out, &mut y);
        y
    }

    /// The plain loops' output max-pooled by `window` (stride `window`).
    fn plain_pooled(&self, window: (usize, usize)) -> Vec<i8> {
        let (oh, ow) = self.g.output;
        let (ph, pw) = (oh / window.0, ow / window.1);
        let pool = Window2 {
            input: (self.c_out, oh, ow),
            kernel: window,
            stride: window,
            pad: (0, 0),
            output: (ph, pw),
        };
        let mut y = vec![0i8; self.c_out * ph * pw];
        ops::max_pool2d(&self.plain(), pool, (-128, 127), &mut y);
        y
    }
}

/// A random classifier head: a dense layer of `n_in` inputs and `n_out` outputs and its logits
/// quantization (scales from 0.001 to 2, so that some exponentials underflow to 0).
fn head_case(rng: &mut Lcg, n_in: usize, n_out: usize) -> (DenseCase, crate::quant::QuantParams) {
    let case = DenseCase::random(rng, n_in, n_out);
    let scale = 1e-3 * 2000f32.powf(rng.range(0, 1000) as f32 / 1000.0);
    let zero_point = case.out.zero_point;
    (case, crate::quant::QuantParams { scale, zero_point })
}

/// The head's three steps on one input: [`dense_sized`], `QuantParams::dequantize` and
/// `Softmax::apply`, as bits (and the int8 logits, for messages).
fn head_steps<I: Unsigned, O: Unsigned>(
    isa: Isa8,
    case: &DenseCase,
    x: &[i8],
    rq: &Requant<'_>,
    logits: crate::quant::QuantParams,
) -> (Vec<u32>, Vec<i8>) {
    let mut q = vec![0i8; O::USIZE];
    dense_sized::<I, O>(isa, x, &case.packed, &case.offset, rq, &mut q);
    let x: Vec<f32> = q.iter().map(|&v| logits.dequantize(v)).collect();
    let mut want = vec![0f32; O::USIZE];
    crate::Softmax::apply(&x, &mut want);
    (want.iter().map(|f| f.to_bits()).collect(), q)
}

/// [`dense_softmax_sized`] (the fused head: dense layer, dequantization and softmax in
/// registers) against [`dense_sized`], `QuantParams::dequantize` and `Softmax::apply`, bit for
/// bit, on the shapes it takes and on one it hands back (17 outputs); logit scales from 0.001
/// to 2, so that some exponentials underflow to 0.
#[test]
fn fused_softmax_head_has_the_bits_of_its_three_steps() {
    use generic_array::typenum::{U1, U10, U120, U16, U17, U3, U30, U32, U5, U64};
    fn check<I: Unsigned, O: Unsigned>(rng: &mut Lcg) -> (usize, usize) {
        let (mut fused, mut handed_back) = (0, 0);
        for _ in 0..6 {
            let (case, logits) = head_case(rng, I::USIZE, O::USIZE);
            for rounding in [Rounding::FixedPoint, Rounding::Double] {
                let rq = case.rq(rounding);
                let prepared = Prepared::of(&case.shift, rq.out);
                for (isa, rq) in variants(&rq, &prepared) {
                    let (want, q) = head_steps::<I, O>(isa, &case, &case.x, &rq, logits);
                    let mut got = vec![-1f32; O::USIZE];
                    let (packed, offset, scale) = (&case.packed, &case.offset, logits.scale);
                    if dense_softmax_sized::<I, O>(
                        isa, &case.x, packed, offset, &rq, scale, &mut got,
                    ) {
                        let bits: Vec<u32> = got.iter().map(|f| f.to_bits()).collect();
                        assert_eq!(bits, want, "{isa:?} {rounding:?} {q:?}");
                        fused += 1;
                    } else {
                        assert!(got.iter().all(|&v| v == -1.0), "untouched when handed back");
                        handed_back += 1;
                    }
                }
            }
        }
        (fused, handed_back)
    }
    let mut rng = Lcg(31);
    let results = [
        check::<U32, U5>(&mut rng),
        check::<U64, U10>(&mut rng),
        check::<U17, U16>(&mut rng),
        check::<U3, U1>(&mut rng),
        check::<U30, U16>(&mut rng),
        check::<U120, U10>(&mut rng),
    ];
    let fused: usize = results.iter().map(|r| r.0).sum();
    let (_, too_wide) = check::<U16, U17>(&mut rng);
    assert!(too_wide > 0);
    if Isa8::Vnni.available() {
        assert!(fused >= 6 * 6 * 2, "{fused}");
    }
}

/// The batch head with the samples in the lanes ([`dense_softmax_many_sized`]) against the
/// one-sample steps (dense layer, dequantization, `Softmax`), bit for bit: 1 to 40 samples
/// (blocks of 16 and a rest), outputs up to 8 (two chains) and up to 16, inputs of up to 8
/// quads (two samples a vector before the transposition), of 9 to 16 and of more (several
/// blocks of quads, an odd count).
#[test]
fn lanes_head_has_the_bits_of_one_sample_heads() {
    use generic_array::typenum::{U1, U10, U16, U17, U32, U4, U5, U64, U84, U9};
    fn check<I: Unsigned, O: Unsigned>(rng: &mut Lcg) -> (usize, usize) {
        let (mut lanes, mut handed_back) = (0, 0);
        for n in [1usize, 5, 6, 8, 9, 15, 16, 17, 23, 40] {
            let (case, logits) = head_case(rng, I::USIZE, O::USIZE);
            let xs = rng.bytes(n * I::USIZE, -128, 127);
            for rounding in [Rounding::FixedPoint, Rounding::Double] {
                let rq = case.rq(rounding);
                let prepared = Prepared::of(&case.shift, rq.out);
                for (isa, rq) in variants(&rq, &prepared) {
                    let (packed, offset, scale) = (&case.packed, &case.offset, logits.scale);
                    let mut got = vec![-1f32; n * O::USIZE];
                    if !dense_softmax_many_sized::<I, O>(
                        isa, &xs, packed, offset, &rq, scale, &mut got,
                    ) {
                        assert!(got.iter().all(|&v| v == -1.0), "untouched when handed back");
                        handed_back += 1;
                        continue;
                    }
                    for s in 0..n {
                        let x = &xs[s * I::USIZE..(s + 1) * I::USIZE];
                        let (want, q) = head_steps::<I, O>(isa, &case, x, &rq, logits);
                        let row = &got[s * O::USIZE..(s + 1) * O::USIZE];
                        let bits: Vec<u32> = row.iter().map(|f| f.to_bits()).collect();
                        assert_eq!(bits, want, "{isa:?} {rounding:?} {n} {s} {q:?}");
                        lanes += 1;
                    }
                }
            }
        }
        (lanes, handed_back)
    }
    let mut rng = Lcg(37);
    let results = [
        check::<U32, U5>(&mut rng),
        check::<U64, U10>(&mut rng),
        check::<U16, U9>(&mut rng),
        check::<U84, U10>(&mut rng),
        check::<U4, U1>(&mut rng),
        check::<U32, U16>(&mut rng),
    ];
    let lanes: usize = results.iter().map(|r| r.0).sum();
    let handed_back: usize = results.iter().map(|r| r.1).sum();
    // Too many outputs, and inputs not a multiple of 4: always handed back.
    assert_eq!(check::<U16, U17>(&mut rng).0, 0);
    assert_eq!(check::<U17, U5>(&mut rng).0, 0);
    assert!(handed_back > 0);
    if Isa8::Vnni.available() {
        assert!(lanes > 1_000, "{lanes}");
    }
}

/// The 16-lane exponential of the fused head against `math::exp_neg` on a sweep of `f32` bit
/// patterns over [-100, 0] and the special values.
#[cfg(target_arch = "x86_64")]
#[test]
fn vector_exponential_has_the_bits_of_the_scalar_one() {
    use core::arch::x86_64::*;
    if !std::is_x86_feature_detected!("avx512f") {
        return;
    }
    let mut xs: Vec<f32> = vec![
        0.0,
        -0.0,
        f32::NEG_INFINITY,
        f32::NAN,
        -87.336_54,
        -87.336_55,
        -87.336_53,
        f32::MIN,
        -f32::MIN_POSITIVE,
    ];
    let (lo, hi) = ((-100f32).to_bits(), (0f32).to_bits());
    // Negative floats: bit patterns from -0 (0x8000_0000) up to -100.
    xs.extend((0x8000_0000u32..=lo).step_by(997).map(f32::from_bits));
    assert!(hi == 0 && xs.len() > 1_000_000);
    for chunk in xs.chunks(16) {
        let mut lanes = [0f32; 16];
        lanes[..chunk.len()].copy_from_slice(chunk);
        let mut got = [0f32; 16];
        // SAFETY: the CPU has AVX-512F (checked above); 16 lanes each.
        unsafe {
            let v = super::vnni_head::exp_neg(_mm512_loadu_ps(lanes.as_ptr()));
            _mm512_storeu_ps(got.as_mut_ptr(), v);
        }
        for (g, &x) in got.iter().zip(&lanes) {
            let want = crate::math::exp_neg(x);
            assert!(
                g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                "{x}: {g} {want}"
            );
        }
    }
}

mod lanes;
