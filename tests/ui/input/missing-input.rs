nn::network! {
    pub struct Classifier {
        fc1: Dense(64), ReLU,
        out: Dense(5),
    }
}

fn main() {}
