// The file has no `fc.bias`.
nn::network! {
    #[weights_int8 = "missing_bias.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {
    let _twin = TinyInt8::pretrained();
}
