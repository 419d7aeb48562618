//! Networks that more than one test file checks: `gradcheck_deep` compares their gradients with
//! finite differences, `train_reuse` trains them through the buffer-reusing path.

nn::network! {
    /// Batch normalization in and out of residual blocks, dropout, a residual block on
    /// vectors and a softmax head.
    pub struct Mixed {
        input: [2, 6, 6],
        stem: Conv2d(3, kernel = 3, padding = 1, bias = false), bn0: BatchNorm2d, Tanh,
        r1: Residual {
            c1: Conv2d(3, kernel = 3, padding = 1, bias = false), bn1: BatchNorm2d, Tanh,
            c2: Conv2d(3, kernel = 3, padding = 1),
        }, Tanh,
        r2: Residual(projection) {
            c3: Conv2d(4, kernel = 3, stride = 2, padding = 1, bias = false), bn2: BatchNorm2d, Tanh,
            c4: Conv2d(4, kernel = 3, padding = 1),
        } -> [4, 3, 3], Tanh,
        Flatten, Dropout(0.25),
        fc1: Dense(6), Tanh, bn3: BatchNorm1d,
        r3: Residual { d1: Dense(6), Tanh },
        out: Dense(3), Softmax,
    }
}

nn::network! {
    /// Residual blocks inside a residual block: the outer block's input feeds the outer skip,
    /// the inner block and the inner skip; an unnamed projection block; a block whose branch
    /// has no parameters.
    pub struct Nested {
        input: [4],
        outer: Residual {
            inner: Residual { d1: Dense(4), Tanh }, Tanh,
            Residual(projection) { d3: Dense(3), Tanh } -> [3],
            d4: Dense(4),
        },
        Residual { Tanh },
        out: Dense(2),
    }
}
