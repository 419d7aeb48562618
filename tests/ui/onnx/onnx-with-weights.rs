// The ONNX file carries its weights: `#[weights]` beside it is refused.
nn::network! {
    #[onnx = "tiny.onnx"]
    #[weights = "tiny.safetensors"]
    pub struct Net;
}

fn main() {}
