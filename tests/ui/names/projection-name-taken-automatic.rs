nn::network! {
    pub struct Net {
        input: [4],
        Residual(projection) { Dense(3) },
        residual_1_proj: Dense(3),
    }
}

fn main() {}
