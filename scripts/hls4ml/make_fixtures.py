#!/usr/bin/env python3
"""Write the hls4ml C-simulation fixtures in tests/fixtures/hls4ml/ (issue #18).

For every case this script

1. builds a small Keras 3 model (JAX backend) and gives it seeded weights
   (Glorot-uniform kernels, small nonzero uniform biases),
2. converts it with hls4ml (backend Vivado, io_parallel, strategy Latency)
   with an explicit precision for every layer and every type slot (no 'auto'
   anywhere: the script asserts it),
3. runs ``hls_model.compile()`` (g++ builds the C simulation) and
   ``hls_model.predict()`` / ``trace()`` on 64 float64 inputs (the bridge's
   ``myproject_double``: double -> input_t, result_t -> double, both exact),
4. compiles and runs a small C++ program against the generated project
   (same headers, same g++ flags as hls4ml's build_lib.sh) that loads every
   weight file with ``nnet::load_weights_from_txt`` exactly as the C
   simulation does and prints the values it got, and that builds the
   sigmoid / softmax / tanh / softplus / ELU / SELU lookup tables with hls4ml's own ``init_*_table``
   functions and the layer's config struct,
5. writes ``<case>.json``.

Nothing in a fixture comes from the Rust code. See README.md beside this file
for the format and for the arithmetic that the Rust twin has to reproduce.

Usage:
    KERAS_BACKEND=jax /work/venv-hls4ml/bin/python scripts/hls4ml/make_fixtures.py \
        [--out-dir DIR] [--work-dir DIR] [--case NAME ...]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

import keras  # noqa: E402
import hls4ml  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
N_SAMPLES = 64
DEFAULT = "ap_fixed<16,6>"
ATTR_SLOTS = (
    "result_t",
    "weight_t",
    "bias_t",
    "accum_t",
    "table_t",
    "exp_table_t",
    "inv_table_t",
    "inv_inp_t",
    "param_t",
    "scale_t",
)


# --------------------------------------------------------------------------- models


def glorot(rng, fan_in, fan_out, shape):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def small_bias(rng, n):
    b = rng.uniform(-0.125, 0.125, size=n)
    b[np.abs(b) < 0.01] += 0.03  # nonzero, as after training
    return b.astype(np.float32)


def m1(seed, head=None):
    """The hls4ml jet tagger M1: 16 -> 64 ReLU -> 32 ReLU -> 32 ReLU -> 5 (+ head)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,), name="x_in")
    x = keras.layers.Dense(64, activation="relu", name="fc1")(inp)
    x = keras.layers.Dense(32, activation="relu", name="fc2")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc3")(x)
    x = keras.layers.Dense(5, name="out")(x)
    if head is not None:
        x = keras.layers.Activation(head, name=head)(x)
    model = keras.Model(inp, x, name="m1")
    rng = np.random.default_rng(seed)
    for name, (n_in, n_out) in {"fc1": (16, 64), "fc2": (64, 32), "fc3": (32, 32), "out": (32, 5)}.items():
        model.get_layer(name).set_weights([glorot(rng, n_in, n_out, (n_in, n_out)), small_bias(rng, n_out)])
    return model


