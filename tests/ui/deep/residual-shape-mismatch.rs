nn::network! {
    pub struct ResNet {
        input: [8, 8, 8],
        block1: Residual {
            c1: Conv2d(16, kernel = 3, stride = 2, padding = 1), ReLU,
            c2: Conv2d(16, kernel = 3, padding = 1),
        },
        ReLU,
        Flatten,
        fc: Dense(10),
    }
}

fn main() {}
