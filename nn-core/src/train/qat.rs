//! Quantization-aware training: fake quantization of the parameters with a straight-through
//! estimator, for the fixed-point twins (`#[fixed(...)]`, `Name::to_fixed()`) and the int8
//! twins (`Name::quantize_int8`). The method is described on [`FakeQuantize`].

use core::fmt;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use nn_fixed::{Fixed, Spec};

use super::io::StateDict;
use crate::layers::{FieldInfo, Layout, ParamId, ParamKind, Parameters};

/// One parameter tensor as [`FakeQuantize::quantize`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct ParamTensor<'a> {
    /// The tensor's name: layer (`fc1`), name in the layer (`weight`, `bias`) and kind.
    pub id: ParamId,
    /// Its shape in PyTorch's layout (`[out, in]` for `Dense`, `[out, in, k]` for `Conv1d`,
    /// `[out, in, kh, kw]` for `Conv2d`, `[out]` for biases), as in weight files.
    pub shape: &'a [usize],
    /// The number of output channels of a weight tensor ([`ParamKind::Weight`]: `shape[0]`), 1
    /// for the others. In the slice given to [`FakeQuantize::quantize`] (nn's memory layout,
    /// not PyTorch's) value `k` belongs to output channel `k % channels`: `Dense` and the
    /// convolutions keep the output channel innermost (`w[i][o]`, `w[ky][kx][ci][co]`).
    pub channels: usize,
}

/// How quantization-aware training quantizes each parameter tensor
/// ([`Trainer::quantization_aware`](crate::Trainer::quantization_aware)).
///
/// [`FakeQuant`] implements it for the fixed-point and int8 twins; implement it for another
/// scheme. `quantize` is called on every parameter tensor before each training step and each
/// validation pass (with the master values, which it replaces by the quantized ones) and must be
/// deterministic: the network after `fit` holds the master values, and quantizing them again must
/// give what training used.
///
/// With a quantizer, each training step of [`Trainer::fit`](crate::Trainer::fit)
/// 1. keeps the f32 *master* parameters aside and replaces every parameter tensor of the
///    network, in place, by its quantized values;
/// 2. runs the forward and backward pass with those values: the loss is the quantized
///    network's, and so is the gradient;
/// 3. puts the master parameters back and lets the optimizer apply that gradient to them. This
///    is the straight-through estimator (Bengio et al. 2013; Jacob et al. 2018): the rounding is
///    treated as the identity in the backward pass, so the gradient with respect to the
///    quantized weight is used as the gradient with respect to the master weight, and small
///    updates accumulate in the master weights until they move a quantized value to the next
///    step of the grid. Weight decay acts on the master weights.
///
/// Validation (given or held out) evaluates the quantized parameters, so early stopping and
/// the checkpoint pick the epoch whose *quantized* network has the lowest validation loss; what
/// is kept (the restored best epoch, the checkpoint file) and what the network holds after
/// `fit` are the master weights of that epoch. Quantizing them again (`to_fixed()`,
/// `quantize_int8`, or [`fake_quantize`]) gives exactly the values training used, because
/// [`FakeQuant`] quantizes as the twins do. The training loss and accuracy in the
/// [`History`](crate::History) are the quantized network's too.
///
/// Only parameters are quantized: activations (layer outputs, accumulators, the softmax tables
/// of the fixed-point twin, the int8 twin's activation scales) stay in f32 during training, and
/// the twin quantizes them afterwards; training learns weights that survive their own
/// quantization, not the activations'. (The generated training forward has no hook between
/// layers.) Batch-norm statistics are updated by the quantized forward pass as usual.
///
/// Non-finite master parameters are quantized to NaN by [`FakeQuant`] (not to hls4ml's 0 or
/// the int8 twin's clamp), so that a diverging run still ends in
/// [`Error::NonFinite`](crate::Error::NonFinite), as without quantization; `fit` puts the master
/// parameters back before returning any error.
pub trait FakeQuantize: fmt::Debug + Send + Sync {
    /// Replaces `values`, the master values of `tensor` in nn's memory layout, by their
    /// quantized values (leave them unchanged to keep a tensor in f32).
    fn quantize(&self, tensor: &ParamTensor<'_>, values: &mut [f32]);
}

/// The fake quantization of nn's twins: fixed point as `Name::to_fixed()` converts weights
/// ([`FakeQuant::fixed`], [`FakeQuant::fixed_layers`]) or int8 as `Name::quantize_int8` does
/// ([`FakeQuant::int8`]). Parameters that are neither weights nor biases (batch-norm scale and
/// shift, PReLU slopes) stay in f32 in both.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeQuant {
    scheme: Scheme,
}

