//! Row losses (section C of LOSSES.md), validated: the shapes, the resolved parameters and the
//! reduction of one call. The kernels and the CPU reference (src/cpu/rows.rs) both take these.

use crate::catalogue::RowLoss;
use crate::error::{LossError, Result};
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::DType;

/// cross_entropy's targets: class indices `[N]` (int32 or int64) or probabilities `[N, C]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Index(DType),
    Probs,
}

/// One cross_entropy call.
#[derive(Clone, Debug)]
pub struct CrossEntropyProblem {
    pub loss: &'static RowLoss,
    /// The input's shape; its last axis is the classes.
    pub shape: Vec<usize>,
    pub rows: usize,
    pub classes: usize,
    pub target: TargetKind,
    pub has_weight: bool,
    pub ignore_index: i64,
    pub label_smoothing: f64,
    pub z_loss: f64,
    pub softcap: Option<f64>,
    pub reduction: Reduction,
}

/// A tensor as the validation sees it.
#[derive(Clone, Copy, Debug)]
pub struct TensorShape<'a> {
    pub shape: &'a [usize],
    pub dtype: DType,
}

impl CrossEntropyProblem {
    pub fn new(
        loss: &'static RowLoss,
        input: TensorShape<'_>,
        target: TensorShape<'_>,
        weight: Option<TensorShape<'_>>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<CrossEntropyProblem> {
        let p = params::resolve(loss.name, loss.params, given)?;
        if reduction == Reduction::BatchMean {
            return Err(LossError::Reduction {
                loss: loss.name,
                reduction: reduction.name().into(),
                why: "cross_entropy takes none, sum or mean",
            });
        }
        let mismatch = |tensor, got: &[usize], expected: String| LossError::ShapeMismatch {
            loss: loss.name,
            tensor,
            got: got.to_vec(),
            expected,
        };
        let dtype = |tensor, got: DType, want: &str| LossError::Buffer {
            tensor: format!("{}: {tensor}", loss.name),
            why: format!("it holds {}, expected {want}", got.name()),
        };
        if input.dtype != DType::F32 {
            return Err(dtype("input", input.dtype, "float32 logits"));
        }
        let Some((&classes, rows_shape)) = input.shape.split_last() else {
            return Err(mismatch(
                "input",
                input.shape,
                "[N, C] (at least one axis)".into(),
            ));
        };
        let rows: usize = rows_shape.iter().product();
        let target_kind = if target.shape == input.shape && target.dtype == DType::F32 {
            TargetKind::Probs
        } else if target.shape == rows_shape {
            match target.dtype {
                DType::I32 | DType::I64 => TargetKind::Index(target.dtype),
                other => return Err(dtype("target", other, "int32 or int64 class indices")),
            }
        } else {
            return Err(mismatch(
                "target",
                target.shape,
                format!(
                    "{rows_shape:?} (class indices) or {:?} (probabilities)",
                    input.shape
                ),
            ));
        };
        if let Some(w) = weight {
            if w.shape != [classes] {
                return Err(mismatch(
                    "weight",
                    w.shape,
                    format!("[{classes}], one per class"),
                ));
            }
            if w.dtype != DType::F32 {
                return Err(dtype("weight", w.dtype, "float32"));
            }
        }
        Ok(CrossEntropyProblem {
            loss,
            shape: input.shape.to_vec(),
            rows,
            classes,
            target: target_kind,
            has_weight: weight.is_some(),
            ignore_index: p[0] as i64,
            label_smoothing: p[1],
            z_loss: p[2],
            softcap: (!p[3].is_nan()).then_some(p[3]),
            reduction,
        })
    }

    pub fn names(&self) -> Names {
        Names {
            loss: self.loss.name,
            aux: "weight",
            input_domain: "its domain",
            aux_domain: "its domain",
            classes: self.classes,
        }
    }
}

/// One call of a loss of the row-statistics kernel (js_div, cosine_similarity, dice):
/// `input` and `target` of one shape `[..., C]`.
#[derive(Clone, Debug)]
pub struct RowStatsProblem {
    pub loss: &'static RowLoss,
    pub shape: Vec<usize>,
    pub rows: usize,
    pub classes: usize,
    /// Resolved parameters, in catalogue order.
    pub params: Vec<f64>,
    pub reduction: Reduction,
}

impl RowStatsProblem {
    pub fn new(
        loss: &'static RowLoss,
        input: TensorShape<'_>,
        target: TensorShape<'_>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<RowStatsProblem> {
        let params = params::resolve(loss.name, loss.params, given)?;
        if reduction == Reduction::BatchMean {
            return Err(LossError::Reduction {
                loss: loss.name,
                reduction: reduction.name().into(),
                why: "this loss takes none, sum or mean",
            });
        }
        for (name, t) in [("input", input), ("target", target)] {
            if t.dtype != DType::F32 {
                return Err(LossError::Buffer {
                    tensor: format!("{}: {name}", loss.name),
                    why: format!("it holds {}, expected float32", t.dtype.name()),
                });
            }
        }
        let Some((&classes, rows_shape)) = input.shape.split_last() else {
            return Err(LossError::ShapeMismatch {
                loss: loss.name,
                tensor: "input",
                got: input.shape.to_vec(),
                expected: "[N, C] (at least one axis)".into(),
            });
        };
        if target.shape != input.shape {
            return Err(LossError::ShapeMismatch {
                loss: loss.name,
                tensor: "target",
                got: target.shape.to_vec(),
                expected: format!("{:?}, the shape of `input`", input.shape),
            });
        }
        Ok(RowStatsProblem {
            loss,
            shape: input.shape.to_vec(),
            rows: rows_shape.iter().product(),
            classes,
            params,
            reduction,
        })
    }

    pub fn names(&self) -> Names {
        Names {
            loss: self.loss.name,
            aux: "aux",
            input_domain: "its domain",
            aux_domain: "its domain",
            classes: self.classes,
        }
    }
}
