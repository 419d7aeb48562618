//! The fixed-point twin's plan: `#[fixed(...)]`'s types resolved for every step of the network
//! (hls4ml's defaults where none is given), every setting checked at its token: an unknown
//! layer, a key the layer kind does not take, a type that does not parse, a table size that is
//! not a power of two. `"auto"` types are recorded for `fixed_range` to choose.

use proc_macro2::Span;

use crate::fixed_attr::{FixedAttr, Setting};
use crate::layers::activation::Activation;
use crate::layers::pool::Mode;
use crate::layers::{Layer, LayerKind};
use crate::model::{Network, OpKind};
use nn_fixed::Spec;

/// hls4ml's default precision (`Model: Precision: default`).
const DEFAULT: &str = "ap_fixed<16,6>";
/// hls4ml's default `table_t` (Sigmoid).
const TABLE: &str = "ap_fixed<18,8>";
/// hls4ml's default softmax table, accumulator and inverse-input types.
const SOFTMAX_TABLE: &str = "ap_fixed<18,8,AP_RND,AP_SAT>";

/// What one step of the twin computes, with its resolved types.
pub enum Step {
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
    /// A table activation other than the sigmoid: `kind` is `Tanh`, `Softplus`, `Elu` or
    /// `Selu` (ELU's `alpha` converted to `param`).
    Table {
        kind: TableKind,
        table: Spec,
        size: usize,
        out: Spec,
        alpha: f64,
        param: Spec,
    },
    /// `LeakyReLU` (`alpha` converted to `param`).
    LeakyRelu {
        alpha: f64,
        param: Spec,
        out: Spec,
    },
    /// `PReLU`: its slopes, one per input value, converted to `param`.
    Prelu {
        param: Spec,
        out: Spec,
    },
    /// A batch norm that could not be folded: `y = x * scale + bias` (hls4ml's
    /// BatchNormalization), scale and bias computed in f32 as hls4ml computes them.
    BatchNorm {
        scale: Spec,
        bias: Spec,
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

/// The activations hls4ml computes from a lookup table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TableKind {
    Tanh,
    Softplus,
    Elu,
    Selu,
}

/// The resolved twin: per op its step and output type.
pub struct Plan {
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
pub(super) fn plan(net: &Network, attr: &FixedAttr, folded: &[String]) -> Result<Plan, syn::Error> {
    let mut errors = Vec::new();
    let (default, input, range) = globals(attr, &mut errors);
    check_names(net, attr, folded, &mut errors);
    let table = Spec::parse(TABLE).expect("table type");
    let softmax_table = Spec::parse(SOFTMAX_TABLE).expect("softmax table type");
    let defaults = Defaults {
        default,
        table,
        softmax_table,
    };
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
        let s = Settings {
            who: format!("layer `{}`", l.name),
            kind: l.kind_name.clone(),
            items,
            errors: &mut errors,
            autos: &mut s_autos,
        };
        let (step, unsupported) = step(i, l, s, &defaults);
        if unsupported {
            errors.push(syn::Error::new(
                attr.span,
                format!(
                    "layer `{}` ({}) has no fixed-point form yet: the fixed-point twin has Dense, Conv1d, Conv2d, pooling, Flatten, Dropout, batch norm, ReLU, LeakyReLU, PReLU, Sigmoid, Tanh, Softplus, ELU, SELU and Softmax",
                    l.name, l.kind_name
                ),
            ));
        }
        let out = match &step {
            Step::Dense { p, .. } | Step::Conv { p, .. } => p[3],
            Step::Pool { p, .. } => p[1],
            Step::Relu { out }
            | Step::Sigmoid { out, .. }
            | Step::Softmax { out, .. }
            | Step::Table { out, .. }
            | Step::LeakyRelu { out, .. }
            | Step::Prelu { out, .. }
            | Step::BatchNorm { out, .. } => *out,
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

/// `input_range = (lo, hi)` and where it was written.
type InputRange = ((f64, f64), Span);

/// The types a layer falls back to.
struct Defaults {
    default: Spec,
    table: Spec,
    softmax_table: Spec,
}

/// `default`, `input` and `input_range`; every other global setting is an error.
fn globals(attr: &FixedAttr, errors: &mut Vec<syn::Error>) -> (Spec, Spec, Option<InputRange>) {
    let mut autos = Vec::new();
    let mut s = Settings {
        who: "`#[fixed]`".to_string(),
        kind: "the attribute".to_string(),
        items: attr.globals.iter().collect(),
        errors,
        autos: &mut autos,
    };
    let default = s.spec("default", Spec::parse(DEFAULT).expect("default type"));
    let input = s.spec("input", default);
    let range = match s.take("input_range") {
        None => None,
        Some(Setting::Range(k, r)) => Some((*r, k.span())),
        Some(other) => {
            let e = syn::Error::new(
                other.key().span(),
                "write the inputs' range as `input_range = (-4.0, 4.0)`",
            );
            s.errors.push(e);
            None
        }
    };
    s.finish("`default`, `input`, `input_range` and `layer(...)` for a layer of the network");
    if !autos.is_empty() {
        errors.push(syn::Error::new(
            attr.span,
            "`\"auto\"` chooses a layer's type from its range; `default` and `input` need a type",
        ));
    }
    (default, input, range)
}

/// An error for each `#[fixed]` layer name that is not a layer of the network.
fn check_names(net: &Network, attr: &FixedAttr, folded: &[String], errors: &mut Vec<syn::Error>) {
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
}

/// Layer `l`'s step from its settings `s`, and whether its kind has no fixed-point form.
fn step(i: usize, l: &Layer, mut s: Settings, d: &Defaults) -> (Step, bool) {
    let (default, table, softmax_table) = (d.default, d.table, d.softmax_table);
    let mut unsupported = false;
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
        LayerKind::Activation(
            act @ (Activation::Tanh
            | Activation::Softplus
            | Activation::ELU { .. }
            | Activation::SELU),
        ) => {
            let (kind, alpha) = match act {
                Activation::Tanh => (TableKind::Tanh, 0.0),
                Activation::Softplus => (TableKind::Softplus, 0.0),
                Activation::ELU { alpha } => (TableKind::Elu, *alpha),
                _ => (TableKind::Selu, 0.0),
            };
            let out = s.spec("result", default);
            let t = s.spec("table", table);
            let size = s.size("table_size", 1024);
            let param = if kind == TableKind::Elu {
                let p = s.spec("param", default);
                s.finish("`result`, `table`, `table_size` and `param` (alpha's type)");
                p
            } else {
                s.finish("`result`, `table` and `table_size`");
                default
            };
            Step::Table {
                kind,
                table: t,
                size,
                out,
                alpha,
                param,
            }
        }
        LayerKind::Activation(Activation::LeakyReLU { slope }) => {
            let out = s.spec("result", default);
            let param = s.spec("param", default);
            s.finish("`result` and `param` (the slope's type)");
            Step::LeakyRelu {
                alpha: *slope,
                param,
                out,
            }
        }
        LayerKind::PReLU(_) => {
            let out = s.spec("result", default);
            let param = s.spec("param", default);
            s.finish("`result` and `param` (the slopes' type)");
            Step::Prelu { param, out }
        }
        LayerKind::BatchNorm(_) => {
            let scale = s.spec("scale", default);
            let bias = s.spec("bias", default);
            let out = s.spec("result", default);
            s.finish("`scale`, `bias` and `result`");
            Step::BatchNorm { scale, bias, out }
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
            unsupported = true;
            Step::Same
        }
    };
    (step, unsupported)
}
