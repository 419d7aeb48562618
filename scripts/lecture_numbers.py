#!/usr/bin/env python3
"""Recompute the lecture's worked CNN examples with JAX: tests/fixtures/lecture.json.

The lecture (slides "Shared weights" and "Dimensionality reduction: pooling") shows
four sets of worked numbers. This script rebuilds their inputs from the slides,
recomputes the outputs with jax.lax, says where a slide value disagrees with the
mathematics, and writes inputs and JAX outputs to tests/fixtures/lecture.json.
The Rust side reads that file in tests/lecture.rs, and the doctests of
src/lecture.rs (the module `nn::lecture`) embed the same numbers as literals.

  1. Convolution. A 5x5 image and a 3x3 kernel, 3x3 result
     (12 12 17 / 10 17 19 / 9 6 14). The slide prints the kernel over the
     top-left 3x3 patch as subscripts: `$3_0$` is pixel 3 under kernel weight 0.
     The kernel is parsed from those subscripts (SLIDE_CONV below). The operation
     is cross-correlation (no kernel flip), as on the slide and in PyTorch:
     jax.lax.conv_general_dilated. The slide's result is what the mathematics
     gives. A true convolution (flipped kernel) would give other numbers, which
     the script also records (`y_flipped_kernel`).
  2. Max pooling. A 7x7 image and a 5x5 result. The only square window and
     stride that give 5x5 from 7x7 without padding are a 3x3 window with
     stride 1 (jax.lax.reduce_window with lax.max).
     DISCREPANCY: the slide's output row 2, column 2 (0-based) is 7. The window
     rows 2-4, columns 2-4 is [[2 1 9] [1 1 7] [4 7 6]], whose maximum is 9.
     The other 24 values agree.
  3. Average pooling on the same image. The slide shows two numbers only:
     "4.2" and "5.0". Neither the window, the stride nor the output positions
     are given. The script tries every square window k and stride s (no
     padding), rounding the exact means (Fractions) to one decimal, halves up.
     Only k = 3 gives both numbers, with stride 1 (the max-pooling example's
     pooling) or stride 3 (non-overlapping windows, PyTorch's default stride).
     Both are computed with jax.lax.reduce_window (lax.add, divided by 9):
       * 4.2 is the ROUNDED mean of the top-left window (rows 0-2, columns 0-2):
         38/9 = 4.222... (the stride-1 window at output [2, 2] has the same
         mean).
       * 5.0 is exact: 45/9, the mean of rows 3-5, columns 3-5, the only 3x3
         window with mean 5.
       * Together they are the diagonal of the 2x2 stride-3 output
         [[38/9, 40/9], [39/9, 45/9]] = [[4.222, 4.444], [4.333, 5.0]] (row
         and column 6 fall outside every window). The lecture's text shows no
         off-diagonal values. In the 5x5 stride-1 output they sit at [0, 0] and
         [3, 3], which are not neighbours: next to [0, 0] are 32/9 = 3.556 and
         42/9 = 4.667.
  4. Shared weights. A 3x3x3 kernel has 27 weights (28 parameters with its one
     bias). A fully connected layer from a 256x256x3 image to 256x256x3 neurons
     has 196608^2 = 38,654,705,664 weights (plus 196,608 biases =
     38,654,902,272 parameters). That is 3.9e10, so the slide's "O(10^10)" is
     right. The counts are exact Python integers. They are checked against the
     sizes JAX reports for the abstract weight arrays (jax.eval_shape, so
     nothing is allocated).

Run (from anywhere):
    python3 -m venv /tmp/ln
    /tmp/ln/bin/pip install -r scripts/requirements.txt
    /tmp/ln/bin/python scripts/lecture_numbers.py

The script prints `all checks passed` and exits non-zero if a check fails. It
uses no random numbers, so the output is deterministic.

Numbers: float64 (`jax_enable_x64`). Every input is a small integer. Every output
except the averages is an integer, so in f32 it is exact. The averages are
float64 k/9 values, so compare them with a tolerance. Tensors are
{"shape": [...], "data": [flat row-major]} in NCHW, as in the other fixtures
(scripts/README.md). The conv weight `w` is [out, in, kh, kw] (PyTorch layout).
"""

import json
import math
import os
import re
import sys
from fractions import Fraction

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
from jax import lax  # noqa: E402

SCRIPT = "scripts/lecture_numbers.py"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "lecture.json"))
HI = lax.Precision.HIGHEST

