//! Unit tests: round trips, and one test per error the reader reports.

use prost::Message;

use crate::proto::{self, attribute_proto::AttributeType, tensor_proto::DataType};
use crate::{Attribute, Dim, Model, Node, OnnxError, Opset, Tensor, TensorData, ValueInfo};

/// conv (asymmetric pads, SAME_UPPER pool) -> flatten -> reshape -> gemm, with attributes of
/// every kind this crate writes.
fn sample() -> Model {
    let mut m = Model::new("sample");
    m.inputs.push(ValueInfo::float_batched("input", &[1, 4, 4]));
    m.initializers.push(
        Tensor::float(
            "conv.weight",
            &[2, 1, 3, 3],
            (0..18).map(|i| i as f32 * 0.25 - 2.0).collect(),
        )
        .unwrap(),
    );
    m.initializers
        .push(Tensor::float("conv.bias", &[2], vec![0.5, -1.5]).unwrap());
    m.initializers
        .push(Tensor::int64("shape", &[2], vec![-1, 8]).unwrap());
    m.initializers
        .push(Tensor::float("fc.weight", &[3, 8], vec![0.125; 24]).unwrap());
    m.initializers
        .push(Tensor::float("fc.bias", &[3], vec![1.0, 2.0, f32::MIN_POSITIVE]).unwrap());
    m.nodes.push(
        Node::new(
            "/conv/Conv",
            "Conv",
            ["input", "conv.weight", "conv.bias"],
            ["c"],
        )
        .with("kernel_shape", Attribute::Ints(vec![3, 3]))
        .with("pads", Attribute::Ints(vec![2, 1, 0, 1]))
        .with("strides", Attribute::Ints(vec![1, 1])),
    );
    m.nodes.push(Node::new("/relu/Relu", "Relu", ["c"], ["r"]));
    m.nodes.push(
        Node::new("/pool/MaxPool", "MaxPool", ["r"], ["p"])
            .with("kernel_shape", Attribute::Ints(vec![3, 3]))
            .with("strides", Attribute::Ints(vec![2, 2]))
            .with("auto_pad", Attribute::String("SAME_UPPER".into())),
    );
    m.nodes.push(
        Node::new("/flatten/Flatten", "Flatten", ["p"], ["f"]).with("axis", Attribute::Int(1)),
    );
    m.nodes.push(Node::new(
        "/reshape/Reshape",
        "Reshape",
        ["f", "shape"],
        ["g"],
    ));
    m.nodes.push(
        Node::new(
            "/fc/Gemm",
            "Gemm",
            ["g", "fc.weight", "fc.bias"],
            ["logits"],
        )
        .with("alpha", Attribute::Float(1.0))
        .with("beta", Attribute::Float(0.5))
        .with("transB", Attribute::Int(1)),
    );
    m.nodes.push(
        Node::new("", "Custom", ["logits", ""], ["output"])
            .with("floats", Attribute::Floats(vec![1.5, -0.0, f32::INFINITY]))
            .with("strings", Attribute::Strings(vec!["a".into(), "ü".into()]))
            .with(
                "tensor",
                Attribute::Tensor(Tensor::float("", &[], vec![3.0]).unwrap()),
            )
            .with(
                "tensors",
                Attribute::Tensors(vec![Tensor::int64("t", &[0], vec![]).unwrap()]),
            ),
    );
    m.nodes.last_mut().unwrap().domain = "com.example".into();
    m.opsets.push(Opset {
        domain: "com.example".into(),
        version: 1,
    });
    m.outputs.push(ValueInfo::float_batched("output", &[3]));
    m
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nn-onnx-{}-{name}", std::process::id()))
}

fn bytes_of(p: &proto::ModelProto) -> Vec<u8> {
    p.encode_to_vec()
}

/// A valid one-node model as a proto, to be broken by the tests.
fn relu_proto() -> proto::ModelProto {
    let mut m = Model::new("relu");
    m.inputs.push(ValueInfo::float_batched("x", &[4]));
    m.nodes.push(Node::new("relu", "Relu", ["x"], ["y"]));
    m.outputs.push(ValueInfo::float_batched("y", &[4]));
    m.to_proto()
}

fn err_of(p: &proto::ModelProto) -> String {
    Model::from_bytes(&bytes_of(p)).unwrap_err().to_string()
}

