//! The macro never panics: any token stream gives a network or a `syn::Error`.

use std::str::FromStr;

use proc_macro2::TokenStream;
use proptest::prelude::*;

fn run_str(src: &str) -> Option<String> {
    let ts = TokenStream::from_str(src).ok()?;
    Some(crate::run(ts).to_string())
}

#[test]
fn valid_network_expands() {
    let out =
        run_str("pub struct Jet { input: [16], fc1: Dense(64), ReLU, fc2: Dense(5), Softmax }")
            .unwrap();
    assert!(out.contains("struct Jet"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn errors_are_compile_errors_and_keep_the_struct() {
    let out = run_str("struct Bad { input: [16], Dens(3) }").unwrap();
    assert!(out.contains("compile_error"));
    assert!(out.contains("did you mean `Dense`"), "{out}");
    assert!(out.contains("struct Bad"), "fallback struct missing: {out}");
}

const WORDS: &[&str] = &[
    "struct",
    "pub",
    "Net",
    "input",
    ":",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    "->",
    "=",
    "-",
    "0",
    "1",
    "16",
    "3",
    "0.5",
    "1e99",
    "99999999999999999999999",
    "Dense",
    "ReLU",
    "Softmax",
    "ELU",
    "GELU",
    "tanh",
    "none",
    "LeakyReLU",
    "PReLU",
    "init",
    "he",
    "alpha",
    "slope",
    "approximate",
    "units",
    "true",
    "Flatten",
    "r#type",
    "Self",
    "_",
    "#",
    "///doc\n",
    "fc1",
    "fc1",
    "'a",
    "\"s\"",
    ";",
    "::",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..40).prop_map(|w| w.join(" "))
}

fn near_valid() -> impl Strategy<Value = String> {
    let layer = prop::sample::select(
        &[
            "Dense(4)",
            "Dense(0)",
            "Dense()",
            "Dense(units = 3, units = 4)",
            "Dense(4, foo = 1)",
            "ReLU",
            "ReLU(1)",
            "ELU(0.5)",
            "ELU(alpha = x)",
            "GELU(approximate = tanh)",
            "LeakyReLU(-0.2)",
            "PReLU",
            "Softmax",
            "Flatten",
            "Sigmoid",
            "Nope",
            "fc: Dense(3)",
            "fc: Dense(3) -> [3]",
            "Dense(2) -> [7]",
            "Dense(2) -> [0]",
        ][..],
    );
    (
        prop::sample::select(
            &[
                "input: [4],",
                "input: [0],",
                "input: [1, 2, 3],",
                "",
                "input: [2, 2, 2, 2],",
            ][..],
        ),
        prop::collection::vec(layer, 0..6),
    )
        .prop_map(|(inp, layers)| format!("struct N {{ {inp} {} }}", layers.join(", ")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn never_panics_on_token_soup(src in token_soup()) {
        let _ = run_str(&src);
    }

    #[test]
    fn never_panics_on_near_valid_networks(src in near_valid()) {
        let out = run_str(&src).expect("tokenizes");
        prop_assert!(out.contains("struct N") || out.contains("compile_error"));
    }
}
