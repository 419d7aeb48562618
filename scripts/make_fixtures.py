#!/usr/bin/env python3
"""Generate independent-framework parity fixtures for the Rust `nn` crate.

Every reference value in tests/fixtures/*.json is computed here with JAX
(float64, `jax_enable_x64`) and cross-checked with plain NumPy assertions.
Nothing in the fixtures comes from the Rust code, and the Rust tests never
regenerate them.  See scripts/README.md for how to run this and for the JSON
schema.

Conventions (PyTorch):
  * Dense: y = x @ W.T + b, W stored as [out, in].
  * Tensors are NCHW (2-D) / NCL (1-D), conv weights are [out, in, kh, kw] /
    [out, in, k]; convolution is cross-correlation (no kernel flip).
  * Losses are means over the batch (MSE: mean over all elements).
  * Gradients of layers are of the scalar sum(y * g) for a stored random
    upstream g of the same shape as y.
  * Output size: floor((H + pad_before + pad_after - K) / S) + 1.

All INPUTS (x, weights, biases, upstream gradients, targets) are drawn as
float32 values (NumPy seeded RNG -> float32 -> float64), so the Rust f32 code
sees exactly the same inputs after parsing the JSON number and casting to f32.
Outputs are float64 and written with full precision (Python float repr).

Max-pool gradients: PyTorch routes each window's upstream gradient to the
FIRST maximum of the window in row-major order.  JAX's reduce_window
gradient is not documented to do that on ties, so the max-pool dx stored in
pool.json is computed by an explicit NumPy reference (`maxpool_ref`), and the
script asserts that it equals JAX's gradient on the cases without ties
(whether JAX also agrees on the tie cases is printed for information only).

Kink derivatives: for step, relu, leaky_relu, prelu, elu and selu the stored
derivative comes from the explicit PyTorch formula (value at x == 0 included);
the script asserts that it agrees with jax.grad at every x != 0.
"""

import json
import math
import os
import sys

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402

SEED = 20240611
SCRIPT = "scripts/make_fixtures.py"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures"))
MAX_BYTES = 300 * 1024

rng = np.random.default_rng(SEED)

GENERATOR = {
    "script": SCRIPT,
    "jax": jax.__version__,
    "jaxlib": jaxlib.__version__,
    "numpy": np.__version__,
    "seed": SEED,
    "dtype": "float64 references, float32-representable inputs",
}

