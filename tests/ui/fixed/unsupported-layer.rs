nn::network! {
    #[fixed(default = "ap_fixed<16,6>")]
    pub struct Jet {
        input: [16],
        fc1: Dense(8), GELU,
        fc2: Dense(4),
    }
}

fn main() {}
