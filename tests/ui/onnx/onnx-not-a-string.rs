nn::network! {
    #[onnx = 5]
    pub struct Net;
}

fn main() {}