def cnn(seed):
    """[1, 8, 8] (Keras 8x8x1) -> Conv2D(4, 3x3, valid) ReLU -> MaxPool 2 -> Flatten -> Dense(10)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1), name="x_in")
    x = keras.layers.Conv2D(4, 3, padding="valid", activation="relu", name="conv")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(10, name="fc")(x)
    model = keras.Model(inp, x, name="cnn")
    rng = np.random.default_rng(seed)
    model.get_layer("conv").set_weights([glorot(rng, 9, 36, (3, 3, 1, 4)), small_bias(rng, 4)])
    model.get_layer("fc").set_weights([glorot(rng, 36, 10, (36, 10)), small_bias(rng, 10)])
    return model


def mlp(seed, act, bn=False):
    """16 -> Dense 32 -> [BatchNormalization] -> ACT -> Dense 16 -> ACT -> Dense 5 (M1-shaped).

    `act(name)` makes the Keras activation layer; PReLU alphas get seeded values in
    [0.05, 0.5), the BatchNormalization seeded gamma, beta, moving mean and variance."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,), name="x_in")
    x = keras.layers.Dense(32, name="fc1")(inp)
    if bn:
        x = keras.layers.BatchNormalization(name="bn1")(x)
    x = act("act1")(x)
    x = keras.layers.Dense(16, name="fc2")(x)
    x = act("act2")(x)
    x = keras.layers.Dense(5, name="out")(x)
    model = keras.Model(inp, x, name="mlp")
    rng = np.random.default_rng(seed)
    for name, (n_in, n_out) in {"fc1": (16, 32), "fc2": (32, 16), "out": (16, 5)}.items():
        model.get_layer(name).set_weights([glorot(rng, n_in, n_out, (n_in, n_out)), small_bias(rng, n_out)])
    for name in ("act1", "act2"):
        layer = model.get_layer(name)
        if isinstance(layer, keras.layers.PReLU):
            (alpha,) = layer.get_weights()
            layer.set_weights([rng.uniform(0.05, 0.5, size=alpha.shape).astype(np.float32)])
    if bn:
        layer = model.get_layer("bn1")
        gamma = rng.uniform(0.5, 2.0, size=32).astype(np.float32)
        beta = rng.uniform(-0.5, 0.5, size=32).astype(np.float32)
        mean = rng.uniform(-1.0, 1.0, size=32).astype(np.float32)
        var = rng.uniform(0.25, 4.0, size=32).astype(np.float32)
        layer.set_weights([gamma, beta, mean, var])
    return model


def activation(name):
    """A factory for `mlp`: `keras.layers.Activation(name)`."""
    return lambda layer_name: keras.layers.Activation(name, name=layer_name)


# --------------------------------------------------------------------------- inputs


def m1_inputs(seed):
    """64 x 16 doubles (6 decimals, so JSON parsers read them exactly), in groups:
    0-39 N(0, 1.5^2); 40-51 uniform in (-31.5, 31.5) (overflow inside the net); 52-57 some
    features in +-[32, 60) (wrap or saturate when entering ap_fixed<16,6>);
    58-63 grid points, exact half-ulps of ap_fixed<16,6> and the range ends."""
    rng = np.random.default_rng(seed)
    x = np.zeros((N_SAMPLES, 16))
    x[:40] = rng.normal(0.0, 1.5, size=(40, 16))
    x[40:52] = rng.uniform(-31.5, 31.5, size=(12, 16))
    x[52:58] = rng.normal(0.0, 2.0, size=(6, 16))
    big = rng.uniform(32.0, 60.0, size=(6, 16)) * rng.choice([-1.0, 1.0], size=(6, 16))
    mask = rng.random((6, 16)) < 0.4
    x[52:58][mask] = big[mask]
    x = np.round(x, 6)
    ulp = 2.0**-10
    k = rng.integers(-4000, 4000, size=(6, 16))
    x[58] = k[0] * ulp  # on the grid
    x[59] = (k[1] + 0.5) * ulp  # exact half-ulps: truncate vs round half up
    x[60] = -(np.abs(k[2]) + 0.5) * ulp  # negative half-ulps
    x[61] = (k[3] + 0.25) * ulp
    x[62] = (k[4] + 0.75) * ulp
    x[63] = [31.9990234375, -32.0, 32.0, -32.0009765625, 31.99951171875, 63.5, -64.25, 0.0,
             -0.00048828125, 0.00048828125, 1e-9, -1e-9, 100.0, -100.0, 5.0, -5.0]
    return x


def cnn_inputs(seed):
    rng = np.random.default_rng(seed)
    x = np.zeros((N_SAMPLES, 8, 8, 1))
    x[:48] = rng.uniform(-2.0, 2.0, size=(48, 8, 8, 1))
    x[48:56] = rng.normal(0.0, 10.0, size=(8, 8, 8, 1))
    x[56:] = rng.uniform(-40.0, 40.0, size=(8, 8, 8, 1))
    x = np.round(x, 6)
    x[63, 0, :, 0] = [(i + 0.5) * 2.0**-10 for i in range(-4, 4)]
    return x


