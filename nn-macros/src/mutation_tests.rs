//! The macro never panics and never recurses without bound: real declarations, mutated the way
//! people and generators get them wrong (numbers at the limits of `u64`, `usize` and `f32`,
//! names that collide with generated ones, attributes, deep nesting, entries dropped, doubled
//! or moved), each give a network or a `syn::Error`, never a panic.
//!
//! At least 20,000 inputs per run (`CASES` and the proptest config below); the count is asserted.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use proc_macro2::TokenStream;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

/// Real declarations, small (the mutations are what is tested, and a small network expands in a
/// fraction of the time): between them every layer kind, argument form and feature.
const SEEDS: &[&str] = &[
    "pub struct A { input: [4], fc: Dense(3), ReLU, out: Dense(2), Softmax }",
    "struct B { input: [1, 6, 6], c: Conv2d(2, kernel = 3, padding = 1), ReLU, MaxPool2d(2), Flatten, Dense(2) }",
    "struct C { input: [2, 9], c: Conv1d(2, kernel = 3, stride = 2, padding = same), PReLU(per_channel = true), BatchNorm1d, AvgPool1d(2, count_include_pad = false), Flatten, Dense(1), Sigmoid }",
    "struct D { input: [2, 4, 4], s: Conv2d(2, kernel = 1, bias = false), bn: BatchNorm2d, b: Residual(projection) { Conv2d(3, kernel = 3, stride = 2, padding = 1) }, r: Residual { ReLU }, Flatten, Dropout(0.2), Dense(2) }",
    "struct E { input: [3], Dense(3), GELU(approximate = tanh), ELU(0.5), LeakyReLU(slope = 0.2), PReLU(init = 0.1), SELU, SiLU, Softplus, Gaussian, Step, Tanh, Identity, Dense(2, init = he) -> [2] }",
    "struct F { input: [3, 5, 4], a: Conv2d(filters = 2, kernel = (3, 2), stride = (2, 1), padding = (1, 0, 2, 1), init = zeros), MaxPool2d(window = (2, 1), padding = (1, 0)), AvgPool2d(1, padding = valid), Conv2d(1, 1, padding = full), Flatten, Dense(2) }",
    "struct G { input: [1, 7], Conv1d(2, kernel = 2, padding = (1, 0), bias = false), MaxPool1d(2, stride = 1, padding = 1), Flatten, Dense(3, init = lecun), SELU }",
    "struct H { input: [2], b: Residual { Dense(2), Tanh }, c: Residual(projection) { Dense(3) }, BatchNorm1d, Dense(1) }",
];

/// Replacement numbers: the limits of what the DSL, `usize`, typenum and `f32` take.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "1024",
    "1025",
    "65536",
    "67108864",
    "67108865",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "-1",
    "-0",
    "0.0",
    "-0.0",
    "0.5",
    "1e-45",
    "1e-50",
    "3.4e38",
    "3.5e38",
    "-3.5e38",
    "1e39",
    "-1e39",
    "1e308",
    "1e999",
    "-1e999",
    "1.0e0",
    "2.5",
];

/// Replacement names: collisions with generated names, keywords, raw identifiers.
const NAMES: &[&str] = &[
    "__nn_rng",
    "__nn_bwd",
    "__nn_duplicate_name_1",
    "a0",
    "d0",
    "s0",
    "fc1",
    "conv1",
    "b1_proj",
    "b2_proj",
    "residual_1_proj",
    "dense_1",
    "relu_2",
    "r#type",
    "r#fn",
    "self_",
    "Self_",
    "forward",
    "new",
    "PARAMS",
    "x",
];

/// Attributes to put on the declaration.
const ATTRS: &[&str] = &[
    "#[derive(Clone)]",
    "#[derive(Default, Debug)]",
    "#[derive(PartialEq)]",
    "#[derive(Hash, Eq)]",
    "#[derive(serde::Serialize)]",
    "#[cfg(any())]",
    "#[cfg(all())]",
    "#[cfg_attr(all(), derive(Clone))]",
    "#[allow(dead_code)]",
    "#[doc = \"docs\"]",
    "#[weights = \"does/not/exist.safetensors\"]",
    "#[weights = 5]",
    "#[weights]",
    "#[repr(C)]",
    "#[must_use]",
];

/// Entries to insert.
const ENTRIES: &[&str] = &[
    "Dense(3)",
    "Flatten",
    "ReLU",
    "Softmax",
    "Dropout(0.999999)",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d(2, kernel = 1)",
    "Conv1d(2, kernel = 1)",
    "MaxPool2d(1)",
    "AvgPool1d(1)",
    "Residual { ReLU }",
    "Residual(projection) { Dense(2) }",
    "p: Residual(projection) { Flatten }",
    "Identity -> [1]",
    "PReLU(per_channel = true)",
];

/// One mutation of a declaration's tokens (as text, one token per item).
#[derive(Debug, Clone)]
enum Mutation {
    /// The `i`-th number literal becomes `NUMBERS[k]`.
    Number(usize, usize),
    /// The `i`-th layer name becomes `NAMES[k]`.
    Name(usize, usize),
    /// `ATTRS[k]` before the struct.
    Attr(usize),
    /// `ENTRIES[k]` inserted before the `i`-th entry.
    Insert(usize, usize),
    /// The `i`-th entry removed.
    Remove(usize),
    /// The `i`-th entry doubled.
    Double(usize),
    /// The `i`-th entry wrapped in `depth` nested `Residual { .. }` blocks.
    Nest(usize, usize),
    /// The `i`-th token removed.
    DropToken(usize),
}