# ----------------------------------------------------------------------------
# The slides, as printed in the lecture (tab-separated; `$p_w$` = pixel p under
# kernel weight w)
# ----------------------------------------------------------------------------

SLIDE_CONV = """\
$3_0$\t$3_1$\t$2_2$\t1\t0
$0_2$\t$0_2$\t$1_0$\t3\t1
$3_0$\t$1_1$\t$2_2$\t2\t3
2\t0\t0\t2\t2
2\t0\t0\t0\t1
"""
SLIDE_CONV_OUT = """\
12.0\t12.0\t17.0
10.0\t17.0\t19.0
9.0\t6.0\t14.0
"""
SLIDE_POOL_IN = """\
0\t3\t5\t6\t2\t4\t5
7\t4\t7\t3\t6\t3\t4
9\t1\t2\t1\t9\t6\t0
9\t2\t1\t1\t7\t3\t5
8\t0\t4\t7\t6\t8\t0
8\t3\t4\t5\t5\t3\t4
7\t9\t4\t6\t5\t2\t6
"""
SLIDE_MAXPOOL_OUT = """\
9\t7\t9\t9\t9
9\t7\t9\t9\t9
9\t7\t7\t9\t9
9\t7\t7\t8\t8
9\t9\t7\t8\t8
"""
SLIDE_AVGPOOL_VALUES = [4.2, 5.0]  # printed with one decimal, positions not shown
SLIDE_KERNEL_WEIGHTS = 27          # "Kernel: 3 x 3 x 3 -> 27 weights"
SLIDE_DENSE_ORDER = 10             # "-> O(10^10) weights"

CELL = re.compile(r"^\$(\d+)_(\d+)\$$")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def grid(text):
    return np.array([[float(c) for c in row.split("\t")] for row in text.strip("\n").split("\n")])


def parse_conv_slide(text):
    """Returns (image 5x5, kernel 3x3) from the slide's subscript notation."""
    rows = [row.split("\t") for row in text.strip("\n").split("\n")]
    image = np.zeros((len(rows), len(rows[0])))
    kernel = {}
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            m = CELL.match(cell)
            if m:
                image[i, j] = float(m.group(1))
                kernel[(i, j)] = float(m.group(2))
            else:
                image[i, j] = float(cell)
    kh = max(i for i, _ in kernel) + 1
    kw = max(j for _, j in kernel) + 1
    check(len(kernel) == kh * kw and min(kernel) == (0, 0),
          "the subscripts must cover a full top-left rectangle")
    k = np.array([[kernel[(i, j)] for j in range(kw)] for i in range(kh)])
    return image, k


def tensor(a):
    a = np.asarray(a, dtype=np.float64)
    check(bool(np.all(np.isfinite(a))), "non-finite value")
    return {"shape": [int(s) for s in a.shape], "data": [float(v) for v in a.reshape(-1)]}


# ----------------------------------------------------------------------------
# 1. Convolution (cross-correlation)
# ----------------------------------------------------------------------------

def conv_jax(x, w):
    """x [N,C,H,W], w [O,C,kh,kw] -> [N,O,OH,OW], stride 1, no padding, no flip."""
    y = lax.conv_general_dilated(
        jnp.asarray(x), jnp.asarray(w), window_strides=(1, 1), padding=((0, 0), (0, 0)),
        dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=HI)
    return np.asarray(y)


def conv_numpy(img, k):
    kh, kw = k.shape
    oh, ow = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    return np.array([[np.sum(img[i:i + kh, j:j + kw] * k) for j in range(ow)] for i in range(oh)])


