//! `nn_onnx::import::import`: small models built with this crate's writer, encoded and decoded
//! again (as a file would be), and the exact declaration each one maps onto: the layer list
//! (`Declaration::body`), the shapes, and every weight tensor's name, shape and values in
//! PyTorch's layout. Then one model per refusal, checked for what a user needs to fix it: the
//! node, its operator and the reason.

use nn_onnx::import::{import, Declaration, Entry, NamedTensor, NN_BATCH_NORM_EPS};
use nn_onnx::{Attribute, Dim, ElemType, Model, Node, Opset, Tensor, ValueInfo};

// ---------------------------------------------------------------------------------------------
// Building models.

/// A model whose one input `x` has per-sample shape `sample` (`[batch, sample..]`).
fn net(sample: &[usize]) -> Model {
    let mut m = Model::new("test");
    m.inputs.push(ValueInfo::float_batched("x", sample));
    m
}

/// `0, 1, 2, ...` (`n` values): transposes are easy to read.
fn seq(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32).collect()
}

fn init(m: &mut Model, name: &str, dims: &[usize], data: Vec<f32>) {
    m.initializers
        .push(Tensor::float(name, dims, data).expect("values match the dims"));
}

fn init_i64(m: &mut Model, name: &str, dims: &[usize], data: Vec<i64>) {
    m.initializers
        .push(Tensor::int64(name, dims, data).expect("values match the dims"));
}

/// A `Constant` node holding a scalar float.
fn constant(m: &mut Model, node: &str, out: &str, v: f32) {
    let t = Tensor::float("", &[], vec![v]).unwrap();
    m.nodes.push(
        Node::new(node, "Constant", Vec::<String>::new(), [out])
            .with("value", Attribute::Tensor(t)),
    );
}

fn node(m: &mut Model, name: &str, op: &str, inputs: &[&str], out: &str) {
    m.nodes
        .push(Node::new(name, op, inputs.iter().copied(), [out]));
}

fn ints(v: &[i64]) -> Attribute {
    Attribute::Ints(v.to_vec())
}

fn s(v: &str) -> Attribute {
    Attribute::String(v.to_string())
}

/// Declares `out` the graph's output, writes the model to bytes and reads it back, and imports
/// it.
fn run(mut m: Model, out: &str) -> Result<Declaration, nn_onnx::OnnxError> {
    m.outputs.push(ValueInfo::float(out, vec![Dim::batch()]));
    let bytes = m.to_bytes().expect("the test model is a valid ONNX model");
    let back = Model::from_bytes(&bytes).expect("reads back");
    import(&back)
}

fn ok(m: Model, out: &str) -> Declaration {
    run(m, out).unwrap_or_else(|e| panic!("import failed: {e}"))
}

/// The error message of a model that must be refused.
fn err(m: Model, out: &str) -> String {
    match run(m, out) {
        Ok(d) => panic!("expected an error, got:\n{}", d.body("")),
        Err(e) => e.to_string(),
    }
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "the message lacks `{p}`:\n{msg}");
    }
}

fn tensor<'a>(d: &'a Declaration, name: &str) -> &'a NamedTensor {
    d.tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor `{name}` in {:?}", names(d)))
}

/// The tensors' names and shapes, in order.
fn names(d: &Declaration) -> Vec<(String, Vec<usize>)> {
    d.tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect()
}

fn shapes(list: &[(&str, &[usize])]) -> Vec<(String, Vec<usize>)> {
    list.iter()
        .map(|(n, s)| (n.to_string(), s.to_vec()))
        .collect()
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6, "{a:?} vs {b:?}");
    }
}

