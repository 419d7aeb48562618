// The file holds the twin of `fc: Dense(2)` (`fc.weight` [2, 4]); this network's `fc` has 3
// outputs.
nn::network! {
    #[weights_int8 = "tiny_int8.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(3),
        Softmax,
    }
}

fn main() {
    let _twin = TinyInt8::pretrained();
}
