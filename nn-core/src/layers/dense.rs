//! Fully connected layer.

use core::marker::PhantomData;

use generic_array::{ArrayLength, GenericArray};

use super::activation::Activation;
use super::batch_norm::BatchNorm;
use super::{
    FieldInfo, Layer, LayerTensors, Layout, ParamId, ParamKind, Parameters, TensorSpec, Zeroable,
};
use crate::init::{Init, Rng};
use crate::kernels::dense::{DenseForward, Dims};
use crate::kernels::dispatch;
#[cfg(feature = "alloc")]
use crate::kernels::epilogue::Linear;
use crate::kernels::gemm::Gemm;
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

impl<I: ArrayLength, O: ArrayLength> PartialEq for Dense<I, O> {
    /// Equal weights and biases (as `f32`s: NaN is never equal).
    fn eq(&self, other: &Self) -> bool {
        self.weights() == other.weights() && self.b == other.b
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

/// The kernel's view of the sizes: constants of the type.
impl<I: ArrayLength, O: ArrayLength> Dims for Dense<I, O> {
    const INPUTS: usize = I::USIZE;
    const OUTPUTS: usize = O::USIZE;
}

// SAFETY: `Dense` holds only `f32` arrays.
unsafe impl<I: ArrayLength, O: ArrayLength> Zeroable for Dense<I, O> {}

/// Keras row index of input `i` (C, H, W order) after a flatten of `[c, h, w]`: H, W, C order.
fn keras_row(i: usize, info: FieldInfo) -> usize {
    match info.flatten_chw {
        Some([c, h, w]) => {
            let (ci, rest) = (i / (h * w), i % (h * w));
            rest * c + ci
        }
        None => i,
    }
}

/// PyTorch: `weight` `[out, in]`, `bias` `[out]`; Keras: `kernel` `[in, out]` (its rows in H, W,
/// C order after the `Flatten` of an image), `bias`.
impl<I: ArrayLength, O: ArrayLength> LayerTensors for Dense<I, O> {
    fn tensor_count(&self) -> usize {
        2
    }
    fn tensor_spec(&self, i: usize, layout: Layout) -> TensorSpec {
        let (ni, no) = (I::USIZE, O::USIZE);
        match (i, layout) {
            (0, Layout::PyTorch) => TensorSpec::new("weight", &[no, ni]),
            (0, Layout::Keras) => TensorSpec::new("kernel", &[ni, no]),
            _ => TensorSpec::new("bias", &[no]),
        }
    }
    fn read_tensor(&self, t: usize, layout: Layout, info: FieldInfo, out: &mut [f32]) {
        let (ni, no) = (I::USIZE, O::USIZE);
        match (t, layout) {
            (0, Layout::PyTorch) => {
                for i in 0..ni {
                    for o in 0..no {
                        out[o * ni + i] = self.w[i][o];
                    }
                }
            }
            (0, Layout::Keras) => {
                for i in 0..ni {
                    out[keras_row(i, info) * no..][..no].copy_from_slice(&self.w[i]);
                }
            }
            _ => out.copy_from_slice(&self.b),
        }
    }
    fn write_tensor(&mut self, t: usize, layout: Layout, info: FieldInfo, data: &[f32]) {
        let (ni, no) = (I::USIZE, O::USIZE);
        match (t, layout) {
            (0, Layout::PyTorch) => {
                for i in 0..ni {
                    for o in 0..no {
                        self.w[i][o] = data[o * ni + i];
                    }
                }
            }
            (0, Layout::Keras) => {
                for i in 0..ni {
                    self.w[i].copy_from_slice(&data[keras_row(i, info) * no..][..no]);
                }
            }
            _ => self.b.copy_from_slice(data),
        }
    }
}

impl<I: ArrayLength, O: ArrayLength> Dense<I, O> {
    /// This layer followed by `bn` (inference form) as one Dense layer:
    /// BN(W x + b) = (a W) x + (a b + c) with a = gamma / sqrt(running_var + eps) and
    /// c = beta - a running_mean, per output.
    pub fn fold_batchnorm(&self, bn: &BatchNorm<O>) -> Self {
        let mut out = self.clone();
        for o in 0..O::USIZE {
            let (a, c) = bn.affine(o);
            for i in 0..I::USIZE {
                out.w[i][o] *= a;
            }
            out.b[o] = a * self.b[o] + c;
        }
        out
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
        self.forward_act(x, y, super::activation::Identity);
    }

    #[inline(always)]
    fn forward_act<A: Activation>(&self, x: &Tensor<Shape1<I>>, y: &mut Tensor<Shape1<O>>, act: A) {
        dispatch(DenseForward::<Self, A> {
            x: x.as_slice(),
            w: self.weights(),
            b: &self.b,
            y: y.as_mut_slice(),
            act,
            dims: PhantomData,
        });
    }

    fn forward_batch(&self, x: &[Tensor<Shape1<I>>], y: &mut [Tensor<Shape1<O>>]) {
        self.forward_batch_act(x, y, super::activation::Identity);
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
        crate::kernels::gemm::run_par(Gemm {
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
            crate::kernels::gemm::run_linear(Gemm {
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
                act: Linear,
            });
            // dx[b][i] = sum_o dy[b][o] w[i][o]: the weights transposed once, then rows b.
            let w = self.weights();
            let mut wt = alloc::vec![0.0f32; ni * no];
            for (o, col) in wt.chunks_exact_mut(ni).enumerate() {
                for (i, v) in col.iter_mut().enumerate() {
                    *v = w[i * no + o];
                }
            }
            crate::kernels::gemm::run_linear(Gemm {
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
                act: Linear,
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
