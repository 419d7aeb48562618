//! The network of the hardening issue that overflowed every stack up to 32 MiB: two 64-filter
//! convolutions at 224x224 (30.5 MB of activations: both convolutions, both poolings, the
//! flattened copy). Over the stack budget, its activations live
//! in a workspace: `forward`, `forward_batch` and a batch-32 training step run on a thread with a
//! 2 MiB stack.
//!
//! Its forward pass is 1.9 GMAC: 20 s per sample in a debug build, so these tests run in release
//! builds only (CI: `cargo test --release --test stack_conv224`); the debug-build stack case is
//! ResNet-20 in `stack_budget.rs`.

mod common;

use common::stack::{inputs, on_2mib_stack, timed};
use nn::prelude::*;

nn::network! {
    /// Two 3x3 convolutions at 224x224: 12.8 MB per activation.
    pub struct Conv224 {
        input: [3, 224, 224],
        conv1: Conv2d(64, kernel = 3, padding = 1), ReLU,
        conv2: Conv2d(64, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2), MaxPool2d(2),
        Flatten,
        fc: Dense(10),
    }
}

#[test]
fn conv224_keeps_its_activations_in_a_workspace() {
    assert_eq!(
        Conv224::WORKSPACE_BYTES,
        4 * (2 * 64 * 224 * 224 + 64 * 112 * 112 + 2 * 64 * 56 * 56 + 10)
    );
    assert_eq!(
        Conv224::STACK_BYTES,
        4 * 10,
        "only the returned output is on the stack"
    );
    assert!(
        Conv224::SUMMARY.contains("activations in Conv224Workspace: 30,507,048 bytes"),
        "{}",
        Conv224::SUMMARY
    );
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "20 s per sample in a debug build: run with --release"
)]
fn conv224_forward_on_a_2mib_stack() {
    on_2mib_stack(|| {
        let net = Conv224::new(1);
        let xs = inputs::<Conv224, 2>();
        let y = timed("conv224 forward", || net.forward(&xs[0]));
        assert!(y.as_slice().iter().all(|v| v.is_finite()));
        assert!(y.as_slice().iter().any(|&v| v != 0.0));
        let mut ys = vec![Output::<Conv224>::default(); xs.len()];
        timed("conv224 forward_batch x2", || {
            net.forward_batch(&xs, &mut ys)
        })
        .unwrap();
        assert_eq!(
            ys[0].as_slice(),
            y.as_slice(),
            "forward_batch differs from forward"
        );
        assert_ne!(
            ys[1].as_slice(),
            y.as_slice(),
            "another input, the same output"
        );
    });
}

#[test]
#[cfg_attr(debug_assertions, ignore = "1.9 GMAC per sample: run with --release")]
fn conv224_trains_a_batch_of_32_on_a_2mib_stack() {
    on_2mib_stack(|| {
        let mut net = Conv224::new(1);
        let xs = inputs::<Conv224, 32>();
        let before = net.forward(&xs[0]);
        let ys: Vec<usize> = (0..32).map(|s| s % 10).collect();
        let data = Dataset::new(xs, ys).unwrap();
        let mut trainer = Trainer::new(Sgd::new(1e-4), CrossEntropy).epochs(1);
        let history = timed("conv224 one batch-32 step", || {
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
        // A copy of the network (8 MB of dense weights) is built in place, not on the stack
        // (`Trainer::fit` keeps one for early stopping).
        let copy = net.clone();
        assert_eq!(copy.forward(&data.x[0]).as_slice(), after.as_slice());
    });
}
