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
//! The builder knows no kernel: it collects a `Request`, which `family` hands to the adapter
//! of the loss's kernel family (`elementwise`, `rows`, `structured`, `gram`); an objective
//! goes to `objective`, a composite of those adapters. `readback` reads what they recorded.

mod autotune;
mod custom;
mod elementwise;
mod family;
mod gram;
mod images;
mod objective;
mod outputs;
mod readback;
mod request;
mod rows;
mod structured;
pub mod weighted;

pub use gram::{StyleLayer, StyleLosses};
pub use readback::{Computed, Recorded};

use crate::catalogue::Loss;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::mapping::Drive;
use crate::params::{ParamValue, Reduction};
use crate::tensor::Tensor;
use readback::submit_recorded;
use request::Output;
use request::Request;

/// One call of a loss, built up by name: `ctx.loss("huber")?.input(&x)...`.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// use gpu_loss::Reduction;
/// let out = ctx.loss("huber")?
///     .input(&x).target(&y).param("delta", 0.5)
///     .reduction(Reduction::Sum).with_grad().run()?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct LossCall<'a> {
    ctx: &'a GpuContext,
    req: Request<'a>,
    value_into: Option<&'a Tensor>,
}

impl GpuContext {
    /// Starts a call of the loss `name` (or one of its aliases), as named in LOSSES.md.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let call = ctx.loss("huber")?.input(&x).target(&y).param("delta", 0.5);
    /// let value = call.value()?;
    /// assert!(ctx.loss("hubber").is_err());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn loss(&self, name: &str) -> Result<LossCall<'_>> {
        let loss =
            crate::catalogue::find(name).ok_or_else(|| LossError::UnknownLoss(name.to_string()))?;
        Ok(self.call(loss))
    }

    /// Starts a call of `loss`: a catalogue entry, or a custom loss kept for reuse
    /// (`catalogue::custom`, [`GpuContext::custom_wgsl`]), or a typed loss
    /// ([`crate::losses`]), whose fields become the call's parameters.
    ///
    /// ```no_run
    /// use gpu_loss::losses::SmoothL1;
    /// use gpu_loss::{GpuContext, Reduction};
    /// let ctx = GpuContext::new()?;
    /// let x = ctx.upload(&[0.5, 2.0], &[2])?;
    /// let y = ctx.upload(&[0.0, 2.5], &[2])?;
    /// let sum = ctx.call(&SmoothL1 { beta: 0.5 }).input(&x).target(&y)
    ///     .reduction(Reduction::Sum).value()?;
    /// let mse = gpu_loss::catalogue::find("mse").unwrap();
    /// let mean = ctx.call(mse).input(&x).target(&y).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn call<C: IntoLossCall>(&self, loss: C) -> LossCall<'_> {
        loss.start(self)
    }
}

/// What [`GpuContext::call`] starts a call of: a catalogue entry ([`Loss`]) or a typed loss
/// (`&Huber { delta: 0.5 }`, [`crate::losses`]).
///
/// ```no_run
/// use gpu_loss::{catalogue, losses::Huber};
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// let entry = catalogue::find("huber").unwrap();
/// let by_entry = ctx.call(entry).input(&x).target(&y).value()?;
/// let typed = ctx.call(&Huber::default()).input(&x).target(&y).value()?;
/// assert_eq!(by_entry, typed); // the same defaults
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub trait IntoLossCall {
    /// The builder for this loss on `ctx`.
    ///
    /// ```no_run
    /// use gpu_loss::IntoLossCall;
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// let call = gpu_loss::catalogue::find("mse").unwrap().start(&ctx); // as ctx.call(..) does
    /// assert_eq!(call.input(&x).target(&x).value()?, 0.0);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    fn start<'c>(self, ctx: &'c GpuContext) -> LossCall<'c>;
}

impl IntoLossCall for Loss {
    fn start<'c>(self, ctx: &'c GpuContext) -> LossCall<'c> {
        LossCall {
            ctx,
            req: Request::new(self),
            value_into: None,
        }
    }
}

