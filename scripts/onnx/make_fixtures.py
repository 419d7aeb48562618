#!/usr/bin/env python3
"""Write the ONNX import/export fixtures in tests/fixtures/onnx/ with PyTorch and onnxruntime.

PyTorch is the independent oracle: it builds each model with fixed seeds, exports it with
`torch.onnx.export` (the TorchScript-based exporter, `dynamo=False`: the torch.export-based one
needs the extra package `onnxscript`), and computes the reference outputs. onnxruntime runs the
written file on the same inputs as a second opinion. Nothing here comes from the Rust code, and the
Rust tests never regenerate these files. See scripts/onnx/README.md (how to run it, the JSON
schema, the versions, and the op list of every graph, which this script prints).

Models (input CHW, dynamic batch axis "batch", opset 17, eval mode):
  m1_jet_mlp            16 -> 64 -> 32 -> 32 -> 5, ReLU, Softmax (hls4ml jet tagger, M1)
  m2_digits_cnn         1x8x8 digits CNN (M2)
  m3_lenet5             1x28x28 LeNet-5 (M3)
  resnet_bn             1x8x8 conv + batch norm + one residual block + AvgPool2d; exported with
                        the default constant folding, which folds each BatchNormalization into
                        the Conv before it
  resnet_bn_unfolded    the same model and weights, exported with do_constant_folding=False:
                        the BatchNormalization nodes stay
  m2_asym_pads          m2_digits_cnn's file edited with onnx.helper: conv1 pads [2, 1, 0, 1]
                        (top 2, left 1, bottom 0, right 1) and the first MaxPool turned into
                        kernel 3, stride 2, auto_pad SAME_UPPER (no pads attribute: 0 before,
                        1 after). PyTorch cannot export either; its reference outputs come from
                        the same weights run with explicit F.pad, and onnxruntime runs the file.
"""

import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnx.helper
import onnx.numpy_helper
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx")
OPSET = 17
SAMPLES = 16
SEED = 20260519
# Outputs of PyTorch and onnxruntime must agree to this (both are f32).
MAX_DIFF = 1e-5
ATTRS_SHOWN = ("Conv", "MaxPool", "AveragePool", "Gemm", "Flatten", "Reshape", "BatchNormalization",
               "Softmax")


def versions():
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
    }


# ---------------------------------------------------------------- models


def mlp_m1():
    return nn.Sequential(
        nn.Linear(16, 64), nn.ReLU(),
        nn.Linear(64, 32), nn.ReLU(),
        nn.Linear(32, 32), nn.ReLU(),
        nn.Linear(32, 5), nn.Softmax(dim=1),
    )


def cnn_m2():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10), nn.Softmax(dim=1),
    )


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10), nn.Softmax(dim=1),
    )


