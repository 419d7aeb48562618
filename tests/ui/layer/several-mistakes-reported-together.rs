nn::network! {
    pub struct JetTagger {
        input: [16],
        fc1: Dens(64), ReLU,
        fc2: Dense(32, unit = 3), LeakyReLU(slope = 0.1, slope = 0.2),
        fc2: Dense(0),
        Softmax(1),
    }
}

fn main() {}
