//! Bit-exact parity of `nn::fixed_point::activations` with hls4ml 1.3's C simulation (issue #18):
//! Tanh, Softplus, ELU, SELU, LeakyReLU, PReLU and BatchNormalization. Every `mlp_*` fixture in
//! `tests/fixtures/hls4ml/` (made by `scripts/hls4ml/make_fixtures.py`; nothing in them comes
//! from Rust) is a 16 -> Dense 32 -> [BatchNormalization] -> ACT -> Dense 16 -> ACT -> Dense 5
//! network; it is rebuilt from its JSON and run on its 64 inputs, and every traced layer output
//! and every final output must equal the C simulation's raw integers.
//!
//! From the JSON: the applied types (`layers[*].types`), the weights as the C simulation reads
//! them (`params.*.text` parsed as `f64`, then converted; checked against `csim_raw`, and the
//! route from Keras's `float32` (`keras_f32`, `ops::hls4ml_weight`) checked too), the lookup
//! tables (ours built from `table_t` and `table_size` alone, compared entry by entry with the
//! ones hls4ml's `init_*_table` built), the activation parameter from the generated call
//! (`function_cpp`: hls4ml passes Keras's `alpha` / `negative_slope` as a `double` literal into
//! a `param_t`), BatchNormalization's folded scale and bias (also re-derived from Keras's
//! gamma, beta, moving mean and variance in `float32`, as hls4ml's NumPy does).

use nn::fixed_point::activations::{
    self, BatchNormPrecision, EluTable, SeluTable, SoftplusTable, TanhTable,
};
use nn::fixed_point::ops::{self, DensePrecision};
use nn::fixed_point::{Fixed, Spec, Value};
use serde_json::Value as Json;

mod common;
use common::hls4ml::{
    counted_weights, dense_layer, fixture as load, floats, hex_f64, ints, spec, usize_of, Tally,
};

const FIXTURES: [&str; 12] = [
    "mlp_tanh",
    "mlp_tanh_narrow",
    "mlp_leaky_relu",
    "mlp_leaky_relu_default",
    "mlp_elu",
    "mlp_elu_narrow",
    "mlp_selu",
    "mlp_selu_narrow",
    "mlp_softplus",
    "mlp_softplus_narrow",
    "mlp_prelu",
    "mlp_batchnorm",
];

/// The table a layer's fixture carries, compared entry by entry with ours.
fn check_table(l: &Json, table_spec: Spec, ours: &[i64], t: &mut Tally) {
    let fixture = &l["tables"]["table"];
    assert_eq!(spec(&fixture["type"]), table_spec);
    let theirs = ints(&fixture["raw"]);
    assert_eq!(ours.len(), theirs.len(), "{}: table size", l["name"]);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "{}: table entry {i}", l["name"]);
    }
    t.table_entries += ours.len();
}

/// The `double` literal hls4ml put into the call for `param_t` (`nnet::elu<...>(in, 1.0, out)`).
fn call_param(l: &Json) -> f64 {
    let f = l["function_cpp"].as_str().unwrap();
    let args = f.rsplit_once('(').unwrap().1.trim_end_matches(");");
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    assert_eq!(args.len(), 3, "{f}");
    let v: f64 = args[1].parse().unwrap();
    // `activ_param` as serde_json reads it (to within an ulp).
    let activ_param = l["activ_param"].as_f64().unwrap();
    assert!((v - activ_param).abs() <= 1e-15 * v.abs(), "{f}");
    v
}

/// An element-wise layer: input raw values and type -> output.
type Apply = Box<dyn Fn(&[i64], Spec, &mut [i64])>;

/// A layer of the rebuilt network.
enum Layer {
    Dense {
        w: Vec<i64>,
        b: Vec<i64>,
        p: DensePrecision,
    },
    /// An activation or batch norm; `negative`: whether an input takes the non-identity branch.
    Elementwise(Apply, fn(i64) -> bool),
}

fn table_layer<const N: usize>(l: &Json, kind: &str, out: Spec, t: &mut Tally) -> Apply {
    let table_spec = spec(&l["types"]["table_t"]);
    match kind {
        "tanh" => {
            let table = Box::new(TanhTable::<N>::new(table_spec));
            check_table(l, table_spec, table.raw(), t);
            Box::new(move |x, s, y| activations::tanh(x, s, &table, out, y))
        }
        "softplus" => {
            let table = Box::new(SoftplusTable::<N>::new(table_spec));
            check_table(l, table_spec, table.raw(), t);
            Box::new(move |x, s, y| activations::softplus(x, s, &table, out, y))
        }
        "selu" => {
            let table = Box::new(SeluTable::<N>::new(table_spec));
            check_table(l, table_spec, table.raw(), t);
            Box::new(move |x, s, y| activations::selu(x, s, &table, out, y))
        }
        "elu" => {
            let table = Box::new(EluTable::<N>::new(table_spec));
            check_table(l, table_spec, table.raw(), t);
            let alpha = Value::from_f64(call_param(l), spec(&l["types"]["param_t"]));
            Box::new(move |x, s, y| activations::elu(x, s, alpha, &table, out, y))
        }
        k => panic!("{k}"),
    }
}

