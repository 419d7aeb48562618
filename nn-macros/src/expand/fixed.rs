//! The fixed-point twin `NameFixed` of a network with `#[fixed(...)]`: hls4ml's arithmetic
//! (`ap_fixed<W, I, Q, O>` per layer: weights, biases, accumulators, results, tables), bit for
//! bit (`nn::fixed_point::ops` and `tables`), and `Name::to_fixed()` building it from the f32
//! weights as hls4ml's C simulation reads them (each weight printed with as many decimals as
//! its type has fractional bits, read back as a `double`, converted).
//!
//! Every precision is resolved here, during expansion: an unknown layer, a key the layer kind
//! does not take or a type that does not parse is an error at its token.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use crate::fixed_attr::{FixedAttr, Setting};
use crate::layers::activation::Activation;
use crate::layers::pool::Mode;
use crate::layers::{Layer, LayerKind};
use crate::model::{Network, OpKind};
use crate::paths;
use crate::shape::Shape;
use nn_fixed::{Overflow, Quant, Spec};

/// hls4ml's default precision (`Model: Precision: default`).
const DEFAULT: &str = "ap_fixed<16,6>";
/// hls4ml's default `table_t` (Sigmoid).
const TABLE: &str = "ap_fixed<18,8>";
/// hls4ml's default softmax table, accumulator and inverse-input types.
const SOFTMAX_TABLE: &str = "ap_fixed<18,8,AP_RND,AP_SAT>";

/// What one step of the twin computes, with its resolved types.
pub(super) enum Step {
    Dense {
        l: usize,
        p: [Spec; 4],
    },
    Conv {
        l: usize,
        rank: u8,
        p: [Spec; 4],
    },
    Pool {
        l: usize,
        avg: Option<bool>,
        p: [Spec; 2],
    },
    Relu {
        out: Spec,
    },
    Sigmoid {
        table: Spec,
        size: usize,
        out: Spec,
    },
    Softmax {
        out: Spec,
        exp_table: Spec,
        inv_table: Spec,
        accum: Spec,
        inv_inp: Spec,
        size: usize,
        stable: bool,
    },
    /// Flatten, Dropout, Identity: the same values.
    Same,
}

/// The resolved twin: per op its step and output type.
pub(super) struct Plan {
    pub input: Spec,
    pub steps: Vec<(Step, Spec)>,
    /// `input_range = (lo, hi)` and where it was written.
    pub range: Option<((f64, f64), Span)>,
    /// The types written `"auto"`: step index and key.
    pub autos: Vec<(usize, &'static str)>,
}

fn parse_spec(text: &str, span: Span) -> Result<Spec, syn::Error> {
    Spec::parse(text).map_err(|e| {
        syn::Error::new(
            span,
            format!("`{text}` is not a fixed-point type ({e}); write `ap_fixed<W,I>`, `ap_fixed<W,I,Q,O>` (Q: AP_TRN, AP_RND, ..., O: AP_WRAP, AP_SAT, ...) or `ap_ufixed<..>`"),
        )
    })
}

/// The settings of one layer, consumed key by key; what is left over is an error.
struct Settings<'a> {
    who: String,
    kind: String,
    items: Vec<&'a Setting>,
    errors: &'a mut Vec<syn::Error>,
    /// The keys written `"auto"`.
    autos: &'a mut Vec<&'static str>,
}

