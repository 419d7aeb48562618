//! Fully connected layer.

use generic_array::{ArrayLength, GenericArray};

use crate::activation::{Activation, Fused};
use crate::gemm::Gemm;
use crate::init::{Init, Rng};
use crate::layer::{Layer, ParamId, ParamKind, Parameters};
use crate::simd::{dispatch, Isa, Kernel};
use crate::tensor::{Shape1, Tensor};

/// Fully connected layer: y = W x + b, with `I` inputs and `O` outputs (`Dense(O)` in the DSL).
///
/// Shapes: `[I] -> [O]`; parameters `I * O + O`; multiply-accumulates `I * O`.
/// PyTorch `nn.Linear(I, O)`, Keras `layers.Dense(O)`.
///
/// The weights are stored transposed, `w[i][o]` (PyTorch's `weight[o][i]`), so the inner loop
/// `y[o] += x[i] * w[i][o]` runs over contiguous outputs and vectorizes. The layer is aligned to
/// 64 bytes so weight rows do not straddle cache lines needlessly.
#[repr(C, align(64))]
pub struct Dense<I: ArrayLength, O: ArrayLength> {
    /// Weights, `w[i][o]` is the weight from input `i` to output `o`.
    pub w: GenericArray<GenericArray<f32, O>, I>,
    /// Biases, one per output.
    pub b: GenericArray<f32, O>,
}

impl<I: ArrayLength, O: ArrayLength> Clone for Dense<I, O> {
    fn clone(&self) -> Self {
        Dense {
            w: self.w.clone(),
            b: self.b.clone(),
        }
    }
}

impl<I: ArrayLength, O: ArrayLength> Default for Dense<I, O> {
    /// All zeros.
    fn default() -> Self {
        // SAFETY: `Dense` holds only arrays of `f32` (`GenericArray` is `repr(transparent)` over
        // `[f32; N]`), for which all-zero bits are `0.0`; a memset, unlike the element-by-element
        // `GenericArray::default`.
        unsafe { core::mem::zeroed() }
    }
}

impl<I: ArrayLength, O: ArrayLength> core::fmt::Debug for Dense<I, O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Dense<{}, {}>", I::USIZE, O::USIZE)
    }
}

impl<I: ArrayLength, O: ArrayLength> Dense<I, O> {
    /// Number of inputs.
    pub const INPUTS: usize = I::USIZE;
    /// Number of outputs.
    pub const OUTPUTS: usize = O::USIZE;

    /// A layer drawn with `init` (biases zero).
    pub fn new(init: Init, rng: &mut Rng) -> Self {
        let mut d = Self::default();
        d.init(init, rng);
        d
    }

    /// Redraws the weights in place with `init` and zeroes the biases.
    pub fn init(&mut self, init: Init, rng: &mut Rng) {
        init.fill(self.weights_mut(), I::USIZE, O::USIZE, rng);
        self.b = GenericArray::default();
    }

    /// The weights as one slice in `[in][out]` order.
    pub fn weights(&self) -> &[f32] {
        let rows = self.w.as_slice();
        // SAFETY: `GenericArray<f32, O>` is a `repr(transparent)` `[f32; O]`, so `I` consecutive
        // rows are `I * O` consecutive, initialized `f32`s within one allocation.
        unsafe { core::slice::from_raw_parts(rows.as_ptr() as *const f32, I::USIZE * O::USIZE) }
    }

    /// The weights as one mutable slice in `[in][out]` order.
    pub fn weights_mut(&mut self) -> &mut [f32] {
        let rows = self.w.as_mut_slice();
        // SAFETY: as in `weights`; the exclusive borrow of `self.w` covers the whole slice.
        unsafe {
            core::slice::from_raw_parts_mut(rows.as_mut_ptr() as *mut f32, I::USIZE * O::USIZE)
        }
    }

    /// The weight from input `i` to output `o` (PyTorch's `weight[o][i]`).
    pub fn weight(&self, o: usize, i: usize) -> f32 {
        self.w[i][o]
    }
}

