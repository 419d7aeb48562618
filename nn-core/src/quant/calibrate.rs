//! From real values to the int8 scheme: a tensor's quantization from the range it takes on a
//! calibration set ([`QuantParams::from_range`], with [`Calibration::MinMax`] or the more
//! robust [`Calibration::Percentile`]), weights per output channel
//! ([`quantize_per_channel`]) and biases ([`quantize_bias`]), as TensorFlow Lite's converter
//! does for post-training integer quantization.

use alloc::vec::Vec;

use super::QuantParams;

impl QuantParams {
    /// The int8 quantization of values in `[min, max]`: the range is widened to contain 0
    /// (zero must be exact: padding and ReLU produce it), `scale = (max - min) / 255` and
    /// `zero_point = round(-128 - min / scale)` clamped to `[-128, 127]`. TFLite's converter
    /// and PyTorch's `MinMaxObserver(dtype=torch.qint8, qscheme=per_tensor_affine)`. A range of
    /// zero width gives scale 1 and zero point 0. `None` for a bound that is not finite.
    pub fn from_range(min: f32, max: f32) -> Option<Self> {
        if !min.is_finite() || !max.is_finite() {
            return None;
        }
        let (min, max) = (min.min(0.0), max.max(0.0));
        if max - min <= 0.0 {
            return Some(QuantParams {
                scale: 1.0,
                zero_point: 0,
            });
        }
        let scale = (max as f64 - min as f64) / 255.0;
        let zero = libm::round(-128.0 - min as f64 / scale).clamp(-128.0, 127.0);
        Some(QuantParams {
            scale: scale as f32,
            zero_point: zero as i32,
        })
    }
}

/// How a tensor's range is chosen from the values it takes on the calibration set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// The smallest and largest value seen: nothing saturates on the calibration set, but one
    /// outlier stretches the scale for every other value. TFLite's converter default.
    MinMax,
    /// The `p`-th and `(100 - p)`-th percentiles (e.g. `Percentile(99.99)`): the few most
    /// extreme values saturate, the rest get a finer scale. TensorRT's and PyTorch's
    /// `HistogramObserver`-style robust choice.
    Percentile(f32),
}

/// The values one tensor takes during calibration.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    min: f32,
    max: f32,
    seen: usize,
    /// Every value, kept only for [`Calibration::Percentile`].
    values: Vec<f32>,
    keep: bool,
}

impl Observer {
    /// An observer for `calibration` (percentiles keep every value seen).
    pub fn new(calibration: Calibration) -> Self {
        Observer {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            seen: 0,
            values: Vec::new(),
            keep: matches!(calibration, Calibration::Percentile(_)),
        }
    }

    /// Records values (NaN values are skipped: they have no place in a range).
    pub fn observe(&mut self, values: &[f32]) {
        for &v in values.iter().filter(|v| !v.is_nan()) {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.seen += 1;
            if self.keep {
                self.values.push(v);
            }
        }
    }

    /// How many values were recorded.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The range `calibration` chooses, or `None` before any value (or for a percentile
    /// outside `(50, 100]`).
    pub fn range(&mut self, calibration: Calibration) -> Option<(f32, f32)> {
        if self.seen == 0 {
            return None;
        }
        match calibration {
            Calibration::MinMax => Some((self.min, self.max)),
            Calibration::Percentile(p) => {
                if !(p > 50.0 && p <= 100.0) || self.values.is_empty() {
                    return None;
                }
                self.values.sort_by(f32::total_cmp);
                let n = self.values.len();
                let at = |q: f64| self.values[libm::round(q * (n - 1) as f64) as usize];
                Some((at(1.0 - p as f64 / 100.0), at(p as f64 / 100.0)))
            }
        }
    }

    /// The tensor's quantization ([`QuantParams::from_range`] of [`Observer::range`]).
    pub fn params(&mut self, calibration: Calibration) -> Option<QuantParams> {
        let (min, max) = self.range(calibration)?;
        QuantParams::from_range(min, max)
    }
}

