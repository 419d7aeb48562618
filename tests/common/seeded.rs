//! Seeded inputs and parameters from the benchmark input stream (`nn_models::bench::Inputs`,
//! values in [-2, 2)), shared by the int8 suites whose fixtures were written from them.

use nn::{safetensors_bytes, Layout, SafeTensors, Shape, Tensor};
use nn_models::bench::Inputs;

/// `n` tensors from the stream of `seed`, times `gain`.
pub fn inputs<S: Shape>(seed: u64, n: usize, gain: f32) -> Vec<Tensor<S>> {
    let mut stream = Inputs::new(seed);
    (0..n)
        .map(|_| Tensor::<S>::from_fn(|_| gain * stream.next().unwrap_or(0.0)))
        .collect()
}

/// `net` with every bias drawn from the stream of `seed`, times 0.1 (a fresh network's are
/// zeros; int8 biases then never reach the requantization).
pub fn with_biases<N: SafeTensors>(net: &N, seed: u64) -> N {
    let mut stream = Inputs::new(seed);
    let mut tensors = net.state_dict(Layout::PyTorch);
    for t in tensors.iter_mut().filter(|t| t.name.ends_with(".bias")) {
        for v in t.data.iter_mut() {
            *v = 0.1 * stream.next().unwrap_or(0.0);
        }
    }
    let bytes = safetensors_bytes(&tensors).expect("serialize");
    N::from_safetensors_bytes(&bytes, "biases", Layout::PyTorch).expect("reload")
}
