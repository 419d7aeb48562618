nn::network! {
    pub struct Net {
        input: [4, 8, 8],
        block: Residual(projection) {
            c1: Conv2d(8, kernel = 3),
        },
        Flatten,
        fc: Dense(10),
    }
}

fn main() {}
