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

nn_models::m1! { struct M1 }

nn::network! {
    /// Every activation once.
    struct AllActs {
        input: [8],
        Dense(8), Identity, Step, Sigmoid, Tanh, ReLU, GELU, GELU(approximate = tanh), Softplus, ELU(0.5), SELU,
        LeakyReLU(0.1), PReLU, SiLU, Gaussian, Dense(3), Softmax,
    }
}

nn_models::m2! { struct M2 }

nn_models::m3! { struct M3 }

nn::network! {
    /// M4, the MNIST-1D CNN, plus average pooling and per-channel PReLU.
    struct M4 {
        input: [1, 40],
        conv1: Conv1d(32, kernel = 5, padding = 2), ReLU,
        conv2: Conv1d(32, kernel = 3, stride = 2, padding = 1), PReLU(per_channel = true),
        conv3: Conv1d(32, kernel = 3, stride = 2, padding = 1), ReLU,
        AvgPool1d(2, stride = 1, padding = 1, count_include_pad = false),
        Flatten, fc: Dense(10), Softmax,
    }
}

#[test]
fn convolutional_forward_allocates_nothing() {
    // Built before counting: M3's large dense layer is boxed at construction, not at inference.
    let (m2, m3, m4) = (M2::new(1), M3::new(1), M4::new(1));
    let x2 = nn::Input::<M2>::filled(0.5);
    let x3 = nn::Input::<M3>::from_fn(|i| (i as f32 * 0.01).sin());
    let x4 = nn::Input::<M4>::from_fn(|i| (i as f32 * 0.3).cos());
    let before = allocations();
    let mut sink = 0.0;
    for _ in 0..10 {
        sink += m2.forward(&x2)[0] + m3.forward(&x3)[1] + m4.forward(&x4)[2];
        sink += m3.forward_logits(&x3)[3];
    }
    let after = allocations();
    assert!(sink.is_finite());
    assert_eq!(
        after - before,
        0,
        "convolutional inference allocated {} times",
        after - before
    );
}

#[test]
fn large_layers_are_built_on_the_heap_without_a_stack_copy() {
    // M3's fc1 (256 x 120 + 120 floats, 123 KB) lives behind a box: the struct stays small.
    assert!(
        std::mem::size_of::<M3>() < 32 * 1024,
        "M3 is {} bytes inline",
        std::mem::size_of::<M3>()
    );
    let before = allocations();
    let net = M3::new(2);
    assert!(allocations() > before, "the large layers were boxed");
    assert_eq!(net.fc1.weights().len(), 256 * 120);
    assert_eq!((M3::PARAMS, M3::MACS), (44_426, 281_640));
    assert_eq!(M3::PARAM_BYTES, 44_426 * 4);
    assert_eq!(M3::STATE_BYTES, M3::PARAM_BYTES);
    assert_eq!(M3::MAX_ACTIVATION_BYTES, 6 * 24 * 24 * 4);
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
    assert_eq!(
        after - before,
        0,
        "inference allocated {} times",
        after - before
    );
}

#[test]
fn the_counter_counts() {
    // The check above can fail: an allocation is seen.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 10]);
    assert!(allocations() > before);
    drop(v);
}

nn::network! {
    /// Residual blocks, batch normalization and dropout (inference: running statistics, no
    /// dropping), for the batched forward.
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
        out: Dense(3), Softmax,
    }
}

/// `forward_batch` over `count` samples: no allocation, and each output equal to `forward`'s
/// up to rounding.
fn batch_matches_forward<N: nn::Network>(net: &N, count: usize) -> usize {
    let xs: Vec<nn::Input<N>> = (0..count)
        .map(|s| nn::Input::<N>::from_fn(|i| ((s * 131 + i) as f32 * 0.37).sin()))
        .collect();
    let mut ys: Vec<nn::Output<N>> = vec![nn::Output::<N>::filled(f32::NAN); count];
    let before = allocations();
    net.forward_batch(&xs, &mut ys).unwrap();
    let after = allocations();
    assert_eq!(after - before, 0, "{}: forward_batch allocated", N::NAME);
    for (s, (x, y)) in xs.iter().zip(&ys).enumerate() {
        let one = net.forward(x);
        for (o, (a, b)) in y.as_slice().iter().zip(one.as_slice()).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{}: sample {s} of {count}, output {o}: batch {a} vs forward {b}",
                N::NAME
            );
        }
    }
    count
}

#[test]
fn batched_forward_equals_forward_and_allocates_nothing() {
    let (m1, acts, m2, m3, m4, mixed) = (
        M1::new(3),
        AllActs::new(3),
        M2::new(3),
        M3::new(3),
        M4::new(3),
        Mixed::new(3),
    );
    let mut checked = 0;
    // Empty, single, odd, more than one chunk (16 samples for M1), not a multiple of any block.
    for count in [0, 1, 3, 4, 7, 16, 17, 100] {
        checked += batch_matches_forward(&m1, count);
        checked += batch_matches_forward(&acts, count);
        checked += batch_matches_forward(&m2, count);
        checked += batch_matches_forward(&m4, count);
        checked += batch_matches_forward(&mixed, count);
    }
    checked += batch_matches_forward(&m3, 5);
    assert_eq!(checked, 5 * 148 + 5);
}

#[test]
fn batched_forward_rejects_slices_of_different_lengths() {
    let net = M1::new(1);
    let xs = vec![nn::Input::<M1>::filled(0.5); 3];
    let mut ys = vec![nn::Output::<M1>::zeros(); 2];
    let err = net.forward_batch(&xs, &mut ys).unwrap_err();
    assert_eq!((err.inputs, err.outputs), (3, 2));
    assert_eq!(
        err.to_string(),
        "forward_batch was given 3 inputs but 2 outputs; pass slices of the same length"
    );
    let as_error: nn::Error = err.into();
    assert!(as_error.to_string().contains("3 inputs but 2 outputs"));
}

nn::network! {
    /// Only a softmax: the logits are the input itself.
    struct SoftmaxOnly {
        input: [3],
        Softmax,
    }
}

#[test]
fn a_head_right_after_the_input_has_the_input_as_logits() {
    let net = SoftmaxOnly::new(0);
    let x = [1.0f32, 2.0, 3.0];
    assert_eq!(net.forward_logits(&x).as_slice(), &x);
    let p = net.forward(&x);
    let e: Vec<f64> = x.iter().map(|&v| (v as f64).exp()).collect();
    let sum: f64 = e.iter().sum();
    for (got, want) in p.as_slice().iter().zip(&e) {
        assert!(
            (*got as f64 - want / sum).abs() < 1e-6,
            "{got} vs {}",
            want / sum
        );
    }
    assert_eq!(batch_matches_forward(&net, 9), 9);
}
