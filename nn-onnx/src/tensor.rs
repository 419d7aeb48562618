//! Constant tensors (initializers and tensor attributes), decoded from `TensorProto`.

use crate::error::OnnxError;
use crate::proto::{self, tensor_proto::DataLocation, tensor_proto::DataType};

/// The element type of a tensor, as in onnx.proto's `TensorProto.DataType`.
pub type ElemType = DataType;

/// A constant tensor: an initializer (a weight, a bias, a Reshape shape) or an attribute value.
///
/// Only `FLOAT` (decoded to `f32`) and `INT64` tensors are supported; reading any other element
/// type is an [`OnnxError::DataType`] naming the tensor.
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

    fn new(name: String, dims: &[usize], data: TensorData) -> Result<Tensor, OnnxError> {
        let tensor = Tensor {
            name,
            dims: dims.to_vec(),
            data,
        };
        tensor.check()?;
        Ok(tensor)
    }

    /// The element type: `FLOAT` or `INT64`.
    pub fn elem_type(&self) -> ElemType {
        match self.data {
            TensorData::Float(_) => DataType::Float,
            TensorData::Int64(_) => DataType::Int64,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::Float(v) => v.len(),
            TensorData::Int64(v) => v.len(),
        }
    }

    /// Whether the tensor holds no value (a dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `f32` values, or `None` for an `INT64` tensor.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::Float(v) => Some(v),
            TensorData::Int64(_) => None,
        }
    }

    /// The `i64` values, or `None` for a `FLOAT` tensor.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::Int64(v) => Some(v),
            TensorData::Float(_) => None,
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
    /// from `raw_data` or `int64_data`. `what` names an unnamed tensor in errors.
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
            Some(d @ (DataType::Float | DataType::Int64)) => d,
            Some(other) => {
                return Err(OnnxError::DataType {
                    tensor: label.to_string(),
                    found: other.as_str_name().to_string(),
                    expected: "FLOAT or INT64",
                })
            }
            None => {
                return Err(OnnxError::DataType {
                    tensor: label.to_string(),
                    found: format!("code {code}"),
                    expected: "FLOAT or INT64",
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
        let width = if dtype == DataType::Float { 4 } else { 8 };
        let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
        let data = match (dtype, raw) {
            (_, Some(raw)) => {
                if count.checked_mul(width) != Some(raw.len()) {
                    return Err(fail(format!(
                        "raw_data has {} bytes, expected {} ({count} values of {width} bytes)",
                        raw.len(),
                        count.saturating_mul(width)
                    )));
                }
                if dtype == DataType::Float {
                    TensorData::Float(
                        raw.chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                            .collect(),
                    )
                } else {
                    TensorData::Int64(
                        raw.chunks_exact(8)
                            .map(|b| {
                                i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                            })
                            .collect(),
                    )
                }
            }
            (DataType::Float, None) => {
                if t.float_data.len() != count {
                    return Err(fail(format!(
                        "float_data holds {} values, expected {count}",
                        t.float_data.len()
                    )));
                }
                TensorData::Float(t.float_data.clone())
            }
            (_, None) => {
                if t.int64_data.len() != count {
                    return Err(fail(format!(
                        "int64_data holds {} values, expected {count}",
                        t.int64_data.len()
                    )));
                }
                TensorData::Int64(t.int64_data.clone())
            }
        };
        Ok(Tensor { name, dims, data })
    }

    /// Encodes as a `TensorProto`, the values in `raw_data` (little-endian), as PyTorch writes
    /// them.
    pub fn to_proto(&self) -> proto::TensorProto {
        let raw: Vec<u8> = match &self.data {
            TensorData::Float(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Int64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        };
        proto::TensorProto {
            dims: self.dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(self.elem_type() as i32),
            name: (!self.name.is_empty()).then(|| self.name.clone()),
            raw_data: Some(raw),
            ..Default::default()
        }
    }
}
