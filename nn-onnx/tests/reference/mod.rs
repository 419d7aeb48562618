//! A plain f32 interpreter of the operators in the fixture graphs, for tests only.
//!
//! It runs a decoded [`Model`] on a batch, so that the fixtures' PyTorch outputs check what the
//! reader decoded: weights (raw_data, layouts), attributes (pads, auto_pad, strides, axis,
//! transB, alpha, beta, count_include_pad, epsilon) and the graph's wiring. Straight loops over
//! NCHW tensors, written from the ONNX operator specification; not the crate's code.

use std::collections::HashMap;

use nn_onnx::{Model, Node, Tensor, TensorData};

/// A value: shape and row-major f32 data, or the data of an i64 tensor (a shape).
#[derive(Clone, Debug)]
pub enum Value {
    F(Vec<usize>, Vec<f32>),
    I(Vec<i64>),
}

impl Value {
    fn f(&self) -> (&[usize], &[f32]) {
        match self {
            Value::F(s, d) => (s, d),
            Value::I(..) => panic!("expected a FLOAT value"),
        }
    }
}

fn from_tensor(t: &Tensor) -> Value {
    match &t.data {
        TensorData::Float(d) => Value::F(t.dims.clone(), d.clone()),
        TensorData::Int64(d) => Value::I(d.clone()),
        other => panic!(
            "no integer tensors of type {:?} in the fixtures",
            other.elem_type()
        ),
    }
}

/// Runs `model` on `input` (shape `[batch, ...]`) and returns the first output's shape and data.
pub fn run(model: &Model, shape: &[usize], input: &[f32]) -> (Vec<usize>, Vec<f32>) {
    let mut values: HashMap<String, Value> = HashMap::new();
    for t in &model.initializers {
        values.insert(t.name.clone(), from_tensor(t));
    }
    values.insert(
        model.inputs[0].name.clone(),
        Value::F(shape.to_vec(), input.to_vec()),
    );
    for node in &model.nodes {
        let ins: Vec<Option<&Value>> = node
            .inputs
            .iter()
            .map(|n| if n.is_empty() { None } else { Some(&values[n]) })
            .collect();
        let out = eval(node, &ins);
        values.insert(node.outputs[0].clone(), out);
    }
    match values.remove(&model.outputs[0].name).unwrap() {
        Value::F(s, d) => (s, d),
        Value::I(..) => panic!("integer output"),
    }
}

fn ints(node: &Node, name: &str, default: &[i64]) -> Vec<i64> {
    node.ints(name).unwrap().unwrap_or(default).to_vec()
}

fn int(node: &Node, name: &str, default: i64) -> i64 {
    node.int(name).unwrap().unwrap_or(default)
}

fn eval(node: &Node, ins: &[Option<&Value>]) -> Value {
    let x = || ins[0].unwrap().f();
    match node.op_type.as_str() {
        "Identity" => ins[0].unwrap().clone(),
        "Constant" => from_tensor(node.tensor("value").unwrap().unwrap()),
        "Relu" => {
            let (s, d) = x();
            Value::F(s.to_vec(), d.iter().map(|&v| v.max(0.0)).collect())
        }
        "Add" => {
            let ((s, a), (t, b)) = (x(), ins[1].unwrap().f());
            assert_eq!(s, t, "Add without broadcasting");
            Value::F(s.to_vec(), a.iter().zip(b).map(|(p, q)| p + q).collect())
        }
        "Flatten" => {
            let (s, d) = x();
            let axis = int(node, "axis", 1) as usize;
            let outer = s[..axis].iter().product();
            let inner = s[axis..].iter().product();
            Value::F(vec![outer, inner], d.to_vec())
        }
        "Reshape" => {
            let (s, d) = x();
            let Value::I(target) = ins[1].unwrap() else {
                panic!("Reshape shape not INT64")
            };
            let mut shape: Vec<i64> = target
                .iter()
                .enumerate()
                .map(|(i, &t)| if t == 0 { s[i] as i64 } else { t })
                .collect();
            let known: i64 = shape.iter().filter(|&&t| t != -1).product();
            for t in shape.iter_mut() {
                if *t == -1 {
                    *t = d.len() as i64 / known;
                }
            }
            Value::F(shape.iter().map(|&t| t as usize).collect(), d.to_vec())
        }
        "Softmax" => {
            let (s, d) = x();
            let axis = int(node, "axis", -1);
            let axis = if axis < 0 {
                s.len() as i64 + axis
            } else {
                axis
            } as usize;
            assert_eq!(axis, s.len() - 1, "Softmax over the last axis only");
            let n = s[axis];
            let mut out = d.to_vec();
            for row in out.chunks_mut(n) {
                let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = row
                    .iter_mut()
                    .map(|v| {
                        *v = (*v - max).exp();
                        *v
                    })
                    .sum();
                row.iter_mut().for_each(|v| *v /= sum);
            }
            Value::F(s.to_vec(), out)
        }
        "Gemm" => {
            let ((sa, a), (sb, b)) = (x(), ins[1].unwrap().f());
            let (ta, tb) = (int(node, "transA", 0), int(node, "transB", 0));
            let alpha = node.float("alpha").unwrap().unwrap_or(1.0);
            let beta = node.float("beta").unwrap().unwrap_or(1.0);
            let (m, k) = if ta == 1 {
                (sa[1], sa[0])
            } else {
                (sa[0], sa[1])
            };
            let n = if tb == 1 { sb[0] } else { sb[1] };
            let at = |i: usize, p: usize| if ta == 1 { a[p * m + i] } else { a[i * k + p] };
            let bt = |p: usize, j: usize| if tb == 1 { b[j * k + p] } else { b[p * n + j] };
            let c = ins.get(2).copied().flatten().map(|v| v.f());
            let mut out = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    let mut acc = 0.0f32;
                    for p in 0..k {
                        acc += at(i, p) * bt(p, j);
                    }
                    let bias = match c {
                        Some((sc, cd)) if sc.len() == 1 || (sc.len() == 2 && sc[0] == 1) => cd[j],
                        Some((_, cd)) => cd[i * n + j],
                        None => 0.0,
                    };
                    out[i * n + j] = alpha * acc + beta * bias;
                }
            }
            Value::F(vec![m, n], out)
        }
        "BatchNormalization" => {
            let (s, d) = x();
            let p = |i: usize| ins[i].unwrap().f().1;
            let (scale, bias, mean, var) = (p(1), p(2), p(3), p(4));
            let eps = node.float("epsilon").unwrap().unwrap_or(1e-5);
            let hw: usize = s[2..].iter().product();
            let out = d
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let c = (i / hw) % s[1];
                    (v - mean[c]) / (var[c] + eps).sqrt() * scale[c] + bias[c]
                })
                .collect();
            Value::F(s.to_vec(), out)
        }
        "Conv" => conv(
            node,
            x(),
            ins[1].unwrap().f(),
            ins.get(2).copied().flatten().map(|v| v.f().1),
        ),
        "MaxPool" | "AveragePool" => pool(node, x()),
        other => panic!("reference interpreter: no {other}"),
    }
}

