#!/usr/bin/env python3
"""Generate the weight-file fixtures for the digits CNN M2 (tests/weights.rs).

M2 (nn::network! syntax, PyTorch equivalent in brackets):

    input: [1, 8, 8],
    conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,   [nn.Conv2d(1, 8, 3, padding=1)]
    MaxPool2d(2),
    conv2: Conv2d(16, kernel = 3, padding = 1), ReLU,  [nn.Conv2d(8, 16, 3, padding=1)]
    MaxPool2d(2),
    Flatten,                                           [C, H, W order: 16 x 2 x 2 = 64]
    fc: Dense(10),                                     [nn.Linear(64, 10)]
    Softmax,

Outputs (all in tests/fixtures/):

  * m2_torch.safetensors: the weights with PyTorch state_dict names and
    layouts, float32 (`conv1.weight` [8,1,3,3], `conv1.bias` [8],
    `conv2.weight` [16,8,3,3], `conv2.bias` [16], `fc.weight` [10,64],
    `fc.bias` [10]), header metadata {"format": "pt"} as torch writes it.
  * m2_keras.safetensors: the SAME weights in Keras layout: `conv1.kernel`
    [3,3,1,8] (HWIO), `conv1.bias`, `conv2.kernel` [3,3,8,16], `conv2.bias`,
    `fc.kernel` [64,10] whose rows are in Keras's H, W, C flatten order
    (row (h*2 + w)*16 + c holds fc.weight[:, c*4 + h*2 + w]), `fc.bias`.
  * m2_outputs.json: 5 inputs (rows 1-5 of data/digits.csv, pixels / 16) and
    the logits and softmax outputs of M2, computed with JAX in float64.

Independence of the two layouts: the reference outputs come from a JAX NCHW
forward on the torch-layout arrays.  The Keras arrays are then read back from
the written file and pushed through a SECOND JAX forward that is NHWC end to
end (lax.conv_general_dilated with ('NHWC', 'HWIO', 'NHWC'), NHWC pooling,
NHWC flatten, x @ kernel); the script asserts the two agree to 1e-12.  A
third forward in plain NumPy loops (torch layout) must agree as well.  The
script also asserts that the usual layout mistakes (Keras rows in C, H, W
order; a conv kernel with kh and kw swapped) change the outputs by far more
than the Rust test's tolerance, so the fixture can catch them.

Everything is deterministic (seed 20250301, numpy.random.default_rng); with
the pinned versions two runs give byte-identical files.  See scripts/README.md
("Weight files") for the schema.
"""

import hashlib
import json
import os
import sys

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import safetensors  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

SEED = 20250301
SCRIPT = "scripts/make_weights.py"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures")
DIGITS = os.path.join(ROOT, "data", "digits.csv")
ROWS = [0, 1, 2, 3, 4]  # 0-based rows of data/digits.csv (lines 1-5)
HI = jax.lax.Precision.HIGHEST

GENERATOR = {
    "script": SCRIPT,
    "jax": jax.__version__,
    "jaxlib": jaxlib.__version__,
    "numpy": np.__version__,
    "safetensors": safetensors.__version__,
    "seed": SEED,
    "dtype": "float32 weights and inputs, float64 references",
}

CONVENTIONS = (
    "M2: conv1 = Conv2d(1->8, 3x3, stride 1, pad 1, bias), ReLU, MaxPool2d(2), "
    "conv2 = Conv2d(8->16, 3x3, stride 1, pad 1, bias), ReLU, MaxPool2d(2), "
    "Flatten (C, H, W order: index c*4 + h*2 + w), fc = Linear(64 -> 10), Softmax. "
    "Convolution is cross-correlation (no kernel flip). Inputs x are [1, 8, 8] "
    "(C, H, W), digits pixels / 16 (exact in float32). logits = fc output, "
    "y = softmax(logits); both float64 references computed with JAX (x64) from "
    "the float32 weights of m2_torch.safetensors, NCHW. The NHWC forward on "
    "m2_keras.safetensors and a NumPy loop forward agree within 1e-12."
)

# name -> (torch shape, keras name, keras shape)
TORCH_SHAPES = {
    "conv1.weight": [8, 1, 3, 3],
    "conv1.bias": [8],
    "conv2.weight": [16, 8, 3, 3],
    "conv2.bias": [16],
    "fc.weight": [10, 64],
    "fc.bias": [10],
}
KERAS_SHAPES = {
    "conv1.kernel": [3, 3, 1, 8],
    "conv1.bias": [8],
    "conv2.kernel": [3, 3, 8, 16],
    "conv2.bias": [16],
    "fc.kernel": [64, 10],
    "fc.bias": [10],
}


def check(cond, msg):
    if not cond:
        print(f"CHECK FAILED: {msg}", file=sys.stderr)
        sys.exit(1)


def close(a, b, tol=1e-12):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol + tol * np.abs(b)))


