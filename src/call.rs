//! The API of one loss call: a builder naming the tensors, parameters and reduction, and three
//! ways to run it.
//!
//! - [`LossCall::value`]: blocking, returns the reduced value as f32.
//! - [`LossCall::run`]: blocking, returns the per-element loss and/or the gradient as GPU
//!   tensors (only the value and a few status words come back to the host).
//! - [`LossCall::record`]: records into the caller's `CommandEncoder`; the value stays in a GPU
//!   buffer and nothing is read back (for training loops). [`Recorded::check`] reads the
//!   status later, after the caller has submitted.

use crate::catalogue::{Elementwise, Loss, RowKernel, RowLoss, Structured};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::image::TvProblem;
use crate::kernel::wasserstein::{self, WassersteinProblem};
use crate::kernel::wasserstein_samples as samples;
use crate::kernel::{cross_entropy, elementwise, row_stats, row_tuples, total_variation};
use crate::params::{ParamValue, Reduction};
use crate::pool::Pooled;
use crate::problem::{Problem, Shapes};
use crate::rows::{CrossEntropyProblem, RowStatsProblem, TensorShape, TupleProblem};
use crate::status::{Check, Names, Status, STATUS_WORDS};
use crate::tensor::{DType, Tensor};

/// Where an optional output goes.
#[derive(Clone, Copy)]
pub(crate) enum Output<'a> {
    No,
    New,
    Into(&'a Tensor),
}

/// One call of a loss, built up by name: `ctx.loss("huber")?.input(&x)...`.
pub struct LossCall<'a> {
    pub(crate) ctx: &'a GpuContext,
    pub(crate) loss: Loss,
    pub(crate) input: Option<&'a Tensor>,
    pub(crate) target: Option<&'a Tensor>,
    weight: Option<&'a Tensor>,
    aux: Option<&'a Tensor>,
    /// A row loss's or an objective's own tensors (input1, anchor, real, ...).
    pub(crate) named: Vec<(&'static str, &'a Tensor)>,
    pub(crate) params: Vec<(String, ParamValue)>,
    pub(crate) reduction: Reduction,
    pub(crate) grad: Output<'a>,
    elements: Output<'a>,
    value_into: Option<&'a Tensor>,
    pub(crate) error: Option<LossError>,
    /// A weight on the reduced loss and its gradient: an objective's term's.
    pub(crate) scale: f64,
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

/// What [`LossCall::record`] returns: everything stays on the GPU.
pub struct Recorded {
    /// Element 0 holds the reduced value (the sum for `Reduction::None`) once submitted.
    pub value: Tensor,
    pub elements: Option<Tensor>,
    pub grad: Option<Tensor>,
    /// As [`Computed::other_grads`].
    pub other_grads: Vec<(&'static str, Tensor)>,
    /// An objective's terms: each one's weighted value, element 0 of its tensor.
    pub terms: Vec<(&'static str, Tensor)>,
    /// An objective's term calls, whose checks `check` reads too.
    pub(crate) parts: Vec<Recorded>,
    pub(crate) scratch: Pooled,
    pub(crate) names: Names,
    pub(crate) labels: Option<Tensor>,
    ctx: GpuContext,
}

impl GpuContext {
    /// Starts a call of the loss `name` (or one of its aliases), as named in LOSSES.md.
    pub fn loss(&self, name: &str) -> Result<LossCall<'_>> {
        let loss =
            crate::catalogue::find(name).ok_or_else(|| LossError::UnknownLoss(name.to_string()))?;
        Ok(self.call(loss))
    }

    /// A call of any catalogue entry, an objective's terms included.
    pub(crate) fn call(&self, loss: Loss) -> LossCall<'_> {
        LossCall {
            ctx: self,
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
            value_into: None,
            error: None,
            scale: 1.0,
        }
    }
}

impl<'a> LossCall<'a> {
    pub fn input(mut self, t: &'a Tensor) -> Self {
        self.input = Some(t);
        self
    }

