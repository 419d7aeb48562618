//! What the code `network!` generates calls, and nothing else: not a public API (hidden from the
//! docs, may change in any release). Generated code reaches it as `::nn::private`.

#[cfg(feature = "alloc")]
pub use alloc::vec::Vec;
pub use core;
pub use generic_array;
pub use typenum;

pub use crate::layers::batch_norm::BnSaved;
pub use crate::layers::residual::{add_batch_into, add_into, sum_into};
pub use crate::layers::Zeroable;
pub use crate::storage::{clone_large, new_inline, new_large, Large};
pub use crate::threads::split_batch;
#[cfg(feature = "std")]
pub use crate::train::int8_io::{Int8Source, Int8Writer};
#[cfg(feature = "std")]
pub use crate::train::io::Source;
/// The graph description an ONNX export is written from.
#[cfg(feature = "std")]
pub mod onnx {
    pub use crate::train::onnx::{Attr, ConstDesc, GraphDesc, NodeDesc};
}
#[cfg(feature = "alloc")]
pub use crate::trainable::BackwardBuffers;
pub use crate::workspace::ObtainWorkspace;

use generic_array::{ArrayLength, GenericArray};

/// `values` (whose length the caller checked) as an array; missing values stay at their
/// default, extra values are ignored (never a panic). How an int8 twin's layers are built from
/// the slices of a weight file or of baked `static` arrays (no allocation, no `std`).
pub fn to_array<T: Copy + Default, N: ArrayLength>(values: &[T]) -> GenericArray<T, N> {
    let mut out: GenericArray<T, N> = GenericArray::default();
    for (o, &v) in out.iter_mut().zip(values) {
        *o = v;
    }
    out
}

/// Row-major `values` as `O` rows of `I` (a dense layer's `[out][in]` weights), as [`to_array`].
pub fn to_rows<T: Copy + Default, I: ArrayLength, O: ArrayLength>(
    values: &[T],
) -> GenericArray<GenericArray<T, I>, O> {
    let mut out: GenericArray<GenericArray<T, I>, O> = GenericArray::default();
    for (row, chunk) in out.iter_mut().zip(values.chunks(I::USIZE.max(1))) {
        *row = to_array(chunk);
    }
    out
}

/// Expands its input only when `nn-core` has the `std` feature (weight files).
#[cfg(feature = "std")]
#[macro_export]
#[doc(hidden)]
macro_rules! __if_std {
    ($($t:tt)*) => { $($t)* };
}
/// Expands its input only when `nn-core` has the `std` feature (weight files).
#[cfg(not(feature = "std"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __if_std {
    ($($t:tt)*) => {};
}
pub use crate::__if_std as if_std;

/// Expands its input only when `nn-core` has the `alloc` feature (the training path).
#[cfg(feature = "alloc")]
#[macro_export]
#[doc(hidden)]
macro_rules! __if_alloc {
    ($($t:tt)*) => { $($t)* };
}
/// Expands its input only when `nn-core` has the `alloc` feature (the training path).
#[cfg(not(feature = "alloc"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __if_alloc {
    ($($t:tt)*) => {};
}
pub use crate::__if_alloc as if_alloc;

/// Whether generated `forward` functions should take their AVX2 copy: the CPU has AVX2
/// and FMA (detected once at run time with `std`), and the crate was not already compiled
/// for them (then the plain copy is just as fast).
#[inline]
pub fn use_avx2() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
        match STATE.load(Ordering::Relaxed) {
            0 => {
                let yes =
                    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            s => s == 2,
        }
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2"))))]
    {
        false
    }
}
