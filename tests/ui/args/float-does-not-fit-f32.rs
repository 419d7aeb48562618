nn::network! {
    pub struct Net {
        input: [4],
        fc1: Dense(8), ELU(1e39),
        fc2: Dense(8), LeakyReLU(slope = -1e39),
        fc3: Dense(8), PReLU(init = 1e39),
        out: Dense(2),
    }
}

fn main() {}
