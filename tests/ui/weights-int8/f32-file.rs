// An f32 weight file (PyTorch names, F32 tensors, no `format` metadata) given to the int8
// attribute.
nn::network! {
    #[weights_int8 = "../weights/tiny.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {
    let _twin = TinyInt8::pretrained();
}