/// Every layer name in the declaration (blocks included), in order.
fn layer_names(entries: &[Entry], out: &mut Vec<String>) {
    for e in entries {
        match e {
            Entry::Layer { name: Some(n), .. } => out.push(n.clone()),
            Entry::Layer { name: None, .. } => {}
            Entry::Residual { name, body, .. } => {
                out.push(name.clone());
                layer_names(body, out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dense: Gemm and MatMul.

#[test]
fn gemm_trans_b_1_keeps_the_weight() {
    let mut m = net(&[3]);
    init(&mut m, "fc1.weight", &[2, 3], seq(6));
    init(&mut m, "fc1.bias", &[2], vec![0.5, -0.5]);
    m.nodes.push(
        Node::new("/fc1/Gemm", "Gemm", ["x", "fc1.weight", "fc1.bias"], ["y"])
            .with("alpha", Attribute::Float(1.0))
            .with("beta", Attribute::Float(1.0))
            .with("transB", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3],\nfc1: Dense(2),\n");
    assert_eq!(d.input, vec![3]);
    assert_eq!(d.output, vec![2]);
    assert_eq!(
        d.tensors,
        vec![
            NamedTensor {
                name: "fc1.weight".into(),
                shape: vec![2, 3],
                data: seq(6)
            },
            NamedTensor {
                name: "fc1.bias".into(),
                shape: vec![2],
                data: vec![0.5, -0.5]
            },
        ]
    );
    assert_eq!(
        d.entries,
        vec![Entry::Layer {
            name: Some("fc1".into()),
            layer: "Dense(2)".into()
        }]
    );
}

#[test]
fn gemm_trans_b_0_transposes_the_weight() {
    // B is [in, out] = [3, 2]: row i holds input i's weights to outputs 0 and 1.
    let mut m = net(&[3]);
    init(&mut m, "head.weight", &[3, 2], seq(6));
    init(&mut m, "head.bias", &[2], vec![1.0, 2.0]);
    m.nodes.push(
        Node::new("", "Gemm", ["x", "head.weight", "head.bias"], ["y"])
            .with("transB", Attribute::Int(0)),
    );
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3],\nhead: Dense(2),\n");
    let w = tensor(&d, "head.weight");
    assert_eq!(w.shape, vec![2, 3]);
    assert_eq!(w.data, vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    assert_eq!(tensor(&d, "head.bias").data, vec![1.0, 2.0]);
}

#[test]
fn gemm_without_trans_b_attribute_is_trans_b_0() {
    let mut m = net(&[2]);
    init(&mut m, "w", &[2, 3], seq(6));
    node(&mut m, "", "Gemm", &["x", "w"], "y");
    let d = ok(m, "y");
    // No `.weight` name and no path: a fresh name.
    assert_eq!(d.body(""), "input: [2],\nfc1: Dense(3),\n");
    assert_eq!(d.output, vec![3]);
    let w = tensor(&d, "fc1.weight");
    assert_eq!(w.shape, vec![3, 2]);
    assert_eq!(w.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // Without a C input the bias is zero.
    assert_eq!(tensor(&d, "fc1.bias").data, vec![0.0; 3]);
    assert_eq!(
        names(&d),
        shapes(&[("fc1.weight", &[3, 2]), ("fc1.bias", &[3])])
    );
}

#[test]
fn gemm_alpha_and_beta_are_folded() {
    let mut m = net(&[2]);
    init(&mut m, "fc.weight", &[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    init(&mut m, "fc.bias", &[2], vec![1.0, -2.0]);
    m.nodes.push(
        Node::new("/fc/Gemm", "Gemm", ["x", "fc.weight", "fc.bias"], ["y"])
            .with("alpha", Attribute::Float(2.0))
            .with("beta", Attribute::Float(0.5))
            .with("transB", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2],\nfc: Dense(2),\n");
    assert_eq!(tensor(&d, "fc.weight").data, vec![2.0, 4.0, 6.0, 8.0]);
    assert_eq!(tensor(&d, "fc.bias").data, vec![0.5, -1.0]);
}

#[test]
fn gemm_one_value_bias_is_broadcast() {
    let mut m = net(&[2]);
    init(&mut m, "fc.weight", &[3, 2], seq(6));
    init(&mut m, "fc.bias", &[1], vec![4.0]);
    m.nodes.push(
        Node::new("/fc/Gemm", "Gemm", ["x", "fc.weight", "fc.bias"], ["y"])
            .with("beta", Attribute::Float(0.5))
            .with("transB", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(tensor(&d, "fc.bias").shape, vec![3]);
    assert_eq!(tensor(&d, "fc.bias").data, vec![2.0, 2.0, 2.0]);
}

#[test]
fn matmul_plus_constant_add_is_one_dense_with_its_bias() {
    // PyTorch's nn.Linear on a 3-D input, or a bias-free Linear and a separate bias: the
    // MatMul weight is [in, out].
    let mut m = net(&[3]);
    init(&mut m, "onnx::MatMul_7", &[3, 2], seq(6));
    init(&mut m, "fc.bias", &[2], vec![0.25, -0.25]);
    node(
        &mut m,
        "/fc/MatMul",
        "MatMul",
        &["x", "onnx::MatMul_7"],
        "mm",
    );
    // The constant first: Add is commutative.
    node(&mut m, "/fc/Add", "Add", &["fc.bias", "mm"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3],\nfc: Dense(2),\n");
    assert_eq!(d.output, vec![2]);
    assert_eq!(
        names(&d),
        shapes(&[("fc.weight", &[2, 3]), ("fc.bias", &[2])])
    );
    assert_eq!(
        tensor(&d, "fc.weight").data,
        vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]
    );
    assert_eq!(tensor(&d, "fc.bias").data, vec![0.25, -0.25]);
}

#[test]
fn matmul_alone_has_a_zero_bias() {
    let mut m = net(&[2]);
    init(&mut m, "proj.weight", &[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    node(&mut m, "", "MatMul", &["x", "proj.weight"], "mm");
    node(&mut m, "", "Relu", &["mm"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2],\nproj: Dense(2),\nReLU,\n");
    assert_eq!(tensor(&d, "proj.weight").data, vec![1.0, 3.0, 2.0, 4.0]);
    assert_eq!(tensor(&d, "proj.bias").data, vec![0.0, 0.0]);
}

// ---------------------------------------------------------------------------------------------
// Convolutions.

fn conv(name: &str, inputs: &[&str], out: &str) -> Node {
    Node::new(name, "Conv", inputs.iter().copied(), [out])
}

#[test]
fn conv2d_with_pads_and_bias() {
    let mut m = net(&[1, 5, 5]);
    init(&mut m, "conv1.weight", &[4, 1, 3, 3], seq(36));
    init(&mut m, "conv1.bias", &[4], vec![0.1, 0.2, 0.3, 0.4]);
    m.nodes.push(
        conv("/conv1/Conv", &["x", "conv1.weight", "conv1.bias"], "y")
            .with("dilations", ints(&[1, 1]))
            .with("group", Attribute::Int(1))
            .with("kernel_shape", ints(&[3, 3]))
            .with("pads", ints(&[1, 1, 1, 1]))
            .with("strides", ints(&[1, 1])),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 5, 5],\nconv1: Conv2d(4, kernel = 3, padding = 1),\n"
    );
    assert_eq!(d.output, vec![4, 5, 5]);
    assert_eq!(
        names(&d),
        shapes(&[("conv1.weight", &[4, 1, 3, 3]), ("conv1.bias", &[4])])
    );
    assert_eq!(tensor(&d, "conv1.weight").data, seq(36));
    assert_eq!(tensor(&d, "conv1.bias").data, vec![0.1, 0.2, 0.3, 0.4]);
}

#[test]
fn conv1d_stride_without_bias() {
    let mut m = net(&[3, 10]);
    init(&mut m, "c.weight", &[2, 3, 3], seq(18));
    m.nodes
        .push(conv("/c/Conv", &["x", "c.weight"], "y").with("strides", ints(&[2])));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3, 10],\nc: Conv1d(2, kernel = 3, stride = 2, bias = false),\n"
    );
    assert_eq!(d.output, vec![2, 4]);
    assert_eq!(names(&d), shapes(&[("c.weight", &[2, 3, 3])]));
}

#[test]
fn conv1d_symmetric_and_asymmetric_pads() {
    let mut m = net(&[1, 8]);
    init(&mut m, "a.weight", &[2, 1, 5], seq(10));
    init(&mut m, "b.weight", &[2, 2, 3], seq(12));
    m.nodes
        .push(conv("", &["x", "a.weight"], "h").with("pads", ints(&[2, 2])));
    m.nodes
        .push(conv("", &["h", "b.weight"], "y").with("pads", ints(&[1, 2])));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 8],\na: Conv1d(2, kernel = 5, padding = 2, bias = false),\nb: Conv1d(2, kernel = 3, padding = (1, 2), bias = false),\n"
    );
    // 8 + 4 - 5 + 1 = 8; 8 + 3 - 3 + 1 = 9.
    assert_eq!(d.output, vec![2, 9]);
}

#[test]
fn conv2d_rectangular_kernel_stride_and_pads() {
    // ONNX pads are [h_begin, w_begin, h_end, w_end]; the DSL's four values are
    // (top, bottom, left, right).
    let mut m = net(&[1, 6, 7]);
    init(&mut m, "r.weight", &[2, 1, 3, 5], seq(30));
    init(&mut m, "q.weight", &[3, 2, 3, 3], seq(54));
    m.nodes.push(
        conv("", &["x", "r.weight"], "h")
            .with("kernel_shape", ints(&[3, 5]))
            .with("strides", ints(&[2, 1]))
            .with("pads", ints(&[1, 0, 2, 1])),
    );
    // Symmetric but different per axis: (ph, pw).
    m.nodes
        .push(conv("", &["h", "q.weight"], "y").with("pads", ints(&[1, 2, 1, 2])));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 6, 7],\n\
         r: Conv2d(2, kernel = (3, 5), stride = (2, 1), padding = (1, 2, 0, 1), bias = false),\n\
         q: Conv2d(3, kernel = 3, padding = (1, 2), bias = false),\n"
    );
    // (6 + 3 - 3) / 2 + 1 = 4, (7 + 1 - 5) + 1 = 4; then 4 + 2 - 3 + 1 = 4, 4 + 4 - 3 + 1 = 6.
    assert_eq!(d.output, vec![3, 4, 6]);
}

#[test]
fn auto_pad_same_upper_is_padding_same() {
    let mut m = net(&[1, 8, 8]);
    init(&mut m, "s.weight", &[2, 1, 3, 3], seq(18));
    m.nodes.push(
        conv("", &["x", "s.weight"], "y")
            .with("auto_pad", s("SAME_UPPER"))
            .with("strides", ints(&[2, 2])),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 8, 8],\ns: Conv2d(2, kernel = 3, stride = 2, padding = same, bias = false),\n"
    );
    assert_eq!(d.output, vec![2, 4, 4]);
}

#[test]
fn auto_pad_same_lower_is_explicit_pads_before() {
    // An even kernel: the odd cell of padding goes before (top, left).
    let mut m = net(&[1, 8, 8]);
    init(&mut m, "l.weight", &[2, 1, 2, 2], seq(8));
    m.nodes
        .push(conv("", &["x", "l.weight"], "y").with("auto_pad", s("SAME_LOWER")));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 8, 8],\nl: Conv2d(2, kernel = 2, padding = (1, 0, 1, 0), bias = false),\n"
    );
    assert_eq!(d.output, vec![2, 8, 8]);
}

#[test]
fn auto_pad_same_lower_with_an_odd_kernel_is_symmetric() {
    let mut m = net(&[1, 8]);
    init(&mut m, "l.weight", &[2, 1, 3], seq(6));
    m.nodes
        .push(conv("", &["x", "l.weight"], "y").with("auto_pad", s("SAME_LOWER")));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 8],\nl: Conv1d(2, kernel = 3, padding = 1, bias = false),\n"
    );
    assert_eq!(d.output, vec![2, 8]);
}

#[test]
fn auto_pad_valid_is_no_padding() {
    let mut m = net(&[1, 8, 8]);
    init(&mut m, "v.weight", &[2, 1, 3, 3], seq(18));
    m.nodes
        .push(conv("", &["x", "v.weight"], "y").with("auto_pad", s("VALID")));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 8, 8],\nv: Conv2d(2, kernel = 3, bias = false),\n"
    );
    assert_eq!(d.output, vec![2, 6, 6]);
}

// ---------------------------------------------------------------------------------------------
// Pooling.

fn pool(op: &str, input: &str, out: &str, kernel: &[i64]) -> Node {
    Node::new("", op, [input], [out]).with("kernel_shape", ints(kernel))
}

#[test]
fn max_and_average_pool_2d() {
    let mut m = net(&[2, 8, 8]);
    m.nodes
        .push(pool("MaxPool", "x", "a", &[2, 2]).with("strides", ints(&[2, 2])));
    // ONNX's count_include_pad defaults to 0: the padded cells are left out of the mean.
    m.nodes.push(
        pool("AveragePool", "a", "b", &[3, 3])
            .with("strides", ints(&[1, 1]))
            .with("pads", ints(&[1, 1, 1, 1])),
    );
    m.nodes.push(
        pool("AveragePool", "b", "y", &[2, 2])
            .with("strides", ints(&[2, 2]))
            .with("pads", ints(&[1, 1, 1, 1]))
            .with("count_include_pad", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [2, 8, 8],\n\
         MaxPool2d(2),\n\
         AvgPool2d(3, stride = 1, padding = 1, count_include_pad = false),\n\
         AvgPool2d(2, padding = 1),\n"
    );
    assert_eq!(d.output, vec![2, 3, 3]);
    assert!(d.tensors.is_empty());
}

#[test]
fn pool_1d_and_the_onnx_default_stride_of_1() {
    // ONNX pools default to stride 1, network!'s to the window.
    let mut m = net(&[2, 9]);
    m.nodes.push(pool("MaxPool", "x", "a", &[3]));
    m.nodes
        .push(pool("AveragePool", "a", "y", &[2]).with("strides", ints(&[2])));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [2, 9],\nMaxPool1d(3, stride = 1),\nAvgPool1d(2),\n"
    );
    assert_eq!(d.output, vec![2, 3]);
}

#[test]
fn pool_auto_pad_same_upper_is_explicit_pads() {
    let mut m = net(&[1, 7, 7]);
    m.nodes.push(
        pool("MaxPool", "x", "y", &[3, 3])
            .with("strides", ints(&[2, 2]))
            .with("auto_pad", s("SAME_UPPER")),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 7, 7],\nMaxPool2d(3, stride = 2, padding = 1),\n"
    );
    assert_eq!(d.output, vec![1, 4, 4]);
}

