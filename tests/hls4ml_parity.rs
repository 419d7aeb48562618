//! Bit-exact parity with hls4ml's C simulation (issue #18): every fixture in
//! `tests/fixtures/hls4ml/` (made by `scripts/hls4ml/make_fixtures.py` from hls4ml 1.3; nothing in
//! them comes from Rust) is rebuilt from its JSON with `nn::fixed_point::{ops, tables}` on nn's
//! layouts (channels first, weights `[out][in]...`) and run on its 64 inputs; every traced layer
//! output and every final output must equal the C simulation's raw integers.
//!
//! From the JSON: the applied types (`layers[*].types` / `config_types`), the weights as the C
//! simulation reads them (`params.*.text` parsed as `f64`, then converted: checked against
//! `csim_raw`), permuted from Keras's order (Dense `[in][out]`, Conv2D `[kh][kw][in][out]`) into
//! nn's; the CNN's inputs from `[h][w][c]` into `[c][h][w]`. Keras flattens `[h][w][c]` and nn
//! flattens `[c][h][w]`, so the Dense after the Flatten gets its input columns permuted; it then
//! adds the same products in a different order than hls4ml, which gives the same result because
//! that layer's accumulator wraps (`AP_WRAP`, same fractional bits: the sum is exact modulo 2^W,
//! so order-independent). With a saturating accumulator there, a twin would have to add in
//! hls4ml's (channels-last) order instead; the test asserts the accumulator wraps.

use nn::fixed_point::ops::{self, DensePrecision, PoolPrecision, Window2d};
use nn::fixed_point::tables::{self, SigmoidTable, SoftmaxPrecision, SoftmaxTables};
use nn::fixed_point::{Overflow, Spec};
use serde_json::Value;

mod common;
use common::hls4ml::{
    counted_weights, dense_layer, fixture as load, hex_f64, ints, spec, usize_of, Tally,
};

const FIXTURES: [&str; 6] = [
    "m1_fixed16_6",
    "m1_rnd_sat",
    "m1_softmax",
    "m1_softmax_latency",
    "m1_sigmoid",
    "cnn_fixed16_6",
];

/// Table sizes of the fixtures (checked against each config).
const TABLE: usize = 1024;

/// A layer of the rebuilt network (nn's layouts).
enum Layer {
    Dense {
        w: Vec<i64>,
        b: Vec<i64>,
        p: DensePrecision,
    },
    Conv2d {
        g: Window2d,
        w: Vec<i64>,
        b: Vec<i64>,
        p: DensePrecision,
    },
    Relu(Spec),
    Sigmoid(Box<SigmoidTable<TABLE>>, Spec),
    Softmax(
        SoftmaxPrecision,
        Box<SoftmaxTables<TABLE, TABLE>>,
        /* latency */ bool,
    ),
    MaxPool2d(Window2d, PoolPrecision),
    Flatten,
}

/// A tensor flowing through: raw values, their type, and `[C][H][W]` if an image.
#[derive(Clone)]
struct Tensor {
    raw: Vec<i64>,
    spec: Spec,
    chw: Option<(usize, usize, usize)>,
}

impl Tensor {
    /// The values in hls4ml's order (`[h][w][c]` for images).
    fn hls4ml_order(&self) -> Vec<i64> {
        match self.chw {
            None => self.raw.clone(),
            Some((c, h, w)) => {
                let mut out = vec![0; self.raw.len()];
                for ci in 0..c {
                    for hi in 0..h {
                        for wi in 0..w {
                            out[(hi * w + wi) * c + ci] = self.raw[(ci * h + hi) * w + wi];
                        }
                    }
                }
                out
            }
        }
    }
}

struct Net {
    input: Spec,
    input_chw: Option<(usize, usize, usize)>,
    layers: Vec<(String, Layer, Spec)>,
}

