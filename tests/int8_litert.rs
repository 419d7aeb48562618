//! int8 kernels bit-exact with LiteRT's reference kernels (issue 17, first part): every op and
//! chain of `tests/fixtures/int8/*.json`, written by `scripts/litert_int8/make_fixtures.py`
//! from models run by `ai-edge-litert`'s interpreter with its reference op resolver. The
//! fixtures are NHWC with TFLite weight layouts; the kernels here are channels first with
//! PyTorch layouts, so each tensor is transposed on the way in and out.

use nn::quant::ops::{self, AddParams, Output, Window2};
use nn::quant::{quantize_multiplier, Requantize, Rounding};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/int8/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_i64().expect("an integer"))
        .collect()
}

fn i8s(v: &Value) -> Vec<i8> {
    ints(v)
        .into_iter()
        .map(|x| i8::try_from(x).expect("an int8"))
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    ints(v).into_iter().map(|x| x as usize).collect()
}

/// A float32 scale from its bit pattern (the exact value the model holds).
fn scale(q: &Value) -> f32 {
    f32::from_bits(q["scale_bits"].as_u64().expect("scale_bits") as u32)
}

fn zero(q: &Value) -> i32 {
    q["zero_point"].as_i64().expect("zero_point") as i32
}

fn output(op: &Value) -> Output {
    let r = ints(&op["activation_range"]);
    Output {
        zero_point: zero(&op["output"]),
        range: (r[0] as i32, r[1] as i32),
    }
}

/// `[1, H, W, C]` (or `[1, N]`) as `(C, H, W)`.
fn chw(shape: &[usize]) -> (usize, usize, usize) {
    match shape {
        [_, h, w, c] => (*c, *h, *w),
        [_, n] => (*n, 1, 1),
        _ => panic!("shape {shape:?}"),
    }
}

fn nhwc_to_chw(x: &[i8], (c, h, w): (usize, usize, usize)) -> Vec<i8> {
    let mut y = vec![0; x.len()];
    for ch in 0..c {
        for r in 0..h {
            for col in 0..w {
                y[(ch * h + r) * w + col] = x[(r * w + col) * c + ch];
            }
        }
    }
    y
}

fn chw_to_nhwc(x: &[i8], (c, h, w): (usize, usize, usize)) -> Vec<i8> {
    let mut y = vec![0; x.len()];
    for ch in 0..c {
        for r in 0..h {
            for col in 0..w {
                y[(r * w + col) * c + ch] = x[(ch * h + r) * w + col];
            }
        }
    }
    y
}

/// The per-channel requantization as this crate computes it from the scales, checked against
/// the multiplier and shift TFLite's `QuantizeMultiplier` gave (recorded in the fixture).
fn requants(op: &Value) -> Vec<Requantize> {
    let s_in = scale(&op["input"]);
    let s_out = scale(&op["output"]);
    let ws: Vec<f32> = ints(&op["weight_scales_bits"])
        .iter()
        .map(|&b| f32::from_bits(b as u32))
        .collect();
    let want_q = ints(&op["requant"]["quantized_multiplier"]);
    let want_s = ints(&op["requant"]["shift"]);
    ws.iter()
        .enumerate()
        .map(|(c, &w)| {
            let r = Requantize::new(s_in, w, s_out);
            assert_eq!(
                (r.multiplier as i64, r.shift as i64),
                (want_q[c], want_s[c]),
                "channel {c}"
            );
            r
        })
        .collect()
}

fn window(op: &Value, input: (usize, usize, usize), kernel: (usize, usize)) -> Window2 {
    let stride = usizes(&op["stride"]);
    let pad = &op["pad"];
    let out = chw(&usizes(&op["output_shape"]));
    Window2 {
        input,
        kernel,
        stride: (stride[0], stride[1]),
        pad: (
            pad["top"].as_u64().unwrap() as usize,
            pad["left"].as_u64().unwrap() as usize,
        ),
        output: (out.1, out.2),
    }
}

