//! Compile-fail tests for `nn::network!`: every rule the macro checks has one small program
//! under `tests/ui/<category>/<rule>.rs` and the exact compiler output a user sees in the
//! matching `.stderr` file.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`, then read
//! every changed `.stderr` as a user would: the messages are the product.
//!
//! `tests/ui-pass/` holds programs that must compile and run: the correct uses beside the
//! mistakes of `tests/ui/usage/`. They also make trybuild *build* every case (`cargo build`)
//! rather than only check it (`cargo check`, its choice when every case is expected to fail):
//! `usage/batch-size-zero.rs` fails in a constant that is evaluated when a function is
//! instantiated, which `cargo check` never does.

use std::fs;
use std::path::{Path, PathBuf};

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-pass/*.rs");
    t.compile_fail("tests/ui/*/*.rs");
}

/// All files under `dir` (recursively) whose name ends in `.ext`.
fn files_with_extension(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_with_extension(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// The headline of every error about layers composed by hand (`tests/ui/hand/`): the
/// `#[diagnostic::on_unimplemented]` message of `nn::SameSize`.
const HAND_HEADLINE: &str = "error[E0277]: the output size of this convolution or pooling layer does not follow from its input size, kernel, stride and padding";

/// The longest line an error message may have (rustc's own notes about layers composed by hand,
/// in `tests/ui/hand/`, are exempt: they name typenum types).
const MAX_LINE: usize = 300;

/// The expected messages never show typenum's internal types, no line is over `MAX_LINE`
/// characters, and every case has one.
///
/// Exception: `tests/ui/hand/`, where layers are composed without the macro. There rustc itself
/// reports the failing `SameSize` bound: the headline and its note are ours, but rustc adds
/// notes naming the types of the failing bound (`Layer<Shape3<UInt<...>>>`), which no attribute
/// can hide. For those files the headline is checked instead.
#[test]
fn ui_messages_hide_internal_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut cases = Vec::new();
    files_with_extension(&root, "rs", &mut cases);
    let mut stderrs = Vec::new();
    files_with_extension(&root, "stderr", &mut stderrs);
    assert!(
        cases.len() >= 8,
        "expected at least 8 compile-fail cases, found {}",
        cases.len()
    );
    // While `TRYBUILD=overwrite` regenerates them, the `ui` test may not have written them yet.
    let regenerating = std::env::var_os("TRYBUILD").is_some();
    for case in cases.iter().filter(|_| !regenerating) {
        let stderr = case.with_extension("stderr");
        assert!(
            stderr.is_file(),
            "{} has no expected output; run `TRYBUILD=overwrite cargo test --test ui`",
            case.display()
        );
    }
    let hand = root.join("hand");
    for path in &stderrs {
        let text = fs::read_to_string(path).expect("readable .stderr");
        if path.starts_with(&hand) {
            assert!(
                text.starts_with(HAND_HEADLINE),
                "{} does not start with the plain `SameSize` message:\n{text}",
                path.display()
            );
            continue;
        }
        // A message is read in a terminal: long lists are summarized, not printed whole.
        for line in text.lines() {
            assert!(
                line.chars().count() <= MAX_LINE,
                "{} has a line of {} characters (at most {MAX_LINE}):\n{line}",
                path.display(),
                line.chars().count()
            );
        }
        for internal in ["UInt<", "UTerm", "B0>", "B1>"] {
            assert!(
                !text.contains(internal),
                "{} shows the internal type `{internal}`:\n{text}",
                path.display()
            );
        }
    }
}
