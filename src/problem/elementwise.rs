//! One elementwise call, validated: the loss, the shapes, the resolved parameters and the
//! reduction. The kernel and the CPU reference both evaluate a `Problem`, so they agree on
//! everything but arithmetic, and bad input is refused the same way on both paths.

use crate::catalogue::{Broadcast, Elementwise};
use crate::error::{LossError, Result};
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::element_count;

/// Where element i finds its extra tensor (var, pos_weight): at ((i / div) % modulo).
///
/// ```
/// use gpu_loss::{catalogue, problem::{AuxLayout, Problem, Shapes}, Reduction};
/// // gaussian_nll's var, one per row of a [4, 3] input: element i reads var[(i / 3) % 4].
/// let shapes = Shapes { input: &[4, 3], target: &[4, 3], weight: None, aux: Some(&[4]) };
/// let p = Problem::new(catalogue::elementwise("gaussian_nll").unwrap(), shapes, &[], Reduction::Mean)?;
/// assert_eq!(p.aux, Some(AuxLayout::Broadcast { div: 3, modulo: 4 }));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxLayout {
    /// Same shape as the input: element i reads `aux[i]`.
    Full,
    /// Broadcast: element i reads aux[(i / div) % modulo].
    Broadcast {
        /// Elements sharing one aux value in a run.
        div: u32,
        /// The aux tensor's length.
        modulo: u32,
    },
}

#[derive(Clone, Debug)]
/// One validated call of an elementwise loss: what its kernel needs, parameters resolved.
///
/// ```
/// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
/// let shapes = Shapes { input: &[4, 3], target: &[4, 3], weight: Some(&[4, 3]), aux: None };
/// let p = Problem::new(catalogue::elementwise("huber").unwrap(), shapes, &[], Reduction::Sum)?;
/// assert_eq!((p.n, p.params.clone(), p.has_weight), (12, vec![1.0], true)); // delta's default
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct Problem {
    /// The catalogue entry.
    pub loss: &'static Elementwise,
    /// The input's shape.
    pub shape: Vec<usize>,
    /// Its element count.
    pub n: usize,
    /// Resolved parameters, in catalogue order.
    pub params: Vec<f64>,
    /// Whether a `weight` tensor was given.
    pub has_weight: bool,
    /// Where elements find the extra tensor (`var`, `pos_weight`), if given.
    pub aux: Option<AuxLayout>,
    /// The reduction.
    pub reduction: Reduction,
    /// A weight on the reduced loss and its gradient (a term's, in an objective); 1 otherwise.
    pub scale: f64,
}

/// The shapes a caller passes; None for an absent optional tensor.
///
/// ```
/// use gpu_loss::problem::Shapes;
/// let shapes = Shapes { input: &[8, 10], target: &[8, 10], weight: None, aux: Some(&[10]) };
/// assert_eq!(shapes.aux, Some(&[10][..])); // e.g. bce_with_logits' pos_weight, per class
/// ```
pub struct Shapes<'a> {
    /// The input's shape.
    pub input: &'a [usize],
    /// The target's shape.
    pub target: &'a [usize],
    /// The weight's shape, if given.
    pub weight: Option<&'a [usize]>,
    /// The extra tensor's shape, if given.
    pub aux: Option<&'a [usize]>,
}

/// Elements addressable by the kernels' u32 indices (!index marks a status slot, so not 2^32 - 1).
pub const MAX_ELEMENTS: usize = u32::MAX as usize - 1;

