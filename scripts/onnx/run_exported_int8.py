"""onnxruntime's outputs on the int8 twins nn exports as QDQ models (tests/fixtures/onnx_int8/).

nn writes the .onnx files (`NN_ONNX_EXPORT=overwrite cargo test --test onnx_int8`); this
script, the oracle, checks each with onnx.checker (full check), runs it in onnxruntime (CPU
execution provider, default graph optimizations) on 64 seeded inputs of a dynamic batch, and
writes `<name>.json`:

- `ort_outputs`: the graph's output (the f32 Softmax of the dequantized logits);
- `ort_logits`: the dequantized logits, from the same graph cut before its final
  Softmax/Sigmoid (the DequantizeLinear of the logits becomes the output: a second output, or a
  QuantizeLinear output, would stop onnxruntime from fusing the last layer);
- `ort_logits_int8`: the int8 logits, `rint(logits / scale) + zero_point` with the scale and
  zero point of that DequantizeLinear (exact: the logits are `(q - zero_point) * scale`);
- `fused_ops`: the operators of onnxruntime's optimized graph (`optimized_model_filepath`),
  which show that every layer ran as an integer kernel (QLinearConv, QGemm,
  QLinearAveragePool, ...), none in f32.

tests/onnx_int8.rs compares the twin with those outputs. Versions: scripts/onnx/requirements.txt.

    /work/venv-onnx/bin/python scripts/onnx/run_exported_int8.py
"""

import json
import pathlib
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

DIR = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "onnx_int8"
COUNT = 64
# Ops of f32 arithmetic that must not survive optimization (they would mean an unfused layer).
FLOAT_LAYERS = {"Conv", "Gemm", "MatMul", "AveragePool", "Add"}


def cut_before_head(model):
    """The model with its final Softmax/Sigmoid removed: the dequantized logits as output."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    last = m.graph.node[-1]
    if last.op_type not in ("Softmax", "Sigmoid"):
        return m, last.output[0]
    logits = last.input[0]
    del m.graph.node[-1]
    for n in m.graph.node:
        for i, o in enumerate(n.output):
            if o == logits:
                n.output[i] = "logits"
    out = m.graph.output[0]
    out.name = "logits"
    return m, "logits"


def run(model, x):
    """Runs `model` on `x`; returns the outputs and the ops of the optimized graph."""
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.optimized_model_filepath = str(pathlib.Path(tmp) / "opt.onnx")
        so.log_severity_level = 3
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        (y,) = sess.run(None, {"input": x})
        opt = onnx.load(so.optimized_model_filepath)
    return y, [n.op_type for n in opt.graph.node]


def main():
    for path in sorted(DIR.glob("*.onnx")):
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        inp = model.graph.input[0]
        assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim[1:]]
        rng = np.random.default_rng(sum(map(ord, path.stem)))
        # Half the inputs in the calibration range, half wider (some saturate the input).
        x = np.concatenate([
            rng.uniform(-2.0, 2.0, size=[COUNT // 2] + dims),
            rng.uniform(-3.0, 3.0, size=[COUNT // 2] + dims),
        ]).astype(np.float32)
        y, fused = run(model, x)
        cut, logits_name = cut_before_head(model)
        logits, fused_cut = run(cut, x)
        # The DequantizeLinear of the logits: its scale and zero point give the int8 logits.
        dq = next(n for n in cut.graph.node if logits_name in n.output)
        assert dq.op_type == "DequantizeLinear", dq.op_type
        inits = {t.name: numpy_helper.to_array(t) for t in cut.graph.initializer}
        scale, zero = inits[dq.input[1]], inits[dq.input[2]]
        q = np.rint(logits / scale).astype(np.int64) + int(zero)
        assert np.array_equal(((q - int(zero)).astype(np.float32) * scale), logits)
        leftover = sorted(FLOAT_LAYERS & set(fused_cut))
        assert not leftover, f"{path.name}: onnxruntime left {leftover} in f32: {fused_cut}"
        out = {
            "generator": {
                "script": "scripts/onnx/run_exported_int8.py",
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "numpy": np.__version__,
                "providers": ["CPUExecutionProvider"],
                "graph_optimization_level": "ORT_ENABLE_ALL (default)",
            },
            "model": path.name,
            "opset": model.opset_import[0].version,
            "operators": sorted({n.op_type for n in model.graph.node}),
            "fused_ops": fused,
            "count": COUNT,
            "inputs": [float(v) for v in x.reshape(-1)],
            "ort_outputs": [float(v) for v in y.reshape(-1)],
            "ort_logits": [float(v) for v in logits.reshape(-1)],
            "ort_logits_int8": [int(v) for v in q.reshape(-1)],
        }
        (DIR / f"{path.stem}.json").write_text(json.dumps(out) + "\n")
        print(f"{path.name}: {len(model.graph.node)} nodes -> optimized {fused}")


if __name__ == "__main__":
    main()
