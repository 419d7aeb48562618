//! Bit-for-bit checks against `ap_fixed` (the C++ oracle's fixture) and exhaustive checks of
//! small types against a plain reference written with exact rationals.

use super::*;

fn all_modes() -> impl Iterator<Item = (Quant, Overflow)> {
    Quant::ALL
        .into_iter()
        .flat_map(|q| Overflow::ALL.into_iter().map(move |o| (q, o)))
}

#[test]
fn spec_basics() {
    let s = Spec::ap_fixed(16, 6);
    assert_eq!(
        (s.min_raw(), s.max_raw(), s.frac_bits()),
        (-32768, 32767, 10)
    );
    assert_eq!(s.ulp(), 1.0 / 1024.0);
    let u = Spec::ap_ufixed(12, 4);
    assert_eq!((u.min_raw(), u.max_raw()), (0, 4095));
    assert_eq!(Spec::ap_fixed(64, 0).min_raw(), i64::MIN);
    assert_eq!(Spec::ap_ufixed(63, 0).max_raw(), i64::MAX);
    assert_eq!(
        Spec::try_new(64, 0, false, Quant::Trn, Overflow::Wrap),
        Err(SpecError::Width)
    );
    assert_eq!(
        Spec::try_new(0, 0, true, Quant::Trn, Overflow::Wrap),
        Err(SpecError::Width)
    );
    assert_eq!(
        Spec::try_new(8, 600, true, Quant::Trn, Overflow::Wrap),
        Err(SpecError::IntBits)
    );
    // ap_fixed<32,10> * ap_fixed<32,10> is ap_fixed<64,20>; sums grow by one bit.
    let p = Spec::ap_fixed(32, 10)
        .mul_spec(Spec::ap_fixed(32, 10))
        .unwrap();
    assert_eq!((p.width(), p.int_bits(), p.is_signed()), (64, 20, true));
    assert_eq!(
        Spec::ap_ufixed(32, 1).mul_spec(Spec::ap_ufixed(32, 1)),
        None
    );
    let a = Spec::ap_fixed(16, 6)
        .add_spec(Spec::ap_ufixed(12, 4))
        .unwrap();
    assert_eq!((a.width(), a.int_bits(), a.is_signed()), (17, 7, true));
}

#[test]
fn parse_and_display() {
    let cases = [
        ("ap_fixed<16,6>", Spec::ap_fixed(16, 6)),
        (
            "ap_fixed<18,8,AP_RND,AP_SAT,0>",
            Spec::ap_fixed(18, 8)
                .with_quant(Quant::Rnd)
                .with_overflow(Overflow::Sat),
        ),
        ("ap_ufixed<15, 5>", Spec::ap_ufixed(15, 5)),
        (
            "fixed<14,5,RND_ZERO,SAT_SYM,0>",
            Spec::ap_fixed(14, 5)
                .with_quant(Quant::RndZero)
                .with_overflow(Overflow::SatSym),
        ),
        (
            "ap_fixed<10,2,AP_RND_CONV>",
            Spec::ap_fixed(10, 2).with_quant(Quant::RndConv),
        ),
        ("ap_fixed<5,-2>", Spec::ap_fixed(5, -2)),
    ];
    for (text, spec) in cases {
        assert_eq!(Spec::parse(text), Ok(spec), "{text}");
        let shown = std::format!("{spec}");
        assert_eq!(Spec::parse(&shown), Ok(spec), "{shown}");
    }
    assert_eq!(
        std::format!("{}", Spec::ap_ufixed(12, 4).with_overflow(Overflow::Sat)),
        "ap_ufixed<12,4,AP_TRN,AP_SAT>"
    );
    for bad in [
        "ap_int<8>",
        "ap_fixed<16>",
        "ap_fixed<16,6,AP_FOO>",
        "ap_fixed<16,6,AP_RND,AP_SAT,2>",
        "ap_fixed<16,6",
    ] {
        assert_eq!(Spec::parse(bad), Err(SpecError::Syntax), "{bad}");
    }
}

