nn::network! {
    pub struct Net {
        input: [4],
        __nn_rng: Dense(4),
        Dropout(0.5),
        out: Dense(2),
    }
}

fn main() {}
