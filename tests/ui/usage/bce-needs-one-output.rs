use nn::prelude::*;

nn::network! {
    pub struct Detector {
        input: [4],
        fc: Dense(3),
        Sigmoid,
    }
}

fn main() -> Result<(), nn::Error> {
    let data = Dataset::<Input<Detector>, usize>::from_csv("labels.csv")?;
    let mut net = Detector::new(0);
    Trainer::new(Sgd::new(0.1), BinaryCrossEntropy).fit(&mut net, &data, None)?;
    Ok(())
}
