//! Overflow ruled out at compile time: with the weights known during compilation
//! (`#[weights]` or `#[onnx]`) and the inputs' range declared (`input_range = (lo, hi)`), every
//! value of the fixed-point twin is bounded by interval arithmetic, layer by layer, on the
//! quantized weights: a sum or result whose type wraps around (`AP_WRAP`) and cannot hold its
//! range is an error at the layer, with the numbers and the fix; a type written `"auto"` gets
//! the fewest integer bits that hold its range (the default's fractional bits kept).
//!
//! The bounds are sound, not tight: each element's interval is propagated independently (the
//! correlation between elements is dropped), and every product truncated into the accumulator
//! may lose up to one of its units. A wrap-around accumulator only needs its final sum in range
//! (the sum is exact modulo 2^W); a saturating one cannot wrap.

use proc_macro2::Span;

use nn_fixed::{Fixed, Overflow, Spec};

use super::fixed_plan::{Plan, Step};
use super::quant_plan::chw;
use crate::layers::window::Window;
use crate::layers::{Layer, LayerKind};
use crate::model::{Network, OpKind};
use crate::shape::Shape;

/// An interval of real values.
type Iv = (f64, f64);

/// The smallest and largest value of `s`.
fn bounds(s: Spec) -> Iv {
    (
        s.to_f64(Fixed::from_raw(s.min_raw())),
        s.to_f64(Fixed::from_raw(s.max_raw())),
    )
}

/// `like` with the fewest integer bits whose range holds `iv` (its fractional bits, sign,
/// quantization and overflow kept).
fn fit(iv: Iv, like: Spec) -> Option<Spec> {
    let f = like.frac_bits();
    (-32i16..=64).find_map(|i| {
        let w = i32::from(i) + f;
        if !(1..=62).contains(&w) {
            return None;
        }
        let s = Spec::try_new(w as u8, i, like.is_signed(), like.quant(), like.overflow()).ok()?;
        let (lo, hi) = bounds(s);
        (lo <= iv.0 && iv.1 <= hi).then_some(s)
    })
}

/// The smallest interval holding every interval of `ivs` (empty: `(MAX, MIN)`).
fn hull(ivs: &[Iv]) -> Iv {
    ivs.iter()
        .fold((f64::MAX, f64::MIN), |a, s| (a.0.min(s.0), a.1.max(s.1)))
}

/// `x` converted into `s` (floor-like quantization may lose up to one unit), clamped where
/// `s` saturates.
fn cast(iv: Iv, s: Spec) -> Iv {
    let ulp = s.ulp();
    let (lo, hi) = bounds(s);
    let iv = (iv.0 - ulp, iv.1 + ulp);
    if s.overflow() == Overflow::Wrap {
        iv
    } else {
        (iv.0.max(lo), iv.1.min(hi))
    }
}

/// What the analysis found for the summary: per step, the range of its accumulator (if it has
/// one) and of its output.
pub struct Ranges {
    pub accum: Vec<Option<Iv>>,
    pub output: Vec<Iv>,
}

struct Ctx<'a> {
    net: &'a Network,
    known: &'a [(String, Vec<f32>)],
    range: Iv,
    errors: Vec<syn::Error>,
}

impl Ctx<'_> {
    fn tensor(&self, name: &str) -> Option<&[f32]> {
        self.known
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// An error if `s` wraps and cannot hold `iv`.
    fn check(&mut self, l: &Layer, what: &str, iv: Iv, s: Spec) {
        let (lo, hi) = bounds(s);
        if s.overflow() != Overflow::Wrap || (lo <= iv.0 && iv.1 <= hi) {
            return;
        }
        let reach = if iv.1 > hi { iv.1 } else { iv.0 };
        let limit = if iv.1 > hi {
            format!("holds up to {}", short(hi))
        } else {
            format!("holds down to {}", short(lo))
        };
        let need = fit(iv, s).map_or(String::new(), |f| {
            format!("use at least {} integer bits (`{f}`) or ", f.int_bits())
        });
        let (a, b) = self.range;
        self.errors.push(syn::Error::new(
            l.span,
            format!(
                "layer `{}`: its {what} reach {} for inputs in [{}, {}]; {s} {limit} and wraps around; {need}saturate (`AP_SAT`)",
                l.name,
                short(reach),
                short(a),
                short(b)
            ),
        ));
    }
}

