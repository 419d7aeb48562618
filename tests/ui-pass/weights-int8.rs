//! `#[weights_int8]` with a valid int8 twin's file (the one the cases of
//! `tests/ui/weights-int8/` break), next to `#[weights]` with an f32 file: both baked.

nn::network! {
    #[weights = "../ui/weights/tiny.safetensors"]
    #[weights_int8 = "../ui/weights-int8/tiny_int8.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {
    let twin = TinyInt8::pretrained();
    assert_eq!(twin.tensors[1].zero_point, -5);
    assert_eq!(twin.fc.weight(1, 3), -80);
    let x = nn::quant::TensorI8::zeros();
    let logits = twin.forward_int8(&x);
    assert_eq!(logits.as_slice().len(), 2);
    let net = Tiny::pretrained();
    let p = net.forward(&[0.5f32; 4]);
    assert!((p.as_slice().iter().sum::<f32>() - 1.0).abs() < 1e-5);
}
