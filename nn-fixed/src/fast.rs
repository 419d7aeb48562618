//! Fast forms of the layer arithmetic in [`ops`], bit for bit the same: integer SIMD for the
//! Dense layers whose types allow it, chosen from the types (constants in the generated twin,
//! so the choice folds away), and shortcuts for the casts, ReLU and the input conversion.
//! Every path is tested against the scalar reference in [`ops`] (`fast_tests.rs`).
//!
//! # Dense
//!
//! hls4ml's Dense converts every exact product `p = x * w` into `accum_t` and adds it there,
//! converting each partial sum back ([`ops::dense`]). When `accum_t` wraps around (`AP_WRAP`, the
//! default) every conversion keeps the low `W` bits, so the result is the sum modulo `2^W`, in
//! any order, of the converted products. Two cases are done in vector registers ([`DensePath`]),
//! with 16-bit inputs and weights (`W <= 16` signed, `W <= 15` unsigned):
//!
//! - [`DensePath::Exact`]: `accum_t` has at least the product's fractional bits, so a product
//!   enters it exactly (shifted left by `k`); an accumulator of at most 32 bits is
//!   `(bias + (sum p) << k) mod 2^W`: a plain integer dot product, `i16 x i16 -> i32` with
//!   `vpmaddwd` (pairs of inputs side by side), wrapped once.
//! - [`DensePath::Floor`]: `accum_t` has `s` (1 to 15) fewer fractional bits than the product and
//!   truncates (`AP_TRN`, the default), so each product is floored, `floor(p / 2^s)`, before it is
//!   added: hls4ml's default `ap_fixed<16,6>` everywhere (`s = 10`). With an accumulator of at
//!   most 16 bits only the sum modulo `2^16` matters, and it is computed in 16-bit lanes without
//!   a shift per product. The weights are stored scaled, `w 2^t` with `t = 16 - s - up` as
//!   large as they allow ([`FloorForm`]), so that `mulhi(x 2^up, w 2^t) = floor(x w / 2^s)`:
//!   one `vpmulhw` per 32 products, for inputs whose `x 2^up` is still 16 bits (at
//!   `ap_fixed<16,6>`: weights in `[-1, 1)` take inputs in `[-16, 16)`). A call with a larger
//!   input takes the wide form: split `x = xh 2^s + xl` (`0 <= xl < 2^s`), recover
//!   `wu = w + 2^15` (unsigned 16 bits); `mulhi_u16(xl 2^(16-s), wu) = floor(xl w / 2^s) +
//!   xl 2^(15-s)` and `mullo_16(xh, wu) = xh w + xh 2^15 (mod 2^16)`, so
//!   `mullo + mulhi = floor(x w / 2^s) + 2^(15-s) x (mod 2^16)`: two multiplications and a
//!   correction `2^(15-s) sum x` per call.
//!
//! [`DensePath::Floor`] skips the inputs that are 0 (about half after a ReLU; they add
//! nothing): with AVX-512, chunks of 16 inputs are written as aligned 64-byte stores (each value
//! repeated in both halves of a 32-bit word, so that its broadcast is a plain load) with a
//! 16-bit mask of the nonzero ones, and the kernel walks the mask's bits (`tzcnt`, `blsr`), the
//! row of input `k` at `k PAD`; the wide form compacts its values, low parts and row offsets
//! with `vpcompressd` instead (the mask walk measured 2 ns faster on M1's twin, 162 -> 160, one
//! load fewer per product than the compacted row offsets). The kernel sums into two sets of
//! registers (two chains of additions). [`DensePath::Exact`] does not skip
//! (pairs of zeros are rarer: measured on M1, compacting them cost more than it saved). The
//! bias conversion and the final `(result_t) acc` are done per output with the scalar casts,
//! which the compiler vectorizes. Other types (saturating or rounding accumulators, wider data
//! or accumulators) keep [`ops::dense`].
//!
//! The values between layers may be held in `i16` ([`Raw`]): the generated twin keeps those
//! of its fast Dense layers and ReLUs so (a quarter of the memory traffic of `i64`).
//!
//! Measured (nn-bench M1 at `ap_fixed<16,6>`, this machine kind): 351 ns per sample with the
//! two-multiplication form everywhere, values in `i64` and a scalar compaction; 157 ns with
//! the above (scratch harness; see nn-bench/README.md for the bench's figures); on an Ice Lake
//! Xeon, 148 ns against `f32`'s 167 once the generated twin passed its instruction set as a
//! constant ([`PackedDense::forward_on`]) and the softmax's lookups stopped being a gather.
//!
//! The instruction set is chosen at run time ([`Isa::detect`], from `cpuid`, so also without
//! `std`): AVX-512 (F, BW, VL) kernels written with intrinsics, AVX2 and portable kernels as plain
//! loops the compiler vectorizes.

use crate::ops::{self, DensePrecision};
use crate::tables::{self, SoftmaxPrecision, SoftmaxTables};
use crate::{Fixed, Overflow, Quant, Spec};

/// The instruction set a fast kernel runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Plain loops (every target).
    Portable,
    /// The plain loops compiled for AVX2.
    Avx2,
    /// AVX-512 F, BW and VL intrinsics (512-bit `vpmulhw`, `vpmullw`, `vpmulhuw`, `vpmaddwd`,
    /// `vpcompressd`), with POPCNT and BMI1 (`tzcnt`, `blsr`): every CPU with AVX-512 BW has
    /// the others.
    Avx512,
}

impl Isa {
    /// The widest instruction set of this CPU (with the operating system's support for its
    /// registers), detected once with `cpuid`.
    #[inline]
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            use core::sync::atomic::Ordering;
            match LEVEL.load(Ordering::Relaxed) {
                1 => Isa::Portable,
                2 => Isa::Avx2,
                3 => Isa::Avx512,
                _ => detect_once(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa::Portable
        }
    }

    /// Whether this CPU can run `self`.
    #[inline]
    pub fn available(self) -> bool {
        matches!(
            (self, Isa::detect()),
            (Isa::Portable, _) | (Isa::Avx2, Isa::Avx2 | Isa::Avx512) | (Isa::Avx512, Isa::Avx512)
        )
    }
}

/// [`Isa::detect`]'s result, once known: 1 + its index (0 before the first detection).
#[cfg(target_arch = "x86_64")]
static LEVEL: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The first [`Isa::detect`], out of line.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn detect_once() -> Isa {
    let isa = x86::detect();
    let level = match isa {
        Isa::Portable => 1,
        Isa::Avx2 => 2,
        Isa::Avx512 => 3,
    };
    LEVEL.store(level, core::sync::atomic::Ordering::Relaxed);
    isa
}

/// How a Dense layer is computed (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DensePath {
    /// Exact products (shifted left by `shift`) summed modulo `2^32`, one wrap into `accum_t`.
    Exact {
        /// `F_accum - F_x - F_w`, `0..=31`.
        shift: u32,
    },
    /// Products floored by `2^shift`, summed modulo `2^16`, one wrap into `accum_t`.
    Floor {
        /// `F_x + F_w - F_accum`, `1..=15`.
        shift: u32,
    },
    /// [`ops::dense`].
    Scalar,
}

/// Whether raw values of `s` fit an `i16` (a signed type of at most 16 bits, an unsigned one
/// of at most 15): the types of the fast Dense paths, and those the twin may hold in `i16`
/// ([`Raw`]).
pub const fn fits_i16(s: Spec) -> bool {
    if s.is_signed() {
        s.width() <= 16
    } else {
        s.width() <= 15
    }
}

impl DensePath {
    /// The path of a Dense layer with input type `x` and types `p`.
    pub const fn of(x: Spec, p: &DensePrecision) -> DensePath {
        if !fits_i16(x) || !fits_i16(p.weight) {
            return DensePath::Scalar;
        }
        if !matches!(p.accum.overflow(), Overflow::Wrap) || p.accum.width() > 32 {
            return DensePath::Scalar;
        }
        let s = x.frac_bits() + p.weight.frac_bits() - p.accum.frac_bits();
        if s <= 0 {
            if s >= -31 {
                DensePath::Exact { shift: (-s) as u32 }
            } else {
                DensePath::Scalar
            }
        } else if s <= 15 && p.accum.width() <= 16 && matches!(p.accum.quant(), Quant::Trn) {
            DensePath::Floor { shift: s as u32 }
        } else {
            DensePath::Scalar
        }
    }
}