#[test]
fn round_trip_through_bytes_and_file() {
    let m = sample();
    let bytes = m.to_bytes().unwrap();
    assert_eq!(Model::from_bytes(&bytes).unwrap(), m);
    let path = temp_path("round_trip.onnx");
    m.write(&path).unwrap();
    let back = Model::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.ir_version, 8);
    assert_eq!(back.producer_name, "nn");
    assert_eq!(back.opset_version(), Some(17));
    assert_eq!(
        back.initializer("shape").unwrap().as_i64(),
        Some(&[-1, 8][..])
    );
    assert_eq!(back.producer_of("g").unwrap().op_type, "Reshape");
}

#[test]
fn writes_dynamic_batch_as_dim_param() {
    let p = sample().to_proto();
    let input = &p.graph.as_ref().unwrap().input[0];
    let Some(proto::type_proto::Value::TensorType(t)) = &input.r#type.as_ref().unwrap().value
    else {
        panic!("not a tensor type");
    };
    use proto::tensor_shape_proto::dimension::Value;
    let dims: Vec<_> = t
        .shape
        .as_ref()
        .unwrap()
        .dim
        .iter()
        .map(|d| d.value.clone())
        .collect();
    assert_eq!(
        dims,
        [
            Some(Value::DimParam("batch".into())),
            Some(Value::DimValue(1)),
            Some(Value::DimValue(4)),
            Some(Value::DimValue(4))
        ]
    );
    assert_eq!(t.elem_type, Some(DataType::Float as i32));
    assert_eq!(p.ir_version, Some(8));
    assert_eq!(p.producer_name.as_deref(), Some("nn"));
    let back = Model::from_proto(&p).unwrap();
    assert_eq!(back.inputs[0].shape.as_ref().unwrap()[0], Dim::batch());
    assert_eq!(back.inputs[0].sample_dims(), Some(vec![1, 4, 4]));
}

#[test]
fn writes_floats_as_little_endian_raw_data() {
    let t = Tensor::float("w", &[2], vec![1.0, -2.5])
        .unwrap()
        .to_proto();
    assert_eq!(
        t.raw_data.as_deref(),
        Some(&[0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0][..])
    );
    assert_eq!(t.dims, [2]);
    assert_eq!(t.data_type, Some(1));
}

#[test]
fn reads_float_data_and_int64_data() {
    let t = proto::TensorProto {
        name: Some("w".into()),
        dims: vec![2, 2],
        data_type: Some(DataType::Float as i32),
        float_data: vec![1.0, 2.0, 3.0, 4.0],
        ..Default::default()
    };
    let t = Tensor::from_proto(&t, "").unwrap();
    assert_eq!(t.dims, [2, 2]);
    assert_eq!(t.data, TensorData::Float(vec![1.0, 2.0, 3.0, 4.0]));
    let s = proto::TensorProto {
        name: Some("shape".into()),
        dims: vec![2],
        data_type: Some(DataType::Int64 as i32),
        int64_data: vec![-1, 64],
        ..Default::default()
    };
    assert_eq!(
        Tensor::from_proto(&s, "").unwrap().as_i64(),
        Some(&[-1, 64][..])
    );
    // A scalar (dims []) holds one value.
    let scalar = proto::TensorProto {
        data_type: Some(DataType::Int64 as i32),
        raw_data: Some(7i64.to_le_bytes().to_vec()),
        ..Default::default()
    };
    let scalar = Tensor::from_proto(&scalar, "(value)").unwrap();
    assert_eq!((scalar.dims.len(), scalar.as_i64()), (0, Some(&[7][..])));
}

#[test]
fn raw_data_of_the_wrong_size_names_tensor_and_sizes() {
    let mut p = relu_proto();
    let mut w = Tensor::float("fc.weight", &[10, 64], vec![0.0; 640])
        .unwrap()
        .to_proto();
    w.raw_data.as_mut().unwrap().truncate(2556);
    p.graph.as_mut().unwrap().initializer.push(w);
    assert_eq!(
        err_of(&p),
        "tensor `fc.weight` (FLOAT, dims [10, 64]): raw_data has 2556 bytes, expected 2560 \
         (640 values of 4 bytes)"
    );
}

