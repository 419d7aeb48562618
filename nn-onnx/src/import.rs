//! An ONNX graph as a `network!` declaration: the layer list, and the weights under the names
//! that declaration gives them (PyTorch `state_dict` names and layouts).
//!
//! The graph must be what `network!` expresses: one input, one output, a chain of operators in
//! which a value may feed two nodes only where a residual block starts (the block's first node
//! and the `Add` that closes it, or a 1x1 convolution or `Gemm` projecting the skip path). Each
//! operator maps onto one layer (the table in [`import`]); anything else is an
//! [`OnnxError::Node`] naming the node, its operator and why.
//!
//! `nn`'s `network!` macro uses this for `#[onnx = "model.onnx"]`, and the `nn-import` program
//! prints [`Declaration::source`] and writes [`Declaration::tensors`] as safetensors.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::{Model, Node, OnnxError, Tensor};

/// The epsilon of `nn`'s batch norm (PyTorch's default). A file's other epsilon is moved into
/// the running variance, which gives the same inference.
pub const NN_BATCH_NORM_EPS: f32 = 1e-5;

/// A model as a `network!` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Declaration {
    /// The input shape of one sample (`[N]`, `[C, L]` or `[C, H, W]`).
    pub input: Vec<usize>,
    /// The layers, in order.
    pub entries: Vec<Entry>,
    /// The output shape of one sample.
    pub output: Vec<usize>,
    /// Every weight, named `<layer>.<tensor>` in PyTorch's layout, in layer order.
    pub tensors: Vec<NamedTensor>,
}

/// One entry of the layer list.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// A layer: its name (weighted layers are always named) and its DSL text,
    /// `Conv2d(8, kernel = 3, padding = 1)`.
    Layer {
        /// The layer's name, if it has one.
        name: Option<String>,
        /// The layer in the DSL.
        layer: String,
    },
    /// A residual block.
    Residual {
        /// The block's name (`<name>_proj` is its projection's).
        name: String,
        /// Whether the skip path is a learned projection.
        projection: bool,
        /// The block's layers.
        body: Vec<Entry>,
    },
}

/// A weight tensor of the declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// `<layer>.<tensor>`: `conv1.weight`.
    pub name: String,
    /// Its shape in PyTorch's layout.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

impl Declaration {
    /// The body of the declaration: `input: [..],` then one entry per line, each line
    /// starting with `indent`.
    pub fn body(&self, indent: &str) -> String {
        let mut s = format!("{indent}input: {},\n", dims(&self.input));
        write_entries(&mut s, &self.entries, indent);
        s
    }

    /// The whole `nn::network!` invocation declaring `pub struct <name>`, with a doc comment
    /// naming `origin` (the file it came from).
    pub fn source(&self, name: &str, origin: &str) -> String {
        format!(
            "nn::network! {{\n    /// Imported from `{origin}`: {} -> {}.\n    pub struct {name} {{\n{}    }}\n}}\n",
            dims(&self.input),
            dims(&self.output),
            self.body("        ")
        )
    }
}

fn write_entries(s: &mut String, entries: &[Entry], indent: &str) {
    for e in entries {
        match e {
            Entry::Layer {
                name: Some(n),
                layer,
            } => {
                let _ = writeln!(s, "{indent}{n}: {layer},");
            }
            Entry::Layer { name: None, layer } => {
                let _ = writeln!(s, "{indent}{layer},");
            }
            Entry::Residual {
                name,
                projection,
                body,
            } => {
                let kind = if *projection {
                    "Residual(projection)"
                } else {
                    "Residual"
                };
                let _ = writeln!(s, "{indent}{name}: {kind} {{");
                write_entries(s, body, &format!("{indent}    "));
                let _ = writeln!(s, "{indent}}},");
            }
        }
    }
}

/// `[1, 8, 8]`.
fn dims(d: &[usize]) -> String {
    let parts: Vec<String> = d.iter().map(|v| v.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Maps `model` onto `network!`'s layers.
///
/// | ONNX | layer |
/// |---|---|
/// | `Gemm` (`transA = 0`, any `transB`, `alpha`, `beta`), `MatMul` (+ `Add` of a constant) | `Dense` |
/// | `Conv` (1-D, 2-D; `group = 1`, `dilations = 1`; `pads` incl. asymmetric, `auto_pad`) | `Conv1d`, `Conv2d` |
/// | `MaxPool`, `AveragePool` (`ceil_mode` only where it changes nothing, `count_include_pad`) | `MaxPool1d/2d`, `AvgPool1d/2d` |
/// | `GlobalAveragePool`, `GlobalMaxPool` | a pool over the whole signal or image |
/// | `BatchNormalization` (inference; another epsilon moved into the variance) | `BatchNorm1d`, `BatchNorm2d` |
/// | `Relu`, `Sigmoid`, `Tanh`, `Softplus`, `Elu`, `Selu` (default constants), `LeakyRelu`, `PRelu`, `Gelu` (opset 20) | the activation of the same name |
/// | `x * Sigmoid(x)`; PyTorch's erf GELU (`Div`, `Erf`, `Add`, `Mul`, `Mul`) | `SiLU`; `GELU` |
/// | `Exp(Neg(x * x))`; `Cast(GreaterOrEqual(x, 0), FLOAT)` | `Gaussian`; `Step` |
/// | `Softmax` over a vector | `Softmax` |
/// | `Flatten` (`axis = 1`), `Reshape` to `[batch, n]` | `Flatten` (nothing for a vector) |
/// | `Add` of a block's input and its output; of a 1x1 `Conv` (no bias) or `Gemm` of it | `Residual`, `Residual(projection)` |
/// | `Dropout`, `Identity` | nothing |
///
/// Every other operator, attribute value or graph shape is an error naming the node.
pub fn import(model: &Model) -> Result<Declaration, OnnxError> {
    let mut im = Importer::new(model)?;
    let (input_name, input) = im.input()?;
    let (entries, last, output) = im.walk(input_name, input.clone(), None, None)?;
    let want = match model.outputs.as_slice() {
        [o] => o.name.as_str(),
        outs => {
            return Err(OnnxError::Model(format!(
                "the graph has {} outputs; a network has one",
                outs.len()
            )))
        }
    };
    if last != want {
        return Err(OnnxError::Model(format!(
            "the chain of layers ends at value `{last}`, not at the graph output `{want}`"
        )));
    }
    if let Some(i) = (0..model.nodes.len()).find(|&i| !im.used[i]) {
        let n = &model.nodes[i];
        return Err(n.error(
            "this node is not on the path from the input to the output (a network is one chain with residual blocks)",
        ));
    }
    Ok(Declaration {
        input,
        entries,
        output,
        tensors: im.tensors,
    })
}

/// A step of the walk: the entries it adds, the value it ends at and that value's shape.
type Step<'m> = (Vec<Entry>, &'m str, Vec<usize>);

struct Importer<'m> {
    model: &'m Model,
    consts: HashMap<&'m str, &'m Tensor>,
    consumers: HashMap<&'m str, Vec<usize>>,
    used: Vec<bool>,
    names: BTreeSet<String>,
    counters: HashMap<&'static str, usize>,
    tensors: Vec<NamedTensor>,
}