/// How a [`DensePath::Floor`] layer with shift `s` stores its weights `w`: scaled by `2^t`,
/// `t = 16 - s - up`, as large as the weights allow (still 16 bits), so that for inputs `x`
/// whose `x 2^up` is still 16 bits,
/// `mulhi(x 2^up, w 2^t) = floor(x w 2^(16-s) / 2^16) = floor(x w / 2^s)`: one
/// multiplication per product (16-bit lanes, sums modulo `2^16`).
///
/// At `ap_fixed<16,6>` (`s = 10`): weights in `[-0.5, 0.5)` take `up = 0` (any input), in
/// `[-1, 1)` `up = 1` (inputs in `[-16, 16)`), in `[-2, 2)` `up = 2` (inputs in `[-8, 8)`).
/// A call with an input outside recovers `w` with a shift and takes the wide form: the input
/// split, `x = xh 2^s + xl` with `0 <= xl < 2^s`, and
/// `mullo(xh, w + 2^15) + mulhi_u(xl 2^(16-s), w + 2^15) = floor(x w / 2^s) + 2^(15-s) x`:
/// two multiplications and a correction by the inputs' sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloorForm {
    /// The inputs' scale, `0..=16 - s`.
    pub up: u32,
}

impl FloorForm {
    /// The form with the smallest `up` whose scaled weights `w 2^(16-s-up)` are 16 bits
    /// (raw values of 16 bits at most: `up = 16 - s` always is).
    pub fn of(w: &[i64], s: u32) -> FloorForm {
        let (lo, hi) = w
            .iter()
            .fold((0i64, 0i64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let up = (0..16 - s)
            .find(|&up| {
                let t = 16 - s - up;
                lo << t >= i16::MIN as i64 && hi << t <= i16::MAX as i64
            })
            .unwrap_or(16 - s);
        FloorForm { up }
    }

    /// The weights' scale `t = 16 - s - up`.
    pub fn weight_shift(self, s: u32) -> u32 {
        16 - s - self.up
    }

    /// The stored form of weight `v`.
    fn store(self, v: i64, s: u32) -> u16 {
        (v << self.weight_shift(s)) as u16
    }

    /// The weight stored as `u`.
    fn load(self, u: u16, s: u32) -> i64 {
        (u as i16 as i64) >> self.weight_shift(s)
    }
}

/// The compaction's result besides its outputs ([`Compact`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Compacted {
    /// The sum of all inputs, modulo `2^16` (the wide form's; 0 for the scaled one).
    pub sum: u16,
    /// Whether an input's `x 2^up` is not 16 bits ([`FloorForm`]).
    pub outside: bool,
}

/// The inputs of a chunk: [`compact`] works on 16 inputs at a time.
pub(crate) const CHUNK: usize = 16;

/// `N` words, aligned to 64 bytes: a chunk's 16 words are one aligned 64-byte store, from
/// which the kernel's loads forward (a store crossing a cache line may not).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct Lanes<const N: usize>(pub [u32; N]);

/// The compacted inputs of a layer of `N` inputs, by chunks of [`CHUNK`]: chunk `j`'s nonzero
/// inputs at `16 j .. 16 j + counts[j]` of `vals`, `lo` and `rows` (see [`compact`]).
#[derive(Clone, Debug)]
pub(crate) struct Compact<const N: usize> {
    /// The values (scaled, or the high parts of the wide form's split).
    pub vals: Lanes<N>,
    /// The low parts of the wide form's split.
    pub lo: Lanes<N>,
    /// The offsets of the values' weight rows.
    pub rows: Lanes<N>,
    /// Chunk `j`'s count, for `j < N.div_ceil(16)` (`N` long to be an array).
    pub counts: [u8; N],
    /// Chunk `j`'s nonzero inputs as bits, for `j < N.div_ceil(16)`: the AVX-512 scaled
    /// form's layout, whose values stay in place (see `x86::compact`).
    pub masks: [u16; N],
}

impl<const N: usize> Compact<N> {
    /// Zeros.
    #[inline(always)]
    pub fn new() -> Self {
        Compact {
            vals: Lanes([0; N]),
            lo: Lanes([0; N]),
            rows: Lanes([0; N]),
            counts: [0; N],
            masks: [0; N],
        }
    }

    /// The kernel's view.
    #[inline(always)]
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks {
            vals: &self.vals.0,
            lo: &self.lo.0,
            rows: &self.rows.0,
            counts: &self.counts[..N.div_ceil(CHUNK)],
            masks: &self.masks[..N.div_ceil(CHUNK)],
        }
    }
}

/// A [`Compact`] as the kernels read it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chunks<'a> {
    pub vals: &'a [u32],
    pub lo: &'a [u32],
    pub rows: &'a [u32],
    pub counts: &'a [u8],
    pub masks: &'a [u16],
}

impl Chunks<'_> {
    /// Whether every index it names is inside its slices.
    #[inline(always)]
    fn valid(&self) -> bool {
        let len = self.vals.len().min(self.lo.len()).min(self.rows.len());
        let masks = self.masks.len() == self.counts.len()
            && self.masks.iter().enumerate().all(|(j, &m)| {
                let left = len.saturating_sub(j * CHUNK);
                left >= CHUNK || (m as usize) >> left == 0
            });
        masks
            && self
                .counts
                .iter()
                .enumerate()
                .all(|(j, &c)| c as usize <= CHUNK && j * CHUNK + c as usize <= len)
    }
}

/// The kernel forms of [`kernels::floor16`] and the compactions: scaled inputs and weights
/// (one multiplication), and the wide form (two; see [`FloorForm`]).
pub(crate) const SCALED: u8 = 0;
pub(crate) const WIDE: u8 = 1;

/// A raw fixed-point value as the generated twin holds it between layers: `i64` (any type)
/// or `i16` (the types of 16 bits or fewer that the fast Dense layers take and produce).
pub trait Raw: Copy + Default + 'static {
    /// The width of the holder.
    const BITS: u32;
    /// The value.
    fn to_i64(self) -> i64;
    /// `v` (which the holder must hold: the low bits are kept).
    fn from_i64(v: i64) -> Self;
    /// The values as `i64`s, if they are.
    fn as_i64s(x: &[Self]) -> Option<&[i64]>;
    /// The values as `i16`s, if they are.
    fn as_i16s(x: &[Self]) -> Option<&[i16]>;
}

impl Raw for i64 {
    const BITS: u32 = 64;
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v
    }
    #[inline(always)]
    fn as_i64s(x: &[Self]) -> Option<&[i64]> {
        Some(x)
    }
    #[inline(always)]
    fn as_i16s(_: &[Self]) -> Option<&[i16]> {
        None
    }
}

impl Raw for i16 {
    const BITS: u32 = 16;
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as i16
    }
    #[inline(always)]
    fn as_i64s(_: &[Self]) -> Option<&[i64]> {
        None
    }
    #[inline(always)]
    fn as_i16s(x: &[Self]) -> Option<&[i16]> {
        Some(x)
    }
}

/// The number of outputs a packed layer stores per input: `n_out` rounded up to 32.
pub const fn padded_outputs(n_out: usize) -> usize {
    n_out.div_ceil(32) * 32
}

/// The number of packed weights of a layer: `n_in` rounded up to even, times
/// [`padded_outputs`].
pub const fn packed_len(n_in: usize, n_out: usize) -> usize {
    n_in.div_ceil(2) * 2 * padded_outputs(n_out)
}

/// A Dense layer prepared for a fast path: its weights as 16-bit values laid out for the path
/// (`[in][PAD]`, offset by `2^15`, for [`DensePath::Floor`]; `[in / 2][PAD][2]` for
/// [`DensePath::Exact`]), its biases converted into `accum_t`, and the raw ones (for inputs out
/// of their type's range, which go through [`ops::dense`]). `PAD` is [`padded_outputs`] and
/// `NW` is [`packed_len`]; the generated twin names them.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct PackedDense<const N_IN: usize, const PAD: usize, const NW: usize> {
    w: [u16; NW],
    /// The biases converted into `accum_t`, and their low 16 bits (for [`DensePath::Floor`],
    /// whose sums are 16-bit: so that its epilogue stays in 16-bit lanes; the same for
    /// [`DensePath::Exact`]'s 32-bit sums measured 25% slower on M1 with 32-bit accumulators).
    bias_acc: [i64; PAD],
    bias_acc16: [u16; PAD],
    bias: [i64; PAD],
    n_out: usize,
    path: DensePath,
    /// How [`DensePath::Floor`]'s weights are stored.
    form: FloorForm,
    /// [`types_key`] of the input's type and the layer's.
    key: u128,
}