def make_conv():
    image, kernel = parse_conv_slide(SLIDE_CONV)
    check(image.shape == (5, 5) and kernel.shape == (3, 3), "slide shapes")
    x = image.reshape(1, 1, 5, 5)
    w = kernel.reshape(1, 1, 3, 3)
    b = np.zeros(1)
    y = conv_jax(x, w) + b.reshape(1, 1, 1, 1)
    check(np.array_equal(y[0, 0], conv_numpy(image, kernel)), "conv: JAX != NumPy loops")
    slide = grid(SLIDE_CONV_OUT)
    # The slide's result is exactly the cross-correlation.
    check(np.array_equal(y[0, 0], slide), f"conv: JAX {y[0, 0]} != slide {slide}")
    # A true convolution flips the kernel; it does not give the slide's numbers.
    flipped = conv_jax(x, w[:, :, ::-1, ::-1])
    check(not np.array_equal(flipped[0, 0], slide), "flipped kernel should differ")
    print("conv: JAX cross-correlation == slide:\n", y[0, 0])
    print("conv: true convolution (flipped kernel) would give:\n", flipped[0, 0])
    return {
        "source": "lecture slide 'Shared weights': 5x5 image, 3x3 kernel as subscripts",
        "config": {"in_channels": 1, "out_channels": 1, "kernel": [3, 3], "stride": [1, 1],
                   "padding": [0, 0, 0, 0], "bias": True},
        "x": tensor(x),
        "w": tensor(w),
        "b": tensor(b),
        "y": tensor(y),
        "slide_y": tensor(slide.reshape(1, 1, 3, 3)),
        "slide_matches": True,
        "y_flipped_kernel": tensor(flipped),
        "note": "cross-correlation (no kernel flip), as the slide and PyTorch; the slide's 3x3 "
                "result is exactly what the mathematics gives; y_flipped_kernel is the true "
                "(flipped) convolution for comparison, not what the slide shows",
    }


# ----------------------------------------------------------------------------
# 2. and 3. Pooling
# ----------------------------------------------------------------------------

def pool_jax(x, k, s, op):
    dims = (1, 1, k, k)
    strides = (1, 1, s, s)
    if op == "max":
        return np.asarray(lax.reduce_window(jnp.asarray(x), -jnp.inf, lax.max, dims, strides,
                                            "VALID"))
    total = lax.reduce_window(jnp.asarray(x), 0.0, lax.add, dims, strides, "VALID")
    return np.asarray(total / (k * k))


def windows(img, k, s):
    oh = (img.shape[0] - k) // s + 1
    ow = (img.shape[1] - k) // s + 1
    return [[img[i * s:i * s + k, j * s:j * s + k] for j in range(ow)] for i in range(oh)]