impl<'m> Importer<'m> {
    fn new(model: &'m Model) -> Result<Self, OnnxError> {
        let mut consts: HashMap<&str, &Tensor> = model
            .initializers
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let mut used = vec![false; model.nodes.len()];
        for (i, n) in model.nodes.iter().enumerate() {
            if !n.domain.is_empty() && n.domain != "ai.onnx" {
                return Err(n.error(format!(
                    "operators of domain `{}` are not ONNX's standard ones",
                    n.domain
                )));
            }
            if n.op_type == "Constant" {
                let t = n.tensor("value")?.ok_or_else(|| {
                    n.error("only a `value` tensor constant is supported (not value_float, value_ints, ...)")
                })?;
                if let Some(out) = n.outputs.first() {
                    consts.insert(out.as_str(), t);
                }
                used[i] = true;
            }
        }
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in model.nodes.iter().enumerate() {
            if used[i] {
                continue;
            }
            for v in &n.inputs {
                if !v.is_empty() && !consts.contains_key(v.as_str()) {
                    let e = consumers.entry(v.as_str()).or_default();
                    if !e.contains(&i) {
                        e.push(i);
                    }
                }
            }
        }
        Ok(Importer {
            model,
            consts,
            consumers,
            used,
            names: BTreeSet::new(),
            counters: HashMap::new(),
            tensors: Vec::new(),
        })
    }

    /// The graph's one real input (not an initializer) and its per-sample shape.
    fn input(&self) -> Result<(&'m str, Vec<usize>), OnnxError> {
        let real: Vec<_> = self
            .model
            .inputs
            .iter()
            .filter(|v| !self.consts.contains_key(v.name.as_str()))
            .collect();
        let [v] = real.as_slice() else {
            return Err(OnnxError::Model(format!(
                "the graph has {} inputs that are not initializers; a network has one",
                real.len()
            )));
        };
        let bad = |problem: String| OnnxError::Value {
            role: "input",
            name: v.name.clone(),
            problem,
        };
        let shape = v
            .shape
            .as_ref()
            .ok_or_else(|| bad("has no stored shape; export with a fixed sample shape".into()))?;
        if shape.len() < 2 || shape.len() > 4 {
            return Err(bad(format!(
                "has rank {}; a network takes [batch, n], [batch, c, l] or [batch, c, h, w]",
                shape.len()
            )));
        }
        let dims: Option<Vec<usize>> = shape[1..].iter().map(|d| d.fixed()).collect();
        let dims = dims.filter(|d| d.iter().all(|&x| x > 0)).ok_or_else(|| {
            bad("has a dimension other than the batch that is not a fixed size above 0".into())
        })?;
        Ok((v.name.as_str(), dims))
    }

    /// The nodes not yet taken that read `value`.
    fn readers(&self, value: &str) -> Vec<usize> {
        self.consumers
            .get(value)
            .map(|v| v.iter().copied().filter(|&i| !self.used[i]).collect())
            .unwrap_or_default()
    }

