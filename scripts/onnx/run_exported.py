"""onnxruntime's outputs on the models nn exports (tests/fixtures/onnx_export/*.onnx).

nn writes the .onnx files (`NN_ONNX_EXPORT=overwrite cargo test --test onnx_export`); this
script, the independent oracle, checks each with onnx.checker (full check, shape inference),
runs it in onnxruntime on 32 seeded random inputs of a dynamic batch, and writes
`<name>.json` {inputs, ort_outputs, count, versions}. tests/onnx_export.rs compares nn's forward
with those outputs. Versions: scripts/onnx/requirements.txt.

    /work/venv-onnx/bin/python scripts/onnx/run_exported.py
"""

import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort

DIR = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "onnx_export"
COUNT = 32


def main():
    for path in sorted(DIR.glob("*.onnx")):
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        inp = model.graph.input[0]
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim[1:]]
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        rng = np.random.default_rng(sum(map(ord, path.stem)))
        x = rng.uniform(-2.0, 2.0, size=[COUNT] + dims).astype(np.float32)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (y,) = sess.run(None, {inp.name: x})
        ops = sorted({n.op_type for n in model.graph.node})
        out = {
            "generator": {
                "script": "scripts/onnx/run_exported.py",
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "numpy": np.__version__,
            },
            "model": path.name,
            "opset": model.opset_import[0].version,
            "operators": ops,
            "count": COUNT,
            "inputs": [float(v) for v in x.reshape(-1)],
            "ort_outputs": [float(v) for v in y.reshape(-1)],
        }
        (DIR / f"{path.stem}.json").write_text(json.dumps(out) + "\n")
        print(f"{path.name}: opset {out['opset']}, {len(model.graph.node)} nodes, ops {ops}, output {list(y.shape)}")


if __name__ == "__main__":
    main()