impl<I: ArrayLength, O: ArrayLength> Parameters for Dense<I, O> {
    const COUNT: usize = I::USIZE * O::USIZE + O::USIZE;
    fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId, &[f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Weight,
            },
            self.weights(),
        );
        f(
            ParamId {
                layer,
                name: "bias",
                kind: ParamKind::Bias,
            },
            self.b.as_slice(),
        );
    }
    fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32])) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Weight,
            },
            self.weights_mut(),
        );
        f(
            ParamId {
                layer,
                name: "bias",
                kind: ParamKind::Bias,
            },
            self.b.as_mut_slice(),
        );
    }
    fn zip_mut(
        &mut self,
        o: &Self,
        layer: &'static str,
        f: &mut dyn FnMut(ParamId, &mut [f32], &[f32]),
    ) {
        f(
            ParamId {
                layer,
                name: "weight",
                kind: ParamKind::Weight,
            },
            self.weights_mut(),
            o.weights(),
        );
        f(
            ParamId {
                layer,
                name: "bias",
                kind: ParamKind::Bias,
            },
            self.b.as_mut_slice(),
            o.b.as_slice(),
        );
    }
}

/// `y = act(W x + b)` as a [`Kernel`] for [`dispatch`].
struct DenseForward<'a, I: ArrayLength, O: ArrayLength, A> {
    d: &'a Dense<I, O>,
    x: &'a [f32],
    y: &'a mut [f32],
    act: A,
}

impl<I: ArrayLength, O: ArrayLength, A: Activation> Kernel for DenseForward<'_, I, O, A> {
    type Out = ();
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) {
        let (ni, no) = (I::USIZE, O::USIZE);
        assert!(self.x.len() >= ni && self.y.len() >= no);
        let (x, w, b, y) = (
            self.x.as_ptr(),
            self.d.weights().as_ptr(),
            self.d.b.as_ptr(),
            self.y.as_mut_ptr(),
        );
        let l = S::LANES;
        let big = S::REGS >= 32;
        let tmax = if big { 8 } else { 4 };
        let mut ob = 0;
        // SAFETY: `x` has `ni` cells, `w` `ni * no`, `b` and `y` `no`; every tile reads and
        // writes only outputs `ob..ob + min(T * LANES, no - ob)` (see `tile`).
        unsafe {
            while no - ob >= tmax * l {
                if big {
                    tile::<S, 8, 2, A>(s, ni, no, ob, x, w, b, y, self.act);
                } else {
                    tile::<S, 4, 2, A>(s, ni, no, ob, x, w, b, y, self.act);
                }
                ob += tmax * l;
            }
            match ((no - ob).div_ceil(l), big) {
                (0, _) => {}
                (1, _) => tile::<S, 1, 8, A>(s, ni, no, ob, x, w, b, y, self.act),
                (2, true) => tile::<S, 2, 8, A>(s, ni, no, ob, x, w, b, y, self.act),
                (2, false) => tile::<S, 2, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                (3, _) => tile::<S, 3, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                (4, _) => tile::<S, 4, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                (5, _) => tile::<S, 5, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                (6, _) => tile::<S, 6, 4, A>(s, ni, no, ob, x, w, b, y, self.act),
                (7, _) => tile::<S, 7, 2, A>(s, ni, no, ob, x, w, b, y, self.act),
                _ => tile::<S, 8, 2, A>(s, ni, no, ob, x, w, b, y, self.act),
            }
        }
    }
}

/// Rows ahead to prefetch when the weights do not fit in L1.
const PREFETCH_ROWS: usize = 2;

/// One tile: outputs `ob..ob + n` with `n = min(T * LANES, no - ob)` (at least
/// `(T - 1) * LANES + 1`), as `T` vectors times `C` independent partial sums over the inputs
/// (input `i` feeds sum `i % C`), added pairwise at the end; bias and activation are applied in
/// registers where the activation allows.
///
/// # Safety
/// `x` holds `ni` cells, `w` `ni * no`, `b` and `y` `no`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::needless_range_loop)] // constant indices keep the accumulators in registers
unsafe fn tile<S: Isa, const T: usize, const C: usize, A: Activation>(
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
        let mut acc = [[s.zero(); T]; C];
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
            let mut v = s.add(acc[0][t], s.load_n(b.add(ob + t * l), k));
            if A::FUSED == Fused::Relu {
                // `max(0, v)` returns `v` when it is NaN, as `ReLU` does.
                v = s.max(s.zero(), v);
            }
            s.store_n(y.add(ob + t * l), v, k);
        }
        if A::FUSED == Fused::Scalar {
            for o in ob..ob + n {
                *y.add(o) = act.f(*y.add(o));
            }
        }
    }
}

