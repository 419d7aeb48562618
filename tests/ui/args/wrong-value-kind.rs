nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: Dense(1.5), ReLU,
        out: Dense(5),
    }
}

fn main() {}