# --------------------------------------------------------------------------- precision configs


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@case
def m1_fixed16_6():
    """M1 at ap_fixed<16,6> everywhere (AP_TRN, AP_WRAP)."""
    return dict(model=m1(1801), inputs=m1_inputs(1811), overrides={}, default=DEFAULT)


@case
def m1_rnd_sat():
    """M1 with per-layer types: rounding, saturation, wider accumulators, an unsigned ReLU output."""
    overrides = {
        "x_in": {"result": "ap_fixed<16,6,AP_RND,AP_SAT>"},
        "fc1": {
            "weight": "ap_fixed<12,3,AP_RND>",
            "bias": "ap_fixed<16,6>",
            "accum": "ap_fixed<24,10>",
            "result": "ap_fixed<16,6,AP_RND,AP_SAT>",
        },
        "fc1_relu": {"result": "ap_fixed<16,6,AP_RND,AP_SAT>"},
        "fc2": {
            "weight": "ap_fixed<16,6>",
            "bias": "ap_fixed<10,2,AP_RND>",
            "accum": "ap_fixed<24,10,AP_TRN,AP_SAT>",
            "result": "ap_fixed<16,6,AP_RND,AP_WRAP>",
        },
        "fc2_relu": {"result": "ap_ufixed<12,4,AP_RND,AP_SAT>"},
        "fc3": {
            "weight": "ap_fixed<10,2,AP_RND_CONV>",
            "bias": "ap_fixed<16,6>",
            "accum": "ap_fixed<20,8>",
            "result": "ap_fixed<14,5,AP_RND_ZERO,AP_SAT_SYM>",
        },
        "fc3_relu": {"result": "ap_fixed<14,5>"},
        "out": {
            "weight": "ap_fixed<16,6,AP_RND>",
            "bias": "ap_fixed<16,6,AP_RND>",
            "accum": "ap_fixed<24,10>",
            "result": "ap_fixed<16,6,AP_RND,AP_SAT>",
        },
    }
    return dict(model=m1(1802), inputs=m1_inputs(1812), overrides=overrides, default=DEFAULT)


SOFTMAX_TYPES = {
    "result": "ap_fixed<16,6>",
    "table": "ap_fixed<18,8>",
    "exp_table": "ap_fixed<18,8,AP_RND,AP_SAT>",
    "inv_table": "ap_fixed<18,8,AP_RND,AP_SAT>",
    "inv_inp": "ap_fixed<18,8,AP_RND,AP_SAT>",
    "accum": "ap_fixed<18,8,AP_RND,AP_SAT>",
}


@case
def m1_softmax():
    """M1 + Softmax, hls4ml's default implementation ('stable'), table_size 1024, explicit table types."""
    overrides = {"softmax": dict(SOFTMAX_TYPES)}
    extra = {"softmax": {"TableSize": 1024, "Implementation": "stable"}}
    return dict(model=m1(1803, "softmax"), inputs=m1_inputs(1813), overrides=overrides, default=DEFAULT,
                extra=extra)


@case
def m1_softmax_latency():
    """As m1_softmax with Implementation 'latency' (no max subtraction)."""
    overrides = {"softmax": dict(SOFTMAX_TYPES)}
    extra = {"softmax": {"TableSize": 1024, "Implementation": "latency"}}
    return dict(model=m1(1803, "softmax"), inputs=m1_inputs(1813), overrides=overrides, default=DEFAULT,
                extra=extra)


@case
def m1_sigmoid():
    """M1 + Sigmoid: 1024-entry table over [-8, 8), table_t ap_fixed<18,8>."""
    overrides = {"sigmoid": {"result": "ap_fixed<16,6>", "table": "ap_fixed<18,8>"}}
    extra = {"sigmoid": {"TableSize": 1024}}
    return dict(model=m1(1804, "sigmoid"), inputs=m1_inputs(1814), overrides=overrides, default=DEFAULT,
                extra=extra)


