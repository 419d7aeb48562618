//! The fixed-point twin `network!` generates (`#[fixed(...)]`, `Name::to_fixed()`) against
//! hls4ml 1.3's C simulation, bit for bit: the same Keras float32 weights go through
//! `to_fixed()` (printed as hls4ml prints them, read back, converted), the same 64 inputs
//! through `forward_raw`, and every raw output must equal the C simulation's
//! (`tests/fixtures/hls4ml/*.json`, written by `scripts/hls4ml/make_fixtures.py`, never by nn).

use nn::prelude::*;
use serde_json::Value;

nn::network! {
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct JetFixed16 {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
    }
}

nn::network! {
    #[fixed(
        default = "ap_fixed<16,6>",
        input = "ap_fixed<16,6,AP_RND,AP_SAT>",
        fc1(result = "ap_fixed<16,6,AP_RND,AP_SAT>", weight = "ap_fixed<12,3,AP_RND>", accum = "ap_fixed<24,10>"),
        fc1_relu(result = "ap_fixed<16,6,AP_RND,AP_SAT>"),
        fc2(result = "ap_fixed<16,6,AP_RND,AP_WRAP>", bias = "ap_fixed<10,2,AP_RND>", accum = "ap_fixed<24,10,AP_TRN,AP_SAT>"),
        fc2_relu(result = "ap_ufixed<12,4,AP_RND,AP_SAT>"),
        fc3(result = "ap_fixed<14,5,AP_RND_ZERO,AP_SAT_SYM>", weight = "ap_fixed<10,2,AP_RND_CONV>", accum = "ap_fixed<20,8>"),
        fc3_relu(result = "ap_fixed<14,5>"),
        out(result = "ap_fixed<16,6,AP_RND,AP_SAT>", weight = "ap_fixed<16,6,AP_RND>", bias = "ap_fixed<16,6,AP_RND>", accum = "ap_fixed<24,10>"),
    )]
    pub struct JetRoundSat {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>", softmax(table_size = 1024))]
    pub struct JetSoftmax {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
        softmax: Softmax,
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>", softmax(implementation = latency))]
    pub struct JetSoftmaxLatency {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
        softmax: Softmax,
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>", sigmoid(table = "ap_fixed<18,8>", table_size = 1024))]
    pub struct JetSigmoid {
        input: [16],
        fc1: Dense(64), fc1_relu: ReLU,
        fc2: Dense(32), fc2_relu: ReLU,
        fc3: Dense(32), fc3_relu: ReLU,
        out: Dense(5),
        sigmoid: Sigmoid,
    }
}

nn::network! {
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct SmallCnn {
        input: [1, 8, 8],
        conv: Conv2d(4, kernel = 3), conv_relu: ReLU,
        pool: MaxPool2d(2),
        flatten: Flatten,
        fc: Dense(10),
    }
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/hls4ml/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A C99 hex float (`-0x1.8p+1`), exactly.
fn hex_f64(s: &str) -> f64 {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let s = s.strip_prefix("0x").unwrap();
    let (mant, exp) = s.split_once('p').unwrap();
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = format!("{int}{frac}");
    let m = u64::from_str_radix(&digits, 16).unwrap();
    let e: i32 = exp.parse::<i32>().unwrap() - 4 * frac.len() as i32;
    let v = m as f64 * 2f64.powi(e);
    if neg {
        -v
    } else {
        v
    }
}

/// The fixture's Keras weights as a PyTorch state dict for `N`: Dense `[in][out]` -> `[out][in]`,
/// Conv2D `[kh][kw][in][out]` -> `[out][in][kh][kw]`; a Dense after a Flatten of `[h][w][c]`
/// (Keras) gets its rows in nn's `[c][h][w]` order.
fn load<N: SafeTensors>(f: &Value, flatten_hwc: Option<(usize, usize, usize)>) -> N {
    let mut tensors = Vec::new();
    for layer in f["layers"].as_array().unwrap() {
        let Some(params) = layer.get("params") else {
            continue;
        };
        let name = layer["name"].as_str().unwrap();
        let w = &params["weight"];
        let shape: Vec<usize> = w["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let data: Vec<f32> = w["keras_f32"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let (torch_shape, torch) = match shape.as_slice() {
            [n_in, n_out] => {
                let mut t = vec![0f32; n_in * n_out];
                for i in 0..*n_in {
                    // Row `i` of Keras's flattened [h][w][c] input is nn's [c][h][w] row `j`.
                    let j = match flatten_hwc {
                        Some((c, h, wd)) if n_in == &(c * h * wd) => {
                            let (hh, rest) = (i / (wd * c), i % (wd * c));
                            let (ww, cc) = (rest / c, rest % c);
                            (cc * h + hh) * wd + ww
                        }
                        _ => i,
                    };
                    for o in 0..*n_out {
                        t[o * n_in + j] = data[i * n_out + o];
                    }
                }
                (vec![*n_out, *n_in], t)
            }
            [kh, kw, ci, co] => {
                let mut t = vec![0f32; kh * kw * ci * co];
                for a in 0..*kh {
                    for b in 0..*kw {
                        for c in 0..*ci {
                            for o in 0..*co {
                                t[((o * ci + c) * kh + a) * kw + b] =
                                    data[((a * kw + b) * ci + c) * co + o];
                            }
                        }
                    }
                }
                (vec![*co, *ci, *kh, *kw], t)
            }
            other => panic!("weight shape {other:?}"),
        };
        tensors.push(nn::NamedTensor {
            name: format!("{name}.weight"),
            shape: torch_shape,
            data: torch,
        });
        let b = &params["bias"];
        let bias: Vec<f32> = b["keras_f32"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        tensors.push(nn::NamedTensor {
            name: format!("{name}.bias"),
            shape: vec![bias.len()],
            data: bias,
        });
    }
    let bytes = nn::safetensors_bytes(&tensors).unwrap();
    N::from_safetensors_bytes(&bytes, "fixture", Layout::PyTorch).unwrap()
}

fn inputs(f: &Value) -> Vec<Vec<f64>> {
    f["inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| hex_f64(v.as_str().unwrap()))
                .collect()
        })
        .collect()
}

fn expected(f: &Value) -> Vec<Vec<i64>> {
    f["outputs_raw"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        })
        .collect()
}

macro_rules! parity {
    ($net:ident, $case:literal, $flatten:expr) => {{
        let f = fixture($case);
        let twin = load::<$net>(&f, $flatten).to_fixed();
        let (xs, ys) = (inputs(&f), expected(&f));
        let mut values = 0;
        let mut mismatches = Vec::new();
        for (s, (x, want)) in xs.iter().zip(&ys).enumerate() {
            let raw = x
                .iter()
                .map(|&v| paste_input::<$net>(v))
                .collect::<Vec<_>>();
            let got = twin.forward_raw(&raw.try_into().unwrap());
            values += got.len();
            if got.as_slice() != want.as_slice() {
                mismatches.push((s, got.to_vec(), want.clone()));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} of {} samples differ from hls4ml's C simulation; first: {:?}",
            $case,
            mismatches.len(),
            xs.len(),
            mismatches.first()
        );
        println!(
            "{}: {} samples, {values} raw outputs identical to hls4ml 1.3's C simulation",
            $case,
            xs.len()
        );
    }};
}

/// The raw input as hls4ml's `input_t(double)`.
fn paste_input<N>(v: f64) -> i64
where
    N: HasFixed,
{
    N::INPUT.from_f64(v).raw
}

trait HasFixed {
    const INPUT: nn::fixed_point::Spec;
}
macro_rules! has_fixed {
    ($($net:ident => $twin:ident),*) => {$(
        impl HasFixed for $net {
            const INPUT: nn::fixed_point::Spec = $twin::INPUT;
        }
    )*};
}
has_fixed!(JetFixed16 => JetFixed16Fixed, JetRoundSat => JetRoundSatFixed, JetSoftmax => JetSoftmaxFixed,
    JetSoftmaxLatency => JetSoftmaxLatencyFixed, JetSigmoid => JetSigmoidFixed, SmallCnn => SmallCnnFixed);

#[test]
fn m1_at_ap_fixed_16_6() {
    parity!(JetFixed16, "m1_fixed16_6", None);
}

#[test]
fn m1_with_rounding_saturation_and_wide_accumulators() {
    parity!(JetRoundSat, "m1_rnd_sat", None);
}

#[test]
fn m1_with_the_stable_softmax_tables() {
    parity!(JetSoftmax, "m1_softmax", None);
}

#[test]
fn m1_with_the_latency_softmax_tables() {
    parity!(JetSoftmaxLatency, "m1_softmax_latency", None);
}

#[test]
fn m1_with_the_sigmoid_table() {
    parity!(JetSigmoid, "m1_sigmoid", None);
}

#[test]
fn small_cnn() {
    parity!(SmallCnn, "cnn_fixed16_6", Some((4, 3, 3)));
}

nn::network! {
    /// A batch norm after a Dense layer: the twin is that of the folded network.
    #[fixed(default = "ap_fixed<16,6>", fc1(accum = "ap_fixed<24,10>"))]
    pub struct WithBatchNorm {
        input: [16],
        fc1: Dense(32), bn1: BatchNorm1d, ReLU,
        fc2: Dense(5),
    }
}

#[test]
fn batch_norm_is_folded_before_quantizing() {
    use nn::prelude::*;
    // Non-trivial running statistics, then the twin of the folded network.
    let mut t = WithBatchNorm::new(3).state_dict(Layout::PyTorch);
    for x in t.iter_mut() {
        if x.name == "bn1.running_mean" {
            x.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.05 * (i % 7) as f32 - 0.1);
        }
        if x.name == "bn1.running_var" {
            x.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.5 + 0.1 * (i % 5) as f32);
        }
    }
    let net = WithBatchNorm::from_safetensors_bytes(
        &nn::safetensors_bytes(&t).unwrap(),
        "bn",
        Layout::PyTorch,
    )
    .unwrap();
    let twin = net.to_fixed();
    assert_eq!(
        twin.forward_raw(&[0; 16]),
        net.fold().to_fixed().forward_raw(&[0; 16])
    );
    let mut worst = 0f32;
    for s in 0..50u32 {
        let x: Vec<f32> = (0..16)
            .map(|i| (((s * 7 + i * 13) % 23) as f32 / 11.0) - 1.0)
            .collect();
        let x = nn::Input::<WithBatchNorm>::try_from(&x[..]).unwrap();
        let (a, b) = (net.forward(&x), twin.forward(&x));
        for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
            worst = worst.max((p - q).abs());
        }
    }
    println!("batch norm folded: max |f32 - ap_fixed<16,6>| = {worst}");
    assert!(
        worst < 0.05,
        "fixed twin of the folded network differs from f32 by {worst}"
    );
    assert!(WithBatchNormFixed::SUMMARY
        .contains("fc1: weight ap_fixed<16,6>, bias ap_fixed<16,6>, accum ap_fixed<24,10>"));
}