HI = jax.lax.Precision.HIGHEST


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def f32(a):
    """Round to float32, return as float64 numpy array."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def randn(shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


def tensor(a):
    a = np.asarray(a, dtype=np.float64)
    assert np.all(np.isfinite(a)), "non-finite value in fixture"
    return {"shape": [int(s) for s in a.shape],
            "data": [float(v) for v in a.reshape(-1)]}


def itensor(a):
    a = np.asarray(a)
    return {"shape": [int(s) for s in a.shape],
            "data": [int(v) for v in a.reshape(-1)]}


def scalar(v):
    v = float(v)
    assert math.isfinite(v)
    return v


def assert_is_f32(*arrays):
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        assert np.array_equal(a, f32(a)), "input not float32-representable"


def close(a, b, rtol=1e-12, atol=1e-12):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return np.allclose(a, b, rtol=rtol, atol=atol)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def out_size(h, pb, pa, k, s):
    return (h + pb + pa - k) // s + 1


def tf_same_pad(h, k, s):
    """TensorFlow SAME padding: (before, after)."""
    out = -(-h // s)
    total = max((out - 1) * s + k - h, 0)
    return total // 2, total - total // 2


def write(name, obj):
    path = os.path.join(OUT_DIR, name)
    text = json.dumps(obj, indent=None, separators=(",", ":"), allow_nan=False)
    check(len(text) < MAX_BYTES, f"{name} too large: {len(text)} bytes")
    # round-trip: every number must parse back to the same float
    check(json.loads(text) == obj, f"{name} does not round-trip")
    with open(path, "w") as fh:
        fh.write(text)
        fh.write("\n")
    print(f"wrote {path} ({len(text) + 1} bytes)")


# ----------------------------------------------------------------------------
# activations
# ----------------------------------------------------------------------------

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def make_activations():
    grid = [0.0]
    for v in [1e-3, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0]:
        grid += [-v, v]
    x = np.concatenate([f32(grid), randn(40, 3.0)])
    assert_is_f32(x)
    xj = jnp.asarray(x)
    nz = x != 0.0

    def jgrad(fn, xs=None):
        xs = xj if xs is None else xs
        return np.asarray(jax.vmap(jax.grad(fn))(xs))

    def jfwd(fn):
        return np.asarray(jax.vmap(fn)(xj))

    cases = []

    def add(name, params, fn, kink_formula=None, extra=None):
        y = jfwd(fn)
        g = jgrad(fn)
        if kink_formula is not None:
            ref = kink_formula(x)
            check(close(ref[nz], g[nz]),
                  f"{name}{params}: formula derivative != jax.grad off the kink")
            g = ref
        case = {"name": name, "params": params, "x": tensor(x), "y": tensor(y),
                "dydx": tensor(g)}
        if extra:
            case.update(extra)
        cases.append(case)
        return y, g

    add("identity", {}, lambda t: t)

    # step: jax.grad of a where() is 0 everywhere; write zeros explicitly.
    y, _ = add("step", {}, lambda t: jnp.where(t >= 0, 1.0, 0.0),
               kink_formula=lambda v: np.zeros_like(v))
    check(np.array_equal(y, (x >= 0).astype(np.float64)), "step fwd")

    y, g = add("sigmoid", {}, jax.nn.sigmoid)
    check(close(y, 1 / (1 + np.exp(-x)), 1e-14, 1e-300), "sigmoid numpy")
    check(close(g, y * (1 - y), 1e-9, 1e-300), "sigmoid' numpy")

    y, g = add("tanh", {}, jnp.tanh)
    check(close(y, np.tanh(x)), "tanh numpy")
    check(close(g, 1 - np.tanh(x) ** 2, 1e-9, 1e-15), "tanh' numpy")

    y, _ = add("relu", {}, jax.nn.relu,
               kink_formula=lambda v: (v > 0).astype(np.float64))
    check(np.array_equal(y, np.maximum(x, 0)), "relu numpy")

    add("gelu", {},
        lambda t: jax.nn.gelu(t, approximate=False))
    add("gelu_tanh", {},
        lambda t: jax.nn.gelu(t, approximate=True))

    y, g = add("softplus", {}, jax.nn.softplus)
    check(close(y, np.logaddexp(x, 0.0), 1e-14, 1e-300), "softplus numpy")
    check(close(g, 1 / (1 + np.exp(-x)), 1e-12, 1e-300), "softplus' numpy")

    for alpha in (1.0, 0.5):
        y, _ = add("elu", {"alpha": alpha},
                   lambda t, a=alpha: jax.nn.elu(t, alpha=a),
                   kink_formula=lambda v, a=alpha:
                   np.where(v > 0, 1.0, a * np.exp(v)))
        check(close(y, np.where(x > 0, x, alpha * np.expm1(x))), "elu numpy")

    y, _ = add("selu", {"lambda": SELU_LAMBDA, "alpha": SELU_ALPHA},
               lambda t: SELU_LAMBDA * jnp.where(
                   t > 0, t, SELU_ALPHA * jnp.expm1(jnp.minimum(t, 0.0))),
               kink_formula=lambda v: np.where(
                   v > 0, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * np.exp(v)))
    check(close(y, np.asarray(jax.nn.selu(xj))), "selu vs jax.nn.selu")

    for slope in (0.01, 0.2):
        y, _ = add("leaky_relu", {"negative_slope": slope},
                   lambda t, s=slope: jax.nn.leaky_relu(t, negative_slope=s),
                   kink_formula=lambda v, s=slope: np.where(v > 0, 1.0, s))
        check(close(y, np.where(x >= 0, x, slope * x)), "leaky numpy")

    # prelu: y = x if x >= 0 else a*x, with a learnable scalar a.
    a = 0.25

    def prelu(t, a_):
        return jnp.where(t >= 0, t, a_ * t)

    dyda_jax = np.asarray(jax.vmap(jax.grad(prelu, argnums=1),
                                   in_axes=(0, None))(xj, a))
    dyda = np.where(x > 0, 0.0, x)
    check(close(dyda[nz], dyda_jax[nz]), "prelu dy/da formula != jax.grad")
    y, _ = add("prelu", {"alpha": a}, lambda t: prelu(t, a),
               kink_formula=lambda v: np.where(v > 0, 1.0, a),
               extra={"dyda": tensor(dyda)})
    check(np.array_equal(y, np.where(x >= 0, x, a * x)), "prelu numpy")

    y, _ = add("silu", {}, jax.nn.silu)
    check(close(y, x / (1 + np.exp(-x)), 1e-14, 1e-300), "silu numpy")

    y, g = add("gaussian", {}, lambda t: jnp.exp(-t * t))
    check(close(y, np.exp(-x * x), 1e-14, 1e-300), "gaussian numpy")
    check(close(g, -2 * x * np.exp(-x * x), 1e-12, 1e-300), "gaussian' numpy")

    write("activations.json", {
        "generator": GENERATOR,
        "conventions": (
            "Elementwise activations y=f(x) and derivative dydx=f'(x). "
            "step: 1 if x>=0 else 0, derivative 0. relu'(0)=0. "
            "elu(alpha): x if x>0 else alpha*expm1(x); derivative 1 if x>0 "
            "else alpha*exp(x) (so alpha at 0). selu: lambda*elu(alpha); "
            "derivative lambda if x>0 else lambda*alpha*exp(x). "
            "leaky_relu(slope): x if x>=0 else slope*x; derivative 1 if x>0 "
            "else slope. prelu(alpha): x if x>=0 else alpha*x; dydx 1 if x>0 "
            "else alpha; dyda 0 if x>0 else x. gelu: exact erf form; "
            "gelu_tanh: tanh approximation; softplus: log1p(exp(x)) computed "
            "stably (no threshold); silu: x*sigmoid(x); gaussian: exp(-x^2). "
            "Kink derivatives come from these formulas; all others from "
            "jax.grad in float64."),
        "cases": cases,
    })


# ----------------------------------------------------------------------------
# dense
# ----------------------------------------------------------------------------

def make_dense():
    cases = []
    for (nin, nout, batch) in [(4, 3, 5), (16, 64, 2), (30, 1, 3)]:
        x = randn((batch, nin))
        w = randn((nout, nin), 1.0 / math.sqrt(nin))
        b = randn((nout,), 0.5)
        g = randn((batch, nout))
        assert_is_f32(x, w, b, g)

        def f(x_, w_, b_):
            return jnp.matmul(x_, w_.T, precision=HI) + b_

        y, vjp = jax.vjp(f, jnp.asarray(x), jnp.asarray(w), jnp.asarray(b))
        dx, dw, db = (np.asarray(t) for t in vjp(jnp.asarray(g)))
        y = np.asarray(y)
        # plain numpy cross-check
        check(close(y, x @ w.T + b), "dense fwd numpy")
        check(close(dx, g @ w), "dense dx numpy")
        check(close(dw, g.T @ x), "dense dw numpy")
        check(close(db, g.sum(0)), "dense db numpy")
        # one entry by hand
        check(abs(y[0, 0] - (sum(x[0, i] * w[0, i] for i in range(nin))
                             + b[0])) < 1e-12, "dense y[0,0]")
        cases.append({
            "name": f"dense_{nin}x{nout}_b{batch}",
            "config": {"in_features": nin, "out_features": nout,
                       "batch": batch},
            "x": tensor(x), "w": tensor(w), "b": tensor(b), "y": tensor(y),
            "g": tensor(g), "dx": tensor(dx), "dw": tensor(dw),
            "db": tensor(db),
        })
    write("dense.json", {
        "generator": GENERATOR,
        "conventions": ("y = x @ w.T + b; x [batch,in], w [out,in] (PyTorch "
                        "layout), b [out]. g is a random upstream gradient; "
                        "dx, dw, db are gradients of sum(y*g)."),
        "cases": cases,
    })


# ----------------------------------------------------------------------------
# softmax
# ----------------------------------------------------------------------------

def make_softmax():
    vectors = [
        randn(5),
        randn(10, 3.0),
        f32([1000.0, 1001.0, 999.0]),
        f32([-1000.0, -1001.0, -999.0, -1000.5]),
        f32([2.0, 2.0, 2.0, 2.0]),
        f32([0.5]),
        f32([50.0, -50.0, 0.0, 25.0, -25.0]),
        randn(16, 10.0),
    ]
    cases = []
    for i, x in enumerate(vectors):
        g = randn(x.shape)
        assert_is_f32(x, g)
        y, vjp = jax.vjp(jax.nn.softmax, jnp.asarray(x))
        (dx,) = vjp(jnp.asarray(g))
        y, dx = np.asarray(y), np.asarray(dx)
        e = np.exp(x - x.max())
        check(close(y, e / e.sum(), 1e-13, 1e-300), "softmax numpy")
        check(close(dx, y * (g - np.sum(g * y)), 1e-10, 1e-12),
              "softmax vjp formula")
        cases.append({"name": f"softmax_{i}", "x": tensor(x), "y": tensor(y),
                      "g": tensor(g), "dx": tensor(dx)})
    write("softmax.json", {
        "generator": GENERATOR,
        "conventions": ("y = softmax(x) over a 1-D vector (max-shifted). "
                        "dx = vjp with upstream g = y*(g - sum(g*y))."),
        "cases": cases,
    })


# ----------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------

def make_losses():
    bce = []

    # Loss value: the stated stable formula.  Gradient: jax.grad of the
    # equivalent smooth form mean(t*softplus(-z) + (1-t)*softplus(z)) (equal
    # for t in {0,1}).  Two caveats found while writing this:
    #  * jax.grad of the max/abs formula is NOT the true derivative at
    #    z == 0 exactly: JAX's subgradients of max(z,0) and |z| give -t/B
    #    there instead of (0.5 - t)/B.  PyTorch's backward is (sigmoid(z)-t)/B.
    #  * jax.grad of mean(softplus(z) - z*t) evaluates sigmoid(z) - 1 with
    #    cancellation for large positive z and t == 1 (relative error ~3e-7
    #    at z=20, exactly 0 instead of -sigmoid(-40)/B at z=40); the form
    #    used here gives -sigmoid(-z) directly.
    def bce_fn(z, t):
        return jnp.mean(jnp.maximum(z, 0) - z * t
                        + jnp.log1p(jnp.exp(-jnp.abs(z))))

    def bce_smooth(z, t):
        return jnp.mean(t * jax.nn.softplus(-z) + (1 - t) * jax.nn.softplus(z))

    z_sets = [
        randn(8, 2.0),
        f32([-40.0, -20.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 20.0, 40.0, 40.0,
             -40.0, 0.0]),
        randn(1, 1.0),
    ]
    for i, z in enumerate(z_sets):
        t = f32(rng.integers(0, 2, size=z.shape))
        if i == 1:
            t = f32([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1])
        assert_is_f32(z, t)
        loss = float(bce_fn(jnp.asarray(z), jnp.asarray(t)))
        loss2, dz = jax.value_and_grad(bce_smooth)(jnp.asarray(z),
                                                   jnp.asarray(t))
        check(abs(loss - float(loss2)) < 1e-13, "bce: two forms disagree")
        dz = np.asarray(dz)
        # sigmoid(z) - t without cancellation for z > 0
        sig_m_t = np.where(z >= 0, 1 / (1 + np.exp(-z)) - t,
                           np.exp(z) / (1 + np.exp(z)) - t)
        sig_m_t = np.where((z > 0) & (t == 1), -np.exp(-z) / (1 + np.exp(-z)),
                           sig_m_t)
        ref = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
        check(abs(loss - ref) < 1e-13, "bce loss numpy")
        check(close(dz, sig_m_t / z.size, 1e-12, 1e-300),
              "bce grad numpy")
        bce.append({"name": f"bce_with_logits_{i}", "logits": tensor(z),
                    "targets": tensor(t), "loss": scalar(loss),
                    "dlogits": tensor(dz)})

    ce = []

    def ce_fn(z, labels):
        lsm = jax.nn.log_softmax(z, axis=-1)
        return -jnp.mean(jnp.take_along_axis(lsm, labels[:, None], axis=1))

    for i, (b, c, scale) in enumerate([(4, 3, 1.0), (6, 10, 3.0), (3, 5, 1.0),
                                       (1, 2, 1.0)]):
        z = randn((b, c), scale)
        if i == 2:
            z = f32([[1000.0, 1001.0, 999.0, -1000.0, 0.0],
                     [-50.0, 50.0, 0.0, 20.0, -20.0],
                     [3.0, 3.0, 3.0, 3.0, 3.0]])
        labels = rng.integers(0, c, size=b)
        assert_is_f32(z)
        loss, dz = jax.value_and_grad(ce_fn)(jnp.asarray(z),
                                             jnp.asarray(labels))
        loss, dz = float(loss), np.asarray(dz)
        m = z.max(1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(1))
        ref = np.mean(lse - z[np.arange(b), labels])
        check(abs(loss - ref) < 1e-12 * max(1, abs(ref)), "ce loss numpy")
        sm = np.exp(z - m)
        sm /= sm.sum(1, keepdims=True)
        onehot = np.eye(c)[labels]
        check(close(dz, (sm - onehot) / b, 1e-12, 1e-15), "ce grad numpy")
        ce.append({"name": f"softmax_cross_entropy_{i}", "logits": tensor(z),
                   "labels": itensor(labels), "loss": scalar(loss),
                   "dlogits": tensor(dz)})

    mse = []

    def mse_fn(p, t):
        return jnp.mean((p - t) ** 2)

    for i, (b, k) in enumerate([(4, 3), (5, 1), (2, 10)]):
        p = randn((b, k))
        t = randn((b, k))
        assert_is_f32(p, t)
        loss, dp = jax.value_and_grad(mse_fn)(jnp.asarray(p), jnp.asarray(t))
        loss, dp = float(loss), np.asarray(dp)
        check(abs(loss - np.mean((p - t) ** 2)) < 1e-13, "mse numpy")
        check(close(dp, 2 * (p - t) / p.size), "mse grad numpy")
        mse.append({"name": f"mse_{i}", "prediction": tensor(p),
                    "target": tensor(t), "loss": scalar(loss),
                    "dprediction": tensor(dp)})

    write("losses.json", {
        "generator": GENERATOR,
        "conventions": (
            "Mean reduction (PyTorch default). bce_with_logits: logits z [B], "
            "targets t in {0,1} [B], loss = mean(max(z,0) - z*t + "
            "log1p(exp(-|z|))), dlogits = (sigmoid(z)-t)/B. "
            "softmax_cross_entropy: logits [B,C], integer labels [B], loss = "
            "mean(-log_softmax(z)[label]), dlogits = (softmax(z)-onehot)/B. "
            "mse: prediction/target [B,K], loss = mean over all B*K elements "
            "of (p-t)^2, dprediction = 2*(p-t)/(B*K)."),
        "bce_with_logits": bce,
        "softmax_cross_entropy": ce,
        "mse": mse,
    })


# ----------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------

def conv_nd_jax(x, w, b, stride, pads):
    nd = x.ndim - 2
    dn = ("NCHW", "OIHW", "NCHW") if nd == 2 else ("NCH", "OIH", "NCH")

    def f(x_, w_, b_):
        y = jax.lax.conv_general_dilated(
            x_, w_, window_strides=tuple(stride), padding=list(pads),
            dimension_numbers=dn, precision=HI)
        if b_ is not None:
            y = y + b_.reshape((1, -1) + (1,) * nd)
        return y

    if b is None:
        y, vjp = jax.vjp(lambda x_, w_: f(x_, w_, None),
                         jnp.asarray(x), jnp.asarray(w))
        return np.asarray(y), vjp
    y, vjp = jax.vjp(f, jnp.asarray(x), jnp.asarray(w), jnp.asarray(b))
    return np.asarray(y), vjp


def conv2d_numpy(x, w, b, stride, pad, g):
    """Naive NumPy reference: forward, and dx/dw/db of sum(y*g)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    sh, sw = stride
    pt, pb, pl, pr = pad
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    oh = out_size(h, pt, pb, kh, sh)
    ow = out_size(wd, pl, pr, kw, sw)
    y = np.zeros((n, o, oh, ow))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", win, w)
            gij = g[:, :, i, j]
            dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += \
                np.einsum("no,ockl->nckl", gij, w)
            dw += np.einsum("no,nckl->ockl", gij, win)
    if b is not None:
        y += b[None, :, None, None]
    dx = dxp[:, :, pt:pt + h, pl:pl + wd]
    db = g.sum((0, 2, 3))
    return y, dx, dw, db


