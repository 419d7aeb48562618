#!/usr/bin/env python3
"""Generate parity fixtures for batch normalisation and residual blocks.

Writes tests/fixtures/batchnorm.json and tests/fixtures/residual.json.  This
script is separate from scripts/make_fixtures.py, which it neither imports
nor changes.  That keeps the six older fixture files byte-identical, and
their RNG stream is not touched.  Every reference value is computed with JAX
(float64, `jax_enable_x64`) and cross-checked with plain NumPy assertions and
central finite differences.  Nothing comes from the Rust code.  The schema is
in scripts/README.md (section "Deep fixtures").

Conventions (PyTorch):
  * BatchNorm1d / BatchNorm2d.  x is [B, C], [B, C, L] or [B, C, H, W].
    Statistics are per channel C, over every other axis (n = B * spatial).
    Training mode:  y = gamma * (x - mean) / sqrt(var + eps) + beta, where var
    is the BIASED batch variance and eps = 1e-5.  Gradients go THROUGH the
    batch statistics.  After every training forward:
        running_mean = 0.9 * running_mean + 0.1 * mean
        running_var  = 0.9 * running_var  + 0.1 * var * n / (n - 1)
    (momentum 0.1, unbiased variance in the running estimate).  Initial
    running_mean 0 and running_var 1.  Inference mode:
        y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.
  * Residual blocks, NCHW, conv weights [out, in, kh, kw] (cross-correlation,
    no kernel flip), Dense y = x @ W.T + b with W [out, in].
  * Layer gradients are of the scalar sum(y * g) for a stored random upstream
    g shaped like y.

All INPUTS (x, gamma, beta, weights, biases, upstream gradients) are float32
values (NumPy seeded RNG -> float32 -> float64).  Outputs are float64 and
written with full precision.
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

SEED = 20241128
SCRIPT = "scripts/make_fixtures_deep.py"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures"))
MAX_BYTES = 300 * 1024

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
# A ReLU pre-activation this close to 0 could change sign under f32 rounding
# in the Rust code, which would flip the mask and the gradient.  The residual
# cases assert that every pre-activation is farther from 0 than this.
RELU_MARGIN = 1e-4

rng = np.random.default_rng(SEED)
# The self-checks (finite-difference directions) use their own stream, so
# adding or removing a check never changes the stored inputs.
chk_rng = np.random.default_rng(SEED + 1)

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
# helpers (copied from make_fixtures.py so the two scripts stay independent)
# ----------------------------------------------------------------------------

def f32(a):
    """Round to float32, return as float64 numpy array."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def randn(shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


def uniform(shape, lo, hi):
    return f32(rng.uniform(lo, hi, size=shape))


def tensor(a):
    a = np.asarray(a, dtype=np.float64)
    assert np.all(np.isfinite(a)), "non-finite value in fixture"
    return {"shape": [int(s) for s in a.shape],
            "data": [float(v) for v in a.reshape(-1)]}


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


def fd_check(loss, args, grads, name, eps=1e-6, rtol=1e-6, ndir=3):
    """Central finite differences of a scalar loss along random directions.

    loss(*args) -> scalar.  grads: the claimed gradients, one per arg.
    Checks d/dt loss(args + t*v) at t=0 against sum_i <grads_i, v_i>.
    """
    for _ in range(ndir):
        vs = [chk_rng.standard_normal(np.shape(a)) for a in args]
        plus = [np.asarray(a) + eps * v for a, v in zip(args, vs)]
        minus = [np.asarray(a) - eps * v for a, v in zip(args, vs)]
        fd = (float(loss(*plus)) - float(loss(*minus))) / (2 * eps)
        an = sum(float(np.sum(np.asarray(gr) * v)) for gr, v in zip(grads, vs))
        check(abs(fd - an) <= rtol * max(1.0, abs(an)),
              f"{name}: finite difference {fd!r} != analytic {an!r}")


# ----------------------------------------------------------------------------
# batch normalisation
# ----------------------------------------------------------------------------

def bn_axes(ndim):
    """Reduction axes: everything except the channel axis 1."""
    return (0,) + tuple(range(2, ndim))


def bn_bshape(c, ndim):
    return (1, c) + (1,) * (ndim - 2)