def tensor(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------
# weights: PyTorch's default init (kaiming_uniform(a=sqrt(5)) for weights, and
# the same bound for biases) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32.
# ----------------------------------------------------------------------------

def draw_weights(rng):
    w = {}
    for name, fan_in in [("conv1", 1 * 9), ("conv2", 8 * 9), ("fc", 64)]:
        bound = 1.0 / np.sqrt(fan_in)
        wshape = TORCH_SHAPES[f"{name}.weight"]
        bshape = TORCH_SHAPES[f"{name}.bias"]
        w[f"{name}.weight"] = rng.uniform(-bound, bound, wshape).astype(np.float32)
        w[f"{name}.bias"] = rng.uniform(-bound, bound, bshape).astype(np.float32)
    return w


def to_keras(w):
    """PyTorch layout -> Keras layout (the conversion under test)."""
    k = {}
    for name in ["conv1", "conv2"]:
        # [out, in, kh, kw] -> [kh, kw, in, out]
        k[f"{name}.kernel"] = np.ascontiguousarray(w[f"{name}.weight"].transpose(2, 3, 1, 0))
        k[f"{name}.bias"] = w[f"{name}.bias"].copy()
    # fc.weight[o, c*4 + h*2 + w] -> fc.kernel[(h*2 + w)*16 + c, o]
    fw = w["fc.weight"].reshape(10, 16, 2, 2)  # [o, c, h, w]
    k["fc.kernel"] = np.ascontiguousarray(fw.transpose(2, 3, 1, 0).reshape(64, 10))
    k["fc.bias"] = w["fc.bias"].copy()
    # the row rule, spelled out index by index
    for h in range(2):
        for ww in range(2):
            for c in range(16):
                check(
                    np.array_equal(k["fc.kernel"][(h * 2 + ww) * 16 + c], w["fc.weight"][:, c * 4 + h * 2 + ww]),
                    f"fc.kernel row rule at c={c} h={h} w={ww}",
                )
    return k


# ----------------------------------------------------------------------------
# forwards
# ----------------------------------------------------------------------------

def forward_nchw(x, w):
    """x: [N, 1, 8, 8]; torch-layout weights. Returns logits [N, 10]."""
    def conv(a, k, b):
        y = jax.lax.conv_general_dilated(
            a, k, window_strides=(1, 1), padding=((1, 1), (1, 1)),
            dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=HI)
        return y + b[None, :, None, None]

    def pool(a):
        return jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    a = jnp.asarray(x, jnp.float64)
    a = pool(jax.nn.relu(conv(a, jnp.asarray(w["conv1.weight"], jnp.float64), jnp.asarray(w["conv1.bias"], jnp.float64))))
    a = pool(jax.nn.relu(conv(a, jnp.asarray(w["conv2.weight"], jnp.float64), jnp.asarray(w["conv2.bias"], jnp.float64))))
    a = a.reshape(a.shape[0], -1)  # C, H, W
    return jnp.matmul(a, jnp.asarray(w["fc.weight"], jnp.float64).T, precision=HI) + jnp.asarray(w["fc.bias"], jnp.float64)


def forward_nhwc(x_nchw, k):
    """The same network in Keras's world: NHWC tensors, HWIO kernels, NHWC flatten,
    x @ kernel. x_nchw is transposed to NHWC once at the start (a Keras model sees
    the image as [8, 8, 1])."""
    def conv(a, kern, b):
        y = jax.lax.conv_general_dilated(
            a, kern, window_strides=(1, 1), padding=((1, 1), (1, 1)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=HI)
        return y + b[None, None, None, :]

    def pool(a):
        return jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    a = jnp.asarray(np.transpose(x_nchw, (0, 2, 3, 1)), jnp.float64)
    a = pool(jax.nn.relu(conv(a, jnp.asarray(k["conv1.kernel"], jnp.float64), jnp.asarray(k["conv1.bias"], jnp.float64))))
    a = pool(jax.nn.relu(conv(a, jnp.asarray(k["conv2.kernel"], jnp.float64), jnp.asarray(k["conv2.bias"], jnp.float64))))
    a = a.reshape(a.shape[0], -1)  # H, W, C
    return jnp.matmul(a, jnp.asarray(k["fc.kernel"], jnp.float64), precision=HI) + jnp.asarray(k["fc.bias"], jnp.float64)


def forward_numpy(x, w):
    """Naive loops, torch layout, float64."""
    def conv(a, k, b):
        n, ci, h, wd = a.shape
        co = k.shape[0]
        p = np.zeros((n, ci, h + 2, wd + 2))
        p[:, :, 1:-1, 1:-1] = a
        y = np.zeros((n, co, h, wd))
        for o in range(co):
            for i in range(h):
                for j in range(wd):
                    y[:, o, i, j] = np.sum(p[:, :, i:i + 3, j:j + 3] * k[o][None], axis=(1, 2, 3)) + b[o]
        return y

    def pool(a):
        n, c, h, wd = a.shape
        return a.reshape(n, c, h // 2, 2, wd // 2, 2).max(axis=(3, 5))

    f = {n: v.astype(np.float64) for n, v in w.items()}
    a = np.asarray(x, np.float64)
    a = pool(np.maximum(conv(a, f["conv1.weight"], f["conv1.bias"]), 0))
    a = pool(np.maximum(conv(a, f["conv2.weight"], f["conv2.bias"]), 0))
    a = a.reshape(a.shape[0], -1)
    return a @ f["fc.weight"].T + f["fc.bias"]


def softmax(z):
    return jax.nn.softmax(jnp.asarray(z, jnp.float64), axis=-1)


# ----------------------------------------------------------------------------

def main():
    print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, numpy {np.__version__}, "
          f"safetensors {safetensors.__version__}, x64={jax.config.jax_enable_x64}")
    check(jnp.zeros(1).dtype == jnp.float64, "x64 not enabled")
    rng = np.random.default_rng(SEED)

    torch_w = draw_weights(rng)
    keras_w = to_keras(torch_w)
    for n, s in TORCH_SHAPES.items():
        check(list(torch_w[n].shape) == s and torch_w[n].dtype == np.float32, f"torch {n}")
    for n, s in KERAS_SHAPES.items():
        check(list(keras_w[n].shape) == s and keras_w[n].dtype == np.float32, f"keras {n}")

    torch_path = os.path.join(OUT_DIR, "m2_torch.safetensors")
    keras_path = os.path.join(OUT_DIR, "m2_keras.safetensors")
    save_file(torch_w, torch_path, metadata={"format": "pt"})
    save_file(keras_w, keras_path, metadata={"format": "keras"})

    # Read both files back: everything below uses what is on disk.
    torch_r = load_file(torch_path)
    keras_r = load_file(keras_path)
    check(sorted(torch_r) == sorted(TORCH_SHAPES), "torch file names")
    check(sorted(keras_r) == sorted(KERAS_SHAPES), "keras file names")
    for n in torch_r:
        check(torch_r[n].dtype == np.float32 and np.array_equal(torch_r[n], torch_w[n]), f"torch read-back {n}")
    for n in keras_r:
        check(keras_r[n].dtype == np.float32 and np.array_equal(keras_r[n], keras_w[n]), f"keras read-back {n}")

    # Inputs: digits rows / 16 (k/16 is exact in float32).
    rows = np.loadtxt(DIGITS, delimiter=",", dtype=np.int64)
    x = np.stack([rows[r, :64].reshape(1, 8, 8) / 16.0 for r in ROWS])  # [5, 1, 8, 8]
    labels = [int(rows[r, 64]) for r in ROWS]
    check(np.array_equal(x.astype(np.float32).astype(np.float64), x), "inputs not float32")

    logits = np.asarray(forward_nchw(x, torch_r))
    y = np.asarray(softmax(logits))

    # Independent checks.
    logits_keras = np.asarray(forward_nhwc(x, keras_r))
    check(close(logits_keras, logits), f"NHWC Keras forward differs: {np.abs(logits_keras - logits).max()}")
    check(close(np.asarray(softmax(logits_keras)), y), "NHWC Keras softmax differs")
    logits_np = forward_numpy(x, torch_r)
    check(close(logits_np, logits), f"NumPy forward differs: {np.abs(logits_np - logits).max()}")
    check(close(y.sum(axis=1), np.ones(len(ROWS))), "softmax rows do not sum to 1")

    # The fixture must catch the usual layout mistakes (tolerance in the Rust test: 1e-5).
    wrong_fc = dict(keras_r)
    wrong_fc["fc.kernel"] = np.ascontiguousarray(torch_r["fc.weight"].T)  # rows in C, H, W order
    d_fc = np.abs(np.asarray(softmax(forward_nhwc(x, wrong_fc))) - y).max()
    wrong_conv = dict(torch_r)
    wrong_conv["conv2.weight"] = np.ascontiguousarray(torch_r["conv2.weight"].transpose(0, 1, 3, 2))  # kh <-> kw
    d_conv = np.abs(np.asarray(softmax(forward_nchw(x, wrong_conv))) - y).max()
    print(f"layout mistakes change the softmax by: fc rows C,H,W {d_fc:.3e}, conv2 kh<->kw {d_conv:.3e}")
    check(d_fc > 1e-3 and d_conv > 1e-3, "fixture does not discriminate layout mistakes")

    out = {
        "generator": GENERATOR,
        "conventions": CONVENTIONS,
        "files": {
            "torch": {"path": "m2_torch.safetensors", "sha256": sha256(torch_path),
                      "tensors": TORCH_SHAPES},
            "keras": {"path": "m2_keras.safetensors", "sha256": sha256(keras_path),
                      "tensors": KERAS_SHAPES},
        },
        "cases": [
            {
                "name": f"digits_row_{r + 1}",
                "row": r + 1,
                "label": labels[i],
                "x": tensor(x[i]),
                "logits": tensor(logits[i]),
                "y": tensor(y[i]),
            }
            for i, r in enumerate(ROWS)
        ],
    }
    json_path = os.path.join(OUT_DIR, "m2_outputs.json")
    with open(json_path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for p in [torch_path, keras_path, json_path]:
        print(f"wrote {os.path.relpath(p, ROOT)} ({os.path.getsize(p)} bytes)")
    print("predictions:", [int(v) for v in y.argmax(axis=1)], "labels:", labels)
    print("all checks passed")


if __name__ == "__main__":
    main()
