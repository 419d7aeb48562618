nn::network! {
    pub struct Tiny {
        input: [1, 4, 4],
        conv: Conv2d(4, kernel = 3), ReLU,
        MaxPool2d(3),
        Flatten,
        out: Dense(2),
        Softmax,
    }
}

fn main() {}
