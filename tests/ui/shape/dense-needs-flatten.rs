nn::network! {
    /// Classifies 8x8 grey-scale digits.
    pub struct Digits {
        input: [1, 8, 8],
        out: Dense(10),
        Softmax,
    }
}

fn main() {}
