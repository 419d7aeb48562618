//! One sample through a dense layer: `y = act(W x + b)`, the weights stored `[in][out]` (each
//! input's row of outputs contiguous), as tiles of output vectors times independent partial sums
//! over the inputs (to break the multiply-add latency chain); bias and activation applied in
//! registers.

use core::marker::PhantomData;

use super::epilogue::{Epilogue, Fused};
use super::isa::{Isa, Kernel};

/// The sizes of a dense layer, fixed by a type so that every loop bound of the kernel is a
/// constant (the layer type implements it).
pub trait Dims {
    /// Inputs.
    const INPUTS: usize;
    /// Outputs.
    const OUTPUTS: usize;
}

/// `y = act(W x + b)` for one sample as a [`Kernel`] for [`super::dispatch`]: `x` has
/// `D::INPUTS` values, `w` `D::INPUTS * D::OUTPUTS` (`[in][out]`), `b` and `y` `D::OUTPUTS`.
pub(crate) struct DenseForward<'a, D, A> {
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub b: &'a [f32],
    pub y: &'a mut [f32],
    pub act: A,
    pub dims: PhantomData<D>,
}

impl<D: Dims, A: Epilogue> Kernel for DenseForward<'_, D, A> {
    type Out = ();
    /// Weights that fit in L1 (as for the prefetch below): a latency-bound layer. Larger ones
    /// stream from L2, a stream of 512-bit multiply-adds that gains from 512-bit loads at any
    /// clock (M3's 400 -> 120 layer: M3 (a) 10,380 ns narrow, 10,120 so).
    const NARROW: bool = D::INPUTS * D::OUTPUTS * 4 <= 32 * 1024;
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) {
        let (ni, no) = (D::INPUTS, D::OUTPUTS);
        assert!(
            self.x.len() >= ni
                && self.w.len() >= ni * no
                && self.b.len() >= no
                && self.y.len() >= no
        );
        let (x, w, b, y) = (
            self.x.as_ptr(),
            self.w.as_ptr(),
            self.b.as_ptr(),
            self.y.as_mut_ptr(),
        );
        let l = S::LANES;
        let tmax = const { tmax::<S>() };
        let mut ob = 0;
        // SAFETY: `x` has `ni` cells, `w` `ni * no`, `b` and `y` `no`; every tile reads and
        // writes only outputs `ob..ob + min(T * LANES, no - ob)` (see `tile`).
        unsafe {
            while no - ob >= tmax * l {
                if const { S::REGS >= 32 } {
                    tile::<S, 8, 2, A>(s, ni, no, ob, x, w, b, y, self.act);
                } else {
                    tile::<S, 4, 2, A>(s, ni, no, ob, x, w, b, y, self.act);
                }
                ob += tmax * l;
            }
            // The last tile's vectors (twice, plus one with 32 registers), a constant: rustc
            // compiles only the tile it runs.
            match const { last_tile::<S, D>() } {
                0 | 1 => {}
                2 | 3 => tile::<S, 1, 8, A>(s, ni, no, ob, x, w, b, y, self.act),
                5 => tile::<S, 2, 8, A>(s, ni, no, ob, x, w, b, y, self.act),
                4 => tile::<S, 2, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                6 | 7 => tile::<S, 3, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                8 | 9 => tile::<S, 4, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                10 | 11 => tile::<S, 5, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                12 | 13 => tile::<S, 6, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                14 | 15 => tile::<S, 7, 2, A>(s, ni, no, ob, x, w, b, y, self.act),
                _ => tile::<S, 8, 2, A>(s, ni, no, ob, x, w, b, y, self.act),
            }
        }
    }
}

/// Vectors of outputs per whole tile: 8 with 32 registers, else 4.
const fn tmax<S: Isa>() -> usize {
    if S::REGS >= 32 {
        8
    } else {
        4
    }
}

