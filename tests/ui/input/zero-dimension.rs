nn::network! {
    pub struct Classifier {
        input: [0],
        fc1: Dense(64), ReLU,
        out: Dense(5),
    }
}

fn main() {}
