//! The correct uses next to the mistakes of `tests/ui/usage/`: an input array of the right
//! length, data sets made for the network, targets that suit the loss, binary cross-entropy on one
//! output and a batch size of at least 1. It compiles and runs.

use nn::prelude::*;

nn::network! {
    pub struct Classifier {
        input: [4],
        fc: Dense(3),
        Softmax,
    }
}

nn::network! {
    pub struct Regressor {
        input: [4],
        out: Dense(3),
    }
}

nn::network! {
    pub struct Detector {
        input: [4],
        fc: Dense(1),
        Sigmoid,
    }
}

fn main() -> Result<(), nn::Error> {
    let x = nn::Input::<Classifier>::from([1.0, 2.0, 3.0, 4.0]);
    let y: nn::Input<Classifier> = [4.0, 3.0, 2.0, 1.0].into();
    let _scores = Classifier::new(0).forward(&x);
    let _scores = Classifier::new(0).forward(&[1.0; 4]);

    // The three networks have inputs of the same shape: one data set of inputs serves all.
    let inputs = vec![x.clone(), y.clone(), x, y];
    let labels = Dataset::<Input<Classifier>, usize>::new(inputs.clone(), vec![0, 1, 0, 1])?;
    let values = Dataset::<Input<Regressor>, Output<Regressor>>::new(
        inputs,
        vec![Output::<Regressor>::from([0.0, 1.0, 2.0]); 4],
    )?;

    let mut classifier = Classifier::new(0);
    Trainer::new(Sgd::new(0.1), CrossEntropy)
        .batch_size::<2>()
        .epochs(2)
        .progress(false)
        .fit(&mut classifier, &labels, Some(&labels))?;
    let _ = (accuracy(&classifier, &labels).unwrap(), evaluate(&classifier, &CrossEntropy, &labels).unwrap());

    let mut regressor = Regressor::new(0);
    Trainer::new(Adam::new(0.01), Mse)
        .batch_size::<1>()
        .epochs(2)
        .progress(false)
        .fit(&mut regressor, &values, None)?;
    let _ = evaluate(&regressor, &Mse, &values).unwrap();

    let mut detector = Detector::new(0);
    Trainer::new(Sgd::new(0.1), BinaryCrossEntropy)
        .epochs(2)
        .progress(false)
        .fit(&mut detector, &labels, None)?;
    let _ = evaluate(&detector, &BinaryCrossEntropy, &labels).unwrap();
    Ok(())
}