@case
def cnn_fixed16_6():
    """Small CNN at ap_fixed<16,6> everywhere."""
    return dict(model=cnn(1805), inputs=cnn_inputs(1815), overrides={}, default=DEFAULT)


# ---- activations and batch normalization (nn-fixed/src/activations.rs, tests/hls4ml_activations.rs)

NARROW = "ap_fixed<10,4>"


def act_overrides(**slots):
    """The same precision overrides for both activation layers (act1, act2)."""
    return {"act1": dict(slots), "act2": dict(slots)}


def act_extra(**keys):
    return {"act1": dict(keys), "act2": dict(keys)}


@case
def mlp_tanh():
    """16-32-16-5 MLP with Tanh (hls4ml's table tanh over [-4, 4)), ap_fixed<16,6>, table ap_fixed<18,8>."""
    return dict(model=mlp(1821, activation("tanh")), inputs=m1_inputs(1831),
                overrides=act_overrides(table="ap_fixed<18,8>"), default=DEFAULT,
                extra=act_extra(TableSize=1024))


@case
def mlp_tanh_narrow():
    """Tanh MLP at ap_fixed<10,4>; 512-entry table of type ap_fixed<8,1,AP_RND,AP_SAT> (saturates near +-1)."""
    return dict(model=mlp(1822, activation("tanh")), inputs=m1_inputs(1832),
                overrides=act_overrides(table="ap_fixed<8,1,AP_RND,AP_SAT>"), default=NARROW,
                extra=act_extra(TableSize=512))


@case
def mlp_leaky_relu():
    """LeakyReLU(negative_slope=0.1), ap_fixed<16,6> everywhere (param_t too: 0.1 truncates)."""
    act = lambda name: keras.layers.LeakyReLU(negative_slope=0.1, name=name)  # noqa: E731
    return dict(model=mlp(1823, act), inputs=m1_inputs(1833), overrides={}, default=DEFAULT)


@case
def mlp_leaky_relu_default():
    """Keras's default LeakyReLU (negative_slope=0.3); param_t ap_fixed<8,1,AP_RND>, result ap_fixed<16,6,AP_RND,AP_SAT>."""
    act = lambda name: keras.layers.LeakyReLU(name=name)  # noqa: E731
    overrides = act_overrides(param="ap_fixed<8,1,AP_RND>", result="ap_fixed<16,6,AP_RND,AP_SAT>")
    return dict(model=mlp(1824, act), inputs=m1_inputs(1834), overrides=overrides, default=DEFAULT)


@case
def mlp_elu():
    """ELU(alpha=1.0): 1024-entry table of exp(x) - 1 over (-8, 0], ap_fixed<16,6>, table ap_fixed<18,8>."""
    act = lambda name: keras.layers.ELU(alpha=1.0, name=name)  # noqa: E731
    return dict(model=mlp(1825, act), inputs=m1_inputs(1835), overrides=act_overrides(table="ap_fixed<18,8>"),
                default=DEFAULT, extra=act_extra(TableSize=1024))


@case
def mlp_elu_narrow():
    """ELU(alpha=0.7) at ap_fixed<10,4> (param_t too: 0.6875); table ap_fixed<10,2,AP_RND_CONV>, 256 entries."""
    act = lambda name: keras.layers.ELU(alpha=0.7, name=name)  # noqa: E731
    return dict(model=mlp(1826, act), inputs=m1_inputs(1836),
                overrides=act_overrides(table="ap_fixed<10,2,AP_RND_CONV>"), default=NARROW,
                extra=act_extra(TableSize=256))


@case
def mlp_selu():
    """SELU: lambda * x (lambda an ap_ufixed<16,1>) for x >= 0, a 1024-entry table over (-8, 0] below."""
    return dict(model=mlp(1827, activation("selu")), inputs=m1_inputs(1837),
                overrides=act_overrides(table="ap_fixed<18,8>"), default=DEFAULT, extra=act_extra(TableSize=1024))


