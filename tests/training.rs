//! Training end to end: a short seeded run on real data must learn (so a broken backward fails
//! CI), runs are reproducible, NaN stops training with a message, early stopping restores the
//! best weights.

use nn::prelude::*;

nn::network! {
    /// Small MLP for the breast-cancer data.
    struct CancerMlp {
        input: [30],
        fc1: Dense(16), ReLU,
        fc2: Dense(2),
        Softmax,
    }
}

nn::network! {
    struct CancerLogistic {
        input: [30],
        linear: Dense(1),
        Sigmoid,
    }
}

fn cancer() -> (
    Dataset<Input<CancerMlp>, usize>,
    Dataset<Input<CancerMlp>, usize>,
) {
    let data = Dataset::from_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/breast_cancer.csv"
    ))
    .expect("data file");
    let (mut train, mut test) = data.stratified_split(0.2, 42).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.transform(&mut train);
    s.transform(&mut test);
    (train, test)
}

fn params_of<N: Parameters>(net: &N) -> Vec<f32> {
    let mut v = Vec::new();
    net.visit("", &mut |_, p| v.extend_from_slice(p));
    v
}

#[test]
fn mlp_learns_breast_cancer_with_softmax_cross_entropy() {
    let (train, test) = cancer();
    let mut net = CancerMlp::new(1);
    let before = accuracy(&net, &test).unwrap();
    let history = Trainer::new(Sgd::new(0.05).momentum(0.9), CrossEntropy)
        .batch_size::<16>()
        .epochs(15)
        .progress(false)
        .seed(3)
        .fit(&mut net, &train, None)
        .expect("training runs");
    let after = accuracy(&net, &test).unwrap();
    let first = history.epochs[0].train_loss;
    let last = history.last().unwrap().train_loss;
    assert!(
        last < first * 0.5,
        "training loss fell only from {first} to {last}"
    );
    assert!(
        after >= 0.95,
        "test accuracy {after} after training (before: {before})"
    );
}

#[test]
fn logistic_regression_learns_with_binary_cross_entropy() {
    let (train, test) = cancer();
    let mut net = CancerLogistic::new(1);
    Trainer::new(Sgd::new(0.1), BinaryCrossEntropy)
        .batch_size::<16>()
        .epochs(30)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap();
    let m = evaluate(&net, &BinaryCrossEntropy, &test).unwrap();
    assert!(m.accuracy.unwrap() >= 0.95, "{m:?}");
    // The sigmoid output agrees with the logit's sign.
    for x in test.x.iter().take(20) {
        let p = net.forward(x)[0];
        let z = net.forward_logits(x)[0];
        assert_eq!(p > 0.5, z > 0.0);
    }
}

#[test]
fn adam_also_trains() {
    let (train, test) = cancer();
    let mut net = CancerMlp::new(5);
    Trainer::new(Adam::new(1e-2), CrossEntropy)
        .epochs(10)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap();
    assert!(accuracy(&net, &test).unwrap() >= 0.95);
}

#[test]
fn same_seed_gives_bit_identical_weights_and_runs() {
    assert_eq!(params_of(&CancerMlp::new(9)), params_of(&CancerMlp::new(9)));
    assert_ne!(
        params_of(&CancerMlp::new(9)),
        params_of(&CancerMlp::new(10))
    );
    let (train, _) = cancer();
    let run = || {
        let mut net = CancerMlp::new(4);
        let h = Trainer::new(Sgd::new(0.05).momentum(0.9), CrossEntropy)
            .epochs(3)
            .seed(11)
            .progress(false)
            .fit(&mut net, &train, None)
            .unwrap();
        (params_of(&net), h)
    };
    let (a, ha) = run();
    let (b, hb) = run();
    assert_eq!(a, b);
    assert_eq!(ha, hb);
}