impl Settings<'_> {
    fn take(&mut self, key: &str) -> Option<&Setting> {
        let i = self.items.iter().position(|s| s.key() == key)?;
        Some(self.items.remove(i))
    }

    fn spec(&mut self, key: &'static str, default: Spec) -> Spec {
        match self.take(key) {
            None => default,
            Some(Setting::Type(_, lit)) if lit.value() == "auto" => {
                self.autos.push(key);
                default
            }
            Some(Setting::Type(_, lit)) => match parse_spec(&lit.value(), lit.span()) {
                Ok(s) => s,
                Err(e) => {
                    self.errors.push(e);
                    default
                }
            },
            Some(other) => {
                let e = syn::Error::new(
                    other.key().span(),
                    format!("`{key}` is a type: write `{key} = \"ap_fixed<16,6>\"`"),
                );
                self.errors.push(e);
                default
            }
        }
    }

    fn size(&mut self, key: &str, default: usize) -> usize {
        match self.take(key) {
            None => default,
            Some(Setting::Int(_, lit)) => match lit.base10_parse::<usize>() {
                Ok(n) if n.is_power_of_two() && (2..=65536).contains(&n) => n,
                _ => {
                    let e = syn::Error::new(
                        lit.span(),
                        format!("`{key}` must be a power of two from 2 to 65536 (hls4ml indexes its tables with the top bits of a value); found {lit}"),
                    );
                    self.errors.push(e);
                    default
                }
            },
            Some(other) => {
                let e = syn::Error::new(
                    other.key().span(),
                    format!("`{key}` is a number: write `{key} = 1024`"),
                );
                self.errors.push(e);
                default
            }
        }
    }

    /// Every key not taken: an error listing what the layer takes.
    fn finish(self, takes: &str) {
        for s in self.items {
            self.errors.push(syn::Error::new(
                s.key().span(),
                format!(
                    "{} ({}) has no `{}`; it takes {takes}",
                    self.who,
                    self.kind,
                    s.key()
                ),
            ));
        }
    }
}

