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
//!   a shift per product: split the input `x = xh 2^s + xl` (`0 <= xl < 2^s`) and store the weight
//!   offset, `wu = w + 2^15` (unsigned 16 bits). Then
//!   `floor(x w / 2^s) = xh w + floor(xl w / 2^s)`, and with `a = xl 2^(16-s) < 2^16`,
//!   `mulhi_u16(a, wu) = floor(xl w / 2^s) + xl 2^(15-s)` and
//!   `mullo_16(xh, wu) = xh w + xh 2^15 (mod 2^16)`, so
//!   `mullo + mulhi = floor(x w / 2^s) + 2^(15-s) x (mod 2^16)`: two multiplications per 32
//!   products (`vpmullw`, `vpmulhuw`) and a correction `2^(15-s) sum x` per call.
//!
//! [`DensePath::Floor`] skips the inputs that are 0 (about half after a ReLU; they add
//! nothing), compacting the others with `vpcompressw` eight at a time where the CPU has AVX-512
//! VBMI2 (nn-bench M1 at `ap_fixed<16,6>`: 351 -> 313 ns per sample; the scalar loop it
//! replaces was 2,300 of the 5,000 instructions), else one by one; [`DensePath::Exact`] does
//! not (pairs of zeros are rarer: measured on M1, compacting them cost more than it saved).
//! The bias conversion and the final `(result_t) acc` are done per output with the scalar
//! casts. Other types (saturating or rounding accumulators, wider data or accumulators) keep
//! [`ops::dense`].
//!
//! The instruction set is chosen at run time ([`Isa::detect`], from `cpuid`, so also without
//! `std`): AVX-512 (F + BW) kernels written with intrinsics, AVX2 and portable kernels as plain
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
    /// AVX-512 F and BW intrinsics (512-bit `vpmullw`, `vpmulhuw`, `vpmaddwd`).
    Avx512,
}

impl Isa {
    /// The widest instruction set of this CPU (with the operating system's support for its
    /// registers), detected once with `cpuid`.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            static LEVEL: AtomicU8 = AtomicU8::new(0);
            match LEVEL.load(Ordering::Relaxed) {
                1 => Isa::Portable,
                2 => Isa::Avx2,
                3 => Isa::Avx512,
                _ => {
                    let isa = x86::detect();
                    let level = match isa {
                        Isa::Portable => 1,
                        Isa::Avx2 => 2,
                        Isa::Avx512 => 3,
                    };
                    LEVEL.store(level, Ordering::Relaxed);
                    isa
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa::Portable
        }
    }

    /// Whether this CPU can run `self`.
    pub fn available(self) -> bool {
        matches!(
            (self, Isa::detect()),
            (Isa::Portable, _) | (Isa::Avx2, Isa::Avx2 | Isa::Avx512) | (Isa::Avx512, Isa::Avx512)
        )
    }
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

/// Whether raw values of `s` fit an `i16`.
const fn fits_i16(s: Spec) -> bool {
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
    bias_acc: [i64; PAD],
    bias: [i64; PAD],
    n_out: usize,
    path: DensePath,
    x_spec: Spec,
    p: DensePrecision,
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
        let mut packed = [0u16; NW];
        for o in 0..n_out {
            for i in 0..N_IN {
                let v = w[o * N_IN + i];
                match path {
                    DensePath::Floor { .. } => packed[i * PAD + o] = (v as u16) ^ 0x8000,
                    _ => packed[((i / 2) * PAD + o) * 2 + i % 2] = v as u16,
                }
            }
        }
        let mut bias_acc = [0i64; PAD];
        let mut bias = [0i64; PAD];
        for o in 0..n_out {
            bias[o] = b[o];
            bias_acc[o] = p.accum.cast(Fixed::from_raw(b[o]), p.bias).raw;
        }
        Some(PackedDense {
            w: packed,
            bias_acc,
            bias,
            n_out,
            path,
            x_spec,
            p: *p,
        })
    }

    /// The path.
    pub fn path(&self) -> DensePath {
        self.path
    }

    /// The raw weights, `[out][in]` (as [`PackedDense::new`] took them).
    pub fn weight(&self, o: usize, i: usize) -> i64 {
        match self.path {
            DensePath::Floor { .. } => (self.w[i * PAD + o] ^ 0x8000) as i16 as i64,
            _ => self.w[((i / 2) * PAD + o) * 2 + i % 2] as i16 as i64,
        }
    }

