//! Convolutions over signals (`[C, L]`) and images (`[C, H, W]`), with any number of input
//! channels and filters, stride and zero padding.

use core::marker::PhantomData;

use generic_array::{ArrayLength, GenericArray};
use typenum::{Unsigned, U0, U1};

use crate::activation::{Activation, Identity};
use crate::conv_simd::{Const, ConstGeom, ConvForward};
use crate::geometry::{SameSize, WindowOut};
use crate::init::{Init, Rng};
use crate::layer::{Layer, ParamId, ParamKind, Parameters};
use crate::simd::dispatch;
use crate::tensor::{Shape, Shape2, Shape3, Tensor};

/// Kernel weights stored `[ky][kx][ci][co]`: output channels innermost, so the inner loop is a
/// vector multiply-add over filters.
type Kernel<CI, CO, KH, KW> =
    GenericArray<GenericArray<GenericArray<GenericArray<f32, CO>, CI>, KW>, KH>;

/// Geometry of one convolution call, all sizes in cells. Built from type-level constants, so
/// after inlining every loop bound is a constant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pt: usize,
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
}

/// The plain loop over output columns `[ox0, ox1)` of every row: the reference the vectorized
/// kernels of [`crate::conv_simd`] are tested against.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn conv_forward_plain(
    g: Geom,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    acc: &mut [f32],
    ox0: usize,
    ox1: usize,
) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    for oy in 0..g.oh {
        for ox in ox0..ox1 {
            match b {
                Some(b) => acc.copy_from_slice(&b[..g.cout]),
                None => acc.fill(0.0),
            }
            for ky in 0..g.kh {
                let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
                if iy >= g.h {
                    continue;
                }
                for kx in 0..g.kw {
                    let ix = (ox * g.sw + kx).wrapping_sub(g.pl);
                    if ix >= g.w {
                        continue;
                    }
                    let base = (ky * g.kw + kx) * g.cin;
                    for ci in 0..g.cin {
                        let xv = x[ci * hw + iy * g.w + ix];
                        let row = &w[(base + ci) * g.cout..][..g.cout];
                        for co in 0..g.cout {
                            acc[co] += xv * row[co];
                        }
                    }
                }
            }
            for co in 0..g.cout {
                y[co * ohw + oy * g.ow + ox] = acc[co];
            }
        }
    }
}

/// Backward of the convolution for one sample: writes `dx`, adds into `dw` and `db`. `gco` has
/// `cout` cells. The plain loop: the reference of [`crate::conv_simd_backward`] in the tests, and
/// the backward without `alloc` (no scratch for the vectorized one).
#[cfg(any(test, not(feature = "alloc")))]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_backward(
    g: Geom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    gco: &mut [f32],
) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    dx.fill(0.0);
    let mut db = db;
    // The row count is hidden from the optimizer so it does not unroll the rows and vectorize
    // across them with gathers and scatters (see `pool::max_forward`).
    for oy in 0..core::hint::black_box(g.oh) {
        for ox in 0..g.ow {
            for co in 0..g.cout {
                gco[co] = dy[co * ohw + oy * g.ow + ox];
            }
            if let Some(db) = db.as_deref_mut() {
                for co in 0..g.cout {
                    db[co] += gco[co];
                }
            }
            for ky in 0..g.kh {
                let iy = (oy * g.sh + ky).wrapping_sub(g.pt);
                if iy >= g.h {
                    continue;
                }
                for kx in 0..g.kw {
                    let ix = (ox * g.sw + kx).wrapping_sub(g.pl);
                    if ix >= g.w {
                        continue;
                    }
                    let base = (ky * g.kw + kx) * g.cin;
                    for ci in 0..g.cin {
                        let xi = ci * hw + iy * g.w + ix;
                        let xv = x[xi];
                        let off = (base + ci) * g.cout;
                        let row = &w[off..][..g.cout];
                        let drow = &mut dw[off..][..g.cout];
                        for (d, &gc) in drow.iter_mut().zip(gco.iter()) {
                            *d += xv * gc;
                        }
                        dx[xi] += crate::math::dot(row, gco);
                    }
                }
            }
        }
    }
}

