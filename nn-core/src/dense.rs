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
/// `y[o] += x[i] * w[i][o]` runs over contiguous outputs and vectorizes.
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

impl<I: ArrayLength, O: ArrayLength> Layer<Shape1<I>, Shape1<O>> for Dense<I, O>
where
    I: Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    type Grad = Dense<I, O>;

    #[inline]
    fn forward(&self, x: &Tensor<Shape1<I>>, y: &mut Tensor<Shape1<O>>) {
        // Two independent accumulators halve the FMA dependency chain; every bound is a constant.
        let x = x.as_slice();
        let mut acc0: GenericArray<f32, O> = self.b.clone();
        let mut acc1: GenericArray<f32, O> = GenericArray::default();
        let pairs = I::USIZE / 2;
        for p in 0..pairs {
            let (x0, x1) = (x[2 * p], x[2 * p + 1]);
            let (w0, w1) = (&self.w[2 * p], &self.w[2 * p + 1]);
            for o in 0..O::USIZE {
                acc0[o] += x0 * w0[o];
                acc1[o] += x1 * w1[o];
            }
        }
        if I::USIZE % 2 == 1 {
            let (xl, wl) = (x[I::USIZE - 1], &self.w[I::USIZE - 1]);
            for o in 0..O::USIZE {
                acc0[o] += xl * wl[o];
            }
        }
        let y = y.as_mut_slice();
        for o in 0..O::USIZE {
            y[o] = acc0[o] + acc1[o];
        }
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
                let (gw, w) = (&mut grad.w[i], &self.w[i]);
                let mut s = 0.0f32;
                for o in 0..O::USIZE {
                    gw[o] += xi * dy[o];
                    s += w[o] * dy[o];
                }
                dx[i] = s;
            }
        }
    }
}
