nn::network! {
    pub struct Empty {
        input: [16],
    }
}

fn main() {}
