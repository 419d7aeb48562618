//! Constant tensors (initializers and tensor attributes), decoded from `TensorProto`.

use crate::error::OnnxError;
use crate::proto::{self, tensor_proto::DataLocation, tensor_proto::DataType};

/// The element type of a tensor, as in onnx.proto's `TensorProto.DataType`.
pub type ElemType = DataType;

/// A constant tensor: an initializer (a weight, a bias, a Reshape shape) or an attribute value.
///
/// `FLOAT` (decoded to `f32`), `INT64`, and the integer types of quantized models (`INT8`,
/// `UINT8`, `INT32`: weights, zero points and biases of a QDQ graph) are supported; reading any
/// other element type is an [`OnnxError::DataType`] naming the tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The tensor's name (the name nodes use to refer to an initializer; may be empty for an
    /// attribute value).
    pub name: String,
    /// The dimensions, outermost first (`[]` for a scalar). For a PyTorch Conv weight:
    /// `[out_channels, in_channels, kh, kw]`; a Gemm weight with `transB = 1`: `[out, in]`.
    pub dims: Vec<usize>,
    /// The values, row-major (C order); `dims.iter().product()` of them.
    pub data: TensorData,
}

/// The values of a [`Tensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// `FLOAT` values.
    Float(Vec<f32>),
    /// `INT64` values (Reshape shapes, Slice starts, ...).
    Int64(Vec<i64>),
    /// `INT8` values (quantized weights and zero points).
    Int8(Vec<i8>),
    /// `UINT8` values (quantized weights and zero points).
    Uint8(Vec<u8>),
    /// `INT32` values (quantized biases and their zero points).
    Int32(Vec<i32>),
}