/// Output size and the pads before and after along one spatial axis (ONNX Conv/Pool rules).
fn axis_geometry(
    node: &Node,
    axis: usize,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> (usize, usize, usize) {
    let effective = (kernel - 1) * dilation + 1;
    let auto_pad = node.string("auto_pad").unwrap().unwrap_or("NOTSET");
    match auto_pad {
        "NOTSET" => {
            let pads = ints(node, "pads", &[0; 4]);
            let (b, e) = (pads[axis] as usize, pads[axis + 2] as usize);
            ((input + b + e - effective) / stride + 1, b, e)
        }
        "VALID" => ((input - effective) / stride + 1, 0, 0),
        same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + effective).saturating_sub(input);
            let small = total / 2;
            if same == "SAME_UPPER" {
                (out, small, total - small)
            } else {
                assert_eq!(same, "SAME_LOWER");
                (out, total - small, small)
            }
        }
    }
}

fn conv(
    node: &Node,
    (s, x): (&[usize], &[f32]),
    (sw, w): (&[usize], &[f32]),
    bias: Option<&[f32]>,
) -> Value {
    assert_eq!(int(node, "group", 1), 1, "grouped convolution");
    let (n, c, h, wd) = (s[0], s[1], s[2], s[3]);
    let (m, kh, kw) = (sw[0], sw[2], sw[3]);
    assert_eq!(sw[1], c);
    assert_eq!(
        ints(node, "kernel_shape", &[kh as i64, kw as i64]),
        [kh as i64, kw as i64]
    );
    let st = ints(node, "strides", &[1, 1]);
    let dl = ints(node, "dilations", &[1, 1]);
    let (oh, pt, _) = axis_geometry(node, 0, h, kh, st[0] as usize, dl[0] as usize);
    let (ow, pl, _) = axis_geometry(node, 1, wd, kw, st[1] as usize, dl[1] as usize);
    let mut out = vec![0.0f32; n * m * oh * ow];
    for b in 0..n {
        for o in 0..m {
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc = bias.map_or(0.0, |bb| bb[o]);
                    for ci in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (y * st[0] as usize + i * dl[0] as usize) as isize
                                    - pt as isize;
                                let ix = (xx * st[1] as usize + j * dl[1] as usize) as isize
                                    - pl as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                acc += x[((b * c + ci) * h + iy as usize) * wd + ix as usize]
                                    * w[((o * c + ci) * kh + i) * kw + j];
                            }
                        }
                    }
                    out[((b * m + o) * oh + y) * ow + xx] = acc;
                }
            }
        }
    }
    Value::F(vec![n, m, oh, ow], out)
}

fn pool(node: &Node, (s, x): (&[usize], &[f32])) -> Value {
    let max = node.op_type == "MaxPool";
    assert_eq!(int(node, "ceil_mode", 0), 0, "ceil_mode");
    let include_pad = int(node, "count_include_pad", 0) == 1;
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let k = ints(node, "kernel_shape", &[]);
    let (kh, kw) = (k[0] as usize, k[1] as usize);
    let st = ints(node, "strides", &[1, 1]);
    let (oh, pt, _) = axis_geometry(node, 0, h, kh, st[0] as usize, 1);
    let (ow, pl, _) = axis_geometry(node, 1, w, kw, st[1] as usize, 1);
    let mut out = vec![0.0f32; n * c * oh * ow];
    for bc in 0..n * c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
                let mut count = 0;
                for i in 0..kh {
                    for j in 0..kw {
                        let iy = (y * st[0] as usize + i) as isize - pt as isize;
                        let ix = (xx * st[1] as usize + j) as isize - pl as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let v = x[(bc * h + iy as usize) * w + ix as usize];
                        acc = if max { acc.max(v) } else { acc + v };
                        count += 1;
                    }
                }
                if !max {
                    acc /= if include_pad {
                        (kh * kw) as f32
                    } else {
                        count as f32
                    };
                }
                out[(bc * oh + y) * ow + xx] = acc;
            }
        }
    }
    Value::F(vec![n, c, oh, ow], out)
}