def make_maxpool(image):
    x = image.reshape(1, 1, 7, 7)
    slide = grid(SLIDE_MAXPOOL_OUT)
    # Which square window / stride gives 5x5 from 7x7 without padding?
    fits = [(k, s) for k in range(1, 8) for s in range(1, 8) if (7 - k) // s + 1 == 5]
    check(fits == [(3, 1)], f"window/stride giving 5x5: {fits}")
    y = pool_jax(x, 3, 1, "max")
    ref = np.array([[w.max() for w in row] for row in windows(image, 3, 1)])
    check(np.array_equal(y[0, 0], ref), "maxpool: JAX != NumPy")
    mismatches = []
    for i, j in zip(*np.nonzero(y[0, 0] != slide)):
        win = image[i:i + 3, j:j + 3]
        mismatches.append({"index": [int(i), int(j)], "slide": float(slide[i, j]),
                           "jax": float(y[0, 0, i, j]), "window": tensor(win)})
        print(f"maxpool: DISCREPANCY at output [{i}, {j}]: slide {slide[i, j]:g}, "
              f"max of window rows {i}-{i + 2} cols {j}-{j + 2} {win.tolist()} is "
              f"{y[0, 0, i, j]:g}")
    # NOTE the slide disagrees with the mathematics in exactly one cell: [2][2] is 7 on the
    # slide, 9 in fact (the window holds the 9 at row 2, column 4).
    check([m["index"] for m in mismatches] == [[2, 2]], f"expected one mismatch: {mismatches}")
    check(mismatches[0]["slide"] == 7.0 and mismatches[0]["jax"] == 9.0, "mismatch values")
    print("maxpool 3x3 stride 1 (JAX):\n", y[0, 0])
    return {
        "source": "lecture slide 'Dimensionality reduction: pooling', MaxPooling",
        "config": {"kernel": [3, 3], "stride": [1, 1], "padding": [0, 0, 0, 0]},
        "x": tensor(x),
        "y": tensor(y),
        "slide_y": tensor(slide.reshape(1, 1, 5, 5)),
        "slide_matches": False,
        "mismatches": mismatches,
        "note": "3x3 window, stride 1 is the only square window/stride giving 5x5 from 7x7 "
                "without padding; the slide's output [2][2] = 7 is wrong: its window "
                "[[2,1,9],[1,1,7],[4,7,6]] has maximum 9; the other 24 values agree",
    }


def round1(v):
    """Rounds a Fraction to one decimal, halves up (as a slide would print it)."""
    return Fraction(math.floor(v * 10 + Fraction(1, 2)), 10)


def make_avgpool(image):
    x = image.reshape(1, 1, 7, 7)
    slide = [Fraction(str(v)) for v in SLIDE_AVGPOOL_VALUES]

    # Which square window k and stride s (no padding) give both of the slide's numbers, when
    # the exact means (window sum / k^2, as fractions) are rounded to one decimal?
    both = []
    for k in range(1, 8):
        for s in range(1, 8):
            means = {round1(Fraction(int(w.sum()), k * k))
                     for row in windows(image, k, s) for w in row}
            if all(v in means for v in slide):
                both.append([k, s])
    # Only a 3x3 window: with stride 1 (as the max-pooling example) or stride 3 (the
    # non-overlapping windows of PyTorch's default stride = kernel).
    check(both == [[3, 1], [3, 3]], f"window/stride explaining both slide numbers: {both}")

    cases = []
    for s in (1, 3):
        y = pool_jax(x, 3, s, "avg")
        sums = np.array([[w.sum() for w in row] for row in windows(image, 3, s)])
        check(np.allclose(y[0, 0], sums / 9, rtol=1e-15, atol=0), f"avgpool s{s}: JAX != NumPy")
        cases.append({"name": f"k3_s{s}",
                      "config": {"kernel": [3, 3], "stride": [s, s], "padding": [0, 0, 0, 0],
                                 "count_include_pad": True},
                      "y": tensor(y),
                      "window_sums": tensor(sums.reshape((1, 1) + sums.shape))})
        print(f"avgpool 3x3 stride {s} (JAX):\n", np.round(y[0, 0], 4))
    s1 = np.array(cases[0]["window_sums"]["data"]).reshape(5, 5)
    s3 = np.array(cases[1]["window_sums"]["data"]).reshape(2, 2)
    check(np.array_equal(s3, s1[::3, ::3]), "stride 3 = every third stride-1 window")

    # Where the slide's numbers come from (3x3 windows):
    # NOTE 4.2 is a ROUNDED 38/9 = 4.222... (top-left window, rows 0-2, columns 0-2; the
    # stride-1 window at [2, 2] has the same mean); 5.0 = 45/9 is exact (rows 3-5, columns
    # 3-5, the only 3x3 window with mean 5). They are the diagonal of the 2x2 stride-3 output
    # [[38/9, 40/9], [39/9, 45/9]]; the slide's text shows no off-diagonal values. In the
    # 5x5 stride-1 output they are [0, 0] and [3, 3], not neighbours: the neighbours of
    # [0, 0] are 32/9 = 3.556 ([0, 1]) and 42/9 = 4.667 ([1, 0]).
    r = [[round1(Fraction(int(v), 9)) for v in row] for row in s1]
    check([[int(i), int(j)] for i in range(5) for j in range(5) if r[i][j] == slide[0]]
          == [[0, 0], [2, 2]], "4.2 positions")
    check([[int(i), int(j)] for i in range(5) for j in range(5) if r[i][j] == slide[1]]
          == [[3, 3]], "5.0 positions")
    check(s3.tolist() == [[38, 40], [39, 45]] and s1[0, 1] == 32 and s1[1, 0] == 42,
          "window sums")
    y1 = np.array(cases[0]["y"]["data"]).reshape(5, 5)
    slide_values = [
        {"slide": 4.2, "window_rows": [0, 2], "window_cols": [0, 2], "index_stride1": [0, 0],
         "index_stride3": [0, 0], "window_sum": 38, "jax": float(y1[0, 0]),
         "exact": "38/9 = 4.222...", "slide_matches": "rounded to one decimal (4.222... -> 4.2)"},
        {"slide": 5.0, "window_rows": [3, 5], "window_cols": [3, 5], "index_stride1": [3, 3],
         "index_stride3": [1, 1], "window_sum": 45, "jax": float(y1[3, 3]),
         "exact": "45/9 = 5", "slide_matches": "exact"},
    ]
    print("avgpool: slide 4.2 = rounded 38/9 (rows 0-2, cols 0-2); "
          "slide 5.0 = 45/9 (rows 3-5, cols 3-5)")
    return {
        "source": "lecture slide 'Dimensionality reduction: pooling', AveragePooling",
        "x": tensor(x),
        "cases": cases,
        "slide_values": slide_values,
        "square_window_strides_explaining_both": both,
        "note": "the slide shows only 4.2 and 5.0, without windows or positions; only a 3x3 "
                "window (square windows, no padding) gives both: 4.2 is the rounded mean "
                "38/9 = 4.222... of the top-left window (rows 0-2, columns 0-2) and 5.0 = 45/9 "
                "is the exact mean of rows 3-5, columns 3-5; they are the diagonal of the 2x2 "
                "output of a 3x3 average pool with stride 3 ([[4.222, 4.444], [4.333, 5.0]], "
                "last row and column unused) and outputs [0, 0] and [3, 3] of the 5x5 "
                "stride-1 output (not neighbours there)",
    }


# ----------------------------------------------------------------------------
# 4. Shared weights: parameter counts
# ----------------------------------------------------------------------------

def make_params():
    h, w, c = 256, 256, 3
    kh, kw = 3, 3
    n = h * w * c
    kernel_weights = kh * kw * c
    dense_weights = n * n
    # The same counts from JAX's shapes of the weight arrays (abstract: nothing allocated).
    conv_w = jax.eval_shape(lambda: jnp.zeros((1, c, kh, kw), jnp.float32))
    dense_w = jax.eval_shape(lambda: jnp.zeros((n, n), jnp.float32))
    dense_b = jax.eval_shape(lambda: jnp.zeros((n,), jnp.float32))
    check(math.prod(conv_w.shape) == kernel_weights == SLIDE_KERNEL_WEIGHTS, "27 weights")
    check(math.prod(dense_w.shape) == dense_weights == 38_654_705_664, "dense weights")
    check(n == 196_608 and dense_weights == 196_608 ** 2, "196608^2")
    dense_params = dense_weights + math.prod(dense_b.shape)
    check(dense_params == 38_654_902_272, "dense params with bias")
    order = math.floor(math.log10(dense_weights))
    check(order == SLIDE_DENSE_ORDER, f"O(10^{order})")
    ratio = dense_weights / kernel_weights
    print(f"params: kernel {kernel_weights} (+1 bias = {kernel_weights + 1}), dense "
          f"{dense_weights:,} (+{n:,} biases = {dense_params:,}), 10^{order}, "
          f"ratio {ratio:.4g}")
    return {
        "source": "lecture slide 'Shared weights'",
        "image_hwc": [h, w, c],
        "kernel": [kh, kw, c],
        "kernel_weights": kernel_weights,
        "kernel_params_with_bias": kernel_weights + 1,
        "dense_inputs": n,
        "dense_outputs": n,
        "dense_weights": dense_weights,
        "dense_params_with_bias": dense_params,
        "dense_weights_log10_floor": order,
        "slide_kernel_weights": SLIDE_KERNEL_WEIGHTS,
        "slide_dense": "O(10^10)",
        "slide_matches": True,
        "note": "the slide's 27 is exact; O(10^10) is right: 196608^2 = 38,654,705,664 = "
                "3.87e10 weights (38,654,902,272 with biases), about 1.43e9 times 27",
    }


def dumps(obj, indent=0):
    """JSON, indented by object keys, with lists of numbers or strings on one line."""
    pad = "  " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        items = [pad + dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(obj, allow_nan=False)


def main():
    conv = make_conv()
    image = grid(SLIDE_POOL_IN)
    check(image.shape == (7, 7), "pool image shape")
    maxpool = make_maxpool(image)
    avgpool = make_avgpool(image)
    params = make_params()
    obj = {
        "generator": {"script": SCRIPT, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                      "numpy": np.__version__, "dtype": "float64 (jax_enable_x64)"},
        "conventions": "Inputs reconstructed from the lecture's slides; outputs computed by "
                       "JAX (jax.lax.conv_general_dilated, jax.lax.reduce_window) in float64. "
                       "Tensors are {shape, data} with data flat row-major, NCHW; conv weight "
                       "[out, in, kh, kw]; convolution is cross-correlation (no flip); pools "
                       "have no padding. slide_* fields hold the slide's own numbers; "
                       "slide_matches and note say whether they are what the mathematics gives.",
        "conv2d": conv,
        "maxpool2d": maxpool,
        "avgpool2d": avgpool,
        "shared_weights": params,
    }
    text = dumps(obj)
    check(json.loads(text) == obj, "JSON round-trip")
    with open(OUT, "w") as fh:
        fh.write(text)
        fh.write("\n")
    print(f"wrote {OUT} ({len(text) + 1} bytes)")
    print("all checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
