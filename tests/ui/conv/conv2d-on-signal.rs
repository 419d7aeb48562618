nn::network! {
    /// MNIST-1D: 40-sample signals of the digits 0-9.
    pub struct Mnist1d {
        input: [1, 40],
        conv: Conv2d(32, kernel = 5, padding = 2), ReLU,
        Flatten,
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
