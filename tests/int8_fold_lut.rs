//! The int8 twin with batch norms folded in and activations as lookup tables (issue 17, item 1):
//! a `BatchNorm1d`/`BatchNorm2d` right after a `Dense` or convolution is folded into its weights
//! and biases in `f32` before quantizing (the twin equals the twin of a network folded by
//! hand), every elementwise activation other than `ReLU` is a 256-entry table (each entry the
//! quantized `f32` activation of the dequantized input), and the twins with both track their
//! `f32` networks, save and load, and name what is still unsupported.

mod common;
use common::seeded::inputs;

use nn::prelude::*;
use nn::quant::{ConvI8, DenseI8, FusedActivation, LutI8, QuantParams};
use nn::{safetensors_bytes, Activation, Layout, SafeTensors, BN_EPS};
use nn_models::bench::Inputs;
use serde_json::{json, Value};

nn::network! {
    /// Conv2d + BatchNorm2d + ReLU, a convolution without bias + BatchNorm2d, Dense +
    /// BatchNorm1d + ReLU, and a batch norm on the logits.
    struct Normed {
        input: [2, 8, 8],
        conv1: Conv2d(6, kernel = 3, padding = 1), bn1: BatchNorm2d, ReLU,
        MaxPool2d(2),
        conv2: Conv2d(8, kernel = 3, bias = false), bn2: BatchNorm2d,
        Flatten,
        fc1: Dense(16), bn3: BatchNorm1d, ReLU,
        fc2: Dense(5), bn4: BatchNorm1d,
        Softmax,
    }
}

