nn::network! {
    #[fixed(default = "ap_fixed<16,6>", fc4(accum = "ap_fixed<24,10>"))]
    pub struct Jet {
        input: [16],
        fc1: Dense(8), ReLU,
        fc3: Dense(4),
    }
}

fn main() {}
