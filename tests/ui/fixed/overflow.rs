// With the weights known and the inputs' range declared, a sum or result whose type wraps
// around and cannot hold its range is an error at the layer, with the numbers and the fix.
nn::network! {
    #[weights = "m1.safetensors"]
    #[fixed(default = "ap_fixed<16,6>", input_range = (-4.0, 4.0))]
    pub struct Jet {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        output: Dense(5),
    }
}

fn main() {
    let _ = Jet::pretrained().to_fixed();
}