impl TensorData {
    /// The element type of the values.
    pub fn elem_type(&self) -> ElemType {
        match self {
            TensorData::Float(_) => DataType::Float,
            TensorData::Int64(_) => DataType::Int64,
            TensorData::Int8(_) => DataType::Int8,
            TensorData::Uint8(_) => DataType::Uint8,
            TensorData::Int32(_) => DataType::Int32,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            TensorData::Float(v) => v.len(),
            TensorData::Int64(v) => v.len(),
            TensorData::Int8(v) => v.len(),
            TensorData::Uint8(v) => v.len(),
            TensorData::Int32(v) => v.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as little-endian bytes (`raw_data`).
    fn raw(&self) -> Vec<u8> {
        match self {
            TensorData::Float(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Int64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Int8(v) => v.iter().map(|&x| x as u8).collect(),
            TensorData::Uint8(v) => v.clone(),
            TensorData::Int32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

impl Tensor {
    /// An `f32` tensor; an error if `data` does not hold `dims.iter().product()` values.
    pub fn float(
        name: impl Into<String>,
        dims: &[usize],
        data: Vec<f32>,
    ) -> Result<Tensor, OnnxError> {
        Tensor::new(name.into(), dims, TensorData::Float(data))
    }

    /// An `i64` tensor; an error if `data` does not hold `dims.iter().product()` values.
    pub fn int64(
        name: impl Into<String>,
        dims: &[usize],
        data: Vec<i64>,
    ) -> Result<Tensor, OnnxError> {
        Tensor::new(name.into(), dims, TensorData::Int64(data))
    }

    /// An `i8` tensor (`INT8`); an error if `data` does not hold `dims.iter().product()`
    /// values.
    pub fn int8(
        name: impl Into<String>,
        dims: &[usize],
        data: Vec<i8>,
    ) -> Result<Tensor, OnnxError> {
        Tensor::new(name.into(), dims, TensorData::Int8(data))
    }

    /// A `u8` tensor (`UINT8`); an error if `data` does not hold `dims.iter().product()`
    /// values.
    pub fn uint8(
        name: impl Into<String>,
        dims: &[usize],
        data: Vec<u8>,
    ) -> Result<Tensor, OnnxError> {
        Tensor::new(name.into(), dims, TensorData::Uint8(data))
    }

    /// An `i32` tensor (`INT32`); an error if `data` does not hold `dims.iter().product()`
    /// values.
    pub fn int32(
        name: impl Into<String>,
        dims: &[usize],
        data: Vec<i32>,
    ) -> Result<Tensor, OnnxError> {
        Tensor::new(name.into(), dims, TensorData::Int32(data))
    }

    fn new(name: String, dims: &[usize], data: TensorData) -> Result<Tensor, OnnxError> {
        let tensor = Tensor {
            name,
            dims: dims.to_vec(),
            data,
        };
        tensor.check()?;
        Ok(tensor)
    }

    /// The element type: `FLOAT`, `INT64`, `INT8`, `UINT8` or `INT32`.
    pub fn elem_type(&self) -> ElemType {
        self.data.elem_type()
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor holds no value (a dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `f32` values, or `None` for a tensor of another element type.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::Float(v) => Some(v),
            _ => None,
        }
    }

    /// The `i64` values, or `None` for a tensor of another element type.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// The `i8` values, or `None` for a tensor of another element type.
    pub fn as_i8(&self) -> Option<&[i8]> {
        match &self.data {
            TensorData::Int8(v) => Some(v),
            _ => None,
        }
    }

    /// The `u8` values, or `None` for a tensor of another element type.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.data {
            TensorData::Uint8(v) => Some(v),
            _ => None,
        }
    }

    /// The `i32` values, or `None` for a tensor of another element type.
    pub fn as_i32(&self) -> Option<&[i32]> {
        match &self.data {
            TensorData::Int32(v) => Some(v),
            _ => None,
        }
    }

    /// Checks that the data holds as many values as the dims say.
    pub(crate) fn check(&self) -> Result<(), OnnxError> {
        let expected = self.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let dims_i64 = || self.dims.iter().map(|&d| d as i64).collect();
        match expected {
            Some(n) if n == self.len() => Ok(()),
            Some(n) => Err(OnnxError::Tensor {
                tensor: self.name.clone(),
                dtype: self.elem_type().as_str_name(),
                dims: dims_i64(),
                problem: format!("holds {} values, expected {n}", self.len()),
            }),
            None => Err(OnnxError::Tensor {
                tensor: self.name.clone(),
                dtype: self.elem_type().as_str_name(),
                dims: dims_i64(),
                problem: "the number of values overflows usize".into(),
            }),
        }
    }

    /// Decodes a `TensorProto`: `FLOAT` from `raw_data` (little-endian) or `float_data`, `INT64`
    /// from `raw_data` or `int64_data`, `INT8`, `UINT8` and `INT32` from `raw_data` or
    /// `int32_data` (where onnx.proto stores them, one value per entry). `what` names an unnamed
    /// tensor in errors.
    pub fn from_proto(t: &proto::TensorProto, what: &str) -> Result<Tensor, OnnxError> {
        let name = t.name.clone().unwrap_or_default();
        let label = if name.is_empty() { what } else { &name };
        let code = t.data_type.unwrap_or(0);
        let dtype = DataType::try_from(code).ok();
        let dtype_name = dtype.map_or("an unknown element type", DataType::as_str_name);
        let fail = |problem: String| OnnxError::Tensor {
            tensor: label.to_string(),
            dtype: dtype_name,
            dims: t.dims.clone(),
            problem,
        };
        let dtype = match dtype {
            Some(
                d @ (DataType::Float
                | DataType::Int64
                | DataType::Int8
                | DataType::Uint8
                | DataType::Int32),
            ) => d,
            Some(other) => {
                return Err(OnnxError::DataType {
                    tensor: label.to_string(),
                    found: other.as_str_name().to_string(),
                    expected: "FLOAT, INT64, INT8, UINT8 or INT32",
                })
            }
            None => {
                return Err(OnnxError::DataType {
                    tensor: label.to_string(),
                    found: format!("code {code}"),
                    expected: "FLOAT, INT64, INT8, UINT8 or INT32",
                })
            }
        };
        if t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty() {
            return Err(fail(
                "its data is stored in an external file, which is not supported".into(),
            ));
        }
        let mut dims = Vec::with_capacity(t.dims.len());
        for &d in &t.dims {
            match usize::try_from(d) {
                Ok(d) => dims.push(d),
                Err(_) => return Err(fail(format!("dimension {d} is negative"))),
            }
        }
        let count = dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| fail("the number of values overflows usize".into()))?;
        let width = match dtype {
            DataType::Int64 => 8,
            DataType::Int8 | DataType::Uint8 => 1,
            _ => 4,
        };
        let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
        let data = match raw {
            Some(raw) => {
                if count.checked_mul(width) != Some(raw.len()) {
                    return Err(fail(format!(
                        "raw_data has {} bytes, expected {} ({count} values of {width} bytes)",
                        raw.len(),
                        count.saturating_mul(width)
                    )));
                }
                let words = || raw.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
                match dtype {
                    DataType::Float => TensorData::Float(words().map(f32::from_le_bytes).collect()),
                    DataType::Int32 => TensorData::Int32(words().map(i32::from_le_bytes).collect()),
                    DataType::Int8 => TensorData::Int8(raw.iter().map(|&b| b as i8).collect()),
                    DataType::Uint8 => TensorData::Uint8(raw.to_vec()),
                    _ => TensorData::Int64(
                        raw.chunks_exact(8)
                            .map(|b| {
                                i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                            })
                            .collect(),
                    ),
                }
            }
            None => match dtype {
                DataType::Float => {
                    if t.float_data.len() != count {
                        return Err(fail(format!(
                            "float_data holds {} values, expected {count}",
                            t.float_data.len()
                        )));
                    }
                    TensorData::Float(t.float_data.clone())
                }
                DataType::Int64 => {
                    if t.int64_data.len() != count {
                        return Err(fail(format!(
                            "int64_data holds {} values, expected {count}",
                            t.int64_data.len()
                        )));
                    }
                    TensorData::Int64(t.int64_data.clone())
                }
                _ => {
                    if t.int32_data.len() != count {
                        return Err(fail(format!(
                            "int32_data holds {} values, expected {count}",
                            t.int32_data.len()
                        )));
                    }
                    let range = |lo: i32, hi: i32| match t
                        .int32_data
                        .iter()
                        .find(|v| !(lo..=hi).contains(*v))
                    {
                        Some(v) => Err(fail(format!(
                            "int32_data holds {v}, outside the element type's range"
                        ))),
                        None => Ok(()),
                    };
                    match dtype {
                        DataType::Int8 => {
                            range(-128, 127)?;
                            TensorData::Int8(t.int32_data.iter().map(|&v| v as i8).collect())
                        }
                        DataType::Uint8 => {
                            range(0, 255)?;
                            TensorData::Uint8(t.int32_data.iter().map(|&v| v as u8).collect())
                        }
                        _ => TensorData::Int32(t.int32_data.clone()),
                    }
                }
            },
        };
        Ok(Tensor { name, dims, data })
    }

    /// Encodes as a `TensorProto`, the values in `raw_data` (little-endian), as PyTorch writes
    /// them.
    pub fn to_proto(&self) -> proto::TensorProto {
        let raw = self.data.raw();
        proto::TensorProto {
            dims: self.dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(self.elem_type() as i32),
            name: (!self.name.is_empty()).then(|| self.name.clone()),
            raw_data: Some(raw),
            ..Default::default()
        }
    }
}
