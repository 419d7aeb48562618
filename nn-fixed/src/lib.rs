//! Fixed-point numbers with the semantics of Xilinx's `ap_fixed<W, I, Q, O>` and
//! `ap_ufixed<W, I, Q, O>` (Vivado/Vitis HLS `ap_types`, the copy that hls4ml 1.3 ships and
//! compiles its C simulation against), bit for bit.
//!
//! A type ([`Spec`]) has `W` bits in total, `I` of them integer bits (the sign bit included
//! when signed), so `F = W - I` fractional bits; a value ([`Fixed`]) is its raw two's-complement
//! integer `raw`, meaning `raw * 2^-F`. `I` may exceed `W` (then the lowest bit weighs more
//! than one) or be negative (then all bits are fractional). A conversion into a type first rounds
//! (quantizes) the exact source value to a multiple of `2^-F` ([`Quant`], `AP_TRN` = floor by
//! default) and then brings it into the `W`-bit range ([`Overflow`], `AP_WRAP` = keep the
//! low `W` bits by default). Products and sums are exact, in wider types, as
//! `ap_fixed`'s `operator*` and `operator+` produce them: [`Spec::mul_spec`] (`W1 + W2`
//! bits, `I1 + I2` integer bits) and [`Spec::add_spec`].
//!
//! Three ways in, all agreeing with `ap_fixed` (checked against a C++ oracle built from the
//! hls4ml headers, `tests/fixtures/hls4ml/ap_fixed_casts.json`):
//! - [`Spec::from_f64`]: a C++ `double` assigned to the type (hls4ml's inputs, and its weights,
//!   which the C simulation reads from text as `double`s);
//! - [`Spec::cast`]: the converting constructor from another type (every `(accum_t) product`,
//!   `(res_T) acc` in hls4ml's layers);
//! - [`Spec::from_scaled`]: any exact value `raw * 2^-frac`.
//!
//! Limits: widths 1..=64 for signed types and 1..=63 for unsigned ones (raw values are `i64`),
//! integer bits in `-512..=512`. `ap_fixed` itself allows wider types; hls4ml's are at most 32
//! bits wide in practice, and the product of two 32-bit types fits. Not modelled: `AP_WRAP_SM`
//! and the saturation-bits parameter `N` (always 0 in hls4ml). Non-finite doubles convert as
//! `ap_fixed` converts them (it reads the exponent field as 1024 and sets the hidden bit:
//! infinities and NaNs overflow, to 0 under wrap-around); subnormal doubles get a hidden bit
//! too, exactly as in `ap_fixed`, which only matters for types with more than 1000 fractional
//! bits, which [`Spec`] does not allow.
//!
//! Two behaviours of `ap_fixed` that are not plain arithmetic are reproduced: `AP_SAT_SYM`
//! on a signed type maps the most negative value to `-max` (also when it is reached exactly,
//! without overflow), except for 1-bit types, whose only negative value stays; and
//! `ap_fixed<W, I>`'s converting constructor aborts on an assertion in the C simulation
//! when the source has fewer bits than the number of fractional bits it drops plus one
//! (`F_src - F_dst > W_src - 1`), where this module returns the mathematical result.
//!
//! `nn` re-exports this crate as `nn::fixed_point`; the `network!` macro uses it during expansion
//! to resolve the types of `#[fixed(...)]`. `no_std`, no allocation.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

use core::fmt;

#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod tests;

pub mod activations;
pub mod fast;
pub mod ops;
pub mod tables;

/// How a conversion drops fractional bits (`ap_q_mode`). Ties are values exactly halfway
/// between two multiples of `2^-F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quant {
    /// `AP_TRN` (the default): round toward minus infinity (floor).
    Trn,
    /// `AP_TRN_ZERO`: round toward zero.
    TrnZero,
    /// `AP_RND`: round to nearest, ties toward plus infinity.
    Rnd,
    /// `AP_RND_ZERO`: round to nearest, ties toward zero.
    RndZero,
    /// `AP_RND_MIN_INF`: round to nearest, ties toward minus infinity.
    RndMinInf,
    /// `AP_RND_INF`: round to nearest, ties away from zero.
    RndInf,
    /// `AP_RND_CONV`: round to nearest, ties to even (convergent rounding).
    RndConv,
}

