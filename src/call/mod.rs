//! The API of one loss call: a builder naming the tensors, parameters and reduction, and three
//! ways to run it.
//!
//! - [`LossCall::value`]: blocking, returns the reduced value as f32.
//! - [`LossCall::run`]: blocking, returns the per-element loss and/or the gradient as GPU
//!   tensors (only the value and a few status words come back to the host).
//! - [`LossCall::record`]: records into the caller's `CommandEncoder`; the value stays in a GPU
//!   buffer and nothing is read back (for training loops). [`Recorded::check`] reads the
//!   status later, after the caller has submitted.
//!
//! The builder knows no kernel: it collects a [`Request`], which `dispatch` hands to the
//! adapter of the loss's kernel family (`elementwise`, `rows`, `structured`, `gram`), or to a
//! composite of those adapters (`objective`); `readback` runs and reads the result.

mod dispatch;
mod elementwise;
mod gram;
mod objective;
mod outputs;
mod readback;
mod rows;
mod structured;

pub use gram::{StyleLayer, StyleLosses};
pub use readback::Recorded;

use crate::catalogue::Loss;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::{ParamValue, Reduction};
use crate::tensor::Tensor;
use outputs::Output;

/// What one call asks for, as plain data: the loss, its tensors, parameters, reduction,
/// outputs and weight. The builder fills it; composites (objectives, style layers) build
/// their parts' requests directly.
#[derive(Clone)]
pub(crate) struct Request<'a> {
    pub loss: Loss,
    pub input: Option<&'a Tensor>,
    pub target: Option<&'a Tensor>,
    pub weight: Option<&'a Tensor>,
    /// An elementwise loss's extra tensor (`var`, `pos_weight`).
    pub aux: Option<&'a Tensor>,
    /// A row loss's, structured loss's or objective's own tensors (input1, anchor, u, real).
    pub named: Vec<(&'static str, &'a Tensor)>,
    pub params: Vec<(String, ParamValue)>,
    pub reduction: Reduction,
    pub grad: Output<'a>,
    pub elements: Output<'a>,
    /// A weight on the reduced loss and its gradient: an objective's term's, a style layer's.
    pub scale: f64,
    /// The first bad builder step (an unknown tensor name), reported when the call runs.
    pub error: Option<LossError>,
}

impl<'a> Request<'a> {
    pub fn new(loss: Loss) -> Request<'a> {
        Request {
            loss,
            input: None,
            target: None,
            weight: None,
            aux: None,
            named: Vec::new(),
            params: Vec::new(),
            reduction: Reduction::Mean,
            grad: Output::No,
            elements: Output::No,
            scale: 1.0,
            error: None,
        }
    }

    /// The tensor given by this name (`.tensor(name, ..)`), if any.
    pub fn named_tensor(&self, name: &str) -> Option<&'a Tensor> {
        self.named.iter().find(|(n, _)| *n == name).map(|t| t.1)
    }

    /// The tensor the loss requires by this name, or the error saying it is missing.
    pub fn required(&self, name: &'static str) -> Result<&'a Tensor> {
        self.named_tensor(name).ok_or(LossError::MissingTensor {
            loss: self.loss.name(),
            tensor: name,
        })
    }

    /// The builder's error, if a step failed.
    pub fn checked(&self) -> Result<()> {
        self.error.clone().map_or(Ok(()), Err)
    }
}

/// One call of a loss, built up by name: `ctx.loss("huber")?.input(&x)...`.
pub struct LossCall<'a> {
    ctx: &'a GpuContext,
    req: Request<'a>,
    value_into: Option<&'a Tensor>,
}

/// What [`LossCall::run`] returns.
#[derive(Debug)]
pub struct Computed {
    /// The reduced value; None for `Reduction::None`.
    pub value: Option<f32>,
    /// The per-element losses (always for `Reduction::None`, else when asked).
    pub elements: Option<Tensor>,
    /// The gradient of the reduced loss with respect to `input` (or the loss's first tensor:
    /// input1, anchor), when asked.
    pub grad: Option<Tensor>,
    /// The gradients with respect to the loss's further tensors, by name, when asked
    /// (cosine_embedding's input2; triplet_margin's positive and negative; an objective's).
    pub other_grads: Vec<(&'static str, Tensor)>,
    /// An objective's terms, by name: each one's contribution to `value` (weight included).
    pub terms: Vec<(&'static str, f32)>,
}

impl GpuContext {
    /// Starts a call of the loss `name` (or one of its aliases), as named in LOSSES.md.
    pub fn loss(&self, name: &str) -> Result<LossCall<'_>> {
        let loss =
            crate::catalogue::find(name).ok_or_else(|| LossError::UnknownLoss(name.to_string()))?;
        Ok(LossCall {
            ctx: self,
            req: Request::new(loss),
            value_into: None,
        })
    }
}

impl<'a> LossCall<'a> {
    pub fn input(mut self, t: &'a Tensor) -> Self {
        self.req.input = Some(t);
        self
    }