/// The input's type and a layer's as one number (which folds when they are constants).
#[inline(always)]
const fn types_key(x: Spec, p: &DensePrecision) -> u128 {
    x.key() as u128
        | (p.weight.key() as u128) << 24
        | (p.bias.key() as u128) << 48
        | (p.accum.key() as u128) << 72
        | (p.result.key() as u128) << 96
}

impl<const N_IN: usize, const PAD: usize, const NW: usize> PackedDense<N_IN, PAD, NW> {
    /// The layer with raw weights `w` (`[out][in]`, `weight_t`) and biases `b` (`bias_t`, one
    /// per output) for inputs of type `x_spec`, or `None` if its path is
    /// [`DensePath::Scalar`]. Panics unless `PAD` and `NW` are the sizes above and `w` has
    /// `N_IN * b.len()` values.
    pub fn new(w: &[i64], b: &[i64], x_spec: Spec, p: &DensePrecision) -> Option<Self> {
        let path = DensePath::of(x_spec, p);
        if path == DensePath::Scalar {
            return None;
        }
        let n_out = b.len();
        assert!(
            PAD == padded_outputs(n_out) && NW == packed_len(N_IN, n_out),
            "packed sizes"
        );
        assert_eq!(w.len(), N_IN * n_out, "weights");
        let form = match path {
            DensePath::Floor { shift } => FloorForm::of(w, shift),
            _ => FloorForm { up: 0 },
        };
        let mut packed = [0u16; NW];
        for o in 0..n_out {
            for i in 0..N_IN {
                let v = w[o * N_IN + i];
                match path {
                    DensePath::Floor { shift } => packed[i * PAD + o] = form.store(v, shift),
                    _ => packed[((i / 2) * PAD + o) * 2 + i % 2] = v as u16,
                }
            }
        }
        let mut bias_acc = [0i64; PAD];
        let mut bias_acc16 = [0u16; PAD];
        let mut bias = [0i64; PAD];
        for o in 0..n_out {
            bias[o] = b[o];
            let acc = p.accum.cast(Fixed::from_raw(b[o]), p.bias).raw;
            (bias_acc[o], bias_acc16[o]) = (acc, acc as u16);
        }
        Some(PackedDense {
            w: packed,
            bias_acc,
            bias_acc16,
            bias,
            n_out,
            path,
            form,
            key: types_key(x_spec, p),
        })
    }

    /// The path.
    pub fn path(&self) -> DensePath {
        self.path
    }

    /// How the weights of a [`DensePath::Floor`] layer are stored (not used by the other
    /// paths).
    pub fn form(&self) -> FloorForm {
        self.form
    }

    /// The raw weights, `[out][in]` (as [`PackedDense::new`] took them).
    pub fn weight(&self, o: usize, i: usize) -> i64 {
        match self.path {
            DensePath::Floor { shift } => self.form.load(self.w[i * PAD + o], shift),
            _ => self.w[((i / 2) * PAD + o) * 2 + i % 2] as i16 as i64,
        }
    }

    /// [`ops::dense`] of `x` (raw `x_spec`, `N_IN` values) into `y` (raw `result_t`, one per
    /// output), with the instruction set of [`Isa::detect`]. `x_spec` and `p` must be the
    /// types the layer was built with (the generated twin passes the same constants).
    #[inline(always)]
    pub fn forward<X: Raw, Y: Raw>(&self, x: &[X], x_spec: Spec, p: &DensePrecision, y: &mut [Y]) {
        self.forward_with(Isa::detect(), x, x_spec, p, y)
    }

    /// [`PackedDense::forward`] with the instruction set `isa` (which the CPU must have:
    /// [`Isa::available`]; panics otherwise).
    ///
    /// The values may be held in `i64` or `i16` ([`Raw`]): the generated twin keeps the
    /// values between its fast layers in `i16` (a quarter of the memory traffic). An `i16`
    /// output requires `p.result` to fit it (panics otherwise).
    #[inline(always)]
    pub fn forward_with<X: Raw, Y: Raw>(
        &self,
        isa: Isa,
        x: &[X],
        x_spec: Spec,
        p: &DensePrecision,
        y: &mut [Y],
    ) {
        assert!(isa.available(), "{isa:?} is not available on this CPU");
        // SAFETY: checked above.
        unsafe { self.forward_on(isa, x, x_spec, p, y) }
    }

    /// [`PackedDense::forward_with`] without asking whether the CPU has `isa`: the generated
    /// twin's copy for an instruction set passes it as a constant, so that the choice of
    /// kernel folds away (measured on M1's twin: 159 -> 146 ns per sample against asking
    /// once per layer).
    ///
    /// # Safety
    /// The CPU must have `isa` ([`Isa::available`]).
    #[inline(always)]
    pub unsafe fn forward_on<X: Raw, Y: Raw>(
        &self,
        isa: Isa,
        x: &[X],
        x_spec: Spec,
        p: &DensePrecision,
        y: &mut [Y],
    ) {
        assert!(
            types_key(x_spec, p) == self.key,
            "the types the layer was packed for"
        );
        assert!(x.len() == N_IN && y.len() == self.n_out, "shapes");
        assert!(
            Y::BITS == 64 || fits_i16(p.result),
            "results wider than the output"
        );
        let (lo, hi) = (x_spec.min_raw(), x_spec.max_raw());
        // A fold, not `any`: no early exit, so it vectorizes (all values are in range but for
        // inputs from outside the twin).
        let outside = x.iter().fold(false, |out, &v| {
            let v = v.to_i64();
            out | (v < lo) | (v > hi)
        });
        if outside {
            return self.reference(x, x_spec, p, y);
        }
        match DensePath::of(x_spec, p) {
            DensePath::Floor { shift } => self.floor(isa, x, shift, p, y),
            DensePath::Exact { shift } => self.exact(isa, x, shift, p, y),
            DensePath::Scalar => unreachable!("a packed layer has a fast path"),
        }
    }

    /// [`ops::dense`] on the stored weights.
    #[inline(never)]
    #[cold]
    fn reference<X: Raw, Y: Raw>(&self, x: &[X], x_spec: Spec, p: &DensePrecision, y: &mut [Y]) {
        let mut wide = [0i64; N_IN];
        for (w, &v) in wide.iter_mut().zip(x) {
            *w = v.to_i64();
        }
        let mut row = [0i64; N_IN];
        for (o, y) in y.iter_mut().enumerate() {
            for (i, r) in row.iter_mut().enumerate() {
                *r = self.weight(o, i);
            }
            let mut out = 0i64;
            ops::dense(
                &wide,
                x_spec,
                &row,
                &self.bias[o..o + 1],
                p,
                core::slice::from_mut(&mut out),
            );
            *y = Y::from_i64(out);
        }
    }

    #[inline(always)]
    fn floor<X: Raw, Y: Raw>(&self, isa: Isa, x: &[X], s: u32, p: &DensePrecision, y: &mut [Y]) {
        // The kernel takes the nonzero inputs (a zero input adds nothing; after a ReLU about
        // half are zero), each repeated in both halves of a 32-bit word (for broadcasts that
        // are plain loads), and the offsets of their rows; see `compact`.
        let mut ins = Compact::<N_IN>::new();
        let mut acc = [0u16; PAD];
        let w = &self.w;
        // SAFETY (the kernels): the rows are at offsets `i PAD` for inputs `i < N_IN`, and
        // `N_IN PAD <= NW` (checked in `new`). One multiplication per product unless an input
        // is too large for it; then two.
        let up = self.form.up;
        let Compacted { outside, .. } = self.compact::<X, SCALED>(isa, x, up, &mut ins);
        let c = if !outside {
            unsafe { kernels::floor16::<PAD, SCALED>(isa, ins.chunks(), w, s, up, &mut acc) };
            0
        } else {
            let Compacted { sum, .. } = self.compact::<X, WIDE>(isa, x, s, &mut ins);
            unsafe { kernels::floor16::<PAD, WIDE>(isa, ins.chunks(), w, s, up, &mut acc) };
            sum.wrapping_mul(1u16 << (15 - s))
        };
        for (o, y) in y.iter_mut().enumerate() {
            let t = self.bias_acc16[o].wrapping_add(acc[o]).wrapping_sub(c);
            let a = wrap(t as i64, p.accum);
            *y = Y::from_i64(cast(p.result, a, p.accum));
        }
    }