    pub fn target(mut self, t: &'a Tensor) -> Self {
        self.target = Some(t);
        self
    }

    pub fn weight(mut self, t: &'a Tensor) -> Self {
        self.weight = Some(t);
        self
    }

    /// Any tensor by its LOSSES.md name: `input`, `target`, `weight`, or the loss's extra
    /// tensor (`var`, `pos_weight`). An unknown name fails the call.
    pub fn tensor(mut self, name: &str, t: &'a Tensor) -> Self {
        let (aux, own) = match self.loss {
            Loss::Elementwise(l) => (l.aux.map(|a| a.name), &[][..]),
            Loss::Row(l) => (None, l.tensors),
            Loss::Objective(o) => (None, o.tensors),
            Loss::Structured(s) => (None, s.tensors),
        };
        if let (Loss::Objective(_), Some(&name)) = (self.loss, own.iter().find(|&&o| o == name)) {
            self.named.retain(|(n, _)| *n != name);
            self.named.push((name, t));
            return self;
        }
        match name {
            "input" => self.input = Some(t),
            "target" => self.target = Some(t),
            "weight" => self.weight = Some(t),
            _ if aux == Some(name) => self.aux = Some(t),
            _ if own.contains(&name) => {
                let name = own[own.iter().position(|&o| o == name).unwrap_or(0)];
                self.named.retain(|(n, _)| *n != name);
                self.named.push((name, t));
            }
            _ => {
                let mut takes = vec!["input", "target", "weight"];
                takes.extend(aux);
                takes.extend(
                    own.iter()
                        .filter(|o| !takes.contains(o))
                        .collect::<Vec<_>>(),
                );
                self.error.get_or_insert(LossError::UnexpectedTensor {
                    loss: self.loss.name(),
                    tensor: name.to_string(),
                    takes: takes.join(", "),
                });
            }
        }
        self
    }

    /// Weighs the reduced loss and its gradient (an objective's term).
    pub(crate) fn scaled(mut self, w: f64) -> Self {
        self.scale = w;
        self
    }