/// Runs one op on NHWC tensors (`tensors[i]` is the graph input for i = 0, else op i-1's
/// output), returning its NHWC output; `second` is a single-op ADD's second input.
fn run(
    op: &Value,
    tensors: &[Vec<i8>],
    shapes: &[Vec<usize>],
    second: Option<&[i8]>,
    rounding: Rounding,
) -> Vec<i8> {
    let inputs = usizes(&op["inputs"]);
    let x = &tensors[inputs[0]];
    let in_shape = chw(&shapes[inputs[0]]);
    let out_shape = chw(&usizes(&op["output_shape"]));
    let n_out = out_shape.0 * out_shape.1 * out_shape.2;
    let mut y = vec![0i8; n_out];
    match op["op"].as_str().unwrap() {
        "fully_connected" => {
            let w = i8s(&op["weights"]);
            let bias: Vec<i32> = ints(&op["bias"]).iter().map(|&b| b as i32).collect();
            ops::dense(
                x,
                zero(&op["input"]),
                &w,
                &bias,
                &requants(op),
                rounding,
                output(op),
                &mut y,
            );
            y
        }
        "conv_2d" => {
            let ws = usizes(&op["weights_shape"]); // [O, KH, KW, I]
            let (o, kh, kw, i) = (ws[0], ws[1], ws[2], ws[3]);
            let w_ohwi = i8s(&op["weights"]);
            // OHWI -> OIHW (PyTorch).
            let mut w = vec![0i8; w_ohwi.len()];
            for a in 0..o {
                for r in 0..kh {
                    for c in 0..kw {
                        for b in 0..i {
                            w[((a * i + b) * kh + r) * kw + c] =
                                w_ohwi[((a * kh + r) * kw + c) * i + b];
                        }
                    }
                }
            }
            let bias: Vec<i32> = ints(&op["bias"]).iter().map(|&b| b as i32).collect();
            let g = window(op, in_shape, (kh, kw));
            ops::conv2d(
                &nhwc_to_chw(x, in_shape),
                zero(&op["input"]),
                g,
                &w,
                &bias,
                &requants(op),
                output(op),
                &mut y,
            );
            chw_to_nhwc(&y, out_shape)
        }
        kind @ ("max_pool_2d" | "average_pool_2d") => {
            let f = usizes(&op["filter"]);
            let g = window(op, in_shape, (f[0], f[1]));
            let range = output(op).range;
            let x = nhwc_to_chw(x, in_shape);
            if kind == "max_pool_2d" {
                ops::max_pool2d(&x, g, range, &mut y);
            } else {
                ops::avg_pool2d(&x, g, None, range, &mut y);
            }
            chw_to_nhwc(&y, out_shape)
        }
        "add" => {
            // The second operand: a tensor of the chain (its quantization copied into
            // `other_quant` by `check_file`) or a second graph input described in `other`.
            let other = &op["other"];
            let (b, b_quant) = match other.as_u64() {
                Some(t) => (tensors[t as usize].as_slice(), &op["other_quant"]),
                None => (second.expect("a second input"), other),
            };
            let p = AddParams::new(
                (scale(&op["input"]), zero(&op["input"])),
                (scale(b_quant), zero(b_quant)),
                scale(&op["output"]),
                output(op),
            );
            let r = &op["requant"];
            for (k, key) in [(p.a, "input1"), (p.b, "input2"), (p.out, "output")] {
                let want = (
                    r[key]["quantized_multiplier"].as_i64().unwrap() as i32,
                    r[key]["shift"].as_i64().unwrap() as i32,
                );
                assert_eq!(k, want, "add multiplier {key}");
            }
            ops::add(x, b, &p, &mut y);
            y
        }
        "reshape" => x.clone(),
        other => panic!("op {other}"),
    }
}

