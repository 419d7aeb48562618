//! Baked int8 weights (issue 17, item 2): `#[weights_int8 = "twin.safetensors"]` reads an int8
//! twin's file at compile time, checks it as `load_safetensors` does, and makes
//! `NameInt8::pretrained()` build the twin from `static` arrays. The checked-in twins of
//! `tests/fixtures/int8_models/` (M1, M2, M4 and a residual CNN with average pooling: dense,
//! 2-D and 1-D convolutions, max and average pooling, a rescaled residual sum) are baked here,
//! and each baked twin must be the loaded one: the same fields, the same rounding, and the same
//! `forward_int8` bytes on many inputs.

use nn::quant::{Rounding, TensorI8};

nn_models::m1! {
    /// M1, the jet tagger, with its int8 twin baked in.
    #[weights_int8 = "tests/fixtures/int8_models/m1.safetensors"]
    struct JetTagger
}

nn_models::m2! {
    /// M2, the digits CNN, with its int8 twin baked in.
    #[weights_int8 = "tests/fixtures/int8_models/m2.safetensors"]
    struct DigitsCnn
}

nn_models::m4! {
    /// M4, the MNIST-1D CNN, with its int8 twin baked in.
    #[weights_int8 = "tests/fixtures/int8_models/m4.safetensors"]
    struct Mnist1dCnn
}

#[path = "common/residual_avg.rs"]
mod residual_avg;
residual_avg::residual_avg! {
    /// The residual CNN of `tests/int8_models_litert.rs`, with its int8 twin baked in.
    #[weights_int8 = "tests/fixtures/int8_models/residual_avg.safetensors"]
    struct ResidualAvg
}

/// Inputs per model.
const INPUTS: usize = 200;

/// `n` int8 inputs of shape `S` from a xorshift stream of `seed`: bytes over the whole int8
/// range, and every 4th input scaled down (values near the zero point, as real data often is).
fn inputs<S: nn::Shape>(seed: u64, n: usize) -> Vec<TensorI8<S>> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8 as i8
    };
    (0..n)
        .map(|k| {
            let mut x = TensorI8::<S>::zeros();
            for v in x.as_mut_slice() {
                *v = if k % 4 == 3 { next() / 8 } else { next() };
            }
            x
        })
        .collect()
}

/// The baked twin equals the loaded one field by field, and every `forward_int8` byte on
/// `INPUTS` inputs is the same; the outputs are not all alike (the inputs reach the logits).
macro_rules! same_as_loaded {
    ($twin:ident, $file:literal, $seed:expr) => {{
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/int8_models/",
            $file
        );
        let loaded = $twin::load_safetensors(path).unwrap_or_else(|e| panic!("{e}"));
        let baked = $twin::pretrained();
        assert_eq!(
            format!("{baked:?}"),
            format!("{loaded:?}"),
            "{}: fields",
            $file
        );
        assert_eq!(baked.rounding, Rounding::FixedPoint, "{}: rounding", $file);
        let mut distinct = std::collections::HashSet::new();
        for (k, x) in inputs($seed, INPUTS).iter().enumerate() {
            let (b, l) = (baked.forward_int8(x), loaded.forward_int8(x));
            assert_eq!(b.as_slice(), l.as_slice(), "{}: input {k}", $file);
            distinct.insert(b.as_slice().to_vec());
        }
        assert!(
            distinct.len() > INPUTS / 2,
            "{}: only {} distinct outputs of {INPUTS}",
            $file,
            distinct.len()
        );
        // The f32 API goes through the same layers.
        let x = nn::Tensor::from_fn(|i| (i as f32 * 0.37).sin());
        assert_eq!(
            baked.forward(&x).as_slice(),
            loaded.forward(&x).as_slice(),
            "{}: forward",
            $file
        );
        // Saved again, the baked twin reloads as the file did.
        let bytes = baked.to_safetensors_bytes().unwrap();
        let again = $twin::from_safetensors_bytes(&bytes, "resaved").unwrap();
        assert_eq!(
            format!("{again:?}"),
            format!("{loaded:?}"),
            "{}: resaved",
            $file
        );
    }};
}

#[test]
fn baked_m1_equals_loaded() {
    same_as_loaded!(JetTaggerInt8, "m1.safetensors", 1);
}

#[test]
fn baked_m2_equals_loaded() {
    same_as_loaded!(DigitsCnnInt8, "m2.safetensors", 2);
}

#[test]
fn baked_m4_equals_loaded() {
    same_as_loaded!(Mnist1dCnnInt8, "m4.safetensors", 3);
}

#[test]
fn baked_residual_avg_equals_loaded() {
    same_as_loaded!(ResidualAvgInt8, "residual_avg.safetensors", 4);
}

/// The baked values are the file's: M1's first layer read straight from the safetensors bytes.
#[test]
fn baked_m1_weights_are_the_files() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/int8_models/m1.safetensors"
    ))
    .unwrap();
    // The safetensors layout: an 8-byte header length, a JSON header, the data.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = |name: &str| {
        let t = &header[name];
        let at = |i: usize| t["data_offsets"][i].as_u64().unwrap() as usize;
        &bytes[8 + n + at(0)..8 + n + at(1)]
    };
    assert_eq!(header["fc1.weight"]["shape"], serde_json::json!([64, 16]));
    let w = data("fc1.weight");
    let baked = JetTaggerInt8::pretrained();
    let mut nonzero = 0;
    for (k, &b) in w.iter().enumerate() {
        let (o, i) = (k / 16, k % 16);
        assert_eq!(baked.fc1.weight(o, i), b as i8, "fc1.weight[{o}, {i}]");
        nonzero += (b != 0) as usize;
    }
    assert!(nonzero > 500, "only {nonzero} nonzero weights");
    let scale = f32::from_le_bytes(data("tensors.0.scale").try_into().unwrap());
    assert_eq!(baked.tensors[0].scale.to_bits(), scale.to_bits());
}
