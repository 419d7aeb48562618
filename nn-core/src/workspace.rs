//! Where a network's activations live during inference.
//!
//! `network!` adds up the bytes of the tensors one `forward` produces. Up to [`STACK_BUDGET`]
//! they are locals of the generated straight-line code, on the caller's stack (the fastest place:
//! no indirection, no allocation). Above it the network gets a generated workspace type
//! (`NameWorkspace`, one field per activation) and `forward_with(&mut workspace, &x)`, which
//! allocates nothing; `forward` then obtains a workspace itself ([`ObtainWorkspace`]): with `std`
//! one per thread, allocated on first use and kept; with `alloc` but no `std` a new one per call;
//! without `alloc` it does not compile, and the error says to pass a workspace (a `static` works).

/// The most stack, in bytes, that a generated `forward` may use for activations before the
/// network gets a workspace instead: 256 KiB, an eighth of the 2 MiB that Rust gives spawned
/// threads and well under the 8 MiB of a main thread, so that networks called from deep call
/// stacks, in threads or on larger microcontrollers still fit.
///
/// Each network's own figure is its `STACK_BYTES` const (what one `forward` or `forward_batch`
/// call needs) and `WORKSPACE_BYTES` (its workspace, 0 when activations stay on the stack).
pub const STACK_BUDGET: usize = 256 * 1024;

/// How `forward` obtains the workspace of a network over the stack budget: implemented for
/// every workspace when `nn` has an allocator (feature `alloc`); `X` is the input type of the
/// call and `BYTES` the workspace's size, for the error message.
#[diagnostic::on_unimplemented(
    message = "`forward` needs a `{Self}` of {BYTES} bytes, and this build of nn has no allocator to make one",
    label = "the network's activations ({BYTES} bytes) are over the stack budget (`nn::STACK_BUDGET`, 262144 bytes)",
    note = "pass a workspace yourself: `net.forward_with(&mut workspace, &x)`; a `static` works: `static mut WS: {Self} = {Self}::new();`, or one in a `Mutex`",
    note = "or enable nn's `alloc` feature: `forward` then allocates a workspace (once per thread with `std`)"
)]
pub trait ObtainWorkspace<X: ?Sized, const BYTES: usize>: Sized {
    /// Runs `f` with a zeroed-at-creation workspace (its contents are overwritten by the pass).
    fn with<R>(f: impl FnOnce(&mut Self) -> R) -> R;
}

#[cfg(feature = "alloc")]
impl<W: crate::layers::Zeroable + 'static, X: ?Sized, const BYTES: usize> ObtainWorkspace<X, BYTES>
    for W
{
    #[inline]
    fn with<R>(f: impl FnOnce(&mut Self) -> R) -> R {
        #[cfg(feature = "std")]
        {
            per_thread::with(f)
        }
        #[cfg(not(feature = "std"))]
        {
            f(&mut crate::storage::new_large::<W>(|_| {}))
        }
    }
}

/// One workspace per thread and type, allocated on first use and kept for the next call.
#[cfg(feature = "std")]
mod per_thread {
    use core::any::{Any, TypeId};
    use std::boxed::Box;
    use std::cell::RefCell;
    use std::vec::Vec;

    std::thread_local! {
        static KEPT: RefCell<Vec<(TypeId, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
    }

    /// Runs `f` with this thread's `W`: taken out of the thread's list for the call (so a
    /// nested call, or a panic in `f`, never sees it borrowed twice) and put back after.
    pub fn with<W: crate::layers::Zeroable + 'static, R>(f: impl FnOnce(&mut W) -> R) -> R {
        let id = TypeId::of::<W>();
        let taken = KEPT
            .try_with(|k| {
                let mut k = k.borrow_mut();
                let at = k.iter().position(|(t, _)| *t == id)?;
                Some(k.swap_remove(at).1)
            })
            .ok()
            .flatten()
            .and_then(|b| b.downcast::<W>().ok());
        let mut ws = taken.unwrap_or_else(|| crate::storage::new_large::<W>(|_| {}));
        let r = f(&mut ws);
        // During thread teardown the list may be gone: then the workspace is just dropped.
        let _ = KEPT.try_with(|k| k.borrow_mut().push((id, ws as Box<dyn Any>)));
        r
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::ObtainWorkspace;
    use crate::tensor::{Shape1, Tensor};
    use typenum::U4;

    #[derive(Default)]
    struct Ws(Tensor<Shape1<U4>>);
    // SAFETY: a tensor of f32 is valid all zero.
    unsafe impl crate::layers::Zeroable for Ws {}

    #[test]
    fn a_thread_keeps_its_workspace_and_threads_do_not_share_it() {
        <Ws as ObtainWorkspace<(), 16>>::with(|w| w.0.as_mut_slice()[0] = 7.0);
        let kept = <Ws as ObtainWorkspace<(), 16>>::with(|w| w.0.as_slice()[0]);
        assert_eq!(kept, 7.0, "the same thread gets its workspace back");
        let other =
            std::thread::spawn(|| <Ws as ObtainWorkspace<(), 16>>::with(|w| w.0.as_slice()[0]))
                .join()
                .unwrap();
        assert_eq!(other, 0.0, "another thread gets a new, zeroed one");
        let nested = <Ws as ObtainWorkspace<(), 16>>::with(|outer| {
            outer.0.as_mut_slice()[1] = 1.0;
            <Ws as ObtainWorkspace<(), 16>>::with(|inner| inner.0.as_slice()[1])
        });
        assert_eq!(nested, 0.0, "a nested call gets a workspace of its own");
    }
}