#[test]
fn ceil_mode_is_accepted_where_it_changes_nothing() {
    let mut m = net(&[1, 8, 8]);
    m.nodes.push(
        pool("MaxPool", "x", "y", &[2, 2])
            .with("strides", ints(&[2, 2]))
            .with("ceil_mode", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [1, 8, 8],\nMaxPool2d(2),\n");
    assert_eq!(d.output, vec![1, 4, 4]);
}

#[test]
fn ceil_mode_is_refused_where_it_adds_a_partial_window() {
    let mut m = net(&[1, 7, 7]);
    m.nodes.push(
        Node::new("/pool/MaxPool", "MaxPool", ["x"], ["y"])
            .with("kernel_shape", ints(&[2, 2]))
            .with("strides", ints(&[2, 2]))
            .with("ceil_mode", Attribute::Int(1)),
    );
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/pool/MaxPool` (MaxPool)",
            "ceil_mode = 1",
            "round down",
        ],
    );
}

#[test]
fn global_average_pool_on_an_image() {
    let mut m = net(&[3, 4, 5]);
    init(&mut m, "fc.weight", &[2, 3], seq(6));
    init(&mut m, "fc.bias", &[2], vec![0.0, 1.0]);
    node(
        &mut m,
        "/gap/GlobalAveragePool",
        "GlobalAveragePool",
        &["x"],
        "g",
    );
    m.nodes
        .push(Node::new("", "Flatten", ["g"], ["f"]).with("axis", Attribute::Int(1)));
    m.nodes.push(
        Node::new("/fc/Gemm", "Gemm", ["f", "fc.weight", "fc.bias"], ["y"])
            .with("transB", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3, 4, 5],\nAvgPool2d((4, 5)),\nFlatten,\nfc: Dense(2),\n"
    );
    assert_eq!(d.output, vec![2]);
}

#[test]
fn global_max_pool_on_a_signal() {
    let mut m = net(&[3, 6]);
    node(&mut m, "", "GlobalMaxPool", &["x"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3, 6],\nMaxPool1d(6),\n");
    assert_eq!(d.output, vec![3, 1]);
}

// ---------------------------------------------------------------------------------------------
// Batch norm.

fn batch_norm(m: &mut Model, prefix: &str, c: usize, input: &str, out: &str, eps: Option<f32>) {
    let p = |s: &str| format!("{prefix}.{s}");
    init(
        m,
        &p("weight"),
        &[c],
        (0..c).map(|i| 1.0 + i as f32).collect(),
    );
    init(
        m,
        &p("bias"),
        &[c],
        (0..c).map(|i| 0.1 * i as f32).collect(),
    );
    init(
        m,
        &p("running_mean"),
        &[c],
        (0..c).map(|i| 0.5 - i as f32).collect(),
    );
    init(
        m,
        &p("running_var"),
        &[c],
        (0..c).map(|i| 0.25 + i as f32).collect(),
    );
    let mut n = Node::new(
        format!("/{prefix}/BatchNormalization"),
        "BatchNormalization",
        [
            input.to_string(),
            p("weight"),
            p("bias"),
            p("running_mean"),
            p("running_var"),
        ],
        [out],
    );
    if let Some(e) = eps {
        n = n.with("epsilon", Attribute::Float(e));
    }
    m.nodes.push(n);
}

#[test]
fn batch_norm_2d_moves_another_epsilon_into_the_variance() {
    let mut m = net(&[2, 3, 3]);
    batch_norm(&mut m, "bn1", 2, "x", "y", Some(1e-3));
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2, 3, 3],\nbn1: BatchNorm2d,\n");
    assert_eq!(d.output, vec![2, 3, 3]);
    assert_eq!(
        names(&d),
        shapes(&[
            ("bn1.weight", &[2]),
            ("bn1.bias", &[2]),
            ("bn1.running_mean", &[2]),
            ("bn1.running_var", &[2]),
        ])
    );
    assert_eq!(tensor(&d, "bn1.weight").data, vec![1.0, 2.0]);
    assert_eq!(tensor(&d, "bn1.bias").data, vec![0.0, 0.1]);
    assert_eq!(tensor(&d, "bn1.running_mean").data, vec![0.5, -0.5]);
    // var + 1e-3 == var' + 1e-5.
    let shift = 1e-3 - NN_BATCH_NORM_EPS;
    close(
        &tensor(&d, "bn1.running_var").data,
        &[0.25 + shift, 1.25 + shift],
    );
    assert!((tensor(&d, "bn1.running_var").data[0] - 0.25099).abs() < 1e-6);
}

#[test]
fn batch_norm_1d_with_the_default_epsilon_is_unchanged() {
    let mut m = net(&[3]);
    batch_norm(&mut m, "norm", 3, "x", "y", None);
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3],\nnorm: BatchNorm1d,\n");
    assert_eq!(tensor(&d, "norm.running_var").data, vec![0.25, 1.25, 2.25]);
}

#[test]
fn batch_norm_on_a_signal_is_batch_norm_1d() {
    let mut m = net(&[2, 5]);
    batch_norm(&mut m, "bn", 2, "x", "y", Some(1e-5));
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2, 5],\nbn: BatchNorm1d,\n");
    assert_eq!(tensor(&d, "bn.running_var").data, vec![0.25, 1.25]);
}

#[test]
fn batch_norm_named_after_its_node_when_the_scale_is_not_a_weight() {
    let mut m = net(&[2]);
    for (k, v) in ["s", "b", "m", "v"].iter().zip([1.0f32, 0.0, 0.0, 1.0]) {
        init(
            &mut m,
            &format!("onnx::BatchNormalization_{k}"),
            &[2],
            vec![v; 2],
        );
    }
    node(
        &mut m,
        "/norm/BatchNormalization",
        "BatchNormalization",
        &[
            "x",
            "onnx::BatchNormalization_s",
            "onnx::BatchNormalization_b",
            "onnx::BatchNormalization_m",
            "onnx::BatchNormalization_v",
        ],
        "y",
    );
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2],\nnorm: BatchNorm1d,\n");
    assert_eq!(tensor(&d, "norm.running_var").shape, vec![2]);
}

// ---------------------------------------------------------------------------------------------
// Activations.

#[test]
fn every_activation_operator() {
    let mut m = net(&[4]);
    let acts: Vec<Node> = vec![
        Node::new("", "Relu", ["x"], ["a1"]),
        Node::new("", "Sigmoid", ["a1"], ["a2"]),
        Node::new("", "Tanh", ["a2"], ["a3"]),
        Node::new("", "Softplus", ["a3"], ["a4"]),
        Node::new("", "Elu", ["a4"], ["a5"]).with("alpha", Attribute::Float(0.5)),
        Node::new("", "Elu", ["a5"], ["a6"]),
        Node::new("", "LeakyRelu", ["a6"], ["a7"]),
        Node::new("", "LeakyRelu", ["a7"], ["a8"]).with("alpha", Attribute::Float(0.2)),
        Node::new("", "Selu", ["a8"], ["a9"]),
        Node::new("", "Selu", ["a9"], ["a10"])
            .with("alpha", Attribute::Float(1.673_263_2))
            .with("gamma", Attribute::Float(1.050_701)),
        Node::new("", "Gelu", ["a10"], ["a11"]),
        Node::new("", "Gelu", ["a11"], ["a12"]).with("approximate", s("tanh")),
        Node::new("", "Gelu", ["a12"], ["a13"]).with("approximate", s("none")),
        Node::new("", "Softmax", ["a13"], ["y"]).with("axis", Attribute::Int(1)),
    ];
    m.nodes.extend(acts);
    m.opsets[0].version = 20; // Gelu
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\nReLU,\nSigmoid,\nTanh,\nSoftplus,\nELU(0.5),\nELU(1.0),\nLeakyReLU(0.01),\nLeakyReLU(0.2),\nSELU,\nSELU,\nGELU,\nGELU(approximate = tanh),\nGELU,\nSoftmax,\n"
    );
    assert_eq!(d.output, vec![4]);
    assert!(d.tensors.is_empty());
}

#[test]
fn softmax_default_axis_over_a_vector() {
    let mut m = net(&[5]);
    node(&mut m, "", "Softmax", &["x"], "y");
    assert_eq!(ok(m, "y").body(""), "input: [5],\nSoftmax,\n");
}

#[test]
fn prelu_per_channel_and_single() {
    let mut m = net(&[3, 2, 2]);
    init(&mut m, "act.weight", &[3, 1, 1], vec![0.1, 0.2, 0.3]);
    init(&mut m, "1.weight", &[1], vec![0.25]);
    node(&mut m, "/act/PRelu", "PRelu", &["x", "act.weight"], "h");
    node(&mut m, "/1/PRelu", "PRelu", &["h", "1.weight"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3, 2, 2],\nact: PReLU(per_channel = true),\nprelu1: PReLU,\n"
    );
    assert_eq!(
        names(&d),
        shapes(&[("act.weight", &[3]), ("prelu1.weight", &[1])])
    );
    assert_eq!(tensor(&d, "act.weight").data, vec![0.1, 0.2, 0.3]);
    assert_eq!(tensor(&d, "prelu1.weight").data, vec![0.25]);
}

#[test]
fn prelu_per_feature_of_a_vector() {
    let mut m = net(&[3]);
    init(&mut m, "p.weight", &[3], vec![0.1, 0.2, 0.3]);
    node(&mut m, "", "PRelu", &["x", "p.weight"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3],\np: PReLU(per_channel = true),\n");
}

#[test]
fn prelu_with_a_slope_per_pixel_is_refused() {
    let mut m = net(&[3, 2, 2]);
    init(&mut m, "act.weight", &[3, 2, 2], seq(12));
    node(&mut m, "/act/PRelu", "PRelu", &["x", "act.weight"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/act/PRelu` (PRelu)",
            "act.weight",
            "[3, 2, 2]",
            "one per channel (3)",
        ],
    );
}