    /// [`compact`] with `vpcompressd` where the CPU has it, rows at offsets `i PAD`.
    #[inline(always)]
    fn compact<X: Raw, const FORM: u8>(
        &self,
        isa: Isa,
        x: &[X],
        s: u32,
        out: &mut Compact<N_IN>,
    ) -> Compacted {
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512 {
            // SAFETY: the CPU has AVX-512 F, BW and VL, POPCNT and BMI1 (`isa`, which the caller
            // checked); `x` has `N_IN` values.
            unsafe {
                // (The AVX-512 kernel reads this layout: every call with `Isa::Avx512`
                // compacts here.)
                return match (X::as_i64s(x), X::as_i16s(x)) {
                    (Some(x), _) => x86::compact::<FORM, PAD, N_IN>(x, s, out),
                    (_, Some(x)) => x86::compact16::<FORM, PAD, N_IN>(x, s, out),
                    _ => {
                        let wide: [i64; N_IN] = core::array::from_fn(|i| x[i].to_i64());
                        x86::compact::<FORM, PAD, N_IN>(&wide, s, out)
                    }
                };
            }
        }
        let _ = isa;
        compact::<X, FORM, N_IN>(x, s, PAD as u32, out)
    }

    #[inline(always)]
    fn exact<X: Raw, Y: Raw>(&self, isa: Isa, x: &[X], k: u32, p: &DensePrecision, y: &mut [Y]) {
        // The pairs of inputs, (x0 as u16) | (x1 as u16) << 16 (x1 = 0 past the end).
        let mut pairs = [0u32; N_IN];
        let mut halves = x.chunks_exact(2);
        for (q, pair) in pairs.iter_mut().zip(&mut halves) {
            *q = (pair[0].to_i64() as u16 as u32) | (pair[1].to_i64() as u16 as u32) << 16;
        }
        if let [last] = halves.remainder() {
            pairs[N_IN / 2] = last.to_i64() as u16 as u32;
        }
        let mut acc = [0i32; PAD];
        kernels::exact16::<PAD>(isa, &pairs[..N_IN.div_ceil(2)], &self.w, &mut acc);
        for (o, y) in y.iter_mut().enumerate() {
            let t = (self.bias_acc[o] as u32).wrapping_add((acc[o] as u32) << k);
            let a = wrap(t as i32 as i64, p.accum);
            *y = Y::from_i64(cast(p.result, a, p.accum));
        }
    }
}

/// The nonzero inputs of `x` (at most `N`) for [`DensePath::Floor`], each 16-bit value
/// repeated in both halves of a `u32`, as the kernel form `FORM` takes them: `vals = x 2^s`
/// (`SCALED`: `s` is the inputs' scale `up`), or `vals = x >> s` and
/// `lo = (x mod 2^s) 2^(16 - s)` (`WIDE`: `s` is the layer's shift); `rows = i stride` for
/// input `i`; by chunks of [`CHUNK`] inputs ([`Compact`]; the entries past a chunk's count are
/// left as they are). (`x86::compact` is the same with `vpcompressd`.)
#[inline(always)]
pub(crate) fn compact<X: Raw, const FORM: u8, const N: usize>(
    x: &[X],
    s: u32,
    stride: u32,
    out: &mut Compact<N>,
) -> Compacted {
    let mut sum = 0u16;
    let mut outside = false;
    let mask = (1i64 << s) - 1;
    let dup = |v: i64| (v as u16 as u32) * 0x1_0001;
    for (j, chunk) in x[..x.len().min(N)].chunks(CHUNK).enumerate() {
        let mut n = j * CHUNK;
        for (i, &v) in chunk.iter().enumerate() {
            let v = v.to_i64();
            if FORM != SCALED {
                sum = sum.wrapping_add(v as u16);
            }
            match FORM {
                SCALED => {
                    outside |= !(-(1 << (15 - s))..1 << (15 - s)).contains(&v);
                    out.vals.0[n] = dup(v << s);
                }
                _ => {
                    out.vals.0[n] = dup(v >> s);
                    out.lo.0[n] = dup((v & mask) << (16 - s));
                }
            }
            out.rows.0[n] = (j * CHUNK + i) as u32 * stride;
            n += (v != 0) as usize;
        }
        out.counts[j] = (n - j * CHUNK) as u8;
    }
    Compacted { sum, outside }
}

/// The low `spec.width()` bits of `v`, sign-extended for a signed type (`AP_WRAP`).
#[inline(always)]
pub fn wrap(v: i64, spec: Spec) -> i64 {
    let u = 64 - spec.width() as u32;
    if spec.is_signed() {
        (v << u) >> u
    } else {
        ((v as u64) << u >> u) as i64
    }
}

/// `to.cast(Fixed::from_raw(raw), from).raw`, with shortcuts: the same format (a value in
/// range, unless `AP_SAT_SYM` could move the most negative one), and those of
/// [`from_scaled`].
#[inline(always)]
pub fn cast(to: Spec, raw: i64, from: Spec) -> i64 {
    let same = to.width() == from.width()
        && to.int_bits() == from.int_bits()
        && to.is_signed() == from.is_signed();
    let sym = matches!(to.overflow(), Overflow::SatSym) && to.is_signed() && to.width() > 1;
    if same && !sym && raw >= from.min_raw() && raw <= from.max_raw() {
        return raw;
    }
    from_scaled(to, raw, from.frac_bits())
}

/// `to.from_scaled(raw, frac).raw` (the exact value `raw 2^-frac` converted), with shortcuts
/// for `AP_TRN` (a shift) and for no dropped bits, followed by `AP_WRAP` (a wrap) or `AP_SAT` (a
/// clamp).
#[inline(always)]
pub fn from_scaled(to: Spec, raw: i64, frac: i32) -> i64 {
    let d = frac - to.frac_bits();
    let plain = matches!(to.overflow(), Overflow::Wrap | Overflow::Sat);
    if plain && (d <= 0 || matches!(to.quant(), Quant::Trn)) {
        if matches!(to.overflow(), Overflow::Wrap) {
            let q = if d >= 0 {
                raw >> d.min(63)
            } else if -d >= 64 {
                0
            } else {
                raw.wrapping_shl((-d) as u32)
            };
            return wrap(q, to);
        }
        // AP_SAT: a left shift must not lose bits before the clamp.
        if d >= 0 {
            return (raw >> d.min(63)).clamp(to.min_raw(), to.max_raw());
        }
        if -d < 63 && raw.unsigned_abs() < 1u64 << (63 + d) {
            return (raw << -d).clamp(to.min_raw(), to.max_raw());
        }
    }
    to.from_scaled(raw, frac).raw
}

/// `(to)(a + b)` for two raw values of `to` (no bits dropped: only the overflow mode acts), as
/// `ap_fixed`'s `+=` and hls4ml's adder trees compute it.
#[inline(always)]
pub fn add(to: Spec, a: i64, b: i64) -> i64 {
    let q = a + b;
    let (min, max) = (to.min_raw(), to.max_raw());
    let sym = to.is_signed() && to.width() > 1;
    match to.overflow() {
        Overflow::Wrap => wrap(q, to),
        Overflow::Sat => q.clamp(min, max),
        Overflow::SatSym if sym => q.clamp(min + 1, max),
        Overflow::SatSym => q.clamp(min, max),
        Overflow::SatZero => {
            if q < min || q > max {
                0
            } else {
                q
            }
        }
    }
}

/// [`ops::relu`]: `y = x > 0 ? (out) x : 0`, the values held in `i64` or `i16` ([`Raw`]; an
/// `i16` output requires `out_spec` to fit it).
#[inline(always)]
pub fn relu<X: Raw, Y: Raw>(x: &[X], in_spec: Spec, out_spec: Spec, y: &mut [Y]) {
    for (y, &x) in y.iter_mut().zip(x) {
        let x = x.to_i64();
        *y = Y::from_i64(if x > 0 { cast(out_spec, x, in_spec) } else { 0 });
    }
}

/// `spec.from_f64(x)` (a C++ `double` assigned to the type), with a shortcut for `AP_TRN`
/// types with `0..=60` fractional bits and `|x| < 2^40`: `floor(x 2^F)` (exact in `f64`),
/// wrapped or saturated.
#[inline(always)]
pub fn from_f64(spec: Spec, x: f64) -> Fixed {
    let f = spec.frac_bits();
    if matches!(spec.quant(), Quant::Trn)
        && (0..=60).contains(&f)
        && x.abs() < (1u64 << 40) as f64
        && matches!(spec.overflow(), Overflow::Wrap | Overflow::Sat)
    {
        // |x 2^F| < 2^100: exact (a power-of-two scaling of a normal number, or 0 / subnormal
        // scaled up exactly); below 2^63 once checked.
        let v = x * (1u64 << f) as f64;
        if v.abs() < 9.0e18 {
            let t = v as i64; // toward zero
            let q = t - ((t as f64) > v) as i64; // floor
            return Fixed::from_raw(match spec.overflow() {
                Overflow::Wrap => wrap(q, spec),
                _ => q.clamp(spec.min_raw(), spec.max_raw()),
            });
        }
    }
    spec.from_f64(x)
}

