// The file's `fc.bias` is F32; an int8 twin's biases are I32.
nn::network! {
    #[weights_int8 = "f32_bias.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {
    let _twin = TinyInt8::pretrained();
}
