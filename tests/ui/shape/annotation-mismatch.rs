nn::network! {
    pub struct Classifier {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32) -> [64], ReLU,
        out: Dense(5),
    }
}

fn main() {}
