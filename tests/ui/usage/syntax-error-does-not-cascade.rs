nn::network! {
    pub struct JetTagger {
        input: [16],
        fc1: Dense(64) ReLU,
        out: Dense(5),
        Softmax,
    }
}

fn main() {
    let net = JetTagger::new(0);
    let scores = net.forward(&[0.0f32; 16]);
    println!("{} parameters, scores {:?}", JetTagger::PARAMS, scores);
}
