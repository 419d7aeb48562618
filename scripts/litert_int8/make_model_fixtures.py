#!/usr/bin/env python3
"""Whole-model int8 fixtures: our quantized reference models run by LiteRT.

For every model in tests/fixtures/int8_models/ this script

1. reads the int8 twin that `export_int8_models` (tests/int8_models_litert.rs)
   wrote (`<model>.safetensors`: int8 weights in PyTorch's layout, int32
   biases, per-channel weight scales, per-tensor scales and zero points) with
   a small safetensors reader (the format is a JSON header and raw bytes),
2. builds the equivalent TFLite model as a flatbuffer with the builder of
   make_fixtures.py, from an architecture written out here from the
   networks' declarations (not from our code): NHWC tensors, CONV_2D filters
   transposed to [out, kh, kw, in], a Conv1d as a CONV_2D of height 1, the
   dense layer after a Flatten with its columns permuted from our
   channels-first (C, H, W) order to TFLite's (H, W, C), our explicit
   paddings as SAME/VALID where they coincide and as PAD + VALID where they
   do not (TFLite's SAME puts the odd padding cell after; PyTorch's
   `padding=1` with stride 2 is one cell on each side),
3. runs each input of `<model>_inputs.json` (int8, channels first, turned to
   NHWC here) through the LiteRT interpreter with the reference kernels
   (`OpResolverType.BUILTIN_REF`, no delegate; the node list is checked),
4. writes `<model>_litert.json` with the inputs (as read, channels first)
   and the interpreter's int8 logits (before the softmax).

Every expected output comes from the interpreter; nothing from our code.
See scripts/litert_int8/README.md ("Whole models").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np

import tflite  # flatbuffer schema bindings (PyPI package `tflite`)
import ai_edge_litert

import make_fixtures as mf
from make_fixtures import ModelBuilder, make_interpreter

GENERATOR = "scripts/litert_int8/make_model_fixtures.py"

mf.OPS["pad"] = (tflite.BuiltinOperator.PAD, 2)


# --------------------------------------------------------------------------
# The models, from their declarations (tests/int8_models_litert.rs,
# nn-models/src/lib.rs). Tensor numbers are those of the twin's `tensors`
# (0 = input, k = output of the k-th op of the f32 network, ReLUs included:
# a ReLU fused into a layer makes the layer write the ReLU's tensor).
# Convolutions: (kh, kw), (sh, sw), pads (top, bottom, left, right).
# --------------------------------------------------------------------------

def dense(field, src, dst, act="none"):
    return dict(op="dense", field=field, src=src, dst=dst, act=act)


def conv(field, src, dst, k, s, pad, act="none"):
    return dict(op="conv", field=field, src=src, dst=dst, k=k, s=s, pad=pad, act=act)


def pool(kind, src, dst, k, s, pad=(0, 0, 0, 0)):
    return dict(op=kind, src=src, dst=dst, k=k, s=s, pad=pad)


def flatten(src, dst):
    return dict(op="flatten", src=src, dst=dst)


def add(a, b, dst):
    return dict(op="add", src=a, other=b, dst=dst)


MODELS = {
    # M1: 16 -> fc1 64 ReLU -> fc2 32 ReLU -> fc3 32 ReLU -> output 5 (-> Softmax).
    "m1": dict(input=[16], logits=7, ops=[
        dense("fc1", 0, 2, "relu"), dense("fc2", 2, 4, "relu"),
        dense("fc3", 4, 6, "relu"), dense("output", 6, 7)]),
    # M2: [1,8,8] -> conv1 8 k3 p1 ReLU -> MaxPool 2 -> conv2 16 k3 p1 ReLU
    #     -> MaxPool 2 -> Flatten -> fc 10 (-> Softmax).
    "m2": dict(input=[1, 8, 8], logits=8, ops=[
        conv("conv1", 0, 2, (3, 3), (1, 1), (1, 1, 1, 1), "relu"),
        pool("max", 2, 3, (2, 2), (2, 2)),
        conv("conv2", 3, 5, (3, 3), (1, 1), (1, 1, 1, 1), "relu"),
        pool("max", 5, 6, (2, 2), (2, 2)),
        flatten(6, 7), dense("fc", 7, 8)]),
    # M4: [1,40] -> conv1 32 k5 p2 ReLU -> conv2 32 k3 s2 p1 ReLU
    #     -> conv3 32 k3 s2 p1 ReLU -> Flatten -> fc 10 (-> Softmax).
    "m4": dict(input=[1, 40], logits=8, ops=[
        conv("conv1", 0, 2, (1, 5), (1, 1), (0, 0, 2, 2), "relu"),
        conv("conv2", 2, 4, (1, 3), (1, 2), (0, 0, 1, 1), "relu"),
        conv("conv3", 4, 6, (1, 3), (1, 2), (0, 0, 1, 1), "relu"),
        flatten(6, 7), dense("fc", 7, 8)]),
    # [2,8,8] -> conv1 8 k3 p1 ReLU -> block: Residual { conv2 8 k3 p1 ReLU,
    #     conv3 8 k3 p1 } -> AvgPool 2 -> conv4 12 k3 s2 p1 ReLU -> AvgPool 2
    #     -> Flatten -> fc1 16 ReLU -> fc2 6 (-> Softmax).
    "residual_avg": dict(input=[2, 8, 8], logits=14, ops=[
        conv("conv1", 0, 2, (3, 3), (1, 1), (1, 1, 1, 1), "relu"),
        conv("conv2", 2, 4, (3, 3), (1, 1), (1, 1, 1, 1), "relu"),
        conv("conv3", 4, 5, (3, 3), (1, 1), (1, 1, 1, 1)),
        add(5, 2, 6),
        pool("avg", 6, 7, (2, 2), (2, 2)),
        conv("conv4", 7, 9, (3, 3), (2, 2), (1, 1, 1, 1), "relu"),
        pool("avg", 9, 10, (2, 2), (2, 2)),
        flatten(10, 11), dense("fc1", 11, 13, "relu"), dense("fc2", 13, 14)]),
}


# --------------------------------------------------------------------------
# Reading the twin.
# --------------------------------------------------------------------------

DTYPES = {"I8": "<i1", "I32": "<i4", "F32": "<f4"}


def read_safetensors(path):
    """{name: (dtype string, numpy array)} and the metadata of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        lo, hi = info["data_offsets"]
        arr = np.frombuffer(body[lo:hi], dtype=DTYPES[info["dtype"]])
        out[name] = (info["dtype"], arr.reshape(info["shape"]))
    return out, meta


