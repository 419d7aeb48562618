nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv: Conv2d(8, kernel = 3, padding = same), ReLU,
        MaxPool2d(2, padding = same),
        Flatten,
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