/// What a conversion does with a value outside the type's range (`ap_o_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// `AP_WRAP` (the default): keep the low `W` bits (two's-complement wrap-around).
    Wrap,
    /// `AP_SAT`: clamp to the largest or smallest value.
    Sat,
    /// `AP_SAT_ZERO`: any overflow gives 0.
    SatZero,
    /// `AP_SAT_SYM`: clamp to `max` or `-max` (signed types never hold their most negative
    /// value, except 1-bit ones).
    SatSym,
}

impl Quant {
    /// All seven modes.
    pub const ALL: [Quant; 7] = [
        Quant::Trn,
        Quant::TrnZero,
        Quant::Rnd,
        Quant::RndZero,
        Quant::RndMinInf,
        Quant::RndInf,
        Quant::RndConv,
    ];

    /// The C++ name: `"AP_TRN"`, `"AP_RND"`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Quant::Trn => "AP_TRN",
            Quant::TrnZero => "AP_TRN_ZERO",
            Quant::Rnd => "AP_RND",
            Quant::RndZero => "AP_RND_ZERO",
            Quant::RndMinInf => "AP_RND_MIN_INF",
            Quant::RndInf => "AP_RND_INF",
            Quant::RndConv => "AP_RND_CONV",
        }
    }

    /// The mode of a C++ name (`"AP_RND"`) or of hls4ml's short name (`"RND"`).
    pub fn from_name(name: &str) -> Option<Quant> {
        let name = name.trim();
        let short = name.strip_prefix("AP_").unwrap_or(name);
        Quant::ALL.into_iter().find(|q| &q.name()[3..] == short)
    }
}

impl Overflow {
    /// All four modes.
    pub const ALL: [Overflow; 4] = [
        Overflow::Wrap,
        Overflow::Sat,
        Overflow::SatZero,
        Overflow::SatSym,
    ];

    /// The C++ name: `"AP_WRAP"`, `"AP_SAT"`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Overflow::Wrap => "AP_WRAP",
            Overflow::Sat => "AP_SAT",
            Overflow::SatZero => "AP_SAT_ZERO",
            Overflow::SatSym => "AP_SAT_SYM",
        }
    }

    /// The mode of a C++ name (`"AP_SAT"`) or of hls4ml's short name (`"SAT"`).
    pub fn from_name(name: &str) -> Option<Overflow> {
        let name = name.trim();
        let short = name.strip_prefix("AP_").unwrap_or(name);
        Overflow::ALL.into_iter().find(|o| &o.name()[3..] == short)
    }
}

/// Why a [`Spec`] cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// The width is 0, above 64 (signed) or above 63 (unsigned).
    Width,
    /// The integer bits are outside `-512..=512`.
    IntBits,
    /// The text is not `ap_fixed<W, I[, Q[, O[, N]]]>` / `ap_ufixed<...>` with known modes
    /// and `N = 0`.
    Syntax,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecError::Width => "fixed-point width must be 1..=64 (signed) or 1..=63 (unsigned)",
            SpecError::IntBits => "fixed-point integer bits must be in -512..=512",
            SpecError::Syntax => {
                "expected ap_fixed<W, I[, Q[, O[, 0]]]> or ap_ufixed<...> with known modes"
            }
        })
    }
}

/// A fixed-point type: `ap_fixed<width, int_bits, quant, overflow>` when signed,
/// `ap_ufixed<...>` otherwise. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Spec {
    width: u8,
    int_bits: i16,
    signed: bool,
    quant: Quant,
    overflow: Overflow,
}

/// A fixed-point value: the raw two's-complement integer, read through a [`Spec`]
/// (`value = raw * 2^-F`). Raw values of a type lie in `spec.min_raw()..=spec.max_raw()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fixed {
    /// The stored bits as a sign-extended (signed types) or zero-extended integer.
    pub raw: i64,
}

