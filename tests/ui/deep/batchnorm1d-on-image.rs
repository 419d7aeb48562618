nn::network! {
    pub struct Net {
        input: [1, 8, 8],
        conv: Conv2d(8, kernel = 3, padding = 1, bias = false), bn: BatchNorm1d, ReLU,
        Flatten,
        out: Dense(10),
    }
}

fn main() {}
