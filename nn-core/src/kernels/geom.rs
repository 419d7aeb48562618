//! The geometry of a convolution or pooling call, and how a kernel receives it.

/// Geometry of one convolution or pooling call, all sizes in cells: `cin` input channels of
/// `h x w`, `cout` output channels of `oh x ow` (pooling: `cout = cin`), a `kh x kw` window
/// moved by `(sh, sw)`, `pt` rows of padding on top and `pl` columns on the left (the bottom and
/// right padding follow from the output size). A 1-D layer is an image of height 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    /// Input channels.
    pub cin: usize,
    /// Output channels (filters; the channels for pooling).
    pub cout: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding rows above.
    pub pt: usize,
    /// Padding columns on the left.
    pub pl: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// Where a kernel gets its geometry: a [`Geom`] value (tests run thousands of geometries through
/// one compiled copy) or a zero-sized type whose geometry is a constant (the layers' geometry
/// markers), so that every loop bound of the kernel is a constant, also in the copy chosen at
/// run time for the CPU's instruction set.
pub trait GeomOf: Copy + Send + Sync {
    /// The geometry when the type fixes it (`None` for a [`Geom`] value): kernels evaluate their
    /// plans for it at compile time.
    const FIXED: Option<Geom>;
    /// The geometry.
    fn geom(self) -> Geom;
}

impl GeomOf for Geom {
    const FIXED: Option<Geom> = None;
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn geom(self) -> Geom {
        self
    }
}

/// A kernel choice made at run time: what the `const fn`s that choose kernels for a fixed
/// geometry return for a geometry that is a value ([`GeomOf::FIXED`] is `None`).
pub(crate) const UNFIXED: usize = usize::MAX;

/// `match` on a kernel choice: `$fixed` is a `const { .. }` block giving the choice for a geometry
/// fixed by its type (or [`UNFIXED`]), `$runtime` the same choice computed from the geometry
/// value. With a constant, rustc compiles only the arm chosen (it skips a `match` on a constant
/// when it collects what to compile), so a layer instantiates the one kernel variant and block
/// size it runs, per instruction set, instead of all of them inlined for LLVM to fold away (which
/// is what made release builds of deep networks take minutes).
macro_rules! choose {
    (const $fixed:block, $runtime:expr, { $($p:pat => $arm:expr,)* }) => {
        match const $fixed {
            $crate::kernels::geom::UNFIXED => match $runtime { $($p => $arm,)* },
            $($p => $arm,)*
        }
    };
}
pub(crate) use choose;