impl Fixed {
    /// Zero, in every type.
    pub const ZERO: Fixed = Fixed { raw: 0 };

    /// The value with these raw bits (not checked against a type's range).
    pub const fn from_raw(raw: i64) -> Fixed {
        Fixed { raw }
    }

    /// The value as a double: exact for raw values of at most 53 significant bits (every
    /// type of at most 53 bits), else rounded to nearest.
    pub fn to_f64(self, spec: Spec) -> f64 {
        spec.to_f64(self)
    }
}

/// A value together with its type, for the exact arithmetic of `ap_fixed`'s operators:
/// `a * b` and `a + b` give exact results in wider types (panicking past 64 bits; see
/// [`Value::checked_mul`], [`Value::checked_add`]), [`Value::cast`] converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    /// The raw bits.
    pub fixed: Fixed,
    /// Their type.
    pub spec: Spec,
}

impl Value {
    /// A double converted into `spec` (as a C++ `double` assigned to it).
    pub fn from_f64(x: f64, spec: Spec) -> Value {
        Value {
            fixed: spec.from_f64(x),
            spec,
        }
    }

    /// The value as a double (see [`Fixed::to_f64`]).
    pub fn to_f64(self) -> f64 {
        self.spec.to_f64(self.fixed)
    }

    /// The value converted into `to` (quantization, then overflow).
    pub fn cast(self, to: Spec) -> Value {
        Value {
            fixed: to.cast(self.fixed, self.spec),
            spec: to,
        }
    }

    /// The exact product in [`Spec::mul_spec`], or `None` if that type is wider than 64 bits
    /// (63 unsigned).
    pub fn checked_mul(self, other: Value) -> Option<Value> {
        let spec = self.spec.mul_spec(other.spec)?;
        Some(Value {
            fixed: Fixed::from_raw(self.fixed.raw * other.fixed.raw),
            spec,
        })
    }

    /// The exact sum in [`Spec::add_spec`], or `None` if that type is wider than 64 bits
    /// (63 unsigned).
    pub fn checked_add(self, other: Value) -> Option<Value> {
        let spec = self.spec.add_spec(other.spec)?;
        let f = spec.frac_bits();
        let a = self.fixed.raw << (f - self.spec.frac_bits());
        let b = other.fixed.raw << (f - other.spec.frac_bits());
        Some(Value {
            fixed: Fixed::from_raw(a + b),
            spec,
        })
    }
}

impl core::ops::Mul for Value {
    type Output = Value;
    /// The exact product; panics if it needs more than 64 bits.
    fn mul(self, other: Value) -> Value {
        self.checked_mul(other)
            .expect("fixed-point product wider than 64 bits")
    }
}

impl core::ops::Add for Value {
    type Output = Value;
    /// The exact sum; panics if it needs more than 64 bits.
    fn add(self, other: Value) -> Value {
        self.checked_add(other)
            .expect("fixed-point sum wider than 64 bits")
    }
}

/// The largest integer bits magnitude a [`Spec`] accepts.
pub const MAX_INT_BITS: i16 = 512;

impl Spec {
    /// The type `W = width`, `I = int_bits`; panics where [`Spec::try_new`] fails.
    pub const fn new(
        width: u8,
        int_bits: i16,
        signed: bool,
        quant: Quant,
        overflow: Overflow,
    ) -> Spec {
        match Spec::try_new(width, int_bits, signed, quant, overflow) {
            Ok(spec) => spec,
            Err(SpecError::Width) => {
                panic!("fixed-point width must be 1..=64 (signed) or 1..=63 (unsigned)")
            }
            Err(_) => panic!("fixed-point integer bits must be in -512..=512"),
        }
    }

