nn::network! {
    pub struct Classifier {
        input: [16],
        hidden: Dense(64), GELU(approximate = cubic),
        out: Dense(5),
    }
}

fn main() {}
