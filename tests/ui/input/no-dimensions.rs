nn::network! {
    pub struct Classifier {
        input: [],
        out: Dense(5),
    }
}

fn main() {}
