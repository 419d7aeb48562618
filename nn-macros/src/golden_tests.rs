//! Golden test: the exact expansion of representative declarations, every layer kind and feature
//! and a range of errors (so the fallback is covered), compared with the checked-in files under
//! `tests/golden/<case>.txt`.
//!
//! `tests/golden/expansions.txt` holds, per case, a fingerprint (FNV-1a) and the length of
//! `TokenStream::to_string()` of `crate::run`; every run writes the expansions themselves,
//! readable (a line break after `;` and `{` and before `}`), to `$TMPDIR/nn-golden/<case>.txt`.
//! The weight files the `#[weights]` cases read are `tests/golden/*.safetensors`, written by
//! `tests/golden/make_weights.py`; an absolute path in an error message is shown as `$DIR`.
//!
//! Any change to the generated code shows up here: a refactor of the macro must leave every
//! fingerprint as it is. After an intended change, run the test once before the change and copy
//! `$TMPDIR/nn-golden`, make the change, regenerate the index with
//! `NN_GOLDEN=overwrite cargo test -p nn-macros golden` and read the diff of the two folders.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::TokenStream;

/// (file name, declaration).
const CASES: &[(&str, &str)] = &[
    // --- Valid networks ---
    (
        "m1-jet-mlp",
        "/// M1, the jet tagger.
        pub struct M1 {
            input: [16],
            fc1: Dense(64), ReLU,
            fc2: Dense(32), ReLU,
            fc3: Dense(32), ReLU,
            out: Dense(5),
            Softmax,
        }",
    ),
    (
        "cnn-2d-pools",
        "/// The 2-D network of the gradient checks.
        pub(crate) struct TinyCnn {
            input: [2, 6, 6],
            conv: Conv2d(3, kernel = 3, padding = 1), Tanh,
            MaxPool2d(2),
            conv2: Conv2d(4, kernel = (2, 3), stride = (1, 2), padding = same), ReLU,
            AvgPool2d(2, stride = 1, padding = 1, count_include_pad = false),
            Flatten,
            fc: Dense(3), Softmax
        }",
    ),
    (
        "cnn-2d-padding-forms",
        "struct Pads {
            input: [3, 9, 7],
            a: Conv2d(4, (3, 2), stride = 2, padding = (1, 0, 2, 1), bias = false, init = xavier),
            b: Conv2d(filters = 4, kernel = 3, padding = full, init = zeros),
            c: Conv2d(2, 1, padding = valid, init = lecun), SELU,
            MaxPool2d(window = (3, 2), stride = (2, 1), padding = (1, 1)),
            AvgPool2d((2, 2), padding = (0, 0, 1, 1)),
            AvgPool2d(2, padding = valid) -> [2, 2, 4],
        }",
    ),
    (
        "cnn-1d-stride-same",
        "/// M4, the MNIST-1D CNN, plus average pooling and per-channel PReLU.
        struct M4 {
            input: [1, 40],
            conv1: Conv1d(32, kernel = 5, padding = 2), ReLU,
            conv2: Conv1d(32, kernel = 3, stride = 2, padding = 1), PReLU(per_channel = true),
            conv3: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU,
            AvgPool1d(2, stride = 1, padding = 1, count_include_pad = false),
            Flatten, fc: Dense(10), Softmax,
        }",
    ),
    (
        "cnn-1d-padding-forms",
        "struct Signal {
            input: [2, 13],
            Conv1d(3, kernel = 4, stride = 3, padding = same), GELU,
            Conv1d(3, 2, padding = (1, 0), bias = false), ELU,
            Conv1d(2, 3, padding = full), LeakyReLU,
            MaxPool1d(2, stride = 1, padding = 1), AvgPool1d(3, padding = valid),
            MaxPool1d(window = 2),
        }",
    ),
    (
        "large-fields-boxed",
        "/// A Dense layer as wide as its flattened 16x16 RGB input.
        struct DenseWide {
            input: [3, 16, 16],
            Flatten,
            fc: Dense(768),
            conv_in_vec: Dense(1100), Softmax,
        }",
    ),
    (
        "large-conv-and-typenum",
        "struct BigConv {
            input: [3, 40, 37],
            conv: Conv2d(64, kernel = 5, padding = 2), ReLU,
            Flatten, Dense(2000),
        }",
    ),
    (
        "batchnorm-fold-mixed",
        "/// Residual blocks, batch normalization and dropout.
        struct Mixed {
            input: [2, 6, 6],
            stem: Conv2d(3, kernel = 3, padding = 1, bias = false), bn0: BatchNorm2d, Tanh,
            r1: Residual {
                c1: Conv2d(3, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d, ReLU,
                c2: Conv2d(3, kernel = 3, padding = 1),
            }, Tanh,
            Flatten, Dropout(0.25),
            fc1: Dense(6), Tanh, bn3: BatchNorm1d,
            r3: Residual { d1: Dense(6), ReLU },
            fc2: Dense(6), bn4: BatchNorm1d,
            out: Dense(3), Softmax,
        }",
    ),
    (
        "batchnorm-fold-resnet",
        "pub struct ResNet {
            input: [1, 8, 8],
            stem: Conv2d(8, kernel = 3, padding = 1, bias = false), bn0: BatchNorm2d, ReLU,
            block1: Residual { c1: Conv2d(8, kernel = 3, padding = 1), ReLU, c2: Conv2d(8, kernel = 3, padding = 1) }, ReLU,
            block2: Residual(projection) { c3: Conv2d(16, kernel = 3, stride = 2, padding = 1), BatchNorm2d, ReLU, c4: Conv2d(16, kernel = 3, padding = 1) } -> [16, 4, 4], ReLU,
            Flatten, Dropout(0.25),
            fc: Dense(10), Softmax,
        }",
    ),
    (
        "batchnorm-signal-residual-projection",
        "/// Signals: BatchNorm1d on channels, an identity block and a projection block.
        struct ResSignal {
            input: [2, 8],
            r1: Residual {
                k1: Conv1d(2, kernel = 3, padding = 1, bias = false), bn1: BatchNorm1d, Tanh,
                k2: Conv1d(2, kernel = 3, padding = 1),
            }, Tanh,
            r2: Residual(projection) {
                k3: Conv1d(3, kernel = 3, stride = 2, padding = 1), Tanh,
                k4: Conv1d(3, kernel = 3, padding = 1),
            } -> [3, 4], Tanh,
            Flatten, out: Dense(2),
        }",
    ),
    (
        "batchnorm-not-foldable",
        "struct BnAlone {
            input: [3, 5, 5],
            bn: BatchNorm2d, Conv2d(2, 3), ReLU, BatchNorm2d, Flatten, BatchNorm1d,
        }",
    ),
    (
        "residual-vectors-nested",
        "/// Residual blocks inside a residual block.
        struct Nested {
            input: [4],
            outer: Residual {
                inner: Residual { d1: Dense(4), Tanh }, Tanh,
                Residual(projection) { d3: Dense(3), Tanh } -> [3],
                d4: Dense(4),
            },
            Residual { Tanh },
            r2: Residual(projection) { d5: Dense(6), Tanh, d6: Dense(6) } -> [6], Tanh,
            out: Dense(2),
        }",
    ),
    (
        "residual-image-projection-unnamed",
        "struct ResImage {
            input: [2, 6, 6],
            Residual(projection) {
                Conv2d(4, kernel = 3, stride = 2, padding = 1), ReLU,
                Conv2d(4, kernel = 3, padding = 1),
            } -> [4, 3, 3], ReLU,
            Residual { Conv2d(4, kernel = 3, padding = 1) },
        }",
    ),
    (
        "every-activation",
        "/// Every activation once.
        struct AllActs {
            input: [8],
            Dense(8), Identity, Step, Sigmoid, Tanh, ReLU, GELU, GELU(approximate = tanh),
            GELU(approximate = none), Softplus, ELU(0.5), ELU(alpha = 2), SELU,
            LeakyReLU(0.1), LeakyReLU(slope = -0.2), PReLU, PReLU(init = 0.1), SiLU, Gaussian,
            Dense(3), Softmax,
        }",
    ),
    (
        "activations-on-images",
        "struct ActImage {
            input: [2, 3, 3],
            Conv2d(2, 1), GELU(approximate = tanh), Conv2d(2, 1), ELU(0.5), Conv2d(2, 1), LeakyReLU,
            Conv2d(2, 1), SiLU, PReLU(per_channel = true, init = 0.5), Gaussian, PReLU,
            Flatten, Dense(4), prelu_v: PReLU(per_channel = true),
        }",
    ),
    (
        "init-defaults",
        "struct Inits {
            input: [4],
            Dense(4), ReLU, Dense(4), LeakyReLU(0.2), Dense(4), PReLU, Dense(4), ELU, Dense(4), GELU,
            Dense(4), SiLU, Dense(4), SELU, Dense(4), Tanh, Dense(4, init = he), Dense(4, init = glorot),
            Dense(units = 4, init = zeros), Dense(4, init = lecun),
        }",
    ),
    (
        "sigmoid-head",
        "/// A binary classifier with a sigmoid head.
        struct NetBin {
            input: [6],
            fc1: Dense(5), SiLU,
            fc2: Dense(4), GELU(approximate = tanh),
            fc3: Dense(4), Softplus,
            fc4: Dense(3), Gaussian,
            out: Dense(1), Sigmoid,
        }",
    ),
    (
        "softmax-only",
        "/// Only a softmax: the logits are the input itself.
        struct SoftmaxOnly { input: [3], Softmax, }",
    ),
    (
        "dropout-only",
        "struct DropOnly { input: [500], Dropout(0.3) }",
    ),
    (
        "dropout-mlp-annotations",
        "#[derive(PartialEq)]
        pub struct DropMlp {
            input: [8],
            fc1: Dense(16) -> [16], ReLU -> [16],
            Dropout(p = 0.5),
            r#type: Dense(4),
        }",
    ),
    // --- Weights baked in at compile time ---
    (
        "weights-baked",
        "#[weights = \"tests/golden/weights.safetensors\"]
        /// Weights from the golden fixture.
        pub struct Baked {
            input: [1, 3, 3],
            conv: Conv2d(2, kernel = 2, bias = false), bn: BatchNorm2d, act: PReLU(per_channel = true),
            conv2: Conv2d(2, kernel = 1),
            Flatten, fc: Dense(3), p: PReLU, out: Dense(2), Softmax,
        }",
    ),
    (
        "weights-mismatch",
        "#[weights = \"tests/golden/weights.safetensors\"]
        pub struct Mismatch {
            input: [1, 3, 3],
            conv: Conv2d(2, kernel = 2), bn: BatchNorm2d, act: PReLU,
            Flatten, fc: Dense(4),
        }",
    ),
    (
        "weights-bad-values",
        "#[weights = \"tests/golden/bad.safetensors\"]
        struct Bad { input: [4], fc: Dense(2) }",
    ),
    (
        "weights-file-not-found",
        "#[weights = \"tests/golden/does-not-exist.safetensors\"]
        struct Missing { input: [4], fc: Dense(2) }",
    ),
    (
        "weights-not-safetensors",
        "#[weights = \"Cargo.toml\"]
        struct NotSafetensors { input: [4], fc: Dense(2) }",
    ),
    (
        "weights-attribute-not-a-string",
        "#[weights = 3]
        struct NotAString { input: [4], fc: Dense(2) }",
    ),
    (
        "weights-attribute-list-and-layer-error",
        "#[weights(\"w.safetensors\")]
        struct ListForm { input: [4], fc: Dense(0) }",
    ),
    // --- Errors: each still emits the fallback ---
    (
        "error-unknown-layer",
        "struct Bad { input: [16], Dens(3), ReLU, Dense(2) }",
    ),
    (
        "error-several-mistakes",
        "pub struct Many {
            input: [4],
            fc1: Dense(units = 3, units = 4), Relu, Dense(4, foo = 1),
            ELU(alpha = x), GELU(approximate = fast), Dense(0), Dense(2) -> [7],
            Softmax(1), Dropout(1.0), Dropout, PReLU(per_channel = 1), LeakyReLU(slope = -3),
        }",
    ),
    (
        "error-argument-forms",
        "struct Args {
            input: [4],
            Dense(units = 4, 5), Dense(-3), Dense(2.5), Dense(), ReLU(), Dense(3, 4),
            GELU(tanh), Flatten(units = 2), Dense(4, init = heu), Dense(4, init = 2),
        }",
    ),
    (
        "error-duplicate-names",
        "struct Dup {
            input: [4],
            fc: Dense(4), fc: Dense(4), dense_3: Dense(4), Dense(4), relu_5: ReLU, ReLU, relu_5: Tanh,
        }",
    ),
    (
        "error-names-and-automatic-names",
        "struct Dup2 {
            input: [4],
            Dense(4), dense_1: Dense(4), relu_4: Dense(4), ReLU, r#type: Tanh, r#type: Tanh,
        }",
    ),
    (
        "error-missing-input-and-layers",
        "pub struct Empty { }",
    ),
    (
        "error-input-dimensions",
        "struct In { input: [2, 0, 3, 4], Dense(2) }",
    ),
    ("error-input-empty", "struct In2 { input: [], Dense(2) }"),
    (
        "error-input-huge-dimension",
        "struct In3 { input: [99999999999999999999999], Dense(2) }",
    ),
    ("error-input-four-dimensions", "struct In4 { input: [2, 2, 2, 2], Dense(2) }"),
    ("error-input-too-large", "struct In5 { input: [100000, 1000], Flatten }"),
    (
        "error-too-large",
        "struct Huge { input: [100000], Dense(100000), Dense(3) }",
    ),
    (
        "error-shapes",
        "struct Shapes {
            input: [1, 8, 8],
            Dense(4), Softmax, Conv1d(2, 3), BatchNorm1d, MaxPool1d(2),
            conv: Conv2d(2, 3) -> [2, 5, 5], BatchNorm2d, Flatten, BatchNorm2d, Conv2d(2, 3),
        }",
    ),
    ("error-batchnorm1d-on-image", "struct B { input: [2, 4, 4], BatchNorm1d }"),
    ("error-batchnorm2d-on-vector", "struct B { input: [4], BatchNorm2d }"),
    ("error-batchnorm2d-on-signal", "struct B { input: [2, 4], BatchNorm2d }"),
    ("error-dropout-negative", "struct D { input: [4], Dropout(-0.5) }"),
    ("error-conv-after-flatten", "struct C { input: [1, 4, 4], Flatten, Conv2d(2, 1) }"),
    ("error-conv1d-on-vector", "struct C { input: [4], Conv1d(2, 1) }"),
    ("error-conv2d-on-signal", "struct C { input: [2, 8], Conv2d(2, 3) }"),
    ("error-pool1d-on-image", "struct C { input: [2, 8, 8], MaxPool1d(2) }"),
    ("error-softmax-needs-vector", "struct S { input: [2, 3], Softmax }"),
    (
        "error-annotations",
        "struct A { input: [4], Dense(3) -> [4], ReLU -> [3, 1], Dense(2) -> [0], Flatten -> [] }",
    ),
    ("error-pool2d-window-too-large", "struct P { input: [1, 4, 6], MaxPool2d((5, 7)) }"),
    ("error-pool2d-window-too-large-square", "struct P { input: [1, 3, 3], AvgPool2d(4) }"),
    ("error-pool1d-window-too-large", "struct P { input: [2, 4], AvgPool1d(5) }"),
    (
        "error-pool1d-padding-over-half",
        "struct P { input: [2, 8], MaxPool1d(4, padding = 3) }",
    ),
    (
        "error-pool2d-padding-over-half-rect",
        "struct P { input: [2, 8, 8], AvgPool2d((4, 2), padding = (2, 1, 1, 2)) }",
    ),
    ("error-conv2d-kernel-too-large-rect", "struct K { input: [1, 2, 7], Conv2d(2, (3, 1)) }"),
    (
        "error-padding-overflow",
        "struct K { input: [2, 4], Conv1d(2, 3, padding = 18446744073709551615) }",
    ),
    (
        "error-layer-too-large-for-64-bits",
        "struct K {
            input: [1, 1, 1],
            Conv2d(1, kernel = (4294967296, 4294967296),
                padding = (2147483648, 2147483648, 2147483648, 2147483648)),
        }",
    ),
    (
        "error-residual-projection-after-flatten",
        "struct R { input: [2, 4, 4], r: Residual(projection) { Flatten } }",
    ),
    (
        "error-residual-grows",
        "struct R { input: [2, 4, 4], r: Residual { Conv2d(2, 3, padding = 2) } }",
    ),
    (
        "error-residual-stride-unreachable",
        "struct R { input: [2, 9, 9], r: Residual(projection) { Conv2d(2, 3) } }",
    ),
    (
        "error-residual-needs-projection-rect",
        "struct R { input: [2, 9, 7], Residual { Conv2d(2, 3), Conv2d(2, 3) } }",
    ),
    (
        "error-residual-height-unreachable",
        "struct R { input: [2, 9, 7], Residual { Conv2d(2, (3, 1)) } }",
    ),
    (
        "error-residual-width-grows",
        "struct R { input: [2, 9, 7], Residual(projection) { Conv2d(2, (1, 3), padding = (0, 0, 2, 2)) } }",
    ),
    (
        "error-residual-annotation",
        "struct R { input: [3], Residual { ReLU } -> [5] }",
    ),
    (
        "error-conv-arguments",
        "struct ConvArgs {
            input: [1, 8, 8],
            Conv2d(0, kernel = 3), Conv2d(2), Conv2d(kernel = 3), Conv2d(2, kernel = 0),
            Conv2d(2, kernel = 3, stride = 0), Conv2d(2, kernel = 3, padding = (1, 2, 3)),
            Conv2d(2, kernel = 3, padding = sane), MaxPool2d(2, padding = same),
            MaxPool2d(2, stride = 0), AvgPool2d(0), AvgPool2d(2, count_include_pad = 1),
            Conv2d(2, kernel = (1, 2, 3)), Conv2d(2, kernel = 3, bias = yes), MaxPool2d(),
            Conv1d(2, kernel = (1, 2)), MaxPool1d(2, padding = (1, 2, 3, 4)),
            Conv1d(2, 3, padding = foo), MaxPool1d(2, padding = full), AvgPool1d(2, stride = 0),
        }",
    ),
    (
        "error-conv-geometry",
        "struct ConvGeo {
            input: [1, 4, 4],
            conv1: Conv2d(2, kernel = 5),
        }",
    ),
    (
        "error-conv-geometry-more",
        "struct ConvGeo2 {
            input: [1, 4, 6],
            MaxPool2d(2, padding = 2), MaxPool2d((5, 7)), Conv2d(2, (7, 3)),
        }",
    ),
    (
        "error-conv1d-geometry",
        "struct ConvGeo1 {
            input: [2, 4],
            Conv1d(2, kernel = 7, stride = 2), AvgPool1d(5), MaxPool1d(4, padding = 3),
            Conv1d(2, 3, padding = 18446744073709551615),
        }",
    ),
    (
        "error-residual",
        "struct Res {
            input: [2, 6, 6],
            a: Residual { Conv2d(4, 3, padding = 1) },
            b: Residual(projection) { Conv2d(2, 3, padding = 2) },
            c: Residual { },
            d: Residual(foo, 3) { ReLU },
            e: Residual,
            f: Dense(3) { ReLU },
            g: Residual { Flatten, Dense(3) },
            h: Residual(projection) { Flatten },
            i: Residual(projection) { Conv2d(2, 3, stride = 2, padding = 1) } -> [2, 2, 2],
        }",
    ),
    (
        "error-residual-signals",
        "struct ResSig {
            input: [2, 9],
            a: Residual { Conv1d(2, 3) },
            b: Residual(projection) { Conv1d(2, 2, padding = 1) },
            c: Residual(projection) { Conv1d(2, 3, stride = 2), Conv1d(2, 2, stride = 2) },
            Residual { Dense(3) },
        }",
    ),
    (
        "error-residual-images-not-square",
        "struct ResImg {
            input: [2, 9, 7],
            Residual(projection) { Conv2d(2, 3, stride = 2), Conv2d(2, 2, stride = 2) },
            Residual(projection) { Conv2d(2, (3, 1), padding = (0, 1)) },
            Residual(projection) { Conv2d(2, 3, padding = 2) },
        }",
    ),
    (
        "error-in-block-then-names",
        "struct BlockErr {
            input: [4],
            r: Residual { Dens(4), x: ReLU }, x: Tanh, Dense(4),
        }",
    ),
    (
        "error-with-dropout-fallback",
        "pub struct DropErr { input: [4], fc: Dense(4), Dropout(0.5), bn: BatchNorm1d, Softmax(2) }",
    ),
    // --- Syntax errors: only the error ---
    ("syntax-missing-struct", "Net { input: [4], Dense(2) }"),
    ("syntax-missing-comma", "struct N { input: [4], Dense(2) ReLU }"),
    (
        "syntax-input-twice-and-late",
        "struct N { input: [4], input: [5], Dense(2) }",
    ),
    ("syntax-input-after-layer", "struct N { Dense(2), input: [5] }"),
    ("syntax-shape-on-layer", "struct N { input: [4], fc: [5] }"),
    (
        "syntax-bad-values",
        "struct N { input: [4], Dense(-), ELU(\"x\") }",
    ),
    ("syntax-trailing-tokens", "struct N { input: [4], Dense(2) } extra"),
];