#[derive(Debug, Clone, PartialEq)]
enum Scheme {
    Fixed {
        /// Weight and bias types of layers without their own.
        default: Option<(Spec, Spec)>,
        /// `(layer, weight, bias)`.
        layers: Vec<(String, Spec, Spec)>,
    },
    Int8,
}

impl FakeQuant {
    /// Every weight and bias in the fixed-point type `spec` (the twin's `weight_t` and `bias_t`
    /// of `#[fixed(default = "...")]`), converted as `to_fixed()` converts them: hls4ml's weight
    /// text (`'{:.Ff}'`, `F` the fractional bits), read back as a `double` and converted with the
    /// type's quantization and overflow modes ([`fixed_point::ops::hls4ml_weight`]), so a weight
    /// beyond the range of an `AP_WRAP` type wraps around here as in the twin.
    ///
    /// [`fixed_point::ops::hls4ml_weight`]: crate::fixed_point::ops::hls4ml_weight
    pub fn fixed(spec: Spec) -> FakeQuant {
        FakeQuant {
            scheme: Scheme::Fixed {
                default: Some((spec, spec)),
                layers: Vec::new(),
            },
        }
    }

    /// The weights and biases of layer `layer` (its name in the network: `fc1`) in `weight` and
    /// `bias` instead (`#[fixed(fc1(weight = "...", bias = "..."))]`). Later calls for the same
    /// layer replace earlier ones; no effect on [`FakeQuant::int8`].
    pub fn layer(mut self, layer: &str, weight: Spec, bias: Spec) -> FakeQuant {
        if let Scheme::Fixed { layers, .. } = &mut self.scheme {
            layers.retain(|(l, _, _)| l != layer);
            layers.push((layer.to_string(), weight, bias));
        }
        self
    }

    /// Exactly the weight and bias types of a fixed-point twin:
    /// `FakeQuant::fixed_layers(NameFixed::PARAM_TYPES)` (generated for every `#[fixed]` twin,
    /// `(layer, weight_t, bias_t)` of each Dense layer and convolution). Layers not listed stay in
    /// f32.
    pub fn fixed_layers(types: &[(&str, Spec, Spec)]) -> FakeQuant {
        FakeQuant {
            scheme: Scheme::Fixed {
                default: None,
                layers: types
                    .iter()
                    .map(|&(layer, w, b)| (layer.to_string(), w, b))
                    .collect(),
            },
        }
    }

    /// The int8 twin's weights (`Name::quantize_int8`, TFLite's per-channel scheme): per output
    /// channel the scale `s = max |w| / 127` (1 for a channel of zeros) and the weight
    /// `round(w / s)` (half away from zero) in `[-127, 127]`, times `s`. Biases stay in f32: the
    /// twin stores them as int32 in units of `input scale * s`, a step far below what training
    /// resolves, and that scale depends on the calibration of activations, done afterwards.
    /// Networks with batch normalization: the twin quantizes the weights after folding the batch
    /// norms into them, so this quantization of the unfolded weights is an approximation there.
    pub fn int8() -> FakeQuant {
        FakeQuant {
            scheme: Scheme::Int8,
        }
    }

    /// The fixed-point weight and bias types of layer `layer`, if it is quantized.
    fn fixed_specs(&self, layer: &str) -> Option<(Spec, Spec)> {
        match &self.scheme {
            Scheme::Fixed { default, layers } => layers
                .iter()
                .find(|(l, _, _)| l == layer)
                .map(|&(_, w, b)| (w, b))
                .or(*default),
            Scheme::Int8 => None,
        }
    }
}

