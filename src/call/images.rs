//! The adapters of section G's kernels: ssim, ms_ssim and psnr over two images.

use super::outputs::outputs;
use super::readback::Parts;
use super::request::{Output, Request};
use crate::catalogue::Structured;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::{ms_ssim, psnr, ssim};
use crate::problem::images::{PsnrProblem, SsimProblem};
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

/// The gradient output adds to what it holds (an objective's second term on `input`).
fn accumulates(req: &Request<'_>) -> bool {
    matches!(req.grad, Output::AddTo(_))
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
    let inputs = [("input", Some(x)), ("target", Some(y))];
    let map_shape = p.map_shape(x.shape());
    let (elements, grad) = outputs(ctx, req, p.reduction, &map_shape, x.shape(), &inputs)?;
    let bound = ssim::Bound {
        x,
        y,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
        one_minus: req.one_minus,
        scale: req.scale,
        accumulate: accumulates(req),
    };
    let scratch = ssim::record(ctx, &p, &bound, enc)?;
    Ok(Parts::new(
        p.names(),
        p.reduction,
        (elements, grad),
        scratch,
    ))
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
    let inputs = [("input", Some(x)), ("target", Some(y))];
    let out_shape = per_image_shape(x.shape(), p.images);
    let (elements, grad) = outputs(ctx, req, p.reduction, &out_shape, x.shape(), &inputs)?;
    let bound = psnr::Bound {
        x,
        y,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
        scale: req.scale,
        accumulate: accumulates(req),
    };
    let scratch = psnr::record(ctx, &p, &bound, enc)?;
    Ok(Parts::new(
        p.names(),
        p.reduction,
        (elements, grad),
        scratch,
    ))
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
    let inputs = [("input", Some(x)), ("target", Some(y))];
    let out_shape = per_image_shape(x.shape(), p.dims.images);
    let (elements, grad) = outputs(ctx, req, p.reduction, &out_shape, x.shape(), &inputs)?;
    let bound = ms_ssim::Bound {
        x,
        y,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
        scale: req.scale,
        accumulate: accumulates(req),
    };
    let scratch = ms_ssim::record(ctx, &p, &bound, enc)?;
    Ok(Parts::new(
        p.names(),
        p.reduction,
        (elements, grad),
        scratch,
    ))
}