    /// Sets a parameter (`delta`, `beta`, `full`, ...); validated when the call runs.
    pub fn param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.params.push((name.to_string(), value.into()));
        self
    }

    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }

    /// Also compute the gradient of the reduced loss with respect to `input`, in the same pass.
    pub fn with_grad(mut self) -> Self {
        self.grad = Output::New;
        self
    }

    /// Write the gradient into this tensor (same element count as `input`). For cross_entropy,
    /// nll and sparse_categorical_cross_entropy it may be `input` itself: the gradient then
    /// overwrites the logits, for trainers short of memory.
    pub fn grad_into(mut self, t: &'a Tensor) -> Self {
        self.grad = Output::Into(t);
        self
    }

    /// Also return the per-element losses (implied by `Reduction::None`).
    pub fn with_elements(mut self) -> Self {
        self.elements = Output::New;
        self
    }

    /// Write the per-element losses into this tensor.
    pub fn elements_into(mut self, t: &'a Tensor) -> Self {
        self.elements = Output::Into(t);
        self
    }

    /// For `record`: write the reduced value into element 0 of this tensor.
    pub fn value_into(mut self, t: &'a Tensor) -> Self {
        self.value_into = Some(t);
        self
    }

    /// The input and target, which every loss takes.
    fn input_and_target(&self) -> Result<(&'a Tensor, &'a Tensor)> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let missing = |tensor| LossError::MissingTensor {
            loss: self.loss.name(),
            tensor,
        };
        let input = self.input.ok_or_else(|| missing("input"))?;
        let target = self.target.ok_or_else(|| missing("target"))?;
        Ok((input, target))
    }

    fn output(&self, o: Output<'a>, shape: &[usize]) -> Result<Option<Tensor>> {
        let n: usize = shape.iter().product();
        match o {
            Output::No => Ok(None),
            Output::New => self.ctx.scratch_tensor(shape.to_vec()).map(Some),
            Output::Into(t) if t.len() == n && t.dtype() == DType::F32 => Ok(Some(t.clone())),
            Output::Into(t) => Err(LossError::Buffer {
                tensor: format!("output {:?}", t.shape()),
                why: format!(
                    "it has {} {} elements; this output takes {n} float32",
                    t.len(),
                    t.dtype().name()
                ),
            }),
        }
    }

    /// The per-element (per-row) losses and the gradient, allocated or the caller's, checked
    /// for usage and for sharing a buffer with an input (wgpu tracks usage per buffer).
    fn outputs(
        &self,
        reduction: Reduction,
        elements_shape: &[usize],
        grad_shape: &[usize],
        inputs: &[(&'static str, Option<&Tensor>)],
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let elements = match (reduction, self.elements) {
            (Reduction::None, Output::No) => Output::New,
            (_, o) => o,
        };
        let elements = self.output(elements, elements_shape)?;
        let grad = self.output(self.grad, grad_shape)?;
        let loss = self.loss.name();
        for (name, t) in [("elements", elements.as_ref()), ("grad", grad.as_ref())] {
            let Some(t) = t else { continue };
            if !t.buffer().usage().contains(wgpu::BufferUsages::STORAGE) {
                return Err(LossError::Buffer {
                    tensor: name.into(),
                    why: "the buffer lacks STORAGE usage".into(),
                });
            }
            for &(iname, i) in inputs {
                if i.is_some_and(|i| i.shares_buffer(t)) {
                    return Err(LossError::Aliasing {
                        loss,
                        a: iname,
                        b: name,
                    });
                }
            }
        }
        if let (Some(e), Some(g)) = (&elements, &grad) {
            if e.overlaps(g) {
                return Err(LossError::Aliasing {
                    loss,
                    a: "elements",
                    b: "grad",
                });
            }
        }
        Ok((elements, grad))
    }

    /// Validates, allocates the outputs and records the kernels into `enc`.
    fn record_parts(&self, enc: &mut wgpu::CommandEncoder, result: &Tensor) -> Result<Parts> {
        match self.loss {
            Loss::Row(loss) if loss.kernel == RowKernel::Tuples => {
                return self.tuple_parts(loss, enc, result);
            }
            Loss::Structured(s) => return self.structured_parts(s, enc, result),
            _ => {}
        }
        let (input, target) = self.input_and_target()?;
        match self.loss {
            Loss::Elementwise(loss) => self.elementwise_parts(loss, input, target, enc, result),
            Loss::Row(loss) => self.row_parts(loss, input, target, enc, result),
            // record() and run() take objectives to src/objective.rs.
            Loss::Objective(_) | Loss::Structured(_) => unreachable!("these return above"),
        }
    }

    fn elementwise_parts(
        &self,
        loss: &'static Elementwise,
        input: &'a Tensor,
        target: &'a Tensor,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        let aux_name = loss.aux.map(|a| a.name).unwrap_or("aux");
        let inputs = [
            ("input", Some(input)),
            ("target", Some(target)),
            ("weight", self.weight),
            (aux_name, self.aux),
        ];
        for (name, t) in inputs {
            if let Some(t) = t {
                t.dtype().expect_f32(loss.name, name)?;
            }
        }
        let mut p = Problem::new(
            loss,
            Shapes {
                input: input.shape(),
                target: target.shape(),
                weight: self.weight.map(Tensor::shape),
                aux: self.aux.map(Tensor::shape),
            },
            &self.params,
            self.reduction,
        )?;
        p.scale = self.scale;
        let (elements, grad) = self.outputs(p.reduction, &p.shape, &p.shape, &inputs)?;
        let bound = elementwise::Bound {
            input,
            target,
            weight: self.weight,
            aux: self.aux,
            out: elements.as_ref(),
            grad: grad.as_ref(),
            result,
        };
        let scratch = elementwise::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: None,
            other_grads: Vec::new(),
        })
    }

    fn row_parts(
        &self,
        loss: &'static RowLoss,
        input: &'a Tensor,
        target: &'a Tensor,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        if loss.kernel == RowKernel::Stats {
            return self.row_stats_parts(loss, input, target, enc, result);
        }
        let shape = |t: &'a Tensor| TensorShape {
            shape: t.shape(),
            dtype: t.dtype(),
        };
        let mut p = CrossEntropyProblem::new(
            loss,
            shape(input),
            shape(target),
            self.weight.map(shape),
            &self.params,
            self.reduction,
        )?;
        p.scale = self.scale;
        // The gradient may overwrite the logits (the very same tensor): the kernel then reads
        // them through the gradient's binding and `input` is not bound.
        let in_place = matches!(self.grad, Output::Into(g) if g.same_window(input));
        let inputs = [
            ("input", (!in_place).then_some(input)),
            ("target", Some(target)),
            ("weight", self.weight),
        ];
        let rows_shape = &p.shape[..p.shape.len() - 1];
        let (elements, grad) = self.outputs(p.reduction, rows_shape, &p.shape, &inputs)?;
        let bound = cross_entropy::Bound {
            input,
            target,
            weight: self.weight,
            out: elements.as_ref(),
            grad: grad.as_ref(),
            result,
        };
        let scratch = cross_entropy::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: (target.dtype() != DType::F32).then(|| target.clone()),
            other_grads: Vec::new(),
        })
    }

    fn row_stats_parts(
        &self,
        loss: &'static RowLoss,
        input: &'a Tensor,
        target: &'a Tensor,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        if self.weight.is_some() {
            return Err(unexpected(loss.name, "weight", loss.tensors));
        }
        let shape = |t: &'a Tensor| TensorShape {
            shape: t.shape(),
            dtype: t.dtype(),
        };
        let p = RowStatsProblem::new(
            loss,
            shape(input),
            shape(target),
            &self.params,
            self.reduction,
        )?;
        let inputs = [("input", Some(input)), ("target", Some(target))];
        let rows_shape = &p.shape[..p.shape.len() - 1];
        let (elements, grad) = self.outputs(p.reduction, rows_shape, &p.shape, &inputs)?;
        let bound = row_stats::Bound {
            input,
            target,
            out: elements.as_ref(),
            grad: grad.as_ref(),
            result,
        };
        let scratch = row_stats::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: None,
            other_grads: Vec::new(),
        })
    }

    /// cosine_embedding and triplet_margin: tensors by their own names, a gradient for each.
    fn tuple_parts(
        &self,
        loss: &'static RowLoss,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let stray = [
            ("input", self.input),
            ("weight", self.weight),
            ("aux", self.aux),
        ];
        if let Some((name, _)) = stray.iter().find(|(_, t)| t.is_some()) {
            return Err(unexpected(loss.name, name, loss.tensors));
        }
        let mut rows = Vec::new();
        for name in loss.grad_tensors() {
            rows.push((name, self.required(loss.name, name)?));
        }
        let labels = if loss.tensors.contains(&"target") {
            Some(self.target.ok_or(LossError::MissingTensor {
                loss: loss.name,
                tensor: "target",
            })?)
        } else if self.target.is_some() {
            return Err(unexpected(loss.name, "target", loss.tensors));
        } else {
            None
        };
        let shape = |t: &'a Tensor| TensorShape {
            shape: t.shape(),
            dtype: t.dtype(),
        };
        let shapes: Vec<_> = rows.iter().map(|&(n, t)| (n, shape(t))).collect();
        let p = TupleProblem::new(
            loss,
            &shapes,
            labels.map(shape),
            &self.params,
            self.reduction,
        )?;
        let inputs: Vec<_> = rows
            .iter()
            .map(|&(n, t)| (n, Some(t)))
            .chain([("target", labels)])
            .collect();
        let rows_shape = &p.shape[..p.shape.len() - 1];
        let (elements, grad) = self.outputs(p.reduction, rows_shape, &p.shape, &inputs)?;
        let mut other_grads = Vec::new();
        if grad.is_some() {
            for &(name, _) in &rows[1..] {
                other_grads.push((name, self.ctx.scratch_tensor(p.shape.clone())?));
            }
        }
        let grads: Vec<Tensor> = grad
            .iter()
            .cloned()
            .chain(other_grads.iter().map(|g| g.1.clone()))
            .collect();
        let row_tensors: Vec<&Tensor> = rows.iter().map(|r| r.1).collect();
        let bound = row_tuples::Bound {
            rows: &row_tensors,
            labels,
            out: elements.as_ref(),
            grads: &grads,
            result,
        };
        let scratch = row_tuples::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: None,
            other_grads,
        })
    }

    /// Sections D and F: losses with a kernel of their own (total_variation, gram,
    /// style_loss).
    fn structured_parts(
        &self,
        loss: &'static Structured,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let takes_target = loss.tensors.contains(&"target");
        let stray = [
            ("target", self.target.filter(|_| !takes_target)),
            ("weight", self.weight),
            ("aux", self.aux),
        ];
        if let Some((name, _)) = stray.iter().find(|(_, t)| t.is_some()) {
            return Err(unexpected(loss.name, name, loss.tensors));
        }
        if loss.name == "wasserstein_1d" {
            return self.wasserstein_parts(loss, enc, result);
        }
        if loss.name == "wasserstein_1d_samples" {
            return self.samples_parts(loss, enc, result);
        }
        let input = self.input.ok_or(LossError::MissingTensor {
            loss: loss.name,
            tensor: "input",
        })?;
        if loss.name != "total_variation" {
            return self.gram_parts(loss, input, enc, result);
        }
        let p = TvProblem::new(
            loss,
            input.shape(),
            input.dtype(),
            &self.params,
            self.reduction,
        )?;
        let inputs = [("input", Some(input))];
        let (elements, grad) = self.outputs(p.reduction, &p.shape, &p.shape, &inputs)?;
        let bound = total_variation::Bound {
            input,
            out: elements.as_ref(),
            grad: grad.as_ref(),
            result,
        };
        let scratch = total_variation::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: None,
            other_grads: Vec::new(),
        })
    }

    /// The tensor given by this name (`.tensor(name, ..)`), if any.
    pub(crate) fn named_tensor(&self, name: &str) -> Option<&'a Tensor> {
        self.named.iter().find(|(n, _)| *n == name).map(|t| t.1)
    }

    /// The tensor `loss` requires by this name, or the error saying it is missing.
    fn required(&self, loss: &'static str, name: &'static str) -> Result<&'a Tensor> {
        self.named_tensor(name)
            .ok_or(LossError::MissingTensor { loss, tensor: name })
    }

    /// wasserstein_1d: rows `u`, `v`, a gradient for each.
    fn wasserstein_parts(
        &self,
        loss: &'static Structured,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        if self.input.is_some() {
            return Err(unexpected(loss.name, "input", loss.tensors));
        }
        let (u, v) = (
            self.required(loss.name, "u")?,
            self.required(loss.name, "v")?,
        );
        let p = WassersteinProblem::new(loss, u, v, &self.params, self.reduction)?;
        let inputs = [("u", Some(u)), ("v", Some(v))];
        let rows_shape = &p.shape[..p.shape.len() - 1];
        let (elements, grad) = self.outputs(p.reduction, rows_shape, &p.shape, &inputs)?;
        let grad_v = grad
            .as_ref()
            .map(|_| self.ctx.scratch_tensor(p.shape.clone()))
            .transpose()?;
        let bound = wasserstein::Bound {
            u,
            v,
            out: elements.as_ref(),
            grads: grad.as_ref().zip(grad_v.as_ref()),
            result,
        };
        let scratch = wasserstein::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: None,
            other_grads: grad_v.into_iter().map(|g| ("v", g)).collect(),
        })
    }

    /// wasserstein_1d_samples: two sample sets, optionally weighted; a gradient for each set.
    fn samples_parts(
        &self,
        loss: &'static Structured,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        if self.input.is_some() {
            return Err(unexpected(loss.name, "input", loss.tensors));
        }
        let mut bound = samples::Bound {
            u: self.required(loss.name, "u_values")?,
            v: self.required(loss.name, "v_values")?,
            u_weights: self.named_tensor("u_weights"),
            v_weights: self.named_tensor("v_weights"),
            grads: None,
            out: None,
            result,
        };
        let p = samples::SamplesProblem::new(loss, &bound, &self.params, self.reduction)?;
        let inputs = [
            ("u_values", Some(bound.u)),
            ("v_values", Some(bound.v)),
            ("u_weights", bound.u_weights),
            ("v_weights", bound.v_weights),
        ];
        let (elements, grad) = self.outputs(p.reduction, &[1], bound.u.shape(), &inputs)?;
        let grad_v = grad
            .as_ref()
            .map(|_| self.ctx.scratch_tensor(bound.v.shape().to_vec()))
            .transpose()?;
        bound.grads = grad.as_ref().zip(grad_v.as_ref());
        bound.out = elements.as_ref();
        let scratch = samples::record(self.ctx, &p, &bound, enc)?;
        Ok(Parts {
            names: p.names(),
            reduction: p.reduction,
            elements,
            grad,
            scratch,
            labels: None,
            other_grads: grad_v.into_iter().map(|g| ("v_values", g)).collect(),
        })
    }

    /// gram and style_loss (src/style.rs).
    fn gram_parts(
        &self,
        loss: &'static Structured,
        input: &'a Tensor,
        enc: &mut wgpu::CommandEncoder,
        result: &Tensor,
    ) -> Result<Parts> {
        let target = if loss.tensors.contains(&"target") {
            Some(self.target.ok_or(LossError::MissingTensor {
                loss: loss.name,
                tensor: "target",
            })?)
        } else {
            None
        };
        crate::params::no_batchmean(loss.name, self.reduction)?;
        if let Some(p) = self.params.first() {
            return Err(LossError::UnknownParam {
                loss: loss.name,
                name: p.0.clone(),
                takes: "no parameters".into(),
            });
        }
        let (b, c, _) = crate::style::feature_dims(loss, input, "input")?;
        let g_shape = if input.shape().len() == 3 {
            vec![b, c, c]
        } else {
            vec![c, c]
        };
        let inputs = [("input", Some(input)), ("target", target)];
        let (elements, grad) = self.outputs(self.reduction, &g_shape, input.shape(), &inputs)?;
        let bound = crate::style::Bound {
            input,
            target,
            elements,
            grad,
            result,
        };
        let r = crate::style::record(self, loss, bound, enc)?;
        let mut names = r.term.names;
        names.loss = loss.name;
        Ok(Parts {
            names,
            reduction: self.reduction,
            elements: r.elements,
            grad: r.grad,
            scratch: r.term.scratch,
            labels: None,
            other_grads: Vec::new(),
        })
    }

    /// Runs the call and reads back the value and the status; the outputs stay on the GPU.
    fn run_blocking(&self) -> Result<(Option<f32>, Parts)> {
        let ctx = self.ctx;
        let _serial = ctx.gl_lock();
        ctx.scoped(|| {
            let result = ctx.scratch_tensor(vec![1])?;
            let mut enc = ctx.encoder();
            let parts = self.record_parts(&mut enc, &result)?;
            let staging = ctx.staging(16 + 4 * STATUS_WORDS as u64)?;
            enc.copy_buffer_to_buffer(result.buffer(), result.offset(), staging.buffer(), 0, 4);
            enc.copy_buffer_to_buffer(
                parts.scratch.buffer(),
                0,
                staging.buffer(),
                16,
                4 * STATUS_WORDS as u64,
            );
            let idx = ctx.queue().submit([enc.finish()]);
            let raw = ctx.map_read(staging.buffer(), 16 + 4 * STATUS_WORDS as u64, idx)?;
            let words: &[u32] = bytemuck::cast_slice(&raw);
            if let Some(e) = status_error(ctx, &words[4..], &parts.names, parts.labels.as_ref()) {
                return Err(e);
            }
            let value = f32::from_bits(words[0]);
            Ok(((parts.reduction != Reduction::None).then_some(value), parts))
        })
    }

    /// Runs the call and returns the reduced value (sum or mean).
    pub fn value(self) -> Result<f32> {
        if self.reduction == Reduction::None {
            return Err(LossError::Reduction {
                loss: self.loss.name(),
                reduction: "none".into(),
                why: "it has no single value; use run() for the per-element losses",
            });
        }
        if let Loss::Objective(o) = self.loss {
            return Ok(crate::objective::run(&self, o)?.value.unwrap_or(f32::NAN));
        }
        let (value, _) = self.run_blocking()?;
        Ok(value.unwrap_or(f32::NAN))
    }

    /// Runs the call; the per-element losses and the gradient stay on the GPU.
    pub fn run(self) -> Result<Computed> {
        if let Loss::Objective(o) = self.loss {
            return crate::objective::run(&self, o);
        }
        let (value, parts) = self.run_blocking()?;
        Ok(Computed {
            value,
            elements: parts.elements,
            grad: parts.grad,
            other_grads: parts.other_grads,
            terms: Vec::new(),
        })
    }

    /// Records the call into the caller's encoder; nothing runs until the caller submits it.
    /// Shapes and parameters are checked now; what only the data can show (NaN, values out of
    /// domain) is checked on the GPU and read by [`Recorded::check`].
    pub fn record(self, enc: &mut wgpu::CommandEncoder) -> Result<Recorded> {
        let _serial = self.ctx.gl_lock();
        let value = match self.value_into {
            Some(t) if t.is_empty() => {
                return Err(LossError::Buffer {
                    tensor: "value".into(),
                    why: "it has no element to hold the value".into(),
                })
            }
            Some(t) if !t.buffer().usage().contains(wgpu::BufferUsages::STORAGE) => {
                return Err(LossError::Buffer {
                    tensor: "value".into(),
                    why: "the buffer lacks STORAGE usage".into(),
                })
            }
            Some(t) => t.clone(),
            None => self.ctx.scratch_tensor(vec![1])?,
        };
        if let Loss::Objective(o) = self.loss {
            return crate::objective::record(&self, o, enc, &value);
        }
        let parts = self.record_parts(enc, &value)?;
        Ok(Recorded {
            value,
            elements: parts.elements,
            grad: parts.grad,
            other_grads: parts.other_grads,
            terms: Vec::new(),
            parts: Vec::new(),
            scratch: parts.scratch,
            names: parts.names,
            labels: parts.labels,
            ctx: self.ctx.clone(),
        })
    }
}