def make_conv():
    conv2d = []

    def add2d(name, cin, cout, hw, kernel, stride, pad, bias=True):
        n = 2
        x = randn((n, cin) + tuple(hw))
        w = randn((cout, cin) + tuple(kernel),
                  1.0 / math.sqrt(cin * kernel[0] * kernel[1]))
        b = randn((cout,), 0.5) if bias else None
        pads = [(pad[0], pad[1]), (pad[2], pad[3])]
        y, vjp = conv_nd_jax(x, w, b, stride, pads)
        exp_shape = (n, cout, out_size(hw[0], pad[0], pad[1], kernel[0], stride[0]),
                     out_size(hw[1], pad[2], pad[3], kernel[1], stride[1]))
        check(y.shape == exp_shape, f"{name}: shape {y.shape} != {exp_shape}")
        g = randn(y.shape)
        assert_is_f32(x, w, g)
        grads = [np.asarray(t) for t in vjp(jnp.asarray(g))]
        dx, dw = grads[0], grads[1]
        db = grads[2] if bias else None
        ry, rdx, rdw, rdb = conv2d_numpy(x, w, b, stride, pad, g)
        check(close(y, ry), f"{name}: fwd != numpy")
        check(close(dx, rdx), f"{name}: dx != numpy")
        check(close(dw, rdw), f"{name}: dw != numpy")
        if bias:
            check(close(db, rdb), f"{name}: db != numpy")
        conv2d.append({
            "name": name,
            "config": {"in_channels": cin, "out_channels": cout,
                       "kernel": list(kernel), "stride": list(stride),
                       "padding": list(pad), "bias": bias},
            "x": tensor(x), "w": tensor(w),
            "b": tensor(b) if bias else None,
            "y": tensor(y), "g": tensor(g), "dx": tensor(dx),
            "dw": tensor(dw), "db": tensor(db) if bias else None,
        })

    add2d("valid_s1", 2, 3, (7, 7), (3, 3), (1, 1), (0, 0, 0, 0))
    add2d("pad1_s1", 2, 3, (6, 6), (3, 3), (1, 1), (1, 1, 1, 1))
    add2d("pad1_s2", 2, 3, (7, 7), (3, 3), (2, 2), (1, 1, 1, 1))
    add2d("same_s1_k3", 2, 3, (5, 6), (3, 3), (1, 1), (1, 1, 1, 1))
    th = tf_same_pad(8, 3, 2)
    tw = tf_same_pad(8, 3, 2)
    check(th == (0, 1) and tw == (0, 1), "tf same pad")
    add2d("tf_same_s2_even", 2, 3, (8, 8), (3, 3), (2, 2),
          (th[0], th[1], tw[0], tw[1]))
    add2d("asym_pad_0_1_2_0", 2, 3, (5, 5), (3, 3), (1, 1), (0, 1, 2, 0))
    add2d("rect_kernel_2x3_s1x2", 2, 3, (6, 7), (2, 3), (1, 2), (0, 0, 0, 0))
    add2d("full_pad_k3", 2, 3, (4, 4), (3, 3), (1, 1), (2, 2, 2, 2))
    add2d("cin3_cout4", 3, 4, (6, 6), (3, 3), (1, 1), (1, 1, 1, 1))
    add2d("no_bias", 2, 3, (6, 6), (3, 3), (1, 1), (1, 1, 1, 1), bias=False)
    add2d("digits_first_layer", 1, 8, (8, 8), (3, 3), (1, 1), (1, 1, 1, 1))

    conv1d = []

    def add1d(name, cin, cout, length, k, s, pad, bias=True):
        n = 2
        x = randn((n, cin, length))
        w = randn((cout, cin, k), 1.0 / math.sqrt(cin * k))
        b = randn((cout,), 0.5) if bias else None
        y, vjp = conv_nd_jax(x, w, b, (s,), [(pad[0], pad[1])])
        check(y.shape == (n, cout, out_size(length, pad[0], pad[1], k, s)),
              f"{name}: shape")
        g = randn(y.shape)
        assert_is_f32(x, w, g)
        grads = [np.asarray(t) for t in vjp(jnp.asarray(g))]
        dx, dw = grads[0], grads[1]
        db = grads[2] if bias else None
        # numpy reference via the 2-D routine with a height-1 image
        ry, rdx, rdw, rdb = conv2d_numpy(x[:, :, None, :], w[:, :, None, :], b,
                                         (1, s), (0, 0, pad[0], pad[1]),
                                         g[:, :, None, :])
        check(close(y, ry[:, :, 0, :]), f"{name}: fwd != numpy")
        check(close(dx, rdx[:, :, 0, :]), f"{name}: dx != numpy")
        check(close(dw, rdw[:, :, 0, :]), f"{name}: dw != numpy")
        if bias:
            check(close(db, rdb), f"{name}: db != numpy")
        conv1d.append({
            "name": name,
            "config": {"in_channels": cin, "out_channels": cout,
                       "kernel": [k], "stride": [s], "padding": list(pad),
                       "bias": bias},
            "x": tensor(x), "w": tensor(w),
            "b": tensor(b) if bias else None,
            "y": tensor(y), "g": tensor(g), "dx": tensor(dx),
            "dw": tensor(dw), "db": tensor(db) if bias else None,
        })

    add1d("k5_pad2_s1", 1, 4, 12, 5, 1, (2, 2))
    add1d("k3_pad1_s2", 3, 5, 11, 3, 2, (1, 1))
    add1d("no_bias", 2, 3, 10, 3, 1, (1, 1), bias=False)

    write("conv.json", {
        "generator": GENERATOR,
        "conventions": (
            "Cross-correlation (no kernel flip), PyTorch layouts. conv2d: x "
            "[N,C_in,H,W], w [C_out,C_in,kh,kw], b [C_out], y [N,C_out,OH,OW]; "
            "padding = [top,bottom,left,right] (zeros); kernel=[kh,kw], "
            "stride=[sh,sw]. conv1d: x [N,C_in,L], w [C_out,C_in,k], padding "
            "= [left,right], kernel=[k], stride=[s]. OH = floor((H+top+bottom"
            "-kh)/sh)+1. g is a random upstream gradient shaped like y; dx, "
            "dw, db are gradients of sum(y*g). b and db are null when "
            "bias=false."),
        "conv2d": conv2d,
        "conv1d": conv1d,
    })


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------