#[test]
fn float_data_of_the_wrong_length_names_tensor_and_counts() {
    let mut p = relu_proto();
    p.graph
        .as_mut()
        .unwrap()
        .initializer
        .push(proto::TensorProto {
            name: Some("b".into()),
            dims: vec![3],
            data_type: Some(DataType::Float as i32),
            float_data: vec![1.0, 2.0],
            ..Default::default()
        });
    assert_eq!(
        err_of(&p),
        "tensor `b` (FLOAT, dims [3]): float_data holds 2 values, expected 3"
    );
}

#[test]
fn unsupported_element_type_is_named() {
    let mut p = relu_proto();
    p.graph
        .as_mut()
        .unwrap()
        .initializer
        .push(proto::TensorProto {
            name: Some("d".into()),
            dims: vec![1],
            data_type: Some(DataType::Double as i32),
            double_data: vec![1.0],
            ..Default::default()
        });
    assert_eq!(
        err_of(&p),
        "tensor `d`: element type DOUBLE is not supported (expected FLOAT, INT64, INT8, UINT8 or INT32)"
    );
    p.graph.as_mut().unwrap().initializer[0].data_type = Some(99);
    assert_eq!(
        err_of(&p),
        "tensor `d`: element type code 99 is not supported (expected FLOAT, INT64, INT8, UINT8 or INT32)"
    );
}

#[test]
fn negative_dims_and_external_data_are_errors() {
    let mut p = relu_proto();
    p.graph
        .as_mut()
        .unwrap()
        .initializer
        .push(proto::TensorProto {
            name: Some("w".into()),
            dims: vec![2, -1],
            data_type: Some(DataType::Float as i32),
            ..Default::default()
        });
    assert_eq!(
        err_of(&p),
        "tensor `w` (FLOAT, dims [2, -1]): dimension -1 is negative"
    );
    let t = &mut p.graph.as_mut().unwrap().initializer[0];
    t.dims = vec![2];
    t.data_location = Some(proto::tensor_proto::DataLocation::External as i32);
    assert!(err_of(&p).contains("external file"), "{}", err_of(&p));
    // Dims whose product overflows do not allocate: they are an error.
    let t = &mut p.graph.as_mut().unwrap().initializer[0];
    t.data_location = None;
    t.dims = vec![1 << 40, 1 << 40];
    assert!(err_of(&p).contains("overflows"), "{}", err_of(&p));
}

#[test]
fn undefined_node_input_names_node_and_op() {
    let mut p = relu_proto();
    p.graph.as_mut().unwrap().node[0].input[0] = "nothing".into();
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): input `nothing` is not a graph input, an initializer or an output \
         of an earlier node"
    );
    // Nodes must come in topological order: a later node's output does not count.
    let mut p = relu_proto();
    let g = p.graph.as_mut().unwrap();
    g.node[0].input[0] = "z".into();
    g.node.push(proto::NodeProto {
        input: vec!["x".into()],
        output: vec!["z".into()],
        op_type: Some("Relu".into()),
        ..Default::default()
    });
    assert!(err_of(&p).starts_with("node `relu` (Relu): input `z`"));
}

#[test]
fn unnamed_node_is_named_by_index() {
    let mut p = relu_proto();
    let n = &mut p.graph.as_mut().unwrap().node[0];
    n.name = None;
    n.output[0] = "x".into();
    assert_eq!(
        err_of(&p),
        "node `#0` (Relu): output `x` is already defined (by a graph input, an initializer or an \
         earlier node)"
    );
    let mut p = relu_proto();
    p.graph.as_mut().unwrap().node[0].op_type = None;
    assert_eq!(
        err_of(&p),
        "node `relu` (no operator): the node has no op_type"
    );
}

#[test]
fn model_level_errors() {
    let mut p = relu_proto();
    p.graph = None;
    assert_eq!(err_of(&p), "the model has no graph");
    let mut p = relu_proto();
    p.opset_import[0].domain = Some("com.other".into());
    assert_eq!(
        err_of(&p),
        "the model imports no opset of the default domain (ai.onnx)"
    );
    let mut p = relu_proto();
    p.ir_version = None;
    assert_eq!(
        err_of(&p),
        "IR version 0 is not supported (expected 3 or later)"
    );
    let mut p = relu_proto();
    p.graph.as_mut().unwrap().output[0].name = Some("w".into());
    assert_eq!(
        err_of(&p),
        "graph output `w`: no node, graph input or initializer defines it"
    );
    let mut p = relu_proto();
    p.graph.as_mut().unwrap().node[0].domain = Some("com.other".into());
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): its domain `com.other` is not among the imported opsets"
    );
    // An empty byte string is a valid, empty ModelProto: it has no graph.
    assert_eq!(
        Model::from_bytes(&[]).unwrap_err().to_string(),
        "the model has no graph"
    );
}

