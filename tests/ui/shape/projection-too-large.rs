nn::network! {
    pub struct Wide {
        input: [10000],
        Residual(projection) { Dense(1), Dense(10000) },
    }
}

fn main() {}
