//! The fast paths (`fast.rs`) against the scalar reference (`ops`): random types and data on
//! every instruction set of the machine, exhaustive small cases, the shortcuts of the casts.

use crate::fast::{self, DensePath, FloorForm, Isa, PackedDense, SCALED, WIDE};
use crate::ops::{self, DensePrecision};
use crate::{Fixed, Overflow, Quant, Spec};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn quant(&mut self) -> Quant {
        Quant::ALL[self.below(7) as usize]
    }
    fn overflow(&mut self) -> Overflow {
        Overflow::ALL[self.below(4) as usize]
    }
    /// A raw value of `s`: often 0, often an extreme, else uniform.
    fn raw(&mut self, s: Spec) -> i64 {
        match self.below(8) {
            0 | 1 => 0,
            2 => s.min_raw(),
            3 => s.max_raw(),
            _ => {
                let span = (s.max_raw().wrapping_sub(s.min_raw()) as u64).wrapping_add(1);
                if span == 0 {
                    self.next() as i64
                } else {
                    s.min_raw().wrapping_add((self.next() % span) as i64)
                }
            }
        }
    }
    /// A type of at most 20 or at most 64 bits.
    fn wide_spec(&mut self) -> Spec {
        let w = if self.below(2) == 0 { 20 } else { 64 };
        self.spec(w)
    }
    /// A type of at most `max_w` bits (signed or not), integer bits around the width.
    fn spec(&mut self, max_w: u8) -> Spec {
        let signed = self.below(4) != 0;
        let max_w = if signed { max_w } else { max_w.min(63) };
        let w = self.range(1, max_w as i64) as u8;
        let i = self.range(-4, w as i64 + 4) as i16;
        Spec::new(w, i, signed, self.quant(), self.overflow())
    }
}

const ISAS: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

/// Floor layers run with an input scale ([`FloorForm`]) of 0, 1, and 2 or more (by every
/// test: only lower bounds are checked).
static FORMS: [std::sync::atomic::AtomicUsize; 3] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 3];