macro_rules! conv_common {
    ($name:ident, [$($k:ident),*], [$($geo:ident),*]) => {
        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Clone
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            fn clone(&self) -> Self {
                $name { w: self.w.clone(), b: self.b.clone(), _geometry: PhantomData }
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Default
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            /// All zeros.
            fn default() -> Self {
                // SAFETY: `w` and `b` are arrays of `f32` (`GenericArray` is `repr(transparent)`
                // over `[f32; N]`), for which all-zero bits are `0.0`, and `PhantomData` has no
                // bits; a memset, unlike the element-by-element `GenericArray::default`.
                $name { w: unsafe { core::mem::zeroed() }, b: unsafe { core::mem::zeroed() }, _geometry: PhantomData }
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> core::fmt::Debug
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "<in {}, out {}, kernel {:?}, bias {}>"), CI::USIZE, CO::USIZE, [$($k::USIZE),*], BIAS)
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool>
            $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            /// Kernel cells per filter and input channel.
            const TAPS: usize = 1 $(* $k::USIZE)*;

            /// A layer drawn with `init` (fan-in = in_channels x kernel cells, fan-out =
            /// out_channels x kernel cells; biases zero).
            pub fn new(init: Init, rng: &mut Rng) -> Self {
                let mut c = Self::default();
                c.init(init, rng);
                c
            }

            /// Redraws the weights in place with `init` and zeroes the biases.
            pub fn init(&mut self, init: Init, rng: &mut Rng) {
                init.fill(self.weights_mut(), CI::USIZE * Self::TAPS, CO::USIZE * Self::TAPS, rng);
                self.b = GenericArray::default();
            }

            /// The kernel as one slice, `[ky][kx][in][out]` order.
            pub fn weights(&self) -> &[f32] {
                let n = CI::USIZE * CO::USIZE * Self::TAPS;
                // SAFETY: nested `GenericArray`s of `f32` are `repr(transparent)` arrays, so the
                // kernel is `n` consecutive initialized `f32`s in one allocation.
                unsafe { core::slice::from_raw_parts(self.w.as_ptr() as *const f32, n) }
            }

            /// The kernel as one mutable slice, `[ky][kx][in][out]` order.
            pub fn weights_mut(&mut self) -> &mut [f32] {
                let n = CI::USIZE * CO::USIZE * Self::TAPS;
                // SAFETY: as in `weights`; `&mut self` borrows the whole kernel exclusively.
                unsafe { core::slice::from_raw_parts_mut(self.w.as_mut_ptr() as *mut f32, n) }
            }
        }

        impl<CI: ArrayLength, CO: ArrayLength, $($k: ArrayLength,)* $($geo,)* const BIAS: bool> Parameters
            for $name<CI, CO, $($k,)* $($geo,)* BIAS>
        {
            const COUNT: usize = CI::USIZE * CO::USIZE * Self::TAPS + if BIAS { CO::USIZE } else { 0 };
            fn visit(&self, layer: &'static str, f: &mut dyn FnMut(ParamId, &[f32])) {
                f(ParamId { layer, name: "weight", kind: ParamKind::Weight }, self.weights());
                if BIAS {
                    f(ParamId { layer, name: "bias", kind: ParamKind::Bias }, self.b.as_slice());
                }
            }
            fn visit_mut(&mut self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32])) {
                f(ParamId { layer, name: "weight", kind: ParamKind::Weight }, self.weights_mut());
                if BIAS {
                    f(ParamId { layer, name: "bias", kind: ParamKind::Bias }, self.b.as_mut_slice());
                }
            }
            fn zip_mut(&mut self, o: &Self, layer: &'static str, f: &mut dyn FnMut(ParamId, &mut [f32], &[f32])) {
                f(ParamId { layer, name: "weight", kind: ParamKind::Weight }, self.weights_mut(), o.weights());
                if BIAS {
                    f(ParamId { layer, name: "bias", kind: ParamKind::Bias }, self.b.as_mut_slice(), o.b.as_slice());
                }
            }
        }
    };
}

