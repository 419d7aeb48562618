//! Small matrix products over [`Isa`], for the dense layer's batched paths: inference over many
//! samples at once, and the backward pass (`dW = xᵀ dy`, `dx = dy Wᵀ`).
//!
//! One product is `Y[r] = act(Σ_k A[r, k] · M[k] + bias)` (or `Y[r] += Σ_k A[r, k] · M[k]`),
//! where `M[k]` and `Y[r]` are rows of `cols` contiguous values and `A[r, k]` a scalar read with
//! any strides. A register block is `P` rows times `T` vectors of columns: per `k` it loads `T`
//! vectors of `M[k]` and broadcasts `P` values of `A`, then does `P * T` FMAs, so each weight
//! loaded serves `P` rows (samples) and each broadcast `T` vectors.

#[cfg(feature = "alloc")]
use crate::kernels::epilogue::Linear;
use crate::kernels::epilogue::{Epilogue, Fused};
use crate::kernels::isa::{Isa, Kernel};

/// `Y = act(A M + bias)`, or `Y += A M`; see the module docs. The slices are checked against the
/// sizes and strides when the kernel runs.
pub(crate) struct Gemm<'a, A> {
    /// Rows of `A` and `Y`.
    pub rows: usize,
    /// Columns of `M` and `Y`.
    pub cols: usize,
    /// Columns of `A`, rows of `M`.
    pub depth: usize,
    /// `A[r, k] = a[r * a_row + k * a_k]`.
    pub a: &'a [f32],
    /// Stride of `A` between rows.
    pub a_row: usize,
    /// Stride of `A` along `k`.
    pub a_k: usize,
    /// `M[k][c] = m[k * m_k + c]`.
    pub m: &'a [f32],
    /// Stride of `M` between rows.
    pub m_k: usize,
    /// `Y[r][c] = y[r * y_row + c]`.
    pub y: &'a mut [f32],
    /// Stride of `Y` between rows.
    pub y_row: usize,
    /// Added to every row before the activation (`cols` values), or `None`.
    pub bias: Option<&'a [f32]>,
    /// Adds the product to `Y` instead of overwriting it (then `bias` and `act` are not used).
    pub accumulate: bool,
    /// Applied to each result (when not accumulating).
    pub act: A,
}

/// Runs a product without activation ([`Linear`]: the dense layer's backward) with the best
/// instruction set, its rows split as [`run_par`]. Not generic, so compiled once, in this crate,
/// not in every crate that trains a network.
#[cfg(feature = "alloc")]
#[inline(never)]
pub(crate) fn run_linear(g: Gemm<'_, Linear>) {
    run_par(g)
}

/// Runs `g` with the best instruction set, its rows split over the threads of
/// [`crate::set_threads`] (each row is computed as on one thread: the same bits for any count).
#[inline(always)]
pub(crate) fn run_par<A: Epilogue>(g: Gemm<'_, A>) {
    let work = g.rows * g.cols * g.depth;
    if g.rows == 0 || g.cols == 0 || g.y_row < g.cols || crate::threads::threads() <= 1 {
        crate::kernels::isa::dispatch(g);
        return;
    }
    let Gemm {
        rows,
        cols,
        depth,
        a,
        a_row,
        a_k,
        m,
        m_k,
        y,
        y_row,
        bias,
        accumulate,
        act,
    } = g;
    let used = ((rows - 1) * y_row + cols).min(y.len());
    crate::threads::for_chunks_mut(&mut y[..used], y_row, work, |r, y| {
        let r0 = r.start / y_row;
        crate::kernels::isa::dispatch(Gemm {
            rows: y.len().div_ceil(y_row),
            cols,
            depth,
            a: a.get(r0 * a_row..).unwrap_or(&[]),
            a_row,
            a_k,
            m,
            m_k,
            y,
            y_row,
            bias,
            accumulate,
            act,
        })
    });
}

