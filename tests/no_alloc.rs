//! Inference allocates nothing: a counting global allocator around `forward`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run in parallel threads; each counts its own).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCS.with(|c| c.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

nn::network! {
    /// M1, the jet tagger.
    struct M1 {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        out: Dense(5),
        Softmax,
    }
}

nn::network! {
    /// Every activation once.
    struct AllActs {
        input: [8],
        Dense(8), Identity, Step, Sigmoid, Tanh, ReLU, GELU, GELU(approximate = tanh), Softplus, ELU(0.5), SELU,
        LeakyReLU(0.1), PReLU, SiLU, Gaussian, Dense(3), Softmax,
    }
}

#[test]
fn forward_allocates_nothing() {
    let m1 = M1::new(1);
    let acts = AllActs::new(1);
    let inputs: Vec<f32> = (0..16 * 64).map(|i| (i as f32 * 0.37).sin()).collect();
    let before = allocations();
    let mut sink = 0.0;
    for chunk in inputs.chunks_exact(16) {
        let x = nn::Input::<M1>::try_from(chunk).unwrap();
        sink += m1.forward(&x)[0];
        sink += m1.forward_logits(&x)[1];
        let y: &[f32; 8] = chunk[..8].try_into().unwrap();
        sink += acts.forward(y)[2];
    }
    let after = allocations();
    assert!(sink.is_finite());
    assert_eq!(after - before, 0, "inference allocated {} times", after - before);
}

#[test]
fn the_counter_counts() {
    // The check above can fail: an allocation is seen.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 10]);
    assert!(allocations() > before);
    drop(v);
}
