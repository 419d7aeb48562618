//! Weights baked in at compile time (`#[weights = "..."]`): the network `pretrained()` builds
//! equals the one loaded from the same file at run time, parameter for parameter, whether the
//! path is relative to the crate's `Cargo.toml` or to the declaring file. (The file's names and
//! shapes are checked by the macro; its layout is converted by the runtime, the same code for
//! both paths.)

use nn::prelude::*;

nn::network! {
    /// M2, its path relative to the crate's Cargo.toml.
    #[weights = "tests/fixtures/m2_torch.safetensors"]
    pub struct FromManifest {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        Flatten,
        fc: Dense(10),
        Softmax,
    }
}

nn::network! {
    /// M2, its path relative to this file.
    #[weights = "fixtures/m2_torch.safetensors"]
    pub struct FromHere {
        input: [1, 8, 8],
        conv1: Conv2d(8, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        conv2: Conv2d(16, kernel = 3, padding = 1), ReLU,
        MaxPool2d(2),
        Flatten,
        fc: Dense(10),
        Softmax,
    }
}

/// Every parameter tensor, by name.
fn params<N: Parameters>(net: &N) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    net.visit("", &mut |id, v| {
        out.push((format!("{}.{}", id.layer, id.name), v.to_vec()))
    });
    out
}

#[test]
fn baked_weights_equal_the_file_loaded_at_run_time() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/m2_torch.safetensors"
    );
    let loaded = FromManifest::load_safetensors(path).expect("the fixture loads");
    let want = params(&loaded);
    assert_eq!(want.len(), 6, "conv1, conv2 and fc, weights and biases");
    assert_eq!(params(&FromManifest::pretrained()), want);
    assert_eq!(params(&FromHere::pretrained()), want);
    // And they compute the same function.
    let x = [0.5f32; 64];
    assert_eq!(
        FromHere::pretrained().forward(&x).as_slice(),
        loaded.forward(&x).as_slice()
    );
}