/// 2-D convolution: `CO` filters of `KH x KW` cells over `CI` input channels, stride
/// `(SH, SW)`, zero padding `(PT, PB, PL, PR)` (top, bottom, left, right), optional bias.
///
/// `y[co][oy][ox] = b[co] + sum over ci, ky, kx of w[co][ci][ky][kx] * x[ci][oy*SH + ky - PT][ox*SW + kx - PL]`
/// (cells outside the input are zero). Each filter has one sub-filter per input channel and
/// sums them, as in the lecture.
///
/// Shapes: `[CI, H, W] -> [CO, OH, OW]` with OH = floor((H + PT + PB - KH) / SH) + 1 and
/// OW = floor((W + PL + PR - KW) / SW) + 1; parameters CO·CI·KH·KW (+ CO with bias);
/// multiply-accumulates CO·CI·KH·KW·OH·OW (padding included).
///
/// PyTorch `nn.Conv2d(CI, CO, (KH, KW), stride=(SH, SW), padding=...)` (asymmetric padding via
/// `nn.ZeroPad2d`); Keras `layers.Conv2D(CO, (KH, KW), strides, padding)` with
/// `data_format="channels_first"`. Weights on disk use PyTorch's `[out, in, kh, kw]` layout; in
/// memory they are `[kh][kw][in][out]`.
pub struct Conv2d<
    CI: ArrayLength,
    CO: ArrayLength,
    KH: ArrayLength,
    KW: ArrayLength,
    SH = U1,
    SW = U1,
    PT = U0,
    PB = U0,
    PL = U0,
    PR = U0,
    const BIAS: bool = true,
> {
    /// Kernel, `w[ky][kx][ci][co]`.
    pub w: Kernel<CI, CO, KH, KW>,
    /// One bias per filter (zero and unused without bias).
    pub b: GenericArray<f32, CO>,
    _geometry: PhantomData<(SH, SW, PT, PB, PL, PR)>,
}

conv_common!(Conv2d, [KH, KW], [SH, SW, PT, PB, PL, PR]);

impl<CI, CO, KH, KW, SH, SW, PT, PB, PL, PR, const BIAS: bool, H, W, OH, OW>
    Layer<Shape3<CI, H, W>, Shape3<CO, OH, OW>>
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
    Shape3<CI, H, W>: Shape,
    Shape3<CO, OH, OW>: Shape,
    H: Unsigned + WindowOut<KH, SH, PT, PB>,
    W: Unsigned + WindowOut<KW, SW, PL, PR>,
    OH: Unsigned,
    OW: Unsigned,
    <H as WindowOut<KH, SH, PT, PB>>::Out: SameSize<OH>,
    <W as WindowOut<KW, SW, PL, PR>>::Out: SameSize<OW>,
{
    type Grad = Self;

    #[inline(always)]
    fn forward(&self, x: &Tensor<Shape3<CI, H, W>>, y: &mut Tensor<Shape3<CO, OH, OW>>) {
        self.forward_act(x, y, Identity);
    }

    #[inline(always)]
    fn forward_act<A: Activation>(
        &self,
        x: &Tensor<Shape3<CI, H, W>>,
        y: &mut Tensor<Shape3<CO, OH, OW>>,
        act: A,
    ) {
        let b = if BIAS { Some(self.b.as_slice()) } else { None };
        dispatch(ConvForward {
            g: Const::<G2<CI, CO, KH, KW, SH, SW, PT, PL, H, W, OH, OW>>::new(),
            x: x.as_slice(),
            w: self.weights(),
            b,
            y: y.as_mut_slice(),
            act,
        });
    }

    fn backward_batch(
        &self,
        x: &[Tensor<Shape3<CI, H, W>>],
        _y: &[Tensor<Shape3<CO, OH, OW>>],
        dy: &[Tensor<Shape3<CO, OH, OW>>],
        dx: &mut [Tensor<Shape3<CI, H, W>>],
        grad: &mut Self,
    ) {
        backward_batch::<G2<CI, CO, KH, KW, SH, SW, PT, PL, H, W, OH, OW>, CO, _, _, _>(
            self.weights(),
            x,
            dy,
            dx,
            &mut grad.w,
            &mut grad.b,
            BIAS,
        );
    }
}

/// A convolution's geometry as a type (its [`ConstGeom`]), so the run-time dispatched kernels
/// are compiled with constant loop bounds.
#[allow(clippy::type_complexity)]
pub(crate) struct G2<CI, CO, KH, KW, SH, SW, PT, PL, H, W, OH, OW>(
    PhantomData<(CI, CO, KH, KW, SH, SW, PT, PL, H, W, OH, OW)>,
);

