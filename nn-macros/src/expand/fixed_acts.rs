//! The fixed-point twin's steps for the activations hls4ml computes from tables or parameters
//! (Tanh, Softplus, ELU, SELU, LeakyReLU, PReLU) and for a batch norm that could not be folded:
//! the code of the step, the twin's fields and their construction in `to_fixed`, and the
//! summary line (`nn::fixed_point::activations`, bit-exact with hls4ml 1.3).

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::fixed_plan::{Step, TableKind};
use super::fixed_tokens::{spec_tokens, value_tokens};
use crate::layers::Layer;
use crate::paths;

/// The generated pieces of one step: its code, the fields it adds, their construction, and
/// its summary line.
pub type Pieces = (
    TokenStream,
    Vec<(Ident, TokenStream)>,
    Vec<TokenStream>,
    String,
);

/// `step` of layer `l` from `x` to `y` (`len` values), its input of type `input`.
pub fn step(
    step: &Step,
    l: &Layer,
    (x, y, len): (&Ident, &Ident, usize),
    input: TokenStream,
) -> Pieces {
    let fp = paths::fixed_point();
    let in_tokens = input;
    let name = l.name.to_string();
    match step {
        Step::Table {
            kind,
            table,
            size,
            out,
            alpha,
            param,
        } => {
            let f = format_ident!("{}_table", l.name);
            let (ty, func) = match kind {
                TableKind::Tanh => (quote!(TanhTable), quote!(tanh)),
                TableKind::Softplus => (quote!(SoftplusTable), quote!(softplus)),
                TableKind::Elu => (quote!(EluTable), quote!(elu)),
                TableKind::Selu => (quote!(SeluTable), quote!(selu)),
            };
            let (t, o) = (spec_tokens(*table), spec_tokens(*out));
            let call = if *kind == TableKind::Elu {
                let a = value_tokens(*alpha, *param);
                quote!(#fp::activations::elu(&#x, #in_tokens, #a, &self.#f, #o, &mut #y))
            } else {
                quote!(#fp::activations::#func(&#x, #in_tokens, &self.#f, #o, &mut #y))
            };
            let code = quote! {
                let mut #y = [0i64; #len];
                #call;
            };
            let line = match kind {
                TableKind::Elu => format!(
                    "  {name}: result {out}, table {table} x {size}, alpha {alpha} as {param}\n"
                ),
                _ => format!("  {name}: result {out}, table {table} x {size}\n"),
            };
            (
                code,
                vec![(f.clone(), quote!(#fp::activations::#ty<#size>))],
                vec![quote!(let #f = #fp::activations::#ty::new(#t);)],
                line,
            )
        }
        Step::LeakyRelu { alpha, param, out } => {
            let (a, o) = (value_tokens(*alpha, *param), spec_tokens(*out));
            let code = quote! {
                let mut #y = [0i64; #len];
                #fp::activations::leaky_relu(&#x, #in_tokens, #a, #o, &mut #y);
            };
            (
                code,
                vec![],
                vec![],
                format!("  {name}: result {out}, slope {alpha} as {param}\n"),
            )
        }
        Step::Prelu { param, out, .. } => {
            let f = format_ident!("{}_alpha", l.name);
            let (p, o) = (spec_tokens(*param), spec_tokens(*out));
            let key = format!("{name}.weight");
            let code = quote! {
                let mut #y = [0i64; #len];
                #fp::activations::prelu(&#x, #in_tokens, &self.#f, #p, #o, &mut #y);
            };
            // One slope per input value (hls4ml's layout): a layer slope, or one per channel.
            let init = quote! {
                let #f = {
                    let slopes = tensor(#key);
                    let mut a = [0i64; #len];
                    let per = #len / slopes.len().max(1);
                    for (k, r) in a.iter_mut().enumerate() {
                        let s = slopes.get(k / per.max(1)).copied().unwrap_or(0.0);
                        *r = #fp::ops::hls4ml_weight(s, #p);
                    }
                    a
                };
            };
            (
                code,
                vec![(f, quote!([i64; #len]))],
                vec![init],
                format!("  {name}: result {out}, slopes as {param}\n"),
            )
        }
        Step::BatchNorm {
            scale, bias, out, ..
        } => {
            let (fs, fb) = (
                format_ident!("{}_scale", l.name),
                format_ident!("{}_bias", l.name),
            );
            let c = l.input.channels() as usize;
            let (s, b, o) = (spec_tokens(*scale), spec_tokens(*bias), spec_tokens(*out));
            let t = |suffix: &str| format!("{name}.{suffix}");
            let (g, be, m, v) = (t("weight"), t("bias"), t("running_mean"), t("running_var"));
            let code = quote! {
                let mut #y = [0i64; #len];
                #fp::activations::batch_norm(
                    &#x,
                    #in_tokens,
                    &self.#fs,
                    &self.#fb,
                    &#fp::activations::BatchNormPrecision { scale: #s, bias: #b, result: #o },
                    &mut #y,
                );
            };
            // hls4ml's scale and bias, computed in f32 as its converter computes them in NumPy
            // float32: scale = gamma / sqrt(var + eps), bias = beta - scale * mean.
            let init = quote! {
                let (#fs, #fb) = {
                    let (g, b, m, v) = (tensor(#g), tensor(#be), tensor(#m), tensor(#v));
                    let mut scale = [0i64; #c];
                    let mut bias = [0i64; #c];
                    for k in 0..#c {
                        let at = |t: &[f32]| t.get(k).copied().unwrap_or(0.0);
                        let sc = at(&g) / (at(&v) + 1e-5f32).sqrt();
                        let bi = at(&b) - sc * at(&m);
                        scale[k] = #fp::ops::hls4ml_weight(sc, #s);
                        bias[k] = #fp::ops::hls4ml_weight(bi, #b);
                    }
                    (scale, bias)
                };
            };
            (
                code,
                vec![(fs, quote!([i64; #c])), (fb, quote!([i64; #c]))],
                vec![init],
                format!("  {name}: scale {scale}, bias {bias}, result {out}\n"),
            )
        }
        _ => (quote!(), vec![], vec![], String::new()),
    }
}