/// `v` with at most 3 decimals: `71.3`, `31.999`.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The quantized weights of layer `l` (`[out][in..]` as in PyTorch) and its biases.
fn quantized(cx: &Ctx, l: &Layer, weight: Spec, bias: Spec) -> (Vec<f64>, Vec<f64>) {
    let q = |t: Option<&[f32]>, s: Spec| -> Vec<f64> {
        t.unwrap_or_default()
            .iter()
            .map(|&w| s.to_f64(Fixed::from_raw(nn_fixed::ops::hls4ml_weight(w, s))))
            .collect()
    };
    let w = q(cx.tensor(&format!("{}.weight", l.name)), weight);
    let mut b = q(cx.tensor(&format!("{}.bias", l.name)), bias);
    b.resize(l.output.channels() as usize, 0.0);
    (w, b)
}

/// A window layer's geometry, a signal as an image of height 1: input `(c, h, w)`, output
/// `(oh, ow)`, kernel, stride and top/left padding.
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: (usize, usize),
    s: (usize, usize),
    pad: (usize, usize),
}

impl Geometry {
    fn of(win: &Window, input: Shape, output: Shape) -> Geometry {
        let (c, h, w) = chw(input);
        let (_, oh, ow) = chw(output);
        let two = win.rank == 2;
        let rows = |v: u64| if two { v as usize } else { 1 };
        Geometry {
            c,
            h,
            w,
            oh,
            ow,
            k: (rows(win.kh), win.kw as usize),
            s: (rows(win.sh), win.sw as usize),
            pad: (
                if two { win.pad[0] as usize } else { 0 },
                win.pad[2] as usize,
            ),
        }
    }

    /// The taps of output `(oy, ox)` inside the input, `(a, b, y, x)`: kernel row and column,
    /// input row and column (taps in the padding are left out).
    fn taps(
        &self,
        oy: usize,
        ox: usize,
    ) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        (0..self.k.0)
            .flat_map(move |a| (0..self.k.1).map(move |b| (a, b)))
            .filter_map(move |(a, b)| {
                let y = (oy * self.s.0 + a).wrapping_sub(self.pad.0);
                let x = (ox * self.s.1 + b).wrapping_sub(self.pad.1);
                (y < self.h && x < self.w).then_some((a, b, y, x))
            })
    }
}

/// For every output of a Dense or convolution layer, its bias index and its taps (weight
/// index, input index; padded taps are left out: they add 0).
fn taps(l: &Layer) -> Vec<(usize, Vec<(usize, usize)>)> {
    let LayerKind::Conv(c) = &l.kind else {
        let (n_in, n_out) = (l.input.len() as usize, l.output.len() as usize);
        return (0..n_out)
            .map(|o| (o, (0..n_in).map(|i| (o * n_in + i, i)).collect()))
            .collect();
    };
    let g = Geometry::of(&c.win, l.input, l.output);
    let (kh, kw) = g.k;
    let mut out = Vec::new();
    for o in 0..l.output.channels() as usize {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut t = Vec::new();
                for c_ in 0..g.c {
                    for (a, b, y, x) in g.taps(oy, ox) {
                        t.push((((o * g.c + c_) * kh + a) * kw + b, (c_ * g.h + y) * g.w + x));
                    }
                }
                out.push((o, t));
            }
        }
    }
    out
}

/// For every output of a pooling layer, the input cells of its window.
fn windows(l: &Layer) -> Vec<Vec<usize>> {
    let LayerKind::Pool(p) = &l.kind else {
        return vec![];
    };
    let g = Geometry::of(&p.win, l.input, l.output);
    let mut out = Vec::new();
    for ch in 0..g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                out.push(
                    g.taps(oy, ox)
                        .map(|(_, _, y, x)| (ch * g.h + y) * g.w + x)
                        .collect(),
                );
            }
        }
    }
    out
}

