nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: Dense(init = he, 64), ReLU,
        out: Dense(5),
    }
}

fn main() {}
