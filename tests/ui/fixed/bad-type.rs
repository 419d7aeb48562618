nn::network! {
    #[fixed(default = "ap_fixd<16,6>", fc1(result = "ap_fixed<16>"))]
    pub struct Jet {
        input: [16],
        fc1: Dense(8), ReLU,
        fc2: Dense(4),
    }
}

fn main() {}
