nn::network! {
    #[fixed(relu_2(weight = "ap_fixed<8,3>"), fc2(table_size = 1000))]
    pub struct Jet {
        input: [16],
        fc1: Dense(8), ReLU,
        fc2: Dense(4),
    }
}

fn main() {}
