//! What every row twin shares: the result, the shape and label checks, the compensated sum
//! and the reduction.

use crate::cpu::Compensated;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::tensor::element_count;

/// Keras's backend.epsilon(): its probability clip and the guard of its masked mean.
pub(super) const KERAS_EPSILON: f64 = 1e-7;

/// What a row loss computes on the CPU.
///
/// ```
/// use gpu_loss::{cpu::rows::dice, Reduction};
/// let r = dice(&[1.0, 0.0, 0.0, 1.0], 2, &[1.0, 0.0, 1.0, 0.0], Reduction::None)?;
/// assert_eq!(r.value, None); // `none`: the per-row losses instead
/// assert!((r.rows.unwrap()[1] - 1.0).abs() < 1e-12 && r.grads.len() == 1);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RowResult {
    /// The reduced value; None for `Reduction::None`.
    pub value: Option<f64>,
    /// For `Reduction::None`: the per-row losses `[N]` (kl_div: the per-element terms `[N·C]`).
    pub rows: Option<Vec<f64>>,
    /// The gradient of the reduced loss (for `none`: of the sum of the unreduced losses) with
    /// respect to each prediction tensor, each of that tensor's length, in the order the loss
    /// names them: `[input]` for most; `[input1, input2]` for cosine_embedding;
    /// `[anchor, positive, negative]` for triplet_margin.
    pub grads: Vec<Vec<f64>>,
}

// ---------------------------------------------------------------------------------------------
// Checks and reductions shared by every loss

/// An `[..., C]` tensor's rows: (N, C), the leading axes flattened. C = 0 is refused, as
/// every row twin refuses it (no label lies in [0, 0), no row of nothing normalises); a shape
/// whose count overflows usize is refused too. The GPU path's validation applies this rule.
///
/// ```
/// use gpu_loss::cpu::rows::class_rows;
/// assert_eq!(class_rows("nll", "input", &[2, 3, 10])?, (6, 10));
/// assert!(class_rows("nll", "input", &[4, 0]).is_err()); // no class
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn class_rows(
    loss: &'static str,
    tensor: &'static str,
    shape: &[usize],
) -> Result<(usize, usize)> {
    element_count(&format!("{loss}: {tensor}"), shape)?;
    let mismatch = |expected: &str| LossError::ShapeMismatch {
        loss,
        tensor,
        got: shape.to_vec(),
        expected: expected.into(),
    };
    match shape.split_last() {
        None => Err(mismatch("[N, C] (at least one axis)")),
        Some((0, _)) => Err(mismatch(NO_CLASSES)),
        Some((&c, rows)) => Ok((rows.iter().product(), c)),
    }
}

/// What a row tensor with no class is told.
const NO_CLASSES: &str = "[N, C] with C >= 1";

/// The row count N of an [N, C] tensor of `len` values.
pub(super) fn row_count(
    loss: &'static str,
    tensor: &'static str,
    len: usize,
    classes: usize,
) -> Result<usize> {
    if classes == 0 || !len.is_multiple_of(classes) {
        return Err(LossError::ShapeMismatch {
            loss,
            tensor,
            got: vec![len],
            expected: if classes == 0 {
                NO_CLASSES.into()
            } else {
                format!("[N, {classes}]: a multiple of {classes} values")
            },
        });
    }
    Ok(len / classes)
}

pub(super) fn expect_len(
    loss: &'static str,
    tensor: &'static str,
    len: usize,
    want: usize,
    expected: impl FnOnce() -> String,
) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(LossError::ShapeMismatch {
            loss,
            tensor,
            got: vec![len],
            expected: expected(),
        })
    }
}

/// A tensor with one value per row.
pub(super) fn per_row(n: usize) -> impl FnOnce() -> String {
    move || format!("[{n}] (one value per row of the input)")
}

/// A tensor shaped like the [N, C] input.
pub(super) fn like_input(n: usize, c: usize) -> impl FnOnce() -> String {
    move || format!("[{n}, {c}] ({} values, like the input)", n * c)
}

/// The checks of a loss over `input` and `target` rows of one shape, in the documented order:
/// the shapes, then `params` (the loss's own), then NaN in either tensor. Returns N.
pub(super) fn paired_rows(
    loss: &'static str,
    x: &[f64],
    target: &[f64],
    classes: usize,
    params: impl FnOnce() -> Result<()>,
) -> Result<usize> {
    let n = row_count(loss, "input", x.len(), classes)?;
    expect_len(
        loss,
        "target",
        target.len(),
        n * classes,
        like_input(n, classes),
    )?;
    params()?;
    no_nan(loss, "input", x)?;
    no_nan(loss, "target", target)?;
    Ok(n)
}

pub(crate) fn no_nan(loss: &'static str, tensor: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| x.is_nan()) {
        Some(i) => Err(LossError::NaN {
            loss,
            tensor,
            index: i as u64,
        }),
        None => Ok(()),
    }
}

/// Every label in [0, C) or equal to `ignored`; the error names the first row that is not.
pub(super) fn check_labels(
    loss: &'static str,
    labels: &[i64],
    classes: usize,
    ignored: Option<i64>,
) -> Result<()> {
    let bad = labels
        .iter()
        .position(|&y| Some(y) != ignored && !(0..classes as i64).contains(&y));
    match bad {
        Some(row) => Err(LossError::LabelOutOfRange {
            loss,
            row: row as u64,
            label: labels[row],
            classes,
        }),
        None => Ok(()),
    }
}

/// A compensated sum: the reference's sums are exact to a few ulp.
pub(crate) fn sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut s = Compensated::default();
    values.into_iter().for_each(|x| s.add(x));
    s.value()
}

/// How the per-row losses combine: `mean` (and `batchmean`) divide their sum by `divisor`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reducer {
    reduction: Reduction,
    divisor: f64,
}

impl Reducer {
    pub(crate) fn new(reduction: Reduction, divisor: f64) -> Self {
        Reducer { reduction, divisor }
    }

    /// The factor the reduction puts on each row's gradient.
    pub(crate) fn scale(self) -> f64 {
        match self.reduction {
            Reduction::Mean | Reduction::BatchMean => 1.0 / self.divisor,
            Reduction::None | Reduction::Sum => 1.0,
        }
    }

    /// With an empty input the sum is 0 and the mean 0/0 = NaN, as LOSSES.md asks.
    pub(crate) fn finish(self, rows: Vec<f64>, grads: Vec<Vec<f64>>) -> RowResult {
        let value = match self.reduction {
            Reduction::None => None,
            Reduction::Sum => Some(sum(rows.iter().copied())),
            Reduction::Mean | Reduction::BatchMean => {
                Some(sum(rows.iter().copied()) / self.divisor)
            }
        };
        RowResult {
            value,
            rows: (self.reduction == Reduction::None).then_some(rows),
            grads,
        }
    }
}

/// d clip(v, lo, hi) / dv as JAX's clip (maximum, then minimum) gives it, which is what
/// Keras's autodiff sees: 1 inside, 0 outside, and 1/2 at a bound (lax.max/min split ties).
pub(super) fn clip_slope(v: f64, lo: f64, hi: f64) -> f64 {
    let at_lo = if v > lo {
        1.0
    } else if v == lo {
        0.5
    } else {
        0.0
    };
    let m = v.max(lo);
    let at_hi = if m < hi {
        1.0
    } else if m == hi {
        0.5
    } else {
        0.0
    };
    at_lo * at_hi
}
