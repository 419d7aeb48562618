// `garbage.onnx` holds bytes that are not a protobuf ModelProto.
nn::network! {
    #[onnx = "garbage.onnx"]
    pub struct Net;
}

fn main() {}
