#!/usr/bin/env python3
"""Generate bit-exact int8 fixtures for the Rust `nn` crate from LiteRT.

Every case is a small int8 TFLite model that this script writes directly as a
flatbuffer (with the `tflite` PyPI schema bindings, no TensorFlow), runs with
the LiteRT interpreter using the REFERENCE kernels
(`OpResolverType.BUILTIN_REF`, no delegate), and stores as JSON under
tests/fixtures/int8/.  The expected outputs in the fixtures are what the
interpreter produced; nothing else.

Besides the interpreter outputs, the fixtures carry metadata that a Rust
implementation needs in order to reproduce the reference kernels: float32
scales (decimal and bit pattern), the fused-activation clamp range, and for
each requantization the real multiplier and the (quantized_multiplier, shift)
pair of TFLite's QuantizeMultiplier.  That metadata comes from the
re-implementation in this file; it is cross-checked against the interpreter
(see `check_case`), and the script fails if the re-implementation of the
rounding rule that the reference kernel uses does not reproduce the
interpreter bit for bit.

See scripts/litert_int8/README.md for the rounding rules and how to run it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

import flatbuffers
import tflite  # flatbuffer schema bindings (PyPI package `tflite`)

import ai_edge_litert
from ai_edge_litert.interpreter import Interpreter, OpResolverType

GENERATOR = "scripts/litert_int8/make_fixtures.py"
PINNED_LITERT = "2.3.0"  # keep in sync with requirements.txt
LAYOUT = "NHWC; FULLY_CONNECTED weights [out, in]; CONV_2D filters [out, kh, kw, in]"

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

ACT_CODES = {
    "none": tflite.ActivationFunctionType.NONE,
    "relu": tflite.ActivationFunctionType.RELU,
    "relu6": tflite.ActivationFunctionType.RELU6,
}
PAD_CODES = {"same": tflite.Padding.SAME, "valid": tflite.Padding.VALID}

# (builtin operator code, op version) for the int8 variants.
OPS = {
    "fully_connected": (tflite.BuiltinOperator.FULLY_CONNECTED, 4),
    "conv_2d": (tflite.BuiltinOperator.CONV_2D, 3),
    "max_pool_2d": (tflite.BuiltinOperator.MAX_POOL_2D, 2),
    "average_pool_2d": (tflite.BuiltinOperator.AVERAGE_POOL_2D, 2),
    "add": (tflite.BuiltinOperator.ADD, 2),
    "reshape": (tflite.BuiltinOperator.RESHAPE, 1),
}

# Which requantization rounding each op's reference kernel uses, from reading
# the LiteRT sources (tflite/kernels/*.cc -> reference kernels); confirmed
# against the interpreter by check_case().
ROUNDING = {
    "fully_connected": "double_round",  # round((double)acc * m), std::round
    "conv_2d": "fixed_point",  # MultiplyByQuantizedMultiplier (gemmlowp)
    "add": "fixed_point",  # AddFunc, left_shift 20
}


# --------------------------------------------------------------------------
# Small numeric helpers that mirror C/C++ semantics exactly.
# --------------------------------------------------------------------------

def f32(x) -> float:
    """Round a Python float to float32 and return it as a Python float."""
    return float(np.float32(x))


def f32_bits(x) -> int:
    return struct.unpack("<I", struct.pack("<f", float(x)))[0]


def f64_bits_hex(x) -> str:
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def std_round(x: float) -> float:
    """std::round on a double: round half away from zero, exactly."""
    t = math.trunc(x)
    frac = x - t  # exact for IEEE doubles
    if abs(frac) >= 0.5:
        t += 1 if x > 0 else -1
    return float(t)


def std_round_np(v: np.ndarray) -> np.ndarray:
    """Vectorised std::round for float64 arrays (half away from zero)."""
    t = np.trunc(v)
    frac = v - t
    return np.where(np.abs(frac) >= 0.5, t + np.sign(v), t)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier (quantization_util.cc), non-emulated float
    path, default (double-rounding) build, i.e. TFLITE_SINGLE_ROUNDING off."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(std_round(q * float(1 << 31)))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    assert q_fixed <= INT32_MAX
    if shift < -31:
        shift = 0
        q_fixed = 0
    return q_fixed, shift


def srdhm(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp::SaturatingRoundingDoublingHighMul(int32 a, int32 b)."""
    a = np.asarray(a, dtype=np.int64)
    assert np.all((a >= INT32_MIN) & (a <= INT32_MAX)), "int32 overflow"
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    s = ab + nudge
    # C++ integer division by 2^31 truncates toward zero.
    res = np.where(s >= 0, s >> 31, -((-s) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, np.int64(INT32_MAX), res)


def rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp::RoundingDivideByPOT: arithmetic shift, round half away from 0."""
    assert 0 <= exponent <= 31
    x = np.asarray(x, dtype=np.int64)
    mask = np.int64((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> exponent) + (remainder > threshold).astype(np.int64)


def mbqm_fixed(x: np.ndarray, qm: int, shift: int) -> np.ndarray:
    """tflite::MultiplyByQuantizedMultiplier(int32 x, ...) in the default
    double-rounding build (common.cc, TFLITE_SINGLE_ROUNDING == 0)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    x = np.asarray(x, dtype=np.int64) * (1 << left)
    return rounding_divide_by_pot(srdhm(x, qm), right)


def mbqm_single(x: np.ndarray, qm: int, shift: int) -> np.ndarray:
    """The TFLITE_SINGLE_ROUNDING variant (not the default); only used to show
    which variant the shipped binary was built with."""
    x = np.asarray(x, dtype=np.int64)
    total_shift = 31 - shift
    rnd = np.int64(1) << np.int64(total_shift - 1)
    return (x * np.int64(qm) + rnd) >> np.int64(total_shift)


def mbqm_smaller_than_one_exp(x, qm, shift, single=False):
    """MultiplyByQuantizedMultiplierSmallerThanOneExp (common.h)."""
    if single:
        return mbqm_single(x, qm, shift)
    return rounding_divide_by_pot(srdhm(x, qm), -shift)


def activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized (kernel_util.cc) for int8 outputs.
    Quantize() there computes TfLiteRound(f / scale) in float32."""
    qmin, qmax = -128, 127

    def quant(v):
        tmp = np.float32(v) / np.float32(scale)  # float32 division
        return zero_point + int(std_round(float(np.float32(tmp))))

    if act == "relu":
        return max(qmin, quant(0.0)), qmax
    if act == "relu6":
        return max(qmin, quant(0.0)), min(qmax, quant(6.0))
    if act == "none":
        return qmin, qmax
    raise ValueError(act)


def compute_padding(stride, in_size, filter_size, padding):
    """ComputePaddingWithOffset / ComputeOutSize (tflite/kernels/padding.h),
    dilation 1.  Returns (out_size, pad_before, pad_after)."""
    if padding == "same":
        out = (in_size + stride - 1) // stride
    else:
        out = (in_size + stride - filter_size) // stride
    total = max((out - 1) * stride + filter_size - in_size, 0)
    return out, total // 2, total // 2 + total % 2


# --------------------------------------------------------------------------
# Flatbuffer model builder.
# --------------------------------------------------------------------------

class ModelBuilder:
    """Collects tensors/ops/buffers and serialises a single-subgraph model."""

    def __init__(self):
        self.buffers: list[bytes] = [b""]  # buffer 0: the empty sentinel
        self.tensors: list[dict] = []
        self.ops: list[dict] = []
        self.opcodes: list[tuple[int, int]] = []

    def buffer(self, data: bytes) -> int:
        self.buffers.append(bytes(data))
        return len(self.buffers) - 1

    def tensor(self, name, shape, ttype, data=None, scales=None,
               zero_points=None, qdim=0) -> int:
        buf = 0 if data is None else self.buffer(data)
        self.tensors.append(dict(name=name, shape=list(shape), type=ttype,
                                 buffer=buf, scales=scales,
                                 zero_points=zero_points, qdim=qdim))
        return len(self.tensors) - 1

    def act_tensor(self, name, shape, q) -> int:
        return self.tensor(name, shape, tflite.TensorType.INT8,
                           scales=[q["scale"]], zero_points=[q["zero_point"]])

    def op(self, kind, inputs, outputs, options_type, options_fn):
        code = OPS[kind]
        if code not in self.opcodes:
            self.opcodes.append(code)
        self.ops.append(dict(opcode=self.opcodes.index(code), inputs=inputs,
                             outputs=outputs, options_type=options_type,
                             options_fn=options_fn))

    # -- serialisation ----------------------------------------------------

    @staticmethod
    def _int_vector(b, start_fn, values, prepend):
        start_fn(b, len(values))
        for v in reversed(values):
            prepend(int(v))
        return b.EndVector()

    @staticmethod
    def _bytes_vector(b, data: bytes, align=16):
        b.StartVector(1, len(data), align)
        b.head = b.head - len(data)
        b.Bytes[b.head:b.head + len(data)] = data
        return b.EndVector()

    def serialize(self, inputs, outputs) -> bytes:
        b = flatbuffers.Builder(4096)

        buffer_offs = []
        for data in self.buffers:
            data_off = self._bytes_vector(b, data) if data else None
            tflite.BufferStart(b)
            if data_off is not None:
                tflite.BufferAddData(b, data_off)
            buffer_offs.append(tflite.BufferEnd(b))

        tensor_offs = []
        for t in self.tensors:
            name_off = b.CreateString(t["name"])
            shape_off = self._int_vector(b, tflite.TensorStartShapeVector,
                                         t["shape"], b.PrependInt32)
            q_off = None
            if t["scales"] is not None:
                tflite.QuantizationParametersStartScaleVector(b, len(t["scales"]))
                for s in reversed(t["scales"]):
                    b.PrependFloat32(s)
                sc_off = b.EndVector()
                zp_off = self._int_vector(
                    b, tflite.QuantizationParametersStartZeroPointVector,
                    t["zero_points"], b.PrependInt64)
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, sc_off)
                tflite.QuantizationParametersAddZeroPoint(b, zp_off)
                tflite.QuantizationParametersAddQuantizedDimension(b, t["qdim"])
                q_off = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape_off)
            tflite.TensorAddType(b, t["type"])
            tflite.TensorAddBuffer(b, t["buffer"])
            tflite.TensorAddName(b, name_off)
            if q_off is not None:
                tflite.TensorAddQuantization(b, q_off)
            tensor_offs.append(tflite.TensorEnd(b))

        op_offs = []
        for o in self.ops:
            opt_off = o["options_fn"](b)
            in_off = self._int_vector(b, tflite.OperatorStartInputsVector,
                                      o["inputs"], b.PrependInt32)
            out_off = self._int_vector(b, tflite.OperatorStartOutputsVector,
                                       o["outputs"], b.PrependInt32)
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, o["opcode"])
            tflite.OperatorAddInputs(b, in_off)
            tflite.OperatorAddOutputs(b, out_off)
            tflite.OperatorAddBuiltinOptionsType(b, o["options_type"])
            tflite.OperatorAddBuiltinOptions(b, opt_off)
            op_offs.append(tflite.OperatorEnd(b))

        def vec_of_offsets(start_fn, offs):
            start_fn(b, len(offs))
            for off in reversed(offs):
                b.PrependUOffsetTRelative(off)
            return b.EndVector()

        tensors_vec = vec_of_offsets(tflite.SubGraphStartTensorsVector, tensor_offs)
        ops_vec = vec_of_offsets(tflite.SubGraphStartOperatorsVector, op_offs)
        in_vec = self._int_vector(b, tflite.SubGraphStartInputsVector, inputs,
                                  b.PrependInt32)
        out_vec = self._int_vector(b, tflite.SubGraphStartOutputsVector,
                                   outputs, b.PrependInt32)
        sg_name = b.CreateString("main")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors_vec)
        tflite.SubGraphAddInputs(b, in_vec)
        tflite.SubGraphAddOutputs(b, out_vec)
        tflite.SubGraphAddOperators(b, ops_vec)
        tflite.SubGraphAddName(b, sg_name)
        sg_off = tflite.SubGraphEnd(b)

        opcode_offs = []
        for code, version in self.opcodes:
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, version)
            opcode_offs.append(tflite.OperatorCodeEnd(b))

        opcodes_vec = vec_of_offsets(tflite.ModelStartOperatorCodesVector, opcode_offs)
        subgraphs_vec = vec_of_offsets(tflite.ModelStartSubgraphsVector, [sg_off])
        buffers_vec = vec_of_offsets(tflite.ModelStartBuffersVector, buffer_offs)
        desc = b.CreateString("nn int8 fixture (" + GENERATOR + ")")
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, opcodes_vec)
        tflite.ModelAddSubgraphs(b, subgraphs_vec)
        tflite.ModelAddDescription(b, desc)
        tflite.ModelAddBuffers(b, buffers_vec)
        model = tflite.ModelEnd(b)
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())


def fc_options(act):
    def fn(b):
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, ACT_CODES[act])
        tflite.FullyConnectedOptionsAddKeepNumDims(b, False)
        return tflite.FullyConnectedOptionsEnd(b)
    return tflite.BuiltinOptions.FullyConnectedOptions, fn


def conv_options(stride, padding, act):
    def fn(b):
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, PAD_CODES[padding])
        tflite.Conv2DOptionsAddStrideH(b, stride[0])
        tflite.Conv2DOptionsAddStrideW(b, stride[1])
        tflite.Conv2DOptionsAddDilationHFactor(b, 1)
        tflite.Conv2DOptionsAddDilationWFactor(b, 1)
        tflite.Conv2DOptionsAddFusedActivationFunction(b, ACT_CODES[act])
        return tflite.Conv2DOptionsEnd(b)
    return tflite.BuiltinOptions.Conv2DOptions, fn


def pool_options(filt, stride, padding):
    def fn(b):
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, PAD_CODES[padding])
        tflite.Pool2DOptionsAddStrideH(b, stride[0])
        tflite.Pool2DOptionsAddStrideW(b, stride[1])
        tflite.Pool2DOptionsAddFilterHeight(b, filt[0])
        tflite.Pool2DOptionsAddFilterWidth(b, filt[1])
        tflite.Pool2DOptionsAddFusedActivationFunction(b, ACT_CODES["none"])
        return tflite.Pool2DOptionsEnd(b)
    return tflite.BuiltinOptions.Pool2DOptions, fn


def add_options(act):
    def fn(b):
        tflite.AddOptionsStart(b)
        tflite.AddOptionsAddFusedActivationFunction(b, ACT_CODES[act])
        return tflite.AddOptionsEnd(b)
    return tflite.BuiltinOptions.AddOptions, fn


def reshape_options(new_shape):
    def fn(b):
        tflite.ReshapeOptionsStartNewShapeVector(b, len(new_shape))
        for v in reversed(new_shape):
            b.PrependInt32(v)
        vec = b.EndVector()
        tflite.ReshapeOptionsStart(b)
        tflite.ReshapeOptionsAddNewShape(b, vec)
        return tflite.ReshapeOptionsEnd(b)
    return tflite.BuiltinOptions.ReshapeOptions, fn


# --------------------------------------------------------------------------
# Graph description -> model, and the numpy re-implementation.
#
# A case is a list of ops over "case tensors": tensor 0 is the case input,
# tensor k (k >= 1) is the output of op k-1 (single-op ADD cases also have a
# second graph input, tensor "in2").  Each op dict holds its own int params.
# --------------------------------------------------------------------------

def qspec(scale, zero_point):
    s = f32(scale)
    return {"scale": s, "zero_point": int(zero_point)}


def build_model(case):
    mb = ModelBuilder()
    tids = [mb.act_tensor("input", case["input_shape"], case["input_q"])]
    graph_inputs = [tids[0]]
    for i, op in enumerate(case["ops"]):
        kind = op["op"]
        out_t = mb.act_tensor("t%d_%s" % (i + 1, kind), op["output_shape"],
                              op["output_q"])
        src = tids[op["inputs"][0]]
        if kind in ("fully_connected", "conv_2d"):
            w = op["weights"]
            scales = op["weight_scales"]
            w_t = mb.tensor("w%d" % (i + 1), w.shape, tflite.TensorType.INT8,
                            data=w.astype(np.int8).tobytes(), scales=scales,
                            zero_points=[0] * len(scales), qdim=0)
            in_scale = mb.tensors[src]["scales"][0]
            bias_scales = [f32(float(in_scale) * float(s)) for s in scales]
            b_t = mb.tensor("b%d" % (i + 1), [w.shape[0]], tflite.TensorType.INT32,
                            data=op["bias"].astype("<i4").tobytes(),
                            scales=bias_scales, zero_points=[0] * len(scales),
                            qdim=0)
            if kind == "fully_connected":
                ot, fn = fc_options(op["activation"])
            else:
                ot, fn = conv_options(op["stride"], op["padding"], op["activation"])
            mb.op(kind, [src, w_t, b_t], [out_t], ot, fn)
        elif kind in ("max_pool_2d", "average_pool_2d"):
            ot, fn = pool_options(op["filter"], op["stride"], op["padding"])
            mb.op(kind, [src], [out_t], ot, fn)
        elif kind == "add":
            if op.get("in2") is not None:
                other = mb.act_tensor("input2", op["in2"]["shape"], op["in2"]["q"])
                graph_inputs.append(other)
            else:
                other = tids[op["inputs"][1]]
            ot, fn = add_options(op["activation"])
            mb.op(kind, [src, other], [out_t], ot, fn)
        elif kind == "reshape":
            shape = np.asarray(op["output_shape"], dtype="<i4")
            s_t = mb.tensor("shape%d" % (i + 1), [len(shape)],
                            tflite.TensorType.INT32, data=shape.tobytes())
            ot, fn = reshape_options(op["output_shape"])
            mb.op(kind, [src, s_t], [out_t], ot, fn)
        else:
            raise ValueError(kind)
        tids.append(out_t)
    return mb.serialize(graph_inputs, [tids[-1]]), tids


def fc_acc(x, zp_in, w, bias):
    xo = x.reshape(-1).astype(np.int64) - zp_in
    return w.astype(np.int64) @ xo + bias.astype(np.int64)


def conv_acc(x, zp_in, w, bias, stride, padding):
    _, h, wd, cin = x.shape
    cout, kh, kw, cin2 = w.shape
    assert cin == cin2
    oh, pt, pb = compute_padding(stride[0], h, kh, padding)
    ow, pl, pr = compute_padding(stride[1], wd, kw, padding)
    # The reference kernel skips taps outside the image; padding the
    # zero-point-offset input with zeros is equivalent.
    xo = np.zeros((h + pt + pb, wd + pl + pr, cin), dtype=np.int64)
    xo[pt:pt + h, pl:pl + wd, :] = x[0].astype(np.int64) - zp_in
    acc = np.zeros((oh, ow, cout), dtype=np.int64)
    wl = w.astype(np.int64)
    for oy in range(oh):
        for ox in range(ow):
            patch = xo[oy * stride[0]:oy * stride[0] + kh,
                       ox * stride[1]:ox * stride[1] + kw, :]
            acc[oy, ox, :] = np.tensordot(wl, patch, axes=([1, 2, 3], [0, 1, 2]))
    acc += bias.astype(np.int64)[None, None, :]
    return acc[None]


def requant(acc, op, variant):
    """Requantize an accumulator array whose last axis is the output channel."""
    out = np.empty(acc.shape, dtype=np.int64)
    for c in range(acc.shape[-1]):
        a = acc[..., c]
        if variant == "double_round":
            v = a.astype(np.float64) * op["real_multiplier"][c]
            out[..., c] = std_round_np(v).astype(np.int64)
        elif variant == "fixed_point":
            out[..., c] = mbqm_fixed(a, op["quantized_multiplier"][c], op["shift"][c])
        elif variant == "single_rounding":
            out[..., c] = mbqm_single(a, op["quantized_multiplier"][c], op["shift"][c])
        else:
            raise ValueError(variant)
    return out


def pool_ref(x, op):
    _, h, wd, c = x.shape
    kh, kw = op["filter"]
    sh, sw = op["stride"]
    oh, pt, _ = compute_padding(sh, h, kh, op["padding"])
    ow, pl, _ = compute_padding(sw, wd, kw, op["padding"])
    out = np.zeros((1, oh, ow, c), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * sh - pt, ox * sw - pl
            win = x[0, max(0, y0):min(h, y0 + kh), max(0, x0):min(wd, x0 + kw), :]
            win = win.reshape(-1, c).astype(np.int64)
            if op["op"] == "max_pool_2d":
                out[0, oy, ox] = win.max(axis=0)
            else:
                n = win.shape[0]  # count of valid (unpadded) taps
                s = win.sum(axis=0)
                # acc > 0 ? (acc + n/2) / n : (acc - n/2) / n, C division
                num = np.where(s > 0, s + n // 2, s - n // 2)
                out[0, oy, ox] = np.where(num >= 0, num // n, -((-num) // n))
    return out


def add_ref(x1, x2, op, single=False):
    p = op["add_params"]
    a = (x1.astype(np.int64) - op["in1_q"]["zero_point"]) * (1 << p["left_shift"])
    b = (x2.astype(np.int64) - op["in2_q"]["zero_point"]) * (1 << p["left_shift"])
    sa = mbqm_smaller_than_one_exp(a, p["input1_multiplier"], p["input1_shift"], single)
    sb = mbqm_smaller_than_one_exp(b, p["input2_multiplier"], p["input2_shift"], single)
    raw = mbqm_smaller_than_one_exp(sa + sb, p["output_multiplier"],
                                    p["output_shift"], single)
    return raw + op["output_q"]["zero_point"]


def run_op_numpy(op, tensors, variant=None):
    """Predict one op's int8 output from the int8 case tensors."""
    x = tensors[op["inputs"][0]]
    kind = op["op"]
    if kind in ("fully_connected", "conv_2d"):
        variant = variant or ROUNDING[kind]
        if kind == "fully_connected":
            acc = fc_acc(x, op["in_q"]["zero_point"], op["weights"], op["bias"])[None]
        else:
            acc = conv_acc(x, op["in_q"]["zero_point"], op["weights"], op["bias"],
                           op["stride"], op["padding"])
        y = requant(acc, op, variant) + op["output_q"]["zero_point"]
    elif kind in ("max_pool_2d", "average_pool_2d"):
        y = pool_ref(x, op)
    elif kind == "add":
        y = add_ref(x, tensors[op["inputs"][1]], op,
                    single=(variant == "single_rounding"))
    elif kind == "reshape":
        y = x.astype(np.int64)
    else:
        raise ValueError(kind)
    lo, hi = op["activation_range"]
    y = np.clip(y, lo, hi)
    return y.astype(np.int8).reshape(op["output_shape"])


# --------------------------------------------------------------------------
# Parameter construction (realistic random int8 layers).
# --------------------------------------------------------------------------

def choose_output_q(real, act, mode="normal"):
    """Pick an output scale/zero point from the float values the layer
    produces on the samples.  mode: 'normal' uses the 0.5-99.5 % quantiles
    (a few extremes clip), 'saturate' a narrow 25-75 % range (heavy clipping)."""
    real = np.asarray(real, dtype=np.float64).reshape(-1)
    qlo, qhi = (0.005, 0.995) if mode == "normal" else (0.25, 0.75)
    lo, hi = np.quantile(real, qlo), np.quantile(real, qhi)
    if act in ("relu", "relu6"):
        lo = 0.0
        pos = real[real > 0]
        hi = np.quantile(pos, qhi) if pos.size else 1.0
        if act == "relu6":
            hi = max(hi, 6.5)  # the quantized clamp at 6.0 lies inside the range
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-6:
        hi = lo + 1.0
    scale = f32((hi - lo) / 255.0)
    zp = int(np.clip(std_round(-128.0 - lo / scale), -128, 127))
    return qspec(scale, zp)


def make_weighted_op(rng, kind, x_samples, in_q, wshape, act, mode="normal",
                     stride=None, padding=None, w_gain=1.0, bias_std=0.5,
                     weights_q=None, weight_scales=None, out_q=None,
                     range_act=None):
    """Create an FC or CONV op (int weights, bias, output quant).  range_act
    overrides the activation used to pick the output range (e.g. a RELU layer
    whose output range still covers negatives, so that the clamp at the
    output zero point is exercised)."""
    if weights_q is None:
        fan_in = int(np.prod(wshape[1:]))
        wf = rng.normal(0.0, w_gain / math.sqrt(fan_in), size=wshape)
        maxabs = np.abs(wf.reshape(wshape[0], -1)).max(axis=1)
        weight_scales = [f32(m / 127.0) for m in maxabs]
        s = np.asarray(weight_scales, dtype=np.float64).reshape((-1,) + (1,) * (len(wshape) - 1))
        weights_q = np.clip(np.rint(wf / s), -127, 127).astype(np.int64)
    weights_q = np.asarray(weights_q, dtype=np.int64)
    bias_real = rng.normal(0.0, bias_std, size=wshape[0])
    bias_scale = np.asarray([float(in_q["scale"]) * float(s) for s in weight_scales])
    bias_q = np.rint(bias_real / bias_scale).astype(np.int64)
    op = {"op": kind, "weights": weights_q, "weight_scales": list(weight_scales),
          "bias": bias_q, "activation": act, "in_q": in_q}
    if kind == "conv_2d":
        op["stride"], op["padding"] = list(stride), padding
    # float output values on the samples -> output quantization
    accs = []
    for x in x_samples:
        if kind == "fully_connected":
            accs.append(fc_acc(x, in_q["zero_point"], weights_q, bias_q)[None])
        else:
            accs.append(conv_acc(x, in_q["zero_point"], weights_q, bias_q, stride, padding))
    # real value of each accumulator: acc * in_scale * w_scale[c]
    real = np.stack(accs) * bias_scale
    if out_q is None:
        out_q = choose_output_q(real, range_act or act, mode)
    op["output_q"] = out_q
    finish_requant(op)
    return op


def finish_requant(op):
    """Multipliers exactly as the kernels' Prepare() computes them."""
    in_s, out_s = op["in_q"]["scale"], op["output_q"]["scale"]
    if op["op"] in ("fully_connected", "conv_2d"):
        # effective_output_scale = (double)input_scale * (double)filter_scale
        #                          / (double)output_scale
        op["real_multiplier"] = [float(in_s) * float(ws) / float(out_s)
                                 for ws in op["weight_scales"]]
        qs = [quantize_multiplier(m) for m in op["real_multiplier"]]
        op["quantized_multiplier"] = [q for q, _ in qs]
        op["shift"] = [s for _, s in qs]
    op["activation_range"] = list(activation_range(
        op.get("activation", "none"), out_s, op["output_q"]["zero_point"]))


def make_add_params(in1_q, in2_q, out_q):
    """add.cc Prepare() for int8 (left_shift 20) + QuantizeMultiplierSmallerThanOneExp."""
    left_shift = 20
    s1, s2, so = float(in1_q["scale"]), float(in2_q["scale"]), float(out_q["scale"])
    twice_max = 2.0 * max(s1, s2)  # std::max of the two float scales, as double
    r1 = s1 / twice_max
    r2 = s2 / twice_max
    ro = twice_max / (float(1 << left_shift) * so)
    p = {"left_shift": left_shift,
         "real_input1_multiplier": r1, "real_input2_multiplier": r2,
         "real_output_multiplier": ro}
    for name, r in (("input1", r1), ("input2", r2), ("output", ro)):
        assert 0.0 <= r < 1.0
        q, s = quantize_multiplier(r)
        assert s <= 0
        p[name + "_multiplier"], p[name + "_shift"] = q, s
    return p


def make_add_op(in1_q, in2_q, out_q, act, inputs):
    op = {"op": "add", "activation": act, "in1_q": in1_q, "in2_q": in2_q,
          "in_q": in1_q, "output_q": out_q, "inputs": inputs}
    op["add_params"] = make_add_params(in1_q, in2_q, out_q)
    finish_requant(op)
    return op


def rand_input_q(rng, lo=0.01, hi=0.06, zp=None):
    scale = f32(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if zp is None:
        zp = int(rng.integers(-40, 41))
    return qspec(scale, zp)


def rand_int8(rng, shape, n):
    return [rng.integers(-128, 128, size=shape).astype(np.int8) for _ in range(n)]


# --------------------------------------------------------------------------
# Case definitions.
# --------------------------------------------------------------------------

N_SAMPLES = 12


def fc_case(name, seed, n_in, n_out, act, mode="normal", in_zp=None, gain=1.0,
            range_act=None):
    rng = np.random.default_rng(seed)
    in_q = rand_input_q(rng, zp=in_zp)
    xs = rand_int8(rng, (1, n_in), N_SAMPLES)
    op = make_weighted_op(rng, "fully_connected", xs, in_q, (n_out, n_in), act,
                          mode=mode, w_gain=gain, range_act=range_act)
    op["inputs"], op["output_shape"] = [0], [1, n_out]
    return {"name": name, "input_shape": [1, n_in], "input_q": in_q,
            "ops": [op], "samples": [{"input": x} for x in xs]}


def rounding_probe_case(name, seed, kind):
    """A deliberately non-typical layer whose multipliers are large
    (0.14 .. 0.5, shift 0 .. -2), so that the candidate requantization rules
    disagree on many outputs, and the samples are picked so that they do:
      * channels 0-3 (m = 0.45, 0.3, 0.2, 0.14): gemmlowp fixed-point
        (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT, two
        roundings) vs exact rounding of acc * m;
      * channels 4-5 (m = 0.5 and 0.375 exactly, dyadic): exact ties
        acc * m = k + 0.5, where std::round (half away from zero), the
        single-rounding build (half up) and gemmlowp (negative ties toward
        zero in SRDHM) all differ for negative acc.
    Pins down which rule the reference kernel uses."""
    rng = np.random.default_rng(seed)
    in_q = qspec(0.05, 3)
    out_q = qspec(0.05, -5)
    targets = [0.45, 0.3, 0.2, 0.14, 0.5, 0.375]
    wq = np.array([1, 1, 2, 3, 1, 1], dtype=np.int64)
    nc = len(targets)
    # weight scale = target * out_scale / in_scale
    wscales = [f32(t * float(out_q["scale"]) / float(in_q["scale"])) for t in targets]
    if kind == "fully_connected":
        wshape, in_shape = (nc, 1), (1, 1)
    else:
        wshape, in_shape = (nc, 1, 1, 1), (1, 2, 2, 1)
    op = make_weighted_op(rng, kind, [np.zeros(in_shape, np.int8)], in_q, wshape,
                          "none", weights_q=wq.reshape(wshape), weight_scales=wscales,
                          out_q=out_q, stride=(1, 1), padding="valid", bias_std=0.3)
    op["inputs"] = [0]
    assert op["real_multiplier"][4] == 0.5 and op["real_multiplier"][5] == 0.375
    # score every int8 input value by how many (channel, rule pair) disagree
    vals = np.arange(-128, 128, dtype=np.int64)
    acc = (wq.reshape(nc, 1) * (vals[None, :] - in_q["zero_point"])
           + op["bias"].reshape(nc, 1)).T  # [256, nc]
    lo, hi = op["activation_range"]
    preds = [np.clip(requant(acc, op, v) + out_q["zero_point"], lo, hi)
             for v in ("double_round", "fixed_point", "single_rounding")]
    score = ((preds[0] != preds[1]).sum(axis=1) + (preds[0] != preds[2]).sum(axis=1)
             + (preds[1] != preds[2]).sum(axis=1))
    order = np.argsort(-score, kind="stable")
    if kind == "fully_connected":
        chosen = vals[order[:N_SAMPLES]]
        xs = [np.array([[v]], dtype=np.int8) for v in chosen]
        op["output_shape"] = [1, nc]
    else:
        # each sample: 4 pixels with high disagreement, in random order
        pool = vals[order[:48]]
        xs = [rng.permutation(pool)[:4].reshape(1, 2, 2, 1).astype(np.int8)
              for _ in range(N_SAMPLES)]
        op["output_shape"] = [1, 2, 2, nc]
    return {"name": name, "input_shape": list(in_shape), "input_q": in_q,
            "ops": [op], "samples": [{"input": x} for x in xs],
            "note": "rounding probe: large multipliers (channels 0-3) and exact-tie "
                    "dyadic multipliers 0.5 / 0.375 (channels 4-5), samples chosen so "
                    "that gemmlowp fixed-point, single-rounding and exact double "
                    "rounding disagree; see numpy_check"}


def conv_case(name, seed, in_shape, cout, k, stride, padding, act, mode="normal",
              in_zp=None):
    rng = np.random.default_rng(seed)
    in_q = rand_input_q(rng, zp=in_zp)
    xs = rand_int8(rng, in_shape, N_SAMPLES)
    wshape = (cout, k[0], k[1], in_shape[3])
    op = make_weighted_op(rng, "conv_2d", xs, in_q, wshape, act, mode=mode,
                          stride=stride, padding=padding)
    oh, _, _ = compute_padding(stride[0], in_shape[1], k[0], padding)
    ow, _, _ = compute_padding(stride[1], in_shape[2], k[1], padding)
    op["inputs"], op["output_shape"] = [0], [1, oh, ow, cout]
    return {"name": name, "input_shape": list(in_shape), "input_q": in_q,
            "ops": [op], "samples": [{"input": x} for x in xs]}


def pool_op(kind, in_shape, q, filt, stride, padding, inputs):
    oh, _, _ = compute_padding(stride[0], in_shape[1], filt[0], padding)
    ow, _, _ = compute_padding(stride[1], in_shape[2], filt[1], padding)
    op = {"op": kind, "filter": list(filt), "stride": list(stride),
          "padding": padding, "activation": "none", "in_q": q, "output_q": q,
          "inputs": inputs, "output_shape": [1, oh, ow, in_shape[3]]}
    finish_requant(op)
    return op


def pool_case(name, seed, kind, in_shape, filt, stride, padding):
    rng = np.random.default_rng(seed)
    q = rand_input_q(rng)
    xs = rand_int8(rng, in_shape, N_SAMPLES)
    op = pool_op(kind, in_shape, q, filt, stride, padding, [0])
    return {"name": name, "input_shape": list(in_shape), "input_q": q,
            "ops": [op], "samples": [{"input": x} for x in xs]}


def add_case(name, seed, shape, act, mode="normal", range_act=None):
    rng = np.random.default_rng(seed)
    q1 = rand_input_q(rng, 0.01, 0.05)
    q2 = rand_input_q(rng, 0.05, 0.12)  # clearly different scales
    if rng.random() < 0.5:
        q1, q2 = q2, q1
    x1 = rand_int8(rng, shape, N_SAMPLES)
    x2 = rand_int8(rng, shape, N_SAMPLES)
    real = np.stack([(a.astype(np.float64) - q1["zero_point"]) * q1["scale"]
                     + (b.astype(np.float64) - q2["zero_point"]) * q2["scale"]
                     for a, b in zip(x1, x2)])
    out_q = choose_output_q(real, range_act or act, mode)
    op = make_add_op(q1, q2, out_q, act, [0, "in2"])
    op["in2"] = {"shape": list(shape), "q": q2}
    op["output_shape"] = list(shape)
    return {"name": name, "input_shape": list(shape), "input_q": q1,
            "ops": [op],
            "samples": [{"input": a, "input2": b} for a, b in zip(x1, x2)]}


def add_rounding_probe_case(name, seed, shape):
    """ADD with s2 = s1 / 2 and s_out = 2 * s1 (all exact in float32), so that
    the real multipliers are dyadic (0.5, 0.25, 2^-20) and the output
    requantization hits exact ties (y = (x1-z1)/2 + (x2-z2)/4 + z_out) on a
    quarter of the values.  gemmlowp's RoundingDivideByPOT rounds those half
    away from zero, the TFLITE_SINGLE_ROUNDING build would round them half up;
    this pins down which build the interpreter uses for ADD."""
    rng = np.random.default_rng(seed)
    s1 = 0.03125  # 2^-5, so that s1/2 and 2*s1 are exact
    q1 = qspec(s1, -7)
    q2 = qspec(s1 / 2, 9)
    out_q = qspec(2 * s1, 2)
    x1 = rand_int8(rng, shape, N_SAMPLES)
    x2 = rand_int8(rng, shape, N_SAMPLES)
    op = make_add_op(q1, q2, out_q, "none", [0, "in2"])
    assert op["add_params"]["real_output_multiplier"] == 2.0 ** -20
    op["in2"] = {"shape": list(shape), "q": q2}
    op["output_shape"] = list(shape)
    return {"name": name, "input_shape": list(shape), "input_q": q1,
            "ops": [op],
            "samples": [{"input": a, "input2": b} for a, b in zip(x1, x2)],
            "note": "rounding probe: dyadic multipliers, exact ties in the output "
                    "requantization (half away from zero in the reference kernel)"}


def reshape_case(name, seed, in_shape, out_shape):
    rng = np.random.default_rng(seed)
    q = rand_input_q(rng)
    xs = rand_int8(rng, in_shape, N_SAMPLES)
    op = {"op": "reshape", "activation": "none", "in_q": q, "output_q": q,
          "inputs": [0], "output_shape": list(out_shape)}
    finish_requant(op)
    return {"name": name, "input_shape": list(in_shape), "input_q": q,
            "ops": [op], "samples": [{"input": x} for x in xs]}


def propagate(case_input_samples, ops_so_far):
    """int8 values of the last tensor for each sample (numpy model)."""
    outs = []
    for x in case_input_samples:
        tensors = [x]
        for op in ops_so_far:
            tensors.append(run_op_numpy(op, tensors))
        outs.append(tensors[-1])
    return outs


def mlp_chain(name, seed):
    rng = np.random.default_rng(seed)
    in_q = rand_input_q(rng, zp=-10)
    xs = rand_int8(rng, (1, 16), N_SAMPLES)
    dims = [16, 64, 32, 32, 5]
    acts = ["relu", "relu", "relu", "none"]
    ops, cur_q = [], in_q
    for i, act in enumerate(acts):
        cur = propagate(xs, ops)
        op = make_weighted_op(rng, "fully_connected", cur, cur_q,
                              (dims[i + 1], dims[i]), act, w_gain=1.4)
        op["inputs"], op["output_shape"] = [i], [1, dims[i + 1]]
        ops.append(op)
        cur_q = op["output_q"]
    return {"name": name, "input_shape": [1, 16], "input_q": in_q, "ops": ops,
            "samples": [{"input": x} for x in xs]}


def cnn_chain(name, seed):
    rng = np.random.default_rng(seed)
    in_q = rand_input_q(rng, zp=5)
    in_shape = (1, 8, 8, 1)
    xs = rand_int8(rng, in_shape, N_SAMPLES)
    conv = make_weighted_op(rng, "conv_2d", xs, in_q, (4, 3, 3, 1), "relu",
                            stride=(1, 1), padding="same")
    conv["inputs"], conv["output_shape"] = [0], [1, 8, 8, 4]
    q1 = conv["output_q"]
    mp = pool_op("max_pool_2d", (1, 8, 8, 4), q1, (2, 2), (2, 2), "valid", [1])
    rs = {"op": "reshape", "activation": "none", "in_q": q1, "output_q": q1,
          "inputs": [2], "output_shape": [1, 64]}
    finish_requant(rs)
    ops = [conv, mp, rs]
    cur = propagate(xs, ops)
    fc = make_weighted_op(rng, "fully_connected", cur, q1, (10, 64), "none")
    fc["inputs"], fc["output_shape"] = [3], [1, 10]
    ops.append(fc)
    return {"name": name, "input_shape": list(in_shape), "input_q": in_q,
            "ops": ops, "samples": [{"input": x} for x in xs]}


def residual_chain(name, seed):
    rng = np.random.default_rng(seed)
    in_q = rand_input_q(rng, 0.02, 0.04, zp=12)
    xs = rand_int8(rng, (1, 8), N_SAMPLES)
    fc1 = make_weighted_op(rng, "fully_connected", xs, in_q, (8, 8), "relu",
                           w_gain=1.2)
    fc1["inputs"], fc1["output_shape"] = [0], [1, 8]
    t1 = propagate(xs, [fc1])
    # float value of t1 + t0 on the samples -> ADD output quantization
    q1 = fc1["output_q"]
    real = np.stack([(a.astype(np.float64) - q1["zero_point"]) * q1["scale"]
                     + (x.astype(np.float64) - in_q["zero_point"]) * in_q["scale"]
                     for a, x in zip(t1, xs)])
    add = make_add_op(q1, in_q, choose_output_q(real, "none"), "none", [1, 0])
    add["output_shape"] = [1, 8]
    ops = [fc1, add]
    cur = propagate(xs, ops)
    fc2 = make_weighted_op(rng, "fully_connected", cur, add["output_q"], (3, 8),
                           "none")
    fc2["inputs"], fc2["output_shape"] = [2], [1, 3]
    ops.append(fc2)
    return {"name": name, "input_shape": [1, 8], "input_q": in_q, "ops": ops,
            "samples": [{"input": x} for x in xs]}


def all_groups():
    fc = [
        fc_case("fc_16x64_none", 101, 16, 64, "none"),
        fc_case("fc_64x32_relu", 102, 64, 32, "relu"),
        fc_case("fc_32x5_relu6", 103, 32, 5, "relu6", gain=1.8),
        fc_case("fc_7x3_none_saturating", 104, 7, 3, "none", mode="saturate"),
        fc_case("fc_1x1_none", 105, 1, 1, "none"),
        fc_case("fc_16x8_relu_zp_min", 106, 16, 8, "relu", in_zp=-128),
        fc_case("fc_24x12_relu_clamp_at_zp", 109, 24, 12, "relu", range_act="none"),
        fc_case("fc_32x16_relu6_saturating", 107, 32, 16, "relu6", mode="saturate", gain=2.5),
        rounding_probe_case("fc_rounding_probe_1x6", 108, "fully_connected"),
    ]
    conv = [
        conv_case("conv_8x8x1_k3_s1_same_4", 201, (1, 8, 8, 1), 4, (3, 3), (1, 1), "same", "none"),
        conv_case("conv_8x8x3_k3_s2_valid_8_relu", 202, (1, 8, 8, 3), 8, (3, 3), (2, 2), "valid", "relu"),
        conv_case("conv_5x7x2_k2x3_s1x2_same_3", 203, (1, 5, 7, 2), 3, (2, 3), (1, 2), "same", "none"),
        conv_case("conv_8x8x2_k3_s2_same_4_relu6", 204, (1, 8, 8, 2), 4, (3, 3), (2, 2), "same", "relu6"),
        conv_case("conv_6x6x2_k3_s1_valid_5_saturating", 205, (1, 6, 6, 2), 5, (3, 3), (1, 1), "valid", "none", mode="saturate"),
        rounding_probe_case("conv_rounding_probe_1x1_6", 206, "conv_2d"),
    ]
    pool = [
        pool_case("max_pool_8x8x4_k2_s2_valid", 301, "max_pool_2d", (1, 8, 8, 4), (2, 2), (2, 2), "valid"),
        pool_case("max_pool_5x5x3_k3_s2_same", 302, "max_pool_2d", (1, 5, 5, 3), (3, 3), (2, 2), "same"),
        pool_case("avg_pool_8x8x4_k2_s2_valid", 303, "average_pool_2d", (1, 8, 8, 4), (2, 2), (2, 2), "valid"),
        pool_case("avg_pool_5x5x3_k3_s2_same", 304, "average_pool_2d", (1, 5, 5, 3), (3, 3), (2, 2), "same"),
        pool_case("avg_pool_7x6x2_k3_s3_same", 305, "average_pool_2d", (1, 7, 6, 2), (3, 3), (3, 3), "same"),
        pool_case("avg_pool_4x5x2_k2x3_s1_same", 306, "average_pool_2d", (1, 4, 5, 2), (2, 3), (1, 1), "same"),
    ]
    add = [
        add_case("add_4x4x3_none", 401, (1, 4, 4, 3), "none"),
        add_case("add_4x4x3_relu", 402, (1, 4, 4, 3), "relu"),
        add_case("add_4x4x3_relu_clamp_at_zp", 405, (1, 4, 4, 3), "relu", range_act="none"),
        add_case("add_4x4x3_none_saturating", 403, (1, 4, 4, 3), "none", mode="saturate"),
        add_rounding_probe_case("add_rounding_probe_ties", 404, (1, 4, 4, 3)),
    ]
    reshape = [reshape_case("reshape_2x2x3_to_12", 501, (1, 2, 2, 3), (1, 12))]
    chains = [
        mlp_chain("mlp_16_64_32_32_5_relu", 601),
        cnn_chain("cnn_conv4_relu_maxpool_flatten_fc10", 602),
        residual_chain("residual_fc8_relu_add_fc3", 603),
    ]
    return {"fully_connected": fc, "conv_2d": conv, "pool": pool, "add": add,
            "reshape": reshape, "chains": chains}


# --------------------------------------------------------------------------
# Running the interpreter and checking the numpy re-implementation.
# --------------------------------------------------------------------------

def make_interpreter(model_bytes, resolver=OpResolverType.BUILTIN_REF,
                     preserve=True):
    interp = Interpreter(model_content=model_bytes,
                         experimental_op_resolver_type=resolver,
                         experimental_preserve_all_tensors=preserve,
                         num_threads=1)
    interp.allocate_tensors()
    return interp


def run_case(case, resolver=OpResolverType.BUILTIN_REF):
    """Run every sample through the interpreter; returns the model bytes and
    fills sample['tensors'] (all case tensors, int8) and sample['output']."""
    model_bytes, tids = build_model(case)
    interp = make_interpreter(model_bytes, resolver)
    # The execution plan must be exactly our ops: a delegate (e.g. XNNPACK,
    # which the default resolver applies) would show up as an extra
    # "DELEGATE" node here.
    ops_details = interp._get_ops_details()  # pylint: disable=protected-access
    names = [d["op_name"] for d in ops_details]
    expected = [OPS[op["op"]][0] for op in case["ops"]]
    inv = {v: k for k, v in vars(tflite.BuiltinOperator).items()
           if not k.startswith("_")}
    assert names == [inv[e] for e in expected], (names, expected)
    in_idx = {d["name"]: d["index"] for d in interp.get_input_details()}
    results = []
    for s in case["samples"]:
        interp.set_tensor(in_idx["input"], s["input"].reshape(case["input_shape"]))
        if "input2" in s:
            interp.set_tensor(in_idx["input2"],
                              s["input2"].reshape(case["ops"][0]["in2"]["shape"]))
        interp.invoke()
        results.append([interp.get_tensor(t).copy() for t in tids])
    return model_bytes, names, results


def check_case(case, results):
    """Compare the numpy re-implementation with the interpreter, op by op
    (each op fed with the interpreter's own input tensors) and end to end.
    Returns {op_index: {variant: n_mismatching_values}}."""
    report = {}
    for i, op in enumerate(case["ops"]):
        variants = {"fully_connected": ["double_round", "fixed_point", "single_rounding"],
                    "conv_2d": ["fixed_point", "single_rounding", "double_round"],
                    "add": ["fixed_point", "single_rounding"]}.get(op["op"], [None])
        rep = {}
        for v in variants:
            bad = 0
            for s, tens in zip(case["samples"], results):
                tensors = list(tens)
                if op["op"] == "add" and op.get("in2") is not None:
                    tensors = [tens[0], s["input2"]] + list(tens[1:])
                    op_eff = dict(op, inputs=[0, 1])
                    pred = run_op_numpy(op_eff, tensors, v)
                else:
                    pred = run_op_numpy(op, tensors, v)
                bad += int((pred.astype(np.int64) != tens[i + 1].astype(np.int64)).sum())
            rep[v or "exact"] = bad
        report[i] = rep
    # end to end with the rounding rule documented for each op
    e2e_bad = 0
    for s, tens in zip(case["samples"], results):
        tensors = [s["input"].reshape(case["input_shape"])]
        for op in case["ops"]:
            if op["op"] == "add" and op.get("in2") is not None:
                t = run_op_numpy(dict(op, inputs=[0, 1]),
                                 [tensors[0], s["input2"].reshape(op["in2"]["shape"])])
            else:
                t = run_op_numpy(op, tensors)
            tensors.append(t)
        e2e_bad += int((tensors[-1].astype(np.int64) != tens[-1].astype(np.int64)).sum())
    report["end_to_end"] = e2e_bad
    return report


# --------------------------------------------------------------------------
# JSON output.
# --------------------------------------------------------------------------

def q_json(q):
    return {"scale": q["scale"], "scale_bits": f32_bits(q["scale"]),
            "zero_point": q["zero_point"]}


def op_json(op, index):
    kind = op["op"]
    j = {"op": kind}
    if kind == "add" and op.get("in2") is not None:
        j["inputs"] = [int(op["inputs"][0])]  # second operand: see "other"
    else:
        j["inputs"] = [int(v) for v in op["inputs"]]
    j["input"] = q_json(op["in_q"])
    if kind in ("fully_connected", "conv_2d"):
        w = op["weights"]
        j["weights_shape"] = list(w.shape)
        j["weights"] = [int(v) for v in w.reshape(-1)]
        j["weight_scales"] = [float(s) for s in op["weight_scales"]]
        j["weight_scales_bits"] = [f32_bits(s) for s in op["weight_scales"]]
        j["weight_zero_point"] = 0
        j["quantized_dimension"] = 0
        j["bias"] = [int(v) for v in op["bias"]]
        j["bias_scales"] = [f32(float(op["in_q"]["scale"]) * float(s))
                            for s in op["weight_scales"]]
    if kind == "conv_2d":
        j["stride"] = list(op["stride"])
        j["dilation"] = [1, 1]
        j["padding"] = op["padding"]
        j["filter"] = [int(op["weights"].shape[1]), int(op["weights"].shape[2])]
    if kind in ("max_pool_2d", "average_pool_2d"):
        j["stride"] = list(op["stride"])
        j["padding"] = op["padding"]
        j["filter"] = list(op["filter"])
    if kind in ("conv_2d", "max_pool_2d", "average_pool_2d"):
        ih, iw = op["input_shape"][1], op["input_shape"][2]
        kh, kw = j["filter"]
        _, pt, pb = compute_padding(j["stride"][0], ih, kh, j["padding"])
        _, pl, pr = compute_padding(j["stride"][1], iw, kw, j["padding"])
        j["pad"] = {"top": pt, "bottom": pb, "left": pl, "right": pr}
    if kind == "average_pool_2d":
        j["divisor"] = "count of in-image taps (padding excluded)"
        j["rounding"] = "acc>0 ? (acc+n/2)/n : (acc-n/2)/n in C integer division on raw int8 values"
    if kind == "add":
        if op.get("in2") is not None:
            j["other"] = {"graph_input": "input2", "shape": op["in2"]["shape"],
                          **q_json(op["in2"]["q"])}
        else:
            j["other"] = int(op["inputs"][1])
            j["other_input"] = q_json(op["in2_q"])
        p = op["add_params"]
        j["requant"] = {
            "left_shift": p["left_shift"],
            "input1": {"real_multiplier": p["real_input1_multiplier"],
                       "real_multiplier_bits": f64_bits_hex(p["real_input1_multiplier"]),
                       "quantized_multiplier": p["input1_multiplier"],
                       "shift": p["input1_shift"]},
            "input2": {"real_multiplier": p["real_input2_multiplier"],
                       "real_multiplier_bits": f64_bits_hex(p["real_input2_multiplier"]),
                       "quantized_multiplier": p["input2_multiplier"],
                       "shift": p["input2_shift"]},
            "output": {"real_multiplier": p["real_output_multiplier"],
                       "real_multiplier_bits": f64_bits_hex(p["real_output_multiplier"]),
                       "quantized_multiplier": p["output_multiplier"],
                       "shift": p["output_shift"]},
            "rounding": "fixed_point",
        }
    if kind in ("fully_connected", "conv_2d"):
        j["requant"] = {
            "real_multiplier": op["real_multiplier"],
            "real_multiplier_bits": [f64_bits_hex(m) for m in op["real_multiplier"]],
            "quantized_multiplier": op["quantized_multiplier"],
            "shift": op["shift"],
            "rounding": ROUNDING[kind],
        }
    j["activation"] = op.get("activation", "none")
    j["activation_range"] = list(op["activation_range"])
    j["output"] = q_json(op["output_q"])
    j["output_shape"] = list(op["output_shape"])
    return j


def case_json(case, results, check):
    c = {"name": case["name"]}
    if "note" in case:
        c["note"] = case["note"]
    c["input_shape"] = list(case["input_shape"])
    c["input"] = q_json(case["input_q"])
    # annotate input shapes of ops for padding metadata
    shapes = [case["input_shape"]] + [op["output_shape"] for op in case["ops"]]
    ops = []
    for i, op in enumerate(case["ops"]):
        op = dict(op, input_shape=shapes[op["inputs"][0]])
        ops.append(op_json(op, i))
    c["ops"] = ops
    chain = len(case["ops"]) > 1
    samples = []
    for s, tens in zip(case["samples"], results):
        sj = {"input": [int(v) for v in s["input"].reshape(-1)]}
        if "input2" in s:
            sj["input2"] = [int(v) for v in s["input2"].reshape(-1)]
        if chain:
            sj["intermediates"] = [[int(v) for v in t.reshape(-1)] for t in tens[1:-1]]
        sj["output"] = [int(v) for v in tens[-1].reshape(-1)]
        samples.append(sj)
    c["samples"] = samples
    c["numpy_check"] = {"per_op_mismatches": [check[i] for i in range(len(case["ops"]))],
                        "end_to_end_mismatches": check["end_to_end"]}
    return c


def dumps(obj, indent=0):
    """JSON with one key per line but lists of scalars kept on one line."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [pad + " " + json.dumps(k) + ": " + dumps(v, indent + 1)
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return json.dumps(obj)
        items = [pad + " " + dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(obj, float):
        assert math.isfinite(obj)
        return repr(obj)
    return json.dumps(obj)


ROUNDING_NOTES = {
    "fully_connected": (
        "reference_integer_ops::FullyConnected[PerChannel] float-scale overload: "
        "acc = sum(w * (x - in_zp)) + bias (int32); "
        "y = (int32)std::round((double)acc * ((double)in_scale * (double)w_scale[c] / (double)out_scale)) "
        "(round half away from zero); y += out_zp; clamp to activation_range. "
        "quantized_multiplier/shift are recorded for reference but NOT used by this kernel."),
    "conv_2d": (
        "reference_integer_ops::ConvPerChannel: acc int32, "
        "y = MultiplyByQuantizedMultiplier(acc, qm[c], shift[c]) = "
        "RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc << max(shift,0), qm), max(-shift,0)); "
        "y += out_zp; clamp to activation_range. Out-of-image taps are skipped (zero in offset space)."),
    "add": (
        "reference_integer_ops::AddFunc: a = (x1 - zp1) << 20, b = (x2 - zp2) << 20; "
        "a' = RoundingDivideByPOT(SRDHM(a, m1), -s1); b' likewise; "
        "y = RoundingDivideByPOT(SRDHM(a' + b', mo), -so) + out_zp; clamp."),
    "max_pool_2d": "max over in-image taps; input and output share scale/zero point; clamp to activation_range",
    "average_pool_2d": (
        "sum of raw int8 values over in-image taps, n = number of in-image taps "
        "(padding excluded); y = acc > 0 ? (acc + n/2)/n : (acc - n/2)/n with C++ "
        "truncating integer division (= round half away from zero); clamp"),
    "reshape": "byte copy; output shares the input's scale/zero point",
}


def group_json(group, cases_out):
    kinds = sorted({op["op"] for c in cases_out for op in c["ops"]})
    return {
        "generator": GENERATOR,
        "litert": ai_edge_litert.__version__,
        "kernels": "BUILTIN_REF",
        "layout": LAYOUT,
        "schema_bindings": "tflite==%s (PyPI)" % tflite.__version__,
        "numpy": np.__version__,
        "conventions": (
            "Tensor indices in ops[].inputs: 0 = case input, k = output of ops[k-1]. "
            "Arrays are flattened row-major (NHWC / [out, kh, kw, in]). "
            "Scales are float32: 'scale' is the decimal of the exact float32 value, "
            "'scale_bits' its IEEE-754 bit pattern. real_multiplier is the double "
            "(double)in_scale*(double)w_scale/(double)out_scale (for ADD: see add.cc), "
            "'real_multiplier_bits' its IEEE-754 binary64 bits as hex. "
            "quantized_multiplier/shift = tflite::QuantizeMultiplier(real_multiplier) "
            "(default double-rounding build; shift > 0 is a left shift). "
            "activation_range = CalculateActivationRangeQuantized (relu: [max(-128, out_zp), 127]; "
            "relu6: [max(-128, out_zp), min(127, out_zp + round_f32(6.0f / out_scale))]). "
            "samples[].output is what the LiteRT interpreter produced; chain samples also "
            "hold 'intermediates' = outputs of ops[0..n-2]. numpy_check = number of "
            "values where this script's numpy re-implementation disagreed with the "
            "interpreter, per rounding variant (must be 0 for the variant in requant.rounding)."),
        "rounding": {k: ROUNDING_NOTES[k] for k in kinds},
        "cases": cases_out,
    }


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "tests", "fixtures", "int8"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=default_out)
    ap.add_argument("--compare-optimized", action="store_true",
                    help="also run every model with the optimized builtin kernels "
                         "(BUILTIN_WITHOUT_DEFAULT_DELEGATES) and report where they differ "
                         "from the reference kernels (diagnostic only)")
    args = ap.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    if ai_edge_litert.__version__ != PINNED_LITERT:
        print("WARNING: ai_edge_litert %s is installed, the fixtures were made with %s "
              "(requirements.txt)" % (ai_edge_litert.__version__, PINNED_LITERT),
              file=sys.stderr)

    failures = []
    for group, cases in all_groups().items():
        cases_out = []
        for case in cases:
            model_bytes, names, results = run_case(case)
            check = check_case(case, results)
            for i, op in enumerate(case["ops"]):
                key = ROUNDING.get(op["op"], "exact")
                if check[i][key] != 0:
                    failures.append((case["name"], i, op["op"], check[i]))
            if check["end_to_end"] != 0:
                failures.append((case["name"], "end_to_end", check["end_to_end"]))
            line = "%-40s ops=%s numpy mismatches per variant: %s e2e=%d" % (
                case["name"], ",".join(names),
                "; ".join("%d:%s" % (i, check[i]) for i in range(len(case["ops"]))),
                check["end_to_end"])
            if args.compare_optimized:
                _, _, opt = run_case(case, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
                diff = sum(int((a[-1].astype(int) != b[-1].astype(int)).sum())
                           for a, b in zip(results, opt))
                line += " | optimized-kernel output differs in %d values" % diff
            print(line)
            cases_out.append(case_json(case, results, check))
        path = os.path.join(args.out_dir, group + ".json")
        with open(path, "w") as f:
            f.write(dumps(group_json(group, cases_out)) + "\n")
        print("wrote %s (%d bytes, %d cases)" % (path, os.path.getsize(path), len(cases_out)))

    if failures:
        print("FAILED: numpy re-implementation disagrees with the interpreter:", file=sys.stderr)
        for f in failures:
            print("  ", f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