def maxpool_ref(x, kernel, stride, pad, g):
    """NumPy max pool (2-D, NCHW) with -inf padding.

    Gradient goes to the FIRST maximum of each window in row-major order
    (PyTorch semantics); overlapping windows accumulate.
    """
    n, c, h, wd = x.shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    xp = np.full((n, c, h + pt + pb, wd + pl + pr), -np.inf)
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    oh = out_size(h, pt, pb, kh, sh)
    ow = out_size(wd, pl, pr, kw, sw)
    y = np.zeros((n, c, oh, ow))
    dxp = np.zeros_like(xp)
    ties = 0
    for a in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    win = xp[a, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    flat = win.reshape(-1)
                    k = int(np.argmax(flat))  # numpy: first occurrence
                    m = flat[k]
                    assert np.isfinite(m), "window entirely in padding"
                    ties += int(np.sum(flat == m) > 1)
                    y[a, ch, i, j] = m
                    r, q = divmod(k, kw)
                    dxp[a, ch, i * sh + r, j * sw + q] += g[a, ch, i, j]
    return y, dxp[:, :, pt:pt + h, pl:pl + wd], ties


def avgpool_ref(x, kernel, stride, pad, include_pad, g):
    n, c, h, wd = x.shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    mask = np.zeros((h + pt + pb, wd + pl + pr))
    mask[pt:pt + h, pl:pl + wd] = 1
    oh = out_size(h, pt, pb, kh, sh)
    ow = out_size(wd, pl, pr, kw, sw)
    y = np.zeros((n, c, oh, ow))
    dxp = np.zeros_like(xp)
    for i in range(oh):
        for j in range(ow):
            sl = (slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            div = kh * kw if include_pad else mask[sl].sum()
            y[:, :, i, j] = xp[:, :, sl[0], sl[1]].sum((2, 3)) / div
            dxp[:, :, sl[0], sl[1]] += g[:, :, i, j][:, :, None, None] / div
    return y, dxp[:, :, pt:pt + h, pl:pl + wd]


def maxpool_jax(x, kernel, stride, pad):
    nd = x.ndim - 2
    pads = [(0, 0), (0, 0)] + [(pad[2 * i], pad[2 * i + 1]) for i in range(nd)]

    def f(x_):
        return jax.lax.reduce_window(x_, -jnp.inf, jax.lax.max,
                                     (1, 1) + tuple(kernel),
                                     (1, 1) + tuple(stride), pads)

    y, vjp = jax.vjp(f, jnp.asarray(x))
    return np.asarray(y), vjp


def avgpool_jax(x, kernel, stride, pad, include_pad):
    nd = x.ndim - 2
    pads = [(0, 0), (0, 0)] + [(pad[2 * i], pad[2 * i + 1]) for i in range(nd)]
    dims = (1, 1) + tuple(kernel)
    strides = (1, 1) + tuple(stride)

    def f(x_):
        s = jax.lax.reduce_window(x_, 0.0, jax.lax.add, dims, strides, pads)
        if include_pad:
            return s / float(np.prod(kernel))
        cnt = jax.lax.reduce_window(jnp.ones_like(x_), 0.0, jax.lax.add,
                                    dims, strides, pads)
        return s / cnt

    y, vjp = jax.vjp(f, jnp.asarray(x))
    return np.asarray(y), vjp


def make_pool():
    max2d, avg2d, max1d, avg1d = [], [], [], []
    jax_tie_agreement = []

    def pool_case(kind, name, x, kernel, stride, pad, include_pad=None,
                  expect_ties=None):
        nd = x.ndim - 2
        # 1-D cases reuse the 2-D numpy references on a height-1 image
        x4 = x if nd == 2 else x[:, :, None, :]
        k4 = tuple(kernel) if nd == 2 else (1, kernel[0])
        s4 = tuple(stride) if nd == 2 else (1, stride[0])
        p4 = tuple(pad) if nd == 2 else (0, 0, pad[0], pad[1])
        if kind == "max":
            y, vjp = maxpool_jax(x, kernel, stride, pad)
        else:
            y, vjp = avgpool_jax(x, kernel, stride, pad, include_pad)
        spatial = x.shape[2:]
        exp = tuple(out_size(spatial[i], pad[2 * i], pad[2 * i + 1], kernel[i],
                             stride[i]) for i in range(nd))
        check(y.shape == x.shape[:2] + exp, f"{name}: output shape")
        g = randn(y.shape)
        assert_is_f32(x, g)
        (dx_jax,) = vjp(jnp.asarray(g))
        dx_jax = np.asarray(dx_jax)
        g4 = g if nd == 2 else g[:, :, None, :]
        if kind == "max":
            ry, rdx, ties = maxpool_ref(x4, k4, s4, p4, g4)
            if nd == 1:
                ry, rdx = ry[:, :, 0, :], rdx[:, :, 0, :]
            check(np.array_equal(y, ry), f"{name}: max fwd != numpy")
            if expect_ties:
                check(ties > 0, f"{name}: expected tie windows")
                jax_tie_agreement.append((name, bool(close(dx_jax, rdx))))
            else:
                check(ties == 0, f"{name}: unexpected ties ({ties})")
                check(close(dx_jax, rdx),
                      f"{name}: jax max-pool grad != first-argmax reference")
            dx = rdx  # stored reference is the explicit first-argmax routing
        else:
            ry, rdx = avgpool_ref(x4, k4, s4, p4, include_pad, g4)
            if nd == 1:
                ry, rdx = ry[:, :, 0, :], rdx[:, :, 0, :]
            check(close(y, ry), f"{name}: avg fwd != numpy")
            check(close(dx_jax, rdx), f"{name}: avg dx != numpy")
            dx = dx_jax
        cfg = {"kernel": list(kernel), "stride": list(stride),
               "padding": list(pad)}
        if kind == "avg":
            cfg["count_include_pad"] = bool(include_pad)
        return {"name": name, "config": cfg, "x": tensor(x), "y": tensor(y),
                "g": tensor(g), "dx": tensor(dx)}

    # ---- maxpool2d
    x = randn((2, 3, 6, 6))
    max2d.append(pool_case("max", "w2_s2", x, (2, 2), (2, 2), (0, 0, 0, 0)))
    # shifted negative so several border windows are all-negative: a zero
    # padding (instead of -inf) would give different outputs there.
    x = f32(randn((2, 2, 7, 7)) - 1.5)
    c = pool_case("max", "w3_s2_p1", x, (3, 3), (2, 2), (1, 1, 1, 1))
    ymax = np.array(c["y"]["data"]).reshape(c["y"]["shape"])
    border = np.concatenate([ymax[:, :, 0, :].ravel(), ymax[:, :, -1, :].ravel(),
                             ymax[:, :, :, 0].ravel(), ymax[:, :, :, -1].ravel()])
    check(np.any(border < 0), "need an all-negative padded border window")
    max2d.append(c)
    x = randn((2, 2, 5, 5))
    max2d.append(pool_case("max", "w2_s1", x, (2, 2), (1, 1), (0, 0, 0, 0)))
    # ties: small integer values -> many equal maxima per window
    x = f32(rng.integers(0, 3, size=(2, 2, 6, 6)))
    max2d.append(pool_case("max", "ties_w2_s2", x, (2, 2), (2, 2),
                           (0, 0, 0, 0), expect_ties=True))
    x = f32(rng.integers(-1, 2, size=(2, 2, 5, 5)))
    max2d.append(pool_case("max", "ties_w3_s2_p1", x, (3, 3), (2, 2),
                           (1, 1, 1, 1), expect_ties=True))
    x = f32(rng.integers(0, 2, size=(1, 2, 5, 5)))
    max2d.append(pool_case("max", "ties_w2_s1", x, (2, 2), (1, 1),
                           (0, 0, 0, 0), expect_ties=True))
    x = f32(np.full((2, 1, 4, 4), 0.75))
    max2d.append(pool_case("max", "ties_constant_w2_s2", x, (2, 2), (2, 2),
                           (0, 0, 0, 0), expect_ties=True))

    # ---- avgpool2d
    x = randn((2, 3, 6, 6))
    avg2d.append(pool_case("avg", "w2_s2", x, (2, 2), (2, 2), (0, 0, 0, 0),
                           include_pad=True))
    x = randn((2, 2, 7, 7))
    avg2d.append(pool_case("avg", "w3_s2_p1_include_pad", x, (3, 3), (2, 2),
                           (1, 1, 1, 1), include_pad=True))
    avg2d.append(pool_case("avg", "w3_s2_p1_exclude_pad", x, (3, 3), (2, 2),
                           (1, 1, 1, 1), include_pad=False))
    x = randn((2, 2, 6, 6))
    avg2d.append(pool_case("avg", "w3_s2_p1_even_include_pad", x, (3, 3),
                           (2, 2), (1, 1, 1, 1), include_pad=True))
    avg2d.append(pool_case("avg", "w3_s2_p1_even_exclude_pad", x, (3, 3),
                           (2, 2), (1, 1, 1, 1), include_pad=False))

    # ---- 1-D
    x = randn((2, 3, 10))
    max1d.append(pool_case("max", "w2_s2", x, (2,), (2,), (0, 0)))
    avg1d.append(pool_case("avg", "w2_s2", x, (2,), (2,), (0, 0),
                           include_pad=True))
    x = f32(randn((2, 2, 9)) - 1.0)
    max1d.append(pool_case("max", "w3_s2_p1", x, (3,), (2,), (1, 1)))
    avg1d.append(pool_case("avg", "w3_s2_p1_include_pad", x, (3,), (2,),
                           (1, 1), include_pad=True))
    avg1d.append(pool_case("avg", "w3_s2_p1_exclude_pad", x, (3,), (2,),
                           (1, 1), include_pad=False))
    x = f32(rng.integers(0, 2, size=(2, 2, 9)))
    max1d.append(pool_case("max", "ties_w3_s2_p1", x, (3,), (2,), (1, 1),
                           expect_ties=True))

    # hand-checked tie routing: window [[1,1],[1,1]] -> all grad to (0,0)
    y, dx, _ = maxpool_ref(np.ones((1, 1, 2, 2)), (2, 2), (2, 2), (0, 0, 0, 0),
                           np.full((1, 1, 1, 1), 3.0))
    check(np.array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]]), "tie hand check")
    y, dx, _ = maxpool_ref(np.array([[[[0.0, 2.0], [2.0, 2.0]]]]), (2, 2),
                           (2, 2), (0, 0, 0, 0), np.full((1, 1, 1, 1), 1.0))
    check(np.array_equal(dx, [[[[0.0, 1.0], [0.0, 0.0]]]]), "tie hand check 2")

    for name, ok in jax_tie_agreement:
        print(f"  info: jax reduce_window grad on tie case {name}: "
              f"{'agrees' if ok else 'DIFFERS'} with first-argmax reference")

    write("pool.json", {
        "generator": GENERATOR,
        "conventions": (
            "NCHW / NCL. config.kernel=[kh,kw] or [k], stride likewise, "
            "padding=[top,bottom,left,right] (2-D) or [left,right] (1-D). "
            "Output size floor((H+pb+pa-K)/S)+1 (ceil_mode=false). Max pool "
            "pads with -inf; its dx routes each window's upstream g to the "
            "FIRST maximum in row-major order within the window (PyTorch), "
            "accumulating over overlapping windows; computed by an explicit "
            "NumPy reference. Avg pool pads with zeros; count_include_pad="
            "true divides by kh*kw always, false divides by the number of "
            "non-padding cells in the window. dx is the gradient of "
            "sum(y*g)."),
        "maxpool2d": max2d,
        "avgpool2d": avg2d,
        "maxpool1d": max1d,
        "avgpool1d": avg1d,
    })


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
          f"numpy {np.__version__}, x64={jax.config.jax_enable_x64}")
    check(jnp.zeros(1).dtype == jnp.float64, "x64 not enabled")
    # fixed generation order: the RNG stream depends on it
    make_activations()
    make_dense()
    make_softmax()
    make_losses()
    make_conv()
    make_pool()
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
