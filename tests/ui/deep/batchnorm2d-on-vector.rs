nn::network! {
    pub struct Net {
        input: [64],
        fc1: Dense(32), bn: BatchNorm2d, ReLU,
        out: Dense(10),
    }
}

fn main() {}
