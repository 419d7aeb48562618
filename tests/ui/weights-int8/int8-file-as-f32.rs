// An int8 twin's file given to the f32 attribute.
nn::network! {
    #[weights = "tiny_int8.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(2),
        Softmax,
    }
}

fn main() {
    let _net = Tiny::pretrained();
}
