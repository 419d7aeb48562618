nn::network! {
    /// A jet tagger with a typo in a layer name.
    pub struct JetTagger {
        input: [16],
        fc1: Dens(64), ReLU,
        out: Dense(5),
        Softmax,
    }
}

fn main() {}