impl Problem {
    /// Validates shapes, parameters and reduction against the entry: the call, or the typed error.
    ///
    /// ```
    /// use gpu_loss::{catalogue, params::ParamValue, problem::{Problem, Shapes}, LossError, Reduction};
    /// let mse = catalogue::elementwise("mse").unwrap();
    /// let wrong = Shapes { input: &[4, 3], target: &[3, 4], weight: None, aux: None };
    /// assert!(matches!(Problem::new(mse, wrong, &[], Reduction::Mean), Err(LossError::ShapeMismatch { .. })));
    /// let shapes = Shapes { input: &[4], target: &[4], weight: None, aux: None };
    /// let bad = [("delta".to_string(), ParamValue::Number(-1.0))]; // delta must be positive
    /// assert!(Problem::new(catalogue::elementwise("huber").unwrap(), shapes, &bad, Reduction::Mean).is_err());
    /// ```
    pub fn new(
        loss: &'static Elementwise,
        shapes: Shapes<'_>,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<Problem> {
        let params = params::resolve(loss.name, loss.params, given)?;
        if reduction == Reduction::BatchMean && !loss.batchmean {
            return Err(LossError::Reduction {
                loss: loss.name,
                reduction: reduction.name().into(),
                why: "batchmean is kl_div's; this loss takes none, sum or mean",
            });
        }
        let shape = shapes.input.to_vec();
        let n = element_count(&format!("{}: input", loss.name), &shape)?;
        if n > MAX_ELEMENTS {
            return Err(LossError::Limit {
                what: format!("{}: input of {n} elements", loss.name),
                needed: n as u64,
                limit: MAX_ELEMENTS as u64,
            });
        }
        let same = |tensor: &'static str, got: &[usize]| {
            if got == shapes.input {
                Ok(())
            } else {
                Err(LossError::ShapeMismatch {
                    loss: loss.name,
                    tensor,
                    got: got.to_vec(),
                    expected: format!("{:?}, the shape of `input`", shapes.input),
                })
            }
        };
        same("target", shapes.target)?;
        if let Some(w) = shapes.weight {
            same("weight", w)?;
        }
        // `aux_layout` multiplies the aux tensor's axes too.
        if let (Some(spec), Some(got)) = (loss.aux, shapes.aux) {
            element_count(&format!("{}: {}", loss.name, spec.name), got)?;
        }
        let aux = match (loss.aux, shapes.aux) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(LossError::UnexpectedTensor {
                    loss: loss.name,
                    tensor: "aux".into(),
                    takes: "input, target, weight".into(),
                })
            }
            (Some(spec), None) if spec.required => {
                return Err(LossError::MissingTensor {
                    loss: loss.name,
                    tensor: spec.name,
                })
            }
            (Some(_), None) => None,
            (Some(spec), Some(got)) => Some(aux_layout(&shape, got, spec.broadcast).ok_or_else(
                || LossError::ShapeMismatch {
                    loss: loss.name,
                    tensor: spec.name,
                    got: got.to_vec(),
                    expected: match spec.broadcast {
                        Broadcast::PerRow => format!(
                            "{:?}, or one value per row ({:?} or with a last axis of 1), or one value",
                            shape,
                            shape.split_last().map(|(_, r)| r).unwrap_or(&[])
                        ),
                        Broadcast::PerColumn => format!(
                            "{:?}, or one value per class ([{}]), or one value",
                            shape,
                            shape.last().copied().unwrap_or(1)
                        ),
                    },
                },
            )?),
        };
        Ok(Problem {
            loss,
            shape,
            n,
            params,
            has_weight: shapes.weight.is_some(),
            aux,
            reduction,
            scale: 1.0,
        })
    }

    /// The element of the aux tensor that element i reads.
    ///
    /// ```
    /// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
    /// let shapes = Shapes { input: &[4, 3], target: &[4, 3], weight: None, aux: Some(&[4]) };
    /// let p = Problem::new(catalogue::elementwise("gaussian_nll").unwrap(), shapes, &[], Reduction::Mean)?;
    /// assert_eq!(p.aux_index(7), 2); // element 7 is in row 2: it reads var[2]
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn aux_index(&self, i: usize) -> usize {
        match self.aux {
            Some(AuxLayout::Broadcast { div, modulo }) => (i / div as usize) % modulo as usize,
            _ => i,
        }
    }

    /// Rows: every axis but the last (batchmean's divisor).
    ///
    /// ```
    /// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
    /// let shapes = Shapes { input: &[2, 4, 3], target: &[2, 4, 3], weight: None, aux: None };
    /// let p = Problem::new(catalogue::elementwise("kl_div").unwrap(), shapes, &[], Reduction::BatchMean)?;
    /// assert_eq!(p.rows(), 8);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn rows(&self) -> usize {
        match self.shape.split_last() {
            Some((_, rows)) => rows.iter().product(),
            None => 1,
        }
    }

    /// The gradient is that of the reduced loss: mean scales every element by 1/n, batchmean
    /// by 1/rows.
    ///
    /// ```
    /// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
    /// let mse = catalogue::elementwise("mse").unwrap();
    /// let shapes = || Shapes { input: &[4, 3], target: &[4, 3], weight: None, aux: None };
    /// assert_eq!(Problem::new(mse, shapes(), &[], Reduction::Mean)?.grad_scale(), 1.0 / 12.0);
    /// assert_eq!(Problem::new(mse, shapes(), &[], Reduction::Sum)?.grad_scale(), 1.0);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn grad_scale(&self) -> f64 {
        match self.divisor() {
            d if d > 0.0 => 1.0 / d,
            _ => 1.0,
        }
    }

    /// What the sum is divided by; 0 means the result is NaN (a mean over nothing).
    ///
    /// ```
    /// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
    /// let kl = catalogue::elementwise("kl_div").unwrap();
    /// let shapes = || Shapes { input: &[4, 3], target: &[4, 3], weight: None, aux: None };
    /// assert_eq!(Problem::new(kl, shapes(), &[], Reduction::BatchMean)?.divisor(), 4.0); // rows
    /// assert_eq!(Problem::new(kl, shapes(), &[], Reduction::Mean)?.divisor(), 12.0); // elements
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn divisor(&self) -> f64 {
        match self.reduction {
            Reduction::Mean => self.n as f64,
            Reduction::BatchMean => self.rows() as f64,
            _ => 1.0,
        }
    }

    /// The aux tensor's name, for messages.
    ///
    /// ```
    /// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
    /// let shapes = || Shapes { input: &[3], target: &[3], weight: None, aux: None };
    /// let name = |loss| Problem::new(catalogue::elementwise(loss).unwrap(), shapes(), &[], Reduction::Mean).map(|p| p.aux_name());
    /// assert_eq!((name("bce_with_logits")?, name("mse")?), ("pos_weight", "aux"));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn aux_name(&self) -> &'static str {
        self.loss.aux.map(|a| a.name).unwrap_or("aux")
    }

    /// What its errors name.
    ///
    /// ```
    /// use gpu_loss::{catalogue, problem::{Problem, Shapes}, Reduction};
    /// let shapes = Shapes { input: &[3], target: &[3], weight: None, aux: Some(&[3]) };
    /// let p = Problem::new(catalogue::elementwise("gaussian_nll").unwrap(), shapes, &[], Reduction::Mean)?;
    /// assert_eq!((p.names().loss, p.names().aux), ("gaussian_nll", "var"));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn names(&self) -> Names {
        let domain =
            |d: Option<crate::catalogue::Domain>| d.map(|d| d.text).unwrap_or("its domain");
        Names {
            loss: self.loss.name,
            weight: "weight",
            input: "input",
            target: "target",
            aux: self.aux_name(),
            input_domain: domain(self.loss.input_domain),
            aux_domain: domain(self.loss.aux.and_then(|a| a.domain)),
            target_domain: "its domain",
            classes: 0,
        }
    }
}