#[test]
fn value_errors() {
    let mut p = relu_proto();
    p.graph.as_mut().unwrap().input[0].r#type = None;
    assert_eq!(
        err_of(&p),
        "graph input `x`: is not a tensor (or has no type)"
    );
    fn input_tensor(p: &mut proto::ModelProto) -> &mut proto::type_proto::Tensor {
        let ty = p.graph.as_mut().unwrap().input[0].r#type.as_mut().unwrap();
        let Some(proto::type_proto::Value::TensorType(t)) = ty.value.as_mut() else {
            unreachable!()
        };
        t
    }
    let mut p = relu_proto();
    input_tensor(&mut p).shape.as_mut().unwrap().dim[1].value =
        Some(proto::tensor_shape_proto::dimension::Value::DimValue(-4));
    assert_eq!(err_of(&p), "graph input `x`: dimension 1 is negative (-4)");
    input_tensor(&mut p).shape = None;
    input_tensor(&mut p).elem_type = Some(1234);
    assert_eq!(
        err_of(&p),
        "graph input `x`: element type code 1234 is unknown"
    );
    input_tensor(&mut p).elem_type = Some(DataType::Float as i32);
    let m = Model::from_bytes(&bytes_of(&p)).unwrap();
    assert_eq!(m.inputs[0].shape, None); // rank unknown
    assert_eq!(m.inputs[0].sample_dims(), None);
}

