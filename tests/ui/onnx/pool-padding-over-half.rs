// `pool_pads.onnx`: a MaxPool with a 2x2 window and 2 cells of padding. The importer maps it
// to `MaxPool2d(2, padding = 2)`; network!'s own rule (padding at most half the window) refuses
// it, at the attribute.
nn::network! {
    #[onnx = "pool_pads.onnx"]
    pub struct Net;
}

fn main() {}
