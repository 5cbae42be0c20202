//! Row losses (section C of LOSSES.md), validated: the shapes, the resolved parameters and the
//! reduction of one call, which the row kernels take. The float64 twins (src/cpu/rows/) check
//! the same parameter rules through `params::Rule`.

use crate::catalogue::{RowKernel, RowLoss};
use crate::cpu::rows::class_rows;
use crate::error::{LossError, Result};
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::DType;

/// cross_entropy's targets: class indices `[N]` (int32 or int64) or probabilities `[N, C]`.
///
/// ```
/// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
/// let Some(Loss::Row(ce)) = catalogue::find("cross_entropy") else { unreachable!() };
/// let input = TensorShape { shape: &[8, 10], dtype: DType::F32 };
/// let labels = TensorShape { shape: &[8], dtype: DType::I64 };
/// let p = CrossEntropyProblem::new(ce, input, labels, None, &[], Reduction::Mean)?;
/// assert_eq!(p.target, TargetKind::Index(DType::I64));
/// let p = CrossEntropyProblem::new(ce, input, input, None, &[], Reduction::Mean)?;
/// assert_eq!(p.target, TargetKind::Probs); // probabilities, the input's shape
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Class indices of this dtype, one per row.
    Index(DType),
    /// Class probabilities, the input's shape.
    Probs,
}

/// One call of a class-label loss of the cross-entropy kernel: cross_entropy, nll,
/// sparse_categorical_cross_entropy.
///
/// ```
/// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
/// let Some(Loss::Row(nll)) = catalogue::find("nll") else { unreachable!() };
/// let input = TensorShape { shape: &[2, 8, 10], dtype: DType::F32 };
/// let labels = TensorShape { shape: &[2, 8], dtype: DType::I32 };
/// let p = CrossEntropyProblem::new(nll, input, labels, None, &[], Reduction::Mean)?;
/// assert_eq!((p.rows, p.classes, p.ignore_index), (16, 10, Some(-100)));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CrossEntropyProblem {
    /// The catalogue entry.
    pub loss: &'static RowLoss,
    /// Its row kernel.
    pub kernel: RowKernel,
    /// The input's shape; its last axis is the classes.
    pub shape: Vec<usize>,
    /// Rows (the product of the leading axes).
    pub rows: usize,
    /// Classes (the last axis).
    pub classes: usize,
    /// What the target holds.
    pub target: TargetKind,
    /// Whether class weights were given.
    pub has_weight: bool,
    /// The label whose rows count for nothing (None: every row counts).
    pub ignore_index: Option<i64>,
    /// Label smoothing in [0, 1].
    pub label_smoothing: f64,
    /// The z-loss weight (Liger-Kernel); 0 for none.
    pub z_loss: f64,
    /// Logit soft-capping (Liger-Kernel), if given.
    pub softcap: Option<f64>,
    /// The reduction.
    pub reduction: Reduction,
    /// A weight on the reduced loss and its gradient (a term's, in an objective); 1 otherwise.
    pub scale: f64,
}

/// A tensor as the validation sees it.
///
/// ```
/// use gpu_loss::{problem::rows::TensorShape, DType};
/// let logits = TensorShape { shape: &[8, 10], dtype: DType::F32 };
/// assert_eq!(logits.shape.last(), Some(&10)); // classes
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TensorShape<'a> {
    /// Its shape.
    pub shape: &'a [usize],
    /// Its dtype.
    pub dtype: DType,
}

