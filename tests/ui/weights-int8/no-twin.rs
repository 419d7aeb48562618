// A batch norm with no Dense or convolution before it: the network has no int8 twin to bake.
nn::network! {
    #[weights_int8 = "tiny_int8.safetensors"]
    pub struct Tiny {
        input: [4],
        bn: BatchNorm1d,
        fc: Dense(2),
        Softmax,
    }
}

fn main() {}
