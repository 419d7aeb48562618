//! Layer names: given or automatic, and unique.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::Ident;

use crate::ast::Entry;

/// Rule: layer names are unique. Unnamed layers are named `<kind in lower case>_<position>`
/// (1-based, in declaration order), e.g. `relu_2`; a given name may not collide with one of those either,
/// since both become struct fields and state-dict keys. The projection of a
/// `Residual(projection)` block is a field too, named `<block>_proj`, and names beginning with
/// `__nn` are the macro's own (reserved).
///
/// Returns every layer's name and, per layer, the errors to report with it. A duplicate gets a
/// private unique name, so the fallback struct emitted after the errors has no duplicate field
/// (which would add compiler errors about our generated code).
#[allow(clippy::type_complexity)]
pub fn check_unique_names(entries: &[&Entry]) -> (Vec<Ident>, Vec<Vec<(Span, String)>>) {
    let given: Vec<Ident> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| match &e.name {
            Some(n) => n.clone(),
            None => Ident::new(
                &format!("{}_{}", snake(&e.kind.to_string()), i + 1),
                e.kind.span(),
            ),
        })
        .collect();
    // The projections' names, owned by their blocks.
    let projections: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| has_projection(e))
        .map(|(i, _)| (projection_name(&given[i]), i))
        .collect();
    // For each name: the index of the layer that has it first.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut names = Vec::new();
    let mut errors: Vec<Vec<(Span, String)>> = entries.iter().map(|_| Vec::new()).collect();
    for (i, e) in entries.iter().enumerate() {
        let ident = given[i].clone();
        let key = ident.to_string();
        let key = key.trim_start_matches("r#");
        let clash = if key.starts_with("__nn") {
            check_reserved(e, key, &mut errors[i]);
            true
        } else if let Some(&b) = projections.get(key) {
            check_projection_name(e, key, entries[b], b, &mut errors[i]);
            true
        } else if let Some(&j) = seen.get(key) {
            duplicate(e, key, entries[j], j, &mut errors[i]);
            true
        } else {
            false
        };
        if clash {
            names.push(Ident::new(
                &format!("__nn_duplicate_name_{}", i + 1),
                ident.span(),
            ));
        } else {
            seen.insert(key.to_string(), i);
            names.push(ident);
        }
    }
    (names, errors)
}

/// Whether an entry is a `Residual(projection)` block.
fn has_projection(e: &Entry) -> bool {
    e.kind == "Residual"
        && e.args
            .iter()
            .any(|a| matches!(&a.value, crate::ast::Value::Ident(i) if i == "projection"))
}

/// The field name of a block's projection: `<block>_proj`.
pub fn projection_name(block: &Ident) -> String {
    format!("{}_proj", block.to_string().trim_start_matches("r#"))
}

/// Rule: names beginning with `__nn` are the macro's own (the network's hidden fields).
fn check_reserved(e: &Entry, key: &str, errors: &mut Vec<(Span, String)>) {
    let span = e.name.as_ref().map_or_else(|| e.kind.span(), |n| n.span());
    errors.push((
        span,
        format!("layer name `{key}`: names beginning with `__nn` are reserved for the fields `network!` adds; choose another name"),
    ));
}

/// Rule: a layer may not take the name of a block's projection (`<block>_proj`), which is a
/// field and a state-dict key too.
fn check_projection_name(
    e: &Entry,
    key: &str,
    block: &Entry,
    b: usize,
    errors: &mut Vec<(Span, String)>,
) {
    let span = e.name.as_ref().map_or_else(|| e.kind.span(), |n| n.span());
    errors.push((
        span,
        format!(
            "layer name `{key}` is taken: the projection of {} is named `{key}` (a block's projection is named `<block>_proj`); rename this layer or the block",
            describe(block, b)
        ),
    ));
    errors.push((
        block.kind.span(),
        format!("this block's projection is named `{key}`"),
    ));
}

/// The errors of a name that an earlier layer already has.
fn duplicate(e: &Entry, key: &str, first: &Entry, j: usize, errors: &mut Vec<(Span, String)>) {
    let automatic =
        format!("automatically named `{key}` (an unnamed layer is named `<kind>_<position>`)");
    match (&e.name, &first.name) {
        (Some(n), Some(f)) => {
            errors.push((
                n.span(),
                format!(
                    "duplicate layer name `{key}`; each layer needs its own name (rename this one)"
                ),
            ));
            errors.push((f.span(), format!("`{key}` is first used here")));
        }
        (Some(n), None) => {
            errors.push((
                n.span(),
                format!(
                    "duplicate layer name `{key}`: layer {} (`{}`) is already {automatic}; choose another name",
                    j + 1,
                    first.kind
                ),
            ));
            errors.push((first.kind.span(), format!("this layer is {automatic}")));
        }
        (None, _) => {
            errors.push((
                e.kind.span(),
                format!(
                    "duplicate layer name `{key}`: this layer is {automatic}, but an earlier layer already has that name; rename one of them"
                ),
            ));
            if let Some(f) = &first.name {
                errors.push((f.span(), format!("`{key}` is first used here")));
            }
        }
    }
}

/// The automatic name's stem: the kind in lower case (`LeakyReLU` -> `leakyrelu`).
fn snake(s: &str) -> String {
    s.trim_start_matches("r#")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase()
}

/// How messages name a layer: by its name, or by its position and kind.
pub fn describe(e: &Entry, i: usize) -> String {
    match &e.name {
        Some(n) => format!("layer `{n}`"),
        None => format!("layer {} (`{}`)", i + 1, e.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::snake;
    #[test]
    fn automatic_names_are_lower_case_kinds() {
        assert_eq!(snake("Dense"), "dense");
        assert_eq!(snake("LeakyReLU"), "leakyrelu");
        assert_eq!(snake("MaxPool2d"), "maxpool2d");
    }
}