class ResidualBn(nn.Module):
    """1x8x8 -> conv-bn-relu -> [conv-bn-relu-conv-bn] + identity -> relu -> avgpool -> linear."""

    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(128, 10)
        self.softmax = nn.Softmax(dim=1)

    def body(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        x = F.relu(x + y)
        return self.fc(self.flatten(self.pool(x)))

    def forward(self, x):
        return self.softmax(self.body(x))


def logits_of(model, x):
    """The model's output before its final Softmax."""
    if isinstance(model, ResidualBn):
        return model.body(x)
    return model[:-1](x)


def spread_logits(model, x):
    """Scale the last Linear so that the logits have a standard deviation of about 2.5.

    With PyTorch's default initialization the logits are all close to 0 and the softmax is
    nearly uniform, which would make a parity test on probabilities weak."""
    last = model.fc if isinstance(model, ResidualBn) else model[-2]
    with torch.no_grad():
        scale = 2.5 / float(logits_of(model, x).std())
        last.weight.mul_(scale)
        last.bias.mul_(scale)
    return scale


def randomize_bn(model, gen):
    """Non-trivial affine parameters and running statistics for every BatchNorm2d."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.3 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))


# ---------------------------------------------------------------- inputs


def image_inputs(rng, shape):
    """Pixels k/16 for k in 0..=16 (the digits data's 17 levels): exact and short in JSON."""
    return (rng.integers(0, 17, size=(SAMPLES,) + shape) / 16.0).astype(np.float32)


def feature_inputs(rng, n):
    """N(0, 1) features rounded to multiples of 1/1024: exact in f32 and short in JSON."""
    return (np.round(rng.standard_normal((SAMPLES, n)) * 1024.0) / 1024.0).astype(np.float32)


# ---------------------------------------------------------------- export and checks


def export(model, x, path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation warning
        torch.onnx.export(
            model, (torch.from_numpy(x[:1]),), path,
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            **kwargs,
        )


def run_ort(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    whole = sess.run(None, {"input": x})[0]
    # The batch axis is dynamic: one sample at a time must give the same numbers.
    single = np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
    assert np.max(np.abs(whole - single)) <= 1e-6, "onnxruntime batch vs single differ"
    return whole


def attr_value(a):
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, onnx.TensorProto):
        arr = onnx.numpy_helper.to_array(v)
        return {"tensor": {"dtype": str(arr.dtype), "shape": list(arr.shape),
                           "data": arr.ravel().tolist() if arr.size <= 16 else "..."}}
    if isinstance(v, list):
        return [x.decode() if isinstance(x, bytes) else x for x in v]
    if isinstance(v, float):
        return float(np.float32(v))
    return v


def describe(model_proto):
    """The graph's nodes, initializer shapes and int64 initializer values (e.g. Reshape shapes)."""
    g = model_proto.graph
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for n in g.node:
        nodes.append({
            "name": n.name,
            "op_type": n.op_type,
            "inputs": list(n.input),
            "outputs": list(n.output),
            "attributes": {a.name: attr_value(a) for a in n.attribute},
        })
    return {
        "opset": {(o.domain or "ai.onnx"): o.version for o in model_proto.opset_import},
        "ir_version": model_proto.ir_version,
        "inputs": [vi_desc(v) for v in g.input],
        "outputs": [vi_desc(v) for v in g.output],
        "nodes": nodes,
        "initializers": {k: {"dtype": str(v.dtype), "shape": list(v.shape),
                             **({"data": v.ravel().tolist()} if v.dtype == np.int64 else {})}
                         for k, v in inits.items()},
    }


def vi_desc(v):
    t = v.type.tensor_type
    dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]
    return {"name": v.name, "elem_type": onnx.TensorProto.DataType.Name(t.elem_type), "dims": dims}


def print_ops(name, desc):
    print("== %s: opset %s, ir_version %d, input %s, output %s" % (
        name, desc["opset"], desc["ir_version"], desc["inputs"][0]["dims"],
        desc["outputs"][0]["dims"]))
    print("   ops: " + " ".join(n["op_type"] for n in desc["nodes"]))
    for n in desc["nodes"]:
        if n["op_type"] in ATTRS_SHOWN or n["op_type"] == "Identity":
            extra = ""
            if n["op_type"] in ("Reshape", "Identity"):
                extra = " inputs %s" % n["inputs"]
                for i in n["inputs"]:
                    init = desc["initializers"].get(i)
                    if init is not None and "data" in init:
                        extra += " %s=%s" % (i, init["data"])
            print("   %-20s %-18s %s%s" % (n["name"], n["op_type"], n["attributes"], extra))


def tensor(arr):
    arr = np.asarray(arr, dtype=np.float32)
    return {"shape": list(arr.shape), "data": [float(v) for v in arr.ravel()]}


def write_json(name, x, torch_logits, torch_out, ort_out, desc, notes):
    diff = float(np.max(np.abs(torch_out - ort_out)))
    assert diff <= MAX_DIFF, "%s: torch vs onnxruntime differ by %g" % (name, diff)
    doc = {
        "generator": {"script": "scripts/onnx/make_fixtures.py", "seed": SEED,
                      "exporter": "torch.onnx.export(dynamo=False), TorchScript-based",
                      **versions()},
        "model": name,
        "onnx_file": name + ".onnx",
        "notes": notes,
        "input_shape": list(x.shape[1:]),
        "inputs": tensor(x),
        "torch_logits": tensor(torch_logits),
        "torch_outputs": tensor(torch_out),
        "ort_outputs": tensor(ort_out),
        "max_abs_diff_torch_ort": diff,
        "graph": desc,
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    return diff


def make(name, model, x, notes, **export_kwargs):
    path = os.path.join(OUT, name + ".onnx")
    model.eval()
    export(model, x, path, **export_kwargs)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        torch_out = model(xt).numpy()
        torch_logits = logits_of(model, xt).numpy()
    ort_out = run_ort(path, x)
    desc = describe(proto)
    diff = write_json(name, x, torch_logits, torch_out, ort_out, desc, notes)
    print_ops(name, desc)
    print("   %d bytes, max |torch - ort| = %.3g" % (os.path.getsize(path), diff))
    return proto


def asym_pads(m2_model, m2_proto, x):
    """m2_digits_cnn with conv1 pads [2, 1, 0, 1] and the first MaxPool SAME_UPPER 3x3/2."""
    name = "m2_asym_pads"
    proto = onnx.ModelProto()
    proto.CopyFrom(m2_proto)
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    pools = [n for n in proto.graph.node if n.op_type == "MaxPool"]
    conv1, pool1 = convs[0], pools[0]
    for a in conv1.attribute:
        if a.name == "pads":
            del a.ints[:]
            a.ints.extend([2, 1, 0, 1])  # [top, left, bottom, right]
    kept = [a for a in pool1.attribute if a.name not in ("pads", "kernel_shape", "strides")]
    del pool1.attribute[:]
    pool1.attribute.extend(kept)
    pool1.attribute.extend([
        onnx.helper.make_attribute("kernel_shape", [3, 3]),
        onnx.helper.make_attribute("strides", [2, 2]),
        onnx.helper.make_attribute("auto_pad", "SAME_UPPER"),
    ])
    proto.producer_name = "pytorch, edited by scripts/onnx/make_fixtures.py"
    onnx.checker.check_model(proto, full_check=True)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(proto, path)

    # PyTorch reference with explicit padding and the same weights.
    c1, c2, fc = m2_model[0], m2_model[3], m2_model[7]

    def logits(xt):
        h = F.pad(xt, (1, 1, 2, 0))  # (left, right, top, bottom)
        h = F.relu(F.conv2d(h, c1.weight, c1.bias))
        # SAME_UPPER, 8 -> ceil(8 / 2) = 4: total pad (4 - 1) * 2 + 3 - 8 = 1, all of it after.
        h = F.max_pool2d(F.pad(h, (0, 1, 0, 1), value=float("-inf")), 3, 2)
        h = F.relu(F.conv2d(h, c2.weight, c2.bias, padding=1))
        h = F.max_pool2d(h, 2)
        return fc(torch.flatten(h, 1))

    with torch.no_grad():
        xt = torch.from_numpy(x)
        torch_logits = logits(xt).numpy()
        torch_out = torch.softmax(logits(xt), dim=1).numpy()
    ort_out = run_ort(path, x)
    desc = describe(proto)
    notes = ("m2_digits_cnn.onnx edited with onnx.helper (same weights): conv1 pads [2, 1, 0, 1] "
             "(ONNX order [top, left, bottom, right]); first MaxPool kernel 3x3, stride 2, "
             "auto_pad SAME_UPPER (pad 0 before, 1 after). torch_outputs come from the same "
             "weights with explicit F.pad (-inf for the pool); ort_outputs run this file.")
    diff = write_json(name, x, torch_logits, torch_out, ort_out, desc, notes)
    print_ops(name, desc)
    print("   %d bytes, max |torch - ort| = %.3g" % (os.path.getsize(path), diff))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    print("versions:", versions())

    torch.manual_seed(SEED + 1)
    m1 = mlp_m1().eval()
    x1 = feature_inputs(rng, 16)
    s = spread_logits(m1, torch.from_numpy(x1))
    make("m1_jet_mlp", m1, x1, "M1 jet tagger MLP 16-64-32-32-5; last Linear scaled by %.4g" % s)

    torch.manual_seed(SEED + 2)
    m2 = cnn_m2().eval()
    x2 = image_inputs(rng, (1, 8, 8))
    s = spread_logits(m2, torch.from_numpy(x2))
    m2_proto = make("m2_digits_cnn", m2, x2, "M2 digits CNN; last Linear scaled by %.4g" % s)

    torch.manual_seed(SEED + 3)
    m3 = lenet5().eval()
    x3 = image_inputs(rng, (1, 28, 28))
    s = spread_logits(m3, torch.from_numpy(x3))
    make("m3_lenet5", m3, x3, "M3 LeNet-5; last Linear scaled by %.4g" % s)

    torch.manual_seed(SEED + 4)
    r = ResidualBn()
    randomize_bn(r, torch.Generator().manual_seed(SEED + 5))
    r.eval()
    xr = image_inputs(rng, (1, 8, 8))
    s = spread_logits(r, torch.from_numpy(xr))
    folded = make("resnet_bn", r, xr,
         "conv-bn-relu, residual block [conv-bn-relu-conv-bn] + identity, relu, AvgPool2d(2), "
         "Linear(128, 10), Softmax; BatchNorm2d in eval mode with random running statistics; "
         "exported with default constant folding, which folds each BatchNormalization into its "
         "Conv; last Linear scaled by %.4g" % s)
    unfolded = make("resnet_bn_unfolded", r, xr,
         "resnet_bn's model and weights exported with do_constant_folding=False: the "
         "BatchNormalization nodes stay",
         do_constant_folding=False)

    bn_count = lambda p: sum(n.op_type == "BatchNormalization" for n in p.graph.node)
    assert bn_count(folded) == 0 and bn_count(unfolded) == 3, "batch-norm folding changed"
    asym_pads(m2, m2_proto, x2)
    print("all checks passed")


if __name__ == "__main__":
    main()
