// A weight of -128 (int8 weights are symmetric), a scale of 0 and a zero point of 200: the
// checks of `TinyInt8::load_safetensors`, at compile time.
nn::network! {
    #[weights_int8 = "bad_values.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {
    let _twin = TinyInt8::pretrained();
}
