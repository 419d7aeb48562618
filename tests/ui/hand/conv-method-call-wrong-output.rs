// A convolution composed by hand, called as a method, with an output tensor of the wrong size.
use nn::typenum::consts::*;
use nn::{Conv2d, Layer, Shape3, Tensor};

fn main() {
    let conv: Conv2d<U1, U8, U3, U3> = Default::default();
    let x = Tensor::<Shape3<U1, U8, U8>>::zeros();
    let mut y = Tensor::<Shape3<U8, U7, U7>>::zeros(); // a 3x3 valid convolution of 8x8 gives 6x6
    conv.forward(&x, &mut y);
}
