nn::network! {
    pub struct Net {
        input: [4],
        r: Residual(projection) { Dense(3) },
        r_proj: Dense(3),
    }
}

fn main() {}