/// Most columns of one block, in vectors.
const TMAX: usize = 4;

impl<A: Epilogue> Kernel for Gemm<'_, A> {
    type Out = ();

    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) {
        let g = &self;
        if g.rows == 0 || g.cols == 0 {
            return;
        }
        // Every index the blocks use: A up to (rows-1, depth-1), M up to (depth-1, cols-1),
        // Y up to (rows-1, cols-1), bias up to cols-1.
        let last = |n: usize, stride: usize| (n.max(1) - 1) * stride;
        assert!(
            g.depth == 0 || g.a.len() > last(g.rows, g.a_row) + last(g.depth, g.a_k),
            "A too short"
        );
        assert!(
            g.depth == 0 || g.m.len() >= last(g.depth, g.m_k) + g.cols,
            "M too short"
        );
        assert!(g.y.len() >= last(g.rows, g.y_row) + g.cols, "Y too short");
        assert!(g.bias.is_none_or(|b| b.len() >= g.cols), "bias too short");
        let l = S::LANES;
        let mut c0 = 0;
        while c0 < g.cols {
            let n = (g.cols - c0).min(TMAX * l);
            let t = n.div_ceil(l);
            let mut r0 = 0;
            // SAFETY: checked above: the block reads rows r0..r0 + np (clamped to `rows`),
            // columns c0..c0 + n, every k < depth.
            unsafe {
                // Register blocks by the registers there are (a constant: rustc compiles only
                // the blocks of one row of this table).
                if const { S::REGS >= 32 } {
                    match t {
                        1 => rows::<S, 8, 1, A>(s, g, &mut r0, c0, n),
                        2 => rows::<S, 8, 2, A>(s, g, &mut r0, c0, n),
                        3 => rows::<S, 6, 3, A>(s, g, &mut r0, c0, n),
                        _ => rows::<S, 6, 4, A>(s, g, &mut r0, c0, n),
                    }
                } else {
                    match t {
                        1 => rows::<S, 6, 1, A>(s, g, &mut r0, c0, n),
                        2 => rows::<S, 4, 2, A>(s, g, &mut r0, c0, n),
                        3 => rows::<S, 3, 3, A>(s, g, &mut r0, c0, n),
                        _ => rows::<S, 2, 4, A>(s, g, &mut r0, c0, n),
                    }
                }
            }
            c0 += n;
        }
    }
}

/// All rows for columns `c0..c0 + n` (`n` needs `T` vectors): blocks of `P` rows, then the
/// remaining rows in blocks of 4, 2 and 1 (each at most `P`).
///
/// # Safety
/// The sizes of `g` were checked against its slices; `c0 + n <= cols`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
unsafe fn rows<S: Isa, const P: usize, const T: usize, A: Epilogue>(
    s: S,
    g: &Gemm<'_, A>,
    r0: &mut usize,
    c0: usize,
    n: usize,
) {
    // SAFETY: forwarded; each block covers rows `*r0..*r0 + its P` within `rows`.
    unsafe {
        while g.rows - *r0 >= P {
            block::<S, P, T, A>(s, g, *r0, c0, n);
            *r0 += P;
        }
        if P > 4 && g.rows - *r0 >= 4 {
            block::<S, 4, T, A>(s, g, *r0, c0, n);
            *r0 += 4;
        }
        if P > 2 && g.rows - *r0 >= 2 {
            block::<S, 2, T, A>(s, g, *r0, c0, n);
            *r0 += 2;
        }
        if g.rows - *r0 >= 1 {
            block::<S, 1, T, A>(s, g, *r0, c0, n);
            *r0 += 1;
        }
        if g.rows > *r0 {
            // P == 3 leaves up to 2 rows after the single one.
            rows::<S, 1, T, A>(s, g, r0, c0, n);
        }
    }
}

