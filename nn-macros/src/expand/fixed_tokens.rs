//! Constant expressions of the fixed-point types in generated code.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::paths;
use nn_fixed::{Overflow, Quant, Spec, Value};

/// A `Spec` as a constant expression.
pub fn spec_tokens(s: Spec) -> TokenStream {
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

/// A constant `Value`: `v` converted to `spec` during expansion.
pub fn value_tokens(v: f64, spec: Spec) -> TokenStream {
    let fp = paths::fixed_point();
    let raw = Value::from_f64(v, spec).fixed.raw;
    let s = spec_tokens(spec);
    quote!(#fp::Value { fixed: #fp::Fixed::from_raw(#raw), spec: #s })
}
