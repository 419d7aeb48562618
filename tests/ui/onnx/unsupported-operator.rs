// `unsupported_op.onnx`: a Gemm, then a HardSigmoid, which has no nn layer.
nn::network! {
    #[onnx = "unsupported_op.onnx"]
    pub struct Net;
}

fn main() {}
