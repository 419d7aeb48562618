//! Quantization-aware training (`Trainer::quantization_aware`): the straight-through step against
//! a hand computation and against a hand-written loop, the quantized forward pass on the grid,
//! the master weights kept, validation / early stopping / checkpoints on the quantized network,
//! NaN handling, and the int8 flavour against the int8 twin.

use std::sync::Mutex;

use nn::fixed_point::Spec;
use nn::prelude::*;
use nn::{fake_quantize, FakeQuantize, ParamTensor};

nn::network! {
    pub struct Tiny { input: [2], fc: Dense(1) }
}

nn::network! {
    pub struct Mlp { input: [4], fc1: Dense(8), ReLU, out: Dense(3), Softmax }
}

nn::network! {
    pub struct Cnn {
        input: [2, 12],
        conv: Conv1d(5, kernel = 3, padding = 1), ReLU,
        Flatten,
        fc: Dense(3),
    }
}

/// Every parameter of `net`, in visit order.
fn params<N: Parameters>(net: &N) -> Vec<f32> {
    let mut v = Vec::new();
    net.visit("", &mut |_, p| v.extend_from_slice(p));
    v
}

/// Whether `v` is a value of `spec`.
fn on_grid(v: f32, spec: Spec) -> bool {
    let scaled = v as f64 * 2f64.powi(spec.frac_bits());
    scaled == scaled.round() && (spec.min_raw() as f64..=spec.max_raw() as f64).contains(&scaled)
}

/// A three-class problem on four features, deterministic.
fn blobs(n: usize, seed: u64) -> Dataset<Input<Mlp>, usize> {
    let mut rng = nn::Rng::new(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = i % 3;
        let v: [f32; 4] = std::array::from_fn(|k| {
            let centre = if k % 3 == c { 1.5 } else { -0.5 };
            centre + 0.8 * rng.normal()
        });
        x.push(Input::<Mlp>::from(v));
        y.push(c);
    }
    Dataset::new(x, y).unwrap()
}

/// The straight-through step by hand: y = Wq x + bq on the grid of ap_fixed<6,2> (1/16,
/// truncation), loss (y - t)^2, SGD on the master weights with the gradient at Wq.
#[test]
fn ste_step_equals_the_hand_computation() {
    let mut net = Tiny::default();
    let master = [0.30f32, -0.70, 0.10]; // w0, w1, b
    let mut k = 0;
    net.visit_mut("", &mut |_, p| {
        for v in p {
            *v = master[k];
            k += 1;
        }
    });
    let x = Input::<Tiny>::from([1.0, 2.0]);
    let t = Output::<Tiny>::from([1.0]);
    let data = Dataset::new(vec![x], vec![t]).unwrap();
    let spec = Spec::ap_fixed(6, 2);
    let lr = 0.1f32;
    let history = Trainer::new(Sgd::new(lr), Mse)
        .batch_size::<1>()
        .epochs(1)
        .progress(false)
        .quantization_aware(FakeQuant::fixed(spec))
        .fit(&mut net, &data, None)
        .unwrap();
    // Quantized: 0.30 -> 0.25, -0.70 -> -0.75, 0.10 -> 0.0625 (floor to 1/16).
    let (wq, bq) = ([0.25f32, -0.75], 0.0625f32);
    let y = wq[0] * 1.0 + wq[1] * 2.0 + bq; // -1.1875
    let dy = 2.0 * (y - 1.0); // -4.375
    let want = [
        master[0] - lr * dy * 1.0,
        master[1] - lr * dy * 2.0,
        master[2] - lr * dy,
    ]; // 0.7375, 0.175, 0.5375: the step lands on the master weights, off the grid
    let got = params(&net);
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
    }
    assert!((history.epochs[0].train_loss - (y - 1.0).powi(2)).abs() < 1e-5);
    // Without quantization the same step differs: the gradient is taken at the master weights.
    let mut plain = Tiny::default();
    let mut k = 0;
    plain.visit_mut("", &mut |_, p| {
        for v in p {
            *v = master[k];
            k += 1;
        }
    });
    Trainer::new(Sgd::new(lr), Mse)
        .batch_size::<1>()
        .epochs(1)
        .progress(false)
        .fit(&mut plain, &data, None)
        .unwrap();
    assert!((params(&plain)[0] - want[0]).abs() > 0.01);
}

