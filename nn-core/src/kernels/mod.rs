//! The numeric kernels: plain slices of `f32` in, plain slices out.
//!
//! The rule: **a kernel never imports a layer.** Layers (the `layers` module) call kernels with
//! slices, a geometry ([`geom`]) and an [`epilogue`] (the activation to apply in registers);
//! kernels call the instruction sets ([`isa`]). Each kernel sits beside its plain reference loop
//! and the tests that compare the two, for every instruction set this CPU has.
//!
//! - [`isa`]: the vector instruction-set trait (AVX-512, AVX2+FMA, portable) and the run-time
//!   dispatch.
//! - [`dense`]: one sample through a dense layer (matrix-vector product).
//! - [`gemm`]: batched dense products (forward of a batch, and the dense backward).
//! - [`conv_forward`], [`conv_backward`]: convolutions (one sample; a whole batch).
//! - [`pool`]: max and average pooling, forward and backward.

pub mod conv_backward;
pub mod conv_forward;
pub mod dense;
pub mod epilogue;
pub mod gemm;
pub mod geom;
pub mod isa;
pub mod pool;

pub use epilogue::{Epilogue, Fused};
pub use geom::{Geom, GeomOf};
pub(crate) use isa::dispatch;