/// Bounds every value, checks every wrap-around type, resolves `"auto"` types; the errors at
/// the layers (or at the attribute when the weights or the range are missing).
pub fn analyze(
    net: &Network,
    plan: &mut Plan,
    known: Option<&[(String, Vec<f32>)]>,
    attr_span: Span,
) -> Result<Ranges, syn::Error> {
    let Some(known) = known else {
        let at = plan.range.map_or(attr_span, |(_, s)| s);
        return Err(syn::Error::new(
            at,
            "bounding the fixed-point values (`input_range`, `\"auto\"` types) needs the weights during compilation: add `#[weights = \"file.safetensors\"]` (or declare the network with `#[onnx]`)",
        ));
    };
    let Some((range, _)) = plan.range else {
        return Err(syn::Error::new(
            attr_span,
            "an `\"auto\"` type is chosen from the values' range: declare the inputs' range, `input_range = (-4.0, 4.0)`",
        ));
    };
    let mut cx = Ctx {
        net,
        known,
        range,
        errors: Vec::new(),
    };
    let input = plan.input;
    let mut values: Vec<Vec<Iv>> = vec![Vec::new(); net.tensors.len()];
    values[0] = vec![cast(range, input); net.input.len() as usize];
    let mut specs = vec![input; net.tensors.len()];
    if input.overflow() == Overflow::Wrap {
        let (lo, hi) = bounds(input);
        if range.0 < lo || range.1 > hi {
            cx.errors.push(syn::Error::new(
                plan.range.map_or(attr_span, |(_, s)| s),
                format!(
                    "inputs in [{}, {}] do not fit the input type {input} (from {} to {}), which wraps around; widen it (`input = \"..\"`) or saturate",
                    short(range.0),
                    short(range.1),
                    short(lo),
                    short(hi)
                ),
            ));
        }
    }
    let mut out = Ranges {
        accum: Vec::new(),
        output: Vec::new(),
    };
    for (k, op) in net.ops.iter().enumerate() {
        let x = values[op.inputs[0]].clone();
        let autos: Vec<&str> = plan
            .autos
            .iter()
            .filter(|(s, _)| *s == k)
            .map(|(_, key)| *key)
            .collect();
        let OpKind::Layer(li) = op.kind else {
            specs[op.output] = specs[op.inputs[0]];
            values[op.output] = x;
            out.accum.push(None);
            out.output.push((0.0, 0.0));
            continue;
        };
        let l = &net.layers[li];
        let (step, out_spec) = &mut plan.steps[k];
        let mut accum_range = None;
        let y: Vec<Iv> = match step {
            Step::Dense { p, .. } | Step::Conv { p, .. } => {
                let (y, acc) = dense_like(&mut cx, l, p, &autos, &x, out_spec);
                accum_range = Some(acc);
                y
            }
            Step::Relu { out } => {
                let r: Vec<Iv> = x.iter().map(|v| (v.0.max(0.0), v.1.max(0.0))).collect();
                let all = hull(&r);
                if autos.contains(&"result") {
                    *out = fit(all, *out).unwrap_or(*out);
                }
                cx.check(l, "results", all, *out);
                *out_spec = *out;
                r.into_iter().map(|v| cast(v, *out)).collect()
            }
            Step::Pool { avg, p, .. } => pool(&mut cx, l, *avg, p, &autos, &x, out_spec),
            Step::Sigmoid { out, .. } => {
                cx.check(l, "results", (0.0, 1.0), *out);
                vec![(0.0, 1.0); x.len()]
            }
            // hls4ml's softmax tables can give values above 1 (and its sums saturate): its
            // output is bounded by its types, not checked here.
            Step::Softmax { out, .. } => vec![bounds(*out); x.len()],
            Step::Same => {
                *out_spec = specs[op.inputs[0]];
                x
            }
            // The other activations and batch norm: their outputs bounded by their types (not
            // checked: they saturate or stay within their tables in hls4ml's arithmetic).
            Step::Table { out, .. }
            | Step::LeakyRelu { out, .. }
            | Step::Prelu { out, .. }
            | Step::BatchNorm { out, .. } => vec![bounds(*out); x.len()],
        };
        specs[op.output] = *out_spec;
        let all = hull(&y);
        out.accum.push(accum_range);
        out.output.push(all);
        values[op.output] = y;
    }
    let _ = cx.net;
    match cx.errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A Dense layer's or convolution's sums and results; `"auto"` types chosen, wrap-arounds
/// checked. Returns the results' intervals and the sums' range.
fn dense_like(
    cx: &mut Ctx,
    l: &Layer,
    p: &mut [Spec; 4],
    autos: &[&str],
    x: &[Iv],
    out_spec: &mut Spec,
) -> (Vec<Iv>, Iv) {
    if autos.contains(&"weight") || autos.contains(&"bias") {
        let w = cx.tensor(&format!("{}.weight", l.name)).unwrap_or_default();
        let b = cx.tensor(&format!("{}.bias", l.name)).unwrap_or_default();
        let span = |t: &[f32]| {
            t.iter()
                .fold((0f64, 0f64), |a, &v| (a.0.min(v as f64), a.1.max(v as f64)))
        };
        if autos.contains(&"weight") {
            p[0] = fit(span(w), p[0]).unwrap_or(p[0]);
        }
        if autos.contains(&"bias") {
            p[1] = fit(span(b), p[1]).unwrap_or(p[1]);
        }
    }
    let (w, b) = quantized(cx, l, p[0], p[1]);
    let mut sums = Vec::new();
    for (o, t) in taps(l) {
        let mut s = (b[o], b[o]);
        for (wi, xi) in t {
            let (wv, iv) = (w.get(wi).copied().unwrap_or(0.0), x[xi]);
            let (a, c) = (wv * iv.0, wv * iv.1);
            s = (s.0 + a.min(c), s.1 + a.max(c));
        }
        // Each product truncated into the accumulator loses less than one unit.
        let n = l.input.len() as f64;
        sums.push((s.0 - n * p[2].ulp(), s.1 + n * p[2].ulp()));
    }
    let all = hull(&sums);
    if autos.contains(&"accum") {
        p[2] = fit(all, p[2]).unwrap_or(p[2]);
    }
    cx.check(l, "sums", all, p[2]);
    let accum_range = all;
    let sums: Vec<Iv> = sums.into_iter().map(|s| cast(s, p[2])).collect();
    let res_all = hull(&sums);
    if autos.contains(&"result") {
        p[3] = fit(res_all, p[3]).unwrap_or(p[3]);
    }
    cx.check(l, "results", res_all, p[3]);
    *out_spec = p[3];
    (
        sums.into_iter().map(|s| cast(s, p[3])).collect(),
        accum_range,
    )
}

/// A pooling layer's results (and an average's sums); `"auto"` types chosen, wrap-arounds
/// checked.
fn pool(
    cx: &mut Ctx,
    l: &Layer,
    avg: Option<bool>,
    p: &mut [Spec; 2],
    autos: &[&str],
    x: &[Iv],
    out_spec: &mut Spec,
) -> Vec<Iv> {
    let wins = windows(l);
    let r: Vec<Iv> = wins
        .iter()
        .map(|cells| {
            let lo = cells.iter().map(|&c| x[c].0);
            let hi = cells.iter().map(|&c| x[c].1);
            match avg {
                None => (lo.fold(f64::MIN, f64::max), hi.fold(f64::MIN, f64::max)),
                Some(_) => (lo.sum::<f64>(), hi.sum::<f64>()),
            }
        })
        .collect();
    let all = hull(&r);
    if autos.contains(&"accum") {
        p[0] = fit(all, p[0]).unwrap_or(p[0]);
    }
    cx.check(l, "sums", all, p[0]);
    let r: Vec<Iv> = r
        .into_iter()
        .zip(&wins)
        .map(|(v, cells)| match avg {
            Some(_) => {
                let n = cells.len().max(1) as f64;
                (v.0 / n, v.1 / n)
            }
            None => v,
        })
        .collect();
    let res = hull(&r);
    if autos.contains(&"result") {
        p[1] = fit(res, p[1]).unwrap_or(p[1]);
    }
    cx.check(l, "results", res, p[1]);
    *out_spec = p[1];
    r.into_iter().map(|v| cast(v, p[1])).collect()
}
