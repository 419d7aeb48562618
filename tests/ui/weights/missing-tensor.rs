// The file has no tensors for the layer `out`.
nn::network! {
    #[weights = "tiny.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2), ReLU,
        out: Dense(2),
        Softmax,
    }
}

fn main() {}