    /// [`ops::dense`] of `x` (raw `x_spec`, `N_IN` values) into `y` (raw `result_t`, one per
    /// output), with the instruction set of [`Isa::detect`]. `x_spec` and `p` must be the
    /// types the layer was built with (the generated twin passes the same constants).
    #[inline(always)]
    pub fn forward(&self, x: &[i64], x_spec: Spec, p: &DensePrecision, y: &mut [i64]) {
        self.forward_with(Isa::detect(), x, x_spec, p, y)
    }

    /// [`PackedDense::forward`] with the instruction set `isa` (which the CPU must have:
    /// [`Isa::available`]; panics otherwise).
    #[inline(always)]
    pub fn forward_with(
        &self,
        isa: Isa,
        x: &[i64],
        x_spec: Spec,
        p: &DensePrecision,
        y: &mut [i64],
    ) {
        assert!(isa.available(), "{isa:?} is not available on this CPU");
        assert!(
            x_spec == self.x_spec && *p == self.p,
            "the types the layer was packed for"
        );
        assert!(x.len() == N_IN && y.len() == self.n_out, "shapes");
        let (lo, hi) = (x_spec.min_raw(), x_spec.max_raw());
        // A fold, not `any`: no early exit, so it vectorizes (all values are in range but for
        // inputs from outside the twin).
        if x.iter().fold(false, |out, &v| out | (v < lo) | (v > hi)) {
            return self.reference(x, x_spec, p, y);
        }
        match DensePath::of(x_spec, p) {
            DensePath::Floor { shift } => self.floor(isa, x, shift, p, y),
            DensePath::Exact { shift } => self.exact(isa, x, shift, p, y),
            DensePath::Scalar => unreachable!("a packed layer has a fast path"),
        }
    }

    /// [`ops::dense`] on the stored weights.
    fn reference(&self, x: &[i64], x_spec: Spec, p: &DensePrecision, y: &mut [i64]) {
        let mut row = [0i64; N_IN];
        for (o, y) in y.iter_mut().enumerate() {
            for (i, r) in row.iter_mut().enumerate() {
                *r = self.weight(o, i);
            }
            ops::dense(
                x,
                x_spec,
                &row,
                &self.bias[o..o + 1],
                p,
                core::slice::from_mut(y),
            );
        }
    }

    #[inline(always)]
    fn floor(&self, isa: Isa, x: &[i64], s: u32, p: &DensePrecision, y: &mut [i64]) {
        // x = xh 2^s + xl, 0 <= xl < 2^s; the kernel takes xh and xl 2^(16-s) of the nonzero
        // inputs (a zero input adds nothing; after a ReLU about half are zero) and their rows.
        let mut xh = [0u16; N_IN];
        let mut xl = [0u16; N_IN];
        let mut rows = [0u32; N_IN];
        #[cfg(target_arch = "x86_64")]
        let compacted = if isa == Isa::Avx512 && x86::has_compress() {
            // SAFETY: the CPU has AVX-512 F, BW, VL and VBMI2 (checked); the slices have
            // `N_IN` values each.
            Some(unsafe { x86::compact(x, s, &mut xh, &mut xl, &mut rows) })
        } else {
            None
        };
        #[cfg(not(target_arch = "x86_64"))]
        let compacted = None;
        let (n, sum) = compacted.unwrap_or_else(|| compact(x, s, &mut xh, &mut xl, &mut rows));
        let mut acc = [0u16; PAD];
        // SAFETY: the rows are inputs, below `N_IN <= NW / PAD` (checked in `new`).
        unsafe { kernels::floor16::<PAD>(isa, &xh[..n], &xl[..n], &rows[..n], &self.w, &mut acc) };
        let c = sum.wrapping_mul(1u16 << (15 - s));
        for (o, y) in y.iter_mut().enumerate() {
            let t = (self.bias_acc[o] as u16)
                .wrapping_add(acc[o])
                .wrapping_sub(c);
            let a = wrap(t as i64, p.accum);
            *y = cast(p.result, a, p.accum);
        }
    }

