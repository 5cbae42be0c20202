//! NumPy `.npy` files in and out (float32, float64, float16, int32, int64, and 16-bit patterns
//! that hold bf16; C order), for the `gpu-loss eval` command and for tests that read framework
//! dumps.
//!
//! The header is parsed here, not by a general Python-literal parser: it is a flat dict of
//! three known keys, so nothing nests and its length is capped. Every size is checked before
//! anything is allocated, and the data must be exactly as long as the header says.

use crate::error::{LossError, Result};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// An array read from a `.npy` file: its values widened to f64 or i64, and what it held.
#[derive(Clone, Debug, PartialEq)]
///
/// ```no_run
/// let a = gpu_loss::npy::Array::read(std::path::Path::new("logits.npy"))?;
/// println!("{:?} {}", a.shape, a.dtype);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct Array {
    /// Its shape (C order).
    pub shape: Vec<usize>,
    /// Its values.
    pub values: Values,
    /// The file's dtype, as NumPy writes it (`<f4`, `<i8`, ...).
    pub dtype: String,
}

#[derive(Clone, Debug, PartialEq)]
/// An array's values, widened.
///
/// ```
/// use gpu_loss::npy::{encode, Array, Values};
/// let mut bytes = Vec::new();
/// encode(&mut bytes, &[2], &[3i64, 4])?;
/// assert_eq!(Array::from_bytes(&bytes)?.values, Values::Int(vec![3, 4]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub enum Values {
    /// Floating-point values as f64.
    Float(Vec<f64>),
    /// Integers as i64.
    Int(Vec<i64>),
}

const MAGIC: &[u8] = b"\x93NUMPY";
/// NumPy itself refuses headers over 10 000 bytes unless told otherwise.
const MAX_HEADER: usize = 65_536;
/// NumPy's own limit on dimensions.
const MAX_DIMS: usize = 64;
const DTYPES: &str =
    "float32, float64, float16, int32, int64, or 16-bit patterns (uint16, 2-byte void: bf16)";

