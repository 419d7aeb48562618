//! Shared by the parity suites (and `lecture`): reading the JAX fixtures in `tests/fixtures/` and
//! the tolerances.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use nn::{Shape, Tensor};
use serde_json::Value;

/// A fixture file, parsed once per test binary.
pub fn fixture(file: &str) -> &'static Value {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static Value>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache
        .entry(file.to_string())
        .or_insert_with(|| Box::leak(Box::new(load(file))))
}

pub const RTOL_FWD: f64 = 1e-5;

pub const ATOL_FWD: f64 = 1e-6;

pub const RTOL_GRAD: f64 = 1e-4;

pub const ATOL_GRAD: f64 = 1e-5;

/// Written into `dx` before `backward_batch`, which must overwrite every cell.
pub const SENTINEL: f32 = 1234.5;

/// How many cells of `t` still hold [`SENTINEL`].
pub fn count_sentinels<S: Shape>(t: &[Tensor<S>]) -> usize {
    t.iter()
        .flat_map(|t| t.as_slice())
        .filter(|v| **v == SENTINEL)
        .count()
}

pub fn load(file: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()))
}

/// The case named `name` in list `list` of `file` (names are unique within one list).
pub fn case(file: &str, list: &str, name: &str) -> &'static Value {
    let all = fixture(file)[list]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: missing list `{list}`"));
    let found: Vec<&Value> = all.iter().filter(|c| c["name"] == name).collect();
    assert_eq!(
        found.len(),
        1,
        "{file}/{list}: {} cases named `{name}`",
        found.len()
    );
    found[0]
}

/// A fixture tensor: `{"shape": [...], "data": [...]}`.
pub struct Fx {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Fx {
    /// Reads `{"shape": [...], "data": [...]}` (`what` names it in the messages) and checks
    /// that the data fill the shape.
    pub fn from_value(t: &Value, what: &str) -> Fx {
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .unwrap_or_else(|| panic!("`{what}`: no shape"))
            .iter()
            .map(|d| d.as_u64().expect("dimension") as usize)
            .collect();
        let data: Vec<f64> = t["data"]
            .as_array()
            .unwrap_or_else(|| panic!("`{what}`: no data"))
            .iter()
            .map(|d| d.as_f64().expect("number"))
            .collect();
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "`{what}`: data length does not match shape {shape:?}"
        );
        Fx { shape, data }
    }

    /// The data as f32. The README guarantees f32-representable inputs; serde_json (without
    /// `float_roundtrip`) may parse a decimal one f64 ulp away from the nearest f64, which still
    /// rounds back to the same f32, so the check allows 2^-52-relative parse errors only.
    pub fn f32s(&self) -> Vec<f32> {
        self.data
            .iter()
            .map(|&v| {
                let f = v as f32;
                assert!(
                    (f as f64 - v).abs() <= v.abs() * f64::EPSILON,
                    "fixture input {v} is not an f32 value"
                );
                f
            })
            .collect()
    }

    /// The inputs as exact f64 values (the f32 inputs, widened), for the f64 formula checks.
    pub fn f32s_as_f64(&self) -> Vec<f64> {
        self.f32s().into_iter().map(f64::from).collect()
    }
}

/// The tensor `field` of a case, or `None` when it is JSON `null` (`b`, `db` without bias).
pub fn fx(v: &Value, field: &str) -> Option<Fx> {
    let t = v
        .get(field)
        .unwrap_or_else(|| panic!("missing field `{field}`"));
    if t.is_null() {
        return None;
    }
    Some(Fx::from_value(t, field))
}

/// The tensor `field` of a case, which must not be `null`.
pub fn req(v: &Value, field: &str) -> Fx {
    fx(v, field).unwrap_or_else(|| panic!("field `{field}` is null"))
}

pub fn tensors_from<S: Shape>(flat: &[f32]) -> Vec<Tensor<S>> {
    assert_eq!(flat.len() % S::LEN, 0);
    flat.chunks(S::LEN)
        .map(|c| Tensor::try_from(c).expect("length checked"))
        .collect()
}

/// The dimensions of a shape type (`[C, H, W]`, `[C, L]` or `[N]`).
pub fn dims<S: Shape>() -> Vec<usize> {
    S::DIMS[..S::RANK].to_vec()
}

/// Compares `bytes` with the checked-in export `tests/fixtures/<dir>/<name>.onnx` (written
/// instead with `NN_ONNX_EXPORT=overwrite`); a difference says to rewrite the files and rerun
/// `script`, which checks them against onnxruntime.
pub fn check_onnx_file(dir: &str, name: &str, bytes: &[u8], script: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let path = dir.join(format!("{name}.onnx"));
    if std::env::var("NN_ONNX_EXPORT").as_deref() == Ok("overwrite") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        stored == bytes,
        "{} differs from what the export writes now; rewrite with NN_ONNX_EXPORT=overwrite and rerun {script}",
        path.display()
    );
}

/// A JSON array of numbers as `f32`s.
pub fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}
