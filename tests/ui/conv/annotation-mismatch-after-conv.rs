nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
        conv2: Conv2d(16, kernel = 3) -> [16, 5, 5], ReLU,
        Flatten,
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
