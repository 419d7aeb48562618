nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: Dense, ReLU,
        out: Dense(5),
    }
}

fn main() {}
