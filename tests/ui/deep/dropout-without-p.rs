nn::network! {
    pub struct Net {
        input: [64],
        fc1: Dense(32), ReLU, Dropout,
        out: Dense(10),
    }
}

fn main() {}
