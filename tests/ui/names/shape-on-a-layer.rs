nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: [64],
        out: Dense(5),
    }
}

fn main() {}
