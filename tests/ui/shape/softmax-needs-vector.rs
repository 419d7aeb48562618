nn::network! {
    pub struct Digits {
        input: [1, 8, 8],
        Softmax,
    }
}

fn main() {}
