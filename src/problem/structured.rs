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
///
/// ```
/// use gpu_loss::{catalogue::{self, Loss}, problem::structured::TvProblem, DType, Reduction};
/// let Some(Loss::Structured(tv)) = catalogue::find("total_variation") else { unreachable!() };
/// let p = TvProblem::new(tv, &[2, 32, 48], DType::F32, &[], Reduction::Mean)?;
/// assert_eq!((p.n, p.height, p.width, p.power), (2 * 32 * 48, 32, 48, 1.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::TvProblem, DType, Reduction};
    /// let Some(Loss::Structured(tv)) = catalogue::find("total_variation") else { unreachable!() };
    /// assert!(TvProblem::new(tv, &[32], DType::F32, &[], Reduction::Mean).is_err()); // no plane
    /// assert!(TvProblem::new(tv, &[4, 4], DType::I64, &[], Reduction::Mean).is_err());
    /// ```
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
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::TvProblem, DType, Reduction};
    /// let Some(Loss::Structured(tv)) = catalogue::find("total_variation") else { unreachable!() };
    /// assert_eq!(TvProblem::new(tv, &[4, 8], DType::F32, &[], Reduction::Mean)?.divisor(), 32.0);
    /// assert_eq!(TvProblem::new(tv, &[4, 8], DType::F32, &[], Reduction::Sum)?.divisor(), 1.0);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn divisor(&self) -> f64 {
        match self.reduction {
            Reduction::Mean => self.n as f64,
            _ => 1.0,
        }
    }

    /// The names its GPU checks report errors in.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::TvProblem, DType, Reduction};
    /// let Some(Loss::Structured(tv)) = catalogue::find("total_variation") else { unreachable!() };
    /// let p = TvProblem::new(tv, &[4, 8], DType::F32, &[], Reduction::Mean)?;
    /// assert_eq!((p.names().loss, p.names().input), ("total_variation", "input"));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn names(&self) -> Names {
        Names::plain(self.loss.name, 0)
    }
}

/// One call of wasserstein_1d: `u` and `v` of one shape [..., C], rows of weights.
///
/// ```no_run
/// use gpu_loss::{catalogue::{self, Loss}, problem::structured::WassersteinProblem, GpuContext, Reduction};
/// let Some(Loss::Structured(w)) = catalogue::find("wasserstein_1d") else { unreachable!() };
/// let ctx = GpuContext::new()?;
/// let u = ctx.upload(&[1.0; 4 * 16], &[4, 16])?;
/// let p = WassersteinProblem::new(w, &u, &u, &[], Reduction::Mean)?;
/// assert_eq!((p.rows, p.classes, p.dx), (4, 16, 1.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    ///
    /// ```no_run
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::WassersteinProblem, GpuContext, Reduction};
    /// let Some(Loss::Structured(w)) = catalogue::find("wasserstein_1d") else { unreachable!() };
    /// let ctx = GpuContext::new()?;
    /// let (u, v) = (ctx.upload(&[1.0; 4 * 16], &[4, 16])?, ctx.upload(&[1.0; 4 * 8], &[4, 8])?);
    /// assert!(WassersteinProblem::new(w, &u, &v, &[], Reduction::Mean).is_err()); // bins differ
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
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
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::WassersteinProblem, Reduction};
    /// let Some(Loss::Structured(loss)) = catalogue::find("wasserstein_1d") else { unreachable!() };
    /// let p = WassersteinProblem { loss, shape: vec![4, 16], rows: 4, classes: 16, dx: 1.0, reduction: Reduction::Mean };
    /// assert_eq!((p.names().input, p.names().aux), ("u", "v")); // the kernel's NaN slots
    /// ```
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
///
/// ```no_run
/// use gpu_loss::{catalogue::{self, Loss}, problem::structured::*, GpuContext, Reduction};
/// let Some(Loss::Structured(w)) = catalogue::find("wasserstein_1d_samples") else { unreachable!() };
/// let ctx = GpuContext::new()?;
/// let (u, v, vw) = (ctx.upload(&[0.0, 1.0], &[2])?, ctx.upload(&[3.0; 5], &[5])?, ctx.upload(&[1.0; 5], &[5])?);
/// let sets = SampleSets { u: &u, v: &v, u_weights: None, v_weights: Some(&vw) };
/// let p = SamplesProblem::new(w, sets, &[], Reduction::Mean)?;
/// assert_eq!((p.n, p.m), (2, 5));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
///
/// ```
/// use gpu_loss::{catalogue::{self, Loss}, problem::structured::SamplesProblem, Reduction};
/// let Some(Loss::Structured(loss)) = catalogue::find("wasserstein_1d_samples") else { unreachable!() };
/// let p = SamplesProblem { loss, n: 2, m: 5, reduction: Reduction::Mean };
/// assert_eq!(p.n + p.m, 7); // samples sorted together
/// ```
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
    ///
    /// ```no_run
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::*, GpuContext, Reduction};
    /// let Some(Loss::Structured(w)) = catalogue::find("wasserstein_1d_samples") else { unreachable!() };
    /// let ctx = GpuContext::new()?;
    /// let (u, v) = (ctx.upload(&[0.0, 1.0], &[2])?, ctx.upload(&[3.0; 5], &[5])?);
    /// let wrong = SampleSets { u: &u, v: &v, u_weights: Some(&v), v_weights: None }; // 5 weights for 2 samples
    /// assert!(SamplesProblem::new(w, wrong, &[], Reduction::Mean).is_err());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
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
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::structured::SamplesProblem, Reduction};
    /// let Some(Loss::Structured(loss)) = catalogue::find("wasserstein_1d_samples") else { unreachable!() };
    /// let names = SamplesProblem { loss, n: 2, m: 5, reduction: Reduction::Mean }.names();
    /// assert_eq!((names.input, names.weight), ("u_values", "v_values")); // the prep kernel's NaN slots
    /// ```
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
///
/// ```no_run
/// use gpu_loss::{catalogue::{self, Loss}, problem::structured::feature_dims, GpuContext};
/// let Some(Loss::Structured(gram)) = catalogue::find("gram") else { unreachable!() };
/// let ctx = GpuContext::new()?;
/// let f = ctx.upload(&vec![0.0; 2 * 64 * 256], &[2, 64, 256])?;
/// assert_eq!(feature_dims(gram, &f, "input")?, (2, 64, 256));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn feature_dims(
    loss: &'static Structured,
    t: &Tensor,
    name: &'static str,
) -> Result<(usize, usize, usize)> {
    t.dtype().expect_f32(loss.name, name)?;
    structured::feature_dims(loss.name, name, t.shape())
}
