nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: Dense(64, 32), ReLU,
        out: Dense(5),
    }
}

fn main() {}