/// Several Adam steps of the trainer equal a hand-written loop: quantize a copy, forward and
/// backward on it, apply the gradient to the master network.
#[test]
fn trainer_equals_the_hand_written_ste_loop() {
    let data = blobs(16, 1);
    let spec = Spec::parse("ap_fixed<6,2,AP_RND,AP_SAT>").unwrap();
    let quantizer = FakeQuant::fixed(spec);
    let mut net = Mlp::new(3);
    let mut manual = net.clone();
    Trainer::new(Adam::new(1e-2), CrossEntropy)
        .batch_size::<16>()
        .epochs(5)
        .progress(false)
        .quantization_aware(quantizer.clone())
        .fit(&mut net, &data, None)
        .unwrap();

    let mut adam = Adam::new(1e-2);
    let x = nn::batch_from::<_, 16>(data.x.iter().cloned());
    let mut cache = Mlp::new_cache::<16>();
    let mut grads: Box<<Mlp as Trainable>::Gradients> = Default::default();
    let mut d = nn::zeroed_batch::<nn::Shape1<nn::typenum::U3>, 16>();
    for _ in 0..5 {
        let mut q = manual.clone();
        fake_quantize(&mut q, &quantizer);
        q.forward_train_into(&x, &mut cache);
        CrossEntropy.loss_grad(&Mlp::cache_logits(&cache)[..], &data.y, &mut d[..]);
        q.backward_logits_into(&mut cache, &d, &mut grads);
        adam.step(&mut manual, &grads);
    }
    // The trainer shuffles each batch; the sums over the batch run in another order.
    let (a, b) = (params(&net), params(&manual));
    let off = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(off < 1e-5, "largest difference {off}");
    assert!(
        a.iter().any(|&v| !on_grid(v, spec)),
        "the network holds master weights after fit"
    );
}

/// One call of the quantizer: the tensor's name, the values given and the values returned.
type Call = (String, Vec<f32>, Vec<f32>);

/// Records what the trainer hands to the quantizer and what comes back.
#[derive(Debug)]
struct Recorder {
    inner: FakeQuant,
    spec: Spec,
    calls: Mutex<Vec<Call>>,
}

impl FakeQuantize for Recorder {
    fn quantize(&self, tensor: &ParamTensor<'_>, values: &mut [f32]) {
        let before = values.to_vec();
        self.inner.quantize(tensor, values);
        let name = format!("{}.{}", tensor.id.layer, tensor.id.name);
        self.calls
            .lock()
            .unwrap()
            .push((name, before, values.to_vec()));
    }
}

/// The forward pass of every step and of validation sees values of the `Spec`; the quantizer
/// gets the master values; the losses recorded are the quantized network's.
#[test]
fn forward_pass_uses_grid_values_and_validation_the_quantized_network() {
    let (train, val) = (blobs(32, 2), blobs(12, 3));
    let spec = Spec::ap_fixed(5, 1);
    let recorder = std::sync::Arc::new(Recorder {
        inner: FakeQuant::fixed(spec),
        spec,
        calls: Mutex::new(Vec::new()),
    });
    #[derive(Debug)]
    struct Shared(std::sync::Arc<Recorder>);
    impl FakeQuantize for Shared {
        fn quantize(&self, t: &ParamTensor<'_>, v: &mut [f32]) {
            self.0.quantize(t, v)
        }
    }
    let initial = Mlp::new(4);
    let mut net = initial.clone();
    let history = Trainer::new(Sgd::new(0.05), CrossEntropy)
        .batch_size::<32>()
        .epochs(2)
        .progress(false)
        .quantization_aware(Shared(recorder.clone()))
        .fit(&mut net, &train, Some(&val))
        .unwrap();
    let calls = recorder.calls.lock().unwrap();
    // Four tensors, quantized before each of the 2 steps and each of the 2 validations.
    assert_eq!(calls.len(), 4 * 4);
    let names: Vec<&str> = calls[..4].iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["fc1.weight", "fc1.bias", "out.weight", "out.bias"]);
    for (name, _, after) in calls.iter() {
        assert!(
            after.iter().all(|&v| on_grid(v, recorder.spec)),
            "{name}: {after:?}"
        );
    }
    // The first call gets the initial (master) weights, not values already quantized.
    let first: Vec<f32> = calls[..4].iter().flat_map(|c| c.1.clone()).collect();
    assert_eq!(first, params(&initial));
    assert!(first.iter().any(|&v| !on_grid(v, spec)));

    // Epoch 1's training loss is the quantized initial network's; its validation loss the
    // quantized network's after the step.
    let mut q0 = initial.clone();
    fake_quantize(&mut q0, &FakeQuant::fixed(spec));
    let want = evaluate(&q0, &CrossEntropy, &train).unwrap().loss;
    let plain = evaluate(&initial, &CrossEntropy, &train).unwrap().loss;
    let got = history.epochs[0].train_loss;
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    assert!(
        (got - plain).abs() > 1e-3,
        "the f32 loss {plain} is not what training saw"
    );
    let mut q = net.clone();
    fake_quantize(&mut q, &FakeQuant::fixed(spec));
    let want = evaluate(&q, &CrossEntropy, &val).unwrap().loss;
    let got = history.epochs[1].validation.unwrap().loss;
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
}