fn file_error(path: &Path, why: impl std::fmt::Display) -> LossError {
    LossError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

impl Array {
    /// Reads a `.npy` file (a bounded header parser: a hostile file is refused at once).
    ///
    /// ```
    /// use gpu_loss::npy::{write_f32, Array};
    /// let path = std::env::temp_dir().join(format!("gpu_loss_read_{}.npy", std::process::id()));
    /// write_f32(&path, &[2, 2], &[1.0, 2.0, 3.0, 4.5])?;
    /// let a = Array::read(&path)?;
    /// assert_eq!((&a.shape[..], a.dtype.as_str()), (&[2, 2][..], "<f4"));
    /// assert_eq!(a.f32s(), [1.0, 2.0, 3.0, 4.5]);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn read(path: &Path) -> Result<Array> {
        let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
        let meta = file.metadata().map_err(|e| file_error(path, e))?;
        let decoded = if meta.is_file() {
            decode(&mut BufReader::new(file), meta.len())
        } else {
            // A pipe (`<(python ...)`) has no length: take what it holds, never what its
            // header claims.
            let mut bytes = Vec::new();
            BufReader::new(file)
                .read_to_end(&mut bytes)
                .map_err(|e| file_error(path, e))?;
            decode(&mut bytes.as_slice(), bytes.len() as u64)
        };
        decoded.map_err(|why| file_error(path, why))
    }

    /// An array from a whole `.npy` file's bytes (the fuzz target's entry point).
    ///
    /// ```
    /// use gpu_loss::npy::{encode, Array};
    /// let mut bytes = Vec::new();
    /// encode(&mut bytes, &[3], &[0.5f64, 1.0, 2.0])?;
    /// assert_eq!(Array::from_bytes(&bytes)?.floats(), [0.5, 1.0, 2.0]);
    /// assert!(Array::from_bytes(&bytes[..bytes.len() - 1]).is_err()); // data cut short
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Array> {
        decode(&mut &bytes[..], bytes.len() as u64).map_err(|why| LossError::File {
            path: "(bytes)".into(),
            why,
        })
    }

    /// Its element count.
    ///
    /// ```
    /// use gpu_loss::npy::{Array, Values};
    /// let a = Array { shape: vec![2, 3], values: Values::Float(vec![0.0; 6]), dtype: "<f8".into() };
    /// assert_eq!(a.len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it has no elements.
    ///
    /// ```
    /// use gpu_loss::npy::{Array, Values};
    /// let a = Array { shape: vec![4, 0], values: Values::Float(vec![]), dtype: "<f4".into() };
    /// assert!(a.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it holds integers.
    ///
    /// ```
    /// use gpu_loss::npy::{Array, Values};
    /// let labels = Array { shape: vec![2], values: Values::Int(vec![0, 3]), dtype: "<i8".into() };
    /// assert!(labels.is_int());
    /// ```
    pub fn is_int(&self) -> bool {
        matches!(self.values, Values::Int(_))
    }

    /// The values as f64 (integers widened, as ±1 labels need).
    ///
    /// ```
    /// use gpu_loss::npy::{Array, Values};
    /// let labels = Array { shape: vec![2], values: Values::Int(vec![-1, 1]), dtype: "<i8".into() };
    /// assert_eq!(labels.floats(), [-1.0, 1.0]);
    /// ```
    pub fn floats(&self) -> Vec<f64> {
        match &self.values {
            Values::Float(v) => v.clone(),
            Values::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// The values as f32, as the GPU takes them.
    ///
    /// ```
    /// use gpu_loss::npy::{Array, Values};
    /// let a = Array { shape: vec![2], values: Values::Float(vec![0.1, 1e300]), dtype: "<f8".into() };
    /// assert_eq!(a.f32s(), [0.1f32, f32::INFINITY]); // rounded to f32
    /// ```
    pub fn f32s(&self) -> Vec<f32> {
        self.floats().into_iter().map(|x| x as f32).collect()
    }

    /// The values as class labels; a float array is not one.
    ///
    /// ```
    /// use gpu_loss::npy::{Array, Values};
    /// let labels = Array { shape: vec![2], values: Values::Int(vec![0, 3]), dtype: "<i4".into() };
    /// assert_eq!(labels.ints(), Some(&[0i64, 3][..]));
    /// let probs = Array { shape: vec![2], values: Values::Float(vec![0.5, 0.5]), dtype: "<f4".into() };
    /// assert_eq!(probs.ints(), None);
    /// ```
    pub fn ints(&self) -> Option<&[i64]> {
        match &self.values {
            Values::Int(v) => Some(v),
            Values::Float(_) => None,
        }
    }
}

fn io(e: std::io::Error) -> String {
    format!("not a .npy file ({e})")
}

/// Reads a `.npy` file of `len` bytes from `r`. Errors are one line.
fn decode(r: &mut impl Read, len: u64) -> std::result::Result<Array, String> {
    let mut prefix = [0u8; 8];
    r.read_exact(&mut prefix).map_err(io)?;
    if &prefix[..6] != MAGIC {
        return Err("not a .npy file (no NUMPY magic)".into());
    }
    let width = match prefix[6] {
        1 => 2,
        2 | 3 => 4,
        v => return Err(format!("not a .npy file (format version {v})")),
    };
    let mut word = [0u8; 4];
    r.read_exact(&mut word[..width]).map_err(io)?;
    let header_len = u32::from_le_bytes(word) as u64;
    let start = 8 + width as u64 + header_len;
    if header_len > MAX_HEADER as u64 || start > len {
        return Err(format!(
            "not a .npy file (header of {header_len} bytes in a file of {len})"
        ));
    }
    let mut text = vec![0u8; header_len as usize];
    r.read_exact(&mut text).map_err(io)?;
    let h = parse_header(&text).map_err(|e| format!("not a .npy file (header: {e})"))?;
    if h.fortran {
        return Err("Fortran order; save it in C order".into());
    }
    let size = match h.descr.as_str() {
        "<f2" | "<u2" | "|V2" => 2,
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        other => return Err(format!("dtype {other:?}; expected {DTYPES}")),
    };
    let declared = h
        .shape
        .iter()
        .try_fold(size, |n: usize, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {:?} has more elements than fit in memory", h.shape))?;
    let present = len - start;
    if present != declared as u64 {
        return Err(format!(
            "{present} bytes of data for shape {:?} of {}, which takes {declared}",
            h.shape, h.descr
        ));
    }
    let mut data = vec![0u8; declared];
    r.read_exact(&mut data)
        .map_err(|e| format!("its data cannot be read ({e})"))?;
    Ok(Array {
        values: values(&h.descr, &data),
        shape: h.shape,
        dtype: h.descr,
    })
}

/// Little-endian words of one of the five dtypes, widened.
fn values(descr: &str, data: &[u8]) -> Values {
    fn words<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        data.chunks_exact(N).map(|c| {
            let mut w = [0u8; N];
            w.copy_from_slice(c);
            w
        })
    }
    match descr {
        "<f2" => Values::Float(
            words(data)
                .map(|w| f64::from(half::f16::from_le_bytes(w)))
                .collect(),
        ),
        "<f4" => Values::Float(
            words(data)
                .map(|w| f64::from(f32::from_le_bytes(w)))
                .collect(),
        ),
        "<f8" => Values::Float(words(data).map(f64::from_le_bytes).collect()),
        "<i4" => Values::Int(
            words(data)
                .map(|w| i64::from(i32::from_le_bytes(w)))
                .collect(),
        ),
        // 16-bit patterns (bf16 as ml_dtypes writes it, or uint16), as integers.
        "<u2" | "|V2" => Values::Int(
            words(data)
                .map(|w| i64::from(u16::from_le_bytes(w)))
                .collect(),
        ),
        _ => Values::Int(words(data).map(i64::from_le_bytes).collect()),
    }
}

struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

/// The header dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, keys in
/// any order, each once. Flat by construction: a nested descr (a structured dtype) or shape
/// is refused, not parsed.
fn parse_header(text: &[u8]) -> std::result::Result<Header, String> {
    let mut c = Cursor { s: text, i: 0 };
    c.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if c.eat(b'}') {
            break;
        }
        let key = c.string()?;
        c.expect(b':')?;
        let fresh = match key.as_str() {
            "descr" => descr.replace(c.descr()?).is_none(),
            "fortran_order" => fortran.replace(c.boolean()?).is_none(),
            "shape" => shape.replace(c.shape()?).is_none(),
            other => return Err(format!("unknown key {other:?}")),
        };
        if !fresh {
            return Err(format!("key {key:?} given twice"));
        }
        if !c.eat(b',') {
            c.expect(b'}')?;
            break;
        }
    }
    c.ws();
    if c.i != text.len() {
        return Err(format!("text after the dict at byte {}", c.i));
    }
    Ok(Header {
        descr: descr.ok_or("no 'descr'")?,
        fortran: fortran.ok_or("no 'fortran_order'")?,
        shape: shape.ok_or("no 'shape'")?,
    })
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    /// Skips blanks, then takes `b` if it is next.
    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&b);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, b: u8) -> std::result::Result<(), String> {
        if self.eat(b) {
            return Ok(());
        }
        Err(format!("expected '{}' at byte {}", b as char, self.i))
    }

    /// A quoted string without escapes (dtype strings and keys need none).
    fn string(&mut self) -> std::result::Result<String, String> {
        self.ws();
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.i)),
        };
        let body = &self.s[self.i + 1..];
        let end = body
            .iter()
            .position(|&b| b == quote || b == b'\\')
            .filter(|&e| body[e] == quote)
            .ok_or_else(|| format!("unterminated string at byte {}", self.i))?;
        self.i += end + 2;
        String::from_utf8(body[..end].to_vec()).map_err(|_| "a string that is not UTF-8".into())
    }

    fn descr(&mut self) -> std::result::Result<String, String> {
        self.ws();
        if matches!(self.s.get(self.i), Some(b'[' | b'(' | b'{')) {
            return Err(format!("a structured dtype; expected {DTYPES}"));
        }
        self.string()
    }

    fn boolean(&mut self) -> std::result::Result<bool, String> {
        self.ws();
        for (word, v) in [(&b"True"[..], true), (b"False", false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(format!("expected True or False at byte {}", self.i))
    }

    /// `()`, `(3,)`, `(3, 4)`: whole numbers (Python 2's `3L` too), at most 64 of them.
    fn shape(&mut self) -> std::result::Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(b')') {
                break;
            }
            if dims.len() == MAX_DIMS {
                return Err(format!("more than {MAX_DIMS} dimensions"));
            }
            dims.push(self.dim()?);
            if !self.eat(b',') {
                self.expect(b')')?;
                break;
            }
        }
        Ok(dims)
    }

    fn dim(&mut self) -> std::result::Result<usize, String> {
        self.ws();
        let start = self.i;
        let mut d: usize = 0;
        while let Some(&b) = self.s.get(self.i).filter(|b| b.is_ascii_digit()) {
            d = d
                .checked_mul(10)
                .and_then(|d| d.checked_add(usize::from(b - b'0')))
                .ok_or_else(|| format!("a dimension too large at byte {start}"))?;
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("expected a dimension at byte {start}"));
        }
        if matches!(self.s.get(self.i), Some(b'L' | b'l')) {
            self.i += 1;
        }
        Ok(d)
    }
}

