nn::network! {
    pub struct Classifier {
        input: [16],
        dense_2: Dense(64),
        Dense(5),
    }
}

fn main() {}