    #[inline(always)]
    fn exact(&self, isa: Isa, x: &[i64], k: u32, p: &DensePrecision, y: &mut [i64]) {
        // The pairs of inputs, (x0 as u16) | (x1 as u16) << 16 (x1 = 0 past the end).
        let mut pairs = [0u32; N_IN];
        let mut halves = x.chunks_exact(2);
        for (q, pair) in pairs.iter_mut().zip(&mut halves) {
            *q = (pair[0] as u16 as u32) | (pair[1] as u16 as u32) << 16;
        }
        if let [last] = halves.remainder() {
            pairs[N_IN / 2] = *last as u16 as u32;
        }
        let mut acc = [0i32; PAD];
        kernels::exact16::<PAD>(isa, &pairs[..N_IN.div_ceil(2)], &self.w, &mut acc);
        for (o, y) in y.iter_mut().enumerate() {
            let t = (self.bias_acc[o] as u32).wrapping_add((acc[o] as u32) << k);
            let a = wrap(t as i32 as i64, p.accum);
            *y = cast(p.result, a, p.accum);
        }
    }
}

/// The nonzero inputs of `x` split for [`DensePath::Floor`] with shift `s`: `xh[k] = x >> s`,
/// `xl[k] = (x mod 2^s) 2^(16 - s)` and `rows[k]` = its index, for the `n` nonzero inputs in
/// order; returns `n` and the sum of all inputs modulo `2^16`. (`x86::compact` is the same with
/// `vpcompressw`.)
#[inline(always)]
pub(crate) fn compact(
    x: &[i64],
    s: u32,
    xh: &mut [u16],
    xl: &mut [u16],
    rows: &mut [u32],
) -> (usize, u16) {
    let mut n = 0;
    let mut sum = 0u16;
    let mask = (1i64 << s) - 1;
    for (i, &v) in x.iter().enumerate() {
        sum = sum.wrapping_add(v as u16);
        xh[n] = (v >> s) as u16;
        xl[n] = ((v & mask) << (16 - s)) as u16;
        rows[n] = i as u32;
        n += (v != 0) as usize;
    }
    (n, sum)
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

/// [`ops::relu`]: `y = x > 0 ? (out) x : 0`.
#[inline(always)]
pub fn relu(x: &[i64], in_spec: Spec, out_spec: Spec, y: &mut [i64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x > 0 { cast(out_spec, x, in_spec) } else { 0 };
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
        let e = tables.exp[tables::softmax_idx_from_real_val(d, p.inp_norm, E)];
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
        let e = tables.exp[tables::softmax_idx_from_real_val(x, p.input, E)];
        *y = cast(p.accum, e, p.exp_table);
    }
    normalize(p, tables, &mut y[..x.len()]);
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
fn tree_sum(x: &[i64], accum: Spec) -> i64 {
    match x.len() {
        0 => 0,
        1 => x[0],
        2 => add(accum, x[0], x[1]),
        n => {
            let left = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            add(
                accum,
                tree_sum(&x[..left], accum),
                tree_sum(&x[left..], accum),
            )
        }
    }
}

mod kernels {
    use super::Isa;

    /// `acc[o] += sum over k of mullo(xh[k], w[r][o]) + mulhi_u(xl[k], w[r][o])` with
    /// `r = rows[k]` (16-bit lanes, modulo `2^16`), `w` laid out `[in][PAD]`.
    ///
    /// # Safety
    /// Every row is below `w.len() / PAD`.
    #[inline(always)]
    pub unsafe fn floor16<const PAD: usize>(
        isa: Isa,
        xh: &[u16],
        xl: &[u16],
        rows: &[u32],
        w: &[u16],
        acc: &mut [u16; PAD],
    ) {
        assert!(xh.len() == xl.len() && xh.len() == rows.len() && PAD.is_multiple_of(32));
        debug_assert!(rows.iter().all(|&r| (r as usize + 1) * PAD <= w.len()));
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX-512 F and BW; every row read is
            // inside `w` (this function's contract).
            Isa::Avx512 => unsafe { super::x86::floor16_avx512::<PAD>(xh, xl, rows, w, acc) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX2.
            Isa::Avx2 => unsafe { floor16_avx2::<PAD>(xh, xl, rows, w, acc) },
            _ => floor16_body::<PAD>(xh, xl, rows, w, acc),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn floor16_avx2<const PAD: usize>(
        xh: &[u16],
        xl: &[u16],
        rows: &[u32],
        w: &[u16],
        acc: &mut [u16; PAD],
    ) {
        floor16_body::<PAD>(xh, xl, rows, w, acc)
    }

    #[inline(always)]
    fn floor16_body<const PAD: usize>(
        xh: &[u16],
        xl: &[u16],
        rows: &[u32],
        w: &[u16],
        acc: &mut [u16; PAD],
    ) {
        let mut a = *acc;
        for ((&h, &l), &r) in xh.iter().zip(xl).zip(rows) {
            let row = &w[r as usize * PAD..][..PAD];
            let l = l as u32;
            for (a, &wu) in a.iter_mut().zip(row) {
                let hi = ((l * wu as u32) >> 16) as u16;
                *a = a.wrapping_add(h.wrapping_mul(wu)).wrapping_add(hi);
            }
        }
        *acc = a;
    }

    /// `acc[o] += sum over pairs q of x0 w[q][o][0] + x1 w[q][o][1]` (`i16 x i16`, 32-bit
    /// lanes, modulo `2^32`), `pairs[q] = x0 | x1 << 16`, `w` laid out `[in / 2][PAD][2]`.
    #[inline(always)]
    pub fn exact16<const PAD: usize>(isa: Isa, pairs: &[u32], w: &[u16], acc: &mut [i32; PAD]) {
        assert!(pairs.len() * 2 * PAD <= w.len() && PAD.is_multiple_of(32));
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU has AVX-512 F and BW; every pair row read
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
        let mut a = *acc;
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

    /// AVX-512 F + BW (with the OS saving the ZMM registers), else AVX2 (YMM saved), else none.
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
        let avx512 = l7.ebx & (1 << 16) != 0 && l7.ebx & (1 << 30) != 0;
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

    /// Whether the CPU has AVX-512 VBMI2 and VL besides F and BW (`vpcompressw` on 8 lanes, for
    /// [`compact`]), detected once.
    pub fn has_compress() -> bool {
        use core::sync::atomic::{AtomicU8, Ordering};
        static HAS: AtomicU8 = AtomicU8::new(0);
        match HAS.load(Ordering::Relaxed) {
            1 => false,
            2 => true,
            _ => {
                let l7 = __cpuid_count(7, 0);
                let vl = l7.ebx & (1 << 31) != 0;
                let vbmi2 = l7.ecx & (1 << 6) != 0;
                let has = detect() == Isa::Avx512 && vl && vbmi2;
                HAS.store(1 + has as u8, Ordering::Relaxed);
                has
            }
        }
    }

    /// `super::compact` eight inputs at a time: the nonzero lanes' halves and indices packed
    /// to the front with `vpcompressw`/`vpcompressd` and stored under a mask of their count.
    ///
    /// # Safety
    /// AVX-512 F, BW, VL and VBMI2; `xh`, `xl` and `rows` at least as long as `x`; `1 <= s <= 15`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi2")]
    pub unsafe fn compact(
        x: &[i64],
        s: u32,
        xh: &mut [u16],
        xl: &mut [u16],
        rows: &mut [u32],
    ) -> (usize, u16) {
        let n_in = x.len();
        assert!(xh.len() >= n_in && xl.len() >= n_in && rows.len() >= n_in);
        let right = _mm512_set1_epi64(s as i64);
        let left = _mm512_set1_epi64(16 - s as i64);
        let low = _mm512_set1_epi64((1i64 << s) - 1);
        let mut sum = _mm512_setzero_si512();
        let mut index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let (mut n, mut i) = (0, 0);
        while i < n_in {
            let k = if n_in - i >= 8 {
                0xff
            } else {
                ((1u32 << (n_in - i)) - 1) as __mmask8
            };
            // SAFETY: lanes `k` are inputs `i..`, inside `x`; the stores write `count` values
            // from `n`, where `n + count` is at most the inputs seen so far, inside the outputs.
            unsafe {
                let v = _mm512_maskz_loadu_epi64(k, x.as_ptr().add(i));
                sum = _mm512_add_epi64(sum, v);
                let nonzero = _mm512_mask_test_epi64_mask(k, v, v);
                let h = _mm512_cvtepi64_epi16(_mm512_srav_epi64(v, right));
                let l = _mm512_cvtepi64_epi16(_mm512_sllv_epi64(_mm512_and_si512(v, low), left));
                let count = nonzero.count_ones() as usize;
                let store = ((1u32 << count) - 1) as __mmask8;
                let (ph, pl) = (xh.as_mut_ptr().add(n), xl.as_mut_ptr().add(n));
                _mm_mask_storeu_epi16(ph as *mut i16, store, _mm_maskz_compress_epi16(nonzero, h));
                _mm_mask_storeu_epi16(pl as *mut i16, store, _mm_maskz_compress_epi16(nonzero, l));
                let pr = rows.as_mut_ptr().add(n) as *mut i32;
                _mm256_mask_storeu_epi32(pr, store, _mm256_maskz_compress_epi32(nonzero, index));
                n += count;
            }
            index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
            i += 8;
        }
        (n, _mm512_reduce_add_epi64(sum) as u16)
    }

    /// The AVX-512 form of `kernels::floor16`.
    ///
    /// # Safety
    /// AVX-512 F and BW; `xh`, `xl` and `rows` of one length, every `(r + 1) * PAD <= w.len()`,
    /// `PAD % 32 == 0`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn floor16_avx512<const PAD: usize>(
        xh: &[u16],
        xl: &[u16],
        rows: &[u32],
        w: &[u16],
        acc: &mut [u16; PAD],
    ) {
        let nv = PAD / 32;
        let mut c = 0;
        while c < nv {
            let m = (nv - c).min(4);
            // SAFETY: as this function's.
            unsafe {
                match m {
                    1 => floor16_chunk::<1>(xh, xl, rows, w, PAD, c, acc),
                    2 => floor16_chunk::<2>(xh, xl, rows, w, PAD, c, acc),
                    3 => floor16_chunk::<3>(xh, xl, rows, w, PAD, c, acc),
                    _ => floor16_chunk::<4>(xh, xl, rows, w, PAD, c, acc),
                }
            }
            c += m;
        }
    }

    /// Vectors `c..c + M` of 32 outputs.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn floor16_chunk<const M: usize>(
        xh: &[u16],
        xl: &[u16],
        rows: &[u32],
        w: &[u16],
        pad: usize,
        c: usize,
        acc: &mut [u16],
    ) {
        // SAFETY: row `rows[k]` holds `pad` values from `rows[k] * pad` inside `w`, and
        // `(c + M) * 32 <= pad`; `acc` holds `pad` values.
        unsafe {
            let mut a: [__m512i; M] = core::array::from_fn(|g| {
                _mm512_loadu_si512(acc.as_ptr().add((c + g) * 32) as *const __m512i)
            });
            for ((&h, &l), &r) in xh.iter().zip(xl).zip(rows) {
                let vh = _mm512_set1_epi16(h as i16);
                let vl = _mm512_set1_epi16(l as i16);
                let base = w.as_ptr().add(r as usize * pad + c * 32);
                for (g, a) in a.iter_mut().enumerate() {
                    let wv = _mm512_loadu_si512(base.add(32 * g) as *const __m512i);
                    let lo = _mm512_mullo_epi16(vh, wv);
                    let hi = _mm512_mulhi_epu16(vl, wv);
                    *a = _mm512_add_epi16(*a, _mm512_add_epi16(lo, hi));
                }
            }
            for (g, a) in a.iter().enumerate() {
                _mm512_storeu_si512(acc.as_mut_ptr().add((c + g) * 32) as *mut __m512i, *a);
            }
        }
    }

    /// The AVX-512 form of `kernels::exact16`.
    ///
    /// # Safety
    /// AVX-512 F and BW; `pairs.len() * 2 * PAD <= w.len()`, `PAD % 32 == 0`.
    #[target_feature(enable = "avx512f,avx512bw")]
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
    #[target_feature(enable = "avx512f,avx512bw")]
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
            let mut a: [__m512i; M] = core::array::from_fn(|g| {
                _mm512_loadu_si512(acc.as_ptr().add((c + g) * 16) as *const __m512i)
            });
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
