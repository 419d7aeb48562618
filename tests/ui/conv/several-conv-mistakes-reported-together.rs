nn::network! {
    /// LeNet-5 style, but declared with the 8x8 digits as input.
    pub struct LeNet {
        input: [1, 8, 8],
        conv1: Conv2d(6, kernel = 5), ReLU,
        MaxPool2d(2),
        conv2: Conv2d(16, kernel = 5), ReLU,
        MaxPool2d(2, padding = same),
        conv3: Conv2d(32, kernel = 3, stride = 0), ReLU,
        pool: AvgPool2d(2, count_include_pad = yes),
        Flatten,
        fc: Dense(10),
        Softmax,
    }
}

fn main() {}
