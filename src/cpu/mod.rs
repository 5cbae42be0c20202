//! The CPU reference: float64, written to be read, the twin of each GPU kernel.
//!
//! `elementwise` has the shape of shaders/elementwise.wgsl: the same checks, the same element
//! function (from `cpu::elementwise`), the same weight and gradient scale, a compensated sum.

pub mod elementwise;
pub mod images;
pub mod named;
pub mod rows;
pub mod structured;
pub mod twins;

use crate::error::Result;
use crate::params::Reduction;
use crate::problem::Problem;
use crate::status::{Check, Status};

/// The tensors of one elementwise call, in any float type.
///
/// ```
/// use gpu_loss::cpu::Inputs;
/// let t = Inputs { input: &[1.0f32, 2.0], target: &[0.0, 0.0], weight: None, aux: None };
/// assert_eq!(t.input.len(), t.target.len());
/// ```
pub struct Inputs<'a, T> {
    /// The predictions.
    pub input: &'a [T],
    /// The targets.
    pub target: &'a [T],
    /// Per-element weights, if given.
    pub weight: Option<&'a [T]>,
    /// The extra tensor (`var`, `pos_weight`), if given.
    pub aux: Option<&'a [T]>,
}

/// What the reference computes: the reduced value (None for `none`), the per-element losses
/// (for `none`), and the gradient of the reduced loss with respect to `input` when asked.
///
/// ```
/// # use gpu_loss::{catalogue, cpu::{evaluate, Inputs}, problem::{Problem, Shapes}, Reduction};
/// # let shapes = Shapes { input: &[2], target: &[2], weight: None, aux: None };
/// # let p = Problem::new(catalogue::elementwise("mse").unwrap(), shapes, &[], Reduction::None)?;
/// let t = Inputs { input: &[1.0f32, 2.0], target: &[0.0, 0.0], weight: None, aux: None };
/// let r = evaluate(&p, &t, false)?; // mse, reduction none
/// assert_eq!((r.value, r.elements, r.grad), (None, Some(vec![1.0, 4.0]), None));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CpuResult {
    /// The reduced value; None for `none`.
    pub value: Option<f64>,
    /// The per-element losses, for `none`.
    pub elements: Option<Vec<f64>>,
    /// The gradient with respect to `input`, when asked.
    pub grad: Option<Vec<f64>>,
}

/// The float64 reference of a validated elementwise call (the GPU kernel's shape: same
/// checks, same errors), with the gradient when `grad` is true.
///
/// ```
/// use gpu_loss::{catalogue, cpu::{evaluate, Inputs}, problem::{Problem, Shapes}, Reduction};
/// let shapes = Shapes { input: &[2], target: &[2], weight: None, aux: None };
/// let p = Problem::new(catalogue::elementwise("mse").unwrap(), shapes, &[], Reduction::Mean)?;
/// let t = Inputs { input: &[1.0f32, 2.0], target: &[0.0, 0.0], weight: None, aux: None };
/// let r = evaluate(&p, &t, true)?;
/// assert_eq!((r.value, r.grad), (Some(2.5), Some(vec![1.0, 2.0]))); // (1 + 4) / 2; 2e / 2
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn evaluate<T: Copy + Into<f64>>(
    p: &Problem,
    t: &Inputs<'_, T>,
    want_grad: bool,
) -> Result<CpuResult> {
    let element = p.loss.cpu;
    let aux_default = p.loss.aux.map(|a| a.default as f64).unwrap_or(0.0);
    let input_domain = p.loss.input_domain;
    let aux_domain = p.loss.aux.and_then(|a| a.domain);
    let scale = p.grad_scale() * p.scale;

    let mut status = Status::default();
    let mut sum = Compensated::default();
    let mut elements = Vec::with_capacity(if p.reduction == Reduction::None {
        p.n
    } else {
        0
    });
    let mut grad = Vec::with_capacity(if want_grad { p.n } else { 0 });
    for i in 0..p.n {
        let x: f64 = t.input[i].into();
        let y: f64 = t.target[i].into();
        let w: f64 = t.weight.map_or(1.0, |w| w[i].into());
        let ai = p.aux_index(i);
        let a: f64 = t.aux.map_or(aux_default, |a| a[ai].into());

        if x.is_nan() {
            status.record(Check::NanInput, i);
        }
        if y.is_nan() {
            status.record(Check::NanTarget, i);
        }
        if w.is_nan() {
            status.record(Check::NanWeight, i);
        }
        if t.aux.is_some() && a.is_nan() {
            status.record(Check::NanAux, ai);
        }
        if let Some(d) = input_domain {
            if !(x >= d.lo as f64 && x <= d.hi as f64) {
                status.record(Check::InputDomain, i);
            }
        }
        if let (Some(d), Some(_)) = (aux_domain, t.aux) {
            if !(a >= d.lo as f64 && a <= d.hi as f64) {
                status.record(Check::AuxDomain, ai);
            }
        }

        let (v, g) = element(x, y, a, &p.params);
        sum.add(w * v);
        if p.reduction == Reduction::None {
            elements.push(w * v);
        }
        if want_grad {
            grad.push(w * g * scale);
        }
    }
    if let Some(e) = status.error(&p.names()) {
        return Err(e);
    }
    let value = match p.reduction {
        Reduction::None => None,
        Reduction::Sum => Some(sum.value() * p.scale),
        Reduction::Mean | Reduction::BatchMean if p.divisor() == 0.0 => Some(f64::NAN),
        Reduction::Mean | Reduction::BatchMean => Some(sum.value() / p.divisor() * p.scale),
    };
    Ok(CpuResult {
        value,
        elements: (p.reduction == Reduction::None).then_some(elements),
        grad: want_grad.then_some(grad),
    })
}

/// Neumaier's compensated sum: the reference's sum is exact to a few ulp of f64.
///
/// ```
/// use gpu_loss::cpu::Compensated;
/// let mut s = Compensated::default();
/// [1e16, 1.0, -1e16].into_iter().for_each(|v| s.add(v));
/// assert_eq!(s.value(), 1.0); // a plain f64 sum loses the 1
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Compensated {
    hi: f64,
    lo: f64,
}

impl Compensated {
    /// Adds one term.
    ///
    /// ```
    /// let mut s = gpu_loss::cpu::Compensated::default();
    /// s.add(0.1);
    /// s.add(0.2);
    /// assert_eq!(s.value(), 0.1 + 0.2);
    /// ```
    pub fn add(&mut self, v: f64) {
        let s = self.hi + v;
        if self.hi.abs() >= v.abs() {
            self.lo += (self.hi - s) + v;
        } else {
            self.lo += (v - s) + self.hi;
        }
        self.hi = s;
    }

    /// The sum.
    ///
    /// ```
    /// let mut s = gpu_loss::cpu::Compensated::default();
    /// s.add(f64::INFINITY);
    /// assert_eq!(s.value(), f64::INFINITY); // not inf + NaN
    /// ```
    pub fn value(self) -> f64 {
        if self.hi.is_infinite() {
            self.hi
        } else {
            self.hi + self.lo
        }
    }
}