/// `raw[i] = from_f64(spec, x[i] as f64).raw` for every input (an f32 tensor entering a
/// twin), four at a time with AVX2 where the CPU has it and the values allow (`AP_TRN`, a
/// wrapping or saturating type with `0..=30` fractional bits, signed or of at most 31 bits,
/// and every `|x 2^F| < 2^31`), else one by one; the same bits.
#[inline(always)]
pub fn from_f32_slice(spec: Spec, x: &[f32], raw: &mut [i64]) {
    // SAFETY: the detected instruction set.
    unsafe { from_f32_slice_on(Isa::detect(), spec, x, raw) }
}

/// [`from_f32_slice`] with the instruction set `isa` known (the generated twin's copy for an
/// instruction set passes it as a constant, so that nothing is asked at run time).
///
/// # Safety
/// The CPU must have `isa` ([`Isa::available`]).
#[inline(always)]
pub unsafe fn from_f32_slice_on(isa: Isa, spec: Spec, x: &[f32], raw: &mut [i64]) {
    #[cfg(target_arch = "x86_64")]
    if matches!(isa, Isa::Avx2 | Isa::Avx512)
        && matches!(spec.quant(), Quant::Trn)
        && matches!(spec.overflow(), Overflow::Wrap | Overflow::Sat)
        && (0..=30).contains(&spec.frac_bits())
        && (spec.is_signed() || spec.width() <= 31)
    {
        // SAFETY: the CPU has AVX2 (`isa`, this function's contract; AVX-512 as `Isa` detects
        // it includes AVX2). On `false` every value is written below.
        if unsafe { x86::from_f32(spec, x, raw) } {
            return;
        }
    }
    for (r, &v) in raw.iter_mut().zip(x) {
        *r = from_f64(spec, v as f64).raw;
    }
}

/// `spec.to_f64(Fixed::from_raw(raw))` (the exact value, or rounded to nearest past 53 bits),
/// with a shortcut for `|raw| < 2^53` and `|F| <= 1000`: one exact multiplication by `2^-F`.
#[inline(always)]
pub fn to_f64(spec: Spec, raw: i64) -> f64 {
    let f = spec.frac_bits();
    if raw.unsigned_abs() < 1 << 53 && (-1000..=1000).contains(&f) {
        raw as f64 * f64::from_bits(((1023 - f) as u64) << 52)
    } else {
        spec.to_f64(Fixed::from_raw(raw))
    }
}

/// `to_f64(spec, raw) as f32` computed in `f32` where that is exact (a value of at most 24
/// significant bits and a power of two an `f32` holds): one conversion and one multiplication
/// instead of three operations, on the path of every output.
#[inline(always)]
pub fn to_f32(spec: Spec, raw: i64) -> f32 {
    let f = spec.frac_bits();
    if raw.unsigned_abs() < 1 << 24 && (-100..=100).contains(&f) {
        raw as f32 * f32::from_bits(((127 - f) as u32) << 23)
    } else {
        to_f64(spec, raw) as f32
    }
}

/// [`tables::softmax_stable`] (hls4ml's default softmax) with the shortcuts of [`cast`] and
/// [`add`]; the same bits.
#[inline(always)]
pub fn softmax_stable<const E: usize, const I: usize>(
    x: &[i64],
    p: &SoftmaxPrecision,
    tables: &SoftmaxTables<E, I>,
    y: &mut [i64],
) {
    if !softmax_fits(p) {
        return tables::softmax_stable(x, p, tables, y);
    }
    let Some(&x_max) = x.iter().max() else {
        return;
    };
    let f = p.input.frac_bits();
    for (y, &x) in y.iter_mut().zip(x) {
        let d = from_scaled(p.inp_norm, x_max - x, f);
        let e = tables.exp[scalar(tables::softmax_idx_from_real_val(d, p.inp_norm, E))];
        *y = cast(p.accum, e, p.exp_table);
    }
    normalize(p, tables, &mut y[..x.len()]);
}

/// [`tables::softmax_latency`] with the shortcuts of [`cast`] and [`add`]; the same bits.
#[inline(always)]
pub fn softmax_latency<const E: usize, const I: usize>(
    x: &[i64],
    p: &SoftmaxPrecision,
    tables: &SoftmaxTables<E, I>,
    y: &mut [i64],
) {
    if !softmax_fits(p) {
        return tables::softmax_latency(x, p, tables, y);
    }
    for (y, &x) in y.iter_mut().zip(x) {
        let e = tables.exp[scalar(tables::softmax_idx_from_real_val(x, p.input, E))];
        *y = cast(p.accum, e, p.exp_table);
    }
    normalize(p, tables, &mut y[..x.len()]);
}

/// `i`, through an empty `asm!` block the optimizer cannot see into: a table index so passed
/// is loaded by a plain load. (Vectorized, the lookups of a softmax's few values became a
/// `vpgatherqq`, some 20 cycles on Intel cores against 5 for independent loads.)
#[inline(always)]
fn scalar(i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let mut i = i;
        // SAFETY: an empty block: no instruction runs, the register keeps its value.
        unsafe { core::arch::asm!("/* {0} */", inout(reg) i, options(pure, nomem, nostack)) };
        i
    }
    #[cfg(not(target_arch = "x86_64"))]
    i
}

/// The limits [`tables::softmax_stable`] checks (it panics outside them).
#[inline(always)]
fn softmax_fits(p: &SoftmaxPrecision) -> bool {
    p.accum.width() <= 62 && p.input.width() <= 62 && p.accum.mul_spec(p.inv_table).is_some()
}

#[inline(always)]
fn normalize<const E: usize, const I: usize>(
    p: &SoftmaxPrecision,
    tables: &SoftmaxTables<E, I>,
    y: &mut [i64],
) {
    let sum = tree_sum(y, p.accum);
    let sum = cast(p.inv_inp, sum, p.accum);
    let inv = tables.inv[tables::softmax_idx_from_real_val(sum, p.inv_inp, I)];
    let frac = p.accum.frac_bits() + p.inv_table.frac_bits();
    for y in y.iter_mut() {
        *y = from_scaled(p.result, *y * inv, frac);
    }
}

/// hls4ml's adder tree (see `tables`): the left half holds `2^floor(log2(n - 1))` elements.
///
/// Without recursion (so that it inlines): the tree is a chain of full trees of `2^k`
/// elements, each summed level by level, `add(T1, add(T2, ... add(Tm, last)))`; more than 64
/// elements take the recursive form.
#[inline(always)]
pub(crate) fn tree_sum(x: &[i64], accum: Spec) -> i64 {
    if x.len() > 64 {
        return tree_sum_recursive(x, accum);
    }
    let Some((&last, _)) = x.split_last() else {
        return 0;
    };
    // The full trees' sums, left to right.
    let mut parts = [0i64; 7];
    let mut m = 0;
    let mut rest = x;
    let mut level = [0i64; 32];
    while rest.len() > 1 {
        let left = 1usize << (usize::BITS - 1 - (rest.len() - 1).leading_zeros());
        let mut k = left / 2;
        for (i, l) in level[..k].iter_mut().enumerate() {
            *l = add(accum, rest[2 * i], rest[2 * i + 1]);
        }
        while k > 1 {
            k /= 2;
            for i in 0..k {
                level[i] = add(accum, level[2 * i], level[2 * i + 1]);
            }
        }
        parts[m] = if left == 1 { rest[0] } else { level[0] };
        m += 1;
        rest = &rest[left..];
    }
    // A plain loop: the iterator's `rfold` was left out of line, its `accum` not constant.
    let mut sum = last;
    while m > 0 {
        m -= 1;
        sum = add(accum, parts[m], sum);
    }
    sum
}

/// [`tree_sum`] by its definition.
pub(crate) fn tree_sum_recursive(x: &[i64], accum: Spec) -> i64 {
    match x.len() {
        0 => 0,
        1 => x[0],
        2 => add(accum, x[0], x[1]),
        n => {
            let left = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            add(
                accum,
                tree_sum_recursive(&x[..left], accum),
                tree_sum_recursive(&x[left..], accum),
            )
        }
    }
}

mod kernels {
    use super::Isa;

