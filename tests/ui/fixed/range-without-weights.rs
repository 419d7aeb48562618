nn::network! {
    #[fixed(input_range = (-1.0, 1.0))]
    pub struct Jet {
        input: [16],
        fc1: Dense(8), ReLU,
        fc2: Dense(4),
    }
}

fn main() {}
