//! `#[onnx = "..."]`: PyTorch models exported by `torch.onnx.export` (fixtures written by
//! `scripts/onnx/make_fixtures.py` with torch and onnxruntime, never by nn), imported at compile
//! time as typed networks; their outputs must match PyTorch's within 1e-5.

mod common;
use common::fixtures::f32s;

use serde_json::Value;

nn::network! {
    #[onnx = "tests/fixtures/onnx/m1_jet_mlp.onnx"]
    pub struct JetMlp;
}
nn::network! {
    /// M2, as PyTorch exported it.
    #[onnx = "tests/fixtures/onnx/m2_digits_cnn.onnx"]
    pub struct DigitsCnn;
}
nn::network! {
    #[onnx = "tests/fixtures/onnx/m3_lenet5.onnx"]
    pub struct LeNet5;
}
nn::network! {
    #[onnx = "tests/fixtures/onnx/resnet_bn.onnx"]
    pub struct ResFolded;
}
nn::network! {
    #[onnx = "tests/fixtures/onnx/resnet_bn_unfolded.onnx"]
    pub struct ResBatchNorm;
}
nn::network! {
    #[onnx = "tests/fixtures/onnx/m2_asym_pads.onnx"]
    pub struct AsymPads;
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/onnx/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every sample's output and logits against PyTorch's; returns the largest difference.
macro_rules! check {
    ($net:ty, $name:literal) => {{
        let f = fixture($name);
        let net = <$net>::pretrained();
        let xs = f32s(&f["inputs"]["data"]);
        let (outs, logits) = (
            f32s(&f["torch_outputs"]["data"]),
            f32s(&f["torch_logits"]["data"]),
        );
        let n_in = xs.len() / 16;
        let n_out = outs.len() / 16;
        let mut worst = 0f32;
        for s in 0..16 {
            let x = nn::Input::<$net>::try_from(&xs[s * n_in..(s + 1) * n_in]).unwrap();
            let y = net.forward(&x);
            let z = net.forward_logits(&x);
            for o in 0..n_out {
                let (a, b) = (y.as_slice()[o], outs[s * n_out + o]);
                let (c, d) = (z.as_slice()[o], logits[s * n_out + o]);
                worst = worst.max((a - b).abs()).max((c - d).abs());
            }
        }
        assert!(worst <= 1e-5, "{}: max |nn - torch| = {worst:e}", $name);
        println!("{}: max |nn - torch| over 16 samples = {worst:e}", $name);
        worst
    }};
}

#[test]
fn jet_mlp_matches_pytorch() {
    check!(JetMlp, "m1_jet_mlp");
    assert_eq!(JetMlp::PARAMS, 4389);
}

#[test]
fn digits_cnn_matches_pytorch() {
    check!(DigitsCnn, "m2_digits_cnn");
}

#[test]
fn lenet5_matches_pytorch() {
    check!(LeNet5, "m3_lenet5");
    assert_eq!(LeNet5::PARAMS, 44_426);
}

#[test]
fn residual_block_folded_batch_norm_matches_pytorch() {
    check!(ResFolded, "resnet_bn");
}

#[test]
fn residual_block_with_batch_norm_matches_pytorch() {
    check!(ResBatchNorm, "resnet_bn_unfolded");
}

#[test]
fn asymmetric_and_same_padding_match_onnxruntime() {
    // torch cannot export these pads; the expected values are onnxruntime's on the edited file
    // (and torch's with explicit F.pad), within 2.4e-7 of each other.
    check!(AsymPads, "m2_asym_pads");
}

/// The imported network is an ordinary generated one: it folds its batch norms, quantizes to
/// int8, saves and loads safetensors, and trains.
#[test]
fn imported_network_folds_quantizes_saves_and_trains() {
    use nn::prelude::*;
    let f = fixture("resnet_bn_unfolded");
    let xs = f32s(&f["inputs"]["data"]);
    let inputs: Vec<nn::Input<ResBatchNorm>> = xs
        .chunks(64)
        .map(|c| nn::Input::<ResBatchNorm>::try_from(c).unwrap())
        .collect();
    let net = ResBatchNorm::pretrained();

    let folded = net.fold();
    for x in &inputs {
        let (a, b) = (net.forward(x), folded.forward(x));
        for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((p - q).abs() < 1e-5, "folded {p} vs {q}");
        }
    }

    let q = net.quantize_int8(&inputs).unwrap();
    let agree = inputs
        .iter()
        .filter(|x| {
            let (a, b) = (net.forward(*x), q.forward(x));
            let arg = |t: &[f32]| (0..t.len()).max_by(|&i, &j| t[i].total_cmp(&t[j])).unwrap();
            arg(a.as_slice()) == arg(b.as_slice())
        })
        .count();
    assert!(agree >= 14, "int8 twin agrees on {agree} of 16 predictions");

    let bytes = nn::safetensors_bytes(&net.state_dict(Layout::PyTorch)).unwrap();
    let back = ResBatchNorm::from_safetensors_bytes(&bytes, "memory", Layout::PyTorch).unwrap();
    assert_eq!(back.forward(&inputs[0]), net.forward(&inputs[0]));

    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
    let data = Dataset::new(inputs.clone(), labels).unwrap();
    let mut trained = ResBatchNorm::pretrained();
    let before = evaluate(&trained, &CrossEntropy, &data).unwrap().loss;
    Trainer::new(Sgd::new(0.05), CrossEntropy)
        .batch_size::<8>()
        .epochs(20)
        .seed(1)
        .fit(&mut trained, &data, None)
        .unwrap();
    let after = evaluate(&trained, &CrossEntropy, &data).unwrap().loss;
    assert!(
        after < before,
        "training did not lower the loss: {before} -> {after}"
    );
}
