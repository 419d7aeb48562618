nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: Dense(64), GELU(tanh),
        out: Dense(5),
    }
}

fn main() {}
