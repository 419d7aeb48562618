nn::network! {
    pub struct Net {
        input: [32],
        block: Residual(shortcut) { d1: Dense(32), ReLU, d2: Dense(32) },
        out: Dense(4),
    }
}

fn main() {}