/// Every case of a fixture file: runs its ops in order on every sample and compares every
/// output (and every recorded intermediate) bit for bit. Returns the values compared.
fn check_file(name: &str, fc_rounding: Rounding) -> usize {
    let file = load(name);
    assert_eq!(file["kernels"], "BUILTIN_REF");
    let mut compared = 0;
    for case in file["cases"].as_array().unwrap() {
        let case_name = case["name"].as_str().unwrap();
        let mut ops: Vec<Value> = case["ops"].as_array().unwrap().clone();
        // Quantization of each tensor: the graph input's, then each op's output.
        let mut quant = vec![case["input"].clone()];
        quant.extend(ops.iter().map(|o| o["output"].clone()));
        for op in &mut ops {
            if let Some(t) = op["other"].as_u64() {
                op["other_quant"] = quant[t as usize].clone();
            }
        }
        let mut shapes = vec![usizes(&case["input_shape"])];
        shapes.extend(ops.iter().map(|o| usizes(&o["output_shape"])));
        for (s, sample) in case["samples"].as_array().unwrap().iter().enumerate() {
            let mut tensors = vec![i8s(&sample["input"])];
            let second = sample.get("input2").map(i8s);
            for (k, op) in ops.iter().enumerate() {
                let y = run(op, &tensors, &shapes, second.as_deref(), fc_rounding);
                if let Some(mid) = sample.get("intermediates").and_then(|m| m.get(k)) {
                    if k + 1 < ops.len() {
                        assert_eq!(y, i8s(mid), "{name}/{case_name} sample {s}: op {k}");
                    }
                }
                tensors.push(y);
            }
            let want = i8s(&sample["output"]);
            let got = tensors.last().unwrap();
            assert_eq!(got, &want, "{name}/{case_name} sample {s}");
            compared += want.len();
        }
    }
    compared
}

#[test]
fn convolutions_match_litert_bit_for_bit() {
    assert!(check_file("conv_2d", Rounding::FixedPoint) > 1000);
}

#[test]
fn pooling_matches_litert_bit_for_bit() {
    assert!(check_file("pool", Rounding::FixedPoint) > 500);
}

#[test]
fn additions_match_litert_bit_for_bit() {
    assert!(check_file("add", Rounding::FixedPoint) > 500);
}

#[test]
fn fully_connected_matches_litert_reference_bit_for_bit_with_double_rounding() {
    assert!(check_file("fully_connected", Rounding::Double) > 1000);
    assert!(check_file("reshape", Rounding::Double) > 100);
}

#[test]
fn chains_match_litert_bit_for_bit() {
    // An MLP (the jet tagger's shape), a CNN (conv, max pool, flatten, dense) and a residual
    // block (dense, rescaled add, dense), int8 between the layers.
    assert!(check_file("chains", Rounding::Double) > 100);
}

#[test]
fn fixed_point_fully_connected_is_within_one_step_of_litert_reference() {
    // LiteRT's reference dense kernel rounds in f64; the integer-only fixed-point path (TFLite
    // Micro, CMSIS-NN, LiteRT's optimized kernels) differs from it by at most one step, on a
    // few values.
    let file = load("fully_connected");
    let (mut total, mut differ) = (0, 0);
    for case in file["cases"].as_array().unwrap() {
        let op = &case["ops"][0];
        let shapes = vec![usizes(&case["input_shape"])];
        for sample in case["samples"].as_array().unwrap() {
            let x = vec![i8s(&sample["input"])];
            let got = run(op, &x, &shapes, None, Rounding::FixedPoint);
            for (g, w) in got.iter().zip(i8s(&sample["output"])) {
                assert!((*g as i32 - w as i32).abs() <= 1, "{g} vs {w}");
                total += 1;
                differ += (*g != w) as usize;
            }
        }
    }
    assert!(
        differ > 0 && differ * 20 < total,
        "{differ} of {total} differ"
    );
}

#[test]
fn quantize_multiplier_matches_the_recorded_tflite_values() {
    // Every op's recorded real multiplier (f64 bits) and TFLite's (multiplier, shift).
    let mut n = 0;
    for name in ["fully_connected", "conv_2d", "chains"] {
        for case in load(name)["cases"].as_array().unwrap() {
            for op in case["ops"].as_array().unwrap() {
                let r = &op["requant"];
                let Some(bits) = r["real_multiplier_bits"].as_array() else {
                    continue;
                };
                for (k, b) in bits.iter().enumerate() {
                    let real = f64::from_bits(
                        u64::from_str_radix(b.as_str().unwrap().trim_start_matches("0x"), 16)
                            .unwrap(),
                    );
                    let want = (
                        r["quantized_multiplier"][k].as_i64().unwrap() as i32,
                        r["shift"][k].as_i64().unwrap() as i32,
                    );
                    assert_eq!(quantize_multiplier(real), want, "{name}: {real}");
                    n += 1;
                }
            }
        }
    }
    assert!(n > 300, "{n}");
}