class Twin:
    def __init__(self, path):
        self.tensors, self.meta = read_safetensors(path)
        assert self.meta.get("format") == "nn-int8/1", self.meta

    def get(self, name, dtype):
        d, arr = self.tensors[name]
        assert d == dtype, (name, d, dtype)
        return arr

    def quant(self, t):
        scale = float(self.get("tensors.%d.scale" % t, "F32"))
        zp = int(self.get("tensors.%d.zero_point" % t, "I32"))
        return {"scale": scale, "zero_point": zp}


# --------------------------------------------------------------------------
# Building the TFLite model.
# --------------------------------------------------------------------------

def nhwc(shape):
    """Our channels-first shape as TFLite's NHWC (batch 1)."""
    if len(shape) == 1:
        return [1, shape[0]]
    if len(shape) == 2:
        return [1, 1, shape[1], shape[0]]
    return [1, shape[1], shape[2], shape[0]]


def chw(shape):
    """(C, H, W) of our shape ([C, L] is (C, 1, L))."""
    if len(shape) == 2:
        return shape[0], 1, shape[1]
    return tuple(shape)


def tfl_paddings(size, k, s, before, after):
    """The names of TFLite's paddings ('valid', 'same') that pad (before, after) along a
    dimension of `size`, with the output size they give."""
    out = {}
    for name in ("valid", "same"):
        n, pb, pa = mf.compute_padding(s, size, k, name)
        if (pb, pa) == (before, after):
            out[name] = n
    return out


