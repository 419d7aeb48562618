nn::network! {
    pub struct Classifier {
        input: [16],
        input: [16],
        out: Dense(5),
    }
}

fn main() {}
