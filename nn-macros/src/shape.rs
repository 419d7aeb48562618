//! Tensor shapes, without the batch dimension.

use std::fmt;

/// A tensor shape without the batch dimension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// `[n]`
    D1(u64),
    /// `[c, l]`
    D2(u64, u64),
    /// `[c, h, w]`
    D3(u64, u64, u64),
}

impl Shape {
    /// Number of values.
    pub fn len(self) -> u64 {
        match self {
            Shape::D1(n) => n,
            Shape::D2(c, l) => c.saturating_mul(l),
            Shape::D3(c, h, w) => c.saturating_mul(h).saturating_mul(w),
        }
    }

    /// The dimensions, outermost first.
    pub fn dims(self) -> Vec<u64> {
        match self {
            Shape::D1(n) => vec![n],
            Shape::D2(c, l) => vec![c, l],
            Shape::D3(c, h, w) => vec![c, h, w],
        }
    }

    /// Channels: the first dimension of a `[c, l]` or `[c, h, w]` tensor (features for vectors).
    pub fn channels(self) -> u64 {
        match self {
            Shape::D1(n) | Shape::D2(n, _) | Shape::D3(n, _, _) => n,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d: Vec<String> = self.dims().iter().map(|d| d.to_string()).collect();
        write!(f, "[{}]", d.join(", "))
    }
}
