//! Type-level output sizes of convolutions and pooling (the backstop for layers composed by
//! hand), and the geometry they hand to the kernels.
//!
//! The `network!` macro computes every size itself and reports mistakes in plain words. These
//! bounds make rustc check the same arithmetic when layers are used directly:
//! `out = floor((n + pad_before + pad_after - kernel) / stride) + 1` (PyTorch and Keras).

use core::marker::PhantomData;
use core::ops::{Add, Div, Sub};

use typenum::{Diff, Quot, Sum, Unsigned, U1};

use crate::kernels::{Geom, GeomOf};

/// `floor((Self + P0 + P1 - K) / S) + 1`: the output length of a window of `K` cells moved in
/// steps of `S` over `Self` cells padded with `P0` before and `P1` after.
///
/// Alias expansion: `Sum<Quot<Diff<Sum<Sum<Self, P0>, P1>, K>, S>, U1>`.
pub trait WindowOut<K, S, P0, P1> {
    /// The output length.
    type Out: Unsigned;
}

impl<N, K, S, P0, P1> WindowOut<K, S, P0, P1> for N
where
    N: Add<P0>,
    Sum<N, P0>: Add<P1>,
    Sum<Sum<N, P0>, P1>: Sub<K>,
    Diff<Sum<Sum<N, P0>, P1>, K>: Div<S>,
    Quot<Diff<Sum<Sum<N, P0>, P1>, K>, S>: Add<U1>,
    Sum<Quot<Diff<Sum<Sum<N, P0>, P1>, K>, S>, U1>: Unsigned,
{
    type Out = Sum<Quot<Diff<Sum<Sum<N, P0>, P1>, K>, S>, U1>;
}

/// Holds when a layer's declared output size equals the size its input, kernel, stride and
/// padding give. A failure means layers composed by hand do not fit together.
#[diagnostic::on_unimplemented(
    message = "the output size of this convolution or pooling layer does not follow from its input size, kernel, stride and padding",
    label = "the declared output size differs from floor((input + padding - kernel) / stride) + 1",
    note = "compute the output size as floor((input + pad_before + pad_after - kernel) / stride) + 1 for each dimension, or declare the network with `nn::network!`, which computes every shape and explains any mismatch"
)]
pub trait SameSize<Declared> {}

impl<N> SameSize<N> for N {}

/// Never used: a second implementation of [`SameSize`], so that rustc checks a declared size
/// against the computed one (and reports [`SameSize`]'s message) instead of inferring the
/// declared size from the only implementation.
#[doc(hidden)]
pub enum NotASize {}
impl<N: typenum::Unsigned> SameSize<NotASize> for N {}

/// The sizes of a window layer (convolution or pooling) without its channels: a `kh x kw`
/// window moved by `(sh, sw)` over an `h x w` input with `pt` rows of padding on top and `pl`
/// columns on the left, giving `oh x ow` outputs. A 1-D layer has height 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Window {
    /// The kernels' geometry with `cin` input and `cout` output channels.
    const fn geom(self, cin: usize, cout: usize) -> Geom {
        Geom {
            cin,
            cout,
            h: self.h,
            w: self.w,
            kh: self.kh,
            kw: self.kw,
            sh: self.sh,
            sw: self.sw,
            pt: self.pt,
            pl: self.pl,
            oh: self.oh,
            ow: self.ow,
        }
    }
}

/// The bounds of a 2-D window layer in one: the window `(KH, KW)`, stride `(SH, SW)` and padding
/// `(PT, PB, PL, PR)` (the tuple implementing this trait) fit an `H x W` input and give exactly
/// `OH x OW` outputs (checked through [`WindowOut`] and [`SameSize`]).
pub trait Window2d<H, W, OH, OW> {
    /// The sizes.
    const WINDOW: Window;
}

impl<KH, KW, SH, SW, PT, PB, PL, PR, H, W, OH, OW> Window2d<H, W, OH, OW>
    for (KH, KW, SH, SW, PT, PB, PL, PR)
