//! Reads the PyTorch-exported fixtures in `tests/fixtures/onnx/` (written by
//! `scripts/onnx/make_fixtures.py`; see its README) and checks the decoded view against the
//! graph description the `onnx` Python package wrote beside each file, and, through a plain
//! reference interpreter, against PyTorch's and onnxruntime's outputs.

mod reference;

use std::path::PathBuf;

use nn_onnx::{Attribute, Dim, Model, TensorData};
use serde_json::Value as Json;

const MODELS: [&str; 6] = [
    "m1_jet_mlp",
    "m2_digits_cnn",
    "m3_lenet5",
    "resnet_bn",
    "resnet_bn_unfolded",
    "m2_asym_pads",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx")
}

fn load(name: &str) -> (Model, Json) {
    let model =
        Model::read(dir().join(format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap();
    (model, serde_json::from_str(&text).unwrap())
}

fn f32s(v: &Json) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn usizes(v: &Json) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn dims_json(dims: &[Dim]) -> Json {
    Json::Array(
        dims.iter()
            .map(|d| match d {
                Dim::Fixed(n) => Json::from(*n),
                Dim::Symbolic(s) => Json::from(s.as_str()),
                Dim::Unknown => Json::from(0),
            })
            .collect(),
    )
}

fn ops(model: &Model) -> Vec<&str> {
    model.nodes.iter().map(|n| n.op_type.as_str()).collect()
}

#[test]
fn op_lists_of_the_fixtures() {
    let conv_relu_pool = [
        "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten",
    ];
    let m2: Vec<&str> = conv_relu_pool
        .iter()
        .copied()
        .chain(["Gemm", "Softmax"])
        .collect();
    let expected: [(&str, Vec<&str>); 6] = [
        (
            "m1_jet_mlp",
            vec![
                "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax",
            ],
        ),
        ("m2_digits_cnn", m2.clone()),
        (
            "m3_lenet5",
            conv_relu_pool
                .iter()
                .copied()
                .chain(["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"])
                .collect(),
        ),
        (
            "resnet_bn",
            vec![
                "Conv",
                "Relu",
                "Conv",
                "Relu",
                "Conv",
                "Add",
                "Relu",
                "AveragePool",
                "Flatten",
                "Gemm",
                "Softmax",
            ],
        ),
        (
            "resnet_bn_unfolded",
            vec![
                "Conv",
                "BatchNormalization",
                "Relu",
                "Conv",
                "BatchNormalization",
                "Relu",
                "Conv",
                "BatchNormalization",
                "Add",
                "Relu",
                "AveragePool",
                "Flatten",
                "Gemm",
                "Softmax",
            ],
        ),
        ("m2_asym_pads", m2),
    ];
    for (name, want) in expected {
        let (model, _) = load(name);
        assert_eq!(ops(&model), want, "{name}");
        assert_eq!(model.opset_version(), Some(17), "{name}");
        assert_eq!(model.ir_version, 8, "{name}");
        assert!(
            model.producer_name.starts_with("pytorch"),
            "{name}: {}",
            model.producer_name
        );
        assert_eq!(model.inputs.len(), 1);
        assert_eq!(model.outputs.len(), 1);
        assert_eq!(
            model.inputs[0].shape.as_ref().unwrap()[0],
            Dim::batch(),
            "{name}"
        );
    }
}

#[test]
fn decoded_view_matches_the_onnx_package() {
    for name in MODELS {
        let (model, json) = load(name);
        let g = &json["graph"];
        assert_eq!(
            Json::from(model.opset_version().unwrap()),
            g["opset"]["ai.onnx"]
        );
        for (ours, theirs) in [
            (&model.inputs, &g["inputs"]),
            (&model.outputs, &g["outputs"]),
        ] {
            let theirs = theirs.as_array().unwrap();
            assert_eq!(ours.len(), theirs.len());
            for (v, t) in ours.iter().zip(theirs) {
                assert_eq!(v.name, t["name"].as_str().unwrap());
                assert_eq!(v.elem_type.as_str_name(), t["elem_type"].as_str().unwrap());
                assert_eq!(
                    dims_json(v.shape.as_ref().unwrap()),
                    t["dims"],
                    "{name} {}",
                    v.name
                );
            }
        }
        assert_eq!(
            model.inputs[0].sample_dims().unwrap(),
            usizes(&json["input_shape"]),
            "{name}"
        );
        let nodes = g["nodes"].as_array().unwrap();
        assert_eq!(model.nodes.len(), nodes.len(), "{name}");
        for (n, t) in model.nodes.iter().zip(nodes) {
            let at = format!("{name} node {}", n.name);
            assert_eq!(n.name, t["name"].as_str().unwrap());
            assert_eq!(n.op_type, t["op_type"].as_str().unwrap());
            assert_eq!(Json::from(n.inputs.clone()), t["inputs"], "{at}");
            assert_eq!(Json::from(n.outputs.clone()), t["outputs"], "{at}");
            let attrs = t["attributes"].as_object().unwrap();
            assert_eq!(n.attributes.len(), attrs.len(), "{at}");
            for (key, want) in attrs {
                let got = n.attribute(key).unwrap_or_else(|| panic!("{at}: no {key}"));
                match got {
                    Attribute::Int(i) => assert_eq!(Json::from(*i), *want, "{at} {key}"),
                    Attribute::Ints(v) => assert_eq!(Json::from(v.clone()), *want, "{at} {key}"),
                    Attribute::Float(f) => {
                        assert_eq!(*f as f64, want.as_f64().unwrap(), "{at} {key}")
                    }
                    Attribute::String(s) => assert_eq!(s, want.as_str().unwrap(), "{at} {key}"),
                    other => panic!("{at} {key}: unexpected {other:?}"),
                }
            }
        }
        let inits = g["initializers"].as_object().unwrap();
        assert_eq!(model.initializers.len(), inits.len(), "{name}");
        for t in &model.initializers {
            let want = &inits[&t.name];
            assert_eq!(t.dims, usizes(&want["shape"]), "{name} {}", t.name);
            match &t.data {
                TensorData::Float(_) => assert_eq!(want["dtype"], "float32"),
                TensorData::Int64(v) => assert_eq!(Json::from(v.clone()), want["data"]),
                other => panic!("{name} {}: unexpected {:?}", t.name, other.elem_type()),
            }
        }
    }
}

#[test]
fn attributes_that_matter_for_import() {
    let (m2, _) = load("m2_digits_cnn");
    let conv = &m2.nodes[0];
    assert_eq!(conv.ints("pads").unwrap(), Some(&[1, 1, 1, 1][..]));
    assert_eq!(conv.ints("kernel_shape").unwrap(), Some(&[3, 3][..]));
    assert_eq!(conv.ints("strides").unwrap(), Some(&[1, 1][..]));
    assert_eq!(conv.int("group").unwrap(), Some(1));
    assert_eq!(m2.initializer(&conv.inputs[1]).unwrap().dims, [8, 1, 3, 3]);
    let flatten = m2.nodes.iter().find(|n| n.op_type == "Flatten").unwrap();
    assert_eq!(flatten.int("axis").unwrap(), Some(1));
    let gemm = m2.nodes.iter().find(|n| n.op_type == "Gemm").unwrap();
    assert_eq!(gemm.int("transB").unwrap(), Some(1));
    assert_eq!(gemm.float("alpha").unwrap(), Some(1.0));
    assert_eq!(gemm.float("beta").unwrap(), Some(1.0));
    assert_eq!(m2.initializer(&gemm.inputs[1]).unwrap().dims, [10, 64]); // [out, in]

    let (res, _) = load("resnet_bn");
    let pool = res
        .nodes
        .iter()
        .find(|n| n.op_type == "AveragePool")
        .unwrap();
    assert_eq!(pool.int("count_include_pad").unwrap(), Some(1));
    assert_eq!(pool.ints("kernel_shape").unwrap(), Some(&[2, 2][..]));

    let (bn, _) = load("resnet_bn_unfolded");
    let node = bn
        .nodes
        .iter()
        .find(|n| n.op_type == "BatchNormalization")
        .unwrap();
    assert_eq!(node.float("epsilon").unwrap(), Some(1e-5));
    assert_eq!(node.int("training_mode").unwrap(), Some(0));
    assert_eq!(node.inputs.len(), 5); // x, scale, B, mean, var: all initializers
    for input in &node.inputs[1..] {
        assert_eq!(bn.initializer(input).unwrap().dims, [8], "{input}");
    }

    let (asym, _) = load("m2_asym_pads");
    assert_eq!(asym.nodes[0].ints("pads").unwrap(), Some(&[2, 1, 0, 1][..]));
    let pool = &asym.nodes[2];
    assert_eq!(pool.string("auto_pad").unwrap(), Some("SAME_UPPER"));
    assert_eq!(pool.ints("pads").unwrap(), None);
    assert_eq!(pool.ints("kernel_shape").unwrap(), Some(&[3, 3][..]));
}

/// Runs every fixture through the reference interpreter on the decoded weights.
fn check_outputs(name: &str, model: &Model, json: &Json) {
    let inputs = &json["inputs"];
    let shape = usizes(&inputs["shape"]);
    let x = f32s(&inputs["data"]);
    let (out_shape, got) = reference::run(model, &shape, &x);
    assert_eq!(out_shape, usizes(&json["torch_outputs"]["shape"]), "{name}");
    for key in ["torch_outputs", "ort_outputs"] {
        let want = f32s(&json[key]["data"]);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 2e-6, "{name}: max |ours - {key}| = {worst}");
    }
    assert!(json["max_abs_diff_torch_ort"].as_f64().unwrap() <= 1e-5);
}

#[test]
fn decoded_weights_reproduce_pytorch_and_onnxruntime() {
    for name in MODELS {
        let (model, json) = load(name);
        check_outputs(name, &model, &json);
    }
}

#[test]
fn fixtures_survive_a_write_read_round_trip() {
    for name in MODELS {
        let (model, json) = load(name);
        let bytes = model.to_bytes().unwrap();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, model, "{name}");
        check_outputs(name, &back, &json);
        // And through a file.
        let path = std::env::temp_dir().join(format!("nn-onnx-{}-{name}.onnx", std::process::id()));
        back.write(&path).unwrap();
        assert_eq!(Model::read(&path).unwrap(), model);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn truncated_and_corrupted_fixtures_are_errors_not_panics() {
    let bytes = std::fs::read(dir().join("m2_digits_cnn.onnx")).unwrap();
    for len in (0..bytes.len()).step_by(7) {
        assert!(
            Model::from_bytes(&bytes[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
    // Seeded byte flips (xorshift): decoding must return, whatever the answer.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let mut corrupted = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % corrupted.len();
            corrupted[at] = next() as u8;
        }
        match Model::from_bytes(&corrupted) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    // Most flips land in weights (still a valid model); the rest must be reported as errors.
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}

#[test]
fn reading_a_fixture_errors_name_the_file_node_and_op() {
    // Rename a node's input in a real fixture: the error names the file, node and operator.
    let path = dir().join("m2_digits_cnn.onnx");
    let mut model = Model::read(&path).unwrap();
    model.nodes[3].inputs[0] = "/2/MaxPool_output_9".into();
    let err = model.to_bytes().unwrap_err().to_string();
    assert_eq!(
        err,
        "node `/3/Conv` (Conv): input `/2/MaxPool_output_9` is not a graph input, an initializer \
         or an output of an earlier node"
    );
    let out = std::env::temp_dir().join(format!("nn-onnx-{}-bad.onnx", std::process::id()));
    let mut p = model.to_proto();
    p.graph.as_mut().unwrap().initializer[0]
        .raw_data
        .as_mut()
        .unwrap()
        .pop();
    std::fs::write(&out, prost::Message::encode_to_vec(&p)).unwrap();
    let err = Model::read(&out).unwrap_err().to_string();
    std::fs::remove_file(&out).unwrap();
    assert!(
        err.ends_with(
            "-bad.onnx`: tensor `0.weight` (FLOAT, dims [8, 1, 3, 3]): raw_data has 287 bytes, \
             expected 288 (72 values of 4 bytes)"
        ),
        "{err}"
    );
}
