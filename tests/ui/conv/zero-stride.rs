nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv: Conv2d(8, kernel = 3, stride = 0), ReLU,
        Flatten,
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
