//! The one place a loss meets its kernel family: each family's adapter validates the request
//! against the entry, allocates the outputs and records the kernels. (Objectives, composites
//! of these adapters, are `objective`'s.)

use super::readback::Recorded;
use super::request::Output;
use super::request::Request;
use super::{autotune, elementwise, gram, images, rows, structured};
use crate::catalogue::{Loss, RowKernel, StructuredKernel};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::tensor::Tensor;

/// Records `req` into `enc`, its reduced value into element 0 of `value`.
pub(crate) fn record(
    ctx: &GpuContext,
    req: &Request<'_>,
    enc: &mut wgpu::CommandEncoder,
    value: Tensor,
) -> Result<Recorded> {
    req.own_tensors(ctx)?;
    ctx.own(&value, || format!("{}: value", req.loss.name()))?;
    // What only the image kernels do: read textures, add a gradient to another term's, sum
    // 1 − ssim.
    let kernel = match req.loss {
        Loss::Structured(s) => Some(s.kernel),
        _ => None,
    };
    textures_allowed(req, kernel)?;
    let adds = matches!(req.loss, Loss::Elementwise(_))
        || matches!(
            kernel,
            Some(StructuredKernel::Ssim | StructuredKernel::MsSsim | StructuredKernel::Psnr)
        );
    if (matches!(req.grad, Output::AddTo(_)) && !adds)
        || (req.one_minus && kernel != Some(StructuredKernel::Ssim))
    {
        return Err(LossError::Gpu(format!(
            "{}: its kernel cannot be an objective's second term on a tensor, or 1 − itself",
            req.loss.name()
        )));
    }
    if let Some(family) = req.loss.tuned_family() {
        autotune::ensure(ctx, family);
    }
    let parts = match req.loss {
        Loss::Elementwise(l) => elementwise::record(ctx, req, l, enc, &value)?,
        Loss::Row(l) => match l.kernel {
            RowKernel::CrossEntropy | RowKernel::Nll | RowKernel::SparseCategorical => {
                rows::class_rows(ctx, req, l, enc, &value)?
            }
            RowKernel::Stats => rows::stats(ctx, req, l, enc, &value)?,
            RowKernel::Tuples => rows::tuples(ctx, req, l, enc, &value)?,
        },
        Loss::Structured(s) => {
            structured::no_stray_tensors(req, s)?;
            match s.kernel {
                StructuredKernel::TotalVariation => {
                    structured::total_variation(ctx, req, s, enc, &value)?
                }
                StructuredKernel::Wasserstein => structured::wasserstein(ctx, req, s, enc, &value)?,
                StructuredKernel::WassersteinSamples => {
                    structured::samples(ctx, req, s, enc, &value)?
                }
                StructuredKernel::Gram | StructuredKernel::StyleLoss => {
                    gram::record(ctx, req, s, enc, &value)?
                }
                StructuredKernel::Ssim => images::ssim(ctx, req, s, enc, &value)?,
                StructuredKernel::MsSsim => images::ms_ssim(ctx, req, s, enc, &value)?,
                StructuredKernel::Psnr => images::psnr(ctx, req, s, enc, &value)?,
            }
        }
        Loss::Objective(o) => unreachable!("{}: objectives are composites", o.name),
    };
    Ok(Recorded::new(ctx, value, parts))
}

/// Textures' planes are inputs (or targets) of the image losses and of the elementwise losses
/// without a weight or extra tensor; anything else is refused before a buffer is asked for.
fn textures_allowed(req: &Request<'_>, kernel: Option<StructuredKernel>) -> Result<()> {
    let Some((name, t)) = req
        .tensors()
        .into_iter()
        .find(|(_, t)| t.texture().is_some())
    else {
        return Ok(());
    };
    let images = matches!(
        kernel,
        Some(StructuredKernel::Ssim | StructuredKernel::MsSsim | StructuredKernel::Psnr)
    );
    let plain =
        matches!(req.loss, Loss::Elementwise(_)) && req.weight.is_none() && req.aux.is_none();
    if (images || plain) && ["input", "target"].contains(&name) {
        return Ok(());
    }
    let what = format!("{}'s `{name}`", req.loss.name());
    t.buffer_only(&what)
}
