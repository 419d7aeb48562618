//! The buffer-reusing training path (`new_cache`, `forward_train_into`, `backward_into`,
//! `backward_logits_into`) against the allocating one (`forward_train`, `backward`,
//! `backward_logits`): over several steps with new inputs each time, one cache and one gradient
//! struct reused throughout, the outputs, logits, input gradients, parameter gradients and the
//! trained parameters must be bit-identical. A layer that relied on zeroed output or gradient
//! buffers would see the previous step's values and differ.

mod common;

use common::nets::{Mixed, Nested};
use common::normal_batch;

use nn::{Batch, CrossEntropy, Loss, Optimizer, Parameters, Rng, Sgd, Shape, Tensor, Trainable};

nn::network! {
    /// Convolutions, pooling (max 2x2, max padded, average), flatten, dense, softmax.
    struct Conv {
        input: [2, 8, 8],
        c1: Conv2d(4, kernel = 3, padding = 1), ReLU, MaxPool2d(2),
        c2: Conv2d(6, kernel = 3, padding = 1), Tanh, MaxPool2d(3, stride = 1, padding = 1),
        AvgPool2d(2),
        Flatten,
        fc: Dense(5), Softmax,
    }
}

// `Mixed` (batch normalization in and out of residual blocks, dropout, a residual block on
// vectors, a softmax head) and `Nested` (residual blocks inside a residual block, a projection
// block, a block without parameters) are the networks of `gradcheck_deep`, in `common::nets`.

nn::network! {
    /// Signals: 1-D convolution and pooling, PReLU per channel.
    struct Signal {
        input: [2, 12],
        k1: Conv1d(3, kernel = 3, padding = 1), PReLU(per_channel = true), MaxPool1d(2),
        k2: Conv1d(2, kernel = 3), AvgPool1d(2, stride = 1),
        Flatten,
        out: Dense(3), Softmax,
    }
}

nn::network! {
    /// One layer: the input gradient comes straight from the logits' gradient.
    struct Tiny {
        input: [3],
        out: Dense(3), Softmax,
    }
}

const B: usize = 4;

fn random_batch<S: Shape>(rng: &mut Rng) -> Batch<S, B> {
    nn::batch_from(normal_batch::<S>(rng, B, 1.0))
}

fn bits<S: Shape>(b: &[Tensor<S>]) -> Vec<u32> {
    b.iter()
        .flat_map(|t| t.as_slice().iter().map(|v| v.to_bits()))
        .collect()
}

fn param_bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit("", &mut |_, v| out.extend(v.iter().map(|v| v.to_bits())));
    out
}

/// Runs `steps` training steps both ways and asserts bit-identical results.
fn check<N>(seed: u64, steps: usize)
where
    N: Trainable + Clone,
    CrossEntropy: Loss<N::OutputShape, Target = usize>,
{
    let mut rng = Rng::new(seed);
    let mut a = N::new(seed);
    let mut b = a.clone();
    let mut cache = N::new_cache::<B>();
    // Gradients holding garbage: `backward_into` overwrites them.
    let mut grads: Box<N::Gradients> = Default::default();
    grads.visit_mut("", &mut |_, v| v.fill(7.5));
    let (mut opt_a, mut opt_b) = (Sgd::new(0.05), Sgd::new(0.05));
    let targets: Vec<usize> = (0..B).map(|i| i % N::OUTPUT_LEN).collect();
    for step in 0..steps {
        let x = random_batch::<N::InputShape>(&mut rng);
        let ca = a.forward_train::<B>(&x);
        b.forward_train_into(&x, &mut cache);
        assert_eq!(
            bits(&N::cache_output(&ca)[..]),
            bits(&N::cache_output(&cache)[..]),
            "{} step {step}: outputs",
            N::NAME
        );
        assert_eq!(
            bits(&N::cache_logits(&ca)[..]),
            bits(&N::cache_logits(&cache)[..]),
            "{} step {step}: logits",
            N::NAME
        );
        // Alternate between an arbitrary output gradient and the loss gradient on the logits.
        let (ga, dxa, dxb) = if step % 2 == 0 {
            let d = random_batch::<N::OutputShape>(&mut rng);
            let (ga, dxa) = a.backward(&ca, &d);
            let dxb = bits(&b.backward_into(&mut cache, &d, &mut grads)[..]);
            (ga, dxa, dxb)
        } else {
            let mut d = nn::zeroed_batch::<N::OutputShape, B>();
            CrossEntropy.loss_grad(&N::cache_logits(&ca)[..], &targets, &mut d[..]);
            let (ga, dxa) = a.backward_logits(&ca, &d);
            let dxb = bits(&b.backward_logits_into(&mut cache, &d, &mut grads)[..]);
            (ga, dxa, dxb)
        };
        assert_eq!(bits(&dxa[..]), dxb, "{} step {step}: dx", N::NAME);
        assert_eq!(
            param_bits(&*ga),
            param_bits(&*grads),
            "{} step {step}: parameter gradients",
            N::NAME
        );
        opt_a.step(&mut a, &ga);
        opt_b.step(&mut b, &grads);
        assert_eq!(param_bits(&a), param_bits(&b), "{} step {step}", N::NAME);
    }
    // Running statistics (batch norm) and the dropout generator advanced alike.
    let x = random_batch::<N::InputShape>(&mut rng);
    for x in x.iter() {
        assert_eq!(a.forward(x).as_slice(), b.forward(x).as_slice());
    }
    let (ca, cb) = (a.forward_train::<B>(&x), b.forward_train::<B>(&x));
    assert_eq!(
        bits(&N::cache_output(&ca)[..]),
        bits(&N::cache_output(&cb)[..])
    );
}