fn aux_layout(shape: &[usize], aux: &[usize], broadcast: Broadcast) -> Option<AuxLayout> {
    let n: usize = shape.iter().product();
    let len: usize = aux.iter().product();
    if aux == shape {
        return Some(AuxLayout::Full);
    }
    if len == 1 {
        return Some(AuxLayout::Broadcast { div: 1, modulo: 1 });
    }
    let (&last, rows) = shape.split_last()?;
    let layout = match broadcast {
        Broadcast::PerRow => {
            let with_unit = aux.split_last().is_some_and(|(&l, r)| l == 1 && r == rows);
            (aux == rows || with_unit).then_some(AuxLayout::Broadcast {
                div: last as u32,
                modulo: (n / last.max(1)) as u32,
            })
        }
        Broadcast::PerColumn => (aux == [last]).then_some(AuxLayout::Broadcast {
            div: 1,
            modulo: last as u32,
        }),
    }?;
    Some(if n == 0 {
        AuxLayout::Broadcast { div: 1, modulo: 1 }
    } else {
        layout
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aux_layouts_follow_pytorch_broadcasting() {
        use Broadcast::*;
        let s = [4usize, 3];
        assert_eq!(aux_layout(&s, &[4, 3], PerRow), Some(AuxLayout::Full));
        assert_eq!(
            aux_layout(&s, &[4], PerRow),
            Some(AuxLayout::Broadcast { div: 3, modulo: 4 })
        );
        assert_eq!(
            aux_layout(&s, &[4, 1], PerRow),
            Some(AuxLayout::Broadcast { div: 3, modulo: 4 })
        );
        assert_eq!(aux_layout(&s, &[3], PerRow), None);
        assert_eq!(
            aux_layout(&s, &[3], PerColumn),
            Some(AuxLayout::Broadcast { div: 1, modulo: 3 })
        );
        assert_eq!(aux_layout(&s, &[4], PerColumn), None);
        assert_eq!(
            aux_layout(&s, &[1], PerColumn),
            Some(AuxLayout::Broadcast { div: 1, modulo: 1 })
        );
    }
}
