nn::network! {
    pub struct Net {
        input: [4, 8, 8],
        block: Residual {
            c1: Conv2d(4, kernel = 3, padding = 2), ReLU,
        },
        Flatten,
        fc: Dense(10),
    }
}

fn main() {}
