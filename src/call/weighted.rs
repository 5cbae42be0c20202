//! An objective of the caller's own: a weighted sum of loss calls, catalogue or custom, each
//! a term (`ctx.weighted_sum().term("fit", 1.0, call)...`). Like the catalogue's objectives
//! (`objective`), every term is recorded into one encoder and read back in one submission,
//! and a tensor that several terms take as input gets one gradient: the first term writes
//! it, later ones add to it in their own pass.

use super::family;
use super::readback::submit_recorded;
use super::request::Output;
use super::LossCall;
use crate::catalogue::Loss;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::mapping::Drive;
use crate::params::Reduction;
use crate::tensor::Tensor;

/// A weighted sum of loss calls, built with [`GpuContext::weighted_sum`].
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// let sum: gpu_loss::WeightedSum = ctx.weighted_sum().term("mse", 2.0, ctx.loss("mse")?.input(&x).target(&y));
/// let twice = sum.run()?.value;
/// assert!((twice - 2.0 * ctx.loss("mse")?.input(&x).target(&y).value()?).abs() < 1e-5);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct WeightedSum<'a> {
    ctx: &'a GpuContext,
    terms: Vec<(String, f64, LossCall<'a>)>,
    grad: bool,
}

/// What a weighted sum computed: the total, each term's weighted value, and one gradient per
/// distinct input tensor (in the order the terms first take them), on the GPU.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// let out = ctx.weighted_sum()
///     .term("fit", 1.0, ctx.loss("mse")?.input(&x).target(&y))
///     .term("l1", 0.1, ctx.loss("mae")?.input(&x).target(&y))
///     .with_grad()
///     .run()?;
/// assert_eq!(out.terms.len(), 2);
/// assert_eq!(out.grads.len(), 1); // both terms take `x`: one gradient, their sum's
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct SumComputed {
    /// The total, Σ weight·term.
    pub value: f32,
    /// Each term's weighted value, by its name.
    pub terms: Vec<(String, f32)>,
    /// (the input tensor, d value / d input) for each distinct input, with `with_grad`.
    pub grads: Vec<(Tensor, Tensor)>,
}

impl GpuContext {
    /// Starts an objective of your own: a weighted sum of loss calls (catalogue entries or
    /// custom losses), e.g. `ctx.weighted_sum().term("fit", 1.0, ctx.custom("c",
    /// "log(1 + (x - y)^2)")?.input(&x).target(&y)).term("l1", 0.1,
    /// ctx.loss("mae")?.input(&x).target(&z)).with_grad().run()?`.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = ctx
    ///     .weighted_sum()
    ///     .term("fit", 1.0, ctx.custom("log_sq", "log(1 + (x - y)^2)")?.input(&x).target(&y))
    ///     .term("l1", 0.1, ctx.loss("mae")?.input(&x).target(&y))
    ///     .with_grad()
    ///     .run()?;
    /// let (total, d_dx) = (out.value, &out.grads[0].1);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn weighted_sum(&self) -> WeightedSum<'_> {
        WeightedSum {
            ctx: self,
            terms: Vec::new(),
            grad: false,
        }
    }
}

impl<'a> WeightedSum<'a> {
    /// Adds `weight` × the reduced value of `call` (its reduction: mean or sum), named `name`.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let sum = ctx.weighted_sum().term("mse", 0.5, ctx.loss("mse")?.input(&x).target(&y));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn term(mut self, name: &str, weight: f64, call: LossCall<'a>) -> Self {
        self.terms.push((name.to_string(), weight, call));
        self
    }

    /// Also compute the gradient with respect to each term's input.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = ctx.weighted_sum().term("l1", 1.0, ctx.loss("mae")?.input(&x).target(&y)).with_grad().run()?;
    /// assert_eq!(out.grads.len(), 1); // one per distinct input tensor
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn with_grad(mut self) -> Self {
        self.grad = true;
        self
    }

    /// Runs every term (one submission) and reads back their values, blocking until the GPU
    /// is done.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let out = ctx.weighted_sum().term("l1", 2.0, ctx.loss("mae")?.input(&x).target(&y)).run()?;
    /// println!("{} = {:?}", out.value, out.terms);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn run(self) -> Result<SumComputed> {
        pollster::block_on(self.run_with(Drive::Block))
    }

    /// [`WeightedSum::run`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let sum = ctx.weighted_sum().term("l1", 2.0, ctx.loss("mae")?.input(&x).target(&y));
    /// let out = pollster::block_on(sum.run_async())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn run_async(self) -> Result<SumComputed> {
        self.run_with(Drive::Yield).await
    }

    async fn run_with(self, drive: Drive) -> Result<SumComputed> {
        let ctx = self.ctx;
        let mut requests = Vec::with_capacity(self.terms.len());
        for (name, weight, call) in self.terms {
            let mut req = call.req;
            if let Some(e) = req.error.take() {
                return Err(e);
            }
            let loss = req.loss.name();
            if let Loss::Objective(_) = req.loss {
                return Err(LossError::Usage(format!(
                    "term `{name}`: {loss} is an objective; add its terms instead"
                )));
            }
            if req.reduction == Reduction::None {
                return Err(LossError::Reduction {
                    loss,
                    reduction: "none".into(),
                    why: "a term of a weighted sum needs one value",
                });
            }
            if !weight.is_finite() {
                return Err(LossError::Usage(format!(
                    "term `{name}`: weight {weight} is not finite"
                )));
            }
            if self.grad && req.input.is_none() {
                return Err(LossError::MissingTensor {
                    loss,
                    tensor: "input",
                });
            }
            req.scale *= weight;
            req.grad = Output::No;
            requests.push((name, req));
        }
        let grad = self.grad;
        let (grads, calls, reading) = {
            let _serial = drive.gl_lock(ctx).await;
            ctx.scoped(|| {
                // One gradient per distinct input window, allocated before any term borrows it.
                let mut grads: Vec<(Tensor, Tensor)> = Vec::new();
                if grad {
                    for (_, req) in &requests {
                        let input = req.input.expect("checked above");
                        if !grads.iter().any(|(t, _)| t.same_window(input)) {
                            let g = ctx.scratch_tensor(input.shape().to_vec())?;
                            grads.push((input.clone(), g));
                        }
                    }
                }
                let values = ctx.scratch_tensor(vec![requests.len()])?;
                let mut enc = ctx.encoder();
                let mut written = vec![false; grads.len()];
                let mut calls = Vec::with_capacity(requests.len());
                for (i, (_, req)) in requests.iter().enumerate() {
                    let mut term = req.clone();
                    if let Some(input) = req.input.filter(|_| grad) {
                        let k = grads
                            .iter()
                            .position(|(t, _)| t.same_window(input))
                            .expect("allocated above");
                        term.grad = if written[k] {
                            Output::AddTo(&grads[k].1)
                        } else {
                            Output::Into(&grads[k].1)
                        };
                        written[k] = true;
                    }
                    // Errors name the term's loss and tensors, as its own call's would.
                    calls.push(family::record(ctx, &term, &mut enc, values.element(i)?)?);
                }
                let reading = submit_recorded(ctx, enc, &calls)?;
                Ok((grads, calls, reading))
            })?
        };
        let mut terms = Vec::with_capacity(requests.len());
        for ((name, _), v) in requests
            .iter()
            .zip(reading.values(ctx, &calls, drive).await?)
        {
            terms.push((name.clone(), v?));
        }
        let total: f64 = terms.iter().map(|(_, v)| f64::from(*v)).sum();
        Ok(SumComputed {
            value: total as f32,
            terms,
            grads,
        })
    }
}
