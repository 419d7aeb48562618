//! Fully connected layer.

use generic_array::{ArrayLength, GenericArray};

use crate::init::{Init, Rng};
use crate::layer::{Layer, ParamId, ParamKind, Parameters};
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
        Dense {
            w: GenericArray::default(),
            b: GenericArray::default(),
        }
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

/// Vector width the tiles are sized for (outputs per register), from the compile-time target.
#[cfg(target_feature = "avx512f")]
const LANES: usize = 16;
/// Vector width the tiles are sized for (outputs per register), from the compile-time target.
#[cfg(all(target_feature = "avx", not(target_feature = "avx512f")))]
const LANES: usize = 8;
/// Vector width the tiles are sized for (outputs per register), from the compile-time target.
#[cfg(not(target_feature = "avx"))]
const LANES: usize = 4;

/// `acc += x * row[..W]`.
#[inline(always)]
fn axpy<const W: usize>(acc: &mut [f32; W], x: f32, row: &[f32]) {
    let row = &row[..W];
    for t in 0..W {
        acc[t] += x * row[t];
    }
}

/// One tile of `W` outputs starting at `ob`: `y = act(b + sum_i x[i] w[i][ob..ob + W])`. Input `i`
/// feeds partial sum `i % 4` (four independent dependency chains, written out so the compiler
/// keeps them in registers); the partial sums are added in a fixed order, so every target gives
/// the same bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<const W: usize, F: Fn(f32) -> f32>(
    x: &[f32],
    w: &[f32],
    no: usize,
    ob: usize,
    b: &[f32],
    y: &mut [f32],
    act: &F,
) {
    let n = x.len();
    let (mut a0, mut a1, mut a2, mut a3) = ([0f32; W], [0f32; W], [0f32; W], [0f32; W]);
    let full = n - n % 4;
    let mut i = 0;
    while i < full {
        axpy(&mut a0, x[i], &w[i * no + ob..]);
        axpy(&mut a1, x[i + 1], &w[(i + 1) * no + ob..]);
        axpy(&mut a2, x[i + 2], &w[(i + 2) * no + ob..]);
        axpy(&mut a3, x[i + 3], &w[(i + 3) * no + ob..]);
        i += 4;
    }
    if n - full > 0 {
        axpy(&mut a0, x[full], &w[full * no + ob..]);
    }
    if n - full > 1 {
        axpy(&mut a1, x[full + 1], &w[(full + 1) * no + ob..]);
    }
    if n - full > 2 {
        axpy(&mut a2, x[full + 2], &w[(full + 2) * no + ob..]);
    }
    let (b, y) = (&b[ob..ob + W], &mut y[ob..ob + W]);
    for t in 0..W {
        y[t] = act(b[t] + ((a0[t] + a1[t]) + (a2[t] + a3[t])));
    }
}

/// `y = act(W x + b)`: outputs in tiles two vector registers wide (8 accumulator registers with
/// the 4 partial sums, no spills on any target), then one register wide, then the remainder,
/// whose width is a constant so a single arm of the final `match` survives.
#[inline(always)]
fn dense_forward<I: ArrayLength, O: ArrayLength, F: Fn(f32) -> f32>(
    d: &Dense<I, O>,
    x: &[f32],
    y: &mut [f32],
    act: F,
) {
    let (ni, no) = (I::USIZE, O::USIZE);
    let (x, y, w, b) = (&x[..ni], &mut y[..no], &d.weights()[..ni * no], &d.b[..no]);
    let mut ob = 0;
    while ob + 2 * LANES <= no {
        tile::<{ 2 * LANES }, F>(x, w, no, ob, b, y, &act);
        ob += 2 * LANES;
    }
    while ob + LANES <= no {
        tile::<LANES, F>(x, w, no, ob, b, y, &act);
        ob += LANES;
    }
    macro_rules! rest {
        ($($n:literal)*) => {
            match no - ob {
                $($n => tile::<$n, F>(x, w, no, ob, b, y, &act),)*
                _ => {}
            }
        };
    }
    rest!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
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
    pub fn forward_act<A: crate::activation::Activation>(
        &self,
        x: &Tensor<Shape1<I>>,
        y: &mut Tensor<Shape1<O>>,
        act: A,
    ) {
        dense_forward(self, x.as_slice(), y.as_mut_slice(), |v| act.f(v));
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
        dense_forward(self, x.as_slice(), y.as_mut_slice(), |v| v);
    }

    fn backward_batch(
        &self,
        x: &[Tensor<Shape1<I>>],
        _y: &[Tensor<Shape1<O>>],
        dy: &[Tensor<Shape1<O>>],
        dx: &mut [Tensor<Shape1<I>>],
        grad: &mut Dense<I, O>,
    ) {
        for b in 0..x.len() {
            let (x, dy, dx) = (x[b].as_slice(), dy[b].as_slice(), dx[b].as_mut_slice());
            for (gb, &d) in grad.b.iter_mut().zip(dy) {
                *gb += d;
            }
            for i in 0..I::USIZE {
                let xi = x[i];
                // dW row: contiguous, vectorizes; dx: an 8-lane dot product with the weight row.
                for (g, &d) in grad.w[i].iter_mut().zip(dy) {
                    *g += xi * d;
                }
                dx[i] = crate::math::dot(&self.w[i], dy);
            }
        }
    }
}
