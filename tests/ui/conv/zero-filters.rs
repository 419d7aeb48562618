nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv: Conv2d(0, kernel = 3), ReLU,
        Flatten,
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