#[test]
fn nan_in_the_loss_stops_training_naming_epoch_and_batch() {
    let (mut train, _) = cancer();
    // Poison one sample: its loss is NaN in whichever batch holds it.
    train.x[100][3] = f32::NAN;
    let mut net = CancerMlp::new(1);
    let err = Trainer::new(Sgd::new(0.05), CrossEntropy)
        .batch_size::<8>()
        .epochs(5)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap_err();
    match &err {
        nn::Error::NonFinite { epoch, batch, .. } => {
            assert_eq!(*epoch, 1);
            assert!(*batch >= 1 && *batch <= train.len().div_ceil(8));
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("epoch 1") && msg.contains("batch"), "{msg}");
}

#[test]
fn a_too_large_learning_rate_diverges_to_an_error_not_garbage() {
    let (train, _) = cancer();
    let mut net = CancerMlp::new(1);
    let r = Trainer::new(Sgd::new(1e6), CrossEntropy)
        .epochs(50)
        .progress(false)
        .fit(&mut net, &train, None);
    match r {
        Err(nn::Error::NonFinite { .. }) => {}
        Ok(h) => assert!(h.epochs.iter().all(|e| e.train_loss.is_finite())),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let (train, test) = cancer();
    let (train, val) = train.stratified_split(0.3, 2).unwrap();
    let mut net = CancerMlp::new(1);
    // A large learning rate without decay overfits quickly: validation loss turns up.
    let history = Trainer::new(Sgd::new(0.3).momentum(0.9), CrossEntropy)
        .batch_size::<8>()
        .epochs(200)
        .patience(5)
        .progress(false)
        .fit(&mut net, &train, Some(&val))
        .unwrap();
    let best = history.best_epoch.expect("a best epoch");
    let best_loss = history.epochs[best - 1].validation.unwrap().loss;
    let min_loss = history
        .epochs
        .iter()
        .map(|e| e.validation.unwrap().loss)
        .fold(f32::INFINITY, f32::min);
    assert_eq!(
        best_loss, min_loss,
        "best epoch is the minimum of validation loss"
    );
    assert!(
        history.stopped_early,
        "200 epochs without improvement stopping is implausible"
    );
    assert_eq!(
        history.epochs.len(),
        best + 5,
        "stopped exactly `patience` epochs after the best"
    );
    // The network now holds the best epoch's weights: its validation loss is that epoch's.
    let now = evaluate(&net, &CrossEntropy, &val).unwrap().loss;
    assert!(
        (now - best_loss).abs() < 1e-6,
        "restored loss {now} vs best {best_loss}"
    );
    assert!(accuracy(&net, &test).unwrap() > 0.9);
}

#[test]
fn mismatched_loss_and_head_is_an_error() {
    let (train, _) = cancer();
    // Cross-entropy works through a softmax head, not a sigmoid one.
    nn::network! { struct TwoSigmoid { input: [30], fc: Dense(2), Sigmoid } }
    let mut net = TwoSigmoid::new(0);
    let err = Trainer::new(Sgd::new(0.1), CrossEntropy)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap_err();
    assert!(err.to_string().contains("ends in Sigmoid"), "{err}");
}

#[test]
fn labels_out_of_range_are_an_error() {
    let (mut train, _) = cancer();
    train.y[7] = 5;
    let mut net = CancerMlp::new(0);
    let err = Trainer::new(Sgd::new(0.1), CrossEntropy)
        .progress(false)
        .fit(&mut net, &train, None)
        .unwrap_err();
    // Named by its row of the CSV file, through the split.
    let row = format!("{}: row {}", train.source().unwrap(), train.row(7).unwrap());
    assert!(
        matches!(&err, nn::Error::Target { sample, .. } if *sample == row),
        "{err}"
    );
    assert!(err
        .to_string()
        .ends_with("label 5 is not a class of a network with 2 outputs (labels 0 to 1)"));
}

#[test]
fn mse_regression_fits_a_line() {
    nn::network! { struct Line { input: [1], fc: Dense(1) } }
    let mut data = Dataset::<Input<Line>, Output<Line>>::default();
    for i in 0..64 {
        let x = i as f32 / 32.0 - 1.0;
        data.x.push([x].into());
        data.y.push(Tensor::from([3.0 * x - 0.5]));
    }
    let mut net = Line::new(0);
    Trainer::new(Sgd::new(0.1), Mse)
        .batch_size::<8>()
        .epochs(200)
        .progress(false)
        .fit(&mut net, &data, None)
        .unwrap();
    assert!(
        (net.fc.w[0][0] - 3.0).abs() < 1e-3,
        "slope {}",
        net.fc.w[0][0]
    );
    assert!(
        (net.fc.b[0] + 0.5).abs() < 1e-3,
        "intercept {}",
        net.fc.b[0]
    );
}

#[test]
fn optimizers_flush_subnormal_weights_to_zero() {
    // A weight decayed into the subnormal range would slow every multiply-add with it (MNIST-1D's
    // CNN ran 21x slower after weight decay left a fifth of its weights subnormal).
    for adam in [false, true] {
        let mut net = CancerMlp::new(0);
        net.visit_mut("", &mut |name, p| {
            if (name.layer, name.name) == ("fc1", "weight") {
                p[0] = 1e-39; // subnormal
                p[1] = -3e-39;
            }
        });
        let grads: Box<<CancerMlp as Trainable>::Gradients> = Default::default();
        if adam {
            Adam::new(1e-3).weight_decay(0.1).step(&mut net, &grads);
        } else {
            Sgd::new(0.1).weight_decay(0.1).step(&mut net, &grads);
        }
        let mut subnormal = 0;
        net.visit("", &mut |_, p| {
            subnormal += p.iter().filter(|v| v.is_subnormal()).count()
        });
        assert_eq!(subnormal, 0, "adam: {adam}");
        let mut first = [1.0f32; 2];
        net.visit("", &mut |name, p| {
            if (name.layer, name.name) == ("fc1", "weight") {
                first.copy_from_slice(&p[..2]);
            }
        });
        if !adam {
            // SGD moves them by a subnormal amount: flushed. (Adam's normalized step moves them
            // to about -1e-35, a normal number.)
            assert_eq!(first, [0.0, 0.0]);
        }
    }
}