nn::network! {
    /// [`Normed`] with its batch norms folded by hand.
    struct NormedByHand {
        input: [2, 8, 8],
        conv1: Conv2d(6, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        conv2: Conv2d(8, kernel = 3),
        Flatten,
        fc1: Dense(16), ReLU,
        fc2: Dense(5),
        Softmax,
    }
}

nn::network! {
    /// Every table activation, each after its own dense layer.
    struct Acts {
        input: [6],
        d1: Dense(8), a1: Sigmoid,
        d2: Dense(8), a2: Tanh,
        d3: Dense(8), a3: GELU,
        d4: Dense(8), a4: GELU(approximate = tanh),
        d5: Dense(8), a5: Softplus,
        d6: Dense(8), a6: ELU(0.5),
        d7: Dense(8), a7: SELU,
        d8: Dense(8), a8: LeakyReLU(0.1),
        d9: Dense(8), a9: SiLU,
        d10: Dense(8), a10: Gaussian,
        d11: Dense(8), a11: Step,
        d12: Dense(8), a12: PReLU(init = 0.2),
        out: Dense(3),
    }
}

nn::network! {
    /// Smooth activations inside an MLP.
    struct Smooth {
        input: [8],
        fc1: Dense(24), Tanh,
        fc2: Dense(16), GELU,
        fc3: Dense(12), Sigmoid,
        fc4: Dense(4),
        Softmax,
    }
}

nn::network! {
    /// A batch norm with no layer before it to fold into.
    struct LoneNorm { input: [4], bn: BatchNorm1d, fc: Dense(3) }
}

nn::network! {
    /// A batch norm after a ReLU (not directly after the dense layer).
    struct NormAfterRelu { input: [4], fc: Dense(4), ReLU, bn: BatchNorm1d, out: Dense(2) }
}

nn::network! {
    /// A PReLU with a slope per channel.
    struct ChannelPrelu {
        input: [2, 4],
        conv: Conv1d(3, kernel = 1),
        p: PReLU(per_channel = true),
        Flatten,
        fc: Dense(2),
    }
}

/// `net` with random biases and batch norm statistics (`seed`): gamma in [0.5, 1.5], beta and
/// the running mean in [-0.3, 0.3], the running variance in [0.3, 1.3].
fn randomized<N: SafeTensors>(net: &N, seed: u64) -> N {
    let mut stream = Inputs::new(seed);
    let mut u = move || 0.25 * stream.next().unwrap_or(0.0); // [-0.5, 0.5)
    let mut tensors = net.state_dict(Layout::PyTorch);
    for t in tensors.iter_mut() {
        let bn = t.name.starts_with("bn");
        for v in t.data.iter_mut() {
            *v = match t.name.rsplit('.').next() {
                Some("weight") if bn => 1.0 + u(),
                Some("bias") if bn => 0.6 * u(),
                Some("bias") => 0.4 * u(),
                Some("running_mean") => 0.6 * u(),
                Some("running_var") => 0.8 + u(),
                _ => *v,
            };
        }
    }
    let bytes = safetensors_bytes(&tensors).expect("serialize");
    N::from_safetensors_bytes(&bytes, "randomized", Layout::PyTorch).expect("reload")
}

/// The values of tensor `name` of a state dict.
fn values(tensors: &[nn::NamedTensor], name: &str) -> Vec<f32> {
    tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .data
        .clone()
}

/// `net` with every batch norm folded by hand into the layer before it:
/// `w' = w * gamma / sqrt(var + eps)` per output channel,
/// `b' = (b - mean) * gamma / sqrt(var + eps) + beta`.
fn folded_by_hand(net: &Normed) -> NormedByHand {
    let src = net.state_dict(Layout::PyTorch);
    let mut out = NormedByHand::new(0).state_dict(Layout::PyTorch);
    for (layer, bn) in [
        ("conv1", "bn1"),
        ("conv2", "bn2"),
        ("fc1", "bn3"),
        ("fc2", "bn4"),
    ] {
        let gamma = values(&src, &format!("{bn}.weight"));
        let beta = values(&src, &format!("{bn}.bias"));
        let mean = values(&src, &format!("{bn}.running_mean"));
        let var = values(&src, &format!("{bn}.running_var"));
        let scale: Vec<f32> = (0..gamma.len())
            .map(|c| gamma[c] / (var[c] + BN_EPS).sqrt())
            .collect();
        let w = values(&src, &format!("{layer}.weight"));
        let bias = src
            .iter()
            .find(|t| t.name == format!("{layer}.bias"))
            .map_or(vec![0.0; gamma.len()], |t| t.data.clone());
        let per = w.len() / gamma.len();
        for t in out.iter_mut() {
            if t.name == format!("{layer}.weight") {
                // PyTorch's layout: the output channel is the first dimension.
                t.data = w
                    .iter()
                    .enumerate()
                    .map(|(k, v)| v * scale[k / per])
                    .collect();
            } else if t.name == format!("{layer}.bias") {
                t.data = (0..gamma.len())
                    .map(|c| (bias[c] - mean[c]) * scale[c] + beta[c])
                    .collect();
            }
        }
    }
    let bytes = safetensors_bytes(&out).expect("serialize");
    NormedByHand::from_safetensors_bytes(&bytes, "by hand", Layout::PyTorch).expect("reload")
}

/// `b`, typed as `a` (to name a twin layer's type by example).
fn like<T>(_: &T, b: T) -> T {
    b
}

/// How the twin's logits track the f32 network's on `xs`: the share of equal predictions
/// (argmax), and the 99th percentile and the largest logit difference, in steps of the
/// logits' quantization.
struct Tracking {
    agree: f32,
    p99: f32,
    worst: f32,
}

fn tracking<I: nn::Shape, L: nn::Shape>(
    xs: &[Tensor<I>],
    f32_logits: impl Fn(&Tensor<I>) -> Tensor<L>,
    int8_logits: impl Fn(&Tensor<I>) -> Tensor<L>,
    step: f32,
) -> Tracking {
    let mut same = 0;
    let mut steps = Vec::new();
    for x in xs {
        let (a, b) = (f32_logits(x), int8_logits(x));
        same += usize::from(a.argmax() == b.argmax());
        for (u, v) in a.as_slice().iter().zip(b.as_slice()) {
            steps.push((u - v).abs() / step);
        }
    }
    steps.sort_by(f32::total_cmp);
    let n = steps.len();
    Tracking {
        agree: same as f32 / xs.len() as f32,
        p99: steps[n * 99 / 100],
        worst: steps[n - 1],
    }
}

/// Checks the tracking on the calibration set (every value in the calibrated ranges: at most 4
/// steps anywhere) and on fresh inputs (some beyond those ranges saturate: 99% of the logits
/// within 3 steps), and at least 97% equal predictions on both.
fn check_tracking(name: &str, on_calibration: Tracking, on_fresh: Tracking) {
    println!(
        "{name}: predictions equal on {:.1}% (calibration set) and {:.1}% (fresh inputs); logit \
         difference in steps: calibration p99 {:.2}, max {:.2}; fresh p99 {:.2}, max {:.2}",
        100.0 * on_calibration.agree,
        100.0 * on_fresh.agree,
        on_calibration.p99,
        on_calibration.worst,
        on_fresh.p99,
        on_fresh.worst
    );
    assert!(
        on_calibration.agree >= 0.97 && on_fresh.agree >= 0.97,
        "{name}: predictions"
    );
    assert!(
        on_calibration.worst <= 4.0,
        "{name}: {} steps",
        on_calibration.worst
    );
    assert!(on_fresh.p99 <= 3.0, "{name}: p99 {} steps", on_fresh.p99);
}

#[test]
fn batch_norms_fold_into_conv_and_dense_and_the_twin_tracks_f32() {
    let net = randomized(&Normed::new(7), 8);
    let calibration = inputs::<<Normed as nn::Shapes>::InputShape>(9, 128, 1.0);
    let q = net.quantize_int8(&calibration).expect("quantize");
    // Folded steps: the convolution's and dense layer's outputs are the batch norms' (or the
    // ReLUs' after them), with the ReLU in the clamp.
    assert_eq!(q.conv1.activation, FusedActivation::Relu);
    assert_eq!(q.conv2.activation, FusedActivation::None);
    assert_eq!(q.fc1.activation, FusedActivation::Relu);
    assert_eq!(q.fc1.output.zero_point, -128);
    // Tensors: 0 input, 1 conv1, 2 bn1, 3 ReLU, 4 pool, 5 conv2, 6 bn2, 7 flatten, 8 fc1, 9 bn3,
    // 10 ReLU, 11 fc2, 12 bn4 (logits), 13 softmax.
    assert_eq!(q.conv1.output, q.tensors[3]);
    assert_eq!(q.conv2.input, q.tensors[4]);
    assert_eq!(q.conv2.output, q.tensors[6]);
    assert_eq!(q.fc1.output, q.tensors[10]);
    assert_eq!(q.fc2.output, q.tensors[12]);
    // No int8 bytes for the batch norms.
    assert_eq!(
        NormedInt8::WEIGHT_BYTES,
        (6 * 2 * 9 + 4 * 6) + (8 * 6 * 9 + 4 * 8) + (32 * 16 + 4 * 16) + (16 * 5 + 4 * 5)
    );
    let test = inputs::<<Normed as nn::Shapes>::InputShape>(10, 400, 1.0);
    let step = q.fc2.output.scale;
    check_tracking(
        "Normed (conv + BN + ReLU, dense + BN)",
        tracking(
            &calibration,
            |x| net.forward_logits(x),
            |x| q.forward_logits(x),
            step,
        ),
        tracking(
            &test,
            |x| net.forward_logits(x),
            |x| q.forward_logits(x),
            step,
        ),
    );
    let p = q.forward(&test[0]);
    assert!((p.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn the_folded_twin_equals_the_twin_of_a_network_folded_by_hand() {
    let net = randomized(&Normed::new(11), 12);
    let hand = folded_by_hand(&net);
    let calibration = inputs::<<Normed as nn::Shapes>::InputShape>(13, 128, 1.0);
    // The hand-folded network computes what the batch norms do.
    for x in &calibration[..16] {
        let (a, b) = (net.forward_logits(x), hand.forward_logits(x));
        for (u, v) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((u - v).abs() <= 1e-4 * (1.0 + u.abs()), "{u} vs {v}");
        }
    }
    let q = net.quantize_int8(&calibration).expect("quantize");
    // Each folded layer, quantized between the twin's own tensors, is the hand-folded layer
    // quantized there: the same int8 weights and scales, int32 biases within one unit (the
    // batch norm's shift is computed as `gamma / sqrt(var + eps)`-scaled either way, but in
    // another order).
    let hs = hand.state_dict(Layout::PyTorch);
    let mut bias_units_off = 0;
    {
        let w = values(&hs, "conv1.weight");
        let b = values(&hs, "conv1.bias");
        let c = &q.conv1;
        let r = like(
            c,
            ConvI8::from_weights(&w, Some(&b), c.input, c.output, c.activation),
        );
        assert!((0..w.len()).all(|k| c.weight(k) == r.weight(k)));
        assert_eq!(c.weight_scale, r.weight_scale);
        for (x, y) in c.bias.iter().zip(r.bias.iter()) {
            assert!((x - y).abs() <= 1, "{x} vs {y}");
            bias_units_off += usize::from(x != y);
        }
    }
    {
        let w = values(&hs, "conv2.weight");
        let b = values(&hs, "conv2.bias");
        let c = &q.conv2;
        let r = like(
            c,
            ConvI8::from_weights(&w, Some(&b), c.input, c.output, c.activation),
        );
        assert!((0..w.len()).all(|k| c.weight(k) == r.weight(k)));
        assert_eq!(c.weight_scale, r.weight_scale);
        for (x, y) in c.bias.iter().zip(r.bias.iter()) {
            assert!((x - y).abs() <= 1, "{x} vs {y}");
            bias_units_off += usize::from(x != y);
        }
    }
    for (d, h) in [(&q.fc1, &hand.fc1)] {
        let r = like(d, DenseI8::from_dense(h, d.input, d.output, d.activation));
        assert!((0..16).all(|o| (0..32).all(|i| d.weight(o, i) == r.weight(o, i))));
        assert_eq!(d.weight_scale, r.weight_scale);
        for (x, y) in d.bias.iter().zip(r.bias.iter()) {
            assert!((x - y).abs() <= 1, "{x} vs {y}");
            bias_units_off += usize::from(x != y);
        }
    }
    {
        let (d, h) = (&q.fc2, &hand.fc2);
        let r = like(d, DenseI8::from_dense(h, d.input, d.output, d.activation));
        assert!((0..5).all(|o| (0..16).all(|i| d.weight(o, i) == r.weight(o, i))));
        assert_eq!(d.weight_scale, r.weight_scale);
        for (x, y) in d.bias.iter().zip(r.bias.iter()) {
            assert!((x - y).abs() <= 1, "{x} vs {y}");
            bias_units_off += usize::from(x != y);
        }
    }
    assert!(
        bias_units_off <= 3,
        "{bias_units_off} of 35 biases differ by one"
    );
    // Whole twins: the hand-folded network's twin is calibrated on its own (folded) outputs,
    // equal to the batch norms' up to f32 rounding, so their quantizations and int8 logits
    // agree to a step.
    let h = hand.quantize_int8(&calibration).expect("quantize");
    for (a, b) in [
        (q.conv1.output, h.conv1.output),
        (q.conv2.output, h.conv2.output),
        (q.fc1.output, h.fc1.output),
        (q.fc2.output, h.fc2.output),
    ] {
        assert!(
            (a.scale - b.scale).abs() <= 1e-5 * a.scale,
            "{a:?} vs {b:?}"
        );
        assert!((a.zero_point - b.zero_point).abs() <= 1, "{a:?} vs {b:?}");
    }
    let test = inputs::<<Normed as nn::Shapes>::InputShape>(14, 200, 1.0);
    let (mut exact, mut worst) = (0, 0);
    for x in &test {
        let (a, b) = (
            q.forward_int8(&q.quantize_input(x)),
            h.forward_int8(&h.quantize_input(x)),
        );
        exact += usize::from(a == b);
        for (u, v) in a.as_slice().iter().zip(b.as_slice()) {
            worst = worst.max((*u as i32 - *v as i32).abs());
        }
    }
    println!("folded vs by hand: {exact} of 200 int8 logit vectors identical, worst {worst}");
    assert!(worst <= 1, "int8 logits differ by {worst}");
    assert!(exact >= 180, "{exact} of 200 identical");
}

/// The table entry for input `q` computed directly: the f32 activation of the dequantized
/// input, divided by the output scale, rounded half away from zero, plus the zero point,
/// saturated.
fn direct(g: impl Fn(f32) -> f32, i: QuantParams, o: QuantParams, q: i8) -> i8 {
    let x = i.scale * (q as i32 - i.zero_point) as f32;
    let r = (g(x) / o.scale).round();
    (o.zero_point as f32 + r).clamp(-128.0, 127.0) as i8
}

/// Independent f64 formulas of the activations (PyTorch's definitions).
fn reference(k: usize, x: f64) -> f64 {
    // Abramowitz and Stegun 7.1.26 (error below 1.5e-7).
    let erf = |x: f64| {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let p = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        (1.0 - p * (-x * x).exp()).copysign(x)
    };
    match k {
        1 => 1.0 / (1.0 + (-x).exp()),
        2 => x.tanh(),
        3 => 0.5 * x * (1.0 + erf(x / 2f64.sqrt())),
        4 => {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
        }
        5 => (1.0 + x.exp()).ln(),
        6 => {
            if x > 0.0 {
                x
            } else {
                0.5 * (x.exp() - 1.0)
            }
        }
        7 => {
            1.050_700_987_355_480_5
                * if x > 0.0 {
                    x
                } else {
                    1.673_263_242_354_377_2 * (x.exp() - 1.0)
                }
        }
        8 => {
            if x >= 0.0 {
                x
            } else {
                0.1 * x
            }
        }
        9 => x / (1.0 + (-x).exp()),
        10 => (-x * x).exp(),
        11 => {
            if x >= 0.0 {
                1.0
            } else {
                0.0
            }
        }
        _ => {
            if x >= 0.0 {
                x
            } else {
                0.2 * x
            }
        }
    }
}

#[test]
fn every_activation_table_is_the_quantized_activation_of_each_of_the_256_inputs() {
    let net = randomized(&Acts::new(21), 22);
    let calibration = inputs::<<Acts as nn::Shapes>::InputShape>(23, 128, 1.0);
    let q = net.quantize_int8(&calibration).expect("quantize");
    let p: nn::PReLU = net.a12;
    assert_eq!(p.alpha, 0.2);
    type G = Box<dyn Fn(f32) -> f32>;
    let tables: [(&LutI8, QuantParams, G); 12] = [
        (&q.a1, q.d1.output, Box::new(|x| nn::Sigmoid.f(x))),
        (&q.a2, q.d2.output, Box::new(|x| nn::Tanh.f(x))),
        (
            &q.a3,
            q.d3.output,
            Box::new(|x| {
                nn::GELU {
                    tanh_approximation: false,
                }
                .f(x)
            }),
        ),
        (
            &q.a4,
            q.d4.output,
            Box::new(|x| {
                nn::GELU {
                    tanh_approximation: true,
                }
                .f(x)
            }),
        ),
        (&q.a5, q.d5.output, Box::new(|x| nn::Softplus.f(x))),
        (
            &q.a6,
            q.d6.output,
            Box::new(|x| nn::ELU { alpha: 0.5 }.f(x)),
        ),
        (&q.a7, q.d7.output, Box::new(|x| nn::SELU.f(x))),
        (
            &q.a8,
            q.d8.output,
            Box::new(|x| nn::LeakyReLU { slope: 0.1 }.f(x)),
        ),
        (&q.a9, q.d9.output, Box::new(|x| nn::SiLU.f(x))),
        (&q.a10, q.d10.output, Box::new(|x| nn::Gaussian.f(x))),
        (&q.a11, q.d11.output, Box::new(|x| nn::Step.f(x))),
        (&q.a12, q.d12.output, Box::new(move |x| p.f(x))),
    ];
    // Tensors: 0 input, then per k a dense output 2k - 1 and an activation output 2k.
    let mut near = 0;
    for (k, (lut, dense_out, g)) in tables.iter().enumerate() {
        let k = k + 1;
        // The table reads the dense layer's output and writes the next dense layer's input.
        assert_eq!(lut.input, *dense_out, "a{k}");
        assert_eq!(lut.input, q.tensors[2 * k - 1], "a{k}");
        assert_eq!(lut.output, q.tensors[2 * k], "a{k}");
        for v in -128..=127i8 {
            assert_eq!(
                lut.get(v),
                direct(g, lut.input, lut.output, v),
                "a{k} at {v}"
            );
            // An independent f64 formula agrees to a step (the f32 activation may round a
            // value near a half step the other way).
            let x = lut.input.scale as f64 * (v as i32 - lut.input.zero_point) as f64;
            let r =
                (reference(k, x) / lut.output.scale as f64).round() + lut.output.zero_point as f64;
            let r = r.clamp(-128.0, 127.0) as i32;
            assert!(
                (lut.get(v) as i32 - r).abs() <= 1,
                "a{k} at {v}: {} vs {r}",
                lut.get(v)
            );
            near += usize::from(lut.get(v) as i32 == r);
        }
    }
    assert!(
        near >= 12 * 256 - 12,
        "{near} of {} entries equal the f64 formula",
        12 * 256
    );
    // A table costs 256 bytes in WEIGHT_BYTES and in the summary.
    let dense = 6 * 8 + 4 * 8 + 11 * (8 * 8 + 4 * 8) + 8 * 3 + 4 * 3;
    assert_eq!(ActsInt8::WEIGHT_BYTES, dense + 12 * 256);
    let summary = ActsInt8::SUMMARY;
    assert!(summary.contains("a2 (Tanh) table"), "{summary}");
    assert!(summary.contains("a12 (PReLU) table"), "{summary}");
    let total = dense + 12 * 256;
    let total = format!("= {},{:03} (WEIGHT_BYTES)", total / 1000, total % 1000);
    assert!(summary.contains(&total), "{summary}");
}

#[test]
fn tanh_sigmoid_and_gelu_inside_an_mlp_track_f32() {
    let net = randomized(&Smooth::new(31), 32);
    let calibration = inputs::<<Smooth as nn::Shapes>::InputShape>(33, 200, 1.0);
    let q = net.quantize_int8(&calibration).expect("quantize");
    let test = inputs::<<Smooth as nn::Shapes>::InputShape>(34, 500, 1.0);
    let step = q.fc4.output.scale;
    check_tracking(
        "Smooth (Tanh, GELU, Sigmoid tables)",
        tracking(
            &calibration,
            |x| net.forward_logits(x),
            |x| q.forward_logits(x),
            step,
        ),
        tracking(
            &test,
            |x| net.forward_logits(x),
            |x| q.forward_logits(x),
            step,
        ),
    );
    // The probabilities too.
    for x in &test[..50] {
        let (a, b) = (net.forward(x), q.forward(x));
        for (u, v) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((u - v).abs() < 0.05, "{u} vs {v}");
        }
    }
}

/// A safetensors file as its JSON header (tensors and `__metadata__`) and its data.
fn split(bytes: &[u8]) -> (serde_json::Map<String, Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).expect("a JSON header");
    let header = header.as_object().expect("an object").clone();
    (header, bytes[8 + n..].to_vec())
}

/// The safetensors bytes of a header and data.
fn join(header: &serde_json::Map<String, Value>, data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::to_vec(header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

/// The byte range of tensor `name` in the data.
fn range(header: &serde_json::Map<String, Value>, name: &str) -> std::ops::Range<usize> {
    let o = &header[name]["data_offsets"];
    o[0].as_u64().unwrap() as usize..o[1].as_u64().unwrap() as usize
}

#[test]
fn a_twin_with_tables_and_folded_norms_saves_and_loads() {
    let net = randomized(&Acts::new(41), 42);
    let q = net
        .quantize_int8(&inputs::<<Acts as nn::Shapes>::InputShape>(43, 64, 1.0))
        .expect("quantize");
    let bytes = q.to_safetensors_bytes().expect("save");
    let back = ActsInt8::from_safetensors_bytes(&bytes, "acts").expect("load");
    assert_eq!(back.a3, q.a3);
    assert_eq!(back.a12, q.a12);
    for x in &inputs::<<Acts as nn::Shapes>::InputShape>(44, 32, 1.5) {
        let x = q.quantize_input(x);
        assert_eq!(back.forward_int8(&x), q.forward_int8(&x));
    }
    // Saving again gives the same tensors, names, dtypes, shapes and metadata.
    let again = back.to_safetensors_bytes().expect("resave");
    assert!(
        split(&again) == split(&bytes),
        "the file changed through load and save"
    );
    // The table is `<layer>.table`, I8 [256], the output for input -128 first.
    let (header, data) = split(&bytes);
    assert_eq!(header["a7.table"]["dtype"], "I8");
    assert_eq!(header["a7.table"]["shape"], json!([256]));
    let table = &data[range(&header, "a7.table")];
    assert!((0..256).all(|k| table[k] as i8 == q.a7.get((k as i32 - 128) as i8)));
    // 13 dense layers x 3 tensors, 12 tables, 26 quantizations x 2.
    assert_eq!(header.len() - 1, 13 * 3 + 12 + 26 * 2);
    // A folded network's file holds the folded layers under their own names, no batch norm.
    let normed = randomized(&Normed::new(45), 46);
    let qn = normed
        .quantize_int8(&inputs::<<Normed as nn::Shapes>::InputShape>(47, 64, 1.0))
        .expect("quantize");
    let nbytes = qn.to_safetensors_bytes().expect("save");
    let (nheader, _) = split(&nbytes);
    assert!(nheader.contains_key("conv2.bias"));
    assert!(!nheader.keys().any(|n| n.starts_with("bn")), "{nheader:?}");
    let nback = NormedInt8::from_safetensors_bytes(&nbytes, "normed").expect("load");
    for x in &inputs::<<Normed as nn::Shapes>::InputShape>(48, 16, 1.0) {
        assert_eq!(nback.forward(x), qn.forward(x));
    }
}

#[test]
fn a_missing_or_mistyped_table_is_an_error_naming_it() {
    let net = randomized(&Acts::new(51), 52);
    let q = net
        .quantize_int8(&inputs::<<Acts as nn::Shapes>::InputShape>(53, 32, 1.0))
        .expect("quantize");
    let bytes = q.to_safetensors_bytes().expect("save");
    let load = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let (mut header, data) = split(&bytes);
        edit(&mut header);
        ActsInt8::from_safetensors_bytes(&join(&header, &data), "edited.safetensors")
    };
    let e = load(&|h| {
        let v = h.remove("a5.table").unwrap();
        h.insert("a5.lut".into(), v);
    })
    .unwrap_err();
    assert!(
        matches!(e, nn::Error::MissingTensor { ref name, .. } if name == "a5.table"),
        "{e}"
    );
    let e = load(&|h| {
        let r = range(h, "a5.table");
        h["a5.table"] = json!({"dtype": "I32", "shape": [64], "data_offsets": [r.start, r.end]});
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("a5.table") && e.contains("I8"), "{e}");
    let e = load(&|h| {
        let r = range(h, "a5.table");
        h["a5.table"] = json!({"dtype": "I8", "shape": [16, 16], "data_offsets": [r.start, r.end]});
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("a5.table"), "{e}");
}

#[test]
fn what_the_twin_does_not_support_yet_is_an_error_naming_the_layer() {
    let e = LoneNorm::new(0)
        .quantize_int8(&[Input::<LoneNorm>::zeros()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("network `LoneNorm`: its layer `bn` (BatchNorm1d) cannot be quantized to int8 yet: a batch norm is folded only right after a Dense or convolution"),
        "{e}"
    );
    let e = NormAfterRelu::new(0)
        .quantize_int8(&[Input::<NormAfterRelu>::zeros()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("its layer `bn` (BatchNorm1d)"), "{e}");
    let e = ChannelPrelu::new(0)
        .quantize_int8(&[Input::<ChannelPrelu>::zeros()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "network `ChannelPrelu`: its layer `p` (PReLU) cannot be quantized to int8 yet"
        ),
        "{e}"
    );
    assert!(e.contains("per-channel PReLU"), "{e}");
}