    pub fn target(mut self, t: &'a Tensor) -> Self {
        self.req.target = Some(t);
        self
    }

    pub fn weight(mut self, t: &'a Tensor) -> Self {
        self.req.weight = Some(t);
        self
    }

    /// Any tensor by its LOSSES.md name: `input`, `target`, `weight`, the loss's extra
    /// tensor (`var`, `pos_weight`), or its own (`input1`, `anchor`, `u`, `real`, ...). An
    /// unknown name fails the call.
    pub fn tensor(mut self, name: &str, t: &'a Tensor) -> Self {
        let req = &mut self.req;
        let (aux, own): (Option<&str>, Vec<&'static str>) = match req.loss {
            Loss::Elementwise(l) => (l.aux.map(|a| a.name), Vec::new()),
            other => (None, other.tensors().iter().map(|t| t.name).collect()),
        };
        let own_name = own.iter().copied().find(|&o| o == name);
        // An objective keeps its own tensors by name; `input`, `target` and `weight` have
        // slots of their own.
        let by_name = matches!(req.loss, Loss::Objective(_)) && own_name.is_some();
        let slot = match name {
            _ if by_name => None,
            "input" => Some(&mut req.input),
            "target" => Some(&mut req.target),
            "weight" => Some(&mut req.weight),
            _ if aux == Some(name) => Some(&mut req.aux),
            _ => None,
        };
        match (slot, own_name) {
            (Some(slot), _) => *slot = Some(t),
            (None, Some(name)) => {
                req.named.retain(|(n, _)| *n != name);
                req.named.push((name, t));
            }
            (None, None) => {
                let mut takes = vec!["input", "target", "weight"];
                takes.extend(aux);
                takes.extend(
                    own.iter()
                        .filter(|o| !["input", "target", "weight"].contains(o)),
                );
                req.error.get_or_insert(LossError::UnexpectedTensor {
                    loss: req.loss.name(),
                    tensor: name.to_string(),
                    takes: takes.join(", "),
                });
            }
        }
        self
    }

    /// Sets a parameter (`delta`, `beta`, `full`, ...); validated when the call runs.
    pub fn param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.req.params.push((name.to_string(), value.into()));
        self
    }

    pub fn reduction(mut self, r: Reduction) -> Self {
        self.req.reduction = r;
        self
    }

    /// Also compute the gradient of the reduced loss with respect to `input`, in the same pass.
    pub fn with_grad(mut self) -> Self {
        self.req.grad = Output::New;
        self
    }

    /// Write the gradient into this tensor (same element count as `input`). For cross_entropy,
    /// nll and sparse_categorical_cross_entropy it may be `input` itself: the gradient then
    /// overwrites the logits, for trainers short of memory.
    pub fn grad_into(mut self, t: &'a Tensor) -> Self {
        self.req.grad = Output::Into(t);
        self
    }

    /// Also return the per-element losses (implied by `Reduction::None`).
    pub fn with_elements(mut self) -> Self {
        self.req.elements = Output::New;
        self
    }

    /// Write the per-element losses into this tensor.
    pub fn elements_into(mut self, t: &'a Tensor) -> Self {
        self.req.elements = Output::Into(t);
        self
    }

    /// For `record`: write the reduced value into element 0 of this tensor.
    pub fn value_into(mut self, t: &'a Tensor) -> Self {
        self.value_into = Some(t);
        self
    }

    /// Runs the call and returns the reduced value (sum or mean).
    pub fn value(self) -> Result<f32> {
        if self.req.reduction == Reduction::None {
            return Err(LossError::Reduction {
                loss: self.req.loss.name(),
                reduction: "none".into(),
                why: "it has no single value; use run() for the per-element losses",
            });
        }
        Ok(self.run()?.value.unwrap_or(f32::NAN))
    }

    /// Runs the call; the per-element losses and the gradient stay on the GPU.
    pub fn run(self) -> Result<Computed> {
        readback::run(self.ctx, &self.req)
    }

    /// Records the call into the caller's encoder; nothing runs until the caller submits it.
    /// Shapes and parameters are checked now; what only the data can show (NaN, values out of
    /// domain) is checked on the GPU and read by [`Recorded::check`].
    pub fn record(self, enc: &mut wgpu::CommandEncoder) -> Result<Recorded> {
        let _serial = self.ctx.gl_lock();
        let value = outputs::value_tensor(self.ctx, self.value_into)?;
        readback::record(self.ctx, &self.req, enc, value)
    }
}