/// Resolves every precision, or the errors.
/// `folded`: names of batch norms folded away (reported by the caller, not as unknown layers).
fn plan(net: &Network, attr: &FixedAttr, folded: &[String]) -> Result<Plan, syn::Error> {
    let mut errors = Vec::new();
    let mut globals: Vec<&Setting> = attr.globals.iter().collect();
    let mut global = |key: &str, default: Spec, errors: &mut Vec<syn::Error>| -> Spec {
        match globals.iter().position(|s| s.key() == key) {
            None => default,
            Some(i) => match globals.remove(i) {
                Setting::Type(_, lit) => parse_spec(&lit.value(), lit.span()).unwrap_or_else(|e| {
                    errors.push(e);
                    default
                }),
                other => {
                    errors.push(syn::Error::new(
                        other.key().span(),
                        format!("`{key}` is a type: write `{key} = \"ap_fixed<16,6>\"`"),
                    ));
                    default
                }
            },
        }
    };
    let hls_default = Spec::parse(DEFAULT).expect("default type");
    let default = global("default", hls_default, &mut errors);
    let input = global("input", default, &mut errors);
    let mut range = None;
    if let Some(i) = globals.iter().position(|s| s.key() == "input_range") {
        match globals.remove(i) {
            Setting::Range(k, r) => range = Some((*r, k.span())),
            other => errors.push(syn::Error::new(
                other.key().span(),
                "write the inputs' range as `input_range = (-4.0, 4.0)`",
            )),
        }
    }
    for s in globals {
        errors.push(syn::Error::new(
            s.key().span(),
            format!("`#[fixed]` has no setting `{}`; it takes `default`, `input`, `input_range` and `layer(...)` for a layer of the network", s.key()),
        ));
    }
    // Each layer's settings, by name.
    let names: Vec<String> = net.layers.iter().map(|l| l.name.to_string()).collect();
    for ls in &attr.layers {
        let name = ls.layer.to_string();
        if !names.contains(&name) && !folded.contains(&name) {
            let hint = crate::suggest::closest(&name, names.iter().map(String::as_str))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            errors.push(syn::Error::new(
                ls.layer.span(),
                format!(
                    "`{name}` is not a layer of `{}` (its layers: {}){hint}",
                    net.name,
                    names.join(", ")
                ),
            ));
        }
    }
    let table = Spec::parse(TABLE).expect("table type");
    let softmax_table = Spec::parse(SOFTMAX_TABLE).expect("softmax table type");
    let mut steps = Vec::new();
    let mut autos = Vec::new();
    let mut specs = vec![input; net.tensors.len()];
    for op in &net.ops {
        let x = specs[op.inputs[0]];
        let OpKind::Layer(i) = op.kind else {
            errors.push(syn::Error::new(
                attr.span,
                format!(
                    "the fixed-point twin has no residual additions yet (block `{}`)",
                    op.label
                ),
            ));
            continue;
        };
        let l = &net.layers[i];
        let items = attr
            .layers
            .iter()
            .filter(|s| s.layer == l.name)
            .flat_map(|s| s.settings.iter())
            .collect();
        let mut s_autos = Vec::new();
        let mut s = Settings {
            who: format!("layer `{}`", l.name),
            kind: l.kind_name.clone(),
            items,
            errors: &mut errors,
            autos: &mut s_autos,
        };
        let step = match &l.kind {
            LayerKind::Dense(_) | LayerKind::Conv(_) => {
                let p = [
                    s.spec("weight", default),
                    s.spec("bias", default),
                    s.spec("accum", default),
                    s.spec("result", default),
                ];
                s.finish("`weight`, `bias`, `accum` and `result`");
                match &l.kind {
                    LayerKind::Conv(c) => Step::Conv {
                        l: i,
                        rank: c.win.rank,
                        p,
                    },
                    _ => Step::Dense { l: i, p },
                }
            }
            LayerKind::Pool(p) => {
                let pp = [s.spec("accum", default), s.spec("result", default)];
                s.finish("`accum` and `result`");
                let avg = match p.mode {
                    Mode::Max => None,
                    Mode::Avg { count_pad } => Some(count_pad),
                };
                Step::Pool { l: i, avg, p: pp }
            }
            LayerKind::Activation(Activation::ReLU) => {
                let out = s.spec("result", default);
                s.finish("`result`");
                Step::Relu { out }
            }
            LayerKind::Activation(Activation::Sigmoid) => {
                let out = s.spec("result", default);
                let t = s.spec("table", table);
                let size = s.size("table_size", 1024);
                s.finish("`result`, `table` and `table_size`");
                Step::Sigmoid {
                    table: t,
                    size,
                    out,
                }
            }
            LayerKind::Softmax(_) => {
                let out = s.spec("result", default);
                let exp_table = s.spec("exp_table", softmax_table);
                let inv_table = s.spec("inv_table", softmax_table);
                let accum = s.spec("accum", softmax_table);
                let inv_inp = s.spec("inv_inp", softmax_table);
                let size = s.size("table_size", 1024);
                let stable = match s.take("implementation") {
                    None => true,
                    Some(Setting::Word(_, w)) if w == "stable" => true,
                    Some(Setting::Word(_, w)) if w == "latency" => false,
                    Some(other) => {
                        let e = syn::Error::new(
                            other.key().span(),
                            "`implementation` is `stable` (hls4ml's default: subtracts the maximum first) or `latency`",
                        );
                        s.errors.push(e);
                        true
                    }
                };
                s.finish("`result`, `exp_table`, `inv_table`, `accum`, `inv_inp`, `table_size` and `implementation`");
                Step::Softmax {
                    out,
                    exp_table,
                    inv_table,
                    accum,
                    inv_inp,
                    size,
                    stable,
                }
            }
            LayerKind::Flatten(_)
            | LayerKind::Dropout(_)
            | LayerKind::Activation(Activation::Identity) => {
                s.finish("no settings (it passes its input's values and type on)");
                Step::Same
            }
            _ => {
                s.finish("nothing yet");
                errors.push(syn::Error::new(
                    attr.span,
                    format!(
                        "layer `{}` ({}) has no fixed-point form yet: the fixed-point twin has Dense, Conv1d, Conv2d, pooling, Flatten, Dropout, ReLU, Sigmoid and Softmax (fold a batch norm first)",
                        l.name,
                        l.kind_name
                    ),
                ));
                Step::Same
            }
        };
        let out = match &step {
            Step::Dense { p, .. } | Step::Conv { p, .. } => p[3],
            Step::Pool { p, .. } => p[1],
            Step::Relu { out } | Step::Sigmoid { out, .. } | Step::Softmax { out, .. } => *out,
            Step::Same => x,
        };
        let k = steps.len();
        autos.extend(s_autos.into_iter().map(|key| (k, key)));
        specs[op.output] = out;
        steps.push((step, out));
    }
    match errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        Some(e) => Err(e),
        None => Ok(Plan {
            input,
            steps,
            range,
            autos,
        }),
    }
}