impl<'a> LossCall<'a> {
    /// The predictions (`input` in LOSSES.md; logits for the class losses).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let v = ctx.loss("mse")?.input(&x).target(&y).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn input(mut self, t: &'a Tensor) -> Self {
        self.req.input = Some(t);
        self
    }

    /// The targets (class indices, int32 or int64, for the class losses).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let v = ctx.loss("mae")?.input(&x).target(&y).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn target(mut self, t: &'a Tensor) -> Self {
        self.req.target = Some(t);
        self
    }

    /// Per-element weights (elementwise losses) or per-class weights (cross_entropy, nll).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let w = ctx.upload(&[1.0, 0.5, 0.0], &[3])?;
    /// let v = ctx.loss("mse")?.input(&x).target(&y).weight(&w).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn weight(mut self, t: &'a Tensor) -> Self {
        self.req.weight = Some(t);
        self
    }

    /// Any tensor by its LOSSES.md name: `input`, `target`, `weight`, the loss's extra
    /// tensor (`var`, `pos_weight`), or its own (`input1`, `anchor`, `u`, `real`, ...). An
    /// unknown name fails the call.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let n = ctx.upload(&[0.1, 0.4, 0.2], &[1, 3])?;
    /// let v = ctx.loss("triplet_margin")?
    ///     .tensor("anchor", &x.reshape(&[1, 3])?).tensor("positive", &y.reshape(&[1, 3])?)
    ///     .tensor("negative", &n).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
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
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let v = ctx.loss("focal")?.input(&x).target(&y).param("gamma", 1.0).param("alpha", 0.5).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.req.params.push((name.to_string(), value.into()));
        self
    }

    /// How the per-element losses are combined (mean unless set).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// use gpu_loss::Reduction;
    /// let sum = ctx.loss("mse")?.input(&x).target(&y).reduction(Reduction::Sum).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.req.reduction = r;
        self
    }

    /// Also compute the gradient of the reduced loss with respect to `input`, in the same pass.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = ctx.loss("mse")?.input(&x).target(&y).with_grad().run()?;
    /// let grad = ctx.download(out.grad.as_ref().unwrap())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn with_grad(mut self) -> Self {
        self.req.grad = Output::New;
        self
    }

    /// Write the gradient into this tensor (same element count as `input`). For cross_entropy,
    /// nll and sparse_categorical_cross_entropy it may be `input` itself: the gradient then
    /// overwrites the logits, for trainers short of memory.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let grad = ctx.zeros(&[3])?;
    /// ctx.loss("mse")?.input(&x).target(&y).grad_into(&grad).run()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn grad_into(mut self, t: &'a Tensor) -> Self {
        self.req.grad = Output::Into(t);
        self
    }

    /// The dtype of the gradient and per-element losses the call allocates (by default the
    /// input's: an f16 or bf16 input gets half outputs, rounded to nearest even). `DType::F32`
    /// keeps them exact to f32 for bf16 or f16 inputs.
    ///
    /// ```no_run
    /// use gpu_loss::{half::bf16, DType};
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload_bf16(&[bf16::from_f32(0.5), bf16::from_f32(2.0)], &[2])?;
    /// let y = ctx.upload_bf16(&[bf16::from_f32(0.0), bf16::from_f32(1.0)], &[2])?;
    /// let out = ctx.loss("mse")?.input(&x).target(&y).with_grad().grad_dtype(DType::F32).run()?;
    /// assert_eq!(out.grad.unwrap().dtype(), DType::F32); // not bf16, as the input
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn grad_dtype(mut self, dtype: crate::tensor::DType) -> Self {
        if !dtype.is_float() {
            let loss = self.req.loss.name();
            self.req.error.get_or_insert(LossError::Buffer {
                tensor: format!("{loss}: grad"),
                why: format!("outputs hold floats, not {}", dtype.name()),
            });
        }
        self.req.out_dtype = Some(dtype);
        self
    }

    /// Also return the per-element losses (implied by `Reduction::None`).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = ctx.loss("mse")?.input(&x).target(&y).with_elements().run()?;
    /// let each = ctx.download(out.elements.as_ref().unwrap())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn with_elements(mut self) -> Self {
        self.req.elements = Output::New;
        self
    }

    /// Write the per-element losses into this tensor.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let each = ctx.zeros(&[3])?;
    /// ctx.loss("mse")?.input(&x).target(&y).elements_into(&each).run()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn elements_into(mut self, t: &'a Tensor) -> Self {
        self.req.elements = Output::Into(t);
        self
    }

    /// For `record`: write the reduced value into element 0 of this tensor.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let losses = ctx.zeros(&[8])?;
    /// let mut enc = ctx.device().create_command_encoder(&Default::default());
    /// let rec = ctx.loss("mse")?.input(&x).target(&y).value_into(&losses.element(2)?).record(&mut enc)?;
    /// ctx.queue().submit([enc.finish()]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn value_into(mut self, t: &'a Tensor) -> Self {
        self.value_into = Some(t);
        self
    }

    /// Runs the call and returns the reduced value (sum or mean), blocking until it is read.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let v: f32 = ctx.loss("huber")?.input(&x).target(&y).value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn value(self) -> Result<f32> {
        pollster::block_on(self.value_with(Drive::Block))
    }

    /// [`LossCall::value`] as a future that polls the device without blocking: each poll
    /// polls the device once and, until the GPU is done, asks to be polled again.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let v = pollster::block_on(ctx.loss("mse")?.input(&x).target(&y).value_async())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn value_async(self) -> Result<f32> {
        self.value_with(Drive::Yield).await
    }

    async fn value_with(self, drive: Drive) -> Result<f32> {
        if self.req.reduction == Reduction::None {
            return Err(LossError::Reduction {
                loss: self.req.loss.name(),
                reduction: "none".into(),
                why: "it has no single value; use run() for the per-element losses",
            });
        }
        Ok(self.run_with(drive).await?.value.unwrap_or(f32::NAN))
    }

    /// Runs the call; the per-element losses and the gradient stay on the GPU. Only the
    /// value and the status words are read back (an objective's: each term's, summed here).
    /// Blocks until they are.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = ctx.loss("bce_with_logits")?.input(&x).target(&y).with_grad().run()?;
    /// let (value, grad) = (out.value.unwrap(), out.grad.unwrap());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn run(self) -> Result<Computed> {
        pollster::block_on(self.run_with(Drive::Block))
    }

    /// [`LossCall::run`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = pollster::block_on(ctx.loss("mse")?.input(&x).target(&y).with_grad().run_async())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn run_async(self) -> Result<Computed> {
        self.run_with(Drive::Yield).await
    }

    async fn run_with(self, drive: Drive) -> Result<Computed> {
        let (ctx, req) = (self.ctx, &self.req);
        if let Loss::Objective(o) = req.loss {
            return objective::run(ctx, req, o, drive).await;
        }
        let (r, reading) = {
            let _serial = drive.gl_lock(ctx).await;
            ctx.scoped(|| {
                let mut enc = ctx.encoder();
                let value = outputs::value_tensor(ctx, None)?;
                let r = family::record(ctx, req, &mut enc, value)?;
                let reading = submit_recorded(ctx, enc, std::slice::from_ref(&r))?;
                Ok((r, reading))
            })?
        };
        let one = std::slice::from_ref(&r);
        let v = reading.values(ctx, one, drive).await?.remove(0)?;
        Ok(Computed {
            value: (r.reduction != Reduction::None).then_some(v),
            elements: r.elements,
            grad: r.grad,
            other_grads: r.other_grads,
            terms: Vec::new(),
        })
    }

    /// Records the call into the caller's encoder; nothing runs until the caller submits it.
    /// Shapes and parameters are checked now; what only the data can show (NaN, values out of
    /// domain) is checked on the GPU and read by [`Recorded::check`].
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let mut enc = ctx.device().create_command_encoder(&Default::default());
    /// let rec = ctx.loss("mse")?.input(&x).target(&y).with_grad().record(&mut enc)?;
    /// ctx.queue().submit([enc.finish()]);
    /// rec.check()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn record(self, enc: &mut wgpu::CommandEncoder) -> Result<Recorded> {
        let _serial = self.ctx.gl_lock();
        // Scoped: an error wgpu finds while recording is typed, not a panic (one it finds
        // when the caller finishes the encoder is the caller's device's to report).
        self.ctx.scoped(|| {
            let value = outputs::value_tensor(self.ctx, self.value_into)?;
            let loss = self.req.loss.name();
            self.ctx.own(&value, || format!("{loss}: value"))?;
            match self.req.loss {
                Loss::Objective(o) => objective::record(self.ctx, &self.req, o, enc, value),
                _ => family::record(self.ctx, &self.req, enc, value),
            }
        })
    }
}