class Builder:
    def __init__(self, twin, model):
        self.twin, self.model = twin, model
        self.mb = ModelBuilder()
        self.ids = {}  # our tensor number -> TFLite tensor index
        self.shapes = {}  # our tensor number -> NHWC shape
        self.kinds = []  # the builtin ops, in order

    def act(self, t, shape, name=None):
        q = self.twin.quant(t)
        tid = self.mb.act_tensor(name or "t%d" % t, shape, q)
        self.ids[t], self.shapes[t] = tid, shape
        return tid

    def op(self, kind, inputs, outputs, options):
        ot, fn = options
        self.mb.op(kind, inputs, outputs, ot, fn)
        self.kinds.append(mf.OPS[kind][0])

    def weights(self, field, w, n_out):
        """The int8 weight, int32 bias tensors of a layer (per-channel scales)."""
        scales = [float(v) for v in self.twin.get(field + ".weight_scale", "F32")]
        bias = self.twin.get(field + ".bias", "I32")
        assert len(scales) == n_out == len(bias)
        w_t = self.mb.tensor(field + ".weight", w.shape, tflite.TensorType.INT8,
                             data=w.astype(np.int8).tobytes(), scales=scales,
                             zero_points=[0] * n_out, qdim=0)
        in_scale = self.mb.tensors[self.cur_in]["scales"][0]
        b_t = self.mb.tensor(field + ".bias", [n_out], tflite.TensorType.INT32,
                             data=bias.astype("<i4").tobytes(),
                             scales=[mf.f32(in_scale * s) for s in scales],
                             zero_points=[0] * n_out, qdim=0)
        return w_t, b_t

    def pad(self, src, pads):
        """A PAD op (int8: pads with the input's zero point) before a VALID window."""
        _, h, w, c = self.shapes[src]
        top, bottom, left, right = pads
        shape = [1, h + top + bottom, w + left + right, c]
        q = self.twin.quant(src)
        tid = self.mb.act_tensor("t%d_padded" % src, shape, q)
        p = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], dtype="<i4")
        p_t = self.mb.tensor("t%d_paddings" % src, [4, 2], tflite.TensorType.INT32,
                             data=p.tobytes())

        def fn(b):
            tflite.PadOptionsStart(b)
            return tflite.PadOptionsEnd(b)
        self.op("pad", [self.ids[src], p_t], [tid], (tflite.BuiltinOptions.PadOptions, fn))
        return tid, shape

    def window(self, o, allow_pad_op):
        """The input tensor, TFLite padding name and output NHWC (h, w) of a window op: SAME
        or VALID when one of them pads as we do, else (convolutions only) PAD then VALID."""
        _, h, w, _ = self.shapes[o["src"]]
        (kh, kw), (sh, sw), (top, bottom, left, right) = o["k"], o["s"], o["pad"]
        along_h = tfl_paddings(h, kh, sh, top, bottom)
        along_w = tfl_paddings(w, kw, sw, left, right)
        for name in ("valid", "same"):
            if name in along_h and name in along_w:
                return self.ids[o["src"]], name, (along_h[name], along_w[name])
        if not allow_pad_op:
            raise ValueError("padding %s of %s has no TFLite equivalent" % (o["pad"], o))
        tid, shape = self.pad(o["src"], o["pad"])
        oh = tfl_paddings(shape[1], kh, sh, 0, 0)["valid"]
        ow = tfl_paddings(shape[2], kw, sw, 0, 0)["valid"]
        return tid, "valid", (oh, ow)

    def dense(self, o, flat_chw):
        w = self.twin.get(o["field"] + ".weight", "I8")
        n_out, n_in = w.shape
        if flat_chw is not None:  # columns from (C, H, W) order to (H, W, C)
            c, h, wd = flat_chw
            w = w.reshape(n_out, c, h, wd).transpose(0, 2, 3, 1).reshape(n_out, n_in)
        self.cur_in = self.ids[o["src"]]
        w_t, b_t = self.weights(o["field"], w, n_out)
        out = self.act(o["dst"], [1, n_out])
        self.op("fully_connected", [self.cur_in, w_t, b_t], [out], mf.fc_options(o["act"]))

    def conv(self, o):
        w = self.twin.get(o["field"] + ".weight", "I8")
        if w.ndim == 3:  # Conv1d [out, in, k] -> [out, in, 1, k]
            w = w[:, :, None, :]
        w = w.transpose(0, 2, 3, 1)  # [out, kh, kw, in]
        n_out = w.shape[0]
        src, padding, (oh, ow) = self.window(o, allow_pad_op=True)
        self.cur_in = src
        w_t, b_t = self.weights(o["field"], w, n_out)
        out = self.act(o["dst"], [1, oh, ow, n_out])
        self.op("conv_2d", [src, w_t, b_t], [out],
                mf.conv_options(list(o["s"]), padding, o["act"]))

    def pool(self, o):
        assert self.twin.quant(o["dst"]) == self.twin.quant(o["src"]), "pool keeps the quantization"
        src, padding, (oh, ow) = self.window(o, allow_pad_op=False)
        c = self.shapes[o["src"]][3]
        out = self.act(o["dst"], [1, oh, ow, c])
        kind = "max_pool_2d" if o["op"] == "max" else "average_pool_2d"
        self.op(kind, [src], [out], mf.pool_options(list(o["k"]), list(o["s"]), padding))

    def build(self):
        shape = self.model["input"]
        self.act(0, nhwc(shape), name="input")
        ours = {0: list(shape)}  # our (channels-first) shapes, for Flatten
        flat_chw = {}
        for o in self.model["ops"]:
            if o["op"] == "dense":
                self.dense(o, flat_chw.get(o["src"]))
                ours[o["dst"]] = [self.shapes[o["dst"]][1]]
            elif o["op"] == "conv":
                self.conv(o)
                _, h, w, c = self.shapes[o["dst"]]
                ours[o["dst"]] = [c, w] if len(ours[o["src"]]) == 2 else [c, h, w]
            elif o["op"] in ("max", "avg"):
                self.pool(o)
                _, h, w, c = self.shapes[o["dst"]]
                ours[o["dst"]] = [c, h, w]
            elif o["op"] == "flatten":
                assert self.twin.quant(o["dst"]) == self.twin.quant(o["src"])
                n = int(np.prod(self.shapes[o["src"]]))
                out = self.act(o["dst"], [1, n])
                s_t = self.mb.tensor("t%d_shape" % o["dst"], [2], tflite.TensorType.INT32,
                                     data=np.array([1, n], dtype="<i4").tobytes())
                self.op("reshape", [self.ids[o["src"]], s_t], [out], mf.reshape_options([1, n]))
                flat_chw[o["dst"]] = chw(ours[o["src"]])
                ours[o["dst"]] = [n]
            elif o["op"] == "add":
                out = self.act(o["dst"], self.shapes[o["src"]])
                self.op("add", [self.ids[o["src"]], self.ids[o["other"]]], [out],
                        mf.add_options("none"))
                ours[o["dst"]] = ours[o["src"]]
            else:
                raise ValueError(o)
        logits = self.ids[self.model["logits"]]
        return self.mb.serialize([self.ids[0]], [logits])


