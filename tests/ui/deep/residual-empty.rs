nn::network! {
    pub struct Net {
        input: [32],
        block: Residual {},
        out: Dense(4),
    }
}

fn main() {}