fn packed_run<const N_IN: usize, const PAD: usize, const NW: usize>(
    rng: &mut Rng,
    x_spec: Spec,
    p: &DensePrecision,
    n_out: usize,
    samples: usize,
) -> Option<DensePath> {
    // Three quarters of the Floor layers with weights small enough for an input scale of 0,
    // 1 or 2 (`|w| < 2^(s-1)`, `2^s`, `2^(s+1)`), where the types allow it.
    let bound = match DensePath::of(x_spec, p) {
        DensePath::Floor { shift } => match rng.below(4) {
            k @ 0..=2 => Some(1i64 << (shift - 1 + k as u32)),
            _ => None,
        },
        _ => None,
    };
    let w: Vec<i64> = (0..N_IN * n_out)
        .map(|_| match bound {
            Some(h) => rng.raw(p.weight).clamp(-h, h - 1),
            None => rng.raw(p.weight),
        })
        .collect();
    let b: Vec<i64> = (0..n_out).map(|_| rng.raw(p.bias)).collect();
    let packed = PackedDense::<N_IN, PAD, NW>::new(&w, &b, x_spec, p)?;
    assert_eq!(packed.path(), DensePath::of(x_spec, p));
    if let DensePath::Floor { shift } = packed.path() {
        assert_eq!(packed.form(), FloorForm::of(&w, shift));
        let k = packed.form().up.min(2) as usize;
        FORMS[k].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    for o in 0..n_out {
        for i in 0..N_IN {
            assert_eq!(packed.weight(o, i), w[o * N_IN + i]);
        }
    }
    for k in 0..samples {
        // One sample in three without negative inputs (as after a ReLU), one with small
        // inputs (within `[-2^13, 2^13)`: one multiplication for input scales up to 2).
        let x: Vec<i64> = (0..N_IN)
            .map(|_| rng.raw(x_spec))
            .map(|v| match k % 3 {
                1 => v.max(0),
                2 => v / 8,
                _ => v,
            })
            .collect();
        let mut want = vec![0i64; n_out];
        ops::dense(&x, x_spec, &w, &b, p, &mut want);
        // The values held in i16 where they fit (as the generated twin holds them).
        let x16: Option<Vec<i16>> =
            fast::fits_i16(x_spec).then(|| x.iter().map(|&v| v as i16).collect());
        let y16 = fast::fits_i16(p.result);
        for isa in ISAS.into_iter().filter(|i| i.available()) {
            let mut got = vec![0i64; n_out];
            packed.forward_with(isa, &x, x_spec, p, &mut got);
            assert_eq!(
                got,
                want,
                "{isa:?} {:?}: x {x_spec}, {p:?}, x = {x:?}",
                packed.path()
            );
            if let Some(x16) = &x16 {
                let mut got = vec![0i64; n_out];
                packed.forward_with(isa, x16, x_spec, p, &mut got);
                assert_eq!(got, want, "{isa:?} i16 -> i64: x = {x:?}");
                if y16 {
                    let mut got = vec![0i16; n_out];
                    packed.forward_with(isa, x16, x_spec, p, &mut got);
                    let got: Vec<i64> = got.iter().map(|&v| v as i64).collect();
                    assert_eq!(got, want, "{isa:?} i16 -> i16: x = {x:?}");
                }
            }
            if y16 {
                let mut got = vec![0i16; n_out];
                packed.forward_with(isa, &x, x_spec, p, &mut got);
                let got: Vec<i64> = got.iter().map(|&v| v as i64).collect();
                assert_eq!(got, want, "{isa:?} i64 -> i16: x = {x:?}");
            }
        }
    }
    Some(packed.path())
}

/// Runs a random layer of `n_in` inputs (one of a few sizes) and `n_out` outputs.
fn random_layer(
    rng: &mut Rng,
    x_spec: Spec,
    p: &DensePrecision,
    samples: usize,
) -> Option<DensePath> {
    macro_rules! sizes {
        ($($n_in:literal, $n_out:literal;)*) => {{
            let choices: &[(usize, usize)] = &[$(($n_in, $n_out)),*];
            let k = rng.below(choices.len() as u64) as usize;
            let mut i = 0;
            $(
                if i == k {
                    return packed_run::<$n_in, { fast::padded_outputs($n_out) }, { fast::packed_len($n_in, $n_out) }>(
                        rng, x_spec, p, $n_out, samples,
                    );
                }
                i += 1;
            )*
            let _ = i;
            unreachable!()
        }};
    }
    sizes! {
        1, 1; 2, 3; 3, 31; 5, 33; 7, 64; 16, 64; 64, 32; 32, 5; 33, 97; 17, 150; 40, 200;
    }
}

/// Random types leaning to the fast paths: 16-bit data, wrap-around accumulators whose
/// fractional bits are near the product's.
fn random_precision(rng: &mut Rng) -> (Spec, DensePrecision) {
    let x = rng.spec(16);
    let weight = rng.spec(16);
    let bw = if rng.below(2) == 0 { 16 } else { 40 };
    let bias = rng.spec(bw);
    let pf = x.frac_bits() + weight.frac_bits();
    let acc_w = if rng.below(2) == 0 {
        rng.range(1, 16)
    } else {
        rng.range(1, 40)
    } as u8;
    let acc_f = pf - rng.range(-6, 17) as i32;
    let signed = rng.below(5) != 0;
    let acc_w = if signed { acc_w } else { acc_w.min(40) };
    let acc_i = (acc_w as i32 - acc_f).clamp(-512, 512) as i16;
    let quant = if rng.below(3) == 0 {
        rng.quant()
    } else {
        Quant::Trn
    };
    let overflow = if rng.below(4) == 0 {
        rng.overflow()
    } else {
        Overflow::Wrap
    };
    let accum = Spec::new(acc_w, acc_i, signed, quant, overflow);
    let result = if rng.below(3) == 0 {
        accum
    } else {
        rng.spec(24)
    };
    (
        x,
        DensePrecision {
            weight,
            bias,
            accum,
            result,
        },
    )
}

#[test]
fn dense_fast_paths_match_the_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut floor, mut exact, mut scalar) = (0, 0, 0);
    for _ in 0..3000 {
        let (x, p) = random_precision(&mut rng);
        match random_layer(&mut rng, x, &p, 6) {
            Some(DensePath::Floor { .. }) => floor += 1,
            Some(DensePath::Exact { .. }) => exact += 1,
            _ => scalar += 1,
        }
    }
    let forms = FORMS
        .each_ref()
        .map(|f| f.load(std::sync::atomic::Ordering::Relaxed));
    assert!(
        floor > 500 && exact > 500 && scalar > 200 && forms.iter().all(|&f| f > 100),
        "{floor} {exact} {scalar} {forms:?}"
    );
}