@case
def mlp_selu_narrow():
    """SELU at ap_fixed<10,4>; table ap_fixed<10,2,AP_RND,AP_SAT>, 1024 entries."""
    return dict(model=mlp(1828, activation("selu")), inputs=m1_inputs(1838),
                overrides=act_overrides(table="ap_fixed<10,2,AP_RND,AP_SAT>"), default=NARROW,
                extra=act_extra(TableSize=1024))


@case
def mlp_softplus():
    """Softplus: 1024-entry table of log(exp(x) + 1) over [-8, 8), ap_fixed<16,6>, table ap_fixed<18,8>."""
    return dict(model=mlp(1829, activation("softplus")), inputs=m1_inputs(1839),
                overrides=act_overrides(table="ap_fixed<18,8>"), default=DEFAULT, extra=act_extra(TableSize=1024))


@case
def mlp_softplus_narrow():
    """Softplus at ap_fixed<10,4>; table ap_fixed<10,4,AP_RND,AP_SAT> (saturates at the top), 2048 entries."""
    return dict(model=mlp(1830, activation("softplus")), inputs=m1_inputs(1840),
                overrides=act_overrides(table="ap_fixed<10,4,AP_RND,AP_SAT>"), default=NARROW,
                extra=act_extra(TableSize=2048))


@case
def mlp_prelu():
    """PReLU (one alpha per unit, seeded in [0.05, 0.5)), ap_fixed<16,6>; param_t ap_fixed<12,2,AP_RND>."""
    act = lambda name: keras.layers.PReLU(name=name)  # noqa: E731
    overrides = act_overrides(param="ap_fixed<12,2,AP_RND>")
    return dict(model=mlp(1841, act), inputs=m1_inputs(1851), overrides=overrides, default=DEFAULT)


@case
def mlp_batchnorm():
    """Dense 32 -> BatchNormalization -> ReLU -> ...: hls4ml keeps the BN (explicit Dense result type);
    scale_t ap_fixed<16,6>, bias_t ap_fixed<12,4,AP_RND>, result ap_fixed<16,6,AP_RND,AP_SAT>."""
    overrides = {"bn1": {"scale": "ap_fixed<16,6>", "bias": "ap_fixed<12,4,AP_RND>",
                         "result": "ap_fixed<16,6,AP_RND,AP_SAT>"}}
    return dict(model=mlp(1842, activation("relu"), bn=True), inputs=m1_inputs(1852), overrides=overrides,
                default=DEFAULT)


# --------------------------------------------------------------------------- hls4ml


def make_config(model, default, overrides, extra):
    cfg = hls4ml.utils.config_from_keras_model(
        model, granularity="name", default_precision=default, backend="Vivado"
    )
    cfg["Model"]["Strategy"] = "Latency"
    cfg["Model"]["ReuseFactor"] = 1
    for name, layer_cfg in cfg["LayerName"].items():
        layer_cfg["Trace"] = True
        prec = layer_cfg.setdefault("Precision", {})
        for slot in list(prec):
            if prec[slot] == "auto":
                prec[slot] = default
        for slot, value in overrides.get(name, {}).items():
            prec[slot] = value
        for key, value in (extra or {}).get(name, {}).items():
            layer_cfg[key] = value
    missing = set(overrides) | set(extra or {})
    missing -= set(cfg["LayerName"])
    assert not missing, f"unknown layers in overrides: {missing}"
    text = json.dumps(cfg)
    assert "auto" not in text, "a precision was left at 'auto'"
    return cfg


TYPE_RE = re.compile(r"^ap_(u?)(fixed|int)<\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(\w+)\s*)?(?:,\s*(\w+)\s*)?(?:,\s*(\d+)\s*)?>$")