def bn_train_jax(x, gamma, beta):
    axes = bn_axes(x.ndim)
    bs = bn_bshape(x.shape[1], x.ndim)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axes, keepdims=True)  # biased
    xhat = (x - mean) / jnp.sqrt(var + BN_EPS)
    return gamma.reshape(bs) * xhat + beta.reshape(bs)


def bn_stats_jax(x):
    axes = bn_axes(x.ndim)
    mean = jnp.mean(x, axis=axes)
    var = jnp.mean((x - jnp.expand_dims(mean, axes)) ** 2, axis=axes)
    return mean, var


def bn_eval_jax(x, gamma, beta, rmean, rvar):
    bs = bn_bshape(x.shape[1], x.ndim)
    return (gamma.reshape(bs) * (x - rmean.reshape(bs))
            / jnp.sqrt(rvar.reshape(bs) + BN_EPS) + beta.reshape(bs))


def to_cn(a):
    """[B, C, ...] -> [C, n] (channel rows)."""
    a = np.moveaxis(np.asarray(a), 1, 0)
    return a.reshape(a.shape[0], -1)


def from_cn(a, shape):
    moved = (shape[1], shape[0]) + tuple(shape[2:])
    return np.moveaxis(a.reshape(moved), 0, 1)


def bn_train_numpy(x, gamma, beta, g):
    """NumPy BN training forward + backward of sum(y*g)."""
    xc, gc = to_cn(x), to_cn(g)
    n = xc.shape[1]
    mean = xc.sum(1) / n
    var = ((xc - mean[:, None]) ** 2).sum(1) / n
    inv = 1.0 / np.sqrt(var + BN_EPS)
    xhat = (xc - mean[:, None]) * inv[:, None]
    y = gamma[:, None] * xhat + beta[:, None]
    dbeta = gc.sum(1)
    dgamma = (gc * xhat).sum(1)
    dxhat = gc * gamma[:, None]
    dx = inv[:, None] * (dxhat - dxhat.mean(1, keepdims=True)
                         - xhat * (dxhat * xhat).mean(1, keepdims=True))
    return (from_cn(y, x.shape), from_cn(dx, x.shape), dgamma, dbeta,
            mean, var)


