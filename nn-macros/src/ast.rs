//! The macro's own model of a network declaration. Every number and name keeps its span.

use proc_macro2::Span;
use syn::{Attribute, Ident, LitInt, Visibility};

/// `#[attrs] vis struct Name { input: [..], entries... }`
pub struct NetworkDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: Option<Dims>,
    pub entries: Vec<Entry>,
}

/// A bracketed list of dimensions: `[1, 8, 8]`.
pub struct Dims {
    pub dims: Vec<LitInt>,
    pub span: Span,
}

/// One layer: `name: Kind(args) -> [dims]`, name and annotation optional.
pub struct Entry {
    pub name: Option<Ident>,
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// Span of the parenthesized argument list, or of the kind when there is none.
    pub args_span: Span,
    pub annotation: Option<Dims>,
    /// The entries of a block (`Residual { ... }`), if the entry has one.
    pub block: Option<Vec<Entry>>,
    /// Span of the block's braces.
    pub block_span: Option<Span>,
}

/// A positional (`64`) or named (`alpha = 0.5`) argument.
pub struct Arg {
    pub key: Option<Ident>,
    pub value: Value,
}

/// An argument value.
#[derive(Clone)]
pub enum Value {
    Int {
        value: u64,
        span: Span,
    },
    Float {
        value: f64,
        span: Span,
    },
    #[allow(dead_code)]
    Bool {
        value: bool,
        span: Span,
    },
    Ident(Ident),
    #[allow(dead_code)]
    Tuple {
        items: Vec<Value>,
        span: Span,
    },
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Int { span, .. }
            | Value::Float { span, .. }
            | Value::Bool { span, .. }
            | Value::Tuple { span, .. } => *span,
            Value::Ident(i) => i.span(),
        }
    }
}

impl Arg {
    pub fn span(&self) -> Span {
        match &self.key {
            Some(k) => k.span().join(self.value.span()).unwrap_or_else(|| k.span()),
            None => self.value.span(),
        }
    }
}
