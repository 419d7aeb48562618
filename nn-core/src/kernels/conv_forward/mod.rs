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
use super::geom::{choose, Geom, GeomOf, UNFIXED};
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
        forward_with::<S, G, A>(
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
    forward_with::<S, Geom, A>(s, g, compact::plan_of::<S, Geom>(g), x, w, b, y, act)
}

/// The kernel of a geometry: 1 compact, 2 positions (with the filters kernel on the edge
/// columns), 3 filters; `plan` is its compact plan.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn kernel_of<S: Isa>(g: Geom, plan: Option<CompactPlan>) -> usize {
    if plan.is_some() {
        return 1;
    }
    let l = S::LANES;
    let (lo, hi) = interior(g);
    let taps = g.kh * g.kw * g.cin;
    // Cost in vector operations (+ scalar stores, each about as dear) of the two kernels.
    let nvf = g.cout.div_ceil(l);
    let filters_cost = g.oh * g.ow * (nvf * taps + g.cout);
    let positions_cost = g.oh * ((hi - lo).div_ceil(l) * g.cout * taps)
        + g.oh * (g.ow - (hi - lo)) * (nvf * taps + g.cout);
    if g.sw == 1 && hi > lo && positions_cost < filters_cost {
        2
    } else {
        3
    }
}

/// [`kernel_of`] for a geometry fixed by `G`, else [`UNFIXED`].
const fn fixed_kernel<S: Isa, G: GeomOf>() -> usize {
    match G::FIXED {
        Some(g) => kernel_of::<S>(g, compact::compact_plan::<S>(g, 0)),
        None => UNFIXED,
    }
}

/// Forward of one sample with the operations of `s`; `plan` is `compact_plan(g)`.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
#[allow(clippy::too_many_arguments)]
fn forward_with<S: Isa, G: GeomOf, A: Epilogue>(
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
    let (x, w, y) = (x.as_ptr(), w.as_ptr(), y.as_mut_ptr());
    let (lo, hi) = interior(g);
    // SAFETY: (every arm) the lengths were checked above, and every index the kernels form
    // stays inside them (see the kernels); `compact` reads the padded copy it makes and writes
    // `cout * oh * ow` outputs.
    unsafe {
        choose!(const { fixed_kernel::<S, G>() }, kernel_of::<S>(g, plan), {
            1 => match plan {
                Some(plan) => compact::<S, G, A>(s, g, plan, x, w, b, y, act),
                None => unreachable!(),
            },
            2 => {
                positions_all::<S, G, A>(s, g, x, w, b, y, act, lo, hi);
                filters_all::<S, G, A, LEFT>(s, g, x, w, b, y, act, 0, lo, lo, lo);
                filters_all::<S, G, A, RIGHT>(s, g, x, w, b, y, act, hi, g.ow, hi, hi);
            },
            _ => filters_all::<S, G, A, ROW>(s, g, x, w, b, y, act, 0, g.ow, lo, hi),
        })
    }
}

/// Which columns a [`filters_all`] call covers (its block size is chosen for their number):
/// whole rows.
const ROW: u8 = 0;
/// The columns left of the interior.
const LEFT: u8 = 1;
/// The columns right of the interior.
const RIGHT: u8 = 2;

/// The columns `[ox0, ox1)` a [`filters_all`] call of role `part` covers.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
const fn columns(g: Geom, part: u8) -> (usize, usize) {
    let (lo, hi) = interior(g);
    match part {
        LEFT => (0, lo),
        RIGHT => (hi, g.ow),
        _ => (0, g.ow),
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