where
    KH: Unsigned,
    KW: Unsigned,
    SH: Unsigned,
    SW: Unsigned,
    PT: Unsigned,
    PB: Unsigned,
    PL: Unsigned,
    PR: Unsigned,
    H: Unsigned + WindowOut<KH, SH, PT, PB>,
    W: Unsigned + WindowOut<KW, SW, PL, PR>,
    OH: Unsigned,
    OW: Unsigned,
    <H as WindowOut<KH, SH, PT, PB>>::Out: SameSize<OH>,
    <W as WindowOut<KW, SW, PL, PR>>::Out: SameSize<OW>,
{
    const WINDOW: Window = Window {
        kh: KH::USIZE,
        kw: KW::USIZE,
        sh: SH::USIZE,
        sw: SW::USIZE,
        pt: PT::USIZE,
        pl: PL::USIZE,
        h: H::USIZE,
        w: W::USIZE,
        oh: OH::USIZE,
        ow: OW::USIZE,
    };
}

/// [`Window2d`] for a 1-D layer: the window `K`, stride `S` and padding `(P0, P1)` (the tuple
/// implementing this trait) fit an input of length `L` and give exactly `OL` outputs.
pub trait Window1d<L, OL> {
    /// The sizes (height 1).
    const WINDOW: Window;
}

impl<K, S, P0, P1, L, OL> Window1d<L, OL> for (K, S, P0, P1)
where
    K: Unsigned,
    S: Unsigned,
    P0: Unsigned,
    P1: Unsigned,
    L: Unsigned + WindowOut<K, S, P0, P1>,
    OL: Unsigned,
    <L as WindowOut<K, S, P0, P1>>::Out: SameSize<OL>,
{
    const WINDOW: Window = Window {
        kh: 1,
        kw: K::USIZE,
        sh: 1,
        sw: S::USIZE,
        pt: 0,
        pl: P0::USIZE,
        h: 1,
        w: L::USIZE,
        oh: 1,
        ow: OL::USIZE,
    };
}

/// A window layer's geometry as a zero-sized type, for the kernels ([`GeomOf`]): the window
/// `Win` with its input and output sizes `IO` (`(H, W, OH, OW)` for 2-D, `(L, OL)` for 1-D),
/// `CI` input and `CO` output channels. Layers with the same sizes share one type, so the kernels
/// are compiled once per distinct geometry and see it as constants.
pub(crate) struct Fixed<Win, IO, CI, CO>(PhantomData<Marker<(Win, IO, CI, CO)>>);

/// A type parameter held without owning it (always `Send`, `Sync` and `Copy`, whatever `T` is:
/// the kernels share a geometry marker between threads).
type Marker<T> = fn() -> T;

impl<Win, IO, CI, CO> Fixed<Win, IO, CI, CO> {
    /// The marker.
    #[inline(always)]
    pub(crate) const fn new() -> Self {
        Fixed(PhantomData)
    }
}

impl<Win, IO, CI, CO> Clone for Fixed<Win, IO, CI, CO> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}
impl<Win, IO, CI, CO> Copy for Fixed<Win, IO, CI, CO> {}

impl<Win, H, W, OH, OW, CI: Unsigned, CO: Unsigned> GeomOf for Fixed<Win, (H, W, OH, OW), CI, CO>
where
    Win: Window2d<H, W, OH, OW>,
{
    const FIXED: Option<Geom> = Some(Win::WINDOW.geom(CI::USIZE, CO::USIZE));
    #[inline(always)]
    fn geom(self) -> Geom {
        Win::WINDOW.geom(CI::USIZE, CO::USIZE)
    }
}

impl<Win, L, OL, CI: Unsigned, CO: Unsigned> GeomOf for Fixed<Win, (L, OL), CI, CO>
where
    Win: Window1d<L, OL>,
{
    const FIXED: Option<Geom> = Some(Win::WINDOW.geom(CI::USIZE, CO::USIZE));
    #[inline(always)]
    fn geom(self) -> Geom {
        Win::WINDOW.geom(CI::USIZE, CO::USIZE)
    }
}