struct Parts {
    names: Names,
    reduction: Reduction,
    elements: Option<Tensor>,
    grad: Option<Tensor>,
    other_grads: Vec<(&'static str, Tensor)>,
    scratch: Pooled,
    /// Class labels, whose first bad one an error quotes.
    labels: Option<Tensor>,
}

impl Recorded {
    /// After the encoder has been submitted: reads the GPU's checks (a few words) and turns
    /// a NaN or out-of-domain input into its error. Blocks until the GPU is done.
    pub fn check(&self) -> Result<()> {
        // An objective's terms first: their data is what the caller gave.
        self.parts.iter().try_for_each(Recorded::check)?;
        let ctx = &self.ctx;
        let _serial = ctx.gl_lock();
        let bytes = 4 * STATUS_WORDS as u64;
        let staging = ctx.staging(bytes)?;
        let mut enc = ctx.encoder();
        enc.copy_buffer_to_buffer(self.scratch.buffer(), 0, staging.buffer(), 0, bytes);
        let idx = ctx.queue().submit([enc.finish()]);
        let raw = ctx.map_read(staging.buffer(), bytes, idx)?;
        if let Some(e) = status_error(
            ctx,
            bytemuck::cast_slice(&raw),
            &self.names,
            self.labels.as_ref(),
        ) {
            return Err(e);
        }
        Ok(())
    }

