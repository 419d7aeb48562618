nn::network! {
    #[derive(Clone, Default)]
    pub struct Net {
        input: [4],
        out: Dense(2),
    }
}

fn main() {}
