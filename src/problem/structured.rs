//! Sections D and F, validated: total_variation over `[..., H, W]`, wasserstein_1d's rows,
//! wasserstein_1d_samples' sets, and the feature maps of gram and style_loss.

use crate::catalogue::Structured;
use crate::cpu::structured::{self, SAMPLE_WEIGHTS};
use crate::error::{LossError, Result};
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::{element_count, DType, Tensor};

/// One call of total_variation: Σ |x[i, j+1] − x[i, j]|^p + |x[i+1, j] − x[i, j]|^p over the
/// last two axes of `input`, every leading axis a separate image plane. `none` gives each
/// pixel its right and down terms (the input's shape); `mean` divides by the element count.
#[derive(Clone, Debug)]
pub struct TvProblem {
    /// The catalogue entry.
    pub loss: &'static Structured,
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Its element count.
    pub n: usize,
    /// Plane height (the second-to-last axis).
    pub height: usize,
    /// Plane width (the last axis).
    pub width: usize,
    /// The power each difference is raised to.
    pub power: f64,
    /// The reduction.
    pub reduction: Reduction,
}

impl TvProblem {
    /// Validates the input, parameters and reduction: the call, or the typed error.
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
            n: element_count(&format!("{}: input", loss.name), shape)?,
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

    /// The names its GPU checks report errors in.
    pub fn names(&self) -> Names {
        Names::plain(self.loss.name, 0)
    }
}

/// One call of wasserstein_1d: `u` and `v` of one shape [..., C], rows of weights.
#[derive(Clone, Debug)]
pub struct WassersteinProblem {
    /// The catalogue entry.
    pub loss: &'static Structured,
    /// The tensors' shape.
    pub shape: Vec<usize>,
    /// Histograms (the product of the leading axes).
    pub rows: usize,
    /// Bins per histogram (the last axis).
    pub classes: usize,
    /// The bins' spacing.
    pub dx: f64,
    /// The reduction.
    pub reduction: Reduction,
}

impl WassersteinProblem {
    /// Validates the tensors, parameters and reduction: the call, or the typed error.
    pub fn new(
        loss: &'static Structured,
        u: &Tensor,
        v: &Tensor,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<WassersteinProblem> {
        let p = params::resolve(loss.name, loss.params, given)?;
        params::no_batchmean(loss.name, reduction)?;
        for (name, t) in [("u", u), ("v", v)] {
            t.dtype().expect_f32(loss.name, name)?;
        }
        let (rows, classes) = structured::histogram_rows(u.shape(), v.shape())?;
        Ok(WassersteinProblem {
            loss,
            shape: u.shape().to_vec(),
            rows,
            classes,
            dx: p[0],
            reduction,
        })
    }

    /// The names its GPU checks report errors in.
    pub fn names(&self) -> Names {
        Names {
            loss: self.loss.name,
            weight: "weight",
            input: "u",
            target: "u and v",
            aux: "v",
            input_domain: "non-negative weights",
            aux_domain: "non-negative weights",
            target_domain: structured::POSITIVE_MASS,
            classes: self.classes,
        }
    }
}

/// wasserstein_1d_samples' tensors: the two sample sets and their optional weights.
#[derive(Clone, Copy)]
pub struct SampleSets<'a> {
    /// The first sample set.
    pub u: &'a Tensor,
    /// The second sample set.
    pub v: &'a Tensor,
    /// Weights of `u`'s samples, if given.
    pub u_weights: Option<&'a Tensor>,
    /// Weights of `v`'s samples, if given.
    pub v_weights: Option<&'a Tensor>,
}

/// One call: `n` samples of u and `m` of v, each set weighted or not.
#[derive(Clone, Debug)]
pub struct SamplesProblem {
    /// The catalogue entry.
    pub loss: &'static Structured,
    /// Samples in `u`.
    pub n: usize,
    /// Samples in `v`.
    pub m: usize,
    /// The reduction.
    pub reduction: Reduction,
}

impl SamplesProblem {
    /// Checks dtypes and shapes: samples are 1-D (or flattened), at least one per set, and
    /// weights have their samples' shape.
    pub fn new(
        loss: &'static Structured,
        t: SampleSets<'_>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<SamplesProblem> {
        params::resolve(loss.name, loss.params, given)?;
        params::no_batchmean(loss.name, reduction)?;
        let sets = [
            ("u_values", t.u, "u_weights", t.u_weights),
            ("v_values", t.v, "v_weights", t.v_weights),
        ];
        for (name, values, wname, weights) in sets {
            values.dtype().expect_f32(loss.name, name)?;
            if values.is_empty() {
                return Err(LossError::ShapeMismatch {
                    loss: loss.name,
                    tensor: name,
                    got: values.shape().to_vec(),
                    expected: "[n], n ≥ 1 (a distribution needs a sample)".into(),
                });
            }
            if let Some(w) = weights {
                w.dtype().expect_f32(loss.name, wname)?;
                if w.shape() != values.shape() {
                    return Err(LossError::ShapeMismatch {
                        loss: loss.name,
                        tensor: wname,
                        got: w.shape().to_vec(),
                        expected: format!("{:?}, the shape of `{name}`", values.shape()),
                    });
                }
            }
        }
        Ok(SamplesProblem {
            loss,
            n: t.u.len(),
            m: t.v.len(),
            reduction,
        })
    }

    /// The status slots as samples_prep.wgsl uses them.
    pub fn names(&self) -> Names {
        Names {
            loss: self.loss.name,
            weight: "v_values",
            input: "u_values",
            target: "v_weights",
            aux: "u_weights",
            input_domain: "finite samples",
            aux_domain: SAMPLE_WEIGHTS,
            target_domain: SAMPLE_WEIGHTS,
            classes: 0,
        }
    }
}

/// Feature maps `[C, M]` or `[B, C, M]` of gram and style_loss: (batch, channels, positions).
pub fn feature_dims(
    loss: &'static Structured,
    t: &Tensor,
    name: &'static str,
) -> Result<(usize, usize, usize)> {
    t.dtype().expect_f32(loss.name, name)?;
    structured::feature_dims(loss.name, name, t.shape())
}