impl<CI, CO, KH, KW, SH, SW, PT, PL, H, W, OH, OW> ConstGeom
    for G2<CI, CO, KH, KW, SH, SW, PT, PL, H, W, OH, OW>
where
    CI: Unsigned,
    CO: Unsigned,
    KH: Unsigned,
    KW: Unsigned,
    SH: Unsigned,
    SW: Unsigned,
    PT: Unsigned,
    PL: Unsigned,
    H: Unsigned,
    W: Unsigned,
    OH: Unsigned,
    OW: Unsigned,
{
    const G: Geom = Geom {
        cin: CI::USIZE,
        cout: CO::USIZE,
        h: H::USIZE,
        w: W::USIZE,
        kh: KH::USIZE,
        kw: KW::USIZE,
        sh: SH::USIZE,
        sw: SW::USIZE,
        pt: PT::USIZE,
        pl: PL::USIZE,
        oh: OH::USIZE,
        ow: OW::USIZE,
    };
}

/// Splits a gradient layer into its kernel and bias slices.
fn grad_parts<'a, K, CO: ArrayLength>(
    w: &'a mut K,
    b: &'a mut GenericArray<f32, CO>,
) -> (&'a mut [f32], &'a mut [f32]) {
    let n = core::mem::size_of::<K>() / core::mem::size_of::<f32>();
    // SAFETY: `K` is a nested `GenericArray` of `f32` (a kernel), i.e. `n` consecutive `f32`s.
    let w = unsafe { core::slice::from_raw_parts_mut(w as *mut K as *mut f32, n) };
    (w, b.as_mut_slice())
}

/// The batch backward of either convolution (geometry `G`): writes `dx`, adds into the
/// gradient's kernel `gw` and (with `bias`) biases `gb`. Vectorized over the whole batch with
/// `alloc`, the plain loop per sample without.
#[allow(clippy::too_many_arguments)]
fn backward_batch<G: ConstGeom, CO: ArrayLength, I: Shape, O: Shape, K>(
    w: &[f32],
    x: &[Tensor<I>],
    dy: &[Tensor<O>],
    dx: &mut [Tensor<I>],
    gw: &mut K,
    gb: &mut GenericArray<f32, CO>,
    bias: bool,
) {
    assert!(dy.len() == x.len() && dx.len() == x.len());
    let (dw, db) = grad_parts(gw, gb);
    let db = if bias { Some(db) } else { None };
    #[cfg(feature = "alloc")]
    crate::conv_simd_backward::backward(
        Const::<G>::new(),
        Tensor::flatten_batch(x),
        w,
        Tensor::flatten_batch(dy),
        Tensor::flatten_batch_mut(dx),
        dw,
        db,
    );
    #[cfg(not(feature = "alloc"))]
    {
        let mut gco = GenericArray::<f32, CO>::default();
        let mut db = db;
        for i in 0..x.len() {
            conv_backward(
                G::G,
                x[i].as_slice(),
                w,
                dy[i].as_slice(),
                dx[i].as_mut_slice(),
                dw,
                db.as_deref_mut(),
                &mut gco,
            );
        }
    }
}

/// 1-D convolution: `CO` filters of `K` cells over `CI` input channels, stride `S`, zero
/// padding `(P0, P1)` (left, right), optional bias.
///
/// `y[co][o] = b[co] + sum over ci, k of w[co][ci][k] * x[ci][o*S + k - P0]`.
///
/// Shapes: `[CI, L] -> [CO, OL]` with OL = floor((L + P0 + P1 - K) / S) + 1; parameters
/// CO·CI·K (+ CO); multiply-accumulates CO·CI·K·OL.
///
/// PyTorch `nn.Conv1d(CI, CO, K, stride=S, padding=P)`; Keras `layers.Conv1D` (channels first).
/// Weights on disk `[out, in, k]`; in memory `[k][in][out]`.
pub struct Conv1d<
    CI: ArrayLength,
    CO: ArrayLength,
    K: ArrayLength,
    S = U1,
    P0 = U0,
    P1 = U0,
    const BIAS: bool = true,
> {
    /// Kernel, `w[0][k][ci][co]` (a 2-D kernel of height 1).
    pub w: Kernel<CI, CO, U1, K>,
    /// One bias per filter (zero and unused without bias).
    pub b: GenericArray<f32, CO>,
    _geometry: PhantomData<(S, P0, P1)>,
}