/// A number type `.npy` files hold: its dtype and its little-endian bytes.
///
/// ```
/// use gpu_loss::npy::Element;
/// assert_eq!((f32::DESCR, f64::DESCR, i64::DESCR), ("<f4", "<f8", "<i8"));
/// ```
pub trait Element: Copy {
    /// Its NumPy dtype (`<f4`, `<f8`).
    const DESCR: &'static str;
    /// Appends its little-endian bytes.
    ///
    /// ```
    /// use gpu_loss::npy::Element;
    /// let mut out = Vec::new();
    /// 1.5f32.put(&mut out);
    /// assert_eq!(out, 1.5f32.to_le_bytes());
    /// ```
    fn put(self, out: &mut Vec<u8>);
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for f64 {
    const DESCR: &'static str = "<f8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for half::f16 {
    const DESCR: &'static str = "<f2";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// bf16 values are written as their bit patterns (NumPy has no bf16).
impl Element for u16 {
    const DESCR: &'static str = "<u2";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for i64 {
    const DESCR: &'static str = "<i8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Writes a version 1.0 `.npy` file to `w` (the header padded to 64 bytes, as NumPy does).
///
/// ```
/// let mut bytes = Vec::new();
/// gpu_loss::npy::encode(&mut bytes, &[3], &[1.0f64, 2.0, 3.0])?;
/// assert_eq!(&bytes[..6], b"\x93NUMPY");
/// assert_eq!((bytes.len() - 3 * 8) % 64, 0); // the header padded as NumPy pads it, then the data
/// assert!(gpu_loss::npy::encode(&mut Vec::new(), &[2], &[1.0f64]).is_err()); // 1 value for [2]
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn encode<T: Element>(w: &mut impl Write, shape: &[usize], data: &[T]) -> std::io::Result<()> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if count != Some(data.len()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} values for shape {shape:?}", data.len()),
        ));
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let dims = match dims.len() {
        1 => format!("{},", dims[0]),
        _ => dims.join(", "),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({dims}), }}",
        T::DESCR
    );
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let header_len = u16::try_from(header.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "shape too long"))?;
    w.write_all(MAGIC)?;
    w.write_all(&[1, 0])?;
    w.write_all(&header_len.to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in data.chunks(8192) {
        buf.clear();
        chunk.iter().for_each(|&x| x.put(&mut buf));
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Writes `data` to `path`; every write error (a full disk included) is reported.
///
/// ```
/// use gpu_loss::npy::{write_to, Array};
/// let path = std::env::temp_dir().join(format!("gpu_loss_write_to_{}.npy", std::process::id()));
/// write_to(&path, &[3], &[2i64, 0, 1])?; // class labels
/// assert_eq!(Array::read(&path)?.ints(), Some(&[2i64, 0, 1][..]));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn write_to<T: Element>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| file_error(path, e))?;
    let mut w = BufWriter::new(file);
    encode(&mut w, shape, data).map_err(|e| file_error(path, e))?;
    // into_inner flushes and reports what a dropped BufWriter would swallow.
    w.into_inner().map_err(|e| file_error(path, e.error()))?;
    Ok(())
}

/// Writes a float32 `.npy` file.
///
/// ```
/// use gpu_loss::npy::{write_f32, Array};
/// let path = std::env::temp_dir().join(format!("gpu_loss_write_f32_{}.npy", std::process::id()));
/// write_f32(&path, &[1, 2], &[0.25, -3.0])?;
/// assert_eq!(Array::read(&path)?.f32s(), [0.25, -3.0]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    write_to(path, shape, data)
}

/// Writes a float64 `.npy` file.
///
/// ```
/// use gpu_loss::npy::{write_f64, Array};
/// let path = std::env::temp_dir().join(format!("gpu_loss_write_f64_{}.npy", std::process::id()));
/// write_f64(&path, &[2], &[0.1, 1e-300])?; // what f32 cannot hold
/// assert_eq!(Array::read(&path)?.floats(), [0.1, 1e-300]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn write_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    write_to(path, shape, data)
}
