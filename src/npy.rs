//! NumPy `.npy` files in and out (float32, float64, float16, int32, int64; C order), for the
//! `gpu-loss eval` command and for tests that read framework dumps.

use crate::error::{LossError, Result};
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// An array read from a `.npy` file: its values widened to f64 or i64, and what it held.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Values,
    /// The file's dtype, as NumPy writes it (`<f4`, `<i8`, ...).
    pub dtype: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

fn file_error(path: &Path, why: impl std::fmt::Display) -> LossError {
    LossError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

impl Array {
    pub fn read(path: &Path) -> Result<Array> {
        let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
        let npy = npyz::NpyFile::new(BufReader::new(file))
            .map_err(|e| file_error(path, format!("not a .npy file ({e})")))?;
        if npy.order() != npyz::Order::C {
            return Err(file_error(path, "Fortran order; save it in C order"));
        }
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let dtype = npy.dtype().descr().trim_matches('\'').to_string();
        let read = |e: std::io::Error| file_error(path, format!("its data cannot be read ({e})"));
        let values = match dtype.as_str() {
            "<f4" => Values::Float(
                npy.into_vec::<f32>()
                    .map_err(read)?
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            ),
            "<f8" => Values::Float(npy.into_vec::<f64>().map_err(read)?),
            "<f2" => Values::Float(
                npy.into_vec::<half::f16>()
                    .map_err(read)?
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            ),
            "<i4" => Values::Int(
                npy.into_vec::<i32>()
                    .map_err(read)?
                    .into_iter()
                    .map(i64::from)
                    .collect(),
            ),
            "<i8" => Values::Int(npy.into_vec::<i64>().map_err(read)?),
            other => {
                return Err(file_error(
                    path,
                    format!("dtype {other}; expected float32, float64, float16, int32 or int64"),
                ))
            }
        };
        let len = match &values {
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
        };
        if len != shape.iter().product::<usize>() {
            return Err(file_error(
                path,
                format!("{len} values for shape {shape:?}"),
            ));
        }
        Ok(Array {
            shape,
            values,
            dtype,
        })
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_int(&self) -> bool {
        matches!(self.values, Values::Int(_))
    }

    /// The values as f64 (integers widened, as ±1 labels need).
    pub fn floats(&self) -> Vec<f64> {
        match &self.values {
            Values::Float(v) => v.clone(),
            Values::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// The values as f32, as the GPU takes them.
    pub fn f32s(&self) -> Vec<f32> {
        self.floats().into_iter().map(|x| x as f32).collect()
    }

    /// The values as class labels; a float array is not one.
    pub fn ints(&self) -> Option<&[i64]> {
        match &self.values {
            Values::Int(v) => Some(v),
            Values::Float(_) => None,
        }
    }
}

fn write<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).map_err(|e| file_error(path, e))?;
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(BufWriter::new(file))
        .begin_nd()
        .map_err(|e| file_error(path, e))?;
    w.extend(data.iter().copied())
        .map_err(|e| file_error(path, e))?;
    w.finish().map_err(|e| file_error(path, e))
}

pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    write(path, shape, data)
}

pub fn write_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    write(path, shape, data)
}