def parse_cpp_type(text):
    m = TYPE_RE.match(text.strip())
    if not m:
        return {"cpp": text}
    unsigned, kind, w, i, q, o, n = m.groups()
    w = int(w)
    return {
        "cpp": text.strip(),
        "width": w,
        "int_bits": int(i) if kind == "fixed" else w,
        "signed": unsigned != "u",
        "quant": q or "AP_TRN",
        "overflow": o or "AP_WRAP",
        "sat_bits": int(n or 0),
    }


def typedefs(project):
    defs = {}
    for line in (project / "firmware" / "defines.h").read_text().splitlines():
        m = re.match(r"^typedef\s+(.+?)\s+(\w+);", line.strip())
        if m:
            defs[m.group(2)] = m.group(1)
    return defs


def resolve(defs, name):
    seen = 0
    while name in defs and seen < 10:
        name = defs[name]
        seen += 1
    return name


def layer_info(layer, defs):
    info = {"name": layer.name, "class": layer.class_name, "index": int(layer.index)}
    types = {}
    for slot in ATTR_SLOTS:
        t = layer.get_attr(slot)
        if t is None or not hasattr(t, "name"):
            continue
        cpp = resolve(defs, t.name)
        entry = parse_cpp_type(cpp)
        entry["typedef"] = t.name
        entry["hls4ml"] = str(t.precision)
        types[slot] = entry
    info["types"] = types
    out_var = layer.get_output_variable()
    info["output_var"] = out_var.name
    info["output_shape"] = [int(s) for s in out_var.shape]
    info["output_type"] = parse_cpp_type(resolve(defs, out_var.type.name))
    info["output_type"]["typedef"] = out_var.type.name
    for key in ("activation", "table_size", "implementation", "strategy", "n_in", "n_out",
                "pool_op", "pool_height", "pool_width", "stride_height", "stride_width",
                "filt_height", "filt_width", "n_chan", "n_filt", "in_height", "in_width",
                "out_height", "out_width", "padding", "data_format", "activ_param"):
        v = layer.get_attr(key)
        if v is not None:
            info[key] = v if isinstance(v, (int, float, str, bool)) else str(v)
    cfg = layer.get_attr("config_cpp")
    if cfg:
        info["config_cpp"] = cfg
        consts = {}
        for m in re.finditer(r"static const(?:expr)?\s+[\w:]+\s+(\w+)\s*=\s*([^;]+);", cfg):
            consts[m.group(1)] = m.group(2).strip()
        info["config_constants"] = consts
        cfg_types = {}
        for m in re.finditer(r"typedef\s+(.+?)\s+(\w+);", cfg):
            cfg_types[m.group(2)] = parse_cpp_type(resolve(defs, m.group(1)))
        info["config_types"] = cfg_types
    fn = layer.get_attr("function_cpp")
    if fn:
        info["function_cpp"] = fn
    return info


def build_flags():
    flags = ["-O3", "-fPIC"]
    probe = subprocess.run(
        ["g++", "-Werror", "-fsyntax-only", "-std=c++23", "-xc++", "-", "-o", "/dev/null"],
        input="", capture_output=True, text=True,
    )
    flags.append("-std=c++23" if probe.returncode == 0 else "-std=c++11")
    probe = subprocess.run(
        ["g++", "-Werror", "-fsyntax-only", "-fno-gnu-unique", "-xc++", "-", "-o", "/dev/null"],
        input="", capture_output=True, text=True,
    )
    if probe.returncode == 0:
        flags.append("-fno-gnu-unique")
    return flags


