nn::network! {
    Classifier {
        input: [16],
        out: Dense(5),
    }
}

fn main() {}