def make_batchnorm():
    cases = []

    def add(name, shape):
        c = shape[1]
        nd = len(shape)
        n = int(np.prod(shape)) // c
        gamma = uniform((c,), 0.5, 1.5)
        beta = uniform((c,), -0.5, 0.5)
        # per-channel data distribution (not stored): non-zero means and
        # different spreads, so the running statistics move visibly.
        mu = rng.uniform(-2.0, 2.0, size=c)
        sd = rng.uniform(0.5, 2.0, size=c)
        bs = bn_bshape(c, nd)

        def draw():
            return f32(mu.reshape(bs) + sd.reshape(bs)
                       * rng.standard_normal(shape))

        x = draw()
        g = randn(shape)
        steps_x = [draw() for _ in range(3)]
        x_eval = draw()
        g_eval = randn(shape)
        assert_is_f32(gamma, beta, x, g, x_eval, g_eval, *steps_x)

        # ---- training forward / backward through the batch statistics
        y, vjp = jax.vjp(bn_train_jax, jnp.asarray(x), jnp.asarray(gamma),
                         jnp.asarray(beta))
        dx, dgamma, dbeta = (np.asarray(t) for t in vjp(jnp.asarray(g)))
        y = np.asarray(y)
        bmean, bvar = (np.asarray(t) for t in bn_stats_jax(jnp.asarray(x)))
        ry, rdx, rdg, rdb, rmean, rvar = bn_train_numpy(x, gamma, beta, g)
        check(close(y, ry), f"{name}: bn fwd != numpy")
        check(close(dx, rdx, 1e-10, 1e-12), f"{name}: bn dx != numpy")
        check(close(dgamma, rdg), f"{name}: bn dgamma != numpy")
        check(close(dbeta, rdb), f"{name}: bn dbeta != numpy")
        check(close(bmean, rmean) and close(bvar, rvar),
              f"{name}: batch stats != numpy")
        check(close(bvar, to_cn(x).var(1, ddof=0)), f"{name}: np.var")
        # batch-statistic properties of the normalised output
        yc = to_cn(y)
        check(close(yc.mean(1), beta, 1e-10, 1e-12), f"{name}: mean(y)!=beta")
        check(close(np.sqrt(yc.var(1) * (bvar + BN_EPS) / bvar), gamma,
                    1e-10, 1e-12), f"{name}: std(y) != gamma")
        check(close(to_cn(dx).sum(1), np.zeros(c), 0, 1e-10),
              f"{name}: sum dx != 0")
        # one entry by hand: y[0, 0, 0...] with a pure-Python mean/var
        vals = [float(v) for v in to_cn(x)[0]]
        m0 = sum(vals) / n
        v0 = sum((v - m0) ** 2 for v in vals) / n
        idx = (0,) * nd
        check(abs(y[idx] - (gamma[0] * (x[idx] - m0) / math.sqrt(v0 + BN_EPS)
                            + beta[0])) < 1e-12, f"{name}: y[0] by hand")
        fd_check(lambda a, b_, c_: jnp.sum(bn_train_jax(a, b_, c_) * g),
                 [x, gamma, beta], [dx, dgamma, dbeta], f"{name}: bn train")

        # ---- three training steps from a fresh layer (0, 1)
        run_m = np.zeros(c)
        run_v = np.ones(c)
        np_m = np.zeros(c)
        np_v = np.ones(c)
        steps = []
        for k, xs in enumerate(steps_x):
            ys = np.asarray(bn_train_jax(jnp.asarray(xs), jnp.asarray(gamma),
                                         jnp.asarray(beta)))
            sm, sv = (np.asarray(t) for t in bn_stats_jax(jnp.asarray(xs)))
            run_m = (1 - BN_MOMENTUM) * run_m + BN_MOMENTUM * sm
            run_v = (1 - BN_MOMENTUM) * run_v + BN_MOMENTUM * sv * n / (n - 1)
            # numpy: np.mean / np.var(ddof=1) straight from the definition
            xc = to_cn(xs)
            np_m = 0.9 * np_m + 0.1 * xc.mean(1)
            np_v = 0.9 * np_v + 0.1 * xc.var(1, ddof=1)
            check(close(run_m, np_m) and close(run_v, np_v),
                  f"{name}: running stats step {k} != numpy")
            rys = bn_train_numpy(xs, gamma, beta, np.zeros(shape))[0]
            check(close(ys, rys), f"{name}: step {k} y != numpy")
            steps.append({"x": tensor(xs), "y": tensor(ys),
                          "batch_mean": tensor(sm), "batch_var": tensor(sv),
                          "running_mean": tensor(run_m),
                          "running_var": tensor(run_v)})
        # hand check of the first update: mean_1 * 0.1, 0.9 + 0.1 * s^2
        check(close(steps[0]["running_mean"]["data"],
                    0.1 * to_cn(steps_x[0]).mean(1)), f"{name}: step0 mean")

        # ---- inference mode with the final running statistics
        def f_eval(x_, g_, b_):
            return bn_eval_jax(x_, g_, b_, jnp.asarray(run_m),
                               jnp.asarray(run_v))

        y_eval, vjp_e = jax.vjp(f_eval, jnp.asarray(x_eval),
                                jnp.asarray(gamma), jnp.asarray(beta))
        dx_eval, dgamma_eval, dbeta_eval = (np.asarray(t) for t in
                                            vjp_e(jnp.asarray(g_eval)))
        y_eval = np.asarray(y_eval)
        scale = gamma / np.sqrt(run_v + BN_EPS)
        xhat_e = (to_cn(x_eval) - run_m[:, None]) / np.sqrt(run_v + BN_EPS)[:, None]
        check(close(y_eval, from_cn(gamma[:, None] * xhat_e + beta[:, None],
                                    shape)), f"{name}: eval y != numpy")
        check(close(dx_eval, from_cn(scale[:, None] * to_cn(g_eval), shape)),
              f"{name}: eval dx != gamma/sqrt(rv+eps)*g")
        check(close(dgamma_eval, (to_cn(g_eval) * xhat_e).sum(1)),
              f"{name}: eval dgamma != numpy")
        check(close(dbeta_eval, to_cn(g_eval).sum(1)),
              f"{name}: eval dbeta != numpy")
        fd_check(lambda a, b_, c_: jnp.sum(f_eval(a, b_, c_) * g_eval),
                 [x_eval, gamma, beta], [dx_eval, dgamma_eval, dbeta_eval],
                 f"{name}: bn eval")

        cases.append({
            "name": name,
            "config": {"num_features": c, "input_shape": list(shape),
                       "reduce_axes": list(bn_axes(nd)), "n": n,
                       "eps": BN_EPS, "momentum": BN_MOMENTUM,
                       "running_mean_init": 0.0, "running_var_init": 1.0},
            "gamma": tensor(gamma), "beta": tensor(beta),
            "x": tensor(x), "g": tensor(g),
            "batch_mean": tensor(bmean), "batch_var": tensor(bvar),
            "y": tensor(y), "dx": tensor(dx), "dgamma": tensor(dgamma),
            "dbeta": tensor(dbeta),
            "steps": steps,
            "x_eval": tensor(x_eval), "g_eval": tensor(g_eval),
            "y_eval": tensor(y_eval), "dx_eval": tensor(dx_eval),
            "dgamma_eval": tensor(dgamma_eval),
            "dbeta_eval": tensor(dbeta_eval),
        })

    add("bn1d_features_8x5", (8, 5))
    add("bn1d_channels_4x3x7", (4, 3, 7))
    add("bn2d_4x3x5x5", (4, 3, 5, 5))
    add("bn2d_small_batch_2x4x3x3", (2, 4, 3, 3))

    write("batchnorm.json", {
        "generator": GENERATOR,
        "conventions": (
            "PyTorch BatchNorm1d/BatchNorm2d. x is [B,C], [B,C,L] or "
            "[B,C,H,W]; statistics per channel over all other axes "
            "(reduce_axes), n = B*spatial. Training: y = gamma*(x-mean)/"
            "sqrt(var+eps)+beta, var BIASED (divide by n), eps=1e-5; dx, "
            "dgamma, dbeta are gradients of sum(y*g) THROUGH the batch "
            "statistics. batch_mean/batch_var: the batch statistics (biased "
            "var). steps: three training batches fed in order to a FRESH "
            "layer (running_mean 0, running_var 1; the case's x is not part "
            "of the sequence); after each: running_mean = 0.9*running_mean + "
            "0.1*batch_mean, running_var = 0.9*running_var + "
            "0.1*batch_var*n/(n-1) (momentum 0.1, unbiased); each step's y "
            "is its training-mode output. Inference: y_eval = gamma*(x_eval-"
            "running_mean)/sqrt(running_var+eps)+beta with the running stats "
            "after the third step; dx_eval = gamma/sqrt(running_var+eps)*"
            "g_eval, dgamma_eval, dbeta_eval: gradients of sum(y_eval*g_eval) "
            "with the running stats held constant."),
        "cases": cases,
    })


