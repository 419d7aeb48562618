// The file holds `fc.weight` [2, 4]; this network's `fc` has 3 outputs.
nn::network! {
    #[weights = "tiny.safetensors"]
    pub struct Tiny {
        input: [4],
        fc: Dense(3),
        Softmax,
    }
}

fn main() {
    let _net = Tiny::pretrained();
}