/// The vectors of the last (partial) tile of `D`'s outputs, times 2, plus 1 with 32 registers.
const fn last_tile<S: Isa, D: Dims>() -> usize {
    let whole = tmax::<S>() * S::LANES;
    (D::OUTPUTS % whole).div_ceil(S::LANES) * 2 + (S::REGS >= 32) as usize
}

/// Rows ahead to prefetch when the weights do not fit in L1.
const PREFETCH_ROWS: usize = 2;

/// One tile: outputs `ob..ob + n` with `n = min(T * LANES, no - ob)` (at least
/// `(T - 1) * LANES + 1`), as `T` vectors times `C` independent partial sums over the inputs
/// (input `i` feeds sum `i % C`; the bias starts sum 0), added pairwise at the end; the
/// activation is applied in registers where it allows.
///
/// # Safety
/// `x` holds `ni` cells, `w` `ni * no`, `b` and `y` `no`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::needless_range_loop)] // constant indices keep the accumulators in registers
unsafe fn tile<S: Isa, const T: usize, const C: usize, A: Epilogue>(
    s: S,
    ni: usize,
    no: usize,
    ob: usize,
    x: *const f32,
    w: *const f32,
    b: *const f32,
    y: *mut f32,
    act: A,
) {
    let l = S::LANES;
    let n = (no - ob).min(T * l);
    let prefetch = ni * no * 4 > 32 * 1024;
    // SAFETY: weight row `i` is `w[i * no..][..no]`; lane counts are clamped to `n` per vector.
    unsafe {
        // The bias starts the first partial sum: one addition less on the chain to the output.
        let mut acc = [[s.zero(); T]; C];
        for t in 0..T {
            acc[0][t] = s.load_n(b.add(ob + t * l), n - t * l);
        }
        let full = ni / C * C;
        let mut i = 0;
        while i < full {
            for (c, a) in acc.iter_mut().enumerate() {
                let xs = s.splat(*x.add(i + c));
                let row = w.add((i + c) * no + ob);
                if prefetch {
                    // Weights larger than L1 stream from L2: ask for rows ahead.
                    for t in 0..(T * l).div_ceil(16) {
                        s.prefetch(row.wrapping_add(PREFETCH_ROWS * no + t * 16));
                    }
                }
                for (t, at) in a.iter_mut().enumerate() {
                    *at = s.fma(xs, s.load_n(row.add(t * l), n - t * l), *at);
                }
            }
            i += C;
        }
        for (c, a) in acc.iter_mut().enumerate() {
            if full + c < ni {
                let xs = s.splat(*x.add(full + c));
                let row = w.add((full + c) * no + ob);
                for (t, at) in a.iter_mut().enumerate() {
                    *at = s.fma(xs, s.load_n(row.add(t * l), n - t * l), *at);
                }
            }
        }
        // Pairwise sum of the partial sums: C -> C/2 -> ... -> 1.
        let mut width = C;
        while width > 1 {
            width /= 2;
            for c in 0..width {
                for t in 0..T {
                    acc[c][t] = s.add(acc[c][t], acc[c + width][t]);
                }
            }
        }
        for t in 0..T {
            let k = n - t * l;
            let mut v = acc[0][t];
            if A::FUSED == Fused::Relu {
                // `max(0, v)` returns `v` when it is NaN, as `ReLU` does.
                v = s.max(s.zero(), v);
            }
            // Plain stores: the next layer reads these one at a time.
            s.store_out(y.add(ob + t * l), v, k);
        }
        if A::FUSED == Fused::Scalar {
            for o in ob..ob + n {
                *y.add(o) = act.apply(*y.add(o));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::epilogue::test_epilogues::{Relu, Tanh};
    use crate::kernels::epilogue::Linear;
    use std::vec::Vec;

    /// Sizes for the tests.
    struct Sizes<const I: usize, const O: usize>;
    impl<const I: usize, const O: usize> Dims for Sizes<I, O> {
        const INPUTS: usize = I;
        const OUTPUTS: usize = O;
    }

    /// `act(W x + b)` by the plain loop (`w` is `[in][out]`).
    fn reference<A: Epilogue>(
        ni: usize,
        no: usize,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        act: A,
    ) -> Vec<f32> {
        (0..no)
            .map(|o| {
                let s: f64 = (0..ni).map(|i| x[i] as f64 * w[i * no + o] as f64).sum();
                act.apply((s + b[o] as f64) as f32)
            })
            .collect()
    }

    /// The kernel with every instruction set this CPU has.
    fn every_isa<const I: usize, const O: usize, A: Epilogue>(
        w: &[f32],
        b: &[f32],
        x: &[f32],
        act: A,
    ) -> Vec<(&'static str, Vec<f32>)> {
        fn kernel<'a, const I: usize, const O: usize, A>(
            (w, b, x): (&'a [f32], &'a [f32], &'a [f32]),
            y: &'a mut [f32],
            act: A,
        ) -> DenseForward<'a, Sizes<I, O>, A> {
            DenseForward {
                x,
                w,
                b,
                y,
                act,
                dims: PhantomData,
            }
        }
        let mut out = Vec::new();
        let mut y = std::vec![f32::NAN; O];
        kernel::<I, O, A>((w, b, x), &mut y, act).run(crate::kernels::isa::Portable);
        out.push(("portable", y));
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut y = std::vec![f32::NAN; O];
                // SAFETY: AVX2 and FMA were detected.
                unsafe { crate::kernels::isa::run_avx2(kernel::<I, O, A>((w, b, x), &mut y, act)) };
                out.push(("avx2", y));
            }
            if std::is_x86_feature_detected!("avx512f") {
                let mut y = std::vec![f32::NAN; O];
                // SAFETY: AVX-512F was detected.
                unsafe {
                    crate::kernels::isa::run_avx512(kernel::<I, O, A>((w, b, x), &mut y, act))
                };
                out.push(("avx512", y));
            }
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
            {
                let mut y = std::vec![f32::NAN; O];
                // SAFETY: AVX-512F and VL were detected.
                unsafe {
                    crate::kernels::isa::run_avx512_ymm(kernel::<I, O, A>((w, b, x), &mut y, act))
                };
                out.push(("avx512 ymm", y));
            }
        }
        out
    }

    fn check<const I: usize, const O: usize>() -> usize {
        let mut seed = 11u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 2.0 * (6.0 / (I + O) as f32).sqrt()
        };
        let w: Vec<f32> = (0..I * O).map(|_| rnd()).collect();
        let b: Vec<f32> = (0..O).map(|o| (o as f32 * 0.37).sin()).collect();
        let x: Vec<f32> = (0..I).map(|i| (i as f32 * 0.71).cos()).collect();
        let mut n = 0;
        macro_rules! with {
            ($act:expr, $name:literal) => {
                let want = reference(I, O, &w, &b, &x, $act);
                for (isa, got) in every_isa::<I, O, _>(&w, &b, &x, $act) {
                    for (o, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - w).abs() <= 1e-5 * (1.0 + w.abs()) * (I as f32).sqrt(),
                            "{isa}, {}, Dense<{}, {}>: output {o}: {g} vs {w}",
                            $name,
                            I,
                            O
                        );
                    }
                    n += 1;
                }
            };
        }
        with!(Linear, "identity");
        with!(Relu, "relu");
        with!(Tanh, "tanh");
        n
    }

    /// The vector kernel against the plain loop, for every instruction set of the machine and
    /// output counts that are and are not multiples of the vector widths (tails, many tiles).
    #[test]
    fn vector_kernel_matches_the_plain_loop() {
        let n = check::<16, 64>()
            + check::<64, 32>()
            + check::<32, 5>()
            + check::<256, 120>()
            + check::<7, 33>()
            + check::<3, 130>()
            + check::<1, 1>()
            + check::<120, 84>()
            + check::<9, 200>()
            + check::<5, 15>()
            + check::<4, 7>()
            + check::<6, 14>();
        assert!(n >= 27, "only {n} runs");
    }
}