#[test]
fn conv_and_pooling() {
    check::<Conv>(1, 5);
}

#[test]
fn batch_norm_residual_dropout() {
    check::<Mixed>(2, 5);
}

#[test]
fn nested_residual_blocks() {
    check::<Nested>(3, 5);
}

#[test]
fn signals() {
    check::<Signal>(4, 5);
}

#[test]
fn one_layer() {
    check::<Tiny>(5, 4);
}

/// Training through the reusing path learns (the loss falls), and the gradient buffers are
/// allocated once: the returned input gradient stays at the same address.
#[test]
fn reused_buffers_stay_put() {
    let mut net = Conv::new(9);
    let mut rng = Rng::new(9);
    let x = random_batch::<<Conv as nn::Shapes>::InputShape>(&mut rng);
    let targets = [0usize, 1, 2, 3];
    let mut cache = Conv::new_cache::<B>();
    let mut grads: Box<<Conv as Trainable>::Gradients> = Default::default();
    let mut d = nn::zeroed_batch::<<Conv as nn::Shapes>::OutputShape, B>();
    let mut sgd = Sgd::new(0.1);
    let mut first = None;
    let mut losses = Vec::new();
    for _ in 0..30 {
        net.forward_train_into(&x, &mut cache);
        losses.push(CrossEntropy.loss_grad(&Conv::cache_logits(&cache)[..], &targets, &mut d[..]));
        let dx = net.backward_logits_into(&mut cache, &d, &mut grads);
        let at = dx.as_ptr();
        assert_eq!(*first.get_or_insert(at), at);
        sgd.step(&mut net, &grads);
    }
    assert!(losses[29] < 0.5 * losses[0], "{losses:?}");
}

#[test]
fn batch_helpers() {
    use nn::typenum::consts::U3;
    type S = nn::Shape1<U3>;
    let z = nn::zeroed_batch::<S, 5>();
    assert!(z.iter().all(|t| t.as_slice() == [0.0; 3]));
    let empty = nn::zeroed_batch::<S, 0>();
    assert_eq!(empty.len(), 0);
    let t = |v: f32| Tensor::<S>::from([v, v + 1.0, v + 2.0]);
    // Fewer items than the batch: zeros after them; more: the rest ignored.
    let short: Batch<S, 3> = nn::batch_from([t(1.0), t(4.0)]);
    assert_eq!(
        bits(&short[..]),
        bits(&[t(1.0), t(4.0), Tensor::zeros()][..])
    );
    let long: Batch<S, 2> = nn::batch_from([t(1.0), t(4.0), t(7.0)]);
    assert_eq!(bits(&long[..]), bits(&[t(1.0), t(4.0)][..]));
}