#[test]
fn silu_pattern() {
    let mut m = net(&[4]);
    node(&mut m, "/act/Sigmoid", "Sigmoid", &["x"], "s");
    node(&mut m, "/act/Mul", "Mul", &["x", "s"], "h");
    // The other order, a plain name on the Mul: the layer takes it.
    node(&mut m, "", "Sigmoid", &["h"], "s2");
    node(&mut m, "silu_2", "Mul", &["s2", "h"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [4],\nSiLU,\nSiLU,\n");
    assert_eq!(d.output, vec![4]);
}

/// PyTorch's export of `nn.GELU()` (the erf form) on `input`: Div by sqrt(2), Erf, Add 1, Mul by
/// the input, Mul by 0.5; constants as `Constant` nodes, as the exporter writes them.
fn erf_gelu(m: &mut Model, p: &str, input: &str, out: &str) {
    let v = |s: &str| format!("{p}{s}");
    constant(m, &v("/Constant"), &v("c_sqrt2"), std::f32::consts::SQRT_2);
    node(m, &v("/Div"), "Div", &[input, &v("c_sqrt2")], &v("div"));
    node(m, &v("/Erf"), "Erf", &[&v("div")], &v("erf"));
    constant(m, &v("/Constant_1"), &v("c_one"), 1.0);
    node(m, &v("/Add"), "Add", &[&v("erf"), &v("c_one")], &v("add"));
    node(m, &v("/Mul"), "Mul", &[input, &v("add")], &v("mul"));
    constant(m, &v("/Constant_2"), &v("c_half"), 0.5);
    node(m, &v("/Mul_1"), "Mul", &[&v("mul"), &v("c_half")], out);
}

#[test]
fn erf_gelu_pattern() {
    let mut m = net(&[3]);
    init(&mut m, "fc1.weight", &[4, 3], seq(12));
    init(&mut m, "fc2.weight", &[2, 4], seq(8));
    m.nodes.push(
        Node::new("/fc1/Gemm", "Gemm", ["x", "fc1.weight"], ["h"])
            .with("transB", Attribute::Int(1)),
    );
    erf_gelu(&mut m, "/act", "h", "g");
    m.nodes.push(
        Node::new("/fc2/Gemm", "Gemm", ["g", "fc2.weight"], ["y"])
            .with("transB", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3],\nfc1: Dense(4),\nGELU,\nfc2: Dense(2),\n"
    );
    assert_eq!(d.output, vec![2]);
    assert_eq!(
        names(&d),
        shapes(&[
            ("fc1.weight", &[4, 3]),
            ("fc1.bias", &[4]),
            ("fc2.weight", &[2, 4]),
            ("fc2.bias", &[2]),
        ])
    );
}

#[test]
fn erf_gelu_pattern_with_initializers_and_swapped_operands() {
    let mut m = net(&[3]);
    init(&mut m, "sqrt2", &[], vec![std::f32::consts::SQRT_2]);
    init(&mut m, "one", &[], vec![1.0]);
    init(&mut m, "half", &[], vec![0.5]);
    node(&mut m, "", "Div", &["x", "sqrt2"], "d");
    node(&mut m, "", "Erf", &["d"], "e");
    node(&mut m, "", "Add", &["one", "e"], "a");
    node(&mut m, "", "Mul", &["a", "x"], "p");
    node(&mut m, "", "Mul", &["half", "p"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [3],\nGELU,\n");
}

#[test]
fn gaussian_pattern() {
    // exp(-x * x): Mul(x, x), Neg, Exp.
    let mut m = net(&[3]);
    node(&mut m, "/g/Mul", "Mul", &["x", "x"], "sq");
    node(&mut m, "/g/Neg", "Neg", &["sq"], "n");
    node(&mut m, "/g/Exp", "Exp", &["n"], "h");
    // A plain name on the chain's last node names the layer.
    node(&mut m, "", "Mul", &["h", "h"], "sq2");
    node(&mut m, "", "Neg", &["sq2"], "n2");
    node(&mut m, "bump", "Exp", &["n2"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3],
Gaussian,
bump: Gaussian,
"
    );
    assert_eq!(d.output, vec![3]);
}

#[test]
fn step_pattern() {
    // PyTorch's heaviside(x, 1): Cast(x >= 0, FLOAT).
    let mut m = net(&[2, 3]);
    init(&mut m, "zero", &[], vec![0.0]);
    node(
        &mut m,
        "/s/GreaterOrEqual",
        "GreaterOrEqual",
        &["x", "zero"],
        "ge",
    );
    m.nodes
        .push(Node::new("/s/Cast", "Cast", ["ge"], ["y"]).with("to", Attribute::Int(1)));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [2, 3],
Step,
"
    );
    assert_eq!(d.output, vec![2, 3]);
}

#[test]
fn mul_that_is_no_pattern_is_refused() {
    let mut m = net(&[3]);
    init(&mut m, "k", &[3], vec![2.0; 3]);
    node(&mut m, "scale", "Mul", &["x", "k"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `scale` (Mul)",
            "a Mul that is not part of",
            "no nn layer",
        ],
    );
}

#[test]
fn greater_or_equal_that_is_no_step_is_refused() {
    // x >= 1, not x >= 0.
    let mut m = net(&[3]);
    init(&mut m, "one", &[], vec![1.0]);
    node(&mut m, "ge", "GreaterOrEqual", &["x", "one"], "b");
    m.nodes
        .push(Node::new("", "Cast", ["b"], ["y"]).with("to", Attribute::Int(1)));
    let e = err(m, "y");
    assert_has(&e, &["node `ge` (GreaterOrEqual)", "Cast(x >= 0, FLOAT)"]);
}

#[test]
fn step_cast_to_another_type_is_refused() {
    let mut m = net(&[3]);
    init(&mut m, "zero", &[], vec![0.0]);
    node(&mut m, "ge", "GreaterOrEqual", &["x", "zero"], "b");
    // to = 7: INT64.
    m.nodes
        .push(Node::new("", "Cast", ["b"], ["y"]).with("to", Attribute::Int(7)));
    let e = err(m, "y");
    assert_has(&e, &["node `ge` (GreaterOrEqual)", "Step"]);
}

// ---------------------------------------------------------------------------------------------
// Flatten, Reshape, Dropout, Identity.

#[test]
fn flatten_an_image_and_nothing_for_a_vector() {
    let mut m = net(&[2, 3, 3]);
    init(&mut m, "fc.weight", &[4, 18], seq(72));
    m.nodes
        .push(Node::new("", "Flatten", ["x"], ["f"]).with("axis", Attribute::Int(1)));
    m.nodes.push(
        Node::new("/fc/Gemm", "Gemm", ["f", "fc.weight"], ["h"]).with("transB", Attribute::Int(1)),
    );
    // Flatten of a vector: no layer.
    node(&mut m, "", "Flatten", &["h"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2, 3, 3],\nFlatten,\nfc: Dense(4),\n");
    assert_eq!(d.output, vec![4]);
}

#[test]
fn reshape_to_minus_one_n_from_a_constant_node() {
    let mut m = net(&[2, 2, 2]);
    let shape = Tensor::int64("", &[2], vec![-1, 8]).unwrap();
    m.nodes.push(
        Node::new("/Constant", "Constant", Vec::<String>::new(), ["shape"])
            .with("value", Attribute::Tensor(shape)),
    );
    node(&mut m, "/Reshape", "Reshape", &["x", "shape"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2, 2, 2],\nFlatten,\n");
    assert_eq!(d.output, vec![8]);
}

#[test]
fn reshape_to_zero_n_from_an_initializer() {
    let mut m = net(&[2, 3]);
    init_i64(&mut m, "shape", &[2], vec![0, 6]);
    node(&mut m, "", "Reshape", &["x", "shape"], "f");
    node(&mut m, "", "Relu", &["f"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [2, 3],\nFlatten,\nReLU,\n");
    assert_eq!(d.output, vec![6]);
}

#[test]
fn dropout_and_identity_are_skipped() {
    let mut m = net(&[4]);
    init(&mut m, "ratio", &[], vec![0.5]);
    // Dropout with its (unused) mask output.
    m.nodes.push(Node::new(
        "/drop/Dropout",
        "Dropout",
        ["x", "ratio"],
        ["d", "mask"],
    ));
    node(&mut m, "/id/Identity", "Identity", &["d"], "i");
    node(&mut m, "", "Relu", &["i"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [4],\nReLU,\n");
    assert_eq!(d.entries.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Residual blocks.

fn gemm(m: &mut Model, w: &str, inp: &str, out: &str, units: usize, from: usize) {
    init(m, &format!("{w}.weight"), &[units, from], seq(units * from));
    init(m, &format!("{w}.bias"), &[units], vec![0.0; units]);
    m.nodes.push(
        Node::new(
            format!("/{}/Gemm", w.replace('.', "/")),
            "Gemm",
            [inp.to_string(), format!("{w}.weight"), format!("{w}.bias")],
            [out],
        )
        .with("transB", Attribute::Int(1)),
    );
}

#[test]
fn residual_with_an_identity_skip() {
    let mut m = net(&[4]);
    gemm(&mut m, "blk.fc1", "x", "h1", 4, 4);
    node(&mut m, "/blk/relu/Relu", "Relu", &["h1"], "h2");
    gemm(&mut m, "blk.fc2", "h2", "h3", 4, 4);
    node(&mut m, "/blk/Add", "Add", &["h3", "x"], "r");
    node(&mut m, "/relu/Relu", "Relu", &["r"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\nblock1: Residual {\n    blk_fc1: Dense(4),\n    ReLU,\n    blk_fc2: Dense(4),\n},\nReLU,\n"
    );
    assert_eq!(
        d.entries[0],
        Entry::Residual {
            name: "block1".into(),
            projection: false,
            body: vec![
                Entry::Layer {
                    name: Some("blk_fc1".into()),
                    layer: "Dense(4)".into()
                },
                Entry::Layer {
                    name: None,
                    layer: "ReLU".into()
                },
                Entry::Layer {
                    name: Some("blk_fc2".into()),
                    layer: "Dense(4)".into()
                },
            ],
        }
    );
    assert_eq!(d.output, vec![4]);
    assert_eq!(
        names(&d),
        shapes(&[
            ("blk_fc1.weight", &[4, 4]),
            ("blk_fc1.bias", &[4]),
            ("blk_fc2.weight", &[4, 4]),
            ("blk_fc2.bias", &[4]),
        ])
    );
}

#[test]
fn residual_named_after_a_plain_add() {
    let mut m = net(&[2]);
    gemm(&mut m, "fc", "x", "h", 2, 2);
    node(&mut m, "res1", "Add", &["x", "h"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [2],\nres1: Residual {\n    fc: Dense(2),\n},\n"
    );
}

#[test]
fn residual_with_a_conv_projection() {
    let mut m = net(&[2, 8, 8]);
    init(&mut m, "l1.conv1.weight", &[4, 2, 3, 3], seq(72));
    init(&mut m, "l1.conv1.bias", &[4], vec![0.0; 4]);
    init(&mut m, "l1.conv2.weight", &[4, 4, 3, 3], seq(144));
    init(&mut m, "l1.conv2.bias", &[4], vec![0.0; 4]);
    init(
        &mut m,
        "l1.shortcut.weight",
        &[4, 2, 1, 1],
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    );
    m.nodes.push(
        conv(
            "/l1/conv1/Conv",
            &["x", "l1.conv1.weight", "l1.conv1.bias"],
            "c1",
        )
        .with("strides", ints(&[2, 2]))
        .with("pads", ints(&[1, 1, 1, 1])),
    );
    node(&mut m, "/l1/relu/Relu", "Relu", &["c1"], "r1");
    m.nodes.push(
        conv(
            "/l1/conv2/Conv",
            &["r1", "l1.conv2.weight", "l1.conv2.bias"],
            "c2",
        )
        .with("pads", ints(&[1, 1, 1, 1])),
    );
    m.nodes.push(
        conv("/l1/shortcut/Conv", &["x", "l1.shortcut.weight"], "sc")
            .with("kernel_shape", ints(&[1, 1]))
            .with("strides", ints(&[2, 2])),
    );
    node(&mut m, "down", "Add", &["c2", "sc"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [2, 8, 8],\n\
         down: Residual(projection) {\n    \
             l1_conv1: Conv2d(4, kernel = 3, stride = 2, padding = 1),\n    \
             ReLU,\n    \
             l1_conv2: Conv2d(4, kernel = 3, padding = 1),\n\
         },\n"
    );
    assert_eq!(d.output, vec![4, 4, 4]);
    assert_eq!(
        names(&d),
        shapes(&[
            ("l1_conv1.weight", &[4, 2, 3, 3]),
            ("l1_conv1.bias", &[4]),
            ("l1_conv2.weight", &[4, 4, 3, 3]),
            ("l1_conv2.bias", &[4]),
            ("down_proj.weight", &[4, 2, 1, 1]),
        ])
    );
    assert_eq!(
        tensor(&d, "down_proj.weight").data,
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    );
    assert!(matches!(
        &d.entries[0],
        Entry::Residual {
            projection: true,
            ..
        }
    ));
}

#[test]
fn residual_with_a_gemm_projection_transposed() {
    let mut m = net(&[4]);
    gemm(&mut m, "fc", "x", "h", 6, 4);
    node(&mut m, "", "Relu", &["h"], "r");
    // transB = 0: the projection's weight is stored [in, out].
    init(&mut m, "sc.weight", &[4, 6], seq(24));
    node(&mut m, "/sc/Gemm", "Gemm", &["x", "sc.weight"], "p");
    node(&mut m, "/Add", "Add", &["r", "p"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\nblock1: Residual(projection) {\n    fc: Dense(6),\n    ReLU,\n},\n"
    );
    assert_eq!(d.output, vec![6]);
    let p = tensor(&d, "block1_proj.weight");
    assert_eq!(p.shape, vec![6, 4]);
    // Row o of [out, in] is column o of [in, out].
    assert_eq!(&p.data[..4], &[0.0, 6.0, 12.0, 18.0]);
    assert_eq!(&p.data[4..8], &[1.0, 7.0, 13.0, 19.0]);
    assert_eq!(
        names(&d),
        shapes(&[
            ("fc.weight", &[6, 4]),
            ("fc.bias", &[6]),
            ("block1_proj.weight", &[6, 4]),
        ])
    );
}

#[test]
fn nested_residuals() {
    let mut m = net(&[4]);
    gemm(&mut m, "fc1", "x", "a", 4, 4);
    node(&mut m, "", "Relu", &["a"], "h");
    gemm(&mut m, "fc2", "h", "b", 4, 4);
    node(&mut m, "", "Relu", &["b"], "c");
    node(&mut m, "/inner/Add", "Add", &["h", "c"], "i");
    gemm(&mut m, "fc3", "i", "d", 4, 4);
    node(&mut m, "/outer/Add", "Add", &["x", "d"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\n\
         block1: Residual {\n    \
             fc1: Dense(4),\n    \
             ReLU,\n    \
             block2: Residual {\n        \
                 fc2: Dense(4),\n        \
                 ReLU,\n    \
             },\n    \
             fc3: Dense(4),\n\
         },\n"
    );
    assert_eq!(
        names(&d).into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
        [
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias",
            "fc3.weight",
            "fc3.bias"
        ]
    );
}

#[test]
fn residual_block_that_is_one_dense_layer_with_a_projection_listed_after_it() {
    // `Residual(projection) { Dense(6) }`: both readers of `x` are a Gemm read only by the Add;
    // the projection is the one without a bias.
    let mut m = net(&[4]);
    gemm(&mut m, "fc", "x", "h", 6, 4);
    init(&mut m, "sc.weight", &[6, 4], seq(24));
    m.nodes.push(
        Node::new("/sc/Gemm", "Gemm", ["x", "sc.weight"], ["p"]).with("transB", Attribute::Int(1)),
    );
    node(&mut m, "blk", "Add", &["h", "p"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\nblk: Residual(projection) {\n    fc: Dense(6),\n},\n"
    );
    assert_eq!(tensor(&d, "blk_proj.weight").data, seq(24));
}

#[test]
fn residual_block_that_is_one_conv_with_a_projection_listed_after_it() {
    // `Residual(projection) { Conv2d(4, kernel = 3, stride = 2, padding = 1) }`.
    let mut m = net(&[2, 8, 8]);
    init(&mut m, "c.weight", &[4, 2, 3, 3], seq(72));
    init(&mut m, "c.bias", &[4], vec![0.0; 4]);
    init(&mut m, "sc.weight", &[4, 2, 1, 1], seq(8));
    m.nodes.push(
        conv("/c/Conv", &["x", "c.weight", "c.bias"], "h")
            .with("strides", ints(&[2, 2]))
            .with("pads", ints(&[1, 1, 1, 1])),
    );
    m.nodes
        .push(conv("/sc/Conv", &["x", "sc.weight"], "p").with("strides", ints(&[2, 2])));
    node(&mut m, "blk", "Add", &["h", "p"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [2, 8, 8],\nblk: Residual(projection) {\n    c: Conv2d(4, kernel = 3, stride = 2, padding = 1),\n},\n"
    );
    assert_eq!(tensor(&d, "blk_proj.weight").data, seq(8));
}

#[test]
fn residual_block_starting_with_silu() {
    // `Residual { SiLU, Dense(4) }`.
    let mut m = net(&[4]);
    node(&mut m, "", "Sigmoid", &["x"], "s");
    node(&mut m, "", "Mul", &["x", "s"], "a");
    gemm(&mut m, "fc", "a", "h", 4, 4);
    node(&mut m, "", "Add", &["x", "h"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\nblock1: Residual {\n    SiLU,\n    fc: Dense(4),\n},\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Names.

#[test]
fn plain_node_names_are_kept() {
    // What nn's own export writes: the layer names, `relu_2` included.
    let mut m = net(&[4]);
    gemm(&mut m, "dense_1", "x", "h", 3, 4);
    m.nodes.last_mut().unwrap().name = "dense_1".into();
    node(&mut m, "relu_2", "Relu", &["h"], "r");
    node(&mut m, "out_act", "Sigmoid", &["r"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [4],\nfc1: Dense(3),\nReLU,\nout_act: Sigmoid,\n"
    );
}

#[test]
fn pytorch_paths_name_layers_without_weight_names() {
    // BN folded into the conv by the exporter: `onnx::Conv_12`, no `.weight`.
    let mut m = net(&[1, 4, 4]);
    init(&mut m, "onnx::Conv_12", &[2, 1, 3, 3], seq(18));
    init(&mut m, "onnx::Conv_13", &[2], vec![0.0; 2]);
    init(&mut m, "onnx::Conv_14", &[2, 2, 1, 1], seq(4));
    m.nodes.push(conv(
        "/0/Conv",
        &["x", "onnx::Conv_12", "onnx::Conv_13"],
        "a",
    ));
    node(&mut m, "/1/Relu", "Relu", &["a"], "b");
    m.nodes
        .push(conv("/features/conv/Conv", &["b", "onnx::Conv_14"], "y"));
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [1, 4, 4],\nconv0: Conv2d(2, kernel = 3),\nReLU,\nfeatures_conv: Conv2d(2, kernel = 1, bias = false),\n"
    );
    assert_eq!(
        names(&d),
        shapes(&[
            ("conv0.weight", &[2, 1, 3, 3]),
            ("conv0.bias", &[2]),
            ("features_conv.weight", &[2, 2, 1, 1]),
        ])
    );
}

#[test]
fn weight_names_name_layers() {
    // `0.weight` (nn.Sequential) starts with a digit: prefixed; `layer1.0.fc.weight` made an
    // identifier.
    let mut m = net(&[3]);
    gemm(&mut m, "0", "x", "a", 3, 3);
    gemm(&mut m, "layer1.0.fc", "a", "y", 2, 3);
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3],\nfc0: Dense(3),\nlayer1_0_fc: Dense(2),\n"
    );
    assert_eq!(
        names(&d).into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
        [
            "fc0.weight",
            "fc0.bias",
            "layer1_0_fc.weight",
            "layer1_0_fc.bias"
        ]
    );
}

#[test]
fn keywords_are_not_names() {
    let mut m = net(&[3]);
    gemm(&mut m, "type", "x", "a", 3, 3);
    gemm(&mut m, "input", "a", "b", 3, 3);
    node(&mut m, "match", "Relu", &["b"], "c");
    init(&mut m, "onnx::Gemm_9", &[2, 3], seq(6));
    m.nodes.push(
        Node::new("/self/Gemm", "Gemm", ["c", "onnx::Gemm_9"], ["y"])
            .with("transB", Attribute::Int(1)),
    );
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3],\nfc1: Dense(3),\nfc2: Dense(3),\nReLU,\nfc3: Dense(2),\n"
    );
}

#[test]
fn duplicate_names_are_avoided() {
    let mut m = net(&[3]);
    // Two layers under one module path, no weight names: `blk`, then a fresh name.
    init(&mut m, "onnx::Gemm_1", &[3, 3], seq(9));
    init(&mut m, "onnx::Gemm_2", &[3, 3], seq(9));
    m.nodes.push(
        Node::new("/blk/Gemm", "Gemm", ["x", "onnx::Gemm_1"], ["a"])
            .with("transB", Attribute::Int(1)),
    );
    m.nodes.push(
        Node::new("/blk/Gemm_1", "Gemm", ["a", "onnx::Gemm_2"], ["b"])
            .with("transB", Attribute::Int(1)),
    );
    // `fc1` is taken by the fresh name: the weight `fc1.weight` gets the next one.
    gemm(&mut m, "fc1", "b", "c", 3, 3);
    // A plain node name already taken: the layer stays unnamed.
    node(&mut m, "blk", "Relu", &["c"], "y");
    let d = ok(m, "y");
    assert_eq!(
        d.body(""),
        "input: [3],\nblk: Dense(3),\nfc1: Dense(3),\nfc2: Dense(3),\nReLU,\n"
    );
    let mut all = Vec::new();
    layer_names(&d.entries, &mut all);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(all.len(), unique.len(), "{all:?}");
}

#[test]
fn names_do_not_take_a_projection_name() {
    let mut m = net(&[4]);
    gemm(&mut m, "fc", "x", "h", 6, 4);
    node(&mut m, "", "Relu", &["h"], "hr");
    init(&mut m, "sc.weight", &[6, 4], seq(24));
    m.nodes.push(
        Node::new("/sc/Gemm", "Gemm", ["x", "sc.weight"], ["p"]).with("transB", Attribute::Int(1)),
    );
    node(&mut m, "r", "Add", &["hr", "p"], "a");
    gemm(&mut m, "r_proj", "a", "y", 2, 6);
    let d = ok(m, "y");
    let mut all = Vec::new();
    layer_names(&d.entries, &mut all);
    assert!(
        !all.iter().any(|n| n == "r_proj"),
        "`r_proj` is block `r`'s projection, yet a layer is named so:\n{}",
        d.body("")
    );
    let mut tensor_names: Vec<_> = d.tensors.iter().map(|t| &t.name).collect();
    tensor_names.sort();
    let n = tensor_names.len();
    tensor_names.dedup();
    assert_eq!(n, tensor_names.len(), "duplicate tensor names");
}

#[test]
fn plain_names_network_refuses_are_not_kept() {
    let mut m = net(&[4]);
    node(&mut m, "_", "Relu", &["x"], "a");
    node(&mut m, "__nn_rng", "Sigmoid", &["a"], "y");
    let d = ok(m, "y");
    assert_eq!(d.body(""), "input: [4],\nReLU,\nSigmoid,\n");
}

#[test]
fn plain_names_do_not_collide_with_automatic_names() {
    // `/0/Relu` stays unnamed at position 1, so network! names it `relu_1`; the next node is
    // plainly named `relu_1`.
    let mut m = net(&[4]);
    node(&mut m, "/0/Relu", "Relu", &["x"], "a");
    node(&mut m, "relu_1", "Relu", &["a"], "y");
    let d = ok(m, "y");
    for (pos, e) in d.entries.iter().enumerate() {
        if let Entry::Layer { name: None, layer } = e {
            let kind: String = layer.split('(').next().unwrap().to_lowercase();
            let auto = format!("{kind}_{}", pos + 1);
            let mut all = Vec::new();
            layer_names(&d.entries, &mut all);
            assert!(
                !all.contains(&auto),
                "layer {} is automatically `{auto}`, which another layer is named:\n{}",
                pos + 1,
                d.body("")
            );
        }
    }
}

#[test]
fn source_wraps_the_body() {
    let mut m = net(&[3]);
    gemm(&mut m, "fc", "x", "y", 2, 3);
    let d = ok(m, "y");
    assert_eq!(
        d.source("Tiny", "tiny.onnx"),
        "nn::network! {\n    /// Imported from `tiny.onnx`: [3] -> [2].\n    pub struct Tiny {\n        input: [3],\n        fc: Dense(2),\n    }\n}\n"
    );
    assert_eq!(d.body("  "), "  input: [3],\n  fc: Dense(2),\n");
}

// ---------------------------------------------------------------------------------------------
// Refusals.

#[test]
fn unsupported_operator_lstm() {
    let mut m = net(&[4]);
    node(&mut m, "/rnn/LSTM", "LSTM", &["x"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/rnn/LSTM` (LSTM)",
            "operator `LSTM` has no nn layer",
            "has no nn layer",
        ],
    );
}

#[test]
fn unsupported_operator_hard_sigmoid() {
    let mut m = net(&[4]);
    node(&mut m, "", "Relu", &["x"], "a");
    node(&mut m, "hs", "HardSigmoid", &["a"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `hs` (HardSigmoid)",
            "operator `HardSigmoid` has no nn layer",
        ],
    );
}

#[test]
fn unsupported_operator_without_a_name_is_labelled() {
    let mut m = net(&[4]);
    node(&mut m, "", "Cos", &["x"], "y");
    let e = err(m, "y");
    assert_has(&e, &["(Cos)", "operator `Cos` has no nn layer"]);
}

#[test]
fn grouped_convolution_is_refused() {
    // A real grouped conv: its weight has C / group input channels.
    let mut m = net(&[2, 5, 5]);
    init(&mut m, "g.weight", &[4, 1, 3, 3], seq(36));
    m.nodes.push(
        conv("/g/Conv", &["x", "g.weight"], "y")
            .with("group", Attribute::Int(2))
            .with("kernel_shape", ints(&[3, 3])),
    );
    let e = err(m, "y");
    assert_has(&e, &["node `/g/Conv` (Conv)", "group"]);
}

#[test]
fn grouped_convolution_with_full_channel_weight_is_refused() {
    let mut m = net(&[2, 5, 5]);
    init(&mut m, "g.weight", &[4, 2, 3, 3], seq(72));
    m.nodes
        .push(conv("/g/Conv", &["x", "g.weight"], "y").with("group", Attribute::Int(2)));
    let e = err(m, "y");
    assert_has(&e, &["node `/g/Conv` (Conv)", "grouped", "group must be 1"]);
}

#[test]
fn dilated_convolution_is_refused() {
    let mut m = net(&[1, 8, 8]);
    init(&mut m, "d.weight", &[2, 1, 3, 3], seq(18));
    m.nodes
        .push(conv("/d/Conv", &["x", "d.weight"], "y").with("dilations", ints(&[2, 2])));
    let e = err(m, "y");
    assert_has(
        &e,
        &["node `/d/Conv` (Conv)", "dilated", "dilations must be 1"],
    );
}

#[test]
fn dilated_pool_is_refused() {
    let mut m = net(&[1, 8, 8]);
    m.nodes.push(
        Node::new("mp", "MaxPool", ["x"], ["y"])
            .with("kernel_shape", ints(&[2, 2]))
            .with("dilations", ints(&[2, 2])),
    );
    let e = err(m, "y");
    assert_has(&e, &["node `mp` (MaxPool)", "dilated pooling"]);
}

#[test]
fn softmax_over_an_image_is_refused() {
    let mut m = net(&[3, 4, 4]);
    m.nodes
        .push(Node::new("/sm/Softmax", "Softmax", ["x"], ["y"]).with("axis", Attribute::Int(1)));
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/sm/Softmax` (Softmax)",
            "[3, 4, 4]",
            "over a vector",
            "Flatten",
        ],
    );
}

#[test]
fn gemm_on_an_image_without_flatten_is_refused() {
    let mut m = net(&[1, 4, 4]);
    init(&mut m, "fc.weight", &[2, 16], seq(32));
    m.nodes.push(
        Node::new("/fc/Gemm", "Gemm", ["x", "fc.weight"], ["y"]).with("transB", Attribute::Int(1)),
    );
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/fc/Gemm` (Gemm)",
            "[1, 4, 4]",
            "put a Flatten before it",
        ],
    );
}

#[test]
fn gemm_weight_of_the_wrong_size_is_refused() {
    let mut m = net(&[3]);
    init(&mut m, "fc.weight", &[2, 4], seq(8));
    m.nodes.push(
        Node::new("/fc/Gemm", "Gemm", ["x", "fc.weight"], ["y"]).with("transB", Attribute::Int(1)),
    );
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/fc/Gemm` (Gemm)",
            "fc.weight",
            "takes 4 inputs",
            "gets 3",
        ],
    );
}

#[test]
fn gemm_trans_a_is_refused() {
    let mut m = net(&[3]);
    init(&mut m, "fc.weight", &[2, 3], seq(6));
    m.nodes.push(
        Node::new("g", "Gemm", ["x", "fc.weight"], ["y"])
            .with("transA", Attribute::Int(1))
            .with("transB", Attribute::Int(1)),
    );
    let e = err(m, "y");
    assert_has(&e, &["node `g` (Gemm)", "transA = 1"]);
}

#[test]
fn weight_that_is_not_a_constant_is_refused() {
    let mut m = net(&[3]);
    init(&mut m, "c", &[2, 3], seq(6));
    node(&mut m, "neg", "Neg", &["c"], "w");
    node(&mut m, "g", "Gemm", &["x", "w"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `g` (Gemm)",
            "weight (input 1, `w`) must be a constant",
        ],
    );
}

#[test]
fn reshape_that_is_not_a_flatten_is_refused() {
    let mut m = net(&[1, 4, 4]);
    init_i64(&mut m, "shape", &[3], vec![0, 2, 8]);
    node(&mut m, "/Reshape", "Reshape", &["x", "shape"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/Reshape` (Reshape)",
            "[0, 2, 8]",
            "[1, 4, 4]",
            "[batch, 16]",
        ],
    );
}

#[test]
fn reshape_to_the_wrong_length_is_refused() {
    let mut m = net(&[2, 3]);
    init_i64(&mut m, "shape", &[2], vec![-1, 5]);
    node(&mut m, "rs", "Reshape", &["x", "shape"], "y");
    let e = err(m, "y");
    assert_has(&e, &["node `rs` (Reshape)", "[-1, 5]", "[batch, 6]"]);
}

#[test]
fn flatten_with_another_axis_is_refused() {
    let mut m = net(&[2, 3, 3]);
    m.nodes
        .push(Node::new("fl", "Flatten", ["x"], ["y"]).with("axis", Attribute::Int(2)));
    let e = err(m, "y");
    assert_has(&e, &["node `fl` (Flatten)", "axis 2", "only axis 1"]);
}

#[test]
fn value_read_by_three_nodes_is_refused() {
    let mut m = net(&[4]);
    node(&mut m, "/a/Relu", "Relu", &["x"], "a");
    node(&mut m, "/b/Sigmoid", "Sigmoid", &["x"], "b");
    node(&mut m, "/c/Tanh", "Tanh", &["x"], "c");
    let e = err(m, "a");
    assert_has(
        &e,
        &[
            "is read by `/a/Relu` (Relu), `/b/Sigmoid` (Sigmoid), `/c/Tanh` (Tanh)",
            "residual block",
        ],
    );
}

#[test]
fn value_read_twice_without_an_add_is_refused() {
    let mut m = net(&[4]);
    node(&mut m, "/a/Relu", "Relu", &["x"], "a");
    node(&mut m, "/b/Sigmoid", "Sigmoid", &["x"], "b");
    let e = err(m, "a");
    assert_has(
        &e,
        &[
            "node `/a/Relu` (Relu)",
            "`/b/Sigmoid` (Sigmoid)",
            "none of them closes a residual block",
        ],
    );
}

#[test]
fn add_that_does_not_close_a_block_is_refused() {
    // `x` is read by a Gemm and by an Add of `x` and a constant: not a residual block.
    let mut m = net(&[2]);
    init(&mut m, "c", &[2], vec![1.0, 2.0]);
    gemm(&mut m, "fc", "x", "h", 2, 2);
    node(&mut m, "/Add", "Add", &["x", "c"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/Add` (Add)",
            "does not close a residual block starting at `x`",
        ],
    );
}

#[test]
fn residual_that_changes_the_shape_without_projection_is_refused() {
    let mut m = net(&[4]);
    gemm(&mut m, "fc", "x", "h", 3, 4);
    node(&mut m, "join", "Add", &["x", "h"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &["node `join` (Add)", "[4] into [3]", "shapes must match"],
    );
}

#[test]
fn projection_with_a_bias_is_refused() {
    let mut m = net(&[2, 8, 8]);
    init(&mut m, "c.weight", &[4, 2, 3, 3], seq(72));
    init(&mut m, "sc.weight", &[4, 2, 1, 1], seq(8));
    init(&mut m, "sc.bias", &[4], vec![0.0; 4]);
    m.nodes.push(
        conv("/c/Conv", &["x", "c.weight"], "h")
            .with("strides", ints(&[2, 2]))
            .with("pads", ints(&[1, 1, 1, 1])),
    );
    node(&mut m, "", "Relu", &["h"], "r");
    m.nodes
        .push(conv("/sc/Conv", &["x", "sc.weight", "sc.bias"], "p").with("strides", ints(&[2, 2])));
    node(&mut m, "", "Add", &["r", "p"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/sc/Conv` (Conv)",
            "projection with a bias is not supported",
        ],
    );
}

#[test]
fn projection_that_is_not_1x1_is_refused() {
    let mut m = net(&[2, 8, 8]);
    init(&mut m, "c.weight", &[4, 2, 3, 3], seq(72));
    init(&mut m, "sc.weight", &[4, 2, 3, 3], seq(72));
    m.nodes.push(
        conv("/c/Conv", &["x", "c.weight"], "h")
            .with("strides", ints(&[2, 2]))
            .with("pads", ints(&[1, 1, 1, 1])),
    );
    node(&mut m, "", "Relu", &["h"], "r");
    m.nodes.push(
        conv("/sc/Conv", &["x", "sc.weight"], "p")
            .with("strides", ints(&[2, 2]))
            .with("pads", ints(&[1, 1, 1, 1])),
    );
    node(&mut m, "", "Add", &["r", "p"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &["node `/sc/Conv` (Conv)", "1x1 convolution", "kernel [3, 3]"],
    );
}

#[test]
fn two_graph_inputs_are_refused() {
    let mut m = net(&[4]);
    m.inputs.push(ValueInfo::float_batched("x2", &[4]));
    node(&mut m, "", "Relu", &["x"], "y");
    let e = err(m, "y");
    assert_has(&e, &["2 inputs", "a network has one"]);
}

#[test]
fn two_outputs_are_refused() {
    let mut m = net(&[4]);
    node(&mut m, "", "Relu", &["x"], "a");
    node(&mut m, "", "Sigmoid", &["a"], "y");
    m.outputs.push(ValueInfo::float("a", vec![Dim::batch()]));
    let e = err(m, "y");
    assert_has(&e, &["2 outputs", "a network has one"]);
}

#[test]
fn chain_that_ends_elsewhere_than_the_output_is_refused() {
    let mut m = net(&[4]);
    node(&mut m, "", "Relu", &["x"], "a");
    node(&mut m, "", "Sigmoid", &["a"], "b");
    let e = err(m, "a");
    assert_has(&e, &["ends at value `b`", "graph output `a`"]);
}

#[test]
fn node_off_the_path_is_refused() {
    let mut m = net(&[4]);
    init(&mut m, "c", &[4], vec![1.0; 4]);
    node(&mut m, "", "Relu", &["x"], "y");
    node(&mut m, "stray", "Relu", &["c"], "junk");
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `stray` (Relu)",
            "not on the path from the input to the output",
        ],
    );
}

#[test]
fn input_without_a_shape_is_refused() {
    let mut m = Model::new("test");
    m.inputs.push(ValueInfo {
        name: "x".into(),
        elem_type: ElemType::Float,
        shape: None,
    });
    node(&mut m, "", "Relu", &["x"], "y");
    let e = err(m, "y");
    assert_has(&e, &["graph input `x`", "no stored shape"]);
}

#[test]
fn input_with_a_symbolic_feature_dimension_is_refused() {
    let mut m = Model::new("test");
    m.inputs.push(ValueInfo::float(
        "x",
        vec![Dim::batch(), Dim::Symbolic("features".into())],
    ));
    node(&mut m, "", "Relu", &["x"], "y");
    let e = err(m, "y");
    assert_has(
        &e,
        &["graph input `x`", "other than the batch", "fixed size"],
    );
}

#[test]
fn input_of_rank_5_is_refused() {
    let mut m = net(&[1, 2, 2, 2]);
    node(&mut m, "", "Relu", &["x"], "y");
    let e = err(m, "y");
    assert_has(&e, &["graph input `x`", "rank 5"]);
}

#[test]
fn non_default_domain_is_refused() {
    let mut m = net(&[4]);
    m.opsets.push(Opset {
        domain: "com.microsoft".into(),
        version: 1,
    });
    let mut n = Node::new("fg", "FusedGemm", ["x"], ["y"]);
    n.domain = "com.microsoft".into();
    m.nodes.push(n);
    let e = err(m, "y");
    assert_has(&e, &["node `fg` (FusedGemm)", "domain `com.microsoft`"]);
}

#[test]
fn selu_with_other_constants_is_refused() {
    let mut m = net(&[4]);
    m.nodes
        .push(Node::new("selu", "Selu", ["x"], ["y"]).with("alpha", Attribute::Float(2.0)));
    let e = err(m, "y");
    assert_has(&e, &["node `selu` (Selu)", "alpha 2", "standard constants"]);
}

#[test]
fn gelu_with_an_unknown_form_is_refused() {
    let mut m = net(&[4]);
    m.nodes
        .push(Node::new("g", "Gelu", ["x"], ["y"]).with("approximate", s("sigmoid")));
    let e = err(m, "y");
    assert_has(&e, &["node `g` (Gelu)", "approximate = `sigmoid`"]);
}

#[test]
fn batch_norm_in_training_mode_is_refused() {
    let mut m = net(&[2]);
    batch_norm(&mut m, "bn", 2, "x", "y", None);
    let n = m.nodes.pop().unwrap();
    m.nodes.push(n.with("training_mode", Attribute::Int(1)));
    let e = err(m, "y");
    assert_has(
        &e,
        &[
            "node `/bn/BatchNormalization` (BatchNormalization)",
            "training_mode = 1",
            "eval mode",
        ],
    );
}

#[test]
fn batch_norm_epsilon_that_cannot_be_absorbed_is_refused() {
    let mut m = net(&[2]);
    for k in ["weight", "bias", "running_mean"] {
        init(&mut m, &format!("bn.{k}"), &[2], vec![1.0; 2]);
    }
    init(&mut m, "bn.running_var", &[2], vec![0.0, 1.0]);
    m.nodes.push(
        Node::new(
            "bn",
            "BatchNormalization",
            [
                "x",
                "bn.weight",
                "bn.bias",
                "bn.running_mean",
                "bn.running_var",
            ],
            ["y"],
        )
        .with("epsilon", Attribute::Float(1e-6)),
    );
    let e = err(m, "y");
    assert_has(
        &e,
        &["node `bn` (BatchNormalization)", "epsilon", "below nn's"],
    );
}

#[test]
fn auto_pad_that_is_not_a_mode_is_refused() {
    let mut m = net(&[1, 8, 8]);
    init(&mut m, "c.weight", &[2, 1, 3, 3], seq(18));
    m.nodes
        .push(conv("c", &["x", "c.weight"], "y").with("auto_pad", s("SAME")));
    let e = err(m, "y");
    assert_has(&e, &["node `c` (Conv)", "auto_pad = `SAME`"]);
}

#[test]
fn chain_value_as_a_second_input_is_refused() {
    let mut m = net(&[2]);
    init(&mut m, "w", &[3, 2], seq(6));
    node(&mut m, "mm", "MatMul", &["w", "x"], "y");
    let e = err(m, "y");
    assert_has(&e, &["node `mm` (MatMul)", "other than its first"]);
}

#[test]
fn constant_of_another_kind_is_refused() {
    let mut m = net(&[2]);
    m.nodes.push(
        Node::new("k", "Constant", Vec::<String>::new(), ["c"])
            .with("value_float", Attribute::Float(1.0)),
    );
    node(&mut m, "", "Relu", &["x"], "y");
    let e = err(m, "y");
    assert_has(&e, &["node `k` (Constant)", "value_float"]);
}
