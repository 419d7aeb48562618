nn::network! {
    pub struct Net {
        input: [32],
        fc: Dense(32), Residual,
        out: Dense(4),
    }
}

fn main() {}