#[test]
fn known_values() {
    // DESIGN.md: 8.99 became -7.01563 in ap_fixed<10,4>.
    let s = Spec::ap_fixed(10, 4);
    assert_eq!(s.to_f64(s.from_f64(8.99)), -7.015625);
    let sat = s.with_overflow(Overflow::Sat);
    assert_eq!(sat.to_f64(sat.from_f64(8.99)), 7.984375);
    // Truncation is floor, rounding is half up.
    let t = Spec::ap_fixed(16, 6);
    assert_eq!(t.from_f64(-0.2394002974).raw, -246);
    let r = t.with_quant(Quant::Rnd);
    assert_eq!(r.from_f64(-0.00048828125).raw, 0);
    assert_eq!(r.from_f64(0.00048828125).raw, 1);
    assert_eq!(t.from_f64(f64::INFINITY).raw, 0);
    assert_eq!(
        t.with_overflow(Overflow::Sat)
            .from_f64(f64::NEG_INFINITY)
            .raw,
        -32768
    );
    let sym = t.with_overflow(Overflow::SatSym);
    assert_eq!(sym.from_f64(-32.0).raw, -32767);
    assert_eq!(sym.from_f64(-100.0).raw, -32767);
    // Exact arithmetic.
    let a = Value::from_f64(1.5, Spec::ap_fixed(8, 3));
    let b = Value::from_f64(-2.25, Spec::ap_ufixed(8, 3).with_overflow(Overflow::Sat));
    assert_eq!(b.to_f64(), 0.0);
    let c = Value::from_f64(-2.25, Spec::ap_fixed(6, 3));
    assert_eq!((a * c).to_f64(), -3.375);
    assert_eq!((a + c).to_f64(), -0.75);
    assert_eq!((a * c).cast(Spec::ap_fixed(6, 3)).to_f64(), -3.375);
    assert_eq!((a * c).cast(Spec::ap_fixed(5, 3)).to_f64(), -3.5);
    let rnd = Spec::ap_fixed(5, 3).with_quant(Quant::Rnd);
    assert_eq!((a * c).cast(rnd).to_f64(), -3.25);
}

// ----------------------------------------------------------------------------- reference

/// Plain reference: the exact value `raw / 2^frac` as a fraction `num / 2^den_pow`, rounded
/// with integer division and compared with the range, written independently of the
/// bit-level implementation.
fn reference(spec: Spec, raw: i64, frac: i32) -> i64 {
    let f = spec.frac_bits();
    // value * 2^f = raw * 2^(f - frac)
    let (num, den): (i128, i128) = if f >= frac {
        ((raw as i128) << (f - frac), 1)
    } else {
        (raw as i128, 1i128 << (frac - f))
    };
    let floor = num.div_euclid(den);
    let rem2 = 2 * num.rem_euclid(den); // compare with den: <, ==, >
    let ceil = if rem2 == 0 { floor } else { floor + 1 };
    let nearest_tie = |tie: i128| {
        if rem2 < den {
            floor
        } else if rem2 > den {
            floor + 1
        } else {
            tie
        }
    };
    let q = match spec.quant() {
        Quant::Trn => floor,
        Quant::TrnZero => {
            if num < 0 {
                ceil
            } else {
                floor
            }
        }
        Quant::Rnd => nearest_tie(floor + 1),
        Quant::RndZero => nearest_tie(if num < 0 { floor + 1 } else { floor }),
        Quant::RndMinInf => nearest_tie(floor),
        Quant::RndInf => nearest_tie(if num < 0 { floor } else { floor + 1 }),
        Quant::RndConv => nearest_tie(if floor % 2 == 0 { floor } else { floor + 1 }),
    };
    let (min, max) = (spec.min_raw() as i128, spec.max_raw() as i128);
    let sym = spec.overflow() == Overflow::SatSym && spec.is_signed() && spec.width() > 1;
    if q >= min && q <= max {
        return if sym && q == min { q + 1 } else { q } as i64;
    }
    match spec.overflow() {
        Overflow::Wrap => {
            let m = 1i128 << spec.width();
            let mut w = q.rem_euclid(m);
            if spec.is_signed() && w > max {
                w -= m;
            }
            w as i64
        }
        Overflow::SatZero => 0,
        Overflow::Sat | Overflow::SatSym => {
            if q > max {
                max as i64
            } else if sym {
                (min + 1) as i64
            } else {
                min as i64
            }
        }
    }
}

