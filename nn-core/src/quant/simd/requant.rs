//! What a kernel needs to scale its accumulators back to int8: [`Requant`], the fixed-point
//! multipliers, shifts and output clamp of a layer, and [`Prep`], the values the vector kernels
//! derive from the shifts, kept by the twins so that no kernel derives them per call.

use super::super::fixed::Rounding;
use super::super::ops::Output;
use super::super::Requantize;

/// The requantization of a layer's outputs: per output (dense) or per channel (convolution)
/// fixed-point multipliers and shifts, the real multipliers for [`Rounding::Double`], and the
/// output's zero point and clamp.
#[derive(Clone, Copy)]
pub struct Requant<'a> {
    /// Fixed-point multipliers.
    pub multiplier: &'a [i32],
    /// Their shifts.
    pub shift: &'a [i32],
    /// The full requantizations (for [`Rounding::Double`]).
    pub exact: &'a [Requantize],
    /// How accumulators are scaled back.
    pub rounding: Rounding,
    /// Zero point and clamp of the output.
    pub out: Output,
    /// The shifts prepared for the vector requantization ([`Prep`]), one per output/channel,
    /// or `None` (the kernels derive them from `shift` on every call).
    pub prep: Option<Prep<'a>>,
}

/// The shifts of a requantization prepared for the vector kernels, per output/channel:
/// left shift (`max(shift, 0)`), right shift (`max(-shift, 0)`), its mask `2^right - 1` and
/// half of it (rounded down). Derived once ([`Prep::of`]) instead of on every call.
#[derive(Clone, Copy)]
pub struct Prep<'a> {
    /// Left shifts.
    pub left: &'a [i32],
    /// Right shifts.
    pub right: &'a [i32],
    /// `2^right - 1`.
    pub mask: &'a [i32],
    /// `(2^right - 1) / 2`.
    pub half: &'a [i32],
    /// The constants of the requantization with one rounding ([`Prep::once`]), one per
    /// output in the order of [`Prep::once_index`], where the layer's output is clamped at or
    /// above its zero point (a folded ReLU) and every output has one (every shift a right
    /// shift of 1 to [`Prep::ONCE_MAX_RIGHT`]); else empty. The one-sample AVX-512 dense
    /// kernel then requantizes with one 64-bit addition and one shift instead of TFLite's two
    /// roundings: the same bytes.
    pub once: &'a [i64],
}

impl Prep<'_> {
    /// The largest right shift [`Prep::once`] takes (the constants then stay below `2^62`).
    pub const ONCE_MAX_RIGHT: i32 = 23;

    /// `(left, right, mask, half)` of shift `shift`.
    pub const fn of(shift: i32) -> (i32, i32, i32, i32) {
        let left = if shift > 0 { shift } else { 0 };
        let right = if shift < 0 { -shift } else { 0 };
        let mask = ((1i64 << right) - 1) as i32;
        (left, right, mask, mask >> 1)
    }

    /// Where the constant of output `c` of `n` goes in [`Prep::once`]: in each group of 16
    /// outputs (the last one `m <= 16`), those of the even outputs first, then the odd ones
    /// (the 64-bit lanes of a vector of 16 products: `ceil(m / 2)` even, `m / 2` odd).
    pub const fn once_index(n: usize, c: usize) -> usize {
        let (g, l) = (c / 16 * 16, c % 16);
        let m = if n - g < 16 { n - g } else { 16 };
        g + if l % 2 == 0 {
            l / 2
        } else {
            m.div_ceil(2) + l / 2
        }
    }

    /// The single rounding's constant `2^30 + 2^(30 + right) + zero_point 2^(31 + right)` of an
    /// output with shift `shift` and zero point `zero_point`, or `None` unless `shift` is a right
    /// shift of 1 to [`Prep::ONCE_MAX_RIGHT`] (see `vnni/once.rs` for why the requantized value
    /// is then the high half of `x m` plus it, shifted right by `right - 1`).
    pub const fn once(shift: i32, zero_point: i32) -> Option<i64> {
        if shift > -1 || shift < -Self::ONCE_MAX_RIGHT {
            return None;
        }
        let right = -shift;
        Some((1i64 << 30) + (1i64 << (30 + right)) + ((zero_point as i64) << (31 + right)))
    }
}

impl Requant<'_> {
    /// The scalar requantization of accumulator `acc` of output/channel `o`.
    #[inline]
    pub(super) fn scalar(&self, o: usize, acc: i32) -> i8 {
        self.exact[o].apply_with(self.rounding, acc, self.out.zero_point, self.out.range)
    }
}
