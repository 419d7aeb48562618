nn::network! {
    pub struct Long {
        input: [1, 1000000],
        Residual { Conv1d(1, kernel = 2) },
    }
}

fn main() {}