fn sized_table_layer(l: &Json, kind: &str, out: Spec, t: &mut Tally) -> Apply {
    match usize_of(&l["config_constants"]["table_size"]) {
        256 => table_layer::<256>(l, kind, out, t),
        512 => table_layer::<512>(l, kind, out, t),
        1024 => table_layer::<1024>(l, kind, out, t),
        2048 => table_layer::<2048>(l, kind, out, t),
        n => panic!("table size {n}"),
    }
}

/// BatchNormalization's scale and bias re-derived from Keras's parameters as hls4ml's NumPy
/// does it (`model/layers.py` 1070-1084, all `float32`): `scale = gamma / sqrt(var + eps)`,
/// `bias = beta - scale * mean`; must equal the `keras_f32` the fixture holds.
fn check_bn_fold(l: &Json) {
    let k = &l["keras_batchnorm"];
    let get = |key: &str| -> Vec<f32> { floats(&k[key]).iter().map(|&v| v as f32).collect() };
    let (gamma, beta, mean, var) = (
        get("gamma"),
        get("beta"),
        get("moving_mean"),
        get("moving_variance"),
    );
    let eps = k["epsilon"].as_f64().unwrap() as f32;
    let scale_f32 = floats(&l["params"]["scale"]["keras_f32"]);
    let bias_f32 = floats(&l["params"]["bias"]["keras_f32"]);
    for i in 0..gamma.len() {
        let scale = gamma[i] / (var[i] + eps).sqrt();
        let bias = beta[i] - scale * mean[i];
        // (serde_json reads doubles to within an ulp; these are float32 values.)
        assert_eq!(scale, scale_f32[i] as f32, "bn scale {i}");
        assert_eq!(bias, bias_f32[i] as f32, "bn bias {i}");
    }
}

struct Net {
    input: Spec,
    layers: Vec<(String, Layer, Spec)>,
}

fn build(fx: &Json, t: &mut Tally) -> Net {
    let input = spec(&fx["input_type"]);
    let mut layers = Vec::new();
    for l in fx["layers"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap().to_string();
        let class = l["class"].as_str().unwrap();
        let types = &l["types"];
        let out = spec(&l["output_type"]);
        assert_eq!(spec(&types["result_t"]), out, "{name}");
        let layer = match class {
            "Input" => {
                assert_eq!(out, input);
                continue;
            }
            "Dense" => {
                let (w, b, p) = dense_layer(l, out, None, t);
                Layer::Dense { w, b, p }
            }
            "BatchNormalization" => {
                assert_eq!(l["config_constants"]["n_filt"], "-1");
                assert!(l["config_cpp"]
                    .as_str()
                    .unwrap()
                    .contains("nnet::product::mult<x_T, y_T>"));
                check_bn_fold(l);
                let (scale, ss) = counted_weights(&l["params"]["scale"], t);
                let (bias, bs) = counted_weights(&l["params"]["bias"], t);
                let p = BatchNormPrecision {
                    scale: spec(&types["scale_t"]),
                    bias: spec(&types["bias_t"]),
                    result: out,
                };
                assert_eq!((ss, bs), (p.scale, p.bias));
                Layer::Elementwise(
                    Box::new(move |x, s, y| activations::batch_norm(x, s, &scale, &bias, &p, y)),
                    |x| x < 0,
                )
            }
            "Activation" | "ParametrizedActivation" | "PReLU" => {
                let act = l["activation"].as_str().unwrap();
                match act {
                    "relu" => {
                        Layer::Elementwise(Box::new(move |x, s, y| ops::relu(x, s, out, y)), |x| {
                            x <= 0
                        })
                    }
                    "tanh" | "softplus" => {
                        Layer::Elementwise(sized_table_layer(l, act, out, t), |x| x < 0)
                    }
                    "elu" | "selu" => {
                        Layer::Elementwise(sized_table_layer(l, act, out, t), |x| x < 0)
                    }
                    "leakyrelu" => {
                        let alpha = Value::from_f64(call_param(l), spec(&types["param_t"]));
                        Layer::Elementwise(
                            Box::new(move |x, s, y| activations::leaky_relu(x, s, alpha, out, y)),
                            |x| x <= 0,
                        )
                    }
                    "prelu" => {
                        let (alpha, alpha_spec) = counted_weights(&l["params"]["param"], t);
                        assert_eq!(alpha_spec, spec(&types["param_t"]));
                        Layer::Elementwise(
                            Box::new(move |x, s, y| {
                                activations::prelu(x, s, &alpha, alpha_spec, out, y)
                            }),
                            |x| x <= 0,
                        )
                    }
                    a => panic!("activation {a}"),
                }
            }
            c => panic!("layer class {c}"),
        };
        layers.push((name, layer, out));
    }
    assert_eq!(layers.last().unwrap().2, spec(&fx["output_type"]));
    Net { input, layers }
}

