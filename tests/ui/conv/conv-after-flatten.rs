nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
        Flatten,
        conv2: Conv2d(16, kernel = 3), ReLU,
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
