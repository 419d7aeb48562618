use nn::prelude::*;

nn::network! {
    pub struct Regressor {
        input: [4],
        hidden: Dense(8), ReLU,
        out: Dense(3),
    }
}

fn main() -> Result<(), nn::Error> {
    let data = Dataset::<Input<Regressor>, usize>::from_csv("classes.csv")?;
    let mut net = Regressor::new(0);
    Trainer::new(Adam::new(0.01), Mse).fit(&mut net, &data, None)?;
    Ok(())
}