    /// The type, or why it is not supported (see the [module docs](self) for the limits).
    pub const fn try_new(
        width: u8,
        int_bits: i16,
        signed: bool,
        quant: Quant,
        overflow: Overflow,
    ) -> Result<Spec, SpecError> {
        if width == 0 || width > 64 || (!signed && width > 63) {
            return Err(SpecError::Width);
        }
        if int_bits < -MAX_INT_BITS || int_bits > MAX_INT_BITS {
            return Err(SpecError::IntBits);
        }
        Ok(Spec {
            width,
            int_bits,
            signed,
            quant,
            overflow,
        })
    }

    /// `ap_fixed<W, I>`: signed, `AP_TRN`, `AP_WRAP`.
    pub const fn ap_fixed(width: u8, int_bits: i16) -> Spec {
        Spec::new(width, int_bits, true, Quant::Trn, Overflow::Wrap)
    }

    /// `ap_ufixed<W, I>`: unsigned, `AP_TRN`, `AP_WRAP`.
    pub const fn ap_ufixed(width: u8, int_bits: i16) -> Spec {
        Spec::new(width, int_bits, false, Quant::Trn, Overflow::Wrap)
    }

    /// The same type with quantization mode `quant`.
    pub const fn with_quant(self, quant: Quant) -> Spec {
        Spec { quant, ..self }
    }

    /// The same type with overflow mode `overflow`.
    pub const fn with_overflow(self, overflow: Overflow) -> Spec {
        Spec { overflow, ..self }
    }

    /// The type as one number (equal keys, equal types): its width, integer bits, signedness
    /// and modes packed into 24 bits, for comparisons that fold when the types are constants.
    pub const fn key(self) -> u32 {
        self.width as u32
            | ((self.int_bits + MAX_INT_BITS) as u32) << 7
            | (self.signed as u32) << 18
            | (self.quant as u32) << 19
            | (self.overflow as u32) << 22
    }

    /// `W`, the number of bits.
    pub const fn width(self) -> u8 {
        self.width
    }

    /// `I`, the integer bits (sign included).
    pub const fn int_bits(self) -> i16 {
        self.int_bits
    }

    /// `F = W - I`, the fractional bits (negative when `I > W`).
    pub const fn frac_bits(self) -> i32 {
        self.width as i32 - self.int_bits as i32
    }

    /// Whether the type is signed (`ap_fixed`) or not (`ap_ufixed`).
    pub const fn is_signed(self) -> bool {
        self.signed
    }

    /// The quantization mode.
    pub const fn quant(self) -> Quant {
        self.quant
    }

    /// The overflow mode.
    pub const fn overflow(self) -> Overflow {
        self.overflow
    }

    /// The smallest raw value: `-2^(W-1)` signed, 0 unsigned.
    pub const fn min_raw(self) -> i64 {
        if self.signed {
            (-1i64) << (self.width - 1)
        } else {
            0
        }
    }

    /// The largest raw value: `2^(W-1) - 1` signed, `2^W - 1` unsigned.
    pub const fn max_raw(self) -> i64 {
        if self.signed {
            ((1u64 << (self.width - 1)) - 1) as i64
        } else {
            ((1u64 << self.width) - 1) as i64
        }
    }

    /// The weight of the lowest bit, `2^-F`.
    pub fn ulp(self) -> f64 {
        libm::ldexp(1.0, -self.frac_bits())
    }

    /// The type of an exact product, as `ap_fixed`'s `operator*` gives it: `W1 + W2` bits,
    /// `I1 + I2` integer bits, signed if either is (`AP_TRN`, `AP_WRAP`), or `None` beyond
    /// 64 bits (63 unsigned).
    pub const fn mul_spec(self, other: Spec) -> Option<Spec> {
        let width = self.width as u16 + other.width as u16;
        if width > 64 {
            return None;
        }
        match Spec::try_new(
            width as u8,
            self.int_bits + other.int_bits,
            self.signed || other.signed,
            Quant::Trn,
            Overflow::Wrap,
        ) {
            Ok(spec) => Some(spec),
            Err(_) => None,
        }
    }

