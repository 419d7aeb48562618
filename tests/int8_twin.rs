//! The int8 twin of a network (issue 17): `quantize_int8` on a trained network, accuracy of the
//! twin against the f32 network, the twin's layers against LiteRT's reference kernels, and a
//! clear error for a layer the twin does not support yet.

use nn::prelude::*;
use nn::quant::{DenseI8, FusedActivation, QuantParams, Rounding, TensorI8};
use nn::typenum::{U16, U32, U5, U64};

nn::network! {
    /// The breast-cancer MLP, with a dropout and a standalone ReLU to exercise every step kind.
    struct Cancer {
        input: [30],
        fc1: Dense(16), ReLU,
        Dropout(0.1),
        fc2: Dense(8),
        Identity,
        ReLU,
        out: Dense(2),
        Softmax,
    }
}

nn::network! {
    struct Image { input: [1, 8, 8], Flatten, fc: Dense(10), Sigmoid }
}

nn::network! {
    /// A batch norm after a ReLU: nothing to fold it into.
    struct WithNorm { input: [4], fc: Dense(4), ReLU, bn: BatchNorm1d, out: Dense(2) }
}

fn cancer() -> (Dataset<Input<Cancer>, usize>, Dataset<Input<Cancer>, usize>) {
    let data = Dataset::<Input<Cancer>, usize>::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/breast_cancer.csv"
    ))
    .unwrap();
    let (mut train, mut test) = data.stratified_split(0.2, 42).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.transform(&mut train);
    s.transform(&mut test);
    (train, test)
}

#[test]
fn the_int8_twin_keeps_the_accuracy_of_a_trained_mlp() {
    let (train, test) = cancer();
    let mut net = Cancer::new(3);
    Trainer::new(Adam::new(3e-3), CrossEntropy)
        .batch_size::<16>()
        .epochs(30)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap();
    let q = net.quantize_int8(&train.x).unwrap();
    let f32_acc = accuracy(&net, &test).unwrap();
    let right = test
        .iter()
        .filter(|(x, &y)| q.forward(x).argmax() == y)
        .count();
    let int8_acc = right as f32 / test.len() as f32;
    assert!(f32_acc > 0.93, "f32 accuracy {f32_acc}");
    assert!(
        (f32_acc - int8_acc).abs() <= 0.02,
        "f32 {f32_acc} vs int8 {int8_acc}"
    );
    // The dequantized logits stay within a few output steps of the f32 logits.
    let step = q.tensors[q.tensors.len() - 2].scale;
    for x in &test.x {
        let (a, b) = (net.forward_logits(x), q.forward_logits(x));
        for (u, v) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((u - v).abs() <= 8.0 * step, "{u} vs {v} (step {step})");
        }
    }
    // Probabilities from the f32 softmax of the int8 logits.
    let p = q.forward(&test.x[0]);
    assert!((p.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!(
        CancerInt8::WEIGHT_BYTES,
        30 * 16 + 4 * 16 + 16 * 8 + 4 * 8 + 8 * 2 + 4 * 2
    );
    // Dropout and Identity share their input's quantization; the fused ReLU's output is
    // non-negative, so its zero point is the bottom of the range.
    assert_eq!(q.fc1.activation, FusedActivation::Relu);
    assert_eq!(q.fc1.output.zero_point, -128);
}

#[test]
fn percentile_calibration_and_flatten_and_a_sigmoid_head() {
    let xs: Vec<Input<Image>> = (0..50)
        .map(|k| {
            let v: Vec<f32> = (0..64)
                .map(|i| ((i * 7 + k * 3) as f32 * 0.13).sin())
                .collect();
            Input::<Image>::try_from(&v[..]).unwrap()
        })
        .collect();
    let net = Image::new(1);
    let q = net
        .quantize_int8_with(&xs, nn::quant::calibrate::Calibration::Percentile(99.0))
        .unwrap();
    for x in &xs {
        let (a, b) = (net.forward(x), q.forward(x));
        for (u, v) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((u - v).abs() < 0.05, "{u} vs {v}");
        }
    }
    assert!(matches!(net.quantize_int8(&[]), Err(nn::Error::Empty(_))));
}

#[test]
fn a_layer_the_twin_does_not_support_is_an_error_naming_it() {
    let net = WithNorm::new(0);
    let e = net
        .quantize_int8(&[Input::<WithNorm>::zeros()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "network `WithNorm`: its layer `bn` (BatchNorm1d) cannot be quantized to int8 yet"
        ),
        "{e}"
    );
}

