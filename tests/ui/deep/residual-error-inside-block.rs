nn::network! {
    pub struct Net {
        input: [1, 8, 8],
        stem: Conv2d(8, kernel = 3, padding = 1),
        block: Residual { c1: Conv2d(8, kernel = 3, padding = 1), BatchNorm1d, Relu },
        Flatten,
        out: Dense(10),
    }
}

fn main() {}