/// Symmetric per-channel int8 quantization of weights laid out `[channel][rest]` (PyTorch's
/// layout: one output channel's weights contiguous): `scale_c = max |w_c| / 127` and
/// `q = round(w / scale_c)` in `[-127, 127]` (half away from zero), zero point 0. TFLite's
/// per-channel weight scheme. A channel of zeros gets scale 1.
pub fn quantize_per_channel(w: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
    let per = w.len() / channels.max(1);
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(channels);
    for row in w.chunks(per.max(1)).take(channels) {
        let m = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let s = if m > 0.0 && m.is_finite() {
            m / 127.0
        } else {
            1.0
        };
        scales.push(s);
        q.extend(
            row.iter()
                .map(|&v| libm::roundf(v / s).clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// The int32 bias of a channel: `round(b / (input_scale * weight_scale))`, saturated to the
/// int32 range (TFLite's bias scheme).
pub fn quantize_bias(b: f32, input_scale: f32, weight_scale: f32) -> i32 {
    let v = libm::round(b as f64 / (input_scale as f64 * weight_scale as f64));
    v.clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_zero_exactly() {
        let q = QuantParams::from_range(-1.0, 1.0).unwrap();
        assert_eq!(q.zero_point, -1); // round(-128 + 127.5) = round(-0.5) = -1
        assert!((q.scale - 2.0 / 255.0).abs() < 1e-9);
        assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
        // A range that does not reach 0 is widened to it.
        let q = QuantParams::from_range(0.5, 2.0).unwrap();
        assert_eq!((q.zero_point, q.quantize(0.0)), (-128, -128));
        assert_eq!(q.quantize(2.0), 127);
        let q = QuantParams::from_range(-3.0, -1.0).unwrap();
        assert_eq!((q.zero_point, q.quantize(0.0)), (127, 127));
        assert_eq!(QuantParams::from_range(0.0, 0.0).unwrap().scale, 1.0);
        assert!(QuantParams::from_range(f32::NAN, 1.0).is_none());
        // Every value of the range comes back within half a step.
        let q = QuantParams::from_range(-0.7, 3.1).unwrap();
        for i in 0..=100 {
            let r = -0.7 + 3.8 * i as f32 / 100.0;
            assert!(
                (q.dequantize(q.quantize(r)) - r).abs() <= q.scale * 0.5 + 1e-6,
                "{r}"
            );
        }
    }

    #[test]
    fn a_percentile_ignores_the_outlier_that_min_max_keeps() {
        let mut values: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.37).sin()).collect();
        values.push(1000.0);
        let mut mm = Observer::new(Calibration::MinMax);
        let mut pc = Observer::new(Calibration::Percentile(99.9));
        mm.observe(&values);
        pc.observe(&values);
        assert_eq!(mm.range(Calibration::MinMax).unwrap().1, 1000.0);
        let (lo, hi) = pc.range(Calibration::Percentile(99.9)).unwrap();
        assert!(hi < 1.0 && hi > 0.99 && lo < -0.99, "{lo} {hi}");
        assert!(pc.params(Calibration::Percentile(99.9)).unwrap().scale < 0.01);
        assert!(Observer::new(Calibration::MinMax)
            .range(Calibration::MinMax)
            .is_none());
        assert!(pc.range(Calibration::Percentile(30.0)).is_none());
    }

    #[test]
    fn weights_use_the_whole_symmetric_range_per_channel() {
        let w = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0, 3.0, 1.5, -0.03];
        let (q, s) = quantize_per_channel(&w, 3);
        assert_eq!(&q[..3], &[64, -127, 32]); // 63.5 rounds away from zero
        assert_eq!((&q[3..6], s[1]), (&[0i8, 0, 0][..], 1.0));
        assert_eq!(&q[6..], &[127, 64, -1]);
        assert_eq!(quantize_bias(0.3, 0.1, 0.01), 300);
        assert_eq!(quantize_bias(1e12, 1e-3, 1e-3), i32::MAX);
    }
}