/// One register block: rows `r0..r0 + P`, columns `c0..c0 + n` with `(T - 1) * LANES < n <=
/// T * LANES`.
///
/// # Safety
/// As for [`rows`], and `r0 + P <= rows`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::needless_range_loop)] // constant indices keep the accumulators in registers
unsafe fn block<S: Isa, const P: usize, const T: usize, A: Epilogue>(
    s: S,
    g: &Gemm<'_, A>,
    r0: usize,
    c0: usize,
    n: usize,
) {
    let l = S::LANES;
    let (a, m) = (g.a.as_ptr(), g.m.as_ptr());
    // SAFETY: the caller checked every A, M, Y and bias index used here against the slices.
    unsafe {
        let (depth, m_k, a_k) = (g.depth, g.m_k, g.a_k);
        let mut acc = [[s.zero(); T]; P];
        let mut ap = [a; P];
        for p in 0..P {
            ap[p] = a.add((r0 + p) * g.a_row);
        }
        // Only the last vector may be partial; a full block has no masked load at all, so the
        // loop has no branches (with one, LLVM kept the accumulators in memory).
        let rem = n - (T - 1) * l;
        let full = rem == l;
        for k in 0..depth {
            let row = m.add(k * m_k + c0);
            let mut mv = [s.zero(); T];
            for t in 0..T - 1 {
                mv[t] = s.load(row.add(t * l));
            }
            mv[T - 1] = if full {
                s.load(row.add((T - 1) * l))
            } else {
                s.load_part(row.add((T - 1) * l), rem)
            };
            for (ar, a) in acc.iter_mut().zip(&ap) {
                let av = s.splat(*a.add(k * a_k));
                for (at, mv) in ar.iter_mut().zip(&mv) {
                    *at = s.fma(av, *mv, *at);
                }
            }
        }
        let y = g.y.as_ptr() as *mut f32;
        for (p, ar) in acc.iter().enumerate() {
            let yr = y.add((r0 + p) * g.y_row + c0);
            for (t, &v) in ar.iter().enumerate() {
                // Full vectors except perhaps the last (a lane count that varies with `t` at run
                // time made LLVM keep the accumulators in memory throughout the loop above).
                let k = if t < T - 1 { l } else { rem };
                let mut v = v;
                if g.accumulate {
                    v = s.add(v, s.load_n(yr.add(t * l), k));
                } else {
                    if let Some(b) = g.bias {
                        v = s.add(v, s.load_n(b.as_ptr().add(c0 + t * l), k));
                    }
                    if A::FUSED == Fused::Relu {
                        // `max(0, v)` returns `v` when it is NaN, as `ReLU` does.
                        v = s.max(s.zero(), v);
                    }
                }
                s.store_n(yr.add(t * l), v, k);
            }
            if !g.accumulate && A::FUSED == Fused::Scalar {
                for c in 0..n {
                    *yr.add(c) = g.act.apply(*yr.add(c));
                }
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

    /// One product to check: sizes, `A` with its strides, `M` (rows of `cols`), the initial `Y`.
    struct Case<'a> {
        rows: usize,
        cols: usize,
        depth: usize,
        a: &'a [f32],
        strides: (usize, usize),
        m: &'a [f32],
        y0: &'a [f32],
        y_row: usize,
        bias: Option<&'a [f32]>,
        accumulate: bool,
    }

    impl Case<'_> {
        /// `Y` by the plain loop, in f64.
        fn reference<A: Epilogue>(&self, act: A) -> Vec<f32> {
            let ((a_row, a_k), y_row) = (self.strides, self.y_row);
            let mut y = self.y0.to_vec();
            for r in 0..self.rows {
                for c in 0..self.cols {
                    let mut v: f64 = (0..self.depth)
                        .map(|k| {
                            self.a[r * a_row + k * a_k] as f64 * self.m[k * self.cols + c] as f64
                        })
                        .sum();
                    if self.accumulate {
                        v += self.y0[r * y_row + c] as f64;
                        y[r * y_row + c] = v as f32;
                    } else {
                        v += self.bias.map_or(0.0, |b| b[c] as f64);
                        y[r * y_row + c] = act.apply(v as f32);
                    }
                }
            }
            y
        }

        /// Runs the kernel with every instruction set of this CPU on copies of `y0`.
        fn every_isa<A: Epilogue>(&self, act: A) -> Vec<(&'static str, Vec<f32>)> {
            let mut out = Vec::new();
            macro_rules! go {
                ($name:literal, $run:expr) => {{
                    let mut y = self.y0.to_vec();
                    let g = Gemm {
                        rows: self.rows,
                        cols: self.cols,
                        depth: self.depth,
                        a: self.a,
                        a_row: self.strides.0,
                        a_k: self.strides.1,
                        m: self.m,
                        m_k: self.cols,
                        y: &mut y,
                        y_row: self.y_row,
                        bias: self.bias,
                        accumulate: self.accumulate,
                        act,
                    };
                    #[allow(clippy::redundant_closure_call)]
                    ($run)(g);
                    out.push(($name, y));
                }};
            }
            go!("portable", |g: Gemm<'_, A>| g
                .run(crate::kernels::isa::Portable));
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: AVX2 and FMA were detected.
                    go!("avx2", |g: Gemm<'_, A>| unsafe {
                        crate::kernels::isa::run_avx2(g)
                    });
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: AVX-512F was detected.
                    go!("avx512", |g: Gemm<'_, A>| unsafe {
                        crate::kernels::isa::run_avx512(g)
                    });
                }
            }
            out
        }

        /// Checks every instruction set against the plain loop; the number of runs.
        fn check<A: Epilogue>(&self, act: A) -> usize {
            let want = self.reference(act);
            let mut runs = 0;
            for (isa, got) in self.every_isa(act) {
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (1.0 + w.abs()) * (self.depth as f32 + 1.0).sqrt();
                    assert!(
                        (g - w).abs() <= tol,
                        "{isa}: {}x{}x{} strides {:?} accumulate {} bias {}: Y[{i}] {g} vs {w}",
                        self.rows,
                        self.cols,
                        self.depth,
                        self.strides,
                        self.accumulate,
                        self.bias.is_some()
                    );
                }
                runs += 1;
            }
            runs
        }
    }

    /// Every block shape and tail, strided and transposed `A`, bias, accumulation and fused
    /// activations, against the plain loop, for every instruction set of the machine.
    #[test]
    fn matches_the_plain_loop() {
        let mut runs = 0;
        for &(rows, cols, depth) in &[
            (1, 1, 1),
            (8, 64, 16),
            (32, 64, 16),
            (13, 5, 32),
            (7, 33, 3),
            (3, 130, 9),
            (17, 120, 256),
            (256, 10, 7),
            (5, 17, 0),
            (9, 48, 2),
        ] {
            let a: Vec<f32> = (0..rows * depth).map(|i| (i as f32 * 0.37).sin()).collect();
            let m: Vec<f32> = (0..depth * cols).map(|i| (i as f32 * 0.53).cos()).collect();
            let bias: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.11).sin()).collect();
            let y_row = cols + 3;
            let y0: Vec<f32> = (0..rows * y_row).map(|i| (i as f32 * 0.29).cos()).collect();
            // A row-major (a_row = depth) and transposed (A[r, k] stored at k * rows + r).
            for strides in [(depth, 1), (1, rows)] {
                for accumulate in [false, true] {
                    for bias in [None, Some(&bias[..])] {
                        let case = Case {
                            rows,
                            cols,
                            depth,
                            a: &a,
                            strides,
                            m: &m,
                            y0: &y0,
                            y_row,
                            bias,
                            accumulate,
                        };
                        runs += case.check(Linear) + case.check(Relu) + case.check(Tanh);
                    }
                }
            }
        }
        assert!(runs >= 10 * 2 * 2 * 2 * 3, "only {runs} runs");
    }
}
