//! The adapters of sections D and F's own kernels: total_variation, wasserstein_1d and
//! wasserstein_1d_samples (gram and style_loss are in `gram`).

use super::outputs::{outputs, unexpected};
use super::readback::Parts;
use super::request::Request;
use crate::catalogue::{self, Structured};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::total_variation as tv;
use crate::kernel::wasserstein;
use crate::kernel::wasserstein_samples as samples;
use crate::problem::structured::{SampleSets, SamplesProblem, TvProblem, WassersteinProblem};
use crate::status::Check;
use crate::tensor::Tensor;

/// Fails on the builder's error and on a tensor slot the loss does not take.
pub(crate) fn no_stray_tensors(req: &Request<'_>, loss: &'static Structured) -> Result<()> {
    req.checked()?;
    let stray = [
        ("target", req.target.filter(|_| !loss.takes("target"))),
        ("weight", req.weight),
        ("aux", req.aux),
        ("input", req.input.filter(|_| !loss.takes("input"))),
    ];
    match stray.iter().find(|(_, t)| t.is_some()) {
        Some((name, _)) => Err(unexpected(loss.name, name, &catalogue::names(loss.tensors))),
        None => Ok(()),
    }
}

/// The `input` a loss over one image or feature stack requires.
pub(crate) fn input<'a>(req: &Request<'a>, loss: &Structured) -> Result<&'a Tensor> {
    req.input.ok_or(LossError::MissingTensor {
        loss: loss.name,
        tensor: "input",
    })
}

pub(crate) fn total_variation(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let input = input(req, loss)?;
    let p = TvProblem::new(
        loss,
        input.shape(),
        input.dtype(),
        &req.params,
        req.reduction,
    )?;
    let inputs = [("input", Some(input))];
    let (elements, grad) = outputs(ctx, req, p.reduction, &p.shape, &p.shape, &inputs)?;
    let bound = tv::Bound {
        input,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
    };
    let scratch = tv::record(ctx, &p, &bound, enc)?;
    Ok(Parts::new(
        p.names(),
        p.reduction,
        (elements, grad),
        scratch,
    ))
}

/// wasserstein_1d: rows `u`, `v`, a gradient for each.
pub(crate) fn wasserstein(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let (u, v) = (req.required("u")?, req.required("v")?);
    let p = WassersteinProblem::new(loss, u, v, &req.params, req.reduction)?;
    let inputs = [("u", Some(u)), ("v", Some(v))];
    let rows_shape = &p.shape[..p.shape.len() - 1];
    let (elements, grad) = outputs(ctx, req, p.reduction, rows_shape, &p.shape, &inputs)?;
    let grad_v = grad
        .as_ref()
        .map(|_| ctx.scratch_tensor(p.shape.clone()))
        .transpose()?;
    let bound = wasserstein::Bound {
        u,
        v,
        out: elements.as_ref(),
        grads: grad.as_ref().zip(grad_v.as_ref()),
        result,
    };
    let scratch = wasserstein::record(ctx, &p, &bound, enc)?;
    Ok(Parts {
        other_grads: grad_v.into_iter().map(|g| ("v", g)).collect(),
        ..Parts::new(p.names(), p.reduction, (elements, grad), scratch)
    })
}

/// wasserstein_1d_samples: two sample sets, optionally weighted; a gradient for each set.
pub(crate) fn samples(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let mut bound = samples::Bound {
        u: req.required("u_values")?,
        v: req.required("v_values")?,
        u_weights: req.named_tensor("u_weights"),
        v_weights: req.named_tensor("v_weights"),
        grads: None,
        out: None,
        result,
    };
    let sets = SampleSets {
        u: bound.u,
        v: bound.v,
        u_weights: bound.u_weights,
        v_weights: bound.v_weights,
    };
    let p = SamplesProblem::new(loss, sets, &req.params, req.reduction)?;
    let inputs = [
        ("u_values", Some(bound.u)),
        ("v_values", Some(bound.v)),
        ("u_weights", bound.u_weights),
        ("v_weights", bound.v_weights),
    ];
    let (elements, grad) = outputs(ctx, req, p.reduction, &[1], bound.u.shape(), &inputs)?;
    let grad_v = grad
        .as_ref()
        .map(|_| ctx.scratch_tensor(bound.v.shape().to_vec()))
        .transpose()?;
    bound.grads = grad.as_ref().zip(grad_v.as_ref());
    bound.out = elements.as_ref();
    let scratch = samples::record(ctx, &p, &bound, enc)?;
    // samples_prep.wgsl flags index 0 for a bad total as for a bad first weight.
    let weights = [
        (Check::AuxDomain, bound.u_weights),
        (Check::TargetDomain, bound.v_weights),
    ];
    Ok(Parts {
        weights: weights
            .into_iter()
            .filter_map(|(c, w)| w.map(|w| (c, w.clone())))
            .collect(),
        other_grads: grad_v.into_iter().map(|g| ("v_values", g)).collect(),
        ..Parts::new(p.names(), p.reduction, (elements, grad), scratch)
    })
}
