//! Training end to end with batch normalization, residual blocks and dropout: the ResNet of the
//! `network!` documentation learns the scikit-learn digits (8x8 images, inputs scaled by 1/16,
//! stratified 80/20 split with seed 42), and after training inference (`forward`, which uses
//! the running statistics and no dropout) agrees with the training path (`forward_train`, batch
//! statistics and dropout).
//!
//! Stated results (seeded, so reproducible): test accuracy >= 0.90 at inference after 8 epochs
//! of Adam; the training-path accuracy on the same test images within 3 percentage points of
//! it. The running statistics are what inference uses: with them reset to their initial
//! values (mean 0, variance 1) the same weights classify the test set far worse.

use nn::prelude::*;
use nn::{BatchNorm, Parameters};

nn::network! {
    pub struct ResNet {
        input: [1, 8, 8],
        stem: Conv2d(8, kernel = 3, padding = 1, bias = false), bn0: BatchNorm2d, ReLU,
        block1: Residual { c1: Conv2d(8, kernel = 3, padding = 1), ReLU, c2: Conv2d(8, kernel = 3, padding = 1) }, ReLU,
        block2: Residual(projection) { c3: Conv2d(16, kernel = 3, stride = 2, padding = 1), BatchNorm2d, ReLU, c4: Conv2d(16, kernel = 3, padding = 1) } -> [16, 4, 4], ReLU,
        Flatten, Dropout(0.25),
        fc: Dense(10), Softmax,
    }
}

const SEED: u64 = 42;
const B: usize = 32;

type Data = Dataset<Input<ResNet>, usize>;

fn digits() -> (Data, Data) {
    let mut data = Data::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv"))
        .expect("data/digits.csv");
    for x in &mut data.x {
        x.as_mut_slice().iter_mut().for_each(|v| *v /= 16.0);
    }
    data.stratified_split(0.2, SEED).unwrap()
}

/// Accuracy through the training path: `forward_train` on batches of `B` test images (batch
/// statistics, dropout), on a clone so the network is not changed. The last batch is filled
/// up with images from the start; only the real ones are counted.
fn training_path_accuracy(net: &ResNet, data: &Data) -> f32 {
    let mut net = net.clone();
    let n = data.len();
    let mut correct = 0;
    for start in (0..n).step_by(B) {
        let x: [Input<ResNet>; B] = std::array::from_fn(|k| data.x[(start + k) % n].clone());
        let cache = net.forward_train::<B>(&x);
        for (k, p) in ResNet::cache_logits(&cache).iter().enumerate() {
            if start + k < n && p.argmax() == data.y[start + k] {
                correct += 1;
            }
        }
    }
    correct as f32 / n as f32
}

#[test]
fn resnet_with_batchnorm_and_dropout_learns_digits() {
    let (train, test) = digits();
    let mut net = ResNet::new(SEED);
    println!("{}", ResNet::SUMMARY);
    let before = accuracy(&net, &test).unwrap();
    let history = Trainer::new(Adam::new(3e-3), CrossEntropy)
        .batch_size::<B>()
        .epochs(8)
        .progress(false)
        .seed(SEED)
        .fit(&mut net, &train, None)
        .expect("training runs");
    for e in &history.epochs {
        println!(
            "epoch {}: loss {:.4}, train accuracy {:.4}",
            e.epoch,
            e.train_loss,
            e.train_accuracy.unwrap_or(0.0)
        );
    }
    let infer = accuracy(&net, &test).unwrap();
    let infer_eval = evaluate(&net, &CrossEntropy, &test).unwrap();
    let train_path = training_path_accuracy(&net, &test);
    println!(
        "test accuracy: before training {before:.4}, inference {infer:.4} (loss {:.4}), training path {train_path:.4}",
        infer_eval.loss
    );
    assert!(infer >= 0.90, "test accuracy at inference {infer} < 0.90");
    assert!(
        (infer - train_path).abs() <= 0.03,
        "inference accuracy {infer} and training-path accuracy {train_path} differ by more than 3 points"
    );

    // The running statistics moved away from their start and are what inference uses.
    let (rm, rv) = (net.bn0.running_mean, net.bn0.running_var);
    assert!(
        rm.iter().any(|&m| m.abs() > 1e-3),
        "bn0 running mean stayed at 0: {rm:?}"
    );
    assert!(
        rv.iter().any(|&v| (v - 1.0).abs() > 1e-2),
        "bn0 running variance stayed at 1: {rv:?}"
    );
    let mut reset = net.clone();
    reset.bn0.init();
    reset.batchnorm2d_11.init();
    // `init` also resets gamma and beta: put the trained ones back.
    reset.bn0.gamma = net.bn0.gamma;
    reset.bn0.beta = net.bn0.beta;
    reset.batchnorm2d_11.gamma = net.batchnorm2d_11.gamma;
    reset.batchnorm2d_11.beta = net.batchnorm2d_11.beta;
    let stats = |b: &BatchNorm<nn::typenum::U16>| (b.running_mean, b.running_var);
    assert_ne!(stats(&net.batchnorm2d_11), stats(&reset.batchnorm2d_11));
    let reset_acc = accuracy(&reset, &test).unwrap();
    println!("inference accuracy with the running statistics reset to (0, 1): {reset_acc:.4}");
    assert!(
        reset_acc < infer - 0.10,
        "resetting the running statistics changed inference accuracy only from {infer} to {reset_acc}"
    );
    // Inference is deterministic and leaves the network unchanged.
    let mut params = Vec::new();
    net.visit("", &mut |_, v| params.extend_from_slice(v));
    assert_eq!(accuracy(&net, &test).unwrap(), infer);
    let mut after = Vec::new();
    net.visit("", &mut |_, v| after.extend_from_slice(v));
    assert_eq!(params, after);
}
