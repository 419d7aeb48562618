//! The hls4ml C-simulation fixtures (`tests/fixtures/hls4ml/`, written by
//! `scripts/hls4ml/make_fixtures.py`): reading them, and loading their Keras weights into a
//! network declared with the same layers.

use nn::fixed_point::Spec;
use nn::prelude::*;
use serde_json::Value;

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/hls4ml/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A C99 hex float (`-0x1.8p+1`), exactly.
pub fn hex_f64(s: &str) -> f64 {
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
pub fn load<N: SafeTensors>(f: &Value, flatten_hwc: Option<(usize, usize, usize)>) -> N {
    let mut tensors = Vec::new();
    for layer in f["layers"].as_array().unwrap() {
        let Some(params) = layer.get("params") else {
            continue;
        };
        let name = layer["name"].as_str().unwrap();
        let f32s = |v: &Value| -> Vec<f32> {
            v["keras_f32"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        };
        if let Some(alpha) = params.get("param") {
            // PReLU: one slope per value.
            let a = f32s(alpha);
            tensors.push(nn::NamedTensor {
                name: format!("{name}.weight"),
                shape: vec![a.len()],
                data: a,
            });
            continue;
        }
        if let Some(scale) = params.get("scale") {
            // hls4ml's batch norm `x * scale + bias` (scale and bias folded from Keras's
            // parameters in f32): gamma = scale, beta = bias, mean 0 and a variance that makes
            // sqrt(var + 1e-5) exactly 1 in f32.
            let (sc, bi) = (f32s(scale), f32s(&params["bias"]));
            let var = 1.0f32 - 1e-5;
            assert_eq!((var + 1e-5f32).sqrt(), 1.0);
            let c = sc.len();
            tensors.push(nn::NamedTensor {
                name: format!("{name}.weight"),
                shape: vec![c],
                data: sc,
            });
            tensors.push(nn::NamedTensor {
                name: format!("{name}.bias"),
                shape: vec![c],
                data: bi,
            });
            tensors.push(nn::NamedTensor {
                name: format!("{name}.running_mean"),
                shape: vec![c],
                data: vec![0.0; c],
            });
            tensors.push(nn::NamedTensor {
                name: format!("{name}.running_var"),
                shape: vec![c],
                data: vec![var; c],
            });
            continue;
        }
        let w = &params["weight"];
        let shape: Vec<usize> = ints(&w["shape"]).iter().map(|&v| v as usize).collect();
        let data = f32s(w);
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
        let bias = f32s(&params["bias"]);
        tensors.push(nn::NamedTensor {
            name: format!("{name}.bias"),
            shape: vec![bias.len()],
            data: bias,
        });
    }
    let bytes = nn::safetensors_bytes(&tensors).unwrap();
    N::from_safetensors_bytes(&bytes, "fixture", Layout::PyTorch).unwrap()
}

pub fn inputs(f: &Value) -> Vec<Vec<f64>> {
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

pub fn expected(f: &Value) -> Vec<Vec<i64>> {
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

/// A type from the fixture's description, cross-checked against its parsed fields.
pub fn spec(t: &Value) -> Spec {
    let cpp = t["cpp"].as_str().unwrap();
    let s = Spec::parse(cpp).unwrap_or_else(|e| panic!("{cpp}: {e}"));
    assert_eq!(s.width() as u64, t["width"].as_u64().unwrap(), "{cpp}");
    assert_eq!(
        s.int_bits() as i64,
        t["int_bits"].as_i64().unwrap(),
        "{cpp}"
    );
    assert_eq!(s.is_signed(), t["signed"].as_bool().unwrap(), "{cpp}");
    assert_eq!(s.quant().name(), t["quant"].as_str().unwrap(), "{cpp}");
    assert_eq!(
        s.overflow().name(),
        t["overflow"].as_str().unwrap(),
        "{cpp}"
    );
    s
}

/// An array of integers.
pub fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// An array of numbers.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A size written as a number or a string (the configs' constants are strings).
pub fn usize_of(v: &Value) -> usize {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_u64().unwrap() as usize,
    }
}

/// A weight tensor of a fixture as the C simulation holds it: its `text` read as `double`s and
/// converted to its type must give `csim_raw`, and so must Keras's `float32` values through
/// `ops::hls4ml_weight` (their printout must be that `text`). The raw values and the type.
pub fn csim_weights(param: &Value) -> (Vec<i64>, Spec) {
    let s = spec(&param["type"]);
    let csim = ints(&param["csim_raw"]);
    let text = param["text"].as_array().unwrap();
    assert_eq!(text.len(), csim.len());
    let raw: Vec<i64> = text
        .iter()
        .map(|x| s.from_f64(x.as_str().unwrap().parse::<f64>().unwrap()).raw)
        .collect();
    assert_eq!(raw, csim, "{}: weights", param["name"]);
    // float32 values; serde_json reads doubles to within an ulp, so round to f32.
    let f32s = floats(&param["keras_f32"]);
    assert_eq!(f32s.len(), raw.len());
    for ((&w, x), &c) in f32s.iter().zip(text).zip(&csim) {
        let w = w as f32;
        let printed = nn::fixed_point::ops::WeightText::new(w, s);
        assert_eq!(printed.as_str(), x.as_str().unwrap());
        assert_eq!(nn::fixed_point::ops::hls4ml_weight(w, s), c);
    }
    (raw, s)
}

/// Counts of what a parity suite compared against the C simulation.
#[derive(Default)]
pub struct Tally {
    pub weights: usize,
    pub weights_from_f32: usize,
    pub table_entries: usize,
    pub trace_values: usize,
    /// Values out of the layers under test (activations, batch norm).
    pub act_values: usize,
    /// Of those, inputs `<= 0` (`< 0` for ELU/SELU): the alpha / table branch of the
    /// piecewise activations.
    pub act_negative: usize,
    pub outputs: usize,
    pub max_diff: i64,
}

impl Tally {
    /// Adds one fixture's counts (all but the maximum difference, which each fixture asserts).
    pub fn add(&mut self, t: &Tally) {
        self.weights += t.weights;
        self.weights_from_f32 += t.weights_from_f32;
        self.table_entries += t.table_entries;
        self.trace_values += t.trace_values;
        self.act_values += t.act_values;
        self.act_negative += t.act_negative;
        self.outputs += t.outputs;
    }
}

/// Weights (or biases, PReLU alphas, BN scales) as the C simulation holds them
/// ([`csim_weights`]), counted.
pub fn counted_weights(param: &Value, t: &mut Tally) -> (Vec<i64>, Spec) {
    let (raw, s) = csim_weights(param);
    t.weights += raw.len();
    t.weights_from_f32 += raw.len();
    (raw, s)
}

/// A Dense layer of a fixture in nn's layout: its types (`result` the layer's output type),
/// weights `[out][in]` and biases as the C simulation holds them (counted in `t`). `flattened`:
/// the `[c][h][w]` image flattened into its input, whose Keras rows are in `[h][w][c]` order.
pub fn dense_layer(
    l: &Value,
    result: Spec,
    flattened: Option<(usize, usize, usize)>,
    t: &mut Tally,
) -> (Vec<i64>, Vec<i64>, nn::fixed_point::ops::DensePrecision) {
    let types = &l["types"];
    let p = nn::fixed_point::ops::DensePrecision {
        weight: spec(&types["weight_t"]),
        bias: spec(&types["bias_t"]),
        accum: spec(&types["accum_t"]),
        result,
    };
    let (kw, ws) = counted_weights(&l["params"]["weight"], t);
    let (b, bs) = counted_weights(&l["params"]["bias"], t);
    assert_eq!((ws, bs), (p.weight, p.bias));
    let (n_in, n_out) = (usize_of(&l["n_in"]), usize_of(&l["n_out"]));
    let mut w = vec![0; n_in * n_out];
    for o in 0..n_out {
        for i in 0..n_in {
            // nn's input index i; Keras's row: the same, or its [h][w][c] position.
            let k = match flattened {
                None => i,
                Some((c, h, wd)) => {
                    let (ci, hi, wi) = (i / (h * wd), i / wd % h, i % wd);
                    (hi * wd + wi) * c + ci
                }
            };
            w[o * n_in + i] = kw[k * n_out + o];
        }
    }
    (w, b, p)
}