#[test]
fn dense_i8_layers_built_from_litert_parameters_reproduce_its_mlp_bit_for_bit() {
    // The MLP 16-64-32-32-5 of tests/fixtures/int8/chains.json (LiteRT reference kernels).
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/int8/chains.json"
    ))
    .unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = &file["cases"][0];
    assert_eq!(case["name"], "mlp_16_64_32_32_5_relu");
    let ops = case["ops"].as_array().unwrap();
    let quant = |q: &serde_json::Value| QuantParams {
        scale: f32::from_bits(q["scale_bits"].as_u64().unwrap() as u32),
        zero_point: q["zero_point"].as_i64().unwrap() as i32,
    };
    fn layer<I: nn::generic_array::ArrayLength, O: nn::generic_array::ArrayLength>(
        op: &serde_json::Value,
        quant: impl Fn(&serde_json::Value) -> QuantParams,
    ) -> DenseI8<I, O> {
        let w: Vec<i8> = op["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i8)
            .collect();
        let mut wa: nn::generic_array::GenericArray<nn::generic_array::GenericArray<i8, I>, O> =
            Default::default();
        for (o, row) in wa.iter_mut().enumerate() {
            row.copy_from_slice(&w[o * I::USIZE..(o + 1) * I::USIZE]);
        }
        let bias = op["bias"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i32)
            .collect();
        let scales = op["weight_scales_bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| f32::from_bits(v.as_u64().unwrap() as u32))
            .collect();
        let act = if op["activation"] == "relu" {
            FusedActivation::Relu
        } else {
            FusedActivation::None
        };
        DenseI8::from_parts(
            wa,
            bias,
            scales,
            quant(&op["input"]),
            quant(&op["output"]),
            act,
        )
    }
    let l1: DenseI8<U16, U64> = layer(&ops[0], quant);
    let l2: DenseI8<U64, U32> = layer(&ops[1], quant);
    let l3: DenseI8<U32, U32> = layer(&ops[2], quant);
    let l4: DenseI8<U32, U5> = layer(&ops[3], quant);
    use nn::typenum::{U16 as I16, U32 as I32, U5 as I5, U64 as I64};
    for sample in case["samples"].as_array().unwrap() {
        let mut x = TensorI8::<Shape1<I16>>::zeros();
        for (d, v) in x
            .as_mut_slice()
            .iter_mut()
            .zip(sample["input"].as_array().unwrap())
        {
            *d = v.as_i64().unwrap() as i8;
        }
        let (mut a, mut b, mut c, mut y) = (
            TensorI8::<Shape1<I64>>::zeros(),
            TensorI8::<Shape1<I32>>::zeros(),
            TensorI8::<Shape1<I32>>::zeros(),
            TensorI8::<Shape1<I5>>::zeros(),
        );
        l1.forward(&x, &mut a, Rounding::Double);
        l2.forward(&a, &mut b, Rounding::Double);
        l3.forward(&b, &mut c, Rounding::Double);
        l4.forward(&c, &mut y, Rounding::Double);
        let want: Vec<i8> = sample["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i8)
            .collect();
        assert_eq!(y.as_slice(), &want[..]);
    }
}

nn::network! {
    /// The digits CNN (M2's shape).
    struct Digits {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1), ReLU,
        AvgPool2d(2),
        Flatten,
        fc: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// A signal network with a residual block and a padded average pool that counts the pads.
    struct Signal {
        input: [2, 16],
        conv: Conv1d(4, kernel = 3, padding = 1), ReLU,
        block: Residual {
            c1: Conv1d(4, kernel = 3, padding = 1), ReLU,
            c2: Conv1d(4, kernel = 3, padding = 1),
        },
        ReLU,
        AvgPool1d(3, stride = 2, padding = 1),
        Flatten,
        fc: Dense(3),
    }
}

/// Deterministic inputs of any network.
fn inputs<N: Network>(n: usize) -> Vec<Input<N>> {
    (0..n)
        .map(|k| {
            let v: Vec<f32> = (0..N::INPUT_LEN)
                .map(|i| ((i * 7 + k * 13) as f32 * 0.11).sin() * 1.5)
                .collect();
            Input::<N>::try_from(&v[..]).unwrap()
        })
        .collect()
}

#[test]
fn convolutional_and_residual_twins_follow_their_f32_networks() {
    let xs = inputs::<Digits>(64);
    let net = Digits::new(5);
    let q = net.quantize_int8(&xs).unwrap();
    let agree = xs
        .iter()
        .filter(|&x| net.forward(x).argmax() == q.forward(x).argmax())
        .count();
    assert!(agree >= 60, "{agree} of 64 predictions agree");
    let step = q.tensors[q.tensors.len() - 2].scale;
    for x in &xs {
        for (u, v) in net
            .forward_logits(x)
            .as_slice()
            .iter()
            .zip(q.forward_logits(x).as_slice())
        {
            assert!((u - v).abs() <= 10.0 * step, "{u} vs {v} (step {step})");
        }
    }
    assert_eq!(
        DigitsInt8::WEIGHT_BYTES,
        (8 * 9 + 4 * 8) + (16 * 8 * 9 + 4 * 16) + (64 * 10 + 4 * 10)
    );

    let xs = inputs::<Signal>(64);
    let net = Signal::new(9);
    let q = net.quantize_int8(&xs).unwrap();
    let step = q.tensors[q.tensors.len() - 1].scale;
    for x in &xs {
        for (u, v) in net
            .forward(x)
            .as_slice()
            .iter()
            .zip(q.forward(x).as_slice())
        {
            assert!((u - v).abs() <= 10.0 * step, "{u} vs {v} (step {step})");
        }
    }
}

nn::network! {
    /// Two 1-D convolutions (the second strided) whose int8 twins keep their output channels
    /// in the vector lanes.
    struct Signals { input: [4, 24], conv1: Conv1d(20, kernel = 5, padding = 2), ReLU,
        conv2: Conv1d(8, kernel = 3, stride = 2, padding = 1), ReLU, Flatten, fc: Dense(3), Softmax }
}

/// A 1-D convolution's twin packs its weights for the output channels in the lanes
/// (`ConvI8::in_lanes`): the weights it reads back are those of the same layer in PyTorch's
/// layout, and every instruction set gives the bytes of the plain loops (the layer in
/// PyTorch's layout on the portable path).
#[test]
fn a_convolution_in_the_lanes_layout_keeps_its_weights_and_bytes() {
    use nn::quant::ops::Window2;
    use nn::quant::simd::ConvPlan;
    use nn::quant::simd::Isa8;
    use nn::quant::ConvI8;
    use nn::typenum::{U20, U24, U4, U400};
    let net = Signals::new(5);
    let calibration: Vec<Input<Signals>> = (0..32)
        .map(|s| {
            let v: Vec<f32> = (0..96)
                .map(|i| ((i * 7 + s * 13) % 23) as f32 / 11.0 - 1.0)
                .collect();
            Input::<Signals>::try_from(&v[..]).unwrap()
        })
        .collect();
    let q = net.quantize_int8(&calibration).unwrap();
    let c = &q.conv1;
    let g = Window2 {
        input: (4, 1, 24),
        kernel: (1, 5),
        stride: (1, 1),
        pad: (0, 2),
        output: (1, 24),
    };
    let weights: Vec<i8> = (0..400).map(|k| c.weight(k)).collect();
    let plain: ConvI8<U400, U20> = ConvI8::from_parts(
        weights.iter().copied().collect(),
        c.bias,
        c.weight_scale,
        c.input,
        c.output,
        c.activation,
    );
    let lanes = plain.clone().in_lanes(&ConvPlan::new(g));
    assert!((0..400).all(|k| lanes.weight(k) == weights[k]));
    let mut x = TensorI8::<nn::Shape2<U4, U24>>::zeros();
    for (i, v) in x.as_mut_slice().iter_mut().enumerate() {
        *v = ((i * 37) % 256) as u8 as i8;
    }
    let mut want = TensorI8::<nn::Shape2<U20, U24>>::zeros();
    plain.forward_on(Isa8::Portable, &x, &mut want, g);
    assert!(want.as_slice().iter().any(|&v| v != want.as_slice()[0]));
    for isa in [Isa8::Portable, Isa8::Avx2, Isa8::Vnni] {
        let mut got = TensorI8::<nn::Shape2<U20, U24>>::zeros();
        lanes.forward_on(isa, &x, &mut got, g);
        assert_eq!(got, want, "{isa:?}");
        let mut got = TensorI8::<nn::Shape2<U20, U24>>::zeros();
        q.conv1.forward_on(isa, &x, &mut got, g);
        assert_eq!(got, want, "the twin's own layer, {isa:?}");
    }
    // The network through: `forward_batch` (the lanes kernel per chunk) agrees with `forward`.
    let ys = {
        let mut ys = vec![nn::Output::<Signals>::zeros(); calibration.len()];
        q.forward_batch(&calibration, &mut ys).unwrap();
        ys
    };
    for (x, y) in calibration.iter().zip(&ys) {
        assert_eq!(q.forward(x).as_slice(), y.as_slice());
    }
}

/// The one-sample AVX-512 VNNI dense kernel requantizes a folded ReLU's outputs with one
/// rounding, from constants the layer derives when it is built (`simd::Prep::once`): on M1's
/// shapes, with zero points and multipliers drawn at random, every instruction set gives the
/// portable loops' bytes, also for layers that keep TFLite's two roundings (no ReLU, a
/// multiplier above one).
#[test]
fn one_sample_dense_layers_round_once_with_the_bytes_of_two() {
    use nn::generic_array::GenericArray;
    use nn::quant::simd::Isa8;
    use nn::typenum::Unsigned;
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> i32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as i32
        }
        fn range(&mut self, lo: i32, hi: i32) -> i32 {
            lo + self.next().rem_euclid(hi - lo + 1)
        }
    }
    // A macro, not a generic function: `Shape1<N>` needs bounds of `N` spelled out.
    macro_rules! check {
        ($rng:expr, $i:ty, $o:ty) => {{
            type I = $i;
            type O = $o;
            let rng: &mut Lcg = $rng;
            let mut checked = 0;
            for case in 0..12 {
                let mut w: GenericArray<GenericArray<i8, I>, O> = GenericArray::default();
                for row in w.iter_mut() {
                    for v in row.iter_mut() {
                        *v = rng.range(-127, 127) as i8;
                    }
                }
                let bias: GenericArray<i32, O> =
                    GenericArray::from_iter((0..O::USIZE).map(|_| rng.range(-20_000, 20_000)));
                let scales: GenericArray<f32, O> = GenericArray::from_iter(
                    (0..O::USIZE).map(|_| 1e-3 * (1 + rng.range(0, 40)) as f32),
                );
                let input = QuantParams {
                    scale: 0.02,
                    zero_point: rng.range(-128, 127),
                };
                // Case 5: an output scale small enough for multipliers above one (a left shift).
                let output = QuantParams {
                    scale: if case == 5 {
                        1e-6
                    } else {
                        0.05 * (1 + rng.range(0, 20)) as f32
                    },
                    zero_point: rng.range(-128, 0),
                };
                let act = if case % 3 == 2 {
                    FusedActivation::None
                } else {
                    FusedActivation::Relu
                };
                let layer = DenseI8::from_parts(w, bias, scales, input, output, act);
                for _ in 0..20 {
                    let mut x = TensorI8::<nn::Shape1<I>>::zeros();
                    for v in x.as_mut_slice() {
                        *v = rng.range(-128, 127) as i8;
                    }
                    let mut want = TensorI8::<nn::Shape1<O>>::zeros();
                    layer.forward_on(Isa8::Portable, &x, &mut want, Rounding::FixedPoint);
                    for isa in [Isa8::Avx2, Isa8::Vnni]
                        .into_iter()
                        .filter(|i| i.available())
                    {
                        let mut y = TensorI8::<nn::Shape1<O>>::zeros();
                        layer.forward_on(isa, &x, &mut y, Rounding::FixedPoint);
                        assert_eq!(y.as_slice(), want.as_slice(), "{isa:?}, case {case}");
                        checked += 1;
                    }
                }
            }
            checked
        }};
    }
    let mut rng = Lcg(17);
    let n = check!(&mut rng, U16, U64)
        + check!(&mut rng, U64, U32)
        + check!(&mut rng, U32, U32)
        + check!(&mut rng, U32, U5);
    // Each shape's 12 layers on 20 inputs, on every instruction set beside the portable one
    // that this CPU has (none on a CPU without AVX2).
    let others = [Isa8::Avx2, Isa8::Vnni]
        .iter()
        .filter(|i| i.available())
        .count();
    assert_eq!(n, 4 * 12 * 20 * others);
}
