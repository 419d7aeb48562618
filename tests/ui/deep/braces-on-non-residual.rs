nn::network! {
    pub struct Net {
        input: [8],
        Dense(4) { ReLU },
        out: Dense(2),
    }
}

fn main() {}
