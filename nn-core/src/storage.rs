//! Where large layers and workspaces live: on the heap when `alloc` is available, built in place
//! (no stack temporary of their size), inline otherwise.

use crate::layers::Zeroable;

/// Storage of a large parameter tensor: on the heap when `alloc` is available.
#[cfg(feature = "alloc")]
pub type Large<T> = alloc::boxed::Box<T>;
/// Storage of a large parameter tensor: inline without `alloc` (for `static` weights).
#[cfg(not(feature = "alloc"))]
pub type Large<T> = T;

/// Builds a large layer in place on the heap (no stack temporary of its size), then lets
/// `f` initialize it.
#[cfg(feature = "alloc")]
pub fn new_large<T: Zeroable>(f: impl FnOnce(&mut T)) -> Large<T> {
    // SAFETY: `T: Zeroable`, so the zeroed allocation is a valid `T`.
    let mut b: alloc::boxed::Box<T> = unsafe { alloc::boxed::Box::<T>::new_zeroed().assume_init() };
    f(&mut b);
    b
}
/// Builds a large layer (inline without `alloc`), then lets `f` initialize it.
#[cfg(not(feature = "alloc"))]
pub fn new_large<T: Zeroable>(f: impl FnOnce(&mut T)) -> Large<T> {
    new_inline(f)
}

/// Builds a small layer by value, then lets `f` initialize it.
#[inline]
pub fn new_inline<T: Default>(f: impl FnOnce(&mut T)) -> T {
    let mut t = T::default();
    f(&mut t);
    t
}

/// A copy of a large layer, built in place (no stack temporary of its size: `Box::clone` makes
/// one, which overflows a thread's stack for a layer of megabytes).
pub fn clone_large<T: Zeroable>(src: &T) -> Large<T> {
    new_large(|dst: &mut T| {
        // SAFETY: a `Zeroable` type is made of `f32`s and zero-sized markers, so a bitwise copy
        // is a valid clone and overwriting `dst` drops nothing; `src` and `dst` are distinct.
        unsafe { core::ptr::copy_nonoverlapping(src as *const T, dst as *mut T, 1) }
    })
}
