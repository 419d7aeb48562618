nn::network! {
    #[weights = "weights/does-not-exist.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {}