#[test]
fn exhaustive_small_types_against_reference() {
    let mut checked = 0u32;
    for src_w in 1..=7u8 {
        for src_i in -3..=9i16 {
            for src_signed in [true, false] {
                let src = Spec::new(src_w, src_i, src_signed, Quant::Trn, Overflow::Wrap);
                for w in 1..=6u8 {
                    for i in -3..=8i16 {
                        for signed in [true, false] {
                            for (q, o) in all_modes() {
                                let dst = Spec::new(w, i, signed, q, o);
                                for raw in src.min_raw()..=src.max_raw() {
                                    let got = dst.cast(Fixed::from_raw(raw), src).raw;
                                    let want = reference(dst, raw, src.frac_bits());
                                    assert_eq!(got, want, "{src} raw {raw} -> {dst}");
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1_000_000, "{checked}");
}

#[test]
fn exhaustive_f64_through_small_types() {
    // Every value of every small source type, as a double, converts like the cast.
    for src_w in 1..=8u8 {
        for src_i in -4..=10i16 {
            let src = Spec::ap_fixed(src_w, src_i);
            for (q, o) in all_modes() {
                for w in [1u8, 3, 5, 8] {
                    for i in [-2i16, 0, 2, 5, 9] {
                        let dst = Spec::new(w, i, true, q, o);
                        for raw in src.min_raw()..=src.max_raw() {
                            let x = src.to_f64(Fixed::from_raw(raw));
                            assert_eq!(
                                dst.from_f64(x),
                                dst.cast(Fixed::from_raw(raw), src),
                                "{x} -> {dst}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn wide_values_against_reference() {
    // Raw values up to 63 bits, shifts past the width and the 100-bit clamp.
    let raws = [
        i64::MIN,
        i64::MIN + 1,
        i64::MAX,
        -(1 << 40) - 12345,
        (1 << 52) + 1,
        -3,
        -1,
        1,
        7,
        0x5555_5555_5555,
        -0x2AAA_AAAA_AAAA_AAAB,
    ];
    for raw in raws {
        for frac in [
            -70, -64, -63, -20, -1, 0, 1, 10, 40, 62, 63, 64, 65, 90, 120, 200,
        ] {
            for w in [1u8, 16, 32, 63] {
                for i in [-40i16, -1, 0, 6, 31, 80] {
                    for (q, o) in all_modes() {
                        let dst = Spec::new(w, i, true, q, o);
                        if dst.frac_bits() - frac > 63 {
                            // the reference's i128 would overflow: |value| >= 2^64 ulps
                            let big = dst.from_scaled(raw, frac).raw;
                            let want = match (o, raw < 0) {
                                (Overflow::Wrap | Overflow::SatZero, _) => 0,
                                (_, false) => dst.max_raw(),
                                (Overflow::SatSym, true) if w > 1 => dst.min_raw() + 1,
                                (_, true) => dst.min_raw(),
                            };
                            assert_eq!(big, want, "{raw} * 2^-{frac} -> {dst}");
                            continue;
                        }
                        if frac - dst.frac_bits() > 125 {
                            continue; // 2^shift would overflow the reference's i128
                        }
                        assert_eq!(
                            dst.from_scaled(raw, frac).raw,
                            reference(dst, raw, frac),
                            "{raw} * 2^-{frac} -> {dst}"
                        );
                    }
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------- oracle

/// A minimal JSON reader for the oracle fixture (nn-core has no JSON dependency).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(std::string::String),
    Arr(std::vec::Vec<Json>),
    Obj(std::vec::Vec<(std::string::String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing characters");
        v
    }
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(items) => &items.iter().find(|(k, _)| k == key).unwrap().1,
            _ => panic!("not an object"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(v) => v,
            _ => panic!("not an array"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string"),
        }
    }
    fn int(&self) -> i64 {
        match self {
            Json::Int(v) => *v,
            _ => panic!("not an integer"),
        }
    }
    fn ints(&self) -> std::vec::Vec<i64> {
        self.arr().iter().map(Json::int).collect()
    }
    fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            _ => panic!("not a bool"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut items = std::vec::Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b'}' {
                        self.i += 1;
                        return Json::Obj(items);
                    }
                    let Json::Str(key) = self.value() else {
                        panic!("object key")
                    };
                    self.ws();
                    assert_eq!(self.s[self.i], b':');
                    self.i += 1;
                    items.push((key, self.value()));
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = std::vec::Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b']' {
                        self.i += 1;
                        return Json::Arr(items);
                    }
                    items.push(self.value());
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
            }
            b'"' => {
                self.i += 1;
                let start = self.i;
                while self.s[self.i] != b'"' {
                    assert_ne!(self.s[self.i], b'\\', "escapes are not used in the fixture");
                    self.i += 1;
                }
                self.i += 1;
                Json::Str(
                    core::str::from_utf8(&self.s[start..self.i - 1])
                        .unwrap()
                        .into(),
                )
            }
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i] == b'-' || self.s[self.i].is_ascii_digit())
                {
                    self.i += 1;
                }
                let text = core::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Int(text.parse().unwrap())
            }
        }
    }
}

/// "W,I,S,Q,O" as the oracle prints it.
fn oracle_spec(text: &str) -> Spec {
    let p: std::vec::Vec<&str> = text.split(',').collect();
    Spec::new(
        p[0].parse().unwrap(),
        p[1].parse().unwrap(),
        p[2] == "1",
        Quant::from_name(p[3]).unwrap(),
        Overflow::from_name(p[4]).unwrap(),
    )
}

/// C's `%a` output (`0x1.8p+1`, `-0x0p+0`, `inf`) back to the double.
fn parse_hex_double(text: &str) -> f64 {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let v = if t == "inf" {
        f64::INFINITY
    } else {
        let t = t.strip_prefix("0x").unwrap();
        let (mant, exp) = t.split_once('p').unwrap();
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let mut m = u64::from_str_radix(int, 16).unwrap();
        for c in frac.chars() {
            m = (m << 4) | c.to_digit(16).unwrap() as u64;
        }
        let exp: i32 = exp.parse().unwrap();
        libm::ldexp(m as f64, exp - 4 * frac.len() as i32)
    };
    if neg {
        -v
    } else {
        v
    }
}

fn oracle() -> Json {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/hls4ml/ap_fixed_casts.json"
    );
    Json::parse(&std::fs::read_to_string(path).expect("ap_fixed_casts.json"))
}

#[test]
fn oracle_from_f64_bit_exact() {
    let o = oracle();
    let doubles: std::vec::Vec<f64> = o
        .get("doubles_hex")
        .arr()
        .iter()
        .map(|d| parse_hex_double(d.str()))
        .collect();
    let mut n = 0;
    for case in o.get("from_double").arr() {
        let spec = oracle_spec(case.get("spec").str());
        let want = case.get("raw").ints();
        assert_eq!(want.len(), doubles.len());
        for (&x, &w) in doubles.iter().zip(&want) {
            assert_eq!(spec.from_f64(x).raw, w, "{x:e} ({x:?}) -> {spec}");
            n += 1;
        }
    }
    assert_eq!(n, 50_960);
}

#[test]
fn oracle_casts_bit_exact() {
    let o = oracle();
    let sources: std::vec::Vec<(std::string::String, std::vec::Vec<i64>)> = o
        .get("cast_sources")
        .arr()
        .iter()
        .map(|s| (s.get("spec").str().into(), s.get("raw").ints()))
        .collect();
    let mut n = 0;
    for case in o.get("casts").arr() {
        let from_text = case.get("from").str();
        let from = oracle_spec(from_text);
        let to = oracle_spec(case.get("to").str());
        let raws = &sources.iter().find(|(k, _)| k == from_text).unwrap().1;
        let want = case.get("raw").ints();
        assert_eq!(raws.len(), want.len());
        for (&r, &w) in raws.iter().zip(&want) {
            assert_eq!(
                to.cast(Fixed::from_raw(r), from).raw,
                w,
                "{from} {r} -> {to}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 111_104);
}

#[test]
fn oracle_products_and_sums_bit_exact() {
    let o = oracle();
    let mut n = 0;
    for (key, is_mul) in [("products", true), ("sums", false)] {
        for case in o.get(key).arr() {
            let a = oracle_spec(case.get("a").str());
            let b = oracle_spec(case.get("b").str());
            let spec = if is_mul { a.mul_spec(b) } else { a.add_spec(b) }.unwrap();
            assert_eq!(
                (
                    spec.width() as i64,
                    spec.int_bits() as i64,
                    spec.is_signed()
                ),
                (
                    case.get("width").int(),
                    case.get("int_bits").int(),
                    case.get("signed").bool()
                ),
                "{key} {a} {b}"
            );
            let (ra, rb, want) = (
                case.get("a_raw").ints(),
                case.get("b_raw").ints(),
                case.get("raw").ints(),
            );
            for k in 0..want.len() {
                let x = Value {
                    fixed: Fixed::from_raw(ra[k]),
                    spec: a,
                };
                let y = Value {
                    fixed: Fixed::from_raw(rb[k]),
                    spec: b,
                };
                let got = if is_mul { x * y } else { x + y };
                assert_eq!(got.spec, spec);
                assert_eq!(got.fixed.raw, want[k], "{key} {a} {} {b} {}", ra[k], rb[k]);
                n += 1;
            }
        }
    }
    assert_eq!(n, 960);
}