/// The harmless differences a change may introduce, removed from the new output before it is
/// compared. Empty when the golden files are up to date.
fn normalize(s: &str) -> String {
    s.to_string()
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn expand(src: &str) -> String {
    let ts = TokenStream::from_str(src).expect("the case tokenizes");
    let out = crate::run(ts).to_string();
    assert!(!out.contains('\n'), "a line break in the output");
    out.replace(env!("CARGO_MANIFEST_DIR"), "$DIR")
}

/// Line breaks for reading: the space after `;` and `{` and before `}` becomes a line break.
fn lines(s: &str) -> String {
    s.replace(" ; ", " ;\n")
        .replace(" { ", " {\n")
        .replace(" } ", "\n} ")
        + "\n"
}

/// FNV-1a, 64 bits: a stable fingerprint of an expansion.
fn fingerprint(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn golden() {
    let overwrite = std::env::var("NN_GOLDEN").is_ok_and(|v| v == "overwrite");
    let index = dir().join("expansions.txt");
    let known = std::fs::read_to_string(&index).unwrap_or_default();
    // Readable expansions of this run, to diff against another run's after a change.
    let out = std::env::temp_dir().join("nn-golden");
    std::fs::create_dir_all(&out).expect("a temporary directory");
    let mut lines_out = Vec::new();
    let mut failures = Vec::new();
    for (name, src) in CASES {
        let got = normalize(&expand(src));
        std::fs::write(out.join(format!("{name}.txt")), lines(&got)).expect("writing an expansion");
        let line = format!("{name} {:016x} {}", fingerprint(&got), got.len());
        if !known.lines().any(|l| l == line) {
            failures.push(format!(
                "{name}: the expansion changed (now `{line}`; its text is in {})",
                out.join(format!("{name}.txt")).display()
            ));
        }
        lines_out.push(line);
    }
    if overwrite {
        std::fs::write(&index, lines_out.join("\n") + "\n").expect("writing the index");
        return;
    }
    // An entry without a case is left over from a renamed or removed case.
    for l in known.lines() {
        let stem = l.split(' ').next().unwrap_or("");
        if !CASES.iter().any(|(name, _)| *name == stem) {
            failures.push(format!(
                "tests/golden/expansions.txt: `{stem}` belongs to no case"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