fn build(fx: &Value, t: &mut Tally) -> Net {
    let layers_json = fx["layers"].as_array().unwrap();
    let input = spec(&fx["input_type"]);
    let shape: Vec<usize> = fx["keras_input_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(usize_of)
        .collect();
    let input_chw = (shape.len() == 3).then(|| (shape[2], shape[0], shape[1]));
    let mut cur_spec = input;
    let mut cur_chw = input_chw;
    // The `[c][h][w]` shape flattened just before, if any (for the next Dense's columns).
    let mut flattened: Option<(usize, usize, usize)> = None;
    let mut layers = Vec::new();
    for l in layers_json {
        let name = l["name"].as_str().unwrap().to_string();
        let class = l["class"].as_str().unwrap();
        let types = &l["types"];
        let out = spec(&l["output_type"]);
        if l.get("types").and_then(|t| t.get("result_t")).is_some() {
            assert_eq!(spec(&types["result_t"]), out, "{name}");
        }
        let dense_precision = || DensePrecision {
            weight: spec(&types["weight_t"]),
            bias: spec(&types["bias_t"]),
            accum: spec(&types["accum_t"]),
            result: out,
        };
        let layer = match class {
            "Input" => {
                assert_eq!(out, input);
                continue;
            }
            "Dense" => {
                let (w, b, p) = dense_layer(l, out, flattened, t);
                if flattened.is_some() {
                    assert_eq!(
                        p.accum.overflow(),
                        Overflow::Wrap,
                        "reordered sum needs a wrapping accumulator"
                    );
                    flattened = None;
                }
                cur_chw = None;
                Layer::Dense { w, b, p }
            }
            "Conv2D" => {
                let p = dense_precision();
                let (kw, _) = counted_weights(&l["params"]["weight"], t);
                let (b, _) = counted_weights(&l["params"]["bias"], t);
                let c = &l["config_constants"];
                let get = |k: &str| usize_of(&c[k]);
                let (cin, h, wd) = cur_chw.unwrap();
                assert_eq!(
                    (cin, h, wd),
                    (get("n_chan"), get("in_height"), get("in_width"))
                );
                let (fh, fw, nf) = (get("filt_height"), get("filt_width"), get("n_filt"));
                let g = Window2d::new(
                    (cin, h, wd),
                    (fh, fw),
                    (get("stride_height"), get("stride_width")),
                    (
                        get("pad_top"),
                        get("pad_bottom"),
                        get("pad_left"),
                        get("pad_right"),
                    ),
                );
                assert_eq!(g.output, (get("out_height"), get("out_width")));
                // Keras [kh][kw][c][f] -> nn [f][c][kh][kw].
                let mut w = vec![0; kw.len()];
                for f in 0..nf {
                    for ci in 0..cin {
                        for i in 0..fh {
                            for j in 0..fw {
                                w[((f * cin + ci) * fh + i) * fw + j] =
                                    kw[((i * fw + j) * cin + ci) * nf + f];
                            }
                        }
                    }
                }
                cur_chw = Some((nf, g.output.0, g.output.1));
                Layer::Conv2d { g, w, b, p }
            }
            "Pooling2D" => {
                let c = &l["config_constants"];
                assert_eq!(c["pool_op"], "nnet::Max");
                let get = |k: &str| usize_of(&c[k]);
                let chw = cur_chw.unwrap();
                let g = Window2d::new(
                    chw,
                    (get("pool_height"), get("pool_width")),
                    (get("stride_height"), get("stride_width")),
                    (
                        get("pad_top"),
                        get("pad_bottom"),
                        get("pad_left"),
                        get("pad_right"),
                    ),
                );
                assert_eq!(g.output, (get("out_height"), get("out_width")));
                cur_chw = Some((chw.0, g.output.0, g.output.1));
                Layer::MaxPool2d(
                    g,
                    PoolPrecision {
                        accum: spec(&types["accum_t"]),
                        result: out,
                    },
                )
            }
            "Reshape" => {
                assert!(l.get("function_cpp").is_none_or(|f| f.is_null()));
                flattened = cur_chw.take();
                Layer::Flatten
            }
            "Activation" => match l["activation"].as_str().unwrap() {
                "relu" => Layer::Relu(out),
                "sigmoid" => {
                    assert_eq!(usize_of(&l["config_constants"]["table_size"]), TABLE);
                    let table_spec = spec(&types["table_t"]);
                    let table = Box::new(SigmoidTable::<TABLE>::new(table_spec));
                    let fixture = &l["tables"]["table"];
                    assert_eq!(spec(&fixture["type"]), table_spec);
                    assert_eq!(
                        &table.raw()[..],
                        &ints(&fixture["raw"])[..],
                        "sigmoid table"
                    );
                    t.table_entries += TABLE;
                    Layer::Sigmoid(table, out)
                }
                a => panic!("activation {a}"),
            },
            "Softmax" => {
                let c = &l["config_constants"];
                let ct = &l["config_types"];
                let latency = match c["implementation"].as_str().unwrap() {
                    "nnet::softmax_implementation::stable" => false,
                    "nnet::softmax_implementation::latency" => true,
                    i => panic!("{i}"),
                };
                assert_eq!(usize_of(&c["exp_table_size"]), TABLE);
                assert_eq!(usize_of(&c["inv_table_size"]), TABLE);
                let p = SoftmaxPrecision {
                    input: cur_spec,
                    result: out,
                    exp_table: spec(&ct["exp_table_t"]),
                    inv_table: spec(&ct["inv_table_t"]),
                    accum: spec(&ct["accum_t"]),
                    inv_inp: spec(&ct["inv_inp_t"]),
                    inp_norm: spec(&ct["inp_norm_t"]),
                    exp_scale: c["exp_scale"].as_str().unwrap().parse().unwrap(),
                };
                if !latency {
                    assert_eq!(p.inp_norm, SoftmaxPrecision::hls4ml_inp_norm(cur_spec));
                    assert_eq!(
                        SoftmaxPrecision::hls4ml_stable_exp_table_size(cur_spec, TABLE),
                        TABLE
                    );
                    assert_eq!(p, SoftmaxPrecision::hls4ml_default(cur_spec, out));
                }
                let tabs = Box::new(if latency {
                    SoftmaxTables::<TABLE, TABLE>::latency(&p)
                } else {
                    SoftmaxTables::<TABLE, TABLE>::stable(&p)
                });
                for (key, ours, ty) in [
                    ("exp_table", &tabs.exp[..], p.exp_table),
                    ("inv_table", &tabs.inv[..], p.inv_table),
                ] {
                    let fixture = &l["tables"][key];
                    assert_eq!(spec(&fixture["type"]), ty, "{key}");
                    assert_eq!(ours, &ints(&fixture["raw"])[..], "{key}");
                    t.table_entries += ours.len();
                }
                Layer::Softmax(p, tabs, latency)
            }
            c => panic!("layer class {c}"),
        };
        cur_spec = if matches!(layer, Layer::Flatten) {
            cur_spec
        } else {
            out
        };
        layers.push((name, layer, out));
    }
    assert_eq!(cur_spec, spec(&fx["output_type"]));
    Net {
        input,
        input_chw,
        layers,
    }
}

fn run(layer: &Layer, x: &Tensor, out: Spec) -> Tensor {
    let mut y = Tensor {
        raw: vec![],
        spec: out,
        chw: x.chw,
    };
    match layer {
        Layer::Dense { w, b, p } => {
            y.raw = vec![0; b.len()];
            y.chw = None;
            ops::dense(&x.raw, x.spec, w, b, p, &mut y.raw);
        }
        Layer::Conv2d { g, w, b, p } => {
            y.raw = vec![0; b.len() * g.output.0 * g.output.1];
            y.chw = Some((b.len(), g.output.0, g.output.1));
            ops::conv2d(&x.raw, x.spec, *g, w, b, p, &mut y.raw);
        }
        Layer::MaxPool2d(g, p) => {
            y.raw = vec![0; g.input.0 * g.output.0 * g.output.1];
            y.chw = Some((g.input.0, g.output.0, g.output.1));
            ops::max_pool2d(&x.raw, x.spec, *g, p, &mut y.raw);
        }
        Layer::Relu(s) => {
            y.raw = vec![0; x.raw.len()];
            ops::relu(&x.raw, x.spec, *s, &mut y.raw);
        }
        Layer::Sigmoid(table, s) => {
            y.raw = vec![0; x.raw.len()];
            tables::sigmoid(&x.raw, x.spec, table, *s, &mut y.raw);
        }
        Layer::Softmax(p, tabs, latency) => {
            assert_eq!(p.input, x.spec);
            y.raw = vec![0; x.raw.len()];
            if *latency {
                tables::softmax_latency(&x.raw, p, tabs, &mut y.raw);
            } else {
                tables::softmax_stable(&x.raw, p, tabs, &mut y.raw);
            }
        }
        Layer::Flatten => {
            y.raw = x.raw.clone();
            y.spec = x.spec;
            y.chw = None;
        }
    }
    y
}

fn check_fixture(name: &str) -> Tally {
    let fx = load(name);
    let mut t = Tally::default();
    let net = build(&fx, &mut t);
    let layer_json: Vec<&Value> = fx["layers"].as_array().unwrap().iter().collect();
    let inputs = fx["inputs_hex"].as_array().unwrap();
    let outputs = fx["outputs_raw"].as_array().unwrap();
    assert_eq!(inputs.len(), 64);
    for (s, (input, expected)) in inputs.iter().zip(outputs).enumerate() {
        // Keras's order ([h][w][c] for the CNN) converted with input_t's modes.
        let keras: Vec<i64> = input
            .as_array()
            .unwrap()
            .iter()
            .map(|x| net.input.from_f64(hex_f64(x.as_str().unwrap())).raw)
            .collect();
        let raw = match net.input_chw {
            None => keras,
            Some((c, h, w)) => {
                let mut chw = vec![0; keras.len()];
                for ci in 0..c {
                    for hi in 0..h {
                        for wi in 0..w {
                            chw[(ci * h + hi) * w + wi] = keras[(hi * w + wi) * c + ci];
                        }
                    }
                }
                chw
            }
        };
        let mut x = Tensor {
            raw,
            spec: net.input,
            chw: net.input_chw,
        };
        for (lname, layer, out) in &net.layers {
            x = run(layer, &x, *out);
            let lj = layer_json
                .iter()
                .find(|l| l["name"] == lname.as_str())
                .unwrap();
            if let Some(trace) = lj.get("trace_raw") {
                let want = ints(&trace[s]);
                let got = x.hls4ml_order();
                assert_eq!(got.len(), want.len(), "{name} {lname}");
                for (g, w) in got.iter().zip(&want) {
                    t.max_diff = t.max_diff.max((g - w).abs());
                }
                assert_eq!(got, want, "{name}: layer {lname}, sample {s}");
                t.trace_values += want.len();
            }
        }
        let want = ints(expected);
        let got = x.hls4ml_order();
        for (g, w) in got.iter().zip(&want) {
            t.max_diff = t.max_diff.max((g - w).abs());
        }
        assert_eq!(got, want, "{name}: outputs, sample {s}");
        t.outputs += want.len();
        // The doubles the bridge prints are the raw values exactly.
        let doubles = fx["outputs"][s].as_array().unwrap();
        for (g, d) in got.iter().zip(doubles) {
            assert_eq!(
                x.spec.to_f64(nn::fixed_point::Fixed::from_raw(*g)),
                d.as_f64().unwrap()
            );
        }
    }
    t
}

#[test]
fn hls4ml_csim_parity() {
    let mut total = Tally::default();
    for name in FIXTURES {
        let t = check_fixture(name);
        println!(
            "{name:20} weights {:5} (f32 route {:5}), table entries {:4}, traced values {:6}, \
             outputs {:3}, max diff {}",
            t.weights, t.weights_from_f32, t.table_entries, t.trace_values, t.outputs, t.max_diff
        );
        assert_eq!(t.max_diff, 0);
        total.add(&t);
    }
    println!(
        "total: {} weights ({} also from f32), {} table entries, {} traced values, {} outputs: \
         all bit-identical",
        total.weights,
        total.weights_from_f32,
        total.table_entries,
        total.trace_values,
        total.outputs
    );
}