impl FakeQuantize for FakeQuant {
    fn quantize(&self, tensor: &ParamTensor<'_>, values: &mut [f32]) {
        match (&self.scheme, tensor.id.kind) {
            (Scheme::Int8, ParamKind::Weight) => fake_int8(values, tensor.channels),
            (Scheme::Fixed { .. }, kind @ (ParamKind::Weight | ParamKind::Bias)) => {
                if let Some((w, b)) = self.fixed_specs(tensor.id.layer) {
                    let spec = if kind == ParamKind::Weight { w } else { b };
                    for v in values {
                        *v = fake_fixed(*v, spec);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `w` as the fixed-point twin holds it, as an f32: `spec`'s value of
/// [`hls4ml_weight(w, spec)`](crate::fixed_point::ops::hls4ml_weight) (what `Name::to_fixed()`
/// stores), rounded to f32 (exact for types of at most 24 significant bits). NaN for a
/// non-finite `w`.
pub fn fake_fixed(w: f32, spec: Spec) -> f32 {
    if !w.is_finite() {
        return f32::NAN;
    }
    spec.to_f64(Fixed::from_raw(hls4ml_raw(w, spec))) as f32
}

/// [`hls4ml_weight`](crate::fixed_point::ops::hls4ml_weight), without printing the weight when
/// the text cannot change the result: the text is `w` correctly rounded to `F` decimals, so
/// within `10^-F / 2` of `w`; when `w - 10^-F` and `w + 10^-F` convert to the same raw value,
/// every value between them does too (conversion is monotone, then overflow-handled, and an
/// interval narrower than one step cannot wrap around), the text's included.
fn hls4ml_raw(w: f32, spec: Spec) -> i64 {
    let f = spec.frac_bits();
    if (1..=30).contains(&f) {
        let d = libm::pow(10.0, -f as f64);
        let x = w as f64;
        // The sums must be accurate to well within `d / 2`: |x| ulps below d / 4.
        if x.abs() < d * (1u64 << 50) as f64 {
            let lo = spec.from_f64(x - d).raw;
            if lo == spec.from_f64(x + d).raw {
                return lo;
            }
        }
    }
    nn_fixed::ops::hls4ml_weight(w, spec)
}

/// Fake int8 quantization of a weight tensor in place, as [`FakeQuant::int8`] describes it:
/// value `k` belongs to channel `k % channels` (nn's layout). Non-finite values become NaN.
pub fn fake_int8(values: &mut [f32], channels: usize) {
    let channels = channels.max(1);
    for c in 0..channels.min(values.len()) {
        let m = values[c..]
            .iter()
            .step_by(channels)
            .fold(0.0f32, |m, v| m.max(v.abs()));
        let s = if m > 0.0 && m.is_finite() {
            m / 127.0
        } else {
            1.0
        };
        for v in values[c..].iter_mut().step_by(channels) {
            *v = if v.is_finite() {
                libm::roundf(*v / s).clamp(-127.0, 127.0) * s
            } else {
                f32::NAN
            };
        }
    }
}

/// Replaces the parameters of `net` by their quantized values, once (what each step of
/// quantization-aware training does before its forward pass): for example to evaluate the
/// quantized network in f32, or to look at the values training used.
pub fn fake_quantize<N: Parameters + StateDict>(net: &mut N, quantizer: &dyn FakeQuantize) {
    let layout = ParamLayout::of(net);
    let mut i = 0;
    net.visit_mut("", &mut |id, values| {
        let t = &layout.tensors[i];
        i += 1;
        quantizer.quantize(&t.view(id), values);
    });
}

/// The shapes and channels of a network's parameter tensors, in visit order.
struct ParamLayout {
    tensors: Vec<TensorLayout>,
}

struct TensorLayout {
    shape: Vec<usize>,
    channels: usize,
}

impl TensorLayout {
    fn view(&self, id: ParamId) -> ParamTensor<'_> {
        ParamTensor {
            id,
            shape: &self.shape,
            channels: self.channels,
        }
    }
}

impl ParamLayout {
    fn of<N: Parameters + StateDict>(net: &N) -> ParamLayout {
        let mut dict = Vec::new();
        net.export("", Layout::PyTorch, FieldInfo::default(), &mut dict);
        let mut tensors = Vec::new();
        net.visit("", &mut |id, values| {
            let name = if id.layer.is_empty() {
                id.name.to_string()
            } else {
                format!("{}.{}", id.layer, id.name)
            };
            let shape = dict
                .iter()
                .find(|t| t.name == name && t.data.len() == values.len())
                .map_or_else(|| std::vec![values.len()], |t| t.shape.clone());
            let channels = match (id.kind, shape.first()) {
                (ParamKind::Weight, Some(&c)) if c > 0 && values.len() % c == 0 => c,
                _ => 1,
            };
            tensors.push(TensorLayout { shape, channels });
        });
        ParamLayout { tensors }
    }
}

/// The trainer's side of quantization-aware training: the master parameters while the network
/// holds the quantized ones.
pub(crate) struct Qat<'q> {
    quantizer: &'q dyn FakeQuantize,
    layout: ParamLayout,
    master: Vec<f32>,
    /// Whether the network holds quantized values (and `master` the master ones).
    quantized: bool,
}

impl<'q> Qat<'q> {
    pub(crate) fn new<N: Parameters + StateDict>(quantizer: &'q dyn FakeQuantize, net: &N) -> Self {
        let layout = ParamLayout::of(net);
        let n = layout
            .tensors
            .iter()
            .map(|t| t.shape.iter().product::<usize>())
            .sum();
        Qat {
            quantizer,
            layout,
            master: Vec::with_capacity(n),
            quantized: false,
        }
    }

    /// Keeps the master parameters and quantizes the network's in place (once: a second call
    /// before [`Qat::restore`] does nothing).
    pub(crate) fn quantize<N: Parameters>(&mut self, net: &mut N) {
        if self.quantized {
            return;
        }
        self.master.clear();
        let (layout, master, quantizer) = (&self.layout, &mut self.master, self.quantizer);
        let mut i = 0;
        net.visit_mut("", &mut |id, values| {
            master.extend_from_slice(values);
            quantizer.quantize(&layout.tensors[i].view(id), values);
            i += 1;
        });
        self.quantized = true;
    }

    /// Puts the master parameters back (nothing if the network holds them).
    pub(crate) fn restore<N: Parameters>(&mut self, net: &mut N) {
        if !self.quantized {
            return;
        }
        let mut off = 0;
        let master = &self.master;
        net.visit_mut("", &mut |_, values| {
            values.copy_from_slice(&master[off..off + values.len()]);
            off += values.len();
        });
        self.quantized = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::calibrate::quantize_per_channel;
    use nn_fixed::{Overflow, Quant};

    fn on_grid(v: f32, spec: Spec) -> bool {
        let scaled = libm::ldexp(v as f64, spec.frac_bits());
        scaled == libm::round(scaled)
            && (spec.min_raw() as f64..=spec.max_raw() as f64).contains(&scaled)
    }

    #[test]
    fn fixed_values_are_the_twins_weights_on_the_grid() {
        let spec = Spec::ap_fixed(6, 2);
        for (w, want) in [
            (0.3f32, 0.25f32), // AP_TRN: floor to 1/16
            (-0.3, -0.3125),
            (1.9, 1.875),
            (2.5, -1.5), // AP_WRAP: 2.5 is 40/16, wraps to 40 - 64 = -24
            (0.0, 0.0),
        ] {
            assert_eq!(fake_fixed(w, spec), want, "{w}");
        }
        let sat = spec.with_quant(Quant::Rnd).with_overflow(Overflow::Sat);
        assert_eq!(fake_fixed(0.3, sat), 0.3125);
        assert_eq!(fake_fixed(2.5, sat), 1.9375);
        assert_eq!(fake_fixed(-9.0, sat), -2.0);
        assert!(fake_fixed(f32::NAN, spec).is_nan());
        assert!(fake_fixed(f32::INFINITY, sat).is_nan());
    }

    /// The shortcut past the weight text agrees with `hls4ml_weight` everywhere, grid points and
    /// ties included.
    #[test]
    fn shortcut_equals_hls4ml_weight() {
        let mut rng = crate::Rng::new(5);
        let mut specs = Vec::new();
        for (w, i) in [
            (6u8, 2i16),
            (8, 3),
            (16, 6),
            (12, 3),
            (24, 2),
            (32, 4),
            (4, 8),
            (10, -2),
        ] {
            for q in Quant::ALL {
                for o in Overflow::ALL {
                    specs.push(Spec::new(w, i, true, q, o));
                }
            }
            specs.push(Spec::ap_ufixed(w, i));
        }
        let mut checked = 0;
        for spec in specs {
            let ulp = spec.ulp();
            for k in 0..400 {
                let u = rng.uniform() as f64 * 2.0 - 1.0;
                let base = u * libm::ldexp(1.0, spec.int_bits() as i32 + 1);
                // Random values, grid points, ties and their f32 neighbours.
                let grid = libm::round(base / ulp) * ulp;
                let x = match k % 4 {
                    0 => base,
                    1 => grid,
                    2 => grid + ulp / 2.0,
                    _ => grid + ulp * 1e-7 * u,
                } as f32;
                for w in [x, x.next_up(), x.next_down()] {
                    assert_eq!(
                        hls4ml_raw(w, spec),
                        nn_fixed::ops::hls4ml_weight(w, spec),
                        "{w:e} in {spec}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn fixed_values_lie_on_the_grid() {
        let spec = Spec::ap_fixed(8, 3).with_quant(Quant::RndConv);
        let mut rng = crate::Rng::new(1);
        for _ in 0..10_000 {
            let w = (rng.uniform() - 0.5) * 20.0;
            assert!(on_grid(fake_fixed(w, spec), spec), "{w}");
        }
    }

    #[test]
    fn int8_equals_the_twins_per_channel_scheme() {
        // Three output channels, four inputs, in nn's layout (channel innermost).
        let (ch, n_in) = (3usize, 4usize);
        let mut rng = crate::Rng::new(2);
        let mut w: Vec<f32> = (0..ch * n_in).map(|_| rng.uniform() * 2.0 - 1.0).collect();
        w[1] = 0.0; // a channel with a zero
        for i in 0..n_in {
            w[i * ch + 2] *= 1e-3; // a small channel
        }
        // PyTorch layout [out][in] for the reference.
        let torch: Vec<f32> = (0..ch)
            .flat_map(|o| (0..n_in).map(move |i| (o, i)))
            .map(|(o, i)| w[i * ch + o])
            .collect();
        let (q, scales) = quantize_per_channel(&torch, ch);
        let mut fake = w.clone();
        fake_int8(&mut fake, ch);
        for o in 0..ch {
            for i in 0..n_in {
                let want = q[o * n_in + i] as f32 * scales[o];
                assert_eq!(fake[i * ch + o], want, "channel {o}, input {i}");
            }
            // The largest weight of a channel is exactly +-127 steps.
            let m = (0..n_in)
                .map(|i| fake[i * ch + o].abs())
                .fold(0.0, f32::max);
            assert_eq!(m, scales[o] * 127.0);
        }
        let mut zeros = [0.0f32; 4];
        fake_int8(&mut zeros, 2);
        assert_eq!(zeros, [0.0; 4]);
        let mut bad = [1.0, f32::NAN, 0.5, 0.25];
        fake_int8(&mut bad, 1);
        assert!(bad[1].is_nan() && bad[0] == 1.0);
    }

    #[test]
    fn fixed_layers_lists_each_layers_types() {
        let fc1 = (
            Spec::parse("ap_fixed<12,3,AP_RND>").unwrap(),
            Spec::parse("ap_fixed<10,2,AP_RND,AP_SAT>").unwrap(),
        );
        let out = (Spec::ap_fixed(8, 1), Spec::ap_fixed(8, 3));
        let q = FakeQuant::fixed_layers(&[("fc1", fc1.0, fc1.1), ("out", out.0, out.1)]);
        assert_eq!(q.fixed_specs("fc1"), Some(fc1));
        assert_eq!(q.fixed_specs("out"), Some(out));
        assert_eq!(q.fixed_specs("relu_1"), None);
        assert_eq!(FakeQuant::fixed_layers(&[]).fixed_specs("fc1"), None);
    }

    #[test]
    fn layer_overrides_the_default() {
        let q = FakeQuant::fixed(Spec::ap_fixed(8, 3))
            .layer("fc", Spec::ap_fixed(6, 1), Spec::ap_fixed(6, 2))
            .layer("fc", Spec::ap_fixed(6, 0), Spec::ap_fixed(6, 2));
        assert_eq!(
            q.fixed_specs("fc"),
            Some((Spec::ap_fixed(6, 0), Spec::ap_fixed(6, 2)))
        );
        assert_eq!(
            q.fixed_specs("conv"),
            Some((Spec::ap_fixed(8, 3), Spec::ap_fixed(8, 3)))
        );
        let id = |kind| ParamId {
            layer: "fc",
            name: "x",
            kind,
        };
        let shape = [2usize];
        let mut v = [0.3f32, -0.7];
        let t = ParamTensor {
            id: id(ParamKind::Other),
            shape: &shape,
            channels: 1,
        };
        q.quantize(&t, &mut v);
        assert_eq!(v, [0.3, -0.7], "other parameters stay in f32");
        q.quantize(
            &ParamTensor {
                id: id(ParamKind::Bias),
                ..t
            },
            &mut v,
        );
        assert_eq!(v, [0.25, -0.75]);
        let mut v = [0.3f32, -0.7];
        FakeQuant::int8().quantize(
            &ParamTensor {
                id: id(ParamKind::Bias),
                ..t
            },
            &mut v,
        );
        assert_eq!(v, [0.3, -0.7], "int8: biases stay in f32");
    }
}
