//! Running on a small stack: a thread with 2 MiB (what Rust gives spawned threads) and inputs
//! built in place on the heap.

use nn::prelude::*;
use nn::Network;

/// Runs `f` on a thread with a 2 MiB stack and returns its result; a stack overflow aborts
/// the test binary (so a test that returns passed without one).
pub fn on_2mib_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the thread panicked")
}

/// `B` deterministic, distinct, non-constant inputs, built in place on the heap (a large tensor
/// built by value passes through several stack temporaries in a debug build).
pub fn inputs<N: Network, const B: usize>() -> Vec<Input<N>> {
    let mut xs: Box<[Input<N>]> = nn::zeroed_batch::<N::InputShape, B>();
    for (k, x) in xs.iter_mut().enumerate() {
        for (i, v) in x.as_mut_slice().iter_mut().enumerate() {
            *v = (((i * 7 + k * 13) % 17) as f32 - 8.0) / 8.0;
        }
    }
    xs.into_vec()
}

/// Runs `f`, printing how long it took (visible with `--nocapture`).
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = std::time::Instant::now();
    let r = f();
    eprintln!("{what}: {:.2?}", t.elapsed());
    r
}