/// The top-level entries of a declaration's body, as text.
fn entries(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for c in body.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// The declaration `seed` with `mutations` applied.
fn mutate(seed: &str, mutations: &[Mutation]) -> String {
    let open = seed.find('{').unwrap_or(0);
    let (head, body) = (&seed[..open], &seed[open + 1..seed.len() - 1]);
    let mut head = head.to_string();
    let mut items = entries(body);
    let mut tail_tokens: Option<usize> = None;
    for m in mutations {
        let n = items.len().max(1);
        match *m {
            Mutation::Number(i, k) => {
                let text = items.join(",");
                let spots: Vec<usize> = text
                    .char_indices()
                    .filter(|&(j, c)| {
                        c.is_ascii_digit()
                            && (j == 0 || !text.as_bytes()[j - 1].is_ascii_alphanumeric())
                    })
                    .map(|(j, _)| j)
                    .collect();
                if let Some(&at) = spots.get(i % spots.len().max(1)) {
                    let end = text[at..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                        .map_or(text.len(), |e| at + e);
                    let text = format!("{}{}{}", &text[..at], NUMBERS[k], &text[end..]);
                    items = entries(&text);
                }
            }
            Mutation::Name(i, k) if !items.is_empty() => {
                let e = &mut items[i % n];
                match e.find(':') {
                    Some(c) if !e[..c].contains('(') => *e = format!(" {}{}", NAMES[k], &e[c..]),
                    _ => *e = format!(" {}: {}", NAMES[k], e.trim()),
                }
            }
            Mutation::Attr(k) => head = format!("{} {head}", ATTRS[k]),
            Mutation::Insert(i, k) => {
                items.insert((i % (n + 1)).min(items.len()), ENTRIES[k].into())
            }
            Mutation::Remove(i) if !items.is_empty() => {
                items.remove(i % n);
            }
            Mutation::Double(i) if !items.is_empty() => {
                let e = items[i % n].clone();
                items.insert(i % n, e);
            }
            Mutation::Nest(i, depth) if !items.is_empty() => {
                let e = &mut items[i % n];
                let inner = e.clone();
                *e = format!(
                    "{}{inner}{}",
                    "Residual { ".repeat(depth),
                    " }".repeat(depth)
                );
            }
            Mutation::DropToken(i) => tail_tokens = Some(i),
            _ => {}
        }
    }
    let text = format!("{head}{{{}}}", items.join(","));
    match tail_tokens {
        Some(i) => {
            let tokens: Vec<&str> = text.split_whitespace().collect();
            let k = i % tokens.len().max(1);
            tokens
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .map(|(_, t)| *t)
                .collect::<Vec<_>>()
                .join(" ")
        }
        None => text,
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0..64usize, 0..NUMBERS.len()).prop_map(|(i, k)| Mutation::Number(i, k)),
        2 => (0..16usize, 0..NAMES.len()).prop_map(|(i, k)| Mutation::Name(i, k)),
        1 => (0..ATTRS.len()).prop_map(Mutation::Attr),
        2 => (0..16usize, 0..ENTRIES.len()).prop_map(|(i, k)| Mutation::Insert(i, k)),
        1 => (0..16usize).prop_map(Mutation::Remove),
        1 => (0..16usize).prop_map(Mutation::Double),
        1 => (0..16usize, prop_oneof![1..4usize, 30..36usize, 60..70usize])
            .prop_map(|(i, d)| Mutation::Nest(i, d)),
        1 => (0..400usize).prop_map(Mutation::DropToken),
    ]
}

/// Runs the macro on `src`: a network or errors, never a panic (a panic fails the case).
fn expands(src: &str) -> Result<(), TestCaseError> {
    let Ok(tokens) = TokenStream::from_str(src) else {
        return Ok(()); // not Rust tokens (an unbalanced bracket): rustc rejects it first
    };
    let out = crate::run(tokens).to_string();
    prop_assert!(
        out.contains("struct") || out.contains("compile_error"),
        "neither a network nor an error for:\n{src}"
    );
    Ok(())
}

/// Mutated declarations per run.
const CASES: u32 = 20_480;

/// Every seed expands without errors (so mutations start from real, valid networks); then
/// `CASES` mutated declarations each give a network or errors (proptest shrinks a failure to a
/// small mutation list).
#[test]
fn mutated_declarations_never_panic() {
    for seed in SEEDS {
        let out = crate::run(TokenStream::from_str(seed).unwrap()).to_string();
        assert!(
            !out.contains("compile_error"),
            "seed has errors: {seed}\n{out}"
        );
    }
    let config = ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let runs = AtomicUsize::new(0);
    let strategy = (0..SEEDS.len(), prop::collection::vec(mutation(), 1..5));
    let result = TestRunner::new(config).run(&strategy, |(seed, mutations)| {
        runs.fetch_add(1, Ordering::Relaxed);
        expands(&mutate(SEEDS[seed], &mutations))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let runs = runs.load(Ordering::Relaxed);
    assert!(runs >= 20_000, "only {runs} mutated declarations ran");
}
