nn::network! {
    /// Classifies 4x4 thumbnails.
    pub struct Thumbnails {
        input: [1, 4, 4],
        conv: Conv2d(8, kernel = 5), ReLU,
        Flatten,
        out: Dense(3),
        Softmax,
    }
}

fn main() {}
