//! Layers composed by hand, without `nn::network!`: rustc checks the output size.
use nn::typenum::consts::*;
use nn::{Conv2d, Layer, Shape3, Tensor};

fn main() {
    let conv: Conv2d<U1, U8, U3, U3> = Default::default();
    let x = Tensor::<Shape3<U1, U8, U8>>::zeros();
    // Wrong: a 3x3 convolution without padding turns 8x8 into 6x6.
    let mut y = Tensor::<Shape3<U8, U7, U7>>::zeros();
    Layer::<Shape3<U1, U8, U8>, Shape3<U8, U7, U7>>::forward(&conv, &x, &mut y);
}
