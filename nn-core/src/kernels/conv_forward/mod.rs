//! Vectorized convolution forward, written once over [`Isa`] and run with the widest instruction
//! set the CPU has (see [`crate::kernels::isa`]).
//!
//! Two register-blocked kernels, chosen from the geometry (constants after inlining):
//! - **filters**: a block is `V` vectors of filters times `P` output positions of a row; each
//!   weight vector feeds `P` positions, each input value (broadcast) `V` vectors. Any stride and
//!   padding; the `V * P` outputs are written channel by channel.
//! - **positions** (stride 1 along rows): a block is `NV` vectors of consecutive output columns
//!   times `F` filters; each input vector feeds `F` filters. Columns whose taps would leave the
//!   row (padding) go through the filters kernel.
//!
//! - **compact** (small images): a block is `NV` vectors of consecutive output positions of the
//!   whole image (several rows per vector) times `F` filters. The input is copied zero-padded;
//!   for each tap, the vector of a block's positions is picked by [`Isa::permute2`] from two
//!   unaligned loads of the padded copy (the positions' top-left cells span at most two
//!   vectors), and feeds `F` filters. Any stride; outputs are stored as whole vectors.
//!
//! The choice minimizes vector operations plus scalar stores for the layer; every kernel is
//! checked against the plain loop ([`reference::forward`]) in `tests`.

mod compact;
mod filters;
mod positions;
pub mod reference;
#[cfg(test)]
mod tests;

use compact::{compact, CompactPlan};
use filters::{filters_all, positions_per_block};
use positions::positions_all;

use super::epilogue::Epilogue;
use super::geom::{Geom, GeomOf};
use super::isa::{Isa, Kernel};

/// `y = conv(x, w) + b` for one sample as a [`Kernel`] for [`crate::kernels::isa::dispatch`].
/// `act` is applied to every output (in registers where [`Epilogue::FUSED`] allows).
pub(crate) struct ConvForward<'a, G: GeomOf, A: Epilogue> {
    pub g: G,
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub b: Option<&'a [f32]>,
    pub y: &'a mut [f32],
    pub act: A,
}

impl<G: GeomOf, A: Epilogue> Kernel for ConvForward<'_, G, A> {
    type Out = ();
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn run<S: Isa>(self, s: S) {
        let plan = compact::plan_of::<S, G>(self.g);
        forward_with(
            s,
            self.g.geom(),
            plan,
            self.x,
            self.w,
            self.b,
            self.y,
            self.act,
        )
    }
}

/// Cells of the on-stack copy of a zero-padded input (8 KiB; 64-bit targets only, so small
/// embedded stacks never carry it).
const SCRATCH: usize = 2048;

/// Accumulator registers a block may use (the rest hold weights, inputs and broadcasts).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn acc_budget<S: Isa>() -> usize {
    if S::REGS >= 32 {
        if cfg!(target_feature = "avx512f") {
            24
        } else {
            16
        }
    } else {
        12
    }
}

/// Output columns `[lo, hi)` whose every tap lies inside the input row.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn interior(g: Geom) -> (usize, usize) {
    let lo = min(g.pl.div_ceil(g.sw), g.ow);
    let hi = if g.w + g.pl >= g.kw {
        min((g.w + g.pl - g.kw) / g.sw + 1, g.ow)
    } else {
        0
    };
    (lo, if hi > lo { hi } else { lo })
}

/// The smaller of `a` and `b` (in `const fn`s).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Forward of one sample with the operations of `s`.
#[cfg(test)]
pub(crate) fn forward<S: Isa, A: Epilogue>(
    s: S,
    g: Geom,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    act: A,
) {
    forward_with(s, g, compact::plan_of::<S, Geom>(g), x, w, b, y, act)
}

/// Forward of one sample with the operations of `s`; `plan` is `compact_plan(g)`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
fn forward_with<S: Isa, A: Epilogue>(
    s: S,
    g: Geom,
    plan: Option<CompactPlan>,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    act: A,
) {
    assert!(
        x.len() >= g.cin * g.h * g.w
            && w.len() >= g.kh * g.kw * g.cin * g.cout
            && y.len() >= g.cout * g.oh * g.ow
            && b.is_none_or(|b| b.len() >= g.cout)
            && g.sw >= 1
            && g.sh >= 1
    );
    if let Some(plan) = plan {
        // SAFETY: the lengths were checked above; `compact` reads the padded copy it makes and
        // writes `cout * oh * ow` outputs.
        unsafe { compact(s, g, plan, x.as_ptr(), w.as_ptr(), b, y.as_mut_ptr(), act) };
        return;
    }
    let l = S::LANES;
    let (lo, hi) = interior(g);
    let taps = g.kh * g.kw * g.cin;
    // Cost in vector operations (+ scalar stores, each about as dear) of the two kernels.
    let nvf = g.cout.div_ceil(l);
    let filters_cost = g.oh * g.ow * (nvf * taps + g.cout);
    let positions_cost = g.oh * ((hi - lo).div_ceil(l) * g.cout * taps)
        + g.oh * (g.ow - (hi - lo)) * (nvf * taps + g.cout);
    // SAFETY: (every call) the lengths were checked above, and every index the kernels form
    // stays inside them (see the kernels).
    unsafe {
        if g.sw == 1 && hi > lo && positions_cost < filters_cost {
            positions_all(s, g, x.as_ptr(), w.as_ptr(), b, y.as_mut_ptr(), act, lo, hi);
            filters_all(
                s,
                g,
                x.as_ptr(),
                w.as_ptr(),
                b,
                y.as_mut_ptr(),
                act,
                0,
                lo,
                lo,
                lo,
            );
            filters_all(
                s,
                g,
                x.as_ptr(),
                w.as_ptr(),
                b,
                y.as_mut_ptr(),
                act,
                hi,
                g.ow,
                hi,
                hi,
            );
        } else {
            filters_all(
                s,
                g,
                x.as_ptr(),
                w.as_ptr(),
                b,
                y.as_mut_ptr(),
                act,
                0,
                g.ow,
                lo,
                hi,
            );
        }
    }
}

/// Forces a forward kernel in tests: 1 the compact kernel (where the geometry allows it), 2 the
/// others (filters and positions, by cost); 0 chooses by cost.
#[cfg(test)]
pub(crate) static FORCE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Whether the compact kernel can run `g` with every instruction set of this CPU (tests).
#[cfg(test)]
pub(crate) fn compact_allowed(g: Geom) -> bool {
    compact::compact_plan::<crate::kernels::isa::Portable>(g, 1).is_some()
}

/// The forced kernel (tests) or 0.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
fn force() -> u8 {
    #[cfg(test)]
    return FORCE.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(test))]
    0
}
