//! M3, a LeNet-5 style CNN on 28x28 images, run on a 2 MiB thread stack, printing the stack and
//! heap bytes it uses.
//!
//! Run: `cargo run --release --example lenet`. The images are the scikit-learn digits (8x8)
//! resized to 28x28 by bilinear interpolation: real handwriting at LeNet's input size (MNIST
//! itself is not shipped and nothing may download at run time). Stratified 80/20 split, seed 3.
//! Writes `lenet_curves.png`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use nn::prelude::*;

nn_models::m3! {
    /// LeNet-5 style (M3, whose layers `nn_models::m3!` declares).
    pub struct LeNet
}

/// Counts heap bytes currently allocated and the peak, to report what the network uses.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SEED: u64 = 3;
const STACK: usize = 2 << 20;

/// Address near the stack pointer of a frame called from the caller's frame.
#[inline(never)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    black_box(&marker) as *const u8 as usize
}

/// Calls `f` in a frame of its own.
#[inline(never)]
fn call(f: &mut dyn FnMut()) {
    f()
}

/// Bytes of stack that `f` uses, measured by stack painting (the usual embedded technique):
/// the region below the current stack pointer (no live frame is there) is filled with a
/// pattern, `f` runs in a frame of its own, and the deepest overwritten byte gives the depth.
/// The region is read and written with volatile raw-pointer accesses to this thread's own,
/// mapped stack.
#[inline(never)]
fn stack_used(depth: usize, mut f: impl FnMut()) -> usize {
    const PATTERN: u8 = 0xA5;
    let top = stack_pointer() - 256;
    let low = top - depth;
    // SAFETY: `[low, top)` lies below the stack pointer, within this thread's stack mapping
    // (the thread's stack is larger than `depth` and we are near its top); no frame is live there.
    unsafe {
        for a in low..top {
            std::ptr::write_volatile(a as *mut u8, PATTERN);
        }
    }
    call(&mut f);
    // SAFETY: as above; the bytes are plain memory.
    let deepest =
        unsafe { (low..top).find(|&a| std::ptr::read_volatile(a as *const u8) != PATTERN) };
    deepest.map_or(0, |a| top + 256 - a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Everything runs on a thread with a 2 MiB stack.
    let worker = std::thread::Builder::new().stack_size(STACK).spawn(run)?;
    worker.join().map_err(|_| "the worker thread panicked")??;
    Ok(())
}

fn run() -> Result<(), String> {
    use nn::typenum::U64;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv");
    let small = Dataset::<Tensor<Shape1<U64>>, usize>::from_csv(path).map_err(|e| e.to_string())?;
    let mut data: Dataset<Input<LeNet>, usize> = Dataset::default();
    for (x, &y) in small.iter() {
        data.x.push(
            Input::<LeNet>::try_from(&common::resize_digit(x.as_slice())[..])
                .map_err(|e| e.to_string())?,
        );
        data.y.push(y);
    }
    let (train, test) = data
        .stratified_split(0.2, SEED)
        .map_err(|e| e.to_string())?;
    let (fit, val) = train
        .stratified_split(0.1, SEED + 1)
        .map_err(|e| e.to_string())?;
    println!(
        "digits at 28x28: {} train, {} validation, {} test images",
        fit.len(),
        val.len(),
        test.len()
    );
    print!("{}", LeNet::SUMMARY);

    let heap_before = LIVE.load(Relaxed);
    let mut net = LeNet::new(SEED);
    let heap_net = LIVE.load(Relaxed) - heap_before;
    println!(
        "network: {} bytes inline (struct), {} bytes on the heap (large layers boxed), {} parameters = {} bytes",
        std::mem::size_of::<LeNet>(),
        heap_net,
        LeNet::PARAMS,
        LeNet::PARAMS * 4
    );

    let history = Trainer::new(
        Sgd::new(0.02).momentum(0.9).weight_decay(1e-3),
        CrossEntropy,
    )
    .batch_size::<32>()
    .epochs(30)
    .patience(8)
    .seed(SEED)
    .fit(&mut net, &fit, Some(&val))
    .map_err(|e| e.to_string())?;
    println!(
        "trained {} epochs, best epoch {:?}",
        history.epochs.len(),
        history.best_epoch
    );
    common::plot_history(
        "lenet_curves.png",
        "LeNet-5 (M3) on digits at 28x28",
        &history,
    )
    .map_err(|e| e.to_string())?;

    // Inference: stack measured by painting, heap by the counting allocator (expected: 0).
    let x = test.x[0].clone();
    let heap_before = LIVE.load(Relaxed);
    let peak_before = PEAK.swap(heap_before, Relaxed);
    let mut class = 0;
    let stack = stack_used(STACK / 2, || {
        class = black_box(&net).forward(black_box(&x)).argmax()
    });
    let heap_inference = PEAK.load(Relaxed) - heap_before;
    PEAK.fetch_max(peak_before, Relaxed);
    println!("inference on a {} KiB thread stack: {stack} bytes of stack, {heap_inference} bytes of heap (predicted {class}, label {})", STACK / 1024, test.y[0]);
    println!("peak heap while training: {} bytes", PEAK.load(Relaxed));

    let m = evaluate(&net, &CrossEntropy, &test).map_err(|e| e.to_string())?;
    println!("test loss: {:.4}", m.loss);
    println!("test accuracy: {:.4}", m.accuracy.unwrap_or(0.0));
    Ok(())
}
