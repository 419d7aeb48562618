//! Networks whose activations do not fit on a thread's stack run anyway: the macro keeps
//! activations on the stack up to its budget (`nn::STACK_BUDGET`) and gives bigger networks a
//! workspace on the heap. A CIFAR-size ResNet-20 (2.3 MB of activations) runs `forward`,
//! `forward_batch` and a batch-32 training step on a thread with a 2 MiB stack, in a debug build
//! (where locals are not merged: the worst case). The 224x224 network of the hardening issue is in
//! `stack_conv224.rs`. The budget itself: a network at it keeps its activations on the stack, one
//! over it gets a workspace.

mod common;

use common::stack::{inputs, on_2mib_stack, timed};
use nn::prelude::*;

nn::network! {
    /// ResNet-20 for CIFAR-10 (He et al. 2016): three stages of three residual blocks at 16, 32
    /// and 64 filters.
    pub struct ResNet20 {
        input: [3, 32, 32],
        stem: Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU,
        Residual { Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        Residual { Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        Residual { Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(16, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        Residual(projection) { Conv2d(32, kernel = 3, stride = 2, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d } -> [32, 16, 16], ReLU,
        Residual { Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        Residual { Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(32, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        Residual(projection) { Conv2d(64, kernel = 3, stride = 2, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d } -> [64, 8, 8], ReLU,
        Residual { Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        Residual { Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d, ReLU, Conv2d(64, kernel = 3, padding = 1, bias = false), BatchNorm2d }, ReLU,
        AvgPool2d(8), Flatten,
        fc: Dense(10), Softmax,
    }
}

#[test]
fn resnet20_forward_on_a_2mib_stack() {
    on_2mib_stack(|| {
        let net = ResNet20::new(1);
        let xs = inputs::<ResNet20, 3>();
        let y = timed("resnet20 forward", || net.forward(&xs[0]));
        let sum: f32 = y.as_slice().iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "softmax output sums to {sum}");
        let mut ys = vec![Output::<ResNet20>::default(); xs.len()];
        timed("resnet20 forward_batch x3", || {
            net.forward_batch(&xs, &mut ys)
        })
        .unwrap();
        for (x, y) in xs.iter().zip(&ys) {
            let one = net.forward(x);
            for (a, b) in one.as_slice().iter().zip(y.as_slice()) {
                assert!((a - b).abs() < 1e-5, "forward_batch {b} vs forward {a}");
            }
        }
    });
}

#[test]
fn resnet20_trains_a_batch_of_32_on_a_2mib_stack() {
    on_2mib_stack(|| {
        let mut net = ResNet20::new(1);
        let xs = inputs::<ResNet20, 32>();
        let before = net.forward(&xs[0]);
        let ys: Vec<usize> = (0..32).map(|s| s % 10).collect();
        let data = Dataset::new(xs, ys).unwrap();
        let mut trainer = Trainer::new(Sgd::new(0.01), CrossEntropy).epochs(1);
        let history = timed("resnet20 one batch-32 step", || {
            trainer.fit(&mut net, &data, None)
        })
        .unwrap();
        assert!(history.last().unwrap().train_loss.is_finite());
        let after = net.forward(&data.x[0]);
        assert_ne!(
            before.as_slice(),
            after.as_slice(),
            "the step changed nothing"
        );
    });
}

nn::network! {
    /// Activations of exactly the budget: 65,535 + 1 values of 4 bytes.
    pub struct AtBudget {
        input: [65535],
        ReLU, fc: Dense(1),
    }
}

nn::network! {
    /// One value over the budget.
    pub struct OverBudget {
        input: [65536],
        ReLU, fc: Dense(1),
    }
}

#[test]
fn the_budget_is_nn_stack_budget_and_a_network_over_it_gets_a_workspace() {
    assert_eq!(nn::STACK_BUDGET, 256 * 1024);
    assert_eq!(AtBudget::STACK_BYTES, nn::STACK_BUDGET);
    assert_eq!(
        AtBudget::WORKSPACE_BYTES,
        0,
        "at the budget, activations stay on the stack"
    );
    assert_eq!(OverBudget::WORKSPACE_BYTES, nn::STACK_BUDGET + 4);
    assert_eq!(OverBudget::STACK_BYTES, OverBudget::OUTPUT_LEN * 4);
    assert_eq!(OverBudgetWorkspace::BYTES, OverBudget::WORKSPACE_BYTES);
    assert!(AtBudget::SUMMARY.contains("Stack per call: 262,144 bytes (activations on the stack)"));
    assert!(
        OverBudget::SUMMARY.contains("activations in OverBudgetWorkspace: 262,148 bytes (over the 262,144-byte stack budget)"),
        "{}",
        OverBudget::SUMMARY
    );
    println!("{}", ResNet20::SUMMARY);
    const { assert!(ResNet20::WORKSPACE_BYTES > nn::STACK_BUDGET) };
}

/// A workspace in a `static` (here behind a `Mutex`; `new` is `const`), reused across calls:
/// every pass overwrites what the last one left.
static WS: std::sync::Mutex<OverBudgetWorkspace> =
    std::sync::Mutex::new(OverBudgetWorkspace::new());

#[test]
fn forward_with_a_static_workspace_equals_forward_and_reuse_leaves_no_trace() {
    let net = OverBudget::new(0);
    let xs = inputs::<OverBudget, 2>();
    let mut ws = WS.lock().unwrap();
    let first = net.forward(&xs[0]);
    assert_ne!(first.as_slice(), net.forward(&xs[1]).as_slice());
    for x in [&xs[0], &xs[1], &xs[0]] {
        let want = net.forward(x);
        assert_eq!(net.forward_with(&mut ws, x).as_slice(), want.as_slice());
        assert_eq!(
            net.forward_logits_with(&mut ws, x).as_slice(),
            want.as_slice()
        );
    }
    assert_eq!(
        net.forward_with(&mut ws, &xs[0]).as_slice(),
        first.as_slice()
    );
    let mut ys = vec![Output::<OverBudget>::default(); 2];
    net.forward_batch_with(&mut ws, &xs, &mut ys).unwrap();
    assert_eq!(ys[1].as_slice(), net.forward(&xs[1]).as_slice());
    let mut short = vec![Output::<OverBudget>::default(); 1];
    let err = net.forward_batch(&xs, &mut short).unwrap_err();
    assert_eq!((err.inputs, err.outputs), (2, 1));
}

nn_models::m1! { struct M1 }
nn_models::m2! { struct M2 }
nn_models::m3! { struct M3 }
nn_models::m4! { struct M4 }

/// The reference models are all far within the budget: their activations stay on the stack,
/// where inference is fastest.
#[test]
fn the_reference_models_keep_their_activations_on_the_stack() {
    for (name, stack, workspace, summary) in [
        ("M1", M1::STACK_BYTES, M1::WORKSPACE_BYTES, M1::SUMMARY),
        ("M2", M2::STACK_BYTES, M2::WORKSPACE_BYTES, M2::SUMMARY),
        (
            "M3 (LeNet-5)",
            M3::STACK_BYTES,
            M3::WORKSPACE_BYTES,
            M3::SUMMARY,
        ),
        ("M4", M4::STACK_BYTES, M4::WORKSPACE_BYTES, M4::SUMMARY),
        (
            "ResNet-20",
            ResNet20::STACK_BYTES,
            ResNet20::WORKSPACE_BYTES,
            ResNet20::SUMMARY,
        ),
    ] {
        println!("{name}: STACK_BYTES {stack}, WORKSPACE_BYTES {workspace}");
        assert!(stack <= nn::STACK_BUDGET, "{name}");
        assert!(summary.contains("Stack per call: "), "{name}");
        assert_eq!(workspace == 0, !name.starts_with("ResNet"), "{name}");
    }
    const {
        assert!(
            M3::STACK_BYTES < 64 * 1024,
            "LeNet-5 needs less than 64 KiB"
        )
    };
}
