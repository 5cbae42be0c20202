//! The adapters of section G's kernels: ssim, ms_ssim and psnr over two images.

use super::outputs::outputs;
use super::readback::Parts;
use super::request::{Output, Request};
use crate::catalogue::Structured;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::{ms_ssim, psnr, ssim};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::images::{PsnrProblem, SsimProblem};
use crate::status::Names;
use crate::tensor::Tensor;

/// The two images every section G loss reads.
fn pair<'a>(req: &Request<'a>, loss: &Structured) -> Result<(&'a Tensor, &'a Tensor)> {
    let missing = |tensor| LossError::MissingTensor {
        loss: loss.name,
        tensor,
    };
    Ok((
        req.input.ok_or(missing("input"))?,
        req.target.ok_or(missing("target"))?,
    ))
}

/// `none`'s shape for a value per image: `[N]`, or `[1]` for one image without a batch axis.
fn per_image_shape(input: &[usize], images: usize) -> Vec<usize> {
    match input.len() {
        4 => vec![images],
        _ => vec![1],
    }
}

/// Outputs for a section G call (`out_shape` its per-element output for `none`), the call
/// bound to its images and recorded by `record`.
fn recorded(
    ctx: &GpuContext,
    req: &Request<'_>,
    (x, y): (&Tensor, &Tensor),
    (names, reduction): (Names, Reduction),
    out_shape: &[usize],
    result: &Tensor,
    record: impl FnOnce(&ssim::Bound<'_>) -> Result<Pooled>,
) -> Result<Parts> {
    let inputs = [("input", Some(x)), ("target", Some(y))];
    let (elements, grad) = outputs(ctx, req, reduction, out_shape, x.shape(), &inputs)?;
    let bound = ssim::Bound {
        x,
        y,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
        one_minus: req.one_minus,
        scale: req.scale,
        accumulate: matches!(req.grad, Output::AddTo(_)),
    };
    let scratch = record(&bound)?;
    Ok(Parts::new(names, reduction, (elements, grad), scratch))
}

pub(crate) fn ssim(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let (x, y) = pair(req, loss)?;
    let p = SsimProblem::new(loss, x, y, &req.params, req.reduction)?;
    let out_shape = p.map_shape(x.shape());
    let how = (p.names(), p.reduction);
    recorded(ctx, req, (x, y), how, &out_shape, result, |b| {
        ssim::record(ctx, &p, b, enc)
    })
}

pub(crate) fn ms_ssim(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let (x, y) = pair(req, loss)?;
    let p = SsimProblem::new(loss, x, y, &req.params, req.reduction)?;
    let out_shape = per_image_shape(x.shape(), p.dims.images);
    let how = (p.names(), p.reduction);
    recorded(ctx, req, (x, y), how, &out_shape, result, |b| {
        ms_ssim::record(ctx, &p, b, enc)
    })
}

pub(crate) fn psnr(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let (x, y) = pair(req, loss)?;
    let p = PsnrProblem::new(loss, x, y, &req.params, req.reduction)?;
    let out_shape = per_image_shape(x.shape(), p.images);
    let how = (p.names(), p.reduction);
    recorded(ctx, req, (x, y), how, &out_shape, result, |b| {
        psnr::record(ctx, &p, b, enc)
    })
}
