nn::network! {
    #[derive(PartialEq, Hash)]
    pub struct Net {
        input: [4],
        out: Dense(2),
    }
}

fn main() {}
