//! Layers composed by hand, without `nn::network!`: rustc checks the output size.
use nn::typenum::consts::*;
use nn::{Layer, MaxPool2d, Shape3};

/// The pooling stage of a hand-written network: [8, 8, 8] -> [8, 3, 3].
struct Stage<P: Layer<Shape3<U8, U8, U8>, Shape3<U8, U3, U3>>> {
    pool: P,
}

fn main() {
    // Wrong: a 2x2 window with stride 2 turns 8x8 into 4x4.
    let stage = Stage { pool: MaxPool2d::<U2, U2>::default() };
    let _ = stage.pool;
}
