//! Matching a layer's arguments against what the layer accepts.

use proc_macro2::Span;

use crate::ast::{Arg, Value};
use crate::ctxt::Ctxt;

/// One parameter a layer accepts.
pub struct Param {
    pub name: &'static str,
    /// Whether it may be given without its name (in declaration order).
    pub positional: bool,
    /// What the user should write, for messages: "a whole number such as `64`".
    pub expects: &'static str,
}

/// The arguments of one entry, matched to parameters.
pub struct Matched {
    pub values: Vec<Option<Value>>,
}

impl Matched {
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i).and_then(|v| v.as_ref())
    }
}

/// Matches `args` to `params`, recording unknown, duplicate and surplus arguments.
pub fn match_args(
    cx: &mut Ctxt,
    who: &str,
    kind: &str,
    args: &[Arg],
    params: &[Param],
    args_span: Span,
) -> Matched {
    let mut values: Vec<Option<Value>> = vec![None; params.len()];
    let mut next_pos = 0;
    let mut seen_named = false;
    for arg in args {
        match &arg.key {
            None => {
                if seen_named {
                    cx.error(arg.span(), format!("{who}: positional arguments must come before named ones (`name = value`)"));
                    continue;
                }
                while next_pos < params.len() && !params[next_pos].positional {
                    next_pos += 1;
                }
                if next_pos >= params.len() {
                    let n = params.iter().filter(|p| p.positional).count();
                    let msg = if params.is_empty() {
                        format!("{who}: `{kind}` takes no arguments; write `{kind}` without parentheses")
                    } else if n == 0 {
                        format!(
                            "{who}: `{kind}` takes only named arguments: {}",
                            list(params)
                        )
                    } else {
                        format!("{who}: `{kind}` takes at most {n} positional argument{}; its arguments are {}", if n == 1 { "" } else { "s" }, list(params))
                    };
                    cx.error(arg.span(), msg);
                    continue;
                }
                values[next_pos] = Some(arg.value.clone());
                next_pos += 1;
            }
            Some(key) => {
                seen_named = true;
                let k = key.to_string();
                match params.iter().position(|p| p.name == k) {
                    None => {
                        let hint = crate::suggest::closest(&k, params.iter().map(|p| p.name))
                            .map(|s| format!("did you mean `{s}`? "))
                            .unwrap_or_default();
                        let msg = if params.is_empty() {
                            format!("{who}: `{kind}` takes no arguments, so `{k}` is not accepted")
                        } else {
                            format!(
                                "{who}: `{kind}` has no argument `{k}`; {hint}its arguments are {}",
                                list(params)
                            )
                        };
                        cx.error(key.span(), msg);
                    }
                    Some(i) => {
                        if values[i].is_some() {
                            cx.error(
                                arg.span(),
                                format!("{who}: argument `{k}` is given twice; keep one"),
                            );
                        } else {
                            values[i] = Some(arg.value.clone());
                        }
                    }
                }
            }
        }
    }
    let _ = args_span;
    Matched { values }
}

fn list(params: &[Param]) -> String {
    let names: Vec<String> = params
        .iter()
        .map(|p| format!("`{}` ({})", p.name, p.expects))
        .collect();
    names.join(", ")
}

/// A whole number argument.
pub fn int(cx: &mut Ctxt, who: &str, name: &str, v: &Value) -> Option<u64> {
    match v {
        Value::Int { value, .. } => Some(*value),
        other => {
            cx.error(
                other.span(),
                format!("{who}: `{name}` must be a whole number such as `64`"),
            );
            None
        }
    }
}

/// A real number argument (integers are accepted).
pub fn float(cx: &mut Ctxt, who: &str, name: &str, v: &Value) -> Option<f64> {
    match v {
        Value::Int { value, .. } => Some(*value as f64),
        Value::Float { value, .. } if value.is_finite() => Some(*value),
        other => {
            cx.error(
                other.span(),
                format!("{who}: `{name}` must be a number such as `0.5`"),
            );
            None
        }
    }
}

/// A name argument, one of `choices`.
pub fn choice(cx: &mut Ctxt, who: &str, name: &str, v: &Value, choices: &[&str]) -> Option<String> {
    let alternatives = choices
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match v {
        Value::Ident(i) if choices.contains(&i.to_string().as_str()) => Some(i.to_string()),
        Value::Ident(i) => {
            let hint = crate::suggest::closest(&i.to_string(), choices.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            cx.error(
                i.span(),
                format!("{who}: `{name} = {i}` is not one of {alternatives}{hint}"),
            );
            None
        }
        other => {
            cx.error(
                other.span(),
                format!("{who}: `{name}` must be one of {alternatives}"),
            );
            None
        }
    }
}