def dump_program(hls_model, layers):
    """C++ that prints the weights as the C simulation loads them and the activation tables."""
    lines = ['#include "firmware/myproject.h"', '#include "firmware/parameters.h"', "#include <cstdio>", "",
             "template <class T> void pr(const char *name, const T *a, int n) {",
             '    std::printf("%s", name);',
             '    for (int i = 0; i < n; i++) std::printf(" %.17g", a[i].to_double());',
             '    std::printf("\\n");', "}", "", "int main() {"]
    for layer in hls_model.get_layers():
        for w in layer.get_weights():
            lines.append(f'    nnet::load_weights_from_txt<{w.type.name}, {w.data_length}>({w.name}, "{w.name}.txt");')
            lines.append(f'    pr("weights:{w.name}", {w.name}, {w.data_length});')
    for info in layers:
        consts = info.get("config_constants", {})
        cfg = re.search(r"struct\s+(\w+)", info.get("config_cpp", ""))
        if not cfg:
            continue
        cfg = cfg.group(1)
        if info["class"] == "Softmax":
            impl = consts["implementation"].split("::")[-1]
            in_type = re.search(r"<([^,]+),", info["function_cpp"]).group(1).strip()
            addr_t = f"{cfg}::inp_norm_t" if impl == "stable" else in_type
            negative = "true" if impl == "stable" else "false"
            lines += [
                "    {",
                f"        static {cfg}::exp_table_t t[{cfg}::exp_table_size];",
                f"        nnet::init_exp_table<{addr_t}, {cfg}>(t, {negative});",
                f'        pr("table:{info["name"]}:exp_table", t, {cfg}::exp_table_size);',
                f"        static {cfg}::inv_table_t u[{cfg}::inv_table_size];",
                f"        nnet::init_invert_table<{cfg}::inv_inp_t, {cfg}>(u);",
                f'        pr("table:{info["name"]}:inv_table", u, {cfg}::inv_table_size);',
                "    }",
            ]
        elif info.get("activation") == "sigmoid":
            lines += [
                "    {",
                f"        static {cfg}::table_t t[{cfg}::table_size];",
                f"        nnet::init_sigmoid_table<{cfg}, {cfg}::table_size>(t);",
                f'        pr("table:{info["name"]}:table", t, {cfg}::table_size);',
                "    }",
            ]
        elif info.get("activation") in ("tanh", "softplus", "elu", "selu"):
            lines += [
                "    {",
                f"        static {cfg}::table_t t[{cfg}::table_size];",
                f"        nnet::init_{info['activation']}_table<{cfg}, {cfg}::table_size>(t);",
                f'        pr("table:{info["name"]}:table", t, {cfg}::table_size);',
                "    }",
            ]
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def run_dump(project, source, flags):
    src = project / "fixture_dump.cpp"
    src.write_text(source)
    exe = project / "fixture_dump"
    weights_dir = f'"{project / "firmware" / "weights"}"'
    cmd = ["g++", *flags, "-Ifirmware/ap_types/", "-Ifirmware/", f"-DWEIGHTS_DIR={weights_dir}",
           str(src), "-o", str(exe)]
    subprocess.run(cmd, cwd=project, check=True)
    out = subprocess.run([str(exe)], cwd=project, check=True, capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        key, *vals = line.split()
        result[key] = [float(v) for v in vals]
    return result


def raw_of(values, t):
    """Exact integer raw values of doubles that lie on the type's grid."""
    frac = t["width"] - t["int_bits"]
    raws = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        r = float(v) * 2.0**frac
        assert r == int(r), (v, t)
        raws.append(int(r))
    return raws


def hexbits(values):
    return [float(v).hex() for v in np.asarray(values, dtype=np.float64).ravel()]


def run_case(name, spec, work_dir, out_dir, flags):
    model = spec["model"]
    x = np.ascontiguousarray(spec["inputs"], dtype=np.float64)
    cfg = make_config(model, spec["default"], spec["overrides"], spec.get("extra"))
    project = work_dir / name
    if project.exists():
        shutil.rmtree(project)
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=cfg, output_dir=str(project), backend="Vivado", io_type="io_parallel",
        part="xcvu13p-flga2577-2-e",
    )
    hls_model.compile()
    y = np.asarray(hls_model.predict(x), dtype=np.float64).reshape(N_SAMPLES, -1)
    _, trace = hls_model.trace(x)
    keras_y = np.asarray(model.predict(x.astype(np.float32), verbose=0), dtype=np.float64).reshape(N_SAMPLES, -1)

    defs = typedefs(project)
    layers = [layer_info(layer, defs) for layer in hls_model.get_layers()]
    dumped = run_dump(project, dump_program(hls_model, layers), flags)

    by_name = {layer.name: layer for layer in hls_model.get_layers()}
    for info in layers:
        layer = by_name[info["name"]]
        weights = {}
        for key, w in layer.weights.items():
            txt = (project / "firmware" / "weights" / f"{w.name}.txt").read_text().strip()
            strings = [s.strip() for s in txt.split(",")]
            values = dumped[f"weights:{w.name}"]
            assert len(strings) == w.data_length == len(values)
            wt = parse_cpp_type(resolve(defs, w.type.name))
            weights[key] = {
                "name": w.name,
                "shape": [int(s) for s in w.shape],
                "type": wt,
                "text": strings,
                # Keras's float32 weights, exactly (JSON doubles that are float32 values), in the
                # order of `text`: what a twin built from f32 weights starts from.
                "keras_f32": [float(v) for v in np.asarray(w.data, dtype=np.float32).reshape(-1)],
                "csim": values,
                "csim_raw": raw_of(values, wt),
            }
        if weights:
            info["params"] = weights
        if info["class"] == "BatchNormalization":
            # Keras's own parameters (float32), from which hls4ml computed scale and bias.
            keras_bn = model.get_layer(info["name"])
            info["keras_batchnorm"] = {
                "epsilon": float(keras_bn.epsilon),
                **{v.name: [float(a) for a in np.asarray(v.numpy(), dtype=np.float32).ravel()]
                   for v in keras_bn.weights},
            }
        for key, table in dumped.items():
            parts = key.split(":")
            if parts[0] == "table" and parts[1] == info["name"]:
                ttype = info["types"].get(parts[2] + "_t") or info["config_types"].get(parts[2] + "_t")
                info.setdefault("tables", {})[parts[2]] = {
                    "type": ttype, "values": table, "raw": raw_of(table, ttype),
                }
        if info["name"] in trace:
            t = np.asarray(trace[info["name"]], dtype=np.float64).reshape(N_SAMPLES, -1)
            info["trace_raw"] = [raw_of(row, info["output_type"]) for row in t]

    out_type = layers[-1]["output_type"]
    in_type = layers[0]["output_type"]
    fixture = {
        "case": name,
        "description": CASES[name].__doc__,
        "generator": "scripts/hls4ml/make_fixtures.py",
        "versions": versions(),
        "backend": "Vivado",
        "io_type": "io_parallel",
        "strategy": "Latency",
        "keras_input_shape": list(model.input_shape[1:]),
        "hls4ml_config": cfg,
        "input_type": in_type,
        "output_type": out_type,
        "layers": layers,
        "inputs": x.reshape(N_SAMPLES, -1).tolist(),
        "inputs_hex": [hexbits(row) for row in x.reshape(N_SAMPLES, -1)],
        "outputs": y.tolist(),
        "outputs_raw": [raw_of(row, out_type) for row in y],
        "keras_float_outputs": keras_y.tolist(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(to_json(fixture) + "\n")
    err = np.abs(y - keras_y).max()
    print(f"{name}: wrote {path} ({N_SAMPLES} samples, max |csim - keras float| = {err:.4g})")


def to_json(value, indent=0):
    """JSON with one key per line and every list of scalars on one line."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f'{pad} {json.dumps(k)}: {to_json(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return json.dumps(list(value), separators=(",", ":"))
        items = [pad + " " + to_json(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def versions():
    import jax

    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {
        "python": sys.version.split()[0],
        "hls4ml": hls4ml.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "g++": gxx,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", type=Path, default=REPO / "tests" / "fixtures" / "hls4ml")
    ap.add_argument("--work-dir", type=Path, default=None, help="hls4ml projects (default: a temp dir)")
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases")
    args = ap.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="hls4ml-fixtures-"))
    work.mkdir(parents=True, exist_ok=True)
    flags = build_flags()
    for name in args.case or list(CASES):
        run_case(name, CASES[name](), work, args.out_dir, flags)
    if args.work_dir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