    fn node(&self, i: usize) -> &'m Node {
        &self.model.nodes[i]
    }

    fn constant(&self, n: &Node, k: usize, what: &str) -> Result<&'m Tensor, OnnxError> {
        let name = n.inputs.get(k).map(String::as_str).unwrap_or("");
        self.consts.get(name).copied().ok_or_else(|| {
            n.error(format!(
                "its {what} (input {k}, `{name}`) must be a constant (an initializer)"
            ))
        })
    }

    fn floats(&self, n: &Node, t: &Tensor) -> Result<Vec<f32>, OnnxError> {
        t.as_f32().map(<[f32]>::to_vec).ok_or_else(|| {
            n.error(format!(
                "tensor `{}` must be FLOAT, it is {:?}",
                t.name,
                t.elem_type()
            ))
        })
    }

    /// A unique layer name: from the weight's name (`fc1.weight` -> `fc1`) or the node's path
    /// (`/conv0/Conv` -> `conv0`), made an identifier; else `<prefix><k>`.
    fn name(&mut self, n: &Node, weight: Option<&str>, prefix: &'static str) -> String {
        let from_weight = weight.and_then(|w| w.strip_suffix(".weight")).map(ident);
        let from_node = {
            let parts: Vec<&str> = n.name.split('/').filter(|p| !p.is_empty()).collect();
            (parts.len() >= 2).then(|| ident(&parts[..parts.len() - 1].join("_")))
        };
        let candidate = from_weight
            .or(from_node)
            .filter(|c| !c.is_empty())
            .map(|c| {
                if c.starts_with(|ch: char| ch.is_ascii_digit()) {
                    format!("{prefix}{c}")
                } else {
                    c
                }
            })
            .filter(|c| {
                !is_keyword(c) && !c.starts_with("__") && !automatic(c) && !self.names.contains(c)
            });
        match candidate {
            Some(c) => {
                self.names.insert(c.clone());
                c
            }
            None => self.fresh(prefix),
        }
    }

    /// The node's name if it is a plain identifier not used yet (what nn's export writes:
    /// `relu_2`), reserved; `None` for PyTorch's paths (`/1/Relu`) and the like.
    fn plain(&mut self, n: &Node) -> Option<String> {
        let s = n.name.as_str();
        let ok = s.chars().any(|c| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && !s.starts_with("__")
            && !is_keyword(s)
            && !automatic(s)
            && !self.names.contains(s);
        ok.then(|| {
            self.names.insert(s.to_string());
            s.to_string()
        })
    }

    /// A residual block's name: its closing Add's, if plain, else `block<k>`; with a
    /// projection, `<name>_proj` (the projection's) is reserved too.
    fn block_name(&mut self, join: usize, projection: bool) -> String {
        let n = self.node(join);
        let taken = |im: &Self, c: &str| projection && im.names.contains(&format!("{c}_proj"));
        let name = match self.plain(n) {
            Some(c) if !taken(self, &c) => c,
            _ => loop {
                let c = self.fresh("block");
                if !taken(self, &c) {
                    break c;
                }
            },
        };
        if projection {
            self.names.insert(format!("{name}_proj"));
        }
        name
    }

    /// Names the unnamed layers of `entries` after node `n`, if its name is plain.
    fn name_unnamed(&mut self, n: &Node, entries: &mut [Entry]) {
        for e in entries {
            if let Entry::Layer {
                name: name @ None, ..
            } = e
            {
                *name = self.plain(n);
            }
        }
    }

    /// A new name `<prefix><k>`, unused so far.
    fn fresh(&mut self, prefix: &'static str) -> String {
        loop {
            let k = self.counters.entry(prefix).or_insert(0);
            *k += 1;
            let c = format!("{prefix}{k}");
            if !self.names.contains(&c) {
                self.names.insert(c.clone());
                return c;
            }
        }
    }

    fn push(&mut self, name: &str, suffix: &str, shape: Vec<usize>, data: Vec<f32>) {
        self.tensors.push(NamedTensor {
            name: format!("{name}.{suffix}"),
            shape,
            data,
        });
    }

    /// The layers from `value` (of per-sample `shape`) to the graph's end, or to the value
    /// read by the `Add` node `join`. `skip`: a reader of `value` that is not part of the
    /// chain (a block's closing Add or its projection, when walking the block's body).
    fn walk(
        &mut self,
        mut value: &'m str,
        mut shape: Vec<usize>,
        join: Option<usize>,
        mut skip: Option<usize>,
    ) -> Result<Step<'m>, OnnxError> {
        let mut out = Vec::new();
        loop {
            let mut readers = self.readers(value);
            if let Some(s) = skip.take() {
                readers.retain(|&r| r != s);
            }
            match readers.as_slice() {
                [] => return Ok((out, value, shape)),
                [r] if Some(*r) == join => return Ok((out, value, shape)),
                _ => {}
            }
            if let Some((mut entry, next)) = self.pattern(value, &readers)? {
                if let Some(p) = self.model.producer_of(next) {
                    self.name_unnamed(p, std::slice::from_mut(&mut entry));
                }
                out.push(entry);
                value = next;
                continue;
            }
            let (entries, next, s) = match readers.as_slice() {
                [r] => {
                    let (mut entries, next, s) = self.layer(*r, value, &shape)?;
                    self.name_unnamed(self.node(*r), &mut entries);
                    (entries, next, s)
                }
                _ => {
                    let (entry, next, s) = self.residual(value, &shape, &readers)?;
                    (vec![entry], next, s)
                }
            };
            out.extend(entries);
            value = next;
            shape = s;
        }
    }

    /// A residual block starting at `value`, which `readers` read: its closing `Add` and the
    /// body's first node(s), or a projection (1x1 `Conv`, `Gemm` or `MatMul` whose only reader
    /// is the closing `Add`) and the body's first node(s).
    fn residual(
        &mut self,
        value: &'m str,
        shape: &[usize],
        readers: &[usize],
    ) -> Result<(Entry, &'m str, Vec<usize>), OnnxError> {
        let model = self.model;
        let adds: Vec<usize> = readers
            .iter()
            .copied()
            .filter(|&r| model.nodes[r].op_type == "Add")
            .collect();
        let first = self.node(readers[0]);
        if adds.len() > 1 {
            return Err(first.error(format!(
                "value `{value}` is read by {} Add nodes; a residual block's input is added once, where the block ends",
                adds.len()
            )));
        }
        // Identity skip: one reader is the closing Add.
        if let [join] = adds[..] {
            let name = self.block_name(join, false);
            let (body, end, s) = self.walk(value, shape.to_vec(), Some(join), Some(join))?;
            let jn = self.node(join);
            let other = jn.inputs.iter().find(|v| v.as_str() != value);
            if other.map(String::as_str) != Some(end) || jn.inputs.len() != 2 {
                return Err(jn.error(format!(
                    "this Add does not close a residual block starting at `{value}` (its inputs are {:?}; the block ends at `{end}`)",
                    jn.inputs
                )));
            }
            if s != shape {
                return Err(jn.error(format!(
                    "the residual block turns {shape:?} into {s:?} but adds its input unchanged; the shapes must match"
                )));
            }
            self.used[join] = true;
            let next = self.output(jn)?;
            return Ok((
                Entry::Residual {
                    name,
                    projection: false,
                    body,
                },
                next,
                s,
            ));
        }
        // Projection: a reader that is a Conv, Gemm or MatMul whose only reader is an Add; the
        // one without bias (and 1x1) where both branches are such layers.
        let proj_of = |i: usize| -> Option<usize> {
            let n = &model.nodes[i];
            if !matches!(n.op_type.as_str(), "Conv" | "Gemm" | "MatMul") {
                return None;
            }
            let out = n.outputs.first()?;
            match self.readers(out).as_slice() {
                [j] if model.nodes[*j].op_type == "Add" => Some(*j),
                _ => None,
            }
        };
        let fits = |i: usize| -> bool {
            let n = &model.nodes[i];
            let no_bias = n.inputs.get(2).is_none_or(|b| b.is_empty());
            let one_by_one = n.op_type != "Conv"
                || self
                    .consts
                    .get(n.inputs.get(1).map(String::as_str).unwrap_or(""))
                    .is_some_and(|w| w.dims.iter().skip(2).all(|&k| k == 1));
            no_bias && one_by_one
        };
        let candidates: Vec<(usize, usize)> = readers
            .iter()
            .filter_map(|&r| proj_of(r).map(|j| (r, j)))
            .collect();
        let Some(&(proj, join)) = candidates
            .iter()
            .find(|(r, _)| fits(*r))
            .or(candidates.first())
        else {
            let names: Vec<String> = readers
                .iter()
                .map(|&r| format!("`{}` ({})", self.node(r).label(), self.node(r).op_type))
                .collect();
            return Err(first.error(format!(
                "value `{value}` is read by {}, and none of them closes a residual block (an Add of the block's input, or of a 1x1 Conv, Gemm or MatMul of it)",
                names.join(", ")
            )));
        };
        let name = self.block_name(join, true);
        let (body, end, s) = self.walk(value, shape.to_vec(), Some(join), Some(proj))?;
        let (pn, jn) = (self.node(proj), self.node(join));
        let proj_out = self.output(pn)?;
        let closes = jn.inputs.len() == 2
            && jn.inputs.iter().any(|v| v == end)
            && jn.inputs.iter().any(|v| v == proj_out);
        if !closes {
            return Err(jn.error(format!(
                "this Add does not close the residual block starting at `{value}` (its inputs are {:?})",
                jn.inputs
            )));
        }
        let proj_name = format!("{name}_proj");
        self.projection(pn, shape, &s, &proj_name)?;
        self.used[proj] = true;
        self.used[join] = true;
        let next = self.output(jn)?;
        Ok((
            Entry::Residual {
                name,
                projection: true,
                body,
            },
            next,
            s,
        ))
    }

    /// The skip path's 1x1 convolution (or Gemm) from `from` to `to`, as `network!` builds it.
    fn projection(
        &mut self,
        n: &Node,
        from: &[usize],
        to: &[usize],
        name: &str,
    ) -> Result<(), OnnxError> {
        let w = self.constant(n, 1, "weight")?;
        let data = self.floats(n, w)?;
        if n.inputs.get(2).is_some_and(|b| !b.is_empty()) {
            return Err(n.error(
                "a residual projection with a bias is not supported: `Residual(projection)` is a 1x1 convolution (or Dense) without bias",
            ));
        }
        if n.op_type == "Gemm" {
            if from.len() != 1 || to.len() != 1 {
                return Err(n.error("a Gemm projection needs vectors on both sides"));
            }
            let (wd, data) = gemm_weight(self, n, w, data, from[0])?;
            if wd[0] != to[0] {
                return Err(n.error(format!(
                    "the projection gives {} values but the block gives {}",
                    wd[0], to[0]
                )));
            }
            self.push(name, "weight", wd.to_vec(), data);
            return Ok(());
        }
        let g = ConvGeometry::read(self, n, from, w)?;
        let expected_stride = |n_in: usize, m: usize| -> Option<usize> {
            let s = n_in.div_ceil(m.max(1));
            (m > 0 && m <= n_in && n_in.div_ceil(s) == m).then_some(s)
        };
        let spatial_ok = g.kernel.iter().all(|&k| k == 1)
            && g.pads.iter().all(|&p| p == 0)
            && g.out == to
            && from[1..]
                .iter()
                .zip(&to[1..])
                .zip(&g.strides)
                .all(|((&a, &b), &s)| expected_stride(a, b) == Some(s));
        if !spatial_ok {
            return Err(n.error(format!(
                "a residual projection must be a 1x1 convolution without padding, with the smallest stride that maps {from:?} to {to:?}; this one has kernel {:?}, strides {:?}, pads {:?}",
                g.kernel, g.strides, g.pads
            )));
        }
        self.push(name, "weight", w.dims.clone(), data);
        Ok(())
    }

    fn output(&self, n: &'m Node) -> Result<&'m str, OnnxError> {
        match n.outputs.as_slice() {
            [o] => Ok(o.as_str()),
            [o, rest @ ..]
                if rest
                    .iter()
                    .all(|r| r.is_empty() || self.readers(r).is_empty()) =>
            {
                Ok(o.as_str())
            }
            _ => Err(n.error("only the first output of this node may be used")),
        }
    }

    /// SiLU (`x * Sigmoid(x)`) and PyTorch's erf GELU
    /// (`Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)`), where `value` has two readers.
    fn pattern(
        &mut self,
        value: &'m str,
        readers: &[usize],
    ) -> Result<Option<(Entry, &'m str)>, OnnxError> {
        let [a, b] = readers else { return Ok(None) };
        let op = |i: usize| self.node(i).op_type.as_str();
        let single = |v: &str| -> Option<usize> {
            match self.readers(v).as_slice() {
                [r] => Some(*r),
                _ => None,
            }
        };
        // SiLU.
        for (s, m) in [(*a, *b), (*b, *a)] {
            if op(s) == "Sigmoid" && op(m) == "Mul" {
                let sig = self.output(self.node(s))?;
                let mn = self.node(m);
                if mn.inputs.iter().any(|v| v == sig) && mn.inputs.iter().any(|v| v == value) {
                    self.used[s] = true;
                    self.used[m] = true;
                    let next = self.output(mn)?;
                    let entry = Entry::Layer {
                        name: None,
                        layer: "SiLU".into(),
                    };
                    return Ok(Some((entry, next)));
                }
            }
        }
        // GELU, erf form.
        for (d, m1) in [(*a, *b), (*b, *a)] {
            if op(d) != "Div" || op(m1) != "Mul" {
                continue;
            }
            let chain = (|| {
                let dn = self.node(d);
                let k = self.scalar(dn, 1)?;
                let e = single(dn.outputs.first()?)?;
                let add = single(self.node(e).outputs.first()?)?;
                let an = self.node(add);
                let one = self.scalar(an, 1).or_else(|| self.scalar(an, 0))?;
                let mn = self.node(m1);
                let half_mul = single(mn.outputs.first()?)?;
                let hn = self.node(half_mul);
                let half = self.scalar(hn, 1).or_else(|| self.scalar(hn, 0))?;
                let ok = self.node(e).op_type == "Erf"
                    && an.op_type == "Add"
                    && hn.op_type == "Mul"
                    && (k - std::f32::consts::SQRT_2).abs() < 1e-4
                    && one == 1.0
                    && half == 0.5
                    && mn.inputs.iter().any(|v| v == value)
                    && mn.inputs.iter().any(|v| Some(v) == an.outputs.first());
                ok.then_some((e, add, half_mul))
            })();
            if let Some((e, add, half_mul)) = chain {
                for i in [d, e, add, m1, half_mul] {
                    self.used[i] = true;
                }
                let next = self.output(self.node(half_mul))?;
                let entry = Entry::Layer {
                    name: None,
                    layer: "GELU".into(),
                };
                return Ok(Some((entry, next)));
            }
        }
        Ok(None)
    }

    /// Input `k` of `n` as a one-value float constant.
    fn scalar(&self, n: &Node, k: usize) -> Option<f32> {
        let t = self.consts.get(n.inputs.get(k)?.as_str())?;
        match t.as_f32()? {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// Node `i` applied to `value` of per-sample `shape`.
    fn layer(&mut self, i: usize, value: &'m str, shape: &[usize]) -> Result<Step<'m>, OnnxError> {
        let n = self.node(i);
        self.used[i] = true;
        if n.inputs.first().map(String::as_str) != Some(value) {
            return Err(n.error(format!(
                "reads `{value}` as an input other than its first; nn's layers take the chain's value first"
            )));
        }
        let out = self.output(n)?;
        let same = |entry: Option<Entry>| Ok((entry.into_iter().collect(), out, shape.to_vec()));
        let act = |layer: String| Some(Entry::Layer { name: None, layer });
        match n.op_type.as_str() {
            "Gemm" => self.gemm(n, shape, out),
            "MatMul" => self.matmul(n, shape, out),
            "Conv" => self.conv(n, shape, out),
            "MaxPool" | "AveragePool" => self.pool(n, shape, out),
            "GlobalAveragePool" | "GlobalMaxPool" => self.global_pool(n, shape, out),
            "BatchNormalization" => self.batch_norm(n, shape, out),
            "PRelu" => self.prelu(n, shape, out),
            "Relu" => same(act("ReLU".into())),
            "Sigmoid" => same(act("Sigmoid".into())),
            "Tanh" => same(act("Tanh".into())),
            "Softplus" => same(act("Softplus".into())),
            "Identity" | "Dropout" => same(None),
            "Mul" | "GreaterOrEqual" => self.elementwise_chain(n, shape, out),
            "Elu" => {
                let alpha = n.float("alpha")?.unwrap_or(1.0);
                same(act(format!("ELU({})", float(alpha))))
            }
            "LeakyRelu" => {
                let alpha = n.float("alpha")?.unwrap_or(0.01);
                same(act(format!("LeakyReLU({})", float(alpha))))
            }
            "Selu" => {
                let alpha = n.float("alpha")?.unwrap_or(1.673_263_2);
                let gamma = n.float("gamma")?.unwrap_or(1.050_701);
                if (alpha - 1.673_263_2).abs() > 1e-5 || (gamma - 1.050_701).abs() > 1e-5 {
                    return Err(n.error(format!(
                        "SELU with alpha {alpha} and gamma {gamma}: nn's SELU has the standard constants (1.6733, 1.0507)"
                    )));
                }
                same(act("SELU".into()))
            }
            "Gelu" => match n.string("approximate")?.unwrap_or("none") {
                "none" => same(act("GELU".into())),
                "tanh" => same(act("GELU(approximate = tanh)".into())),
                other => Err(n.error(format!("approximate = `{other}` is not a GELU form"))),
            },
            "Softmax" => {
                let axis = n.int("axis")?.unwrap_or(-1);
                if shape.len() != 1 || !(axis == -1 || axis == 1) {
                    return Err(n.error(format!(
                        "Softmax over axis {axis} of a {shape:?} sample: nn's Softmax is over a vector; put a Flatten before it"
                    )));
                }
                same(act("Softmax".into()))
            }
            "Flatten" => {
                let axis = n.int("axis")?.unwrap_or(1);
                if axis != 1 {
                    return Err(n.error(format!(
                        "Flatten with axis {axis}: only axis 1 (keep the batch, flatten each sample) is a network layer"
                    )));
                }
                self.flatten(shape, out)
            }
            "Reshape" => {
                let t = self.constant(n, 1, "shape")?;
                let target = t.as_i64().ok_or_else(|| n.error("its shape must be INT64"))?;
                let len: usize = shape.iter().product();
                let flat = matches!(target, [b, m] if (*b == 0 || *b == -1 || *b == 1) && (*m == -1 || *m == len as i64))
                    && !(target[0] == -1 && target[1] == -1);
                if !flat {
                    return Err(n.error(format!(
                        "Reshape to {target:?} of a {shape:?} sample: only a reshape to [batch, {len}] (a flatten) is a network layer"
                    )));
                }
                self.flatten(shape, out)
            }
            other => Err(n.error(format!(
                "operator `{other}` has no nn layer (the operators nn maps are listed in the docs of nn_onnx::import)"
            ))),
        }
    }

    /// `Exp(Neg(x * x))` (Gaussian) and `Cast(GreaterOrEqual(x, 0), FLOAT)` (Step, PyTorch's
    /// `heaviside(x, 1)`), from their first node `n`.
    fn elementwise_chain(
        &mut self,
        n: &Node,
        shape: &[usize],
        out: &'m str,
    ) -> Result<Step<'m>, OnnxError> {
        let next = |im: &Self, v: &str, op: &str| -> Option<usize> {
            match im.readers(v).as_slice() {
                [r] if im.node(*r).op_type == op => Some(*r),
                _ => None,
            }
        };
        let (layer, rest) = if n.op_type == "Mul" {
            let square = n.inputs.len() == 2 && n.inputs[0] == n.inputs[1];
            let neg = next(self, out, "Neg");
            let exp = neg.and_then(|i| next(self, self.node(i).outputs.first()?, "Exp"));
            match (square, neg, exp) {
                (true, Some(a), Some(b)) => ("Gaussian", vec![a, b]),
                _ => {
                    return Err(n.error(
                        "a Mul that is not part of x * Sigmoid(x) (SiLU), GELU or exp(-x * x) (Gaussian) has no nn layer",
                    ))
                }
            }
        } else {
            let zero = self.scalar(n, 1) == Some(0.0);
            let cast = next(self, out, "Cast");
            let to_float = cast.is_some_and(|c| matches!(self.node(c).int("to"), Ok(Some(1))));
            match (zero, cast) {
                (true, Some(c)) if to_float => ("Step", vec![c]),
                _ => {
                    return Err(n.error(
                        "a GreaterOrEqual that is not Cast(x >= 0, FLOAT) (Step) has no nn layer",
                    ))
                }
            }
        };
        let mut end = out;
        for i in rest {
            self.used[i] = true;
            end = self.output(self.node(i))?;
        }
        let entry = Entry::Layer {
            name: self.model.producer_of(end).and_then(|p| self.plain(p)),
            layer: layer.into(),
        };
        Ok((vec![entry], end, shape.to_vec()))
    }

    fn flatten(&self, shape: &[usize], out: &'m str) -> Result<Step<'m>, OnnxError> {
        let len = shape.iter().product();
        let entries = if shape.len() > 1 {
            vec![Entry::Layer {
                name: None,
                layer: "Flatten".into(),
            }]
        } else {
            vec![]
        };
        Ok((entries, out, vec![len]))
    }

    fn dense(
        &mut self,
        n: &Node,
        wd: [usize; 2],
        w: Vec<f32>,
        bias: Option<Vec<f32>>,
        weight_name: Option<&str>,
        out: &'m str,
    ) -> Result<Step<'m>, OnnxError> {
        let name = self.name(n, weight_name, "fc");
        let units = wd[0];
        self.push(&name, "weight", wd.to_vec(), w);
        self.push(&name, "bias", vec![units], bias.unwrap_or(vec![0.0; units]));
        let entry = Entry::Layer {
            name: Some(name),
            layer: format!("Dense({units})"),
        };
        Ok((vec![entry], out, vec![units]))
    }

    fn gemm(&mut self, n: &Node, shape: &[usize], out: &'m str) -> Result<Step<'m>, OnnxError> {
        let [len] = shape else {
            return Err(n.error(format!(
                "Gemm on a {shape:?} sample: nn's Dense takes a vector; put a Flatten before it"
            )));
        };
        if n.int("transA")?.unwrap_or(0) != 0 {
            return Err(n.error("transA = 1 (a transposed batch) has no nn layer"));
        }
        let w = self.constant(n, 1, "weight")?;
        let data = self.floats(n, w)?;
        let (wd, mut data) = gemm_weight(self, n, w, data, *len)?;
        let alpha = n.float("alpha")?.unwrap_or(1.0);
        let beta = n.float("beta")?.unwrap_or(1.0);
        if alpha != 1.0 {
            data.iter_mut().for_each(|v| *v *= alpha);
        }
        let bias = match n.inputs.get(2).filter(|b| !b.is_empty()) {
            None => None,
            Some(_) => {
                let c = self.constant(n, 2, "bias")?;
                let mut b = self.floats(n, c)?;
                if b.len() == 1 {
                    b = vec![b[0]; wd[0]];
                }
                if b.len() != wd[0] {
                    return Err(n.error(format!(
                        "bias `{}` has {} values for {} outputs",
                        c.name,
                        b.len(),
                        wd[0]
                    )));
                }
                b.iter_mut().for_each(|v| *v *= beta);
                Some(b)
            }
        };
        let wname = n.inputs[1].clone();
        self.dense(n, wd, data, bias, Some(&wname), out)
    }

    fn matmul(&mut self, n: &Node, shape: &[usize], out: &'m str) -> Result<Step<'m>, OnnxError> {
        let [len] = shape else {
            return Err(n.error(format!(
                "MatMul on a {shape:?} sample: nn's Dense takes a vector; put a Flatten before it"
            )));
        };
        let w = self.constant(n, 1, "weight")?;
        let data = self.floats(n, w)?;
        let [rows, cols] = w.dims[..] else {
            return Err(n.error(format!(
                "weight `{}` has dims {:?}; a Dense weight is 2-D",
                w.name, w.dims
            )));
        };
        if rows != *len {
            return Err(n.error(format!(
                "weight `{}` is {rows}x{cols} but the input has {len} values",
                w.name
            )));
        }
        // [in, out] -> [out, in].
        let t: Vec<f32> = (0..cols)
            .flat_map(|o| (0..rows).map(move |i| (o, i)))
            .map(|(o, i)| data[i * cols + o])
            .collect();
        // A following Add of a constant is the bias.
        let mut bias = None;
        let mut end = out;
        if let [r] = self.readers(out).as_slice() {
            let an = self.node(*r);
            if an.op_type == "Add" && an.inputs.len() == 2 {
                let k = an.inputs.iter().position(|v| v != out);
                if let Some(c) = k.and_then(|k| self.consts.get(an.inputs[k].as_str())) {
                    let mut b = self.floats(an, c)?;
                    if b.len() == 1 {
                        b = vec![b[0]; cols];
                    }
                    if b.len() == cols {
                        bias = Some(b);
                        self.used[*r] = true;
                        end = self.output(an)?;
                    }
                }
            }
        }
        let wname = n.inputs[1].clone();
        self.dense(n, [cols, rows], t, bias, Some(&wname), end)
    }

    fn conv(&mut self, n: &Node, shape: &[usize], out: &'m str) -> Result<Step<'m>, OnnxError> {
        let w = self.constant(n, 1, "weight")?;
        let data = self.floats(n, w)?;
        let g = ConvGeometry::read(self, n, shape, w)?;
        let filters = w.dims[0];
        let bias = match n.inputs.get(2).filter(|b| !b.is_empty()) {
            None => None,
            Some(_) => {
                let c = self.constant(n, 2, "bias")?;
                let b = self.floats(n, c)?;
                if b.len() != filters {
                    return Err(n.error(format!(
                        "bias `{}` has {} values for {filters} filters",
                        c.name,
                        b.len()
                    )));
                }
                Some(b)
            }
        };
        let wname = n.inputs[1].clone();
        let name = self.name(n, Some(&wname), "conv");
        let mut text = format!(
            "Conv{}d({filters}, kernel = {}",
            g.kernel.len(),
            pair(&g.kernel)
        );
        if g.strides.iter().any(|&s| s != 1) {
            let _ = write!(text, ", stride = {}", pair(&g.strides));
        }
        if let Some(p) = g.padding_text() {
            let _ = write!(text, ", padding = {p}");
        }
        if bias.is_none() {
            text.push_str(", bias = false");
        }
        text.push(')');
        self.push(&name, "weight", w.dims.clone(), data);
        if let Some(b) = bias {
            self.push(&name, "bias", vec![filters], b);
        }
        let entry = Entry::Layer {
            name: Some(name),
            layer: text,
        };
        Ok((vec![entry], out, g.out))
    }

    fn pool(&mut self, n: &Node, shape: &[usize], out: &'m str) -> Result<Step<'m>, OnnxError> {
        let rank = shape.len() - 1;
        if rank == 0 || rank > 2 {
            return Err(n.error(format!(
                "pooling a {shape:?} sample: nn pools signals [c, l] and images [c, h, w]"
            )));
        }
        let kernel = ints(n, "kernel_shape")?.ok_or_else(|| n.error("has no kernel_shape"))?;
        if kernel.len() != rank {
            return Err(n.error(format!("kernel_shape {kernel:?} for a {shape:?} sample")));
        }
        if ints(n, "dilations")?.is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(n.error("dilated pooling has no nn layer"));
        }
        let strides = ints(n, "strides")?.unwrap_or(vec![1; rank]);
        let pads = pads(n, &shape[1..], &kernel, &strides)?;
        if let Some(d) =
            (0..rank).find(|&d| pads[d] > kernel[d] / 2 || pads[rank + d] > kernel[d] / 2)
        {
            return Err(n.error(format!(
                "pads {pads:?} exceed half the window {kernel:?} (dimension {d}); nn's pools, as PyTorch's, pad each side by at most half the window, rounded down"
            )));
        }
        let floor = out_dims(&shape[1..], &kernel, &strides, &pads, false);
        if n.int("ceil_mode")?.unwrap_or(0) != 0
            && out_dims(&shape[1..], &kernel, &strides, &pads, true) != floor
        {
            return Err(n.error(
                "ceil_mode = 1 makes a partial last window here; nn's pools round down (PyTorch's ceil_mode = False)",
            ));
        }
        let kind = if n.op_type == "MaxPool" { "Max" } else { "Avg" };
        let mut text = format!("{kind}Pool{rank}d({}", pair(&kernel));
        if strides != kernel {
            let _ = write!(text, ", stride = {}", pair(&strides));
        }
        let g = ConvGeometry {
            kernel,
            strides,
            pads,
            same: false,
            out: vec![],
        };
        if let Some(p) = g.padding_text() {
            let _ = write!(text, ", padding = {p}");
            if kind == "Avg" && n.int("count_include_pad")?.unwrap_or(0) == 0 {
                text.push_str(", count_include_pad = false");
            }
        }
        text.push(')');
        let mut o = vec![shape[0]];
        o.extend(floor);
        let entry = Entry::Layer {
            name: None,
            layer: text,
        };
        Ok((vec![entry], out, o))
    }

    fn global_pool(
        &mut self,
        n: &Node,
        shape: &[usize],
        out: &'m str,
    ) -> Result<Step<'m>, OnnxError> {
        let kind = if n.op_type == "GlobalMaxPool" {
            "Max"
        } else {
            "Avg"
        };
        let (text, o) = match shape {
            [c, l] => (format!("{kind}Pool1d({l})"), vec![*c, 1]),
            [c, h, w] => (format!("{kind}Pool2d(({h}, {w}))"), vec![*c, 1, 1]),
            _ => {
                return Err(n.error(format!(
                    "global pooling of a {shape:?} sample: nn pools signals and images"
                )))
            }
        };
        let entry = Entry::Layer {
            name: None,
            layer: text,
        };
        Ok((vec![entry], out, o))
    }

    fn batch_norm(
        &mut self,
        n: &Node,
        shape: &[usize],
        out: &'m str,
    ) -> Result<Step<'m>, OnnxError> {
        if n.int("training_mode")?.unwrap_or(0) != 0 {
            return Err(n.error("training_mode = 1: export the model in eval mode"));
        }
        let c = shape[0];
        let mut parts = Vec::new();
        for (k, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
            let t = self.constant(n, k, what)?;
            let v = self.floats(n, t)?;
            if v.len() != c {
                return Err(n.error(format!(
                    "{what} `{}` has {} values for {c} channels",
                    t.name,
                    v.len()
                )));
            }
            parts.push(v);
        }
        let eps = n.float("epsilon")?.unwrap_or(1e-5);
        if eps != NN_BATCH_NORM_EPS {
            for v in parts[3].iter_mut() {
                *v += eps - NN_BATCH_NORM_EPS;
            }
            if parts[3].iter().any(|&v| v < 0.0) {
                return Err(n.error(format!(
                    "epsilon {eps} is below nn's {NN_BATCH_NORM_EPS} and a running variance is too small to absorb the difference"
                )));
            }
        }
        let scale_name = n.inputs[1]
            .strip_suffix(".weight")
            .map(|s| format!("{s}.weight"));
        let name = self.name(n, scale_name.as_deref(), "bn");
        let kind = if shape.len() == 3 {
            "BatchNorm2d"
        } else {
            "BatchNorm1d"
        };
        for (suffix, v) in ["weight", "bias", "running_mean", "running_var"]
            .into_iter()
            .zip(parts)
        {
            self.push(&name, suffix, vec![c], v);
        }
        let entry = Entry::Layer {
            name: Some(name),
            layer: kind.into(),
        };
        Ok((vec![entry], out, shape.to_vec()))
    }

    fn prelu(&mut self, n: &Node, shape: &[usize], out: &'m str) -> Result<Step<'m>, OnnxError> {
        let t = self.constant(n, 1, "slope")?;
        let v = self.floats(n, t)?;
        let wname = n.inputs[1].clone();
        let name = self.name(n, Some(&wname), "prelu");
        let per_channel = match v.len() {
            1 => false,
            c if c == shape[0] && t.dims.iter().skip(1).all(|&d| d == 1) => true,
            _ => {
                return Err(n.error(format!(
                    "slope `{}` with dims {:?}: nn's PReLU has one slope, or one per channel ({})",
                    t.name, t.dims, shape[0]
                )))
            }
        };
        let len = v.len();
        self.push(&name, "weight", vec![len], v);
        let layer = if per_channel {
            "PReLU(per_channel = true)".to_string()
        } else {
            "PReLU".to_string()
        };
        let entry = Entry::Layer {
            name: Some(name),
            layer,
        };
        Ok((vec![entry], out, shape.to_vec()))
    }
}

/// A Gemm's weight as `[out, in]` for `len` inputs (transposed when `transB = 0`).
fn gemm_weight(
    im: &Importer<'_>,
    n: &Node,
    w: &Tensor,
    data: Vec<f32>,
    len: usize,
) -> Result<([usize; 2], Vec<f32>), OnnxError> {
    let _ = im;
    let [r, c] = w.dims[..] else {
        return Err(n.error(format!(
            "weight `{}` has dims {:?}; a Gemm weight is 2-D",
            w.name, w.dims
        )));
    };
    let trans_b = n.int("transB")?.unwrap_or(0) != 0;
    let (out, inp) = if trans_b { (r, c) } else { (c, r) };
    if inp != len {
        return Err(n.error(format!(
            "weight `{}` ({r}x{c}, transB = {}) takes {inp} inputs but the layer gets {len}",
            w.name, trans_b as u8
        )));
    }
    let data = if trans_b {
        data
    } else {
        (0..c)
            .flat_map(|o| (0..r).map(move |i| (o, i)))
            .map(|(o, i)| data[i * c + o])
            .collect()
    };
    Ok(([out, inp], data))
}

/// A convolution's or pool's kernel, strides and pads (`[begin.., end..]` as ONNX), and its
/// output shape.
struct ConvGeometry {
    kernel: Vec<usize>,
    strides: Vec<usize>,
    pads: Vec<usize>,
    /// `auto_pad = SAME_UPPER`: `network!`'s `padding = same`.
    same: bool,
    out: Vec<usize>,
}

impl ConvGeometry {
    fn read(im: &Importer<'_>, n: &Node, shape: &[usize], w: &Tensor) -> Result<Self, OnnxError> {
        let _ = im;
        let rank = w.dims.len().saturating_sub(2);
        if rank == 0 || rank > 2 || shape.len() != rank + 1 {
            return Err(n.error(format!(
                "weight `{}` with dims {:?} on a {shape:?} sample: nn convolves signals [c, l] with 3-D weights and images [c, h, w] with 4-D ones",
                w.name, w.dims
            )));
        }
        if n.int("group")?.unwrap_or(1) != 1 {
            return Err(
                n.error("a grouped (or depthwise) convolution has no nn layer (group must be 1)")
            );
        }
        if w.dims[1] != shape[0] {
            return Err(n.error(format!(
                "weight `{}` expects {} input channels, the sample has {}",
                w.name, w.dims[1], shape[0]
            )));
        }
        if ints(n, "dilations")?.is_some_and(|d| d.iter().any(|&x| x != 1)) {
            return Err(n.error("a dilated convolution has no nn layer (dilations must be 1)"));
        }
        let kernel: Vec<usize> = w.dims[2..].to_vec();
        if let Some(k) = ints(n, "kernel_shape")? {
            if k != kernel {
                return Err(n.error(format!(
                    "kernel_shape {k:?} disagrees with weight dims {:?}",
                    w.dims
                )));
            }
        }
        let strides = ints(n, "strides")?.unwrap_or(vec![1; rank]);
        let same = n.string("auto_pad")? == Some("SAME_UPPER");
        let pads = pads(n, &shape[1..], &kernel, &strides)?;
        let mut out = vec![w.dims[0]];
        out.extend(out_dims(&shape[1..], &kernel, &strides, &pads, false));
        if out.contains(&0) {
            return Err(n.error(format!("gives an empty output {out:?}")));
        }
        Ok(ConvGeometry {
            kernel,
            strides,
            pads,
            same,
            out,
        })
    }

    /// The `padding = ..` value, or `None` for no padding.
    fn padding_text(&self) -> Option<String> {
        if self.same && !self.out.is_empty() {
            return Some("same".into());
        }
        let r = self.kernel.len();
        let (b, e) = self.pads.split_at(r);
        if b.iter().chain(e).all(|&p| p == 0) {
            return None;
        }
        Some(match r {
            1 if b[0] == e[0] => b[0].to_string(),
            1 => format!("({}, {})", b[0], e[0]),
            _ if b[0] == e[0] && b[1] == e[1] && b[0] == b[1] => b[0].to_string(),
            _ if b[0] == e[0] && b[1] == e[1] => format!("({}, {})", b[0], b[1]),
            _ => format!("({}, {}, {}, {})", b[0], e[0], b[1], e[1]),
        })
    }
}

/// An `INTS` attribute as sizes; an error if one is negative.
fn ints(n: &Node, name: &str) -> Result<Option<Vec<usize>>, OnnxError> {
    match n.ints(name)? {
        None => Ok(None),
        Some(v) => v
            .iter()
            .map(|&x| usize::try_from(x).ok())
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| n.error(format!("attribute {name} {v:?} has a negative value"))),
    }
}

/// The pads, `[begin.., end..]`, from `pads` or `auto_pad`.
fn pads(
    n: &Node,
    size: &[usize],
    kernel: &[usize],
    strides: &[usize],
) -> Result<Vec<usize>, OnnxError> {
    let r = size.len();
    if strides.len() != r || strides.contains(&0) {
        return Err(n.error(format!("strides {strides:?} for {r} spatial dimensions")));
    }
    match n.string("auto_pad")?.unwrap_or("NOTSET") {
        "NOTSET" => {
            let p = ints(n, "pads")?.unwrap_or(vec![0; 2 * r]);
            if p.len() != 2 * r {
                return Err(n.error(format!("pads {p:?} for {r} spatial dimensions")));
            }
            Ok(p)
        }
        "VALID" => Ok(vec![0; 2 * r]),
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let mut begin = vec![0; r];
            let mut end = vec![0; r];
            for d in 0..r {
                let out = size[d].div_ceil(strides[d]);
                let total = ((out - 1) * strides[d] + kernel[d]).saturating_sub(size[d]);
                let small = total / 2;
                (begin[d], end[d]) = if mode == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
            }
            begin.extend(end);
            Ok(begin)
        }
        other => Err(n.error(format!("auto_pad = `{other}` is not an ONNX padding mode"))),
    }
}

/// Output sizes: floor (or ceil) of `(size + pads - kernel) / stride` plus 1.
fn out_dims(
    size: &[usize],
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    ceil: bool,
) -> Vec<usize> {
    let r = size.len();
    (0..r)
        .map(|d| {
            let span = size[d] + pads[d] + pads[r + d];
            if span < kernel[d] {
                return 0;
            }
            let steps = span - kernel[d];
            let q = if ceil {
                steps.div_ceil(strides[d])
            } else {
                steps / strides[d]
            };
            q + 1
        })
        .collect()
}

/// `3` or `(3, 5)`.
fn pair(v: &[usize]) -> String {
    match v {
        [a] => a.to_string(),
        [a, b] if a == b => a.to_string(),
        _ => {
            let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// A float as a DSL number (always with a point or an exponent).
fn float(v: f32) -> String {
    format!("{v:?}")
}

/// `name` with every character that is not ASCII alphanumeric turned into `_`.
fn ident(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.trim_matches('_').to_string()
}

/// Whether `s` has the form of a name `network!` gives an unnamed layer (`relu_2`,
/// `maxpool2d_3`): kept, it could collide with one (an unnamed layer gets it back anyway).
fn automatic(s: &str) -> bool {
    const KINDS: &[&str] = &[
        "dense",
        "flatten",
        "identity",
        "step",
        "sigmoid",
        "tanh",
        "relu",
        "gelu",
        "softplus",
        "elu",
        "selu",
        "leakyrelu",
        "prelu",
        "silu",
        "gaussian",
        "softmax",
        "conv1d",
        "conv2d",
        "maxpool1d",
        "maxpool2d",
        "avgpool1d",
        "avgpool2d",
        "batchnorm1d",
        "batchnorm2d",
        "dropout",
        "residual",
    ];
    match s.rsplit_once('_') {
        Some((kind, n)) => {
            KINDS.contains(&kind) && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn is_keyword(s: &str) -> bool {
    const KW: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
        "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do",
        "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
        "gen", "input",
    ];
    KW.contains(&s)
}
