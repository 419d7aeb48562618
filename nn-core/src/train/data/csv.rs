//! Reading data sets from CSV files: features first, then the target columns (a class label, or
//! the regression targets); optional header row, any one-byte delimiter, gzip-compressed files
//! recognized by their first bytes. Every error names the file, the 1-based row and column, and
//! the column's name when the file has a header.

use std::format;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use super::Dataset;
use crate::loss::{MAX_CLASS_LABEL, TOO_LARGE};
use crate::tensor::{Shape, Tensor};
use crate::train::error::Error;

/// How a CSV file is laid out: [`CsvOptions::default`] is no header row and commas.
///
/// ```
/// # use nn_core::CsvOptions;
/// let opts = CsvOptions::new().header(true).delimiter(b';');
/// ```
///
/// Files whose first bytes are the gzip magic number (`.csv.gz`) are decompressed as they are
/// read, whatever their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    header: bool,
    delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: false,
            delimiter: b',',
        }
    }
}

impl CsvOptions {
    /// No header row, comma-separated.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether the first row holds column names (skipped as data, used in error messages).
    pub fn header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }
    /// The field delimiter, e.g. `b';'` or `b'\t'` (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }
}

/// A target that a CSV row's last columns hold: a class label (`usize`, one column) or a
/// tensor of regression targets (`Tensor<T>`, `T::LEN` columns).
pub trait CsvTarget: Sized {
    /// The number of columns the target takes.
    const COLUMNS: usize;
    /// What the columns are, for messages: "the label", "1 target".
    const WHAT: &'static str;
    /// Parses the target from its fields; `Err` is built by `at` from the offending field's
    /// index among them and why it is wrong.
    #[doc(hidden)]
    fn parse(fields: &[&str], at: &Place<'_>) -> Result<Self, Error>;
}

/// Where a target's fields are: file, row, first column and the header (for errors).
#[doc(hidden)]
pub struct Place<'a> {
    path: &'a str,
    row: usize,
    first: usize,
    names: Option<&'a [String]>,
}

impl Place<'_> {
    fn value_error(&self, k: usize, value: &str) -> Error {
        value_error(self.path, self.row, self.first + k, value, self.names)
    }
}

impl CsvTarget for usize {
    const COLUMNS: usize = 1;
    const WHAT: &'static str = "the label";
    fn parse(fields: &[&str], at: &Place<'_>) -> Result<Self, Error> {
        let text = fields[0];
        let label_error = |why: String| Error::Label {
            path: at.path.to_string(),
            row: at.row,
            value: text.to_string(),
            why,
        };
        let label = parse_whole(text).ok_or_else(|| {
            label_error(String::from(
                "is not a class index (a whole number >= 0); for regression targets read the \
                 data set as `Dataset::<Input<Net>, Output<Net>>`",
            ))
        })?;
        if label > MAX_CLASS_LABEL as f64 {
            return Err(label_error(String::from(TOO_LARGE)));
        }
        Ok(label as usize)
    }
}

impl<T: Shape> CsvTarget for Tensor<T> {
    const COLUMNS: usize = T::LEN;
    const WHAT: &'static str = "the targets";
    fn parse(fields: &[&str], at: &Place<'_>) -> Result<Self, Error> {
        let mut t = Tensor::<T>::zeros();
        for (k, field) in fields.iter().enumerate() {
            t[k] = parse_finite(field).ok_or_else(|| at.value_error(k, field))?;
        }
        Ok(t)
    }
}

