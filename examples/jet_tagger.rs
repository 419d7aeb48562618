use nn::prelude::*;

nn::network! {
    /// The hls4ml jet tagger.
    pub struct JetTagger {
        input: [16],
        fc1: Dense(64), ReLU,
        fc2: Dense(32), ReLU,
        fc3: Dense(32), ReLU,
        out: Dense(5),
        Softmax,
    }
}

fn main() {
    let net = JetTagger::new(1);
    print!("{}", JetTagger::SUMMARY);
    let x = Input::<JetTagger>::try_from(&[0.1f32; 16][..]).unwrap();
    println!("{:?}", net.forward(&x));
}
