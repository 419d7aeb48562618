nn::network! {
    pub struct Classifier {
        input: [16],
        fc1: Dense(64), ReLU,
        fc1: Dense(32), ReLU,
        out: Dense(5),
    }
}

fn main() {
    let net = Classifier::new(0);
    let scores = net.forward(&[0.0f32; 16]);
    println!("{:?} {:?}", net.fc1, scores);
}
