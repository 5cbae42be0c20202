//! Image losses (section F), validated: total_variation over `[..., H, W]`.

use crate::catalogue::Structured;
use crate::error::{LossError, Result};
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::DType;

/// One call of total_variation: Σ |x[i, j+1] − x[i, j]|^p + |x[i+1, j] − x[i, j]|^p over the
/// last two axes of `input`, every leading axis a separate image plane. `none` gives each
/// pixel its right and down terms (the input's shape); `mean` divides by the element count.
#[derive(Clone, Debug)]
pub struct TvProblem {
    pub loss: &'static Structured,
    pub shape: Vec<usize>,
    pub n: usize,
    pub height: usize,
    pub width: usize,
    pub power: f64,
    pub reduction: Reduction,
}

impl TvProblem {
    pub fn new(
        loss: &'static Structured,
        shape: &[usize],
        dtype: DType,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<TvProblem> {
        let p = params::resolve(loss.name, loss.params, given)?;
        params::no_batchmean(loss.name, reduction)?;
        dtype.expect_f32(loss.name, "input")?;
        let [.., height, width] = shape else {
            return Err(LossError::ShapeMismatch {
                loss: loss.name,
                tensor: "input",
                got: shape.to_vec(),
                expected: "[..., H, W] (at least two axes)".into(),
            });
        };
        Ok(TvProblem {
            loss,
            shape: shape.to_vec(),
            n: shape.iter().product(),
            height: *height,
            width: *width,
            power: p[0],
            reduction,
        })
    }

    /// What the sum is divided by; 0 means NaN (a mean over nothing).
    pub fn divisor(&self) -> f64 {
        match self.reduction {
            Reduction::Mean => self.n as f64,
            _ => 1.0,
        }
    }

    pub fn names(&self) -> Names {
        Names {
            loss: self.loss.name,
            weight: "weight",
            input: "input",
            target: "target",
            aux: "aux",
            input_domain: "its domain",
            aux_domain: "its domain",
            target_domain: "its domain",
            classes: 0,
        }
    }
}
