nn::network! {
    pub struct Sensor {
        input: [4],
        fc: Dense(3),
        Softmax,
    }
}

fn main() {
    let net = Sensor::new(0);
    let x = nn::Input::<Sensor>::from([1.0, 2.0, 3.0, 4.0, 5.0]);
    let _scores = net.forward(&x);
}