#[test]
fn dense_hls4ml_defaults() {
    // ap_fixed<16,6> everywhere (Floor, s = 10), and with ap_fixed<32,12> / <24,10> / <16,2>
    // accumulators, and the unsigned ReLU outputs hls4ml's users pick.
    let s = Spec::ap_fixed(16, 6);
    let mut rng = Rng(7);
    let cases = [
        (
            s,
            DensePrecision::uniform(s),
            DensePath::Floor { shift: 10 },
        ),
        (
            s,
            DensePrecision {
                accum: Spec::ap_fixed(32, 12),
                ..DensePrecision::uniform(s)
            },
            DensePath::Exact { shift: 0 },
        ),
        (
            Spec::ap_ufixed(15, 5),
            DensePrecision {
                accum: Spec::ap_fixed(16, 2),
                ..DensePrecision::uniform(s)
            },
            DensePath::Floor { shift: 6 },
        ),
        (
            Spec::ap_fixed(8, 3),
            DensePrecision {
                weight: Spec::ap_fixed(8, 1),
                accum: Spec::ap_fixed(24, 12),
                ..DensePrecision::uniform(s)
            },
            DensePath::Exact { shift: 0 },
        ),
    ];
    for (x, p, path) in cases {
        assert_eq!(DensePath::of(x, &p), path);
        for _ in 0..20 {
            assert_eq!(random_layer(&mut rng, x, &p, 20), Some(path));
        }
    }
    // Saturating or rounding accumulators keep the reference.
    let sat = DensePrecision {
        accum: s.with_overflow(Overflow::Sat),
        ..DensePrecision::uniform(s)
    };
    assert_eq!(DensePath::of(s, &sat), DensePath::Scalar);
    let rnd = DensePrecision {
        accum: s.with_quant(Quant::Rnd),
        ..DensePrecision::uniform(s)
    };
    assert_eq!(DensePath::of(s, &rnd), DensePath::Scalar);
}

/// Every pair of inputs and every pair of weights of small types, for every shift of a
/// truncating accumulator and a few exact ones.
#[test]
fn dense_exhaustive_small() {
    let xs = [Spec::ap_fixed(4, 2), Spec::ap_ufixed(3, 1)];
    let ws = [Spec::ap_fixed(4, 1), Spec::ap_fixed(3, 3)];
    for x_spec in xs {
        for weight in ws {
            let pf = x_spec.frac_bits() + weight.frac_bits();
            for (acc_w, d) in [(5u8, 1i32), (4, 2), (6, 3), (3, 4), (8, 0), (7, -2)] {
                for signed in [true, false] {
                    let accum = Spec::new(
                        acc_w,
                        (acc_w as i32 - (pf - d)) as i16,
                        signed,
                        Quant::Trn,
                        Overflow::Wrap,
                    );
                    let p = DensePrecision {
                        weight,
                        bias: weight,
                        accum,
                        result: Spec::ap_fixed(6, 2).with_quant(Quant::Rnd),
                    };
                    assert_ne!(DensePath::of(x_spec, &p), DensePath::Scalar);
                    exhaust(x_spec, &p);
                }
            }
        }
    }
}