/// Early stopping restores, and the checkpoint holds, the master weights of the epoch whose
/// quantized network validated best.
#[test]
fn early_stopping_and_checkpoint_keep_master_weights() {
    let (train, val) = (blobs(60, 4), blobs(30, 5));
    let spec = Spec::parse("ap_fixed<4,1,AP_RND,AP_SAT>").unwrap();
    let quantizer = FakeQuant::fixed(spec);
    let path = std::env::temp_dir().join(format!("nn-qat-{}.safetensors", std::process::id()));
    let mut net = Mlp::new(5);
    let history = Trainer::new(Adam::new(0.05), CrossEntropy)
        .batch_size::<8>()
        .epochs(12)
        .patience(3)
        .seed(2)
        .progress(false)
        .checkpoint(&path)
        .quantization_aware(quantizer.clone())
        .fit(&mut net, &train, Some(&val))
        .unwrap();
    let best = history.best_epoch.unwrap();
    assert_eq!(history.checkpoint_epoch, Some(best));
    let saved = Mlp::load_safetensors(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(params(&saved), params(&net));
    assert!(params(&net).iter().any(|&v| !on_grid(v, spec)));
    let mut q = net.clone();
    fake_quantize(&mut q, &quantizer);
    let loss = evaluate(&q, &CrossEntropy, &val).unwrap().loss;
    let recorded = history.epochs[best - 1].validation.unwrap().loss;
    assert!((loss - recorded).abs() < 1e-5, "{loss} vs {recorded}");
    let lowest = history
        .epochs
        .iter()
        .map(|e| e.validation.unwrap().loss)
        .fold(f32::INFINITY, f32::min);
    assert_eq!(recorded, lowest);
}

/// A NaN loss is an `Err` as without quantization, and the network keeps its master weights.
#[test]
fn non_finite_loss_is_an_error_and_restores_master_weights() {
    let mut data = blobs(8, 6);
    for x in data.x.iter_mut() {
        x.as_mut_slice()[0] = f32::NAN;
    }
    let initial = Mlp::new(6);
    let mut net = initial.clone();
    let e = Trainer::new(Sgd::new(0.1), CrossEntropy)
        .batch_size::<8>()
        .progress(false)
        .quantization_aware(FakeQuant::fixed(Spec::ap_fixed(6, 2)))
        .fit(&mut net, &data, None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            nn::Error::NonFinite {
                epoch: 1,
                batch: 1,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(params(&net), params(&initial));

    // A NaN master weight is not hidden by quantization (hls4ml would read it as 0).
    let mut net = initial.clone();
    net.visit_mut("", &mut |id, p| {
        if id.layer == "out" && id.name == "weight" {
            p[0] = f32::NAN;
        }
    });
    let e = Trainer::new(Sgd::new(0.1), CrossEntropy)
        .batch_size::<8>()
        .progress(false)
        .quantization_aware(FakeQuant::fixed(Spec::ap_fixed(6, 2)))
        .fit(&mut net, &blobs(8, 6), None)
        .unwrap_err();
    assert!(matches!(e, nn::Error::NonFinite { .. }), "{e}");
}

/// `FakeQuant::int8()` gives the int8 twin's weights (`quantize_int8`), per output channel, for
/// Dense and Conv1d; biases stay in f32.
#[test]
fn int8_flavour_matches_the_int8_twin() {
    let net = Cnn::new(7);
    let mut rng = nn::Rng::new(8);
    let calibration: Vec<Input<Cnn>> = (0..16)
        .map(|_| {
            let v: [f32; 24] = std::array::from_fn(|_| rng.normal());
            Input::<Cnn>::from(v)
        })
        .collect();
    let twin = net.quantize_int8(&calibration).unwrap();
    let mut q = net.clone();
    fake_quantize(&mut q, &FakeQuant::int8());
    let dict = q.state_dict(Layout::PyTorch);
    let get = |name: &str| dict.iter().find(|t| t.name == name).unwrap().data.clone();
    let conv = get("conv.weight"); // [5][2][3]
    for (k, &v) in conv.iter().enumerate() {
        let o = k / 6;
        assert_eq!(
            v,
            twin.conv.weight(k) as f32 * twin.conv.weight_scale[o],
            "conv {k}"
        );
    }
    let fc = get("fc.weight"); // [3][60]
    for (k, &v) in fc.iter().enumerate() {
        let (o, i) = (k / 60, k % 60);
        assert_eq!(
            v,
            twin.fc.weight(o, i) as f32 * twin.fc.weight_scale[o],
            "fc {o} {i}"
        );
    }
    let orig = net.state_dict(Layout::PyTorch);
    let bias =
        |d: &[nn::NamedTensor], n: &str| d.iter().find(|t| t.name == n).unwrap().data.clone();
    assert_eq!(bias(&dict, "fc.bias"), bias(&orig, "fc.bias"));

    // And training with it: the quantized network improves, the master weights stay off the grid.
    let data = {
        let mut rng = nn::Rng::new(9);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..48 {
            let c = i % 3;
            let v: [f32; 24] = std::array::from_fn(|k| {
                let (ch, t) = (k / 12, k % 12);
                let s = if (t / 4 == c) == (ch == 0) { 1.0 } else { 0.0 };
                s + 0.3 * rng.normal()
            });
            x.push(Input::<Cnn>::from(v));
            y.push(c);
        }
        Dataset::new(x, y).unwrap()
    };
    let mut trained = net.clone();
    let before = {
        let mut q = net.clone();
        fake_quantize(&mut q, &FakeQuant::int8());
        evaluate(&q, &CrossEntropy, &data).unwrap().loss
    };
    let history = Trainer::new(Adam::new(1e-2), CrossEntropy)
        .batch_size::<16>()
        .epochs(20)
        .progress(false)
        .quantization_aware(FakeQuant::int8())
        .fit(&mut trained, &data, None)
        .unwrap();
    let after = {
        let mut q = trained.clone();
        fake_quantize(&mut q, &FakeQuant::int8());
        evaluate(&q, &CrossEntropy, &data).unwrap().loss
    };
    assert!(after < before * 0.5, "{before} -> {after}");
    assert!(history.epochs.last().unwrap().train_loss < history.epochs[0].train_loss);
}

/// `FakeQuant::fixed_layers(NameFixed::PARAM_TYPES)` takes each layer's types from the twin, and the
/// values QAT trains with are the twin's weights: `to_fixed()` of the master weights.
#[test]
fn fixed_twin_types_are_the_twins() {
    nn::network! {
        #[fixed(default = "ap_fixed<10,4>", fc1(weight = "ap_fixed<6,1,AP_RND,AP_SAT>", bias = "ap_fixed<8,2>"))]
        pub struct Twinned { input: [4], fc1: Dense(8), ReLU, out: Dense(3) }
    }
    let w1 = Spec::parse("ap_fixed<6,1,AP_RND,AP_SAT>").unwrap();
    assert_eq!(
        TwinnedFixed::PARAM_TYPES,
        &[
            ("fc1", w1, Spec::ap_fixed(8, 2)),
            ("out", Spec::ap_fixed(10, 4), Spec::ap_fixed(10, 4))
        ]
    );
    let quantizer = FakeQuant::fixed_layers(TwinnedFixed::PARAM_TYPES);
    let net = Twinned::new(3);
    let mut q = net.clone();
    fake_quantize(&mut q, &quantizer);
    let twin = net.to_fixed();
    let dict = q.state_dict(Layout::PyTorch);
    let get = |name: &str| dict.iter().find(|t| t.name == name).unwrap().data.clone();
    let check = |values: Vec<f32>, raw: &[i64], spec: Spec| {
        assert_eq!(values.len(), raw.len());
        for (v, &r) in values.iter().zip(raw) {
            assert_eq!(*v as f64, r as f64 * 2f64.powi(-spec.frac_bits()));
        }
    };
    check(get("fc1.weight"), &twin.fc1_weight, w1);
    check(get("fc1.bias"), &twin.fc1_bias, Spec::ap_fixed(8, 2));
    check(get("out.weight"), &twin.out_weight, Spec::ap_fixed(10, 4));
    check(get("out.bias"), &twin.out_bias, Spec::ap_fixed(10, 4));
}
