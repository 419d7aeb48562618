nn::network! {
    #[onnx = "models/does_not_exist.onnx"]
    pub struct Net;
}

fn main() {}
