//! `#[fixed(...)]`: the fixed-point twin's precisions, as hls4ml's configuration gives them.
//!
//! ```text
//! #[fixed(
//!     default = "ap_fixed<16,6>",                     // every type not given (hls4ml's Model precision)
//!     input = "ap_fixed<16,6,AP_RND,AP_SAT>",         // the input's type (hls4ml's input layer result)
//!     fc1(weight = "ap_fixed<12,3,AP_RND>", accum = "ap_fixed<24,10>", result = "ap_fixed<16,6,AP_RND,AP_SAT>"),
//!     relu_2(result = "ap_ufixed<12,4,AP_RND,AP_SAT>"),
//!     softmax_9(exp_table = "ap_fixed<18,8,AP_RND,AP_SAT>", table_size = 1024, implementation = latency),
//!     input_range = (-4.0, 4.0),                      // with #[weights]: overflow ruled out at compile time
//! )]
//! ```
//!
//! Layers are named as in the network (automatic names included); the keys are hls4ml's
//! precision names without `_t` (`weight`, `bias`, `accum`, `result`, `table`, `exp_table`,
//! `inv_table`, `inv_inp`) plus `table_size` and `implementation`. Types are C++ spellings
//! (`ap_fixed<W,I>`, `ap_fixed<W,I,Q,O>`, `ap_ufixed<..>`) or hls4ml's (`fixed<W,I,RND,SAT>`).

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitInt, LitStr, Token};

/// One `key = value` of the attribute.
pub enum Setting {
    /// `key = "type"`.
    Type(Ident, LitStr),
    /// `key = 1024`.
    Int(Ident, LitInt),
    /// `key = word` (`implementation = stable`).
    Word(Ident, Ident),
    /// `key = (lo, hi)` (`input_range = (-4.0, 4.0)`).
    Range(Ident, (f64, f64)),
}

impl Setting {
    pub fn key(&self) -> &Ident {
        match self {
            Setting::Type(k, _)
            | Setting::Int(k, _)
            | Setting::Word(k, _)
            | Setting::Range(k, _) => k,
        }
    }
}

/// `layer(key = value, ..)`.
pub struct LayerSettings {
    pub layer: Ident,
    pub settings: Vec<Setting>,
}

/// The whole attribute.
pub struct FixedAttr {
    /// The attribute, where errors about it as a whole go.
    pub span: Span,
    /// `default = ".."`, `input = ".."`.
    pub globals: Vec<Setting>,
    pub layers: Vec<LayerSettings>,
}

enum Item {
    Global(Setting),
    Layer(LayerSettings),
}

impl Parse for Setting {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        if input.peek(LitStr) {
            Ok(Setting::Type(key, input.parse()?))
        } else if input.peek(LitInt) {
            Ok(Setting::Int(key, input.parse()?))
        } else if input.peek(Ident) {
            Ok(Setting::Word(key, input.parse()?))
        } else if input.peek(syn::token::Paren) {
            let body;
            syn::parenthesized!(body in input);
            let lo = number(&body)?;
            body.parse::<Token![,]>()?;
            let hi = number(&body)?;
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "`{key} = (lo, hi)` needs finite numbers with lo <= hi; found ({lo}, {hi})"
                    ),
                ));
            }
            Ok(Setting::Range(key, (lo, hi)))
        } else {
            Err(input.error(format!(
                "`{key} = ..` takes a type as a string (`\"ap_fixed<16,6>\"`), a number or a word"
            )))
        }
    }
}

/// A number, possibly negative: `-4`, `4.5`.
fn number(input: ParseStream) -> syn::Result<f64> {
    let neg = input.parse::<Option<Token![-]>>()?.is_some();
    let v = if input.peek(syn::LitFloat) {
        input.parse::<syn::LitFloat>()?.base10_parse::<f64>()?
    } else {
        input.parse::<LitInt>()?.base10_parse::<f64>()?
    };
    Ok(if neg { -v } else { v })
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(syn::token::Paren) {
            let layer: Ident = input.parse()?;
            let body;
            syn::parenthesized!(body in input);
            let settings = Punctuated::<Setting, Token![,]>::parse_terminated(&body)?;
            Ok(Item::Layer(LayerSettings {
                layer,
                settings: settings.into_iter().collect(),
            }))
        } else {
            Ok(Item::Global(input.parse()?))
        }
    }
}

/// Removes a `#[fixed(...)]` attribute from `attrs` and parses it.
pub fn take_attr(attrs: &mut Vec<Attribute>) -> Result<Option<FixedAttr>, syn::Error> {
    let Some(i) = attrs.iter().position(|a| a.path().is_ident("fixed")) else {
        return Ok(None);
    };
    let attr = attrs.remove(i);
    let usage = "write `#[fixed(default = \"ap_fixed<16,6>\", layer(result = \"..\"), ..)]`";
    let syn::Meta::List(list) = &attr.meta else {
        return Err(syn::Error::new_spanned(&attr, usage));
    };
    let items = list
        .parse_args_with(Punctuated::<Item, Token![,]>::parse_terminated)
        .map_err(|e| syn::Error::new(e.span(), format!("{e}; {usage}")))?;
    let mut out = FixedAttr {
        span: list.path.get_ident().map_or(Span::call_site(), Ident::span),
        globals: vec![],
        layers: vec![],
    };
    for item in items {
        match item {
            Item::Global(s) => out.globals.push(s),
            Item::Layer(l) => out.layers.push(l),
        }
    }
    Ok(Some(out))
}
