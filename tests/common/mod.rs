//! Shared by the integration tests (each test file that says `mod common;`).
//!
//! * [`compare`]: the two rules that compare an analytic gradient with finite differences, each
//!   with its negative controls: [`check_scaled`] (`|a - fd| <= TOL * max |fd|`, the
//!   convolution and deep suites) and [`check_normalized`] (`|a - fd| <= atol + rtol |fd|`,
//!   `gradcheck.rs`); the per-class summary of the checks and the `checks!` macro that makes one
//!   `#[test]` per check.
//! * [`fd`]: finite differences: central and Richardson-extrapolated differences, the layer
//!   objective `J = sum y g` and its differences with respect to inputs and parameters.
//! * [`network_fd`]: the check of every parameter and input gradient of a generated network
//!   against Richardson differences of an objective, with kink-aware step choice.
//! * [`tensors`]: random tensors and batches, flattening, moving one parameter.
//! * [`geometry`]: kernel, stride, padding (and channels, bias, divisor rule) of the convolution
//!   and pooling layer types, read off their type parameters.
//! * [`fixtures`]: reading the JAX fixtures in `tests/fixtures/` and the parity tolerances;
//!   [`parity`]: the error statistics and reports of the parity suites, and their coverage check.
//! * [`nets`]: networks that more than one test file checks.
//! * [`stack`]: running on a 2 MiB stack with inputs built on the heap.
#![allow(dead_code)]

pub mod compare;
pub mod fd;
pub mod fixtures;
pub mod geometry;
pub mod hls4ml;
pub mod nets;
pub mod network_fd;
pub mod parity;
pub mod seeded;
pub mod stack;
pub mod tensors;

// Not every test file uses every part.
#[allow(unused_imports)]
pub use compare::*;
#[allow(unused_imports)]
pub use fd::*;
#[allow(unused_imports)]
pub use network_fd::*;
#[allow(unused_imports)]
pub use tensors::*;
