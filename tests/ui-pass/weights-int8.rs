//! `#[weights_int8]` with valid int8 twins' files (the first is the one the cases of
//! `tests/ui/weights-int8/` break), next to `#[weights]` with an f32 file: both baked. Each baked
//! twin equals the twin `from_safetensors_bytes` reads from the same file.

nn::network! {
    #[weights = "../ui/weights/tiny.safetensors"]
    #[weights_int8 = "../ui/weights-int8/tiny_int8.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

nn::network! {
    // An activation as a lookup table (`act.table`) and `rounding = Double` in the metadata.
    #[weights_int8 = "../ui/weights-int8/tiny_tanh_int8.safetensors"]
    pub struct TinyTanh {
        input: [4],
        fc: Dense(2),
        act: Tanh,
        Softmax,
    }
}

/// Some int8 inputs over the whole range.
fn inputs<S: nn::Shape>() -> Vec<nn::quant::TensorI8<S>> {
    (0..64i32)
        .map(|k| {
            let mut x = nn::quant::TensorI8::zeros();
            for (i, v) in x.as_mut_slice().iter_mut().enumerate() {
                *v = ((k * 37 + i as i32 * 101) % 256 - 128) as i8;
            }
            x
        })
        .collect()
}

fn main() {
    let twin = TinyInt8::pretrained();
    assert_eq!(twin.tensors[1].zero_point, -5);
    assert_eq!(twin.fc.weight(1, 3), -80);
    let file = include_bytes!("../ui/weights-int8/tiny_int8.safetensors");
    let tiny = TinyInt8::from_safetensors_bytes(file, "tiny_int8").unwrap();
    assert_eq!(format!("{twin:?}"), format!("{tiny:?}"));

    let tanh = TinyTanhInt8::pretrained();
    assert_eq!(tanh.rounding, nn::quant::Rounding::Double);
    let file = include_bytes!("../ui/weights-int8/tiny_tanh_int8.safetensors");
    let loaded = TinyTanhInt8::from_safetensors_bytes(file, "tiny_tanh_int8").unwrap();
    assert_eq!(format!("{tanh:?}"), format!("{loaded:?}"));
    for x in inputs() {
        assert_eq!(
            twin.forward_int8(&x).as_slice(),
            tiny.forward_int8(&x).as_slice()
        );
        assert_eq!(
            tanh.forward_int8(&x).as_slice(),
            loaded.forward_int8(&x).as_slice()
        );
    }

    let net = Tiny::pretrained();
    let p = net.forward(&[0.5f32; 4]);
    assert!((p.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5);
}