    /// `acc[o] = sum over the compacted inputs k of f(vals[k], lo[k], w[rows[k] + o])`
    /// (16-bit lanes, modulo `2^16`; `vals` and `lo` hold each value twice, in both halves of
    /// a `u32`; `rows` holds offsets of rows of `PAD` weights), `f` the product of kernel form
    /// `FORM` for weights stored as [`super::FloorForm`] `up` says, the layer's shift `s`.
    ///
    /// # Safety
    /// Every compacted `rows[k] + PAD <= w.len()`.
    #[inline(always)]
    pub unsafe fn floor16<const PAD: usize, const FORM: u8>(
        isa: Isa,
        ins: super::Chunks<'_>,
        w: &[u16],
        s: u32,
        up: u32,
        acc: &mut [u16; PAD],
    ) {
        assert!(ins.valid() && PAD.is_multiple_of(32));
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX-512 (`Isa::Avx512`); every index is
            // inside `ins` (checked) and every row read inside `w` (this function's contract).
            Isa::Avx512 => unsafe {
                super::x86::floor16_avx512::<PAD, FORM>(ins, w, 16 - s - up, acc)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX2.
            Isa::Avx2 => unsafe { floor16_avx2::<PAD, FORM>(ins, w, 16 - s - up, acc) },
            _ => floor16_body::<PAD, FORM>(ins, w, 16 - s - up, acc),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn floor16_avx2<const PAD: usize, const FORM: u8>(
        ins: super::Chunks<'_>,
        w: &[u16],
        t: u32,
        acc: &mut [u16; PAD],
    ) {
        floor16_body::<PAD, FORM>(ins, w, t, acc)
    }

    /// The plain loops (weights scaled by `2^t`).
    #[inline(always)]
    fn floor16_body<const PAD: usize, const FORM: u8>(
        ins: super::Chunks<'_>,
        w: &[u16],
        t: u32,
        acc: &mut [u16; PAD],
    ) {
        use super::{CHUNK, SCALED};
        let mut a = [0u16; PAD];
        for (j, &count) in ins.counts.iter().enumerate() {
            let k0 = j * CHUNK;
            for k in k0..k0 + count as usize {
                let (h, l) = (ins.vals[k] as u16, ins.lo[k] as u16 as u32);
                let row = &w[ins.rows[k] as usize..][..PAD];
                for (a, &wu) in a.iter_mut().zip(row) {
                    let p = match FORM {
                        SCALED => ((h as i16 as i32 * wu as i16 as i32) >> 16) as u16,
                        _ => {
                            let wu = ((wu as i16 >> t) as u16) ^ 0x8000;
                            h.wrapping_mul(wu)
                                .wrapping_add(((l * wu as u32) >> 16) as u16)
                        }
                    };
                    *a = a.wrapping_add(p);
                }
            }
        }
        *acc = a;
    }

    /// `acc[o] = sum over pairs q of x0 w[q][o][0] + x1 w[q][o][1]` (`i16 x i16`, 32-bit
    /// lanes, modulo `2^32`), `pairs[q] = x0 | x1 << 16`, `w` laid out `[in / 2][PAD][2]`.
    #[inline(always)]
    pub fn exact16<const PAD: usize>(isa: Isa, pairs: &[u32], w: &[u16], acc: &mut [i32; PAD]) {
        assert!(pairs.len() * 2 * PAD <= w.len() && PAD.is_multiple_of(32));
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX-512 (`Isa::Avx512`); every pair row read
            // is inside `w` (asserted above).
            Isa::Avx512 => unsafe { super::x86::exact16_avx512::<PAD>(pairs, w, acc) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX2.
            Isa::Avx2 => unsafe { exact16_avx2::<PAD>(pairs, w, acc) },
            _ => exact16_body::<PAD>(pairs, w, acc),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn exact16_avx2<const PAD: usize>(pairs: &[u32], w: &[u16], acc: &mut [i32; PAD]) {
        exact16_body::<PAD>(pairs, w, acc)
    }

    #[inline(always)]
    fn exact16_body<const PAD: usize>(pairs: &[u32], w: &[u16], acc: &mut [i32; PAD]) {
        let mut a = [0i32; PAD];
        for (&v, row) in pairs.iter().zip(w.chunks_exact(2 * PAD)) {
            let (x0, x1) = (v as u16 as i16 as i32, (v >> 16) as u16 as i16 as i32);
            for (a, ww) in a.iter_mut().zip(row.chunks_exact(2)) {
                // Each product fits; their sum may not (2 * 2^30, like `vpmaddwd`'s), and the
                // accumulator is modulo 2^32 anyway.
                let p = (x0 * ww[0] as i16 as i32).wrapping_add(x1 * ww[1] as i16 as i32);
                *a = a.wrapping_add(p);
            }
        }
        *acc = a;
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::Isa;
    use core::arch::x86_64::*;

    /// AVX-512 F, BW and VL with POPCNT and BMI1 (the OS saving the ZMM registers), else AVX2
    /// (YMM saved), else none.
    pub fn detect() -> Isa {
        let max = __cpuid(0).eax;
        if max < 7 {
            return Isa::Portable;
        }
        let l1 = __cpuid(1);
        let (osxsave, avx) = (l1.ecx & (1 << 27) != 0, l1.ecx & (1 << 28) != 0);
        if !osxsave || !avx {
            return Isa::Portable;
        }
        // SAFETY: OSXSAVE is set, so `xgetbv` exists and XCR0 can be read.
        let xcr0 = unsafe { xgetbv0() };
        let l7 = __cpuid_count(7, 0);
        let avx2 = l7.ebx & (1 << 5) != 0;
        let popcnt = l1.ecx & (1 << 23) != 0;
        let bmi1 = l7.ebx & (1 << 3) != 0;
        let avx512 = l7.ebx & (1 << 16) != 0
            && l7.ebx & (1 << 30) != 0
            && l7.ebx & (1 << 31) != 0
            && popcnt
            && bmi1;
        let ymm = xcr0 & 0b110 == 0b110;
        let zmm = xcr0 & 0b1110_0110 == 0b1110_0110;
        if avx512 && avx2 && zmm {
            Isa::Avx512
        } else if avx2 && ymm {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }

    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv0() -> u64 {
        _xgetbv(0)
    }

    /// `super::from_f32_slice` for `AP_TRN` types with `0..=30` fractional bits, wrapping or
    /// saturating, signed or of at most 31 bits: `floor(x 2^F)` (exact in `f64`), wrapped or
    /// clamped, four values at a time (each read alone), the last ones one by one. Returns `false` (with `raw` partly written)
    /// if some `|x 2^F|` is not below `2^31` (or is NaN).
    ///
    /// # Safety
    /// AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn from_f32(spec: crate::Spec, x: &[f32], raw: &mut [i64]) -> bool {
        let n = x.len().min(raw.len());
        let whole = n / 4 * 4;
        let scale = _mm256_set1_pd((1u64 << spec.frac_bits()) as f64);
        // Four values from `i`, scaled (exact) and floored. Read one by one (volatile, so that
        // LLVM does not merge them): the input is usually written just before (a tensor built
        // from a slice), and a vector load spanning several of those stores waits for them to
        // reach the cache.
        let load = |i: usize| {
            // SAFETY: `i + 4 <= whole <= n`, inside `x`.
            let e = |k: usize| unsafe { x.as_ptr().add(i + k).read_volatile() };
            let v = _mm_setr_ps(e(0), e(1), e(2), e(3));
            _mm256_round_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm256_mul_pd(
                _mm256_cvtps_pd(v),
                scale,
            ))
        };
        let limit = _mm256_set1_pd(2147483648.0);
        let sign = _mm256_set1_pd(-0.0);
        let scaled = (1u64 << spec.frac_bits()) as f64;
        let mut ok = true;
        for &v in &x[whole..n] {
            // `|floor(v)| < 2^31` (conservatively).
            ok &= (v as f64 * scaled).abs() < 2147483647.0;
        }
        let w = spec.width() as i32;
        let (min, max) = (
            spec.min_raw().max(i32::MIN as i64) as i32,
            spec.max_raw().min(i32::MAX as i64) as i32,
        );
        let u = _mm_set1_epi32((32 - w).max(0));
        let wrap32 = |q: __m128i| match spec.overflow() {
            crate::Overflow::Wrap if w >= 32 => q,
            crate::Overflow::Wrap if !spec.is_signed() => _mm_srlv_epi32(_mm_sllv_epi32(q, u), u),
            crate::Overflow::Wrap => _mm_srav_epi32(_mm_sllv_epi32(q, u), u),
            _ => _mm_min_epi32(_mm_max_epi32(q, _mm_set1_epi32(min)), _mm_set1_epi32(max)),
        };
        let mut i = 0;
        while i < whole {
            let f = load(i);
            let a = _mm256_andnot_pd(sign, f);
            ok &= _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(a, limit)) == 0xf;
            let q = wrap32(_mm256_cvtpd_epi32(f));
            // SAFETY: `i + 4 <= whole <= n`, inside `raw`.
            unsafe {
                _mm256_storeu_si256(
                    raw.as_mut_ptr().add(i) as *mut __m256i,
                    _mm256_cvtepi32_epi64(q),
                )
            };
            i += 4;
        }
        if !ok {
            return false;
        }
        for (r, &v) in raw[whole..n].iter_mut().zip(&x[whole..n]) {
            *r = super::from_f64(spec, v as f64).raw;
        }
        true
    }

    /// `super::compact` sixteen inputs at a time: for the wide form, the nonzero lanes' words
    /// and row offsets packed to the front of their chunk with `vpcompressd`, one aligned store
    /// each; for the scaled form, the words in place (one aligned store) and the chunk's
    /// nonzero lanes in `masks` (the rows are `i STRIDE`, not stored).
    ///
    /// # Safety
    /// AVX-512 F, BW and VL, POPCNT and BMI1; `s <= 15`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    pub(crate) unsafe fn compact<const FORM: u8, const STRIDE: usize, const N: usize>(
        x: &[i64],
        s: u32,
        out: &mut super::Compact<N>,
    ) -> super::Compacted {
        let n_in = x.len().min(N);
        // Sixteen values as 32-bit lanes (they fit: 16-bit types), lanes `k` valid. Plain loads
        // where they can be (a masked one does not forward from the stores that just wrote the
        // values).
        let load = |i: usize| {
            // SAFETY: the lanes read are inputs `i..n_in`, inside `x`.
            unsafe {
                let p = x.as_ptr().add(i);
                let (a, b, k) = if n_in - i >= 16 {
                    let a = _mm512_loadu_si512(p as *const __m512i);
                    (a, _mm512_loadu_si512(p.add(8) as *const __m512i), 0xffff)
                } else {
                    let k = ((1u32 << (n_in - i)) - 1) as __mmask16;
                    let a = _mm512_maskz_loadu_epi64(k as __mmask8, p);
                    let b = _mm512_maskz_loadu_epi64((k >> 8) as __mmask8, p.add(8));
                    (a, b, k)
                };
                let (a, b) = (_mm512_cvtepi64_epi32(a), _mm512_cvtepi64_epi32(b));
                (_mm512_inserti64x4::<1>(_mm512_castsi256_si512(a), b), k)
            }
        };
        // SAFETY: as this function's; `load` reads lanes below `n_in <= N`.
        unsafe { compact_with::<FORM, STRIDE, N>(n_in, s, out, load) }
    }

    /// [`compact`] of values held in `i16`.
    ///
    /// # Safety
    /// As [`compact`]'s.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    pub(crate) unsafe fn compact16<const FORM: u8, const STRIDE: usize, const N: usize>(
        x: &[i16],
        s: u32,
        out: &mut super::Compact<N>,
    ) -> super::Compacted {
        let n_in = x.len().min(N);
        // A plain load where it can be, as in `compact`.
        let load = |i: usize| {
            // SAFETY: the lanes read are inputs `i..n_in`, inside `x`.
            let (v, k) = unsafe {
                let p = x.as_ptr().add(i);
                if n_in - i >= 16 {
                    (_mm256_loadu_si256(p as *const __m256i), 0xffff)
                } else {
                    let k = ((1u32 << (n_in - i)) - 1) as __mmask16;
                    (_mm256_maskz_loadu_epi16(k, p), k)
                }
            };
            (_mm512_cvtepi16_epi32(v), k)
        };
        // SAFETY: as this function's; `load` reads lanes below `n_in <= N`.
        unsafe { compact_with::<FORM, STRIDE, N>(n_in, s, out, load) }
    }

    /// The compaction of `n_in` values, sixteen at a time as `load(i)` gives them (32-bit
    /// lanes and the valid ones).
    ///
    /// # Safety
    /// As [`compact`]'s; `n_in <= N`; `load(i)`'s valid lanes are below `n_in - i`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    unsafe fn compact_with<const FORM: u8, const STRIDE: usize, const N: usize>(
        n_in: usize,
        s: u32,
        out: &mut super::Compact<N>,
        load: impl Fn(usize) -> (__m512i, __mmask16),
    ) -> super::Compacted {
        let mut lanes = Emit::<FORM, STRIDE>::new(s);
        let mut i = 0;
        while i < n_in {
            let (v, k) = load(i);
            // SAFETY: chunk `i / 16` of `out`, whose `N` entries hold every chunk.
            unsafe { lanes.chunk(v, k, i, out) };
            i += 16;
        }
        lanes.done()
    }

