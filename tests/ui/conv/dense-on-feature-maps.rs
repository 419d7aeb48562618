nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv: Conv2d(8, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