impl<I, O> Dense<I, O>
where
    I: ArrayLength + Send + Sync + 'static,
    O: ArrayLength + Send + Sync + 'static,
{
    /// Inference with an elementwise activation fused in while the values are in registers:
    /// `y = act(W x + b)`. The code generated by `network!` calls this for `Dense` followed by
    /// an activation.
    #[inline(always)]
    pub fn forward_act<A: Activation>(
        &self,
        x: &Tensor<Shape1<I>>,
        y: &mut Tensor<Shape1<O>>,
        act: A,
    ) {
        Layer::forward_act(self, x, y, act);
    }
}

impl<I: ArrayLength, O: ArrayLength> Layer<Shape1<I>, Shape1<O>> for Dense<I, O>
where
    I: Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    type Grad = Dense<I, O>;

    #[inline(always)]
    fn forward(&self, x: &Tensor<Shape1<I>>, y: &mut Tensor<Shape1<O>>) {
        dispatch(DenseForward {
            d: self,
            x: x.as_slice(),
            y: y.as_mut_slice(),
            act: crate::activation::Identity,
        });
    }

    #[inline(always)]
    fn forward_act<A: Activation>(&self, x: &Tensor<Shape1<I>>, y: &mut Tensor<Shape1<O>>, act: A) {
        dispatch(DenseForward {
            d: self,
            x: x.as_slice(),
            y: y.as_mut_slice(),
            act,
        });
    }

    fn forward_batch(&self, x: &[Tensor<Shape1<I>>], y: &mut [Tensor<Shape1<O>>]) {
        self.forward_batch_act(x, y, crate::activation::Identity);
    }

    /// Batches of 4 and more run as one matrix product (each weight loaded once per block of
    /// samples); smaller ones sample by sample.
    #[inline(always)]
    fn forward_batch_act<A: Activation>(
        &self,
        x: &[Tensor<Shape1<I>>],
        y: &mut [Tensor<Shape1<O>>],
        act: A,
    ) {
        let rows = x.len().min(y.len());
        if rows < 4 {
            for (x, y) in x.iter().zip(y.iter_mut()) {
                Layer::forward_act(self, x, y, act);
            }
            return;
        }
        dispatch(Gemm {
            rows,
            cols: O::USIZE,
            depth: I::USIZE,
            a: Tensor::flatten_batch(&x[..rows]),
            a_row: I::USIZE,
            a_k: 1,
            m: self.weights(),
            m_k: O::USIZE,
            y: Tensor::flatten_batch_mut(&mut y[..rows]),
            y_row: O::USIZE,
            bias: Some(self.b.as_slice()),
            accumulate: false,
            act,
        });
    }

    fn backward_batch(
        &self,
        x: &[Tensor<Shape1<I>>],
        _y: &[Tensor<Shape1<O>>],
        dy: &[Tensor<Shape1<O>>],
        dx: &mut [Tensor<Shape1<I>>],
        grad: &mut Dense<I, O>,
    ) {
        let ni = I::USIZE;
        let n = x.len().min(dy.len()).min(dx.len());
        for dy in &dy[..n] {
            for (gb, &d) in grad.b.iter_mut().zip(dy.as_slice()) {
                *gb += d;
            }
        }
        #[cfg(feature = "alloc")]
        {
            let no = O::USIZE;
            let (xs, dys) = (
                Tensor::flatten_batch(&x[..n]),
                Tensor::flatten_batch(&dy[..n]),
            );
            // dW[i][o] += sum_b x[b][i] dy[b][o]: rows i, depth b (x read transposed).
            dispatch(Gemm {
                rows: ni,
                cols: no,
                depth: n,
                a: xs,
                a_row: 1,
                a_k: ni,
                m: dys,
                m_k: no,
                y: grad.weights_mut(),
                y_row: no,
                bias: None,
                accumulate: true,
                act: crate::activation::Identity,
            });
            // dx[b][i] = sum_o dy[b][o] w[i][o]: the weights transposed once, then rows b.
            let w = self.weights();
            let mut wt = alloc::vec![0.0f32; ni * no];
            for (o, col) in wt.chunks_exact_mut(ni).enumerate() {
                for (i, v) in col.iter_mut().enumerate() {
                    *v = w[i * no + o];
                }
            }
            dispatch(Gemm {
                rows: n,
                cols: ni,
                depth: no,
                a: dys,
                a_row: no,
                a_k: 1,
                m: &wt,
                m_k: ni,
                y: Tensor::flatten_batch_mut(&mut dx[..n]),
                y_row: ni,
                bias: None,
                accumulate: false,
                act: crate::activation::Identity,
            });
        }
        #[cfg(not(feature = "alloc"))]
        for b in 0..n {
            let (x, dy, dx) = (x[b].as_slice(), dy[b].as_slice(), dx[b].as_mut_slice());
            for i in 0..ni {
                let xi = x[i];
                for (g, &d) in grad.w[i].iter_mut().zip(dy) {
                    *g += xi * d;
                }
                dx[i] = crate::math::dot(&self.w[i], dy);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Identity, ReLU, Tanh};
    use std::vec::Vec;

    /// `act(W x + b)` by the plain loop.
    fn reference<I: ArrayLength, O: ArrayLength, A: Activation>(
        d: &Dense<I, O>,
        x: &[f32],
        act: A,
    ) -> Vec<f32> {
        (0..O::USIZE)
            .map(|o| {
                let s: f64 = (0..I::USIZE).map(|i| x[i] as f64 * d.w[i][o] as f64).sum();
                act.f((s + d.b[o] as f64) as f32)
            })
            .collect()
    }

    /// The kernel with every instruction set this CPU has.
    fn every_isa<I: ArrayLength, O: ArrayLength, A: Activation>(
        d: &Dense<I, O>,
        x: &[f32],
        act: A,
    ) -> Vec<(&'static str, Vec<f32>)> {
        let mut out = Vec::new();
        let mut y = std::vec![f32::NAN; O::USIZE];
        DenseForward {
            d,
            x,
            y: &mut y,
            act,
        }
        .run(crate::simd::Portable);
        out.push(("portable", y));
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut y = std::vec![f32::NAN; O::USIZE];
                // SAFETY: AVX2 and FMA were detected.
                unsafe {
                    crate::simd::run_avx2(DenseForward {
                        d,
                        x,
                        y: &mut y,
                        act,
                    })
                };
                out.push(("avx2", y));
            }
            if std::is_x86_feature_detected!("avx512f") {
                let mut y = std::vec![f32::NAN; O::USIZE];
                // SAFETY: AVX-512F was detected.
                unsafe {
                    crate::simd::run_avx512(DenseForward {
                        d,
                        x,
                        y: &mut y,
                        act,
                    })
                };
                out.push(("avx512", y));
            }
        }
        out
    }

    fn check<I: ArrayLength, O: ArrayLength>() -> usize {
        let mut rng = Rng::new(11);
        let d = Dense::<I, O>::new(Init::Xavier, &mut rng);
        let mut d = d;
        for (o, b) in d.b.iter_mut().enumerate() {
            *b = (o as f32 * 0.37).sin();
        }
        let x: Vec<f32> = (0..I::USIZE).map(|i| (i as f32 * 0.71).cos()).collect();
        let mut n = 0;
        macro_rules! with {
            ($act:expr, $name:literal) => {
                let want = reference(&d, &x, $act);
                for (isa, got) in every_isa(&d, &x, $act) {
                    for (o, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - w).abs() <= 1e-5 * (1.0 + w.abs()) * (I::USIZE as f32).sqrt(),
                            "{isa}, {}, Dense<{}, {}>: output {o}: {g} vs {w}",
                            $name,
                            I::USIZE,
                            O::USIZE
                        );
                    }
                    n += 1;
                }
            };
        }
        with!(Identity, "identity");
        with!(ReLU, "relu");
        with!(Tanh, "tanh");
        n
    }

    /// The vector kernel against the plain loop, for every instruction set of the machine and
    /// output counts that are and are not multiples of the vector widths (tails, many tiles).
    #[test]
    fn vector_kernel_matches_the_plain_loop() {
        use typenum::*;
        let n = check::<U16, U64>()
            + check::<U64, U32>()
            + check::<U32, U5>()
            + check::<U256, U120>()
            + check::<U7, U33>()
            + check::<U3, U130>()
            + check::<U1, U1>()
            + check::<U120, U84>()
            + check::<U9, U200>();
        assert!(n >= 27, "only {n} runs");
    }
}