fn check_fixture(name: &str) -> Tally {
    let fx = load(name);
    let mut t = Tally::default();
    let net = build(&fx, &mut t);
    let layer_json = fx["layers"].as_array().unwrap();
    let inputs = fx["inputs_hex"].as_array().unwrap();
    let outputs = fx["outputs_raw"].as_array().unwrap();
    assert_eq!(inputs.len(), 64);
    for (s, (input, expected)) in inputs.iter().zip(outputs).enumerate() {
        let mut x: Vec<i64> = input
            .as_array()
            .unwrap()
            .iter()
            .map(|v| net.input.from_f64(hex_f64(v.as_str().unwrap())).raw)
            .collect();
        let mut x_spec = net.input;
        for (lname, layer, out) in &net.layers {
            let y = match layer {
                Layer::Dense { w, b, p } => {
                    let mut y = vec![0; b.len()];
                    ops::dense(&x, x_spec, w, b, p, &mut y);
                    y
                }
                Layer::Elementwise(apply, negative) => {
                    let mut y = vec![0; x.len()];
                    apply(&x, x_spec, &mut y);
                    t.act_values += y.len();
                    t.act_negative += x.iter().filter(|&&v| negative(v)).count();
                    y
                }
            };
            let lj = layer_json
                .iter()
                .find(|l| l["name"] == lname.as_str())
                .unwrap();
            let want = ints(&lj["trace_raw"][s]);
            assert_eq!(y.len(), want.len(), "{name} {lname}");
            for (g, w) in y.iter().zip(&want) {
                t.max_diff = t.max_diff.max((g - w).abs());
            }
            assert_eq!(y, want, "{name}: layer {lname}, sample {s}");
            t.trace_values += want.len();
            x = y;
            x_spec = *out;
        }
        let want = ints(expected);
        assert_eq!(x, want, "{name}: outputs, sample {s}");
        t.outputs += want.len();
        for (g, d) in x.iter().zip(fx["outputs"][s].as_array().unwrap()) {
            assert_eq!(x_spec.to_f64(Fixed::from_raw(*g)), d.as_f64().unwrap());
        }
    }
    t
}

#[test]
fn hls4ml_activation_parity() {
    let mut total = Tally::default();
    for name in FIXTURES {
        let t = check_fixture(name);
        println!(
            "{name:24} weights {:4} (f32 route {:4}), table entries {:4}, traced values {:5}, \
             activation/BN values {:4} (negative branch {:4}), outputs {:3}, max diff {}",
            t.weights,
            t.weights_from_f32,
            t.table_entries,
            t.trace_values,
            t.act_values,
            t.act_negative,
            t.outputs,
            t.max_diff
        );
        assert_eq!(t.max_diff, 0);
        total.add(&t);
    }
    println!(
        "total: {} weights ({} also from f32), {} table entries, {} traced values ({} out of \
         activations / batch norm), {} outputs: all bit-identical",
        total.weights,
        total.weights_from_f32,
        total.table_entries,
        total.trace_values,
        total.act_values,
        total.outputs
    );
}

/// The table functions that are glibc ports, at a few known values (glibc 2.36, x86-64;
/// printed with `%.9g`, which round-trips a `float`).
#[test]
#[allow(clippy::excessive_precision)]
fn glibc_ports() {
    assert_eq!(activations::tanhf(0.5), 0.462117165);
    assert_eq!(activations::tanhf(-3.0), -0.995054781);
    assert_eq!(activations::tanhf(30.0), 1.0);
    assert_eq!(activations::tanhf(0.75), 0.635148942);
    assert_eq!(activations::expm1f(1e-3), 0.00100050017);
    assert_eq!(activations::expm1f(-100.0), -1.0);
    assert_eq!(activations::selu_lambda().fixed.raw, 34429);
}
