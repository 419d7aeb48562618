// `grouped_conv.onnx`: a Conv with group = 2 (weight [4, 1, 3, 3] on a [2, 6, 6] input).
nn::network! {
    #[onnx = "grouped_conv.onnx"]
    pub struct Net;
}

fn main() {}