impl CrossEntropyProblem {
    /// Validates the tensors, parameters and reduction: the call, or the typed error.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, params::ParamValue, problem::rows::*, DType, Reduction};
    /// let Some(Loss::Row(ce)) = catalogue::find("cross_entropy") else { unreachable!() };
    /// let input = TensorShape { shape: &[8, 10], dtype: DType::F32 };
    /// let labels = TensorShape { shape: &[8], dtype: DType::I64 };
    /// let smoothing = [("label_smoothing".to_string(), ParamValue::Number(0.1))];
    /// assert_eq!(CrossEntropyProblem::new(ce, input, labels, None, &smoothing, Reduction::Sum)?.label_smoothing, 0.1);
    /// let three = TensorShape { shape: &[3], dtype: DType::I64 }; // not one label per row
    /// assert!(CrossEntropyProblem::new(ce, input, three, None, &[], Reduction::Sum).is_err());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn new(
        loss: &'static RowLoss,
        input: TensorShape<'_>,
        target: TensorShape<'_>,
        weight: Option<TensorShape<'_>>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<CrossEntropyProblem> {
        let p = params::resolve(loss.name, loss.params, given)?;
        params::no_batchmean(loss.name, reduction)?;
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
        if !input.dtype.is_float() {
            return Err(dtype("input", input.dtype, "float logits"));
        }
        let (rows, classes) = class_rows(loss.name, "input", input.shape)?;
        let rows_shape = &input.shape[..input.shape.len() - 1];
        let labels_only = loss.kernel != RowKernel::CrossEntropy;
        let target_kind = if target.shape == input.shape && target.dtype.is_float() && !labels_only
        {
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
        if weight.is_some() && loss.kernel == RowKernel::SparseCategorical {
            return Err(LossError::UnexpectedTensor {
                loss: loss.name,
                tensor: "weight".into(),
                takes: crate::catalogue::names(loss.tensors).join(", "),
            });
        }
        if let Some(w) = weight {
            if w.shape != [classes] {
                return Err(mismatch(
                    "weight",
                    w.shape,
                    format!("[{classes}], one per class"),
                ));
            }
            if !w.dtype.is_float() {
                return Err(dtype("weight", w.dtype, "floats"));
            }
        }
        // Parameters in catalogue order: cross_entropy's four, nll's ignore_index, sparse's
        // ignore_class (NaN: none).
        let param = |i: usize| p.get(i).copied().unwrap_or(0.0);
        Ok(CrossEntropyProblem {
            loss,
            kernel: loss.kernel,
            shape: input.shape.to_vec(),
            rows,
            classes,
            target: target_kind,
            has_weight: weight.is_some(),
            ignore_index: (!p[0].is_nan()).then_some(p[0] as i64),
            label_smoothing: param(1),
            z_loss: param(2),
            softcap: p.get(3).filter(|s| !s.is_nan()).copied(),
            reduction,
            scale: 1.0,
        })
    }

    /// The names its GPU checks report errors in.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
    /// let Some(Loss::Row(ce)) = catalogue::find("cross_entropy") else { unreachable!() };
    /// let (input, labels) = (TensorShape { shape: &[8, 10], dtype: DType::F32 }, TensorShape { shape: &[8], dtype: DType::I64 });
    /// let names = CrossEntropyProblem::new(ce, input, labels, None, &[], Reduction::Mean)?.names();
    /// assert_eq!((names.aux, names.classes), ("weight", 10)); // class weights ride in the aux slot
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn names(&self) -> Names {
        Names {
            aux: "weight",
            ..Names::plain(self.loss.name, self.classes)
        }
    }
}

/// One call of a loss of the row-statistics kernel (js_div, cosine_similarity, dice):
/// `input` and `target` of one shape `[..., C]`.
///
/// ```
/// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
/// let Some(Loss::Row(js)) = catalogue::find("js_div") else { unreachable!() };
/// let rows = TensorShape { shape: &[4, 5, 6], dtype: DType::F32 };
/// let p = RowStatsProblem::new(js, rows, rows, &[], Reduction::Mean)?;
/// assert_eq!((p.rows, p.classes, p.params.clone()), (20, 6, vec![0.5, 0.0])); // beta, log_input
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RowStatsProblem {
    /// The catalogue entry.
    pub loss: &'static RowLoss,
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Rows (the product of the leading axes).
    pub rows: usize,
    /// Elements per row (the last axis).
    pub classes: usize,
    /// Resolved parameters, in catalogue order.
    pub params: Vec<f64>,
    /// The reduction.
    pub reduction: Reduction,
}

impl RowStatsProblem {
    /// Validates the tensors, parameters and reduction: the call, or the typed error.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
    /// let Some(Loss::Row(dice)) = catalogue::find("dice") else { unreachable!() };
    /// let (x, y) = (TensorShape { shape: &[4, 6], dtype: DType::F32 }, TensorShape { shape: &[4, 5], dtype: DType::F32 });
    /// assert!(RowStatsProblem::new(dice, x, x, &[], Reduction::Sum).is_ok());
    /// assert!(RowStatsProblem::new(dice, x, y, &[], Reduction::Sum).is_err()); // shapes differ
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn new(
        loss: &'static RowLoss,
        input: TensorShape<'_>,
        target: TensorShape<'_>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<RowStatsProblem> {
        let params = params::resolve(loss.name, loss.params, given)?;
        params::no_batchmean(loss.name, reduction)?;
        for (name, t) in [("input", input), ("target", target)] {
            t.dtype.expect_float(loss.name, name)?;
        }
        let (rows, classes) = class_rows(loss.name, "input", input.shape)?;
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
            rows,
            classes,
            params,
            reduction,
        })
    }

    /// The names its GPU checks report errors in.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
    /// let Some(Loss::Row(dice)) = catalogue::find("dice") else { unreachable!() };
    /// let x = TensorShape { shape: &[4, 6], dtype: DType::F32 };
    /// let names = RowStatsProblem::new(dice, x, x, &[], Reduction::Mean)?.names();
    /// assert_eq!((names.loss, names.input, names.classes), ("dice", "input", 6));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn names(&self) -> Names {
        Names::plain(self.loss.name, self.classes)
    }
}

