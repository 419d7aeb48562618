nn::network! {
    #[weights = "m1.safetensors"]
    #[fixed(fc1(accum = "auto"))]
    pub struct Jet {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        output: Dense(5),
    }
}

fn main() {}
