nn::network! {
    pub struct Grows {
        input: [4, 8, 8],
        block: Residual(projection) {
            up: Conv2d(8, kernel = 3, padding = 2),
        },
        Flatten,
        fc: Dense(10),
    }
}

fn main() {}
