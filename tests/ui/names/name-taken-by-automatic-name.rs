nn::network! {
    pub struct Classifier {
        input: [16],
        Dense(64), ReLU,
        dense_1: Dense(5),
    }
}

fn main() {}