    /// The compaction of chunks of 16 values in 32-bit lanes, for kernel form `FORM` with
    /// shift `s` (see `super::compact`).
    struct Emit<const FORM: u8, const STRIDE: usize> {
        s: __m128i,
        lo_left: __m128i,
        low: __m512i,
        half: __m512i,
        range: __m512i,
        sum: __m512i,
        outside: __mmask16,
    }

    impl<const FORM: u8, const STRIDE: usize> Emit<FORM, STRIDE> {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
        #[inline]
        fn new(s: u32) -> Self {
            Emit {
                s: _mm_cvtsi32_si128(s as i32),
                lo_left: _mm_cvtsi32_si128(16 - s as i32),
                low: _mm512_set1_epi32((1i32 << s) - 1),
                // For `SCALED` (`s` is `up`): `x` in `[-2^(15-s), 2^(15-s))`, `x + 2^(15-s)`
                // below `2^(16-s)` unsigned.
                half: _mm512_set1_epi32(1 << (15 - s)),
                range: _mm512_set1_epi32(1 << (16 - s)),
                sum: _mm512_setzero_si512(),
                outside: 0,
            }
        }

        /// Chunk `i / 16`: values `v`, lanes `k` valid (all 16 or the last ones).
        ///
        /// # Safety
        /// `i / 16 < N.div_ceil(16)`, lanes `k` below `N - i`.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
        #[inline]
        unsafe fn chunk<const N: usize>(
            &mut self,
            v: __m512i,
            k: __mmask16,
            i: usize,
            out: &mut super::Compact<N>,
        ) {
            let word = _mm512_set1_epi32(0xffff);
            // Each 16-bit value in both halves of its 32-bit lane.
            let dup = |v: __m512i| {
                let v = _mm512_and_si512(v, word);
                _mm512_or_si512(v, _mm512_slli_epi32::<16>(v))
            };
            let nonzero = _mm512_mask_test_epi32_mask(k, v, v);
            let count = nonzero.count_ones();
            let st = STRIDE as i32;
            #[rustfmt::skip]
            let index = _mm512_setr_epi32(
                0, st, 2 * st, 3 * st, 4 * st, 5 * st, 6 * st, 7 * st,
                8 * st, 9 * st, 10 * st, 11 * st, 12 * st, 13 * st, 14 * st, 15 * st,
            );
            let rows = _mm512_add_epi32(index, _mm512_set1_epi32(i as i32 * st));
            let store = |p: *mut u32, v: __m512i| {
                let c = _mm512_maskz_compress_epi32(nonzero, v);
                // SAFETY: entries `i..i + 16` of an `N`-word aligned array when the chunk is
                // whole (`k` all ones, so `i + 16 <= N`), else the `count <= N - i` lanes.
                unsafe {
                    if k == 0xffff {
                        _mm512_store_si512(p.add(i) as *mut __m512i, c);
                    } else {
                        let m = ((1u32 << count) - 1) as __mmask16;
                        _mm512_mask_storeu_epi32(p.add(i) as *mut i32, m, c);
                    }
                }
            };
            match FORM {
                super::SCALED => {
                    let over = _mm512_add_epi32(v, self.half);
                    self.outside |= _mm512_mask_cmpge_epu32_mask(k, over, self.range);
                    let vals = dup(_mm512_sll_epi32(v, self.s));
                    // SAFETY: entries `i..i + 16` of `vals` when the chunk is whole, else its
                    // `k` lanes (below `N - i`).
                    unsafe {
                        let p = out.vals.0.as_mut_ptr().add(i);
                        if k == 0xffff {
                            _mm512_store_si512(p as *mut __m512i, vals);
                        } else {
                            _mm512_mask_storeu_epi32(p as *mut i32, k, vals);
                        }
                    }
                    out.masks[i / 16] = nonzero;
                    out.counts[i / 16] = count as u8;
                    return;
                }
                _ => {
                    self.sum = _mm512_add_epi32(self.sum, v);
                    store(out.vals.0.as_mut_ptr(), dup(_mm512_sra_epi32(v, self.s)));
                    let l = _mm512_sll_epi32(_mm512_and_si512(v, self.low), self.lo_left);
                    store(out.lo.0.as_mut_ptr(), dup(l));
                }
            }
            store(out.rows.0.as_mut_ptr(), rows);
            out.counts[i / 16] = count as u8;
        }

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
        #[inline]
        fn done(self) -> super::Compacted {
            super::Compacted {
                sum: if FORM == super::SCALED {
                    0
                } else {
                    _mm512_reduce_add_epi32(self.sum) as u16
                },
                outside: self.outside != 0,
            }
        }
    }