    /// Reads the reduced value back (blocking) after checking the status.
    pub fn read_value(&self) -> Result<f32> {
        self.check()?;
        Ok(self.ctx.download(&self.value)?[0])
    }
}

/// `loss` was given a tensor it does not take.
pub(crate) fn unexpected(loss: &'static str, tensor: &str, takes: &[&str]) -> LossError {
    LossError::UnexpectedTensor {
        loss,
        tensor: tensor.to_string(),
        takes: takes.join(", "),
    }
}

/// Submits `enc` and reads back, in one mapping, each recorded call's value and the status
/// words its kernels left: per call, its value or the error its data caused.
pub(crate) fn read_recorded(
    ctx: &GpuContext,
    mut enc: wgpu::CommandEncoder,
    recorded: &[Recorded],
) -> Result<Vec<Result<f32>>> {
    let status_bytes = 4 * STATUS_WORDS as u64;
    let values_bytes = (4 * recorded.len() as u64).next_multiple_of(16);
    let size = values_bytes + status_bytes * recorded.len() as u64;
    let staging = ctx.staging(size)?;
    for (i, r) in recorded.iter().enumerate() {
        let i = i as u64;
        enc.copy_buffer_to_buffer(
            r.value.buffer(),
            r.value.offset(),
            staging.buffer(),
            4 * i,
            4,
        );
        let at = values_bytes + status_bytes * i;
        enc.copy_buffer_to_buffer(r.scratch.buffer(), 0, staging.buffer(), at, status_bytes);
    }
    let idx = ctx.queue().submit([enc.finish()]);
    let raw = ctx.map_read(staging.buffer(), size, idx)?;
    let words: &[u32] = bytemuck::cast_slice(&raw);
    Ok(recorded
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = (values_bytes / 4) as usize + i * STATUS_WORDS;
            let status = &words[at..at + STATUS_WORDS];
            match status_error(ctx, status, &r.names, r.labels.as_ref()) {
                Some(e) => Err(e),
                None => Ok(f32::from_bits(words[i])),
            }
        })
        .collect())
}