#[test]
fn attribute_errors_and_typed_getters() {
    let mut p = relu_proto();
    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute.push(proto::AttributeProto {
        name: Some("pads".into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: vec![1, 1, 1, 1],
        ..Default::default()
    });
    node.attribute.push(proto::AttributeProto {
        name: Some("axis".into()),
        r#type: Some(AttributeType::Int as i32),
        ..Default::default()
    });
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): attribute `axis`: is INT but has no `i` value"
    );
    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute[1].i = Some(1);
    let m = Model::from_bytes(&bytes_of(&p)).unwrap();
    let n = &m.nodes[0];
    assert_eq!(n.ints("pads").unwrap(), Some(&[1, 1, 1, 1][..]));
    assert_eq!(n.int("axis").unwrap(), Some(1));
    assert_eq!(n.int("group").unwrap(), None);
    assert_eq!(
        n.int("pads").unwrap_err().to_string(),
        "node `relu` (Relu): attribute `pads`: is INTS, expected INT"
    );
    assert_eq!(
        n.float("axis").unwrap_err().to_string(),
        "node `relu` (Relu): attribute `axis`: is INT, expected FLOAT"
    );

    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute.push(node.attribute[0].clone());
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): attribute `pads`: appears twice"
    );

    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute.truncate(2);
    node.attribute.push(proto::AttributeProto {
        name: Some("auto_pad".into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(vec![0xff, 0xfe]),
        ..Default::default()
    });
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): attribute `auto_pad`: is not valid UTF-8"
    );
    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute[2].r#type = Some(77);
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): attribute `auto_pad`: type code 77 is unknown"
    );

    // A bad tensor inside an attribute is reported with the attribute.
    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute[2] = proto::AttributeProto {
        name: Some("value".into()),
        r#type: Some(AttributeType::Tensor as i32),
        t: Some(proto::TensorProto {
            dims: vec![2],
            data_type: Some(DataType::Int64 as i32),
            int64_data: vec![1],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        err_of(&p),
        "node `relu` (Relu): attribute `value`: tensor `(attribute value)` (INT64, dims [2]): \
         int64_data holds 1 values, expected 2"
    );
}

#[test]
fn attribute_without_type_is_inferred_from_its_value() {
    let mut p = relu_proto();
    let node = &mut p.graph.as_mut().unwrap().node[0];
    node.attribute.push(proto::AttributeProto {
        name: Some("alpha".into()),
        f: Some(0.25),
        ..Default::default()
    });
    node.attribute.push(proto::AttributeProto {
        name: Some("strides".into()),
        ints: vec![2, 2],
        ..Default::default()
    });
    let m = Model::from_bytes(&bytes_of(&p)).unwrap();
    assert_eq!(m.nodes[0].float("alpha").unwrap(), Some(0.25));
    assert_eq!(m.nodes[0].ints("strides").unwrap(), Some(&[2, 2][..]));
}

#[test]
fn graph_attributes_are_kept_by_kind_and_not_written() {
    let mut p = relu_proto();
    p.graph.as_mut().unwrap().node[0]
        .attribute
        .push(proto::AttributeProto {
            name: Some("then_branch".into()),
            r#type: Some(AttributeType::Graph as i32),
            ..Default::default()
        });
    let m = Model::from_bytes(&bytes_of(&p)).unwrap();
    assert_eq!(
        m.nodes[0].attribute("then_branch"),
        Some(&Attribute::Unsupported(AttributeType::Graph))
    );
    assert_eq!(
        m.to_bytes().unwrap_err().to_string(),
        "node `relu` (Relu): attribute `then_branch`: attributes of kind GRAPH cannot be written"
    );
}

#[test]
fn initializers_listed_as_inputs_are_not_inputs() {
    // IR version 3 files list every initializer among the graph inputs.
    let mut m = Model::new("old");
    m.ir_version = 3;
    m.inputs.push(ValueInfo::float_batched("x", &[2]));
    m.initializers
        .push(Tensor::float("b", &[2], vec![1.0, 2.0]).unwrap());
    m.nodes.push(Node::new("add", "Add", ["x", "b"], ["y"]));
    m.outputs.push(ValueInfo::float_batched("y", &[2]));
    let mut p = m.to_proto();
    let b_info = ValueInfo::float("b", vec![Dim::Fixed(2)]).to_proto();
    p.graph.as_mut().unwrap().input.push(b_info);
    assert_eq!(Model::from_proto(&p).unwrap(), m);
}

#[test]
fn duplicate_names_are_errors() {
    let mut m = sample();
    m.initializers
        .push(Tensor::float("conv.bias", &[1], vec![0.0]).unwrap());
    assert_eq!(
        m.to_bytes().unwrap_err().to_string(),
        "two initializers are named `conv.bias`"
    );
    let mut m = sample();
    m.inputs.push(ValueInfo::float_batched("conv.weight", &[1]));
    assert_eq!(
        m.to_bytes().unwrap_err().to_string(),
        "two graph inputs or initializers are named `conv.weight`"
    );
}

#[test]
fn writer_checks_tensor_sizes() {
    assert_eq!(
        Tensor::float("w", &[2, 3], vec![0.0; 5])
            .unwrap_err()
            .to_string(),
        "tensor `w` (FLOAT, dims [2, 3]): holds 5 values, expected 6"
    );
    let mut m = sample();
    m.initializers[1].dims = vec![3];
    assert_eq!(
        m.to_bytes().unwrap_err().to_string(),
        "tensor `conv.bias` (FLOAT, dims [3]): holds 2 values, expected 3"
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let mut bytes = sample().to_bytes().unwrap();
    // Field 99 (length-delimited) and field 100 (varint) at the top level.
    bytes.extend_from_slice(&[0x9a, 0x06, 3, b'a', b'b', b'c', 0xa0, 0x06, 42]);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m, sample());
}

#[test]
fn garbage_and_truncated_bytes_are_errors_not_panics() {
    for bytes in [
        &b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"[..],
        &b"\x0a\xff\xff\xff\xff\x0f"[..],
        &b"not an onnx file at all"[..],
        &b"\x3a\x05\x0a\x03\x0a"[..],
        &[0x08][..],
    ] {
        assert!(Model::from_bytes(bytes).is_err(), "{bytes:?}");
    }
    let bytes = sample().to_bytes().unwrap();
    let mut ok = 0;
    for len in 0..bytes.len() {
        // Every prefix either decodes to a model that passes the checks, or is an error.
        if Model::from_bytes(&bytes[..len]).is_ok() {
            ok += 1;
        }
    }
    assert!(
        ok < bytes.len() / 2,
        "{ok} of {} prefixes decoded",
        bytes.len()
    );
    // Deeply nested length-delimited fields: unknown ones are skipped without recursing, and
    // the declared messages nest only a few levels (model, graph, node, attribute, tensor).
    let mut deep = Vec::new();
    for _ in 0..200 {
        let mut outer = vec![0x3a]; // field 7 (graph), length-delimited
        let mut len = deep.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                outer.push(byte);
                break;
            }
            outer.push(byte | 0x80);
        }
        outer.extend_from_slice(&deep);
        deep = outer;
    }
    assert!(Model::from_bytes(&deep).is_err());
}

