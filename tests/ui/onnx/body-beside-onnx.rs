// The file declares the layers; a layer list beside it is refused.
nn::network! {
    #[onnx = "tiny.onnx"]
    pub struct Net {
        input: [4],
        Dense(2),
    }
}

fn main() {}