impl<S: Shape, Y: CsvTarget> Dataset<Tensor<S>, Y> {
    /// Loads a CSV file without a header, comma-separated: each row holds `S::LEN` feature
    /// values followed by the target: an integer class label for a `Dataset<Input<N>, usize>`,
    /// `T::LEN` numbers for a `Dataset<Input<N>, Tensor<T>>` (regression: `Output<N>`).
    /// A gzip-compressed file (`.csv.gz`) is decompressed.
    ///
    /// `Err` names the file, row and column of a value that is not a finite number, a row of
    /// the wrong width, or a label that is not a class index (a whole number from 0 to
    /// [`MAX_CLASS_LABEL`](crate::MAX_CLASS_LABEL)); an empty file is an `Err` too.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_csv_with(path, CsvOptions::default())
    }

    /// [`Dataset::from_csv`] with a header row or another delimiter ([`CsvOptions`]).
    pub fn from_csv_with(path: impl AsRef<Path>, options: CsvOptions) -> Result<Self, Error> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: name.clone(),
            source,
        })?;
        Self::from_csv_reader_with(file, &name, options)
    }

    /// Like [`Dataset::from_csv`], from any reader; `name` names it in errors.
    pub fn from_csv_reader(reader: impl Read, name: &str) -> Result<Self, Error> {
        Self::from_csv_reader_with(reader, name, CsvOptions::default())
    }

    /// Like [`Dataset::from_csv_with`], from any reader; `name` names it in errors.
    pub fn from_csv_reader_with(
        reader: impl Read,
        name: &str,
        options: CsvOptions,
    ) -> Result<Self, Error> {
        let io_error = |source| Error::Io {
            path: name.to_string(),
            source,
        };
        let mut reader = BufReader::new(reader);
        let gzip = reader
            .fill_buf()
            .map_err(io_error)?
            .starts_with(&[0x1f, 0x8b]);
        if gzip {
            let reader = flate2::bufread::MultiGzDecoder::new(reader);
            read_records(reader, name, options)
        } else {
            read_records(reader, name, options)
        }
    }
}

/// Reads every record of `reader` as features then target.
fn read_records<S: Shape, Y: CsvTarget>(
    reader: impl Read,
    name: &str,
    options: CsvOptions,
) -> Result<Dataset<Tensor<S>, Y>, Error> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(options.delimiter)
        .from_reader(reader);
    let expected = S::LEN + Y::COLUMNS;
    let columns = format!("{} features and {}", S::LEN, Y::WHAT);
    let mut out = Dataset::default();
    let mut rows = Vec::new();
    let mut names: Option<Vec<String>> = None;
    for (i, record) in rdr.records().enumerate() {
        let record = record.map_err(|e| Error::Io {
            path: name.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?;
        let row = record.position().map_or(i + 1, |p| p.line() as usize);
        if record.len() != expected {
            return Err(Error::Width {
                path: name.to_string(),
                row,
                expected,
                found: record.len(),
                columns: columns.clone(),
            });
        }
        if options.header && names.is_none() {
            names = Some(record.iter().map(|f| f.trim().to_string()).collect());
            continue;
        }
        let mut t = Tensor::<S>::zeros();
        for (c, field) in record.iter().take(S::LEN).enumerate() {
            t[c] = parse_finite(field)
                .ok_or_else(|| value_error(name, row, c, field, names.as_deref()))?;
        }
        let fields: Vec<&str> = record.iter().skip(S::LEN).map(str::trim).collect();
        let at = Place {
            path: name,
            row,
            first: S::LEN,
            names: names.as_deref(),
        };
        let target = Y::parse(&fields, &at)?;
        out.x.push(t);
        out.y.push(target);
        rows.push(row);
    }
    if out.is_empty() {
        return Err(Error::Empty(name.to_string()));
    }
    out.set_origin(name, rows);
    Ok(out)
}

/// A finite number, or `None`.
fn parse_finite(field: &str) -> Option<f32> {
    field.trim().parse::<f32>().ok().filter(|v| v.is_finite())
}

/// A whole number >= 0 (written as an integer or as a float with no fraction, `2.0`), or `None`.
fn parse_whole(text: &str) -> Option<f64> {
    if let Ok(v) = text.parse::<u64>() {
        return Some(v as f64);
    }
    let v: f64 = text.parse().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0).then_some(v)
}

/// A value error at 0-based column `col`, named from the header when there is one.
fn value_error(path: &str, row: usize, col: usize, value: &str, names: Option<&[String]>) -> Error {
    Error::Value {
        path: path.to_string(),
        row,
        column: col + 1,
        name: names.and_then(|n| n.get(col)).cloned(),
        value: String::from(value),
    }
}