# --------------------------------------------------------------------------
# Running it.
# --------------------------------------------------------------------------

def to_nhwc(x, shape):
    """A flat channels-first int8 input as the NHWC array TFLite takes."""
    x = np.asarray(x, dtype=np.int8)
    if len(shape) == 1:
        return x.reshape(1, shape[0])
    c, h, w = chw(shape)
    return x.reshape(c, h, w).transpose(1, 2, 0).reshape(nhwc(shape))


def run_model(name, model, directory):
    twin_path = os.path.join(directory, name + ".safetensors")
    twin = Twin(twin_path)
    with open(os.path.join(directory, name + "_inputs.json")) as f:
        inputs = json.load(f)
    assert inputs["input_shape"] == model["input"], (inputs["input_shape"], model["input"])
    builder = Builder(twin, model)
    model_bytes = builder.build()
    interp = make_interpreter(model_bytes, preserve=False)
    # The execution plan must be exactly our ops (a delegate would add a node).
    inv = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    names = [d["op_name"] for d in interp._get_ops_details()]  # pylint: disable=protected-access
    assert names == [inv[k] for k in builder.kinds], (names, builder.kinds)
    in_idx = interp.get_input_details()[0]["index"]
    out_idx = interp.get_output_details()[0]["index"]
    samples = []
    for x in inputs["inputs"]:
        interp.set_tensor(in_idx, to_nhwc(x, model["input"]))
        interp.invoke()
        y = interp.get_tensor(out_idx).reshape(-1)
        samples.append({"input": [int(v) for v in x], "output": [int(v) for v in y]})
    with open(twin_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {
        "generator": GENERATOR,
        "litert": ai_edge_litert.__version__,
        "kernels": "BUILTIN_REF",
        "tflite_bindings": getattr(tflite, "__version__", "2.18.0"),
        "numpy": np.__version__,
        "model": name,
        "twin": name + ".safetensors",
        "twin_sha256": digest,
        "ops": names,
        "input_shape": model["input"],
        "input_nhwc": nhwc(model["input"]),
        "logits_tensor": model["logits"],
        "logits_quant": twin.quant(model["logits"]),
        "note": "inputs as in <model>_inputs.json (channels first); outputs are the "
                "interpreter's int8 logits (before the softmax), one value per class",
        "samples": samples,
    }


def dumps(obj):
    """JSON with one sample per line."""
    head = {k: v for k, v in obj.items() if k != "samples"}
    lines = ["{"]
    lines += [" %s: %s," % (json.dumps(k), json.dumps(v)) for k, v in head.items()]
    lines.append(' "samples": [')
    lines.append(",\n".join("  " + json.dumps(s) for s in obj["samples"]))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.normpath(os.path.join(here, "..", "..", "tests", "fixtures", "int8_models"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=default, help="where the twins are and the fixtures go")
    args = ap.parse_args(argv)
    if ai_edge_litert.__version__ != mf.PINNED_LITERT:
        print("WARNING: ai_edge_litert %s is installed, requirements.txt pins %s"
              % (ai_edge_litert.__version__, mf.PINNED_LITERT), file=sys.stderr)
    for name, model in MODELS.items():
        out = run_model(name, model, args.dir)
        path = os.path.join(args.dir, name + "_litert.json")
        with open(path, "w") as f:
            f.write(dumps(out))
        n = sum(len(s["output"]) for s in out["samples"])
        print("%-14s ops=%s samples=%d values=%d -> %s" % (
            name, ",".join(out["ops"]), len(out["samples"]), n, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
