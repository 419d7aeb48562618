//! syn `Parse` implementations for the DSL.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{
    bracketed, parenthesized, token, Attribute, Ident, LitBool, LitFloat, LitInt, Token, Visibility,
};

use crate::ast::{Arg, Dims, Entry, NetworkDef, Value};

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            return Err(input.error(
                "expected `struct Name { input: [..], layers... }` (optionally preceded by doc comments and `pub`)",
            ));
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let body;
        syn::braced!(body in input);
        let mut input_decl = None;
        let mut entries = Vec::new();
        while !body.is_empty() {
            if body.peek(Ident) && body.peek2(Token![:]) && body.peek3(token::Bracket) {
                let key: Ident = body.parse()?;
                body.parse::<Token![:]>()?;
                let dims = parse_dims(&body)?;
                if key != "input" {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("`{key}: [..]` declares a shape, which only `input` may do; a layer is written `{key}: Layer(args)`"),
                    ));
                }
                if input_decl.is_some() {
                    return Err(syn::Error::new(
                        key.span(),
                        "`input` is declared twice; keep one `input: [..]`",
                    ));
                }
                if !entries.is_empty() {
                    return Err(syn::Error::new(
                        key.span(),
                        "`input: [..]` must come before the first layer",
                    ));
                }
                input_decl = Some(dims);
            } else {
                entries.push(parse_entry(&body, 0)?);
            }
            if body.is_empty() {
                break;
            }
            if !body.peek(Token![,]) {
                return Err(body.error("expected `,` between layers"));
            }
            body.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's closing brace"));
        }
        Ok(NetworkDef {
            attrs,
            vis,
            name,
            input: input_decl,
            entries,
        })
    }
}

fn parse_dims(input: ParseStream) -> syn::Result<Dims> {
    let content;
    let bracket = bracketed!(content in input);
    let mut dims = Vec::new();
    while !content.is_empty() {
        if !content.peek(LitInt) {
            return Err(content.error("expected a dimension (a whole number such as `16`)"));
        }
        dims.push(content.parse::<LitInt>()?);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Dims {
        dims,
        span: bracket.span.join(),
    })
}

/// How deep `Residual` blocks may nest. Real networks nest one or two deep; the limit keeps the
/// macro's recursion (and rustc's stack) bounded whatever the input.
pub const MAX_DEPTH: usize = 32;

/// How deep argument tuples may nest (`(3, 3)` is one level; nothing valid needs more than one).
const MAX_TUPLE_DEPTH: usize = 4;

fn parse_entry(input: ParseStream, depth: usize) -> syn::Result<Entry> {
    if !input.peek(Ident) {
        return Err(input.error("expected a layer such as `Dense(64)` or `name: Dense(64)`"));
    }
    let first: Ident = input.parse()?;
    let (name, kind) = if input.peek(Token![:]) && !input.peek(Token![::]) {
        input.parse::<Token![:]>()?;
        if !input.peek(Ident) {
            return Err(input.error(format!(
                "expected a layer after `{first}:`, such as `Dense(64)`"
            )));
        }
        (Some(first), input.parse::<Ident>()?)
    } else {
        (None, first)
    };
    let mut args = Vec::new();
    let mut args_span = kind.span();
    if input.peek(token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        args_span = paren.span.join();
        while !content.is_empty() {
            args.push(parse_arg(&content)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
    }
    let (mut block, mut block_span) = (None, None);
    if input.peek(token::Brace) {
        let content;
        let brace = syn::braced!(content in input);
        // Rule: blocks nest at most `MAX_DEPTH` deep.
        if depth >= MAX_DEPTH {
            return Err(syn::Error::new(
                brace.span.join(),
                format!("this block is nested {} deep; blocks may nest at most {MAX_DEPTH} deep (a ResNet nests one); move the inner blocks out", depth + 1),
            ));
        }
        let mut entries = Vec::new();
        while !content.is_empty() {
            entries.push(parse_entry(&content, depth + 1)?);
            if content.is_empty() {
                break;
            }
            if !content.peek(Token![,]) {
                return Err(content.error("expected `,` between layers"));
            }
            content.parse::<Token![,]>()?;
        }
        block = Some(entries);
        block_span = Some(brace.span.join());
    }
    let annotation = if input.peek(Token![->]) {
        input.parse::<Token![->]>()?;
        if !input.peek(token::Bracket) {
            return Err(input.error("expected a shape after `->`, such as `-> [32]`"));
        }
        Some(parse_dims(input)?)
    } else {
        None
    };
    Ok(Entry {
        name,
        kind,
        args,
        args_span,
        annotation,
        block,
        block_span,
    })
}

fn parse_arg(input: ParseStream) -> syn::Result<Arg> {
    if input.peek(Ident) && input.peek2(Token![=]) {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = parse_value(input, 0)?;
        Ok(Arg {
            key: Some(key),
            value,
        })
    } else {
        Ok(Arg {
            key: None,
            value: parse_value(input, 0)?,
        })
    }
}

fn parse_value(input: ParseStream, depth: usize) -> syn::Result<Value> {
    if input.peek(token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        // Rule: tuples nest at most `MAX_TUPLE_DEPTH` deep (no argument takes more than one).
        if depth >= MAX_TUPLE_DEPTH {
            return Err(syn::Error::new(
                paren.span.join(),
                "this argument nests tuples too deep; an argument is a number, a name or a tuple of numbers such as `(3, 3)`",
            ));
        }
        let mut items = Vec::new();
        while !content.is_empty() {
            items.push(parse_value(&content, depth + 1)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Value::Tuple {
            items,
            span: paren.span.join(),
        });
    }
    let negative = if input.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        true
    } else {
        false
    };
    if input.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        let span = lit.span();
        if negative {
            let v: i64 = lit
                .base10_parse()
                .map_err(|_| syn::Error::new(span, "this number is too large"))?;
            return Ok(Value::Float {
                value: -(v as f64),
                span,
            });
        }
        let value: u64 = lit
            .base10_parse()
            .map_err(|_| syn::Error::new(span, "this number is too large"))?;
        return Ok(Value::Int { value, span });
    }
    if input.peek(LitFloat) {
        let lit: LitFloat = input.parse()?;
        let value: f64 = lit.base10_parse()?;
        return Ok(Value::Float {
            value: if negative { -value } else { value },
            span: lit.span(),
        });
    }
    if negative {
        return Err(input.error("expected a number after `-`"));
    }
    if input.peek(LitBool) {
        let lit: LitBool = input.parse()?;
        return Ok(Value::Bool {
            value: lit.value,
            span: lit.span(),
        });
    }
    if input.peek(Ident) {
        return Ok(Value::Ident(input.parse()?));
    }
    let span = if input.is_empty() {
        Span::call_site()
    } else {
        input
            .cursor()
            .token_tree()
            .map_or(Span::call_site(), |(t, _)| t.span())
    };
    Err(syn::Error::new(span, "expected an argument: a number, `true`/`false`, a name such as `same`, or a tuple such as `(3, 3)`"))
}
