//! Running a recorded call and reading its result: the reduced value and the status words the
//! kernels left, turned into the value or the typed error the data caused.

use crate::context::GpuContext;
use crate::error::Result;
use crate::mapping::{Drive, Mapping};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::status::{Check, Names, Status, STATUS_WORDS};
use crate::tensor::{DType, Tensor};
use crate::LossError;

/// What an adapter recorded: the outputs, and what reading its result needs.
pub(crate) struct Parts {
    pub names: Names,
    pub reduction: Reduction,
    pub elements: Option<Tensor>,
    pub grad: Option<Tensor>,
    pub other_grads: Vec<(&'static str, Tensor)>,
    /// Status words and partials.
    pub scratch: Pooled,
    /// Class labels, whose first bad one an error quotes.
    pub labels: Option<Tensor>,
    /// Sample weights behind a domain check whose kernel flags index 0 for a bad total too:
    /// the first bad weight is found on the host.
    pub weights: Vec<(Check, Tensor)>,
    /// The tensors a NaN check stands for where the kernel checked values made from them
    /// (gram's G from the features): the index is found in the tensor on the host.
    pub nan_sources: Vec<(Check, Tensor)>,
}

impl Parts {
    /// The parts of a call with one gradient (or none) and no labels to quote.
    pub fn new(
        names: Names,
        reduction: Reduction,
        (elements, grad): (Option<Tensor>, Option<Tensor>),
        scratch: Pooled,
    ) -> Parts {
        Parts {
            names,
            reduction,
            elements,
            grad,
            other_grads: Vec::new(),
            scratch,
            labels: None,
            weights: Vec::new(),
            nan_sources: Vec::new(),
        }
    }
}

/// What [`LossCall::run`](super::LossCall::run) returns.
#[derive(Debug)]
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// let out = ctx.loss("mse")?.input(&x).target(&y).with_grad().run()?;
/// let value = out.value.unwrap();
/// let grad: Vec<f32> = ctx.download(out.grad.as_ref().unwrap())?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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

/// What [`LossCall::record`](super::LossCall::record) returns: everything stays on the GPU.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// let mut enc = ctx.device().create_command_encoder(&Default::default());
/// let rec = ctx.loss("mse")?.input(&x).target(&y).with_grad().record(&mut enc)?;
/// // ... the optimiser step reads rec.value and rec.grad on the GPU ...
/// ctx.queue().submit([enc.finish()]);
/// rec.check()?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct Recorded {
    /// Element 0 holds the reduced value (the sum for `Reduction::None`) once submitted.
    pub value: Tensor,
    /// The per-element losses, when asked (as [`Computed::elements`]).
    pub elements: Option<Tensor>,
    /// The gradient with respect to the first tensor, when asked (as [`Computed::grad`]).
    pub grad: Option<Tensor>,
    /// As [`Computed::other_grads`].
    pub other_grads: Vec<(&'static str, Tensor)>,
    /// An objective's terms: each one's weighted value, element 0 of its tensor.
    pub terms: Vec<(&'static str, Tensor)>,
    /// A composite's parts (an objective's terms), whose checks `check` reads too.
    pub(crate) parts: Vec<Recorded>,
    pub(crate) scratch: Pooled,
    pub(crate) names: Names,
    pub(crate) labels: Option<Tensor>,
    pub(crate) weights: Vec<(Check, Tensor)>,
    pub(crate) nan_sources: Vec<(Check, Tensor)>,
    pub(crate) reduction: Reduction,
    ctx: GpuContext,
}

impl Recorded {
    pub(crate) fn new(ctx: &GpuContext, value: Tensor, parts: Parts) -> Recorded {
        Recorded {
            value,
            elements: parts.elements,
            grad: parts.grad,
            other_grads: parts.other_grads,
            terms: Vec::new(),
            parts: Vec::new(),
            scratch: parts.scratch,
            names: parts.names,
            labels: parts.labels,
            weights: parts.weights,
            nan_sources: parts.nan_sources,
            reduction: parts.reduction,
            ctx: ctx.clone(),
        }
    }

    /// After the encoder has been submitted: reads the GPU's checks (a few words) and turns
    /// a NaN or out-of-domain input into its error. Blocks until the GPU is done.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let mut enc = ctx.device().create_command_encoder(&Default::default());
    /// let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
    /// ctx.queue().submit([enc.finish()]);
    /// rec.check()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn check(&self) -> Result<()> {
        pollster::block_on(self.check_with(Drive::Block))
    }

    /// [`Recorded::check`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// # let mut enc = ctx.device().create_command_encoder(&Default::default());
    /// # let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
    /// # ctx.queue().submit([enc.finish()]);
    /// pollster::block_on(rec.check_async())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn check_async(&self) -> Result<()> {
        self.check_with(Drive::Yield).await
    }