# ----------------------------------------------------------------------------
# residual blocks
# ----------------------------------------------------------------------------

def conv_jax(x, w, stride, pad):
    """pad = (top, bottom, left, right); explicit padding pairs."""
    return jax.lax.conv_general_dilated(
        x, w, window_strides=tuple(stride),
        padding=[(pad[0], pad[1]), (pad[2], pad[3])],
        dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=HI)


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
    if g is None:
        g = np.zeros_like(y)
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


def make_residual():
    conv_blocks = []

    def conv_block(name, n, cin, cout, hw, s1, proj):
        """branch = conv(3x3, stride s1, pad 1, bias) -> relu ->
        conv(3x3, stride 1, pad 1, bias); skip = x or conv1x1(stride s1, no
        bias); y = relu(branch + skip)."""
        p1 = (1, 1, 1, 1)
        p2 = (1, 1, 1, 1)
        pp = (0, 0, 0, 0)
        x = randn((n, cin) + hw)
        w1 = randn((cout, cin, 3, 3), 1.0 / math.sqrt(cin * 9))
        b1 = randn((cout,), 0.5)
        w2 = randn((cout, cout, 3, 3), 1.0 / math.sqrt(cout * 9))
        b2 = randn((cout,), 0.5)
        wp = randn((cout, cin, 1, 1), 1.0 / math.sqrt(cin)) if proj else None
        check(proj or (cin == cout and s1 == 1), "identity skip needs shapes")

        def parts(x_, w1_, b1_, w2_, b2_, wp_):
            a = conv_jax(x_, w1_, (s1, s1), p1) + b1_[None, :, None, None]
            h = jax.nn.relu(a)
            br = conv_jax(h, w2_, (1, 1), p2) + b2_[None, :, None, None]
            skip = conv_jax(x_, wp_, (s1, s1), pp) if proj else x_
            s = br + skip
            return a, s

        if proj:
            def f(x_, w1_, b1_, w2_, b2_, wp_):
                return jax.nn.relu(parts(x_, w1_, b1_, w2_, b2_, wp_)[1])
            args = [x, w1, b1, w2, b2, wp]
        else:
            def f(x_, w1_, b1_, w2_, b2_):
                return jax.nn.relu(parts(x_, w1_, b1_, w2_, b2_, None)[1])
            args = [x, w1, b1, w2, b2]

        y, vjp = jax.vjp(f, *(jnp.asarray(a) for a in args))
        y = np.asarray(y)
        oh = out_size(hw[0], 1, 1, 3, s1)
        ow = out_size(hw[1], 1, 1, 3, s1)
        check(y.shape == (n, cout, oh, ow), f"{name}: output shape {y.shape}")
        g = randn(y.shape)
        assert_is_f32(*args, g)
        grads = [np.asarray(t) for t in vjp(jnp.asarray(g))]
        a_j, s_j = (np.asarray(t) for t in
                    parts(*(jnp.asarray(a) for a in [x, w1, b1, w2, b2]),
                          jnp.asarray(wp) if proj else None))
        margin = float(min(np.abs(a_j).min(), np.abs(s_j).min()))
        check(margin > RELU_MARGIN,
              f"{name}: ReLU pre-activation too close to 0 ({margin})")

        # ---- NumPy: compose naive convs forward, chain rule backward
        ra, _, _, _ = conv2d_numpy(x, w1, b1, (s1, s1), p1, None)
        rh = np.maximum(ra, 0.0)
        rbr, _, _, _ = conv2d_numpy(rh, w2, b2, (1, 1), p2, None)
        if proj:
            rskip, _, _, _ = conv2d_numpy(x, wp, None, (s1, s1), pp, None)
        else:
            rskip = x
        rs = rbr + rskip
        ry = np.maximum(rs, 0.0)
        check(close(y, ry), f"{name}: fwd != composed numpy convs")
        check(close(a_j, ra) and close(s_j, rs), f"{name}: pre-acts != numpy")
        gs = g * (rs > 0)
        _, dh, rdw2, rdb2 = conv2d_numpy(rh, w2, b2, (1, 1), p2, gs)
        ga = dh * (ra > 0)
        _, rdx, rdw1, rdb1 = conv2d_numpy(x, w1, b1, (s1, s1), p1, ga)
        if proj:
            _, dxs, rdwp, _ = conv2d_numpy(x, wp, None, (s1, s1), pp, gs)
            rdx = rdx + dxs
        else:
            rdx = rdx + gs
        refs = [rdx, rdw1, rdb1, rdw2, rdb2] + ([rdwp] if proj else [])
        for nm, got, want in zip(["dx", "dw1", "db1", "dw2", "db2", "dwp"],
                                 grads, refs):
            check(close(got, want), f"{name}: {nm} != numpy chain rule")
        fd_check(lambda *a: jnp.sum(f(*a) * g), args, grads, name)

        dx, dw1, db1, dw2, db2 = grads[:5]
        dwp = grads[5] if proj else None
        conv_blocks.append({
            "name": name,
            "config": {
                "in_channels": cin, "out_channels": cout,
                "conv1": {"kernel": [3, 3], "stride": [s1, s1],
                          "padding": list(p1), "bias": True},
                "conv2": {"kernel": [3, 3], "stride": [1, 1],
                          "padding": list(p2), "bias": True},
                "projection": ({"kernel": [1, 1], "stride": [s1, s1],
                                "padding": list(pp), "bias": False}
                               if proj else None),
                "hidden_activation": "relu", "final_activation": "relu"},
            "x": tensor(x), "w1": tensor(w1), "b1": tensor(b1),
            "w2": tensor(w2), "b2": tensor(b2),
            "wp": tensor(wp) if proj else None,
            "y": tensor(y), "g": tensor(g),
            "dx": tensor(dx), "dw1": tensor(dw1), "db1": tensor(db1),
            "dw2": tensor(dw2), "db2": tensor(db2),
            "dwp": tensor(dwp) if proj else None,
            "min_abs_preactivation": scalar(margin),
        })
        print(f"  info: {name}: min |ReLU pre-activation| = {margin:.3g}")

    conv_block("identity_4ch_6x6", 2, 4, 4, (6, 6), 1, proj=False)
    conv_block("projection_3to8_s2_6x6", 2, 3, 8, (6, 6), 2, proj=True)

    dense_blocks = []

    def dense_block(name, batch, feat):
        x = randn((batch, feat))
        w1 = randn((feat, feat), 1.0 / math.sqrt(feat))
        b1 = randn((feat,), 0.5)
        w2 = randn((feat, feat), 1.0 / math.sqrt(feat))
        b2 = randn((feat,), 0.5)
        g = randn((batch, feat))
        assert_is_f32(x, w1, b1, w2, b2, g)

        def f(x_, w1_, b1_, w2_, b2_):
            h = jnp.tanh(jnp.matmul(x_, w1_.T, precision=HI) + b1_)
            return jnp.matmul(h, w2_.T, precision=HI) + b2_ + x_

        args = [x, w1, b1, w2, b2]
        y, vjp = jax.vjp(f, *(jnp.asarray(a) for a in args))
        y = np.asarray(y)
        grads = [np.asarray(t) for t in vjp(jnp.asarray(g))]
        # numpy forward and chain rule
        h = np.tanh(x @ w1.T + b1)
        ry = h @ w2.T + b2 + x
        check(close(y, ry), f"{name}: fwd != numpy")
        dh = g @ w2
        da = dh * (1 - h ** 2)
        refs = [da @ w1 + g, da.T @ x, da.sum(0), g.T @ h, g.sum(0)]
        for nm, got, want in zip(["dx", "dw1", "db1", "dw2", "db2"],
                                 grads, refs):
            check(close(got, want), f"{name}: {nm} != numpy chain rule")
        check(abs(y[0, 0] - (sum(math.tanh(sum(x[0, i] * w1[j, i]
                                               for i in range(feat)) + b1[j])
                                 * w2[0, j] for j in range(feat))
                             + b2[0] + x[0, 0])) < 1e-12, f"{name}: y[0,0]")
        fd_check(lambda *a: jnp.sum(f(*a) * g), args, grads, name)
        dx, dw1, db1, dw2, db2 = grads
        dense_blocks.append({
            "name": name,
            "config": {"batch": batch, "features": feat,
                       "dense1": {"in_features": feat, "out_features": feat,
                                  "bias": True},
                       "dense2": {"in_features": feat, "out_features": feat,
                                  "bias": True},
                       "hidden_activation": "tanh",
                       "final_activation": "identity"},
            "x": tensor(x), "w1": tensor(w1), "b1": tensor(b1),
            "w2": tensor(w2), "b2": tensor(b2),
            "y": tensor(y), "g": tensor(g),
            "dx": tensor(dx), "dw1": tensor(dw1), "db1": tensor(db1),
            "dw2": tensor(dw2), "db2": tensor(db2),
        })

    dense_block("dense_identity_6_b4", 4, 6)

    write("residual.json", {
        "generator": GENERATOR,
        "conventions": (
            "NCHW, PyTorch layouts, cross-correlation (no kernel flip), "
            "padding = [top,bottom,left,right] zeros. conv2d_blocks: a = "
            "conv1(x; w1, b1, stride conv1.stride, pad 1); h = relu(a); "
            "branch = conv2(h; w2, b2, stride 1, pad 1); skip = x if "
            "projection is null, else conv(x; wp, 1x1, stride "
            "projection.stride, no padding, no bias); y = relu(branch + "
            "skip). dense_blocks: y = tanh(x @ w1.T + b1) @ w2.T + b2 + x "
            "(no final activation), w [out,in]. g is a random upstream "
            "gradient shaped like y; every d* is the gradient of sum(y*g). "
            "wp and dwp are null without a projection. "
            "min_abs_preactivation = min |a| and |branch + skip| over all "
            "ReLU inputs (no ReLU input is near its kink)."),
        "conv2d_blocks": conv_blocks,
        "dense_blocks": dense_blocks,
    })


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
          f"numpy {np.__version__}, x64={jax.config.jax_enable_x64}")
    check(jnp.zeros(1).dtype == jnp.float64, "x64 not enabled")
    # fixed generation order: the RNG stream depends on it
    make_batchnorm()
    make_residual()
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
