nn::network! {
    pub struct Deep {
        input: [4],
        Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Residual { Dense(4) } } } } } } } } } } } } } } } } } } } } } } } } } } } } } } } } },
    }
}

fn main() {}