    /// Reads the reduced value back (blocking) after checking the status.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// # let mut enc = ctx.device().create_command_encoder(&Default::default());
    /// # let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
    /// # ctx.queue().submit([enc.finish()]);
    /// let v = rec.read_value()?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn read_value(&self) -> Result<f32> {
        pollster::block_on(self.read_value_with(Drive::Block))
    }

    /// [`Recorded::read_value`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// # let mut enc = ctx.device().create_command_encoder(&Default::default());
    /// # let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
    /// # ctx.queue().submit([enc.finish()]);
    /// let v = pollster::block_on(rec.read_value_async())?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn read_value_async(&self) -> Result<f32> {
        self.read_value_with(Drive::Yield).await
    }

    async fn read_value_with(&self, drive: Drive) -> Result<f32> {
        self.check_with(drive).await?;
        Ok(self.ctx.download_with(&self.value, drive).await?[0])
    }

    /// A composite's parts (and theirs) first, then itself: their data is what the caller gave.
    fn with_parts(&self) -> Vec<&Recorded> {
        let mut all: Vec<&Recorded> = self.parts.iter().flat_map(Recorded::with_parts).collect();
        all.push(self);
        all
    }

    async fn check_with(&self, drive: Drive) -> Result<()> {
        for r in self.with_parts() {
            let ctx = &r.ctx;
            let bytes = 4 * STATUS_WORDS as u64;
            let mapping = {
                let _serial = drive.gl_lock(ctx).await;
                ctx.scoped(|| {
                    let staging = ctx.staging(bytes)?;
                    let mut enc = ctx.encoder();
                    enc.copy_buffer_to_buffer(r.scratch.buffer(), 0, staging.buffer(), 0, bytes);
                    let idx = ctx.queue().submit([enc.finish()]);
                    Ok(ctx.start_map(staging, bytes, idx))
                })?
            };
            let raw = mapping.read(ctx, drive).await?;
            if let Some(e) = status_error(ctx, bytemuck::cast_slice(&raw), r, drive).await {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Recorded calls' values and status words on their way back, in one mapping.
pub(crate) struct Reading {
    mapping: Mapping,
    values_bytes: u64,
}

/// Submits `enc` with copies of each recorded call's value and the status words its kernels
/// left into one staging buffer, and starts mapping it.
pub(crate) fn submit_recorded(
    ctx: &GpuContext,
    mut enc: wgpu::CommandEncoder,
    recorded: &[Recorded],
) -> Result<Reading> {
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
    Ok(Reading {
        mapping: ctx.start_map(staging, size, idx),
        values_bytes,
    })
}

impl Reading {
    /// Per recorded call (those `submit_recorded` was given), its value or the error its
    /// data caused, once the GPU is done.
    pub(crate) async fn values(
        self,
        ctx: &GpuContext,
        recorded: &[Recorded],
        drive: Drive,
    ) -> Result<Vec<Result<f32>>> {
        let raw = self.mapping.read(ctx, drive).await?;
        let words: &[u32] = bytemuck::cast_slice(&raw);
        let mut out = Vec::with_capacity(recorded.len());
        for (i, r) in recorded.iter().enumerate() {
            let at = (self.values_bytes / 4) as usize + i * STATUS_WORDS;
            let status = &words[at..at + STATUS_WORDS];
            out.push(match status_error(ctx, status, r, drive).await {
                Some(e) => Err(e),
                None => Ok(f32::from_bits(words[i])),
            });
        }
        Ok(out)
    }
}

/// The error the GPU's status words report, if any, with the label of a bad row read back.
async fn status_error(
    ctx: &GpuContext,
    words: &[u32],
    r: &Recorded,
    drive: Drive,
) -> Option<LossError> {
    let mut status = Status::from_words(words);
    if let (Some(row), Some(labels)) = (status.first(Check::BadLabel), &r.labels) {
        status.set_bad_label(
            read_label(ctx, labels, row, drive)
                .await
                .unwrap_or(i64::MIN),
        );
    }
    for (check, weights) in &r.weights {
        if status.first(*check) == Some(0) {
            if let Some(i) = first_bad_weight(ctx, weights, drive).await {
                status.set_first(*check, i);
            }
        }
    }
    for (check, source) in &r.nan_sources {
        if status.first(*check).is_none() {
            continue;
        }
        if let Ok(v) = ctx.download_with(source, drive).await {
            match v.iter().position(|x| x.is_nan()) {
                Some(i) => status.set_first(*check, i),
                // NaN made from infinities (∞ − ∞): a value, as the reference gives it.
                None => status.clear(*check),
            }
        }
    }
    status.error(&r.names)
}

/// The first weight that is not finite and non-negative, as the reference finds it (None if
/// every weight is good, the total being what failed, or the buffer cannot be read).
async fn first_bad_weight(ctx: &GpuContext, weights: &Tensor, drive: Drive) -> Option<usize> {
    let w = ctx.download_with(weights, drive).await.ok()?;
    w.iter().position(|x| !(x.is_finite() && *x >= 0.0))
}

/// One class label, read back for an error message (None if the buffer cannot be read).
async fn read_label(ctx: &GpuContext, labels: &Tensor, row: u64, drive: Drive) -> Option<i64> {
    if !labels
        .buffer()
        .usage()
        .contains(wgpu::BufferUsages::COPY_SRC)
    {
        return None;
    }
    let size = labels.dtype().size();
    let mapping = {
        let _serial = drive.gl_lock(ctx).await;
        ctx.scoped(|| {
            let staging = ctx.staging(8)?;
            let mut enc = ctx.encoder();
            enc.copy_buffer_to_buffer(
                labels.buffer(),
                labels.offset() + row * size,
                staging.buffer(),
                0,
                size,
            );
            let idx = ctx.queue().submit([enc.finish()]);
            Ok(ctx.start_map(staging, size, idx))
        })
        .ok()?
    };
    let raw = mapping.read(ctx, drive).await.ok()?;
    Some(match labels.dtype() {
        DType::I64 => i64::from_le_bytes(raw[..8].try_into().ok()?),
        _ => i64::from(i32::from_le_bytes(raw[..4].try_into().ok()?)),
    })
}
