use nn::prelude::*;

nn::network! {
    pub struct Classifier {
        input: [4],
        fc: Dense(3),
        Softmax,
    }
}

fn main() -> Result<(), nn::Error> {
    let data = Dataset::<Input<Classifier>, usize>::from_csv("labels.csv")?;
    let mut net = Classifier::new(0);
    Trainer::new(Sgd::new(0.1), CrossEntropy)
        .batch_size::<0>()
        .epochs(10)
        .fit(&mut net, &data, None)?;
    Ok(())
}
