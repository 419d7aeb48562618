//! The fixed-point twin's steps for Dense layers, convolutions, pooling, ReLU, Sigmoid,
//! Softmax and the layers that pass their values on: the code of each step, the twin's fields
//! and their construction in `to_fixed`, and the summary line (`nn::fixed_point::ops`, `fast`
//! and `tables`, bit-exact with hls4ml 1.3). The other activations and batch norm are in
//! `fixed_acts`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::fixed_acts::{self, Pieces};
use super::fixed_plan::Step;
use super::fixed_tokens::spec_tokens;
use crate::layers::window::Window;
use crate::layers::{Layer, LayerKind};
use crate::model::Network;
use crate::paths;
use crate::shape::Shape;
use nn_fixed::Spec;

/// `step` of `layer` from `x` to `y` (`len` values), its input of type `input`, its output of
/// type `out_spec`.
///
/// `narrow`: the output is held in `i16` (only where [`holds_i16`] says it may be; the input
/// may be either where [`takes_i16`] says so, else it is `i64`).
pub fn step(
    step: &Step,
    net: &Network,
    layer: &Layer,
    (x, y, len): (&Ident, &Ident, usize),
    input: (Spec, TokenStream),
    (out_spec, narrow): (Spec, bool),
) -> Pieces {
    let fp = paths::fixed_point();
    let in_spec = input.1.clone();
    let out_tokens = spec_tokens(out_spec);
    let lname = layer.name.to_string();
    let mut pieces: Pieces = (TokenStream::new(), Vec::new(), Vec::new(), String::new());
    let elem = if narrow { quote!(i16) } else { quote!(i64) };
    let at = At {
        net,
        layer,
        x,
        y,
        len,
        input: &input,
        out_tokens: &out_tokens,
        elem: &elem,
    };
    match step {
        Step::Dense { l, p } | Step::Conv { l, p, .. } => {
            dense_or_conv(at, &mut pieces, step, *l, p)
        }
        Step::Pool { l, avg, p } => pool(at, &mut pieces, *l, *avg, p),
        Step::Relu { out } => {
            pieces.0.extend(quote! {
                let mut #y: [#elem; #len] = [0; #len];
                {
                    const I: #fp::Spec = #in_spec;
                    const O: #fp::Spec = #out_tokens;
                    #fp::fast::relu(&#x, I, O, &mut #y);
                }
            });
            pieces.3.push_str(&format!("  {lname}: result {out}\n"));
        }
        Step::Sigmoid { table, size, out } => {
            let f = format_ident!("{}_table", layer.name);
            pieces
                .1
                .push((f.clone(), quote!(#fp::tables::SigmoidTable<#size>)));
            let t = spec_tokens(*table);
            pieces
                .2
                .push(quote!(let #f = #fp::tables::SigmoidTable::new(#t);));
            pieces.0.extend(quote! {
                let mut #y = [0i64; #len];
                #fp::tables::sigmoid(&#x, #in_spec, &self.#f, #out_tokens, &mut #y);
            });
            pieces.3.push_str(&format!(
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
        } => softmax(
            at,
            &mut pieces,
            (*out, *exp_table, *inv_table, *accum, *inv_inp),
            *size,
            *stable,
        ),
        Step::Same => {
            pieces.0.extend(quote!(let #y = #x;));
            pieces.3.push_str(&format!("  {lname}: (same values)\n"));
        }
        other => return fixed_acts::step(other, layer, (x, y, len), input.1),
    }
    pieces
}

/// Whether `step` is a Dense layer with a vector path (`nn_fixed::fast`) for input type `x`.
fn is_fast_dense(step: &Step, x: Spec) -> bool {
    let Step::Dense { p, .. } = step else {
        return false;
    };
    let prec = nn_fixed::ops::DensePrecision {
        weight: p[0],
        bias: p[1],
        accum: p[2],
        result: p[3],
    };
    nn_fixed::fast::DensePath::of(x, &prec) != nn_fixed::fast::DensePath::Scalar
}

/// Whether `step` (input type `x`) takes its input held in `i16` as well as in `i64`: a Dense
/// layer with a vector path, a ReLU, a layer that passes its values on.
pub fn takes_i16(step: &Step, x: Spec) -> bool {
    matches!(step, Step::Relu { .. } | Step::Same) || is_fast_dense(step, x)
}

/// Whether `step` (input type `x`, output type `out`) may hold its output in `i16`: one that
/// [`takes_i16`] (the values between the fast layers of an MLP stay 16-bit), with an output
/// type that fits.
pub fn holds_i16(step: &Step, x: Spec, out: Spec) -> bool {
    !matches!(step, Step::Same) && takes_i16(step, x) && nn_fixed::fast::fits_i16(out)
}

/// A Dense layer or convolution: its weights and biases, packed for a fast path where its types have one.
fn dense_or_conv(at: At<'_>, pieces: &mut Pieces, step: &Step, l: usize, p: &[Spec; 4]) {
    let At {
        net,
        layer,
        x,
        y,
        len,
        input,
        out_tokens: _,
        elem,
    } = at;
    let fp = paths::fixed_point();
    let in_spec = &input.1;
    let lname = layer.name.to_string();
    let (code, fields, inits, line) = pieces;
    let lay = &net.layers[l];
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
    // A Dense layer whose types have a vector path keeps its weights packed for it
    // too (`nn_fixed::fast`; the same bits as `ops::dense`).
    let pf = format_ident!("{}_packed", lay.name);
    let fast_dense = is_fast_dense(step, input.0);
    if fast_dense {
        let n_in = lay.input.len() as usize;
        let pad = nn_fixed::fast::padded_outputs(n_b);
        let nw = nn_fixed::fast::packed_len(n_in, n_b);
        fields.push((pf.clone(), quote!(#fp::fast::PackedDense<#n_in, #pad, #nw>)));
        inits.push(quote! {
            let #pf = {
                const P: #fp::ops::DensePrecision = #prec;
                #fp::fast::PackedDense::new(&#wf, &#bf, #in_spec, &P)
                    .expect("the layer's types have a fast path")
            };
        });
    }
    let call = match (step, lay.kind) {
        (Step::Conv { rank, .. }, LayerKind::Conv(c)) => {
            let g = geometry(lay.input, &c.win);
            let f = if *rank == 2 {
                quote!(conv2d)
            } else {
                quote!(conv1d)
            };
            quote!(#fp::ops::#f(&#x, #in_spec, #g, &self.#wf, &self.#bf, &P, &mut #y))
        }
        // SAFETY: `__isa` is the instruction set of the copy the steps are inlined into, which
        // runs only on a CPU that has it.
        _ if fast_dense => quote!(unsafe { self.#pf.forward_on(__isa, &#x, X, &P, &mut #y) }),
        _ => quote!(#fp::ops::dense(&#x, #in_spec, &self.#wf, &self.#bf, &P, &mut #y)),
    };
    // The input's type as a constant too, so that the fast path's choices fold.
    let x_const = if fast_dense {
        quote!(const X: #fp::Spec = #in_spec;)
    } else {
        quote!()
    };
    code.extend(quote! {
        let mut #y: [#elem; #len] = [0; #len];
        {
            const P: #fp::ops::DensePrecision = #prec;
            #x_const
            #call;
        }
    });
    line.push_str(&format!(
        "  {lname}: weight {}, bias {}, accum {}, result {}\n",
        p[0], p[1], p[2], p[3]
    ));
}

/// A pooling layer.
fn pool(at: At<'_>, pieces: &mut Pieces, l: usize, avg: Option<bool>, p: &[Spec; 2]) {
    let At {
        net,
        layer,
        x,
        y,
        len,
        input,
        out_tokens: _,
        elem: _,
    } = at;
    let fp = paths::fixed_point();
    let in_spec = &input.1;
    let lname = layer.name.to_string();
    let (code, _, _, line) = pieces;
    let lay = &net.layers[l];
    let LayerKind::Pool(pool) = lay.kind else {
        return;
    };
    let (a, r) = (spec_tokens(p[0]), spec_tokens(p[1]));
    let prec = quote!(#fp::ops::PoolPrecision { accum: #a, result: #r });
    let win = pool.win;
    let geometry = geometry(lay.input, &win);
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
    code.extend(quote! {
        let mut #y = [0i64; #len];
        {
            const P: #fp::ops::PoolPrecision = #prec;
            #call;
        }
    });
    line.push_str(&format!("  {lname}: accum {}, result {}\n", p[0], p[1]));
}

/// A softmax: its tables, built in `to_fixed` as hls4ml builds them.
fn softmax(
    at: At<'_>,
    pieces: &mut Pieces,
    (out, exp_table, inv_table, accum, inv_inp): (Spec, Spec, Spec, Spec, Spec),
    size: usize,
    stable: bool,
) {
    let At {
        net: _,
        layer,
        x,
        y,
        len,
        input,
        out_tokens,
        elem: _,
    } = at;
    let fp = paths::fixed_point();
    let in_spec = &input.1;
    let lname = layer.name.to_string();
    let (code, fields, inits, line) = pieces;
    let f = format_ident!("{}_tables", layer.name);
    let input = input.0;
    let e = if stable {
        nn_fixed::tables::SoftmaxPrecision::hls4ml_stable_exp_table_size(input, size)
    } else {
        size
    };
    fields.push((f.clone(), quote!(#fp::tables::SoftmaxTables<#e, #size>)));
    let (et, it, ac, ii) = (
        spec_tokens(exp_table),
        spec_tokens(inv_table),
        spec_tokens(accum),
        spec_tokens(inv_inp),
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
    let (build, run) = if stable {
        (quote!(stable), quote!(softmax_stable))
    } else {
        (quote!(latency), quote!(softmax_latency))
    };
    inits.push(quote!(let #f = #fp::tables::SoftmaxTables::#build(&#prec);));
    code.extend(quote! {
        let mut #y = [0i64; #len];
        {
            const SP: #fp::tables::SoftmaxPrecision = #prec;
            #fp::fast::#run(&#x, &SP, &self.#f, &mut #y);
        }
    });
    line.push_str(&format!(
        "  {lname}: result {out}, exp_table {exp_table} x {e}, inv_table {inv_table} x {size}, accum {accum}, inv_inp {inv_inp}, {}\n",
        if stable { "stable" } else { "latency" }
    ));
}

/// Where a step is: the network, the layer, its input and output variables and length, its
/// input's type, its output's type as tokens.
#[derive(Clone, Copy)]
struct At<'a> {
    net: &'a Network,
    layer: &'a Layer,
    x: &'a Ident,
    y: &'a Ident,
    len: usize,
    input: &'a (Spec, TokenStream),
    out_tokens: &'a TokenStream,
    /// The output's holder, `i16` or `i64`.
    elem: &'a TokenStream,
}

/// A window's geometry over `input` as a constant `Window2d` or `Window1d`.
fn geometry(input: Shape, win: &Window) -> TokenStream {
    let fp = paths::fixed_point();
    let (ci, h, w) = dims(input);
    let [pt, pb, pl, pr] = win.pad.map(|v| v as usize);
    let (kh, kw, sh, sw) = (
        win.kh as usize,
        win.kw as usize,
        win.sh as usize,
        win.sw as usize,
    );
    if win.rank == 2 {
        quote!(#fp::ops::Window2d::new((#ci, #h, #w), (#kh, #kw), (#sh, #sw), (#pt, #pb, #pl, #pr)))
    } else {
        quote!(#fp::ops::Window1d::new((#ci, #w), #kw, #sw, (#pl, #pr)))
    }
}

/// `(channels, height, width)` of a shape (`(1, 1, n)` for a vector, `(c, 1, l)` for a signal).
fn dims(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::D1(n) => (1, 1, n as usize),
        Shape::D2(c, l) => (c as usize, 1, l as usize),
        Shape::D3(c, h, w) => (c as usize, h as usize, w as usize),
    }
}

/// A layer's number of biases (none for a convolution without bias).
fn bias_len(l: &Layer) -> usize {
    match l.kind {
        LayerKind::Conv(c) if !c.bias => 0,
        _ => l.output.channels() as usize,
    }
}