fn values(s: Spec) -> impl Iterator<Item = i64> + Clone {
    s.min_raw()..=s.max_raw()
}

fn exhaust(x_spec: Spec, p: &DensePrecision) {
    const N_IN: usize = 2;
    const PAD: usize = fast::padded_outputs(1);
    const NW: usize = fast::packed_len(2, 1);
    for w0 in values(p.weight) {
        for w1 in values(p.weight) {
            let w = [w0, w1];
            let b = [p.bias.max_raw() / 3];
            let packed = PackedDense::<N_IN, PAD, NW>::new(&w, &b, x_spec, p).unwrap();
            for x0 in values(x_spec) {
                for x1 in values(x_spec) {
                    let x = [x0, x1];
                    let mut want = [0];
                    ops::dense(&x, x_spec, &w, &b, p, &mut want);
                    for isa in ISAS.into_iter().filter(|i| i.available()) {
                        let mut got = [0];
                        packed.forward_with(isa, &x, x_spec, p, &mut got);
                        assert_eq!(got, want, "{isa:?} {x_spec} {p:?} w {w:?} x {x:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn dense_out_of_range_inputs_take_the_reference() {
    let s = Spec::ap_fixed(16, 6);
    let p = DensePrecision::uniform(s);
    let w = [300, -200, 1 << 14, -(1 << 15)];
    let b = [5, -7];
    let packed = PackedDense::<2, 32, 64>::new(&w, &b, s, &p).unwrap();
    for x in [[1 << 16, 3], [-(1 << 20), 1 << 15], [i32::MAX as i64, 0]] {
        let mut want = [0; 2];
        ops::dense(&x, s, &w, &b, &p, &mut want);
        let mut got = [0; 2];
        packed.forward(&x, s, &p, &mut got);
        assert_eq!(got, want);
    }
}

#[test]
fn casts_and_relu_match() {
    let mut rng = Rng(42);
    for _ in 0..200_000 {
        let from = rng.wide_spec();
        let to = if rng.below(4) == 0 {
            Spec::new(
                from.width(),
                from.int_bits(),
                from.is_signed(),
                rng.quant(),
                rng.overflow(),
            )
        } else {
            rng.wide_spec()
        };
        let raw = rng.raw(from);
        assert_eq!(
            fast::cast(to, raw, from),
            to.cast(Fixed::from_raw(raw), from).raw,
            "{raw} {from} -> {to}"
        );
        let x = [raw, -raw.max(-i64::MAX), 0];
        let (mut a, mut b) = ([0; 3], [0; 3]);
        fast::relu(&x, from, to, &mut a);
        ops::relu(&x, from, to, &mut b);
        assert_eq!(a, b);
    }
}

#[test]
fn from_f64_matches() {
    let mut rng = Rng(99);
    let specials = [
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        -5e-324,
        1e12,
        -1.0995e12,
        31.999,
        -32.0,
        -32.0000001,
        0.5,
        -0.5,
    ];
    for _ in 0..200_000 {
        let spec = rng.wide_spec();
        let x = match rng.below(4) {
            0 => specials[rng.below(specials.len() as u64) as usize],
            1 => f64::from_bits(rng.next()),
            2 => (rng.next() as i64 as f64) * libm::ldexp(1.0, rng.range(-80, 0) as i32),
            _ => {
                (rng.range(-1 << 20, 1 << 20) as f64) * libm::ldexp(1.0, -(rng.range(0, 20) as i32))
            }
        };
        assert_eq!(fast::from_f64(spec, x), spec.from_f64(x), "{x:e} -> {spec}");
        let raw = spec.from_f64(x).raw;
        for r in [raw, rng.next() as i64, rng.range(-1 << 20, 1 << 20)] {
            assert_eq!(
                fast::to_f64(spec, r).to_bits(),
                spec.to_f64(Fixed::from_raw(r)).to_bits()
            );
            let r24 = r >> rng.below(48);
            assert_eq!(
                fast::to_f32(spec, r24).to_bits(),
                (spec.to_f64(Fixed::from_raw(r24)) as f32).to_bits(),
                "{r24} of {spec} to f32"
            );
        }
        let x32 = x as f32 as f64;
        assert_eq!(
            fast::from_f64(spec, x32),
            spec.from_f64(x32),
            "{x32:e} -> {spec}"
        );
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn isa_detection_agrees_with_std() {
    let avx512 = std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("popcnt")
        && std::is_x86_feature_detected!("bmi1");
    let avx2 = std::is_x86_feature_detected!("avx2");
    let want = if avx512 && avx2 {
        Isa::Avx512
    } else if avx2 {
        Isa::Avx2
    } else {
        Isa::Portable
    };
    assert_eq!(Isa::detect(), want);
}

/// The `vpcompressd` compaction of the Floor path's inputs (`fast::x86::compact` and
/// `compact16`) against the scalar loop: lengths around the blocks of 8 and 16, mostly zeros
/// or none, both forms, every shift (on a CPU with AVX-512; the scalar loop runs elsewhere).
#[test]
#[cfg(target_arch = "x86_64")]
fn vector_compaction_matches_the_scalar_one() {
    if Isa::detect() != Isa::Avx512 {
        return;
    }
    let mut rng = Rng(7);
    let mut checked = 0;
    for n in [1usize, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 70] {
        for zeros in [0u64, 1, 2, 3] {
            for s in 0..=15u32 {
                let x: Vec<i64> = (0..n)
                    .map(|_| {
                        if rng.below(4) < zeros {
                            0
                        } else {
                            rng.range(-32768, 32767)
                        }
                    })
                    .collect();
                for form in [SCALED, WIDE] {
                    let x16: Vec<i16> = x.iter().map(|&v| v as i16).collect();
                    let want = compact_any(form, &x, s);
                    // SAFETY: the CPU has the features (checked above).
                    for got in [unsafe { x86_any(form, &x, s) }, unsafe {
                        x86_any16(form, &x16, s)
                    }] {
                        assert_eq!(got.0, want.0, "n {n} s {s} form {form}");
                        let (g, w) = (&got.1, &want.1);
                        let chunks = n.div_ceil(fast::CHUNK);
                        assert_eq!(
                            g.counts[..chunks],
                            w.counts[..chunks],
                            "n {n} s {s} form {form}"
                        );
                        for (j, &c) in w.counts[..chunks].iter().enumerate() {
                            let r = j * fast::CHUNK..j * fast::CHUNK + c as usize;
                            if form == SCALED {
                                // The vector scaled form leaves the values in place and marks
                                // the nonzero ones in `masks`: the same (row, value) pairs.
                                let m = g.masks[j];
                                let got: Vec<(u32, u32)> = (0..fast::CHUNK)
                                    .filter(|b| m >> b & 1 == 1)
                                    .map(|b| j * fast::CHUNK + b)
                                    .map(|i| (i as u32 * 64, g.vals.0[i]))
                                    .collect();
                                let want: Vec<(u32, u32)> =
                                    r.clone().map(|k| (w.rows.0[k], w.vals.0[k])).collect();
                                assert_eq!(got, want, "n {n} s {s} scaled");
                                checked += c as usize;
                                continue;
                            }
                            // The values, the low parts (written by the wide form only), the rows.
                            assert_eq!(
                                g.vals.0[r.clone()],
                                w.vals.0[r.clone()],
                                "n {n} s {s} form {form}"
                            );
                            if form == WIDE {
                                assert_eq!(g.lo.0[r.clone()], w.lo.0[r.clone()], "n {n} s {s}");
                            }
                            assert_eq!(
                                g.rows.0[r.clone()],
                                w.rows.0[r.clone()],
                                "n {n} s {s} form {form}"
                            );
                            checked += c as usize;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 15_000, "{checked}");
}

/// The largest layer the compaction test runs.
const MAX_IN: usize = 70;

/// `fast::compact` with the form as a value, rows 64 apart.
fn compact_any(form: u8, x: &[i64], s: u32) -> (fast::Compacted, fast::Compact<MAX_IN>) {
    let mut out = fast::Compact::new();
    let c = match form {
        SCALED => fast::compact::<i64, SCALED, MAX_IN>(x, s, 64, &mut out),
        _ => fast::compact::<i64, WIDE, MAX_IN>(x, s, 64, &mut out),
    };
    (c, out)
}

/// `fast::x86::compact` with the form as a value, rows 64 apart.
///
/// # Safety
/// As `fast::x86::compact`'s.
#[cfg(target_arch = "x86_64")]
unsafe fn x86_any(form: u8, x: &[i64], s: u32) -> (fast::Compacted, fast::Compact<MAX_IN>) {
    let mut out = fast::Compact::new();
    // SAFETY: as this function's.
    let c = unsafe {
        match form {
            SCALED => fast::x86::compact::<SCALED, 64, MAX_IN>(x, s, &mut out),
            _ => fast::x86::compact::<WIDE, 64, MAX_IN>(x, s, &mut out),
        }
    };
    (c, out)
}

/// `fast::x86::compact16` with the form as a value, rows 64 apart.
///
/// # Safety
/// As `fast::x86::compact16`'s.
#[cfg(target_arch = "x86_64")]
unsafe fn x86_any16(form: u8, x: &[i16], s: u32) -> (fast::Compacted, fast::Compact<MAX_IN>) {
    let mut out = fast::Compact::new();
    // SAFETY: as this function's.
    let c = unsafe {
        match form {
            SCALED => fast::x86::compact16::<SCALED, 64, MAX_IN>(x, s, &mut out),
            _ => fast::x86::compact16::<WIDE, 64, MAX_IN>(x, s, &mut out),
        }
    };
    (c, out)
}

/// The adder tree without recursion against its definition: every length to 70, saturating
/// (order matters) and wrapping sums.
#[test]
fn tree_sum_matches_its_definition() {
    let mut rng = Rng(11);
    for accum in [
        Spec::ap_fixed(8, 4).with_overflow(Overflow::Sat),
        Spec::ap_fixed(18, 8).with_overflow(Overflow::Sat),
        Spec::ap_fixed(6, 6),
    ] {
        for n in 0..=70 {
            for _ in 0..20 {
                let x: Vec<i64> = (0..n).map(|_| rng.raw(accum)).collect();
                assert_eq!(
                    fast::tree_sum(&x, accum),
                    fast::tree_sum_recursive(&x, accum),
                    "{accum} {x:?}"
                );
            }
        }
    }
}

/// The f32 input conversion (`fast::from_f32_slice`, four values at a time with AVX2) against
/// the type's own `from_f64`: lengths around the blocks of 4, every kind of type, values in
/// and out of range, specials anywhere in the slice.
#[test]
fn from_f32_slice_matches() {
    let mut rng = Rng(5);
    let specials = [
        0.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e30,
        -3e9,
        31.999,
        -32.0,
    ];
    let mut vector = 0;
    for _ in 0..20_000 {
        let spec = if rng.below(2) == 0 {
            rng.spec(16)
        } else {
            rng.wide_spec()
        };
        let n = rng.below(20) as usize;
        let big = rng.below(8) == 0;
        let x: Vec<f32> = (0..n)
            .map(|_| match rng.below(10) {
                0 if big => specials[rng.below(specials.len() as u64) as usize],
                1 => (rng.range(-1 << 24, 1 << 24) as f32) * 2f32.powi(rng.range(-30, 8) as i32),
                _ => (rng.range(-1 << 20, 1 << 20) as f32) / (1 << rng.range(0, 20)) as f32,
            })
            .collect();
        let want: Vec<i64> = x.iter().map(|&v| spec.from_f64(v as f64).raw).collect();
        let mut got = vec![0i64; n];
        fast::from_f32_slice(spec, &x, &mut got);
        assert_eq!(got, want, "{spec}: {x:?}");
        vector += (n >= 4 && (0..=30).contains(&spec.frac_bits())) as usize;
    }
    assert!(vector > 3_000, "{vector}");
}