/// A `Spec` as a constant expression.
fn spec_tokens(s: Spec) -> TokenStream {
    let fp = paths::fixed_point();
    let (w, i, signed) = (s.width(), s.int_bits(), s.is_signed());
    let q = format_ident!(
        "{}",
        match s.quant() {
            Quant::Trn => "Trn",
            Quant::TrnZero => "TrnZero",
            Quant::Rnd => "Rnd",
            Quant::RndZero => "RndZero",
            Quant::RndMinInf => "RndMinInf",
            Quant::RndInf => "RndInf",
            Quant::RndConv => "RndConv",
        }
    );
    let o = format_ident!(
        "{}",
        match s.overflow() {
            Overflow::Wrap => "Wrap",
            Overflow::Sat => "Sat",
            Overflow::SatZero => "SatZero",
            Overflow::SatSym => "SatSym",
        }
    );
    quote!(#fp::Spec::new(#w, #i, #signed, #fp::Quant::#q, #fp::Overflow::#o))
}

fn dims(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::D1(n) => (1, 1, n as usize),
        Shape::D2(c, l) => (c as usize, 1, l as usize),
        Shape::D3(c, h, w) => (c as usize, h as usize, w as usize),
    }
}

/// The twin's items, or the errors at the attribute's tokens.
///
/// `known`: the f32 weights known during compilation (`#[weights]`, `#[onnx]`), by name, which
/// `input_range` and `"auto"` types are analysed with ([`super::fixed_range`]).
pub fn items(net: &Network, attr: &FixedAttr, known: Option<&[(String, Vec<f32>)]>) -> TokenStream {
    let Some(folded) = super::fold::fold(net) else {
        return twin_items(net, &net.name, attr, known, &[]);
    };
    // Batch norms are folded into the layers before them (in f32, as `fold()` does) and the
    // twin is that of the folded network.
    let mut errors = TokenStream::new();
    let bns: Vec<(String, String)> = folded
        .origin
        .iter()
        .filter_map(|&(l, bn)| {
            Some((
                net.layers[bn?].name.to_string(),
                net.layers[l].name.to_string(),
            ))
        })
        .collect();
    for ls in &attr.layers {
        if let Some((bn, into)) = bns.iter().find(|(bn, _)| ls.layer == bn) {
            errors.extend(
                syn::Error::new(
                    ls.layer.span(),
                    format!("batch norm `{bn}` is folded into `{into}` in the fixed-point twin; give `{into}`'s types instead"),
                )
                .to_compile_error(),
            );
        }
    }
    // The range analysis would need the folded weights, which exist only at run time.
    if let Some(r) = attr.globals.iter().find(|g| g.key() == "input_range") {
        errors.extend(
            syn::Error::new(
                r.key().span(),
                "`input_range` cannot bound a network whose batch norms are folded yet (the folded weights exist only at run time); fold them into the weight file, or drop `input_range`",
            )
            .to_compile_error(),
        );
    }
    let attr_known = None;
    let _ = known;
    let names: Vec<String> = bns.iter().map(|(b, _)| b.clone()).collect();
    let twin = format_ident!("{}Fixed", net.name);
    let (name, folded_name) = (&net.name, &folded.net.name);
    let items = twin_items(&folded.net, name, attr, attr_known, &names);
    let doc = format!("The fixed-point twin of [`{name}`] with its batch norms folded (see [`{folded_name}::to_fixed`]).");
    let if_std = paths::if_std();
    quote! {
        #errors
        #items
        #if_std! {
            impl #name {
                #[doc = #doc]
                pub fn to_fixed(&self) -> #twin {
                    self.fold().to_fixed()
                }
            }
        }
    }
}

