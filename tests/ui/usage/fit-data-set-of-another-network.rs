use nn::prelude::*;

nn::network! {
    pub struct Small {
        input: [4],
        fc: Dense(3),
        Softmax,
    }
}

nn::network! {
    pub struct Wide {
        input: [5],
        fc: Dense(3),
        Softmax,
    }
}

fn main() -> Result<(), nn::Error> {
    let data = Dataset::<Input<Wide>, usize>::from_csv("wide.csv")?;
    let mut net = Small::new(0);
    Trainer::new(Sgd::new(0.1), CrossEntropy).fit(&mut net, &data, None)?;
    Ok(())
}
