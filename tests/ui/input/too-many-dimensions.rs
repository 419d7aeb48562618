nn::network! {
    pub struct Video {
        input: [3, 16, 32, 32],
        Flatten,
        out: Dense(10),
    }
}

fn main() {}
