nn::network! {
    pub struct Net {
        input: [2, 4, 4],
        block: Residual(projection) { Flatten, d1: Dense(32) },
        out: Dense(10),
    }
}

fn main() {}