#[test]
fn file_errors_name_the_file() {
    let missing = temp_path("missing.onnx");
    let err = Model::read(&missing).unwrap_err();
    assert!(matches!(err, OnnxError::Io { action: "read", .. }));
    assert!(err.to_string().contains("missing.onnx"), "{err}");

    let path = temp_path("garbage.onnx");
    std::fs::write(&path, b"\x0a\xff\xff").unwrap();
    let err = Model::read(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("garbage.onnx`: not an ONNX model"), "{err}");

    let mut m = sample();
    m.outputs[0].name = "nowhere".into();
    let path = temp_path("invalid.onnx");
    let err = m.write(&path).unwrap_err().to_string();
    assert!(!path.exists());
    assert!(
        err.ends_with(
            "invalid.onnx`: graph output `nowhere`: no node, graph input or initializer defines it"
        ),
        "{err}"
    );
}

#[test]
fn integer_tensors_of_quantized_models_round_trip() {
    let w = Tensor::int8("w", &[2, 3], vec![-128, -1, 0, 1, 2, 127]).unwrap();
    let z = Tensor::uint8("z", &[], vec![200]).unwrap();
    let b = Tensor::int32("b", &[2], vec![i32::MIN, 70_000]).unwrap();
    assert_eq!(w.elem_type(), DataType::Int8);
    assert_eq!(z.elem_type(), DataType::Uint8);
    assert_eq!(b.elem_type(), DataType::Int32);
    // Little-endian raw data: one byte per int8/uint8 value, four per int32 value.
    let p = w.to_proto();
    assert_eq!(p.data_type, Some(DataType::Int8 as i32));
    assert_eq!(p.raw_data.as_deref(), Some(&[128u8, 255, 0, 1, 2, 127][..]));
    assert_eq!(
        b.to_proto().raw_data.unwrap(),
        [i32::MIN.to_le_bytes(), 70_000i32.to_le_bytes()].concat()
    );
    for t in [&w, &z, &b] {
        assert_eq!(&Tensor::from_proto(&t.to_proto(), "").unwrap(), t);
    }
    assert_eq!(w.as_i8(), Some(&[-128, -1, 0, 1, 2, 127][..]));
    assert_eq!(
        (z.as_u8(), b.as_i32().map(<[i32]>::len)),
        (Some(&[200][..]), Some(2))
    );
    assert_eq!((w.as_f32(), w.as_i64(), b.as_i8()), (None, None, None));
    assert!(Tensor::int8("w", &[2], vec![1]).is_err());
    // int32_data, as onnx.proto stores int8, uint8 and int32 values without raw_data.
    let from_ints = |dtype: DataType, values: Vec<i32>| {
        let p = proto::TensorProto {
            name: Some("t".into()),
            dims: vec![values.len() as i64],
            data_type: Some(dtype as i32),
            int32_data: values,
            ..Default::default()
        };
        Tensor::from_proto(&p, "")
    };
    assert_eq!(
        from_ints(DataType::Int8, vec![-5, 7]).unwrap().as_i8(),
        Some(&[-5, 7][..])
    );
    assert_eq!(
        from_ints(DataType::Uint8, vec![255]).unwrap().as_u8(),
        Some(&[255][..])
    );
    assert_eq!(
        from_ints(DataType::Int32, vec![-9]).unwrap().as_i32(),
        Some(&[-9][..])
    );
    let e = from_ints(DataType::Int8, vec![128])
        .unwrap_err()
        .to_string();
    assert!(e.contains("int32_data holds 128"), "{e}");
    // A model with them writes and reads back.
    let mut m = Model::new("q");
    m.inputs.push(ValueInfo::float_batched("input", &[3]));
    m.initializers.extend([w, z, b]);
    m.nodes
        .push(Node::new("id", "Identity", ["input"], ["output"]));
    m.outputs.push(ValueInfo::float_batched("output", &[3]));
    assert_eq!(Model::from_bytes(&m.to_bytes().unwrap()).unwrap(), m);
}
