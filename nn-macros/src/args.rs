//! Argument resolution: matching the arguments of an entry to the parameters its layer accepts
//! (unknown, duplicate, surplus and misplaced arguments), and reading each value as the kind of
//! value it must be. Shape rules live apart, with each layer kind.

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
pub fn match_args(cx: &mut Ctxt, who: &str, kind: &str, args: &[Arg], params: &[Param]) -> Matched {
    let mut values: Vec<Option<Value>> = vec![None; params.len()];
    // Whether each value was given by position (for the "given twice" message).
    let mut by_position = vec![false; params.len()];
    let mut next_pos = 0;
    let mut seen_named = false;
    for arg in args {
        match &arg.key {
            None => {
                while next_pos < params.len() && !params[next_pos].positional {
                    next_pos += 1;
                }
                if seen_named {
                    cx.error(
                        arg.span(),
                        format!(
                            "{who}: positional arguments must come before named ones (`name = value`); move `{}` to the front",
                            show(&arg.value)
                        ),
                    );
                    // Still fill the slot it was meant for when that is free, so the parameter
                    // is not also reported as missing; report nothing more about this argument.
                    if next_pos < params.len() && values[next_pos].is_none() {
                        values[next_pos] = Some(arg.value.clone());
                        by_position[next_pos] = true;
                    }
                    next_pos += 1;
                    continue;
                }
                if next_pos >= params.len() {
                    let n = params.iter().filter(|p| p.positional).count();
                    let msg = if params.is_empty() {
                        format!("{who}: `{kind}` takes no arguments; write `{kind}` without parentheses")
                    } else if n == 0 && params.len() == 1 {
                        format!(
                            "{who}: `{kind}` takes only a named argument, {}; write `{kind}({} = {})`",
                            list(params),
                            params[0].name,
                            show(&arg.value)
                        )
                    } else if n == 0 {
                        format!(
                            "{who}: `{kind}` takes only named arguments: {}",
                            list(params)
                        )
                    } else {
                        format!(
                            "{who}: `{kind}` takes at most {n} positional argument{}; its arguments are {}",
                            if n == 1 { "" } else { "s" },
                            list(params)
                        )
                    };
                    cx.error(arg.span(), msg);
                    continue;
                }
                // Positional arguments all come first, so this slot is still free.
                values[next_pos] = Some(arg.value.clone());
                by_position[next_pos] = true;
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
                        if let Some(first) = &values[i] {
                            let msg = if by_position[i] {
                                format!(
                                    "{who}: argument `{k}` is given twice: `{}` by position, then `{k} = {}` by name; keep one",
                                    show(first),
                                    show(&arg.value)
                                )
                            } else {
                                format!("{who}: argument `{k}` is given twice; keep one")
                            };
                            cx.error(arg.span(), msg);
                        } else {
                            values[i] = Some(arg.value.clone());
                        }
                    }
                }
            }
        }
    }
    Matched { values }
}

/// A value as the user wrote it (near enough), for messages.
fn show(v: &Value) -> String {
    match v {
        Value::Int { value, .. } => value.to_string(),
        Value::Float { value, .. } => {
            if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{value:.1}")
            } else {
                value.to_string()
            }
        }
        Value::Bool { value, .. } => value.to_string(),
        Value::Ident(i) => i.to_string(),
        Value::Tuple { items, .. } => {
            let items: Vec<String> = items.iter().map(show).collect();
            format!("({})", items.join(", "))
        }
    }
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
        Value::Float { value, span } if *value < 0.0 => {
            cx.error(
                *span,
                format!(
                    "{who}: `{name}` cannot be negative (`{}`); write a whole number such as `64`",
                    show(v).trim_end_matches(".0")
                ),
            );
            None
        }
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
        // Rule: the value is stored as an `f32`: it must be finite there too.
        Value::Float { value, span } if !(*value as f32).is_finite() => {
            cx.error(
                *span,
                format!(
                    "{who}: `{name}` = {value:e} does not fit in an f32 (the largest is about 3.4e38); use a smaller number"
                ),
            );
            None
        }
        Value::Float { value, .. } => Some(*value),
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

/// A `true`/`false` argument.
pub fn boolean(cx: &mut Ctxt, who: &str, name: &str, v: &Value) -> Option<bool> {
    match v {
        Value::Bool { value, .. } => Some(*value),
        other => {
            cx.error(
                other.span(),
                format!("{who}: `{name}` must be `true` or `false`"),
            );
            None
        }
    }
}
