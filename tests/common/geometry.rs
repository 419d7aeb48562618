//! The configuration a convolution or pooling layer type encodes in its type parameters, read
//! back as numbers: for the padding-rule assertions and reference pooling of `gradcheck_conv`,
//! and for the fixture `config` objects of `parity_conv`.

use nn::generic_array::ArrayLength;
use nn::typenum::Unsigned;
use nn::{AvgPool1d, AvgPool2d, Conv1d, Conv2d, MaxPool1d, MaxPool2d};

/// Kernel `[kh, kw]`, stride `[sh, sw]`, padding `[top, bottom, left, right]` of a layer type
/// (1-D layers: `RANK` 1, kh = sh = 1, no top/bottom padding), and what else its type fixes.
pub trait Geo {
    /// 2 for the 2-D layers, 1 for the 1-D ones.
    const RANK: usize;
    const K: [usize; 2];
    const S: [usize; 2];
    const P: [usize; 4];
    /// `(in, out)` channels of a convolution; `None` for pooling.
    const CHANNELS: Option<(usize, usize)> = None;
    /// Whether a convolution has a bias; `None` for pooling.
    const BIAS: Option<bool> = None;
    /// Average pooling's divisor rule (`count_include_pad`); `None` for the other layers.
    const COUNT_INCLUDE_PAD: Option<bool> = None;
}

impl<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, const BIAS: bool> Geo
    for Conv2d<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, BIAS>
where
    CI: ArrayLength,
    CO: ArrayLength,
    KH: ArrayLength,
    KW: ArrayLength,
    SH: Unsigned,
    SW: Unsigned,
    PT: Unsigned,
    PB: Unsigned,
    PL: Unsigned,
    PR: Unsigned,
{
    const RANK: usize = 2;
    const K: [usize; 2] = [KH::USIZE, KW::USIZE];
    const S: [usize; 2] = [SH::USIZE, SW::USIZE];
    const P: [usize; 4] = [PT::USIZE, PB::USIZE, PL::USIZE, PR::USIZE];
    const CHANNELS: Option<(usize, usize)> = Some((CI::USIZE, CO::USIZE));
    const BIAS: Option<bool> = Some(BIAS);
}

impl<CI, CO, K, S, P0, P1, const BIAS: bool> Geo for Conv1d<CI, CO, K, S, P0, P1, BIAS>
where
    CI: ArrayLength,
    CO: ArrayLength,
    K: ArrayLength,
    S: Unsigned,
    P0: Unsigned,
    P1: Unsigned,
{
    const RANK: usize = 1;
    const K: [usize; 2] = [1, K::USIZE];
    const S: [usize; 2] = [1, S::USIZE];
    const P: [usize; 4] = [0, 0, P0::USIZE, P1::USIZE];
    const CHANNELS: Option<(usize, usize)> = Some((CI::USIZE, CO::USIZE));
    const BIAS: Option<bool> = Some(BIAS);
}

impl<KH, KW, SH, SW, PT, PB, PL, PR> Geo for MaxPool2d<KH, KW, SH, SW, PT, PB, PL, PR>
where
    KH: Unsigned,
    KW: Unsigned,
    SH: Unsigned,
    SW: Unsigned,
    PT: Unsigned,
    PB: Unsigned,
    PL: Unsigned,
    PR: Unsigned,
{
    const RANK: usize = 2;
    const K: [usize; 2] = [KH::USIZE, KW::USIZE];
    const S: [usize; 2] = [SH::USIZE, SW::USIZE];
    const P: [usize; 4] = [PT::USIZE, PB::USIZE, PL::USIZE, PR::USIZE];
}

impl<KH, KW, SH, SW, PT, PB, PL, PR, const CP: bool> Geo
    for AvgPool2d<KH, KW, SH, SW, PT, PB, PL, PR, CP>
where
    KH: Unsigned,
    KW: Unsigned,
    SH: Unsigned,
    SW: Unsigned,
    PT: Unsigned,
    PB: Unsigned,
    PL: Unsigned,
    PR: Unsigned,
{
    const RANK: usize = 2;
    const K: [usize; 2] = [KH::USIZE, KW::USIZE];
    const S: [usize; 2] = [SH::USIZE, SW::USIZE];
    const P: [usize; 4] = [PT::USIZE, PB::USIZE, PL::USIZE, PR::USIZE];
    const COUNT_INCLUDE_PAD: Option<bool> = Some(CP);
}

impl<K: Unsigned, S: Unsigned, P0: Unsigned, P1: Unsigned> Geo for MaxPool1d<K, S, P0, P1> {
    const RANK: usize = 1;
    const K: [usize; 2] = [1, K::USIZE];
    const S: [usize; 2] = [1, S::USIZE];
    const P: [usize; 4] = [0, 0, P0::USIZE, P1::USIZE];
}

impl<K: Unsigned, S: Unsigned, P0: Unsigned, P1: Unsigned, const CP: bool> Geo
    for AvgPool1d<K, S, P0, P1, CP>
{
    const RANK: usize = 1;
    const K: [usize; 2] = [1, K::USIZE];
    const S: [usize; 2] = [1, S::USIZE];
    const P: [usize; 4] = [0, 0, P0::USIZE, P1::USIZE];
    const COUNT_INCLUDE_PAD: Option<bool> = Some(CP);
}