/// One call of a loss of the row-tuples kernel (cosine_embedding, triplet_margin): two or
/// three tensors of one shape `[..., C]` (named as the catalogue names them), and for
/// cosine_embedding float32 labels `target` of the rows' shape.
///
/// ```
/// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
/// let Some(Loss::Row(triplet)) = catalogue::find("triplet_margin") else { unreachable!() };
/// let rows = TensorShape { shape: &[16, 32], dtype: DType::F32 };
/// let p = TupleProblem::new(triplet, &[("anchor", rows), ("positive", rows), ("negative", rows)], None, &[], Reduction::Mean)?;
/// assert_eq!((p.rows, p.classes, p.tensors, p.has_labels), (16, 32, 3, false));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TupleProblem {
    /// The catalogue entry.
    pub loss: &'static RowLoss,
    /// The tensors' shape.
    pub shape: Vec<usize>,
    /// Rows (the product of the leading axes).
    pub rows: usize,
    /// Elements per row (the last axis).
    pub classes: usize,
    /// How many tensors get a gradient (2 or 3).
    pub tensors: usize,
    /// Whether it takes ±1 labels (cosine_embedding's `target`).
    pub has_labels: bool,
    /// Resolved parameters, in catalogue order.
    pub params: Vec<f64>,
    /// The reduction.
    pub reduction: Reduction,
}

impl TupleProblem {
    /// `rows_tensors` are the differentiable tensors in catalogue order, `labels` the
    /// per-row `target` where the loss takes one.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
    /// let Some(Loss::Row(cos)) = catalogue::find("cosine_embedding") else { unreachable!() };
    /// let rows = TensorShape { shape: &[16, 32], dtype: DType::F32 };
    /// let labels = TensorShape { shape: &[16], dtype: DType::F32 }; // ±1, one per row
    /// let pair = [("input1", rows), ("input2", rows)];
    /// assert!(TupleProblem::new(cos, &pair, Some(labels), &[], Reduction::Mean)?.has_labels);
    /// assert!(TupleProblem::new(cos, &pair, Some(rows), &[], Reduction::Mean).is_err());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn new(
        loss: &'static RowLoss,
        row_tensors: &[(&'static str, TensorShape<'_>)],
        labels: Option<TensorShape<'_>>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<TupleProblem> {
        let params = params::resolve(loss.name, loss.params, given)?;
        params::no_batchmean(loss.name, reduction)?;
        let label = labels.map(|l| ("target", l));
        for &(name, t) in row_tensors.iter().chain(label.iter()) {
            t.dtype.expect_float(loss.name, name)?;
        }
        let (first, first_shape) = row_tensors[0];
        let (rows, classes) = class_rows(loss.name, first, first_shape.shape)?;
        let rows_shape = &first_shape.shape[..first_shape.shape.len() - 1];
        for &(name, t) in &row_tensors[1..] {
            if t.shape != first_shape.shape {
                return Err(LossError::ShapeMismatch {
                    loss: loss.name,
                    tensor: name,
                    got: t.shape.to_vec(),
                    expected: format!("{:?}, the shape of `{first}`", first_shape.shape),
                });
            }
        }
        if let Some(l) = labels {
            if l.shape != rows_shape {
                return Err(LossError::ShapeMismatch {
                    loss: loss.name,
                    tensor: "target",
                    got: l.shape.to_vec(),
                    expected: format!("{rows_shape:?}, one label per row of `{first}`"),
                });
            }
        }
        Ok(TupleProblem {
            loss,
            shape: first_shape.shape.to_vec(),
            rows,
            classes,
            tensors: row_tensors.len(),
            has_labels: labels.is_some(),
            params,
            reduction,
        })
    }

    /// The kernel flags NaN in its first, second and third tensors (or labels) in the input,
    /// weight and aux slots, which report in that order, as the reference checks them.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::rows::*, DType, Reduction};
    /// let Some(Loss::Row(triplet)) = catalogue::find("triplet_margin") else { unreachable!() };
    /// let rows = TensorShape { shape: &[16, 32], dtype: DType::F32 };
    /// let p = TupleProblem::new(triplet, &[("anchor", rows), ("positive", rows), ("negative", rows)], None, &[], Reduction::Mean)?;
    /// // The kernel's three NaN slots name the three tensors.
    /// assert_eq!((p.names().input, p.names().weight, p.names().aux), ("anchor", "positive", "negative"));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn names(&self) -> Names {
        let tensors = self.loss.grads;
        Names {
            input: tensors[0],
            weight: tensors[1],
            aux: tensors.get(2).copied().unwrap_or("target"),
            target_domain: "{-1, 1}",
            ..Names::plain(self.loss.name, self.classes)
        }
    }
}