conv_common!(Conv1d, [K], [S, P0, P1]);

impl<CI, CO, K, S, P0, P1, const BIAS: bool, L, OL> Layer<Shape2<CI, L>, Shape2<CO, OL>>
    for Conv1d<CI, CO, K, S, P0, P1, BIAS>
where
    CI: ArrayLength,
    CO: ArrayLength,
    K: ArrayLength,
    S: Unsigned,
    P0: Unsigned,
    P1: Unsigned,
    Shape2<CI, L>: Shape,
    Shape2<CO, OL>: Shape,
    L: Unsigned + WindowOut<K, S, P0, P1>,
    OL: Unsigned,
    <L as WindowOut<K, S, P0, P1>>::Out: SameSize<OL>,
{
    type Grad = Self;

    #[inline(always)]
    fn forward(&self, x: &Tensor<Shape2<CI, L>>, y: &mut Tensor<Shape2<CO, OL>>) {
        self.forward_act(x, y, Identity);
    }

    #[inline(always)]
    fn forward_act<A: Activation>(
        &self,
        x: &Tensor<Shape2<CI, L>>,
        y: &mut Tensor<Shape2<CO, OL>>,
        act: A,
    ) {
        let b = if BIAS { Some(self.b.as_slice()) } else { None };
        dispatch(ConvForward {
            g: Const::<G2<CI, CO, U1, K, U1, S, U0, P0, U1, L, U1, OL>>::new(),
            x: x.as_slice(),
            w: self.weights(),
            b,
            y: y.as_mut_slice(),
            act,
        });
    }

    fn backward_batch(
        &self,
        x: &[Tensor<Shape2<CI, L>>],
        _y: &[Tensor<Shape2<CO, OL>>],
        dy: &[Tensor<Shape2<CO, OL>>],
        dx: &mut [Tensor<Shape2<CI, L>>],
        grad: &mut Self,
    ) {
        backward_batch::<G2<CI, CO, U1, K, U1, S, U0, P0, U1, L, U1, OL>, CO, _, _, _>(
            self.weights(),
            x,
            dy,
            dx,
            &mut grad.w,
            &mut grad.b,
            BIAS,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_simd::{forward, ConvForward};
    use std::vec::Vec;

    /// The vectorized forward with every instruction set this CPU has, named.
    fn every_isa<A: crate::activation::Activation>(
        g: Geom,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        n: usize,
        act: A,
    ) -> Vec<(&'static str, Vec<f32>)> {
        let mut out = Vec::new();
        let mut y = std::vec![f32::NAN; n];
        forward(crate::simd::Portable, g, x, w, Some(b), &mut y, act);
        out.push(("portable", y));
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut y = std::vec![f32::NAN; n];
                // SAFETY: AVX2 and FMA were detected.
                unsafe {
                    crate::simd::run_avx2(ConvForward {
                        g,
                        x,
                        w,
                        b: Some(b),
                        y: &mut y,
                        act,
                    })
                };
                out.push(("avx2", y));
            }
            if std::is_x86_feature_detected!("avx512f") {
                let mut y = std::vec![f32::NAN; n];
                // SAFETY: AVX-512F was detected.
                unsafe {
                    crate::simd::run_avx512(ConvForward {
                        g,
                        x,
                        w,
                        b: Some(b),
                        y: &mut y,
                        act,
                    })
                };
                out.push(("avx512", y));
            }
        }
        out
    }

    /// The register-blocked and row-vectorized kernels against the plain scalar loop, over many
    /// geometries (filters that are and are not multiples of 8, strides, paddings, borders).
    #[test]
    fn vectorized_kernels_match_the_plain_loop() {
        let mut seed = 7u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let mut checked = 0;
        for &(cin, cout) in &[(1, 8), (3, 16), (2, 32), (1, 6), (4, 5), (3, 24), (2, 80)] {
            for &(h, w) in &[(1, 12), (5, 9), (8, 8), (3, 17), (4, 40), (2, 70)] {
                for &(kh, kw) in &[(1, 3), (3, 3), (2, 5)] {
                    for &(sh, sw) in &[(1, 1), (2, 2), (1, 2)] {
                        for &(pt, pb, pl, pr) in &[(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0)] {
                            if kh > h + pt + pb || kw > w + pl + pr {
                                continue;
                            }
                            let (oh, ow) =
                                ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                            let g = Geom {
                                cin,
                                cout,
                                h,
                                w,
                                kh,
                                kw,
                                sh,
                                sw,
                                pt,
                                pl,
                                oh,
                                ow,
                            };
                            let x: std::vec::Vec<f32> = (0..cin * h * w).map(|_| rnd()).collect();
                            let wt: std::vec::Vec<f32> =
                                (0..kh * kw * cin * cout).map(|_| rnd()).collect();
                            let b: std::vec::Vec<f32> = (0..cout).map(|_| rnd()).collect();
                            let mut acc = std::vec![0.0; cout];
                            let mut want = std::vec![0.0; cout * oh * ow];
                            conv_forward_plain(g, &x, &wt, Some(&b), &mut want, &mut acc, 0, ow);
                            use crate::activation::{Activation, ReLU, Tanh};
                            let n = cout * oh * ow;
                            // Every instruction set without activation; the fused
                            // activations with the one `dispatch` picks (each instantiation
                            // of the kernels with a run-time geometry is costly to compile).
                            let fused = |act: &'static str| {
                                let mut y = std::vec![f32::NAN; n];
                                let k = |y: &mut [f32]| match act {
                                    "relu" => crate::simd::dispatch(ConvForward {
                                        g,
                                        x: &x,
                                        w: &wt,
                                        b: Some(&b),
                                        y,
                                        act: ReLU,
                                    }),
                                    _ => crate::simd::dispatch(ConvForward {
                                        g,
                                        x: &x,
                                        w: &wt,
                                        b: Some(&b),
                                        y,
                                        act: Tanh,
                                    }),
                                };
                                k(&mut y);
                                std::vec![("dispatch", y)]
                            };
                            let runs = [
                                ("identity", every_isa(g, &x, &wt, &b, n, Identity)),
                                ("relu", fused("relu")),
                                ("tanh", fused("tanh")),
                            ];
                            for (act, outputs) in runs {
                                for (isa, got) in outputs {
                                    for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                                        let e = match act {
                                            "relu" => ReLU.f(*e),
                                            "tanh" => Tanh.f(*e),
                                            _ => *e,
                                        };
                                        assert!(
                                            (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                                            "{isa}, {act}, {g:?}: output {i}: {a} vs {e}"
                                        );
                                    }
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 300, "only {checked} geometries checked");
    }

    /// One geometry through the vectorized forward (every instruction set without activation,
    /// ReLU and Tanh with the one `dispatch` picks) against the plain loop; returns the number
    /// of runs compared.
    fn check_forward(g: Geom, rnd: &mut impl FnMut() -> f32) -> usize {
        use crate::activation::{Activation, ReLU, Tanh};
        let x: Vec<f32> = (0..g.cin * g.h * g.w).map(|_| rnd()).collect();
        let wt: Vec<f32> = (0..g.kh * g.kw * g.cin * g.cout).map(|_| rnd()).collect();
        let b: Vec<f32> = (0..g.cout).map(|_| rnd()).collect();
        let n = g.cout * g.oh * g.ow;
        let mut acc = std::vec![0.0; g.cout];
        let mut want = std::vec![0.0; n];
        conv_forward_plain(g, &x, &wt, Some(&b), &mut want, &mut acc, 0, g.ow);
        // Outputs with guard cells after them, checked untouched.
        let fused = |relu: bool| {
            let mut y = std::vec![f32::NAN; n + 16];
            y[n..].fill(1234.5);
            let (x, w, b, y2) = (&x[..], &wt[..], Some(&b[..]), &mut y[..n]);
            if relu {
                crate::simd::dispatch(ConvForward {
                    g,
                    x,
                    w,
                    b,
                    y: y2,
                    act: ReLU,
                });
            } else {
                crate::simd::dispatch(ConvForward {
                    g,
                    x,
                    w,
                    b,
                    y: y2,
                    act: Tanh,
                });
            }
            assert!(
                y[n..].iter().all(|&v| v == 1234.5),
                "{g:?}: write past the end"
            );
            y.truncate(n);
            std::vec![("dispatch", y)]
        };
        let runs = [
            ("identity", every_isa(g, &x, &wt, &b, n, Identity)),
            ("relu", fused(true)),
            ("tanh", fused(false)),
        ];
        let mut checked = 0;
        for (act, outputs) in runs {
            for (isa, got) in outputs {
                assert_eq!(got.len(), n);
                for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                    let e = match act {
                        "relu" => ReLU.f(*e),
                        "tanh" => Tanh.f(*e),
                        _ => *e,
                    };
                    assert!(
                        (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{isa}, {act}, {g:?}: output {i}: {a} vs {e}"
                    );
                }
                checked += 1;
            }
        }
        checked
    }

    /// Every forward kernel, forced in turn (the compact one where the geometry allows it, then
    /// the filters and positions ones), against the plain loop over small images: sizes that
    /// are and are not multiples of the vector width, one and several rows per vector, strides,
    /// asymmetric padding, filter counts that are not multiples of the block.
    #[test]
    fn forced_forward_kernels_match_the_plain_loop() {
        use crate::conv_simd::FORCE;
        use core::sync::atomic::Ordering;
        let mut seed = 5u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let (mut checked, mut compact) = (0, 0);
        for force in [1, 2] {
            for &(cin, cout) in &[(1, 8), (8, 16), (3, 5), (2, 6), (1, 1), (6, 16), (4, 24)] {
                for &(h, w) in &[(8, 8), (4, 4), (5, 7), (1, 40), (12, 12), (3, 17), (2, 2)] {
                    for &(kh, kw) in &[(3, 3), (1, 5), (2, 2), (5, 5)] {
                        for &(sh, sw) in &[(1, 1), (2, 2), (2, 1), (1, 3)] {
                            for &(pt, pb, pl, pr) in &[(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 0, 1)] {
                                if kh > h + pt + pb || kw > w + pl + pr {
                                    continue;
                                }
                                let (oh, ow) =
                                    ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                                #[rustfmt::skip]
                                let g = Geom { cin, cout, h, w, kh, kw, sh, sw, pt, pl, oh, ow };
                                FORCE.store(force, Ordering::Relaxed);
                                if force == 1 && crate::conv_simd::compact_allowed(g) {
                                    compact += 1;
                                }
                                checked += check_forward(g, &mut rnd);
                                FORCE.store(0, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 2000, "only {checked} runs checked");
        assert!(
            compact > 600,
            "the compact kernel ran for only {compact} geometries"
        );
    }

    /// The vectorized backward of a batch with every instruction set this CPU has, named: `(dx,
    /// dw, db)` from `dw0`, `db0`.
    #[allow(clippy::too_many_arguments)]
    fn every_isa_backward(
        g: Geom,
        n: usize,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        dw0: &[f32],
        db0: &[f32],
    ) -> Vec<(&'static str, [Vec<f32>; 3])> {
        use crate::conv_simd_backward::{backward_with, scratch_len, ConvBackward};
        // Outputs and scratch with guard cells after them, checked untouched.
        const GUARD: usize = 64;
        let (nx, ns) = (n * g.cin * g.h * g.w, scratch_len(g, n));
        let fresh = || {
            let mut dx = std::vec![f32::NAN; nx + GUARD];
            dx[nx..].fill(1234.5);
            let mut sc = std::vec![f32::NAN; ns + GUARD];
            sc[ns..].fill(1234.5);
            (dx, dw0.to_vec(), db0.to_vec(), sc)
        };
        let check = |isa: &str, mut dx: Vec<f32>, sc: Vec<f32>| {
            assert!(
                dx[nx..].iter().chain(&sc[ns..]).all(|&v| v == 1234.5),
                "{isa}, {g:?}: write past the end"
            );
            dx.truncate(nx);
            dx
        };
        let mut out = Vec::new();
        let (mut dx, mut dw, mut db, mut sc) = fresh();
        backward_with(
            crate::simd::Portable,
            g,
            n,
            x,
            w,
            dy,
            &mut dx[..nx],
            &mut dw,
            Some(&mut db),
            &mut sc[..ns],
        );
        out.push(("portable", [check("portable", dx, sc), dw, db]));
        #[cfg(target_arch = "x86_64")]
        {
            let mut run = |isa: &'static str, avx512: bool| {
                let (mut dx, mut dw, mut db, mut sc) = fresh();
                let k = ConvBackward {
                    g,
                    n,
                    x,
                    w,
                    dy,
                    dx: &mut dx[..nx],
                    dw: &mut dw,
                    db: Some(&mut db),
                    scratch: &mut sc[..ns],
                };
                // SAFETY: the caller detected the instruction set.
                unsafe {
                    if avx512 {
                        crate::simd::run_avx512(k)
                    } else {
                        crate::simd::run_avx2(k)
                    }
                };
                out.push((isa, [check(isa, dx, sc), dw, db]));
            };
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                run("avx2", false);
            }
            if std::is_x86_feature_detected!("avx512f") {
                run("avx512", true);
            }
        }
        out
    }

    /// The vectorized batch backward (input, weight and bias gradients, the latter two added to
    /// nonzero values) against the plain per-sample loop, over many geometries.
    #[test]
    fn vectorized_backward_matches_the_plain_loop() {
        let mut seed = 11u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let n = 3;
        let mut checked = 0;
        for &(cin, cout) in &[
            (1, 8),
            (3, 16),
            (2, 32),
            (1, 6),
            (4, 5),
            (3, 24),
            (2, 80),
            (4, 6),
        ] {
            for &(h, w) in &[
                (1, 12),
                (5, 9),
                (8, 8),
                (3, 17),
                (4, 40),
                (2, 70),
                (4, 4),
                (7, 3),
            ] {
                for &(kh, kw) in &[(1, 3), (3, 3), (2, 5), (5, 5), (1, 1)] {
                    for &(sh, sw) in &[(1, 1), (2, 2), (1, 2), (2, 1)] {
                        for &(pt, pb, pl, pr) in
                            &[(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0), (2, 0, 1, 3)]
                        {
                            if kh > h + pt + pb || kw > w + pl + pr {
                                continue;
                            }
                            let (oh, ow) =
                                ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                            let g = Geom {
                                cin,
                                cout,
                                h,
                                w,
                                kh,
                                kw,
                                sh,
                                sw,
                                pt,
                                pl,
                                oh,
                                ow,
                            };
                            let (xs, ys, ws) = (cin * h * w, cout * oh * ow, kh * kw * cin * cout);
                            let x: Vec<f32> = (0..n * xs).map(|_| rnd()).collect();
                            let dy: Vec<f32> = (0..n * ys).map(|_| rnd()).collect();
                            let wt: Vec<f32> = (0..ws).map(|_| rnd()).collect();
                            let dw0: Vec<f32> = (0..ws).map(|_| rnd()).collect();
                            let db0: Vec<f32> = (0..cout).map(|_| rnd()).collect();
                            let mut want_dx = std::vec![0.0; n * xs];
                            let (mut want_dw, mut want_db) = (dw0.clone(), db0.clone());
                            let mut gco = std::vec![0.0; cout];
                            for i in 0..n {
                                conv_backward(
                                    g,
                                    &x[i * xs..][..xs],
                                    &wt,
                                    &dy[i * ys..][..ys],
                                    &mut want_dx[i * xs..][..xs],
                                    &mut want_dw,
                                    Some(&mut want_db),
                                    &mut gco,
                                );
                            }
                            let want = [want_dx, want_dw, want_db];
                            // Every pairing of the weight- and input-gradient kernels.
                            let mut got = Vec::new();
                            #[allow(clippy::unusual_byte_groupings)] // weight-kernel_dx-kernel bits
                            for force in [0b001_01, 0b010_10, 0b011_01, 0b100_10] {
                                crate::conv_simd_backward::FORCE
                                    .store(force, core::sync::atomic::Ordering::Relaxed);
                                got.extend(every_isa_backward(g, n, &x, &wt, &dy, &dw0, &db0));
                            }
                            crate::conv_simd_backward::FORCE
                                .store(0, core::sync::atomic::Ordering::Relaxed);
                            for (isa, got) in got {
                                for (part, (got, want)) in
                                    ["dx", "dw", "db"].iter().zip(got.iter().zip(&want))
                                {
                                    assert_eq!(got.len(), want.len());
                                    for (i, (a, e)) in got.iter().zip(want).enumerate() {
                                        assert!(
                                            (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                                            "{isa}, {g:?}: {part} {i}: {a} vs {e}"
                                        );
                                    }
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 4000, "only {checked} geometries checked");
    }
}
