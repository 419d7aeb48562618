//! Must not build (checked by `.ci/run`): without `alloc`, `forward` on a network whose
//! activations are over the stack budget has no way to get a workspace, and the error says to
//! pass one (`forward_with`).
#![no_std]

nn::network! {
    /// Over the stack budget (324 KiB of activations).
    pub struct Wide {
        input: [1, 96, 96],
        conv: Conv2d(8, kernel = 3, padding = 1), ReLU,
        MaxPool2d(4), Flatten,
        fc: Dense(4),
    }
}

/// Does not compile: `forward` needs an allocator here.
pub fn classify(pixels: &[f32; 9216], net: &Wide) -> usize {
    net.forward(pixels).argmax()
}
