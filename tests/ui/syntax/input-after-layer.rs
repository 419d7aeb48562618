nn::network! {
    pub struct Classifier {
        fc1: Dense(64), ReLU,
        input: [16],
        out: Dense(5),
    }
}

fn main() {}