/// The error the GPU's status words report, if any, with the label of a bad row read back.
pub(crate) fn status_error(
    ctx: &GpuContext,
    words: &[u32],
    names: &Names,
    labels: Option<&Tensor>,
) -> Option<LossError> {
    let mut status = Status::from_words(words);
    if let (Some(row), Some(labels)) = (status.first(Check::BadLabel), labels) {
        status.set_bad_label(read_label(ctx, labels, row).unwrap_or(i64::MIN));
    }
    status.error(names)
}

/// One class label, read back for an error message (None if the buffer cannot be read).
fn read_label(ctx: &GpuContext, labels: &Tensor, row: u64) -> Option<i64> {
    if !labels
        .buffer()
        .usage()
        .contains(wgpu::BufferUsages::COPY_SRC)
    {
        return None;
    }
    let size = labels.dtype().size();
    let staging = ctx.staging(8).ok()?;
    let mut enc = ctx.encoder();
    enc.copy_buffer_to_buffer(
        labels.buffer(),
        labels.offset() + row * size,
        staging.buffer(),
        0,
        size,
    );
    let idx = ctx.queue().submit([enc.finish()]);
    let raw = ctx.map_read(staging.buffer(), size, idx).ok()?;
    Some(match labels.dtype() {
        DType::I64 => i64::from_le_bytes(raw[..8].try_into().ok()?),
        _ => i64::from(i32::from_le_bytes(raw[..4].try_into().ok()?)),
    })
}