    /// The AVX-512 form of `kernels::floor16` (weights scaled by `2^t`), on the layout of
    /// `x86::compact` (in place with masks for the scaled form).
    ///
    /// # Safety
    /// AVX-512 F, BW and VL, POPCNT, BMI1; every index of `ins` inside its slices, every
    /// compacted `rows[k] + PAD <= w.len()` (the wide form), every input `k` marked in `masks`
    /// with `(k + 1) PAD <= w.len()` (the scaled form), `PAD % 32 == 0`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    pub unsafe fn floor16_avx512<const PAD: usize, const FORM: u8>(
        ins: super::Chunks<'_>,
        w: &[u16],
        t: u32,
        acc: &mut [u16; PAD],
    ) {
        let nv = PAD / 32;
        let mut c = 0;
        while c < nv {
            let m = (nv - c).min(4);
            let out = (c, &mut acc[..]);
            // SAFETY: as this function's.
            unsafe {
                match m {
                    1 => floor16_chunk::<1, FORM>(ins, w, t, out),
                    2 => floor16_chunk::<2, FORM>(ins, w, t, out),
                    3 => floor16_chunk::<3, FORM>(ins, w, t, out),
                    _ => floor16_chunk::<4, FORM>(ins, w, t, out),
                }
            }
            c += m;
        }
    }

    /// Vectors `c..c + M` of 32 outputs.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    unsafe fn floor16_chunk<const M: usize, const FORM: u8>(
        ins: super::Chunks<'_>,
        w: &[u16],
        t: u32,
        (c, acc): (usize, &mut [u16]),
    ) {
        use super::{CHUNK, SCALED};
        let back = _mm_cvtsi32_si128(t as i32);
        let flip = _mm512_set1_epi16(i16::MIN);
        // SAFETY: the row at `rows[k]` holds `PAD` values inside `w`, and
        // `(c + M) * 32 <= PAD`; `acc` holds `PAD` values; every index is inside `ins`.
        unsafe {
            // The sums start from zero in registers (a load of `acc` just zeroed by the caller
            // would wait for its stores).
            let mut a = [_mm512_setzero_si512(); M];
            let mut b = [_mm512_setzero_si512(); M];
            let (hp, lp, rp) = (ins.vals.as_ptr(), ins.lo.as_ptr(), ins.rows.as_ptr());
            let wp = w.as_ptr().add(c * 32);
            // The product of input `k` with its row's vector `g`: the scaled form's inputs are in
            // place (row `k PAD`), the wide form's compacted with their rows' offsets.
            let pad = acc.len();
            let product = |k: usize, g: usize| {
                // Broadcasts of a 32-bit word: plain loads.
                let vh = _mm512_set1_epi32(*hp.add(k) as i32);
                let row = if FORM == SCALED {
                    k * pad
                } else {
                    *rp.add(k) as usize
                };
                let base = wp.add(row);
                let wv = _mm512_loadu_si512(base.add(32 * g) as *const __m512i);
                match FORM {
                    SCALED => _mm512_mulhi_epi16(vh, wv),
                    _ => {
                        // The weights recovered, offset by 2^15.
                        let wv = _mm512_xor_si512(_mm512_sra_epi16(wv, back), flip);
                        let vl = _mm512_set1_epi32(*lp.add(k) as i32);
                        let lo = _mm512_mullo_epi16(vh, wv);
                        _mm512_add_epi16(lo, _mm512_mulhi_epu16(vl, wv))
                    }
                }
            };
            if FORM == SCALED {
                // The nonzero inputs from `masks` (no loads of row offsets, no compaction to
                // wait for).
                for (j, &mask) in ins.masks.iter().enumerate() {
                    let mut m = mask as u32;
                    let base = j * CHUNK;
                    while m & m.wrapping_sub(1) != 0 {
                        let k0 = base + m.trailing_zeros() as usize;
                        m &= m - 1;
                        let k1 = base + m.trailing_zeros() as usize;
                        m &= m - 1;
                        for g in 0..M {
                            a[g] = _mm512_add_epi16(a[g], product(k0, g));
                            b[g] = _mm512_add_epi16(b[g], product(k1, g));
                        }
                    }
                    if m != 0 {
                        let k = base + m.trailing_zeros() as usize;
                        for (g, a) in a.iter_mut().enumerate() {
                            *a = _mm512_add_epi16(*a, product(k, g));
                        }
                    }
                }
            } else {
                // Two inputs per step into two sets of sums (two chains of additions, half the
                // loop's overhead).
                for (j, &count) in ins.counts.iter().enumerate() {
                    let (mut k, end) = (j * CHUNK, j * CHUNK + count as usize);
                    while k + 2 <= end {
                        for g in 0..M {
                            a[g] = _mm512_add_epi16(a[g], product(k, g));
                            b[g] = _mm512_add_epi16(b[g], product(k + 1, g));
                        }
                        k += 2;
                    }
                    if k < end {
                        for (g, a) in a.iter_mut().enumerate() {
                            *a = _mm512_add_epi16(*a, product(k, g));
                        }
                    }
                }
            }
            for (a, b) in a.iter_mut().zip(b) {
                *a = _mm512_add_epi16(*a, b);
            }
            for (g, a) in a.iter().enumerate() {
                _mm512_storeu_si512(acc.as_mut_ptr().add((c + g) * 32) as *mut __m512i, *a);
            }
        }
    }

    /// The AVX-512 form of `kernels::exact16`.
    ///
    /// # Safety
    /// AVX-512 F, BW and VL, POPCNT, BMI1; `pairs.len() * 2 * PAD <= w.len()`, `PAD % 32 == 0`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    pub unsafe fn exact16_avx512<const PAD: usize>(pairs: &[u32], w: &[u16], acc: &mut [i32; PAD]) {
        let nv = PAD / 16;
        let mut c = 0;
        while c < nv {
            let m = (nv - c).min(4);
            // SAFETY: as this function's.
            unsafe {
                match m {
                    1 => exact16_chunk::<1>(pairs, w, PAD, c, acc),
                    2 => exact16_chunk::<2>(pairs, w, PAD, c, acc),
                    3 => exact16_chunk::<3>(pairs, w, PAD, c, acc),
                    _ => exact16_chunk::<4>(pairs, w, PAD, c, acc),
                }
            }
            c += m;
        }
    }

    /// Vectors `c..c + M` of 16 outputs.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt,bmi1")]
    #[inline]
    unsafe fn exact16_chunk<const M: usize>(
        pairs: &[u32],
        w: &[u16],
        pad: usize,
        c: usize,
        acc: &mut [i32],
    ) {
        // SAFETY: pair row `q < pairs.len()` holds `2 pad` values from `2 q pad` inside `w`,
        // and `(c + M) * 16 <= pad`; `acc` holds `pad` values.
        unsafe {
            // From zero in registers, as in `floor16_chunk`.
            let mut a = [_mm512_setzero_si512(); M];
            for (q, &v) in pairs.iter().enumerate() {
                let xv = _mm512_set1_epi32(v as i32);
                let base = w.as_ptr().add((q * pad + c * 16) * 2);
                for (g, a) in a.iter_mut().enumerate() {
                    let wv = _mm512_loadu_si512(base.add(32 * g) as *const __m512i);
                    *a = _mm512_add_epi32(*a, _mm512_madd_epi16(xv, wv));
                }
            }
            for (g, a) in a.iter().enumerate() {
                _mm512_storeu_si512(acc.as_mut_ptr().add((c + g) * 16) as *mut __m512i, *a);
            }
        }
    }
}