    /// The type of an exact sum, as `ap_fixed`'s `operator+` gives it: integer bits
    /// `max(I1 + (S2 && !S1), I2 + (S1 && !S2)) + 1`, fractional bits `max(F1, F2)`, signed
    /// if either is (`AP_TRN`, `AP_WRAP`), or `None` beyond 64 bits (63 unsigned).
    pub const fn add_spec(self, other: Spec) -> Option<Spec> {
        let i1 = self.int_bits as i32 + (other.signed && !self.signed) as i32;
        let i2 = other.int_bits as i32 + (self.signed && !other.signed) as i32;
        let int_bits = if i1 > i2 { i1 } else { i2 } + 1;
        let (f1, f2) = (self.frac_bits(), other.frac_bits());
        let width = int_bits + if f1 > f2 { f1 } else { f2 };
        if width < 1 || width > 64 || int_bits > MAX_INT_BITS as i32 {
            return None;
        }
        match Spec::try_new(
            width as u8,
            int_bits as i16,
            self.signed || other.signed,
            Quant::Trn,
            Overflow::Wrap,
        ) {
            Ok(spec) => Some(spec),
            Err(_) => None,
        }
    }

    /// The value as a double (see [`Fixed::to_f64`]).
    pub fn to_f64(self, value: Fixed) -> f64 {
        libm::ldexp(value.raw as f64, -self.frac_bits())
    }

    /// A C++ `double` assigned to this type (`ap_fixed`'s `ap_fixed_base(double)`): the exact
    /// value of `x`, quantized and then overflow-handled by this type's modes.
    pub fn from_f64(self, x: f64) -> Fixed {
        let bits = x.to_bits();
        if bits & !(1u64 << 63) == 0 {
            return Fixed::ZERO;
        }
        let exp_field = ((bits >> 52) & 0x7ff) as i32;
        // ap_fixed sets the hidden bit for every exponent, subnormals, infinities and NaNs
        // included, and takes the exponent field minus the bias as the exponent.
        let mantissa = ((bits & ((1u64 << 52) - 1)) | (1u64 << 52)) as i64;
        let raw = if bits >> 63 == 1 { -mantissa } else { mantissa };
        self.from_scaled(raw, 52 - (exp_field - 1023))
    }

    /// The value in `from`'s type converted into this type, as `ap_fixed`'s converting
    /// constructor does it: quantization, then overflow.
    pub fn cast(self, value: Fixed, from: Spec) -> Fixed {
        self.from_scaled(value.raw, from.frac_bits())
    }

    /// The exact value `raw * 2^-frac` converted into this type: quantized to a multiple of
    /// `2^-F` by [`Spec::quant`], then brought into range by [`Spec::overflow`].
    pub fn from_scaled(self, raw: i64, frac: i32) -> Fixed {
        let f = self.frac_bits();
        let q: Option<i128> = if frac > f {
            // Dropping bits. Past 100 only the sign and nonzero-ness of the dropped part
            // matter, which the clamp keeps (|raw| < 2^63).
            let shift = (frac - f).min(100) as u32;
            Some(self.quantize(raw as i128, shift))
        } else {
            let shift = (f - frac) as u32;
            if raw == 0 {
                Some(0)
            } else if shift >= 64 {
                None // |value| >= 2^64 ulps: out of every range, low 64 bits zero
            } else {
                Some((raw as i128) << shift)
            }
        };
        Fixed::from_raw(self.overflow_into(q, raw < 0))
    }

    fn quantize(self, raw: i128, shift: u32) -> i128 {
        let floor = raw >> shift;
        let rem = raw - (floor << shift); // 0 <= rem < 2^shift
        let half = 1i128 << (shift - 1);
        let qb = rem >= half; // the first dropped bit
        let rest = rem & (half - 1) != 0; // any dropped bit below it
        let negative = raw < 0;
        let up = match self.quant {
            Quant::Trn => false,
            Quant::TrnZero => negative && rem != 0,
            Quant::Rnd => qb,
            Quant::RndZero => qb && (negative || rest),
            Quant::RndMinInf => qb && rest,
            Quant::RndInf => qb && (!negative || rest),
            Quant::RndConv => qb && (floor & 1 == 1 || rest),
        };
        floor + up as i128
    }