/// The twin of `net` named after `api` (`<api>Fixed`); `to_fixed` on `net`'s type.
fn twin_items(
    net: &Network,
    api: &syn::Ident,
    attr: &FixedAttr,
    known: Option<&[(String, Vec<f32>)]>,
    folded: &[String],
) -> TokenStream {
    let mut plan = match plan(net, attr, folded) {
        Ok(p) => p,
        Err(e) => return e.to_compile_error(),
    };
    // Range errors are reported beside the twin (which is still generated, so that code using
    // it shows no follow-on errors).
    let mut range_errors = TokenStream::new();
    let ranges = if plan.range.is_some() || !plan.autos.is_empty() {
        match super::fixed_range::analyze(net, &mut plan, known, attr.span) {
            Ok(r) => Some(r),
            Err(e) => {
                range_errors = e.to_compile_error();
                None
            }
        }
    } else {
        None
    };
    let fp = paths::fixed_point();
    let name = &net.name;
    let twin = format_ident!("{}Fixed", api);
    let (tensor, if_std, layout, sd) = (
        paths::tensor(),
        paths::if_std(),
        paths::layout(),
        paths::safe_tensors(),
    );
    let in_ty = paths::shape_of(net.input);
    let out_ty = paths::shape_of(net.output());
    let n_in = net.input.len() as usize;
    let n_out = net.output().len() as usize;

    let mut fields: Vec<(syn::Ident, TokenStream)> = Vec::new();
    let mut inits = Vec::new();
    let mut body = Vec::new();
    let mut summary = format!(
        "{twin}: the fixed-point twin of {name} (hls4ml's ap_fixed arithmetic)\n  input: {}\n",
        plan.input
    );
    for (op, (step, out_spec)) in net.ops.iter().zip(&plan.steps) {
        let x = format_ident!("a{}", op.inputs[0]);
        let y = format_ident!("a{}", op.output);
        let in_spec = spec_tokens(specs_of(&plan, net, op.inputs[0]));
        let len = net.tensors[op.output].len() as usize;
        let out_tokens = spec_tokens(*out_spec);
        let layer = match op.kind {
            OpKind::Layer(i) => &net.layers[i],
            OpKind::Add => continue,
        };
        let lname = layer.name.to_string();
        match step {
            Step::Dense { l, p } | Step::Conv { l, p, .. } => {
                let lay = &net.layers[*l];
                let wf = format_ident!("{}_weight", lay.name);
                let bf = format_ident!("{}_bias", lay.name);
                let n_w = (lay.params as usize).saturating_sub(bias_len(lay));
                let n_b = lay.output.channels() as usize;
                fields.push((wf.clone(), quote!([i64; #n_w])));
                fields.push((bf.clone(), quote!([i64; #n_b])));
                let (ws, bs) = (spec_tokens(p[0]), spec_tokens(p[1]));
                let wkey = format!("{lname}.weight");
                let bkey = format!("{lname}.bias");
                inits.push(quote! {
                    let mut #wf = [0i64; #n_w];
                    for (r, &t) in #wf.iter_mut().zip(tensor(#wkey).iter()) {
                        *r = #fp::ops::hls4ml_weight(t, #ws);
                    }
                    let mut #bf = [0i64; #n_b];
                    for (r, &t) in #bf.iter_mut().zip(tensor(#bkey).iter()) {
                        *r = #fp::ops::hls4ml_weight(t, #bs);
                    }
                });
                let prec = {
                    let (a, b, c, d) = (
                        spec_tokens(p[0]),
                        spec_tokens(p[1]),
                        spec_tokens(p[2]),
                        spec_tokens(p[3]),
                    );
                    quote!(#fp::ops::DensePrecision { weight: #a, bias: #b, accum: #c, result: #d })
                };
                let call = match (step, lay.kind) {
                    (Step::Conv { rank: 2, .. }, LayerKind::Conv(c)) => {
                        let (ci, h, w) = dims(lay.input);
                        let (kh, kw, sh, sw) = (
                            c.win.kh as usize,
                            c.win.kw as usize,
                            c.win.sh as usize,
                            c.win.sw as usize,
                        );
                        let [pt, pb, pl, pr] = c.win.pad.map(|v| v as usize);
                        quote!(#fp::ops::conv2d(&#x, #in_spec, #fp::ops::Window2d::new((#ci, #h, #w), (#kh, #kw), (#sh, #sw), (#pt, #pb, #pl, #pr)), &self.#wf, &self.#bf, &P, &mut #y))
                    }
                    (Step::Conv { .. }, LayerKind::Conv(c)) => {
                        let (ci, _, l) = dims(lay.input);
                        let (k, s) = (c.win.kw as usize, c.win.sw as usize);
                        let [_, _, pl, pr] = c.win.pad.map(|v| v as usize);
                        quote!(#fp::ops::conv1d(&#x, #in_spec, #fp::ops::Window1d::new((#ci, #l), #k, #s, (#pl, #pr)), &self.#wf, &self.#bf, &P, &mut #y))
                    }
                    _ => quote!(#fp::ops::dense(&#x, #in_spec, &self.#wf, &self.#bf, &P, &mut #y)),
                };
                body.push(quote! {
                    let mut #y = [0i64; #len];
                    {
                        const P: #fp::ops::DensePrecision = #prec;
                        #call;
                    }
                });
                summary.push_str(&format!(
                    "  {lname}: weight {}, bias {}, accum {}, result {}\n",
                    p[0], p[1], p[2], p[3]
                ));
            }
            Step::Pool { l, avg, p } => {
                let lay = &net.layers[*l];
                let LayerKind::Pool(pool) = lay.kind else {
                    continue;
                };
                let (a, r) = (spec_tokens(p[0]), spec_tokens(p[1]));
                let prec = quote!(#fp::ops::PoolPrecision { accum: #a, result: #r });
                let (ci, h, w) = dims(lay.input);
                let win = pool.win;
                let [pt, pb, pl, pr] = win.pad.map(|v| v as usize);
                let (kh, kw, sh, sw) = (
                    win.kh as usize,
                    win.kw as usize,
                    win.sh as usize,
                    win.sw as usize,
                );
                let geometry = if win.rank == 2 {
                    quote!(#fp::ops::Window2d::new((#ci, #h, #w), (#kh, #kw), (#sh, #sw), (#pt, #pb, #pl, #pr)))
                } else {
                    quote!(#fp::ops::Window1d::new((#ci, #w), #kw, #sw, (#pl, #pr)))
                };
                let call = match (avg, win.rank) {
                    (None, 2) => {
                        quote!(#fp::ops::max_pool2d(&#x, #in_spec, #geometry, &P, &mut #y))
                    }
                    (None, _) => {
                        quote!(#fp::ops::max_pool1d(&#x, #in_spec, #geometry, &P, &mut #y))
                    }
                    (Some(c), 2) => {
                        quote!(#fp::ops::avg_pool2d(&#x, #in_spec, #geometry, #c, &P, &mut #y))
                    }
                    (Some(c), _) => {
                        quote!(#fp::ops::avg_pool1d(&#x, #in_spec, #geometry, #c, &P, &mut #y))
                    }
                };
                body.push(quote! {
                    let mut #y = [0i64; #len];
                    {
                        const P: #fp::ops::PoolPrecision = #prec;
                        #call;
                    }
                });
                summary.push_str(&format!("  {lname}: accum {}, result {}\n", p[0], p[1]));
            }
            Step::Relu { out } => {
                body.push(quote! {
                    let mut #y = [0i64; #len];
                    #fp::ops::relu(&#x, #in_spec, #out_tokens, &mut #y);
                });
                summary.push_str(&format!("  {lname}: result {out}\n"));
            }
            Step::Sigmoid { table, size, out } => {
                let f = format_ident!("{}_table", layer.name);
                fields.push((f.clone(), quote!(#fp::tables::SigmoidTable<#size>)));
                let t = spec_tokens(*table);
                inits.push(quote!(let #f = #fp::tables::SigmoidTable::new(#t);));
                body.push(quote! {
                    let mut #y = [0i64; #len];
                    #fp::tables::sigmoid(&#x, #in_spec, &self.#f, #out_tokens, &mut #y);
                });
                summary.push_str(&format!(
                    "  {lname}: result {out}, table {table} x {size}\n"
                ));
            }
            Step::Softmax {
                out,
                exp_table,
                inv_table,
                accum,
                inv_inp,
                size,
                stable,
            } => {
                let f = format_ident!("{}_tables", layer.name);
                let input = specs_of(&plan, net, op.inputs[0]);
                let e = if *stable {
                    nn_fixed::tables::SoftmaxPrecision::hls4ml_stable_exp_table_size(input, *size)
                } else {
                    *size
                };
                fields.push((f.clone(), quote!(#fp::tables::SoftmaxTables<#e, #size>)));
                let (et, it, ac, ii) = (
                    spec_tokens(*exp_table),
                    spec_tokens(*inv_table),
                    spec_tokens(*accum),
                    spec_tokens(*inv_inp),
                );
                let prec = quote! {
                    #fp::tables::SoftmaxPrecision {
                        input: #in_spec,
                        result: #out_tokens,
                        exp_table: #et,
                        inv_table: #it,
                        accum: #ac,
                        inv_inp: #ii,
                        inp_norm: #fp::tables::SoftmaxPrecision::hls4ml_inp_norm(#in_spec),
                        exp_scale: 1.0,
                    }
                };
                let (build, run) = if *stable {
                    (quote!(stable), quote!(softmax_stable))
                } else {
                    (quote!(latency), quote!(softmax_latency))
                };
                inits.push(quote!(let #f = #fp::tables::SoftmaxTables::#build(&#prec);));
                body.push(quote! {
                    let mut #y = [0i64; #len];
                    #fp::tables::#run(&#x, &#prec, &self.#f, &mut #y);
                });
                summary.push_str(&format!(
                    "  {lname}: result {out}, exp_table {exp_table} x {e}, inv_table {inv_table} x {size}, accum {accum}, inv_inp {inv_inp}, {}\n",
                    if *stable { "stable" } else { "latency" }
                ));
            }
            Step::Same => {
                body.push(quote!(let #y = #x;));
                summary.push_str(&format!("  {lname}: (same values)\n"));
            }
        }
    }
    if let (Some(r), Some(((lo, hi), _))) = (&ranges, plan.range) {
        summary.push_str(&format!(
            "  bounds for inputs in [{lo}, {hi}] (interval arithmetic on the quantized weights):\n"
        ));
        for (op, (acc, out)) in net.ops.iter().zip(r.accum.iter().zip(&r.output)) {
            let OpKind::Layer(i) = op.kind else { continue };
            let name = &net.layers[i].name;
            match acc {
                Some(a) => summary.push_str(&format!(
                    "    {name}: sums in [{:.3}, {:.3}], results in [{:.3}, {:.3}]\n",
                    a.0, a.1, out.0, out.1
                )),
                None => summary.push_str(&format!(
                    "    {name}: results in [{:.3}, {:.3}]\n",
                    out.0, out.1
                )),
            }
        }
    }
    let last = format_ident!("a{}", net.output);
    let in_spec = spec_tokens(plan.input);
    let out_spec = spec_tokens(plan.steps.last().map_or(plan.input, |s| s.1));
    let doc = format!(
        "The fixed-point twin of [`{name}`]: every layer in hls4ml's `ap_fixed` arithmetic with the types of `#[fixed]` (see [`{twin}::SUMMARY`]); `{name}::to_fixed()` builds it."
    );
    let field_names: Vec<&syn::Ident> = fields.iter().map(|(n, _)| n).collect();
    let field_tys: Vec<&TokenStream> = fields.iter().map(|(_, t)| t).collect();
    quote! {
        #range_errors

        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #twin {
            #(#[doc(hidden)] pub #field_names: #field_tys,)*
        }

        impl #twin {
            /// Every layer's types, as `#[fixed]` resolved them.
            pub const SUMMARY: &'static str = #summary;
            /// The input's type.
            pub const INPUT: #fp::Spec = #in_spec;
            /// The output's type.
            pub const OUTPUT: #fp::Spec = #out_spec;

            /// Inference on raw input values of type [`Self::INPUT`]; raw outputs of type
            /// [`Self::OUTPUT`]. Integer arithmetic only.
            pub fn forward_raw(&self, x: &[i64; #n_in]) -> [i64; #n_out] {
                let a0 = *x;
                #(#body)*
                #last
            }

            /// Inference on `f64` inputs, each converted to [`Self::INPUT`] as a C++ `double`
            /// assigned to it (hls4ml's `predict` on float64); the outputs' exact values.
            pub fn forward_f64(&self, x: &[f64; #n_in]) -> [f64; #n_out] {
                let raw = x.map(|v| Self::INPUT.from_f64(v).raw);
                self.forward_raw(&raw).map(|r| Self::OUTPUT.to_f64(#fp::Fixed::from_raw(r)))
            }

            /// Inference on an f32 tensor (each value converted to [`Self::INPUT`]).
            pub fn forward(&self, x: &#tensor<#in_ty>) -> #tensor<#out_ty> {
                let mut raw = [0i64; #n_in];
                for (r, &v) in raw.iter_mut().zip(x.as_slice()) {
                    *r = Self::INPUT.from_f64(v as f64).raw;
                }
                let y = self.forward_raw(&raw);
                let mut out = <#tensor<#out_ty> as ::core::default::Default>::default();
                for (o, &r) in out.as_mut_slice().iter_mut().zip(y.iter()) {
                    *o = Self::OUTPUT.to_f64(#fp::Fixed::from_raw(r)) as f32;
                }
                out
            }
        }

        #if_std! {
            impl #name {
                /// The fixed-point twin: each weight printed with as many decimals as its
                /// type has fractional bits, read back as a `double` and converted, as
                /// hls4ml's C simulation reads its weight files; tables built as hls4ml does.
                pub fn to_fixed(&self) -> #twin {
                    let dict = #sd::state_dict(self, #layout::PyTorch);
                    let tensor = |name: &str| -> ::std::vec::Vec<f32> {
                        dict.iter().find(|t| t.name == name).map(|t| t.data.clone()).unwrap_or_default()
                    };
                    #(#inits)*
                    #twin { #(#field_names),* }
                }
            }
        }
    }
}

fn bias_len(l: &Layer) -> usize {
    match l.kind {
        LayerKind::Conv(c) if !c.bias => 0,
        _ => l.output.channels() as usize,
    }
}

fn specs_of(plan: &Plan, net: &Network, tensor: usize) -> Spec {
    if tensor == 0 {
        return plan.input;
    }
    net.ops
        .iter()
        .zip(&plan.steps)
        .find(|(o, _)| o.output == tensor)
        .map_or(plan.input, |(_, s)| s.1)
}