    /// `q`: the quantized value in units of `2^-F` (`None`: at least `2^64` in magnitude,
    /// with sign `negative`).
    fn overflow_into(self, q: Option<i128>, negative: bool) -> i64 {
        let (min, max) = (self.min_raw() as i128, self.max_raw() as i128);
        let sym = self.overflow == Overflow::SatSym && self.signed && self.width > 1;
        match q {
            Some(q) if q >= min && q <= max => {
                if sym && q == min {
                    (min + 1) as i64
                } else {
                    q as i64
                }
            }
            _ => match self.overflow {
                Overflow::Wrap => match q {
                    Some(q) => self.wrap(q),
                    None => 0,
                },
                Overflow::SatZero => 0,
                Overflow::Sat | Overflow::SatSym => {
                    let below = match q {
                        Some(q) => q < min,
                        None => negative,
                    };
                    if !below {
                        max as i64
                    } else if sym {
                        (min + 1) as i64
                    } else {
                        min as i64
                    }
                }
            },
        }
    }

    /// The low `W` bits of `q`, sign-extended if signed.
    fn wrap(self, q: i128) -> i64 {
        let w = self.width as u32;
        let low = q & ((1i128 << w) - 1);
        if self.signed && (low >> (w - 1)) & 1 == 1 {
            (low - (1i128 << w)) as i64
        } else {
            low as i64
        }
    }

    /// Parse `ap_fixed<W, I>`, `ap_fixed<W, I, Q>`, `ap_fixed<W, I, Q, O>`,
    /// `ap_fixed<W, I, Q, O, 0>` or the same with `ap_ufixed` (the C++ spellings hls4ml
    /// writes), or hls4ml's `fixed<W,I,RND,SAT,0>` / `ufixed<...>`.
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let text = text.trim();
        let text = text.strip_prefix("ap_").unwrap_or(text);
        let (signed, rest) = if let Some(rest) = text.strip_prefix("ufixed<") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("fixed<") {
            (true, rest)
        } else {
            return Err(SpecError::Syntax);
        };
        let body = rest.strip_suffix('>').ok_or(SpecError::Syntax)?;
        let mut parts = body.split(',');
        let width: u8 = parts
            .next()
            .and_then(|p| p.trim().parse().ok())
            .ok_or(SpecError::Syntax)?;
        let int_bits: i16 = parts
            .next()
            .and_then(|p| p.trim().parse().ok())
            .ok_or(SpecError::Syntax)?;
        let quant = match parts.next() {
            Some(p) => Quant::from_name(p).ok_or(SpecError::Syntax)?,
            None => Quant::Trn,
        };
        let overflow = match parts.next() {
            Some(p) => Overflow::from_name(p).ok_or(SpecError::Syntax)?,
            None => Overflow::Wrap,
        };
        if let Some(n) = parts.next() {
            if n.trim() != "0" {
                return Err(SpecError::Syntax);
            }
        }
        if parts.next().is_some() {
            return Err(SpecError::Syntax);
        }
        Spec::try_new(width, int_bits, signed, quant, overflow)
    }
}

impl core::str::FromStr for Spec {
    type Err = SpecError;
    fn from_str(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text)
    }
}

impl fmt::Display for Spec {
    /// The C++ spelling: `ap_fixed<16,6>`, `ap_ufixed<12,4,AP_RND,AP_SAT>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.signed { "ap_fixed" } else { "ap_ufixed" };
        write!(f, "{kind}<{},{}", self.width, self.int_bits)?;
        if self.quant != Quant::Trn || self.overflow != Overflow::Wrap {
            write!(f, ",{}", self.quant.name())?;
        }
        if self.overflow != Overflow::Wrap {
            write!(f, ",{}", self.overflow.name())?;
        }
        f.write_str(">")
    }
}
