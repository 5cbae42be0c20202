//! The row families' adapters (section C): the cross-entropy kernel (cross_entropy, nll,
//! sparse_categorical_cross_entropy), the row-statistics kernel and the row-tuples kernel.

use super::outputs::{outputs_typed, unexpected};
use super::readback::Parts;
use super::request::{Output, Request};
use crate::catalogue::{self, RowLoss};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::{cross_entropy, row_stats, row_tuples};
use crate::problem::rows::{CrossEntropyProblem, RowStatsProblem, TensorShape, TupleProblem};
use crate::tensor::Tensor;

fn shape(t: &Tensor) -> TensorShape<'_> {
    TensorShape {
        shape: t.shape(),
        dtype: t.dtype(),
    }
}

/// `input` and `target`, which the cross-entropy and row-statistics losses take.
fn input_and_target<'a>(req: &Request<'a>, loss: &RowLoss) -> Result<(&'a Tensor, &'a Tensor)> {
    req.checked()?;
    let missing = |tensor| LossError::MissingTensor {
        loss: loss.name,
        tensor,
    };
    let input = req.input.ok_or_else(|| missing("input"))?;
    let target = req.target.ok_or_else(|| missing("target"))?;
    Ok((input, target))
}

/// cross_entropy, nll and sparse_categorical_cross_entropy: logits (or log-probabilities,
/// probabilities) and class labels or probabilities.
pub(crate) fn class_rows(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static RowLoss,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let (input, target) = input_and_target(req, loss)?;
    let mut p = CrossEntropyProblem::new(
        loss,
        shape(input),
        shape(target),
        req.weight.map(shape),
        &req.params,
        req.reduction,
    )?;
    p.scale = req.scale;
    // The gradient may overwrite the logits (the very same tensor): the kernel then reads
    // them through the gradient's binding and `input` is not bound.
    let in_place = matches!(req.grad, Output::Into(g) if g.same_window(input));
    let inputs = [
        ("input", (!in_place).then_some(input)),
        ("target", Some(target)),
        ("weight", req.weight),
    ];
    let rows_shape = &p.shape[..p.shape.len() - 1];
    let new = Some(input.dtype());
    let (elements, grad) =
        outputs_typed(ctx, req, p.reduction, rows_shape, &p.shape, &inputs, new)?;
    let bound = cross_entropy::Bound {
        input,
        target,
        weight: req.weight,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
    };
    let scratch = cross_entropy::record(ctx, &p, &bound, enc)?;
    Ok(Parts {
        labels: (!target.dtype().is_float()).then(|| target.clone()),
        ..Parts::new(p.names(), p.reduction, (elements, grad), scratch)
    })
}

/// js_div, cosine_similarity, dice, categorical_cross_entropy: a loss from per-row sums.
pub(crate) fn stats(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static RowLoss,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    let (input, target) = input_and_target(req, loss)?;
    if req.weight.is_some() {
        return Err(unexpected(
            loss.name,
            "weight",
            &catalogue::names(loss.tensors),
        ));
    }
    let p = RowStatsProblem::new(
        loss,
        shape(input),
        shape(target),
        &req.params,
        req.reduction,
    )?;
    let inputs = [("input", Some(input)), ("target", Some(target))];
    let rows_shape = &p.shape[..p.shape.len() - 1];
    let new = Some(input.dtype());
    let (elements, grad) =
        outputs_typed(ctx, req, p.reduction, rows_shape, &p.shape, &inputs, new)?;
    let bound = row_stats::Bound {
        input,
        target,
        out: elements.as_ref(),
        grad: grad.as_ref(),
        result,
    };
    let scratch = row_stats::record(ctx, &p, &bound, enc)?;
    Ok(Parts::new(
        p.names(),
        p.reduction,
        (elements, grad),
        scratch,
    ))
}

/// cosine_embedding and triplet_margin: tensors by their own names, a gradient for each.
pub(crate) fn tuples(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static RowLoss,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    req.checked()?;
    let stray = [
        ("input", req.input),
        ("weight", req.weight),
        ("aux", req.aux),
    ];
    if let Some((name, _)) = stray.iter().find(|(_, t)| t.is_some()) {
        return Err(unexpected(loss.name, name, &catalogue::names(loss.tensors)));
    }
    let mut rows = Vec::new();
    for name in loss.grad_tensors() {
        rows.push((name, req.required(name)?));
    }
    let labels = if loss.takes("target") {
        Some(req.target.ok_or(LossError::MissingTensor {
            loss: loss.name,
            tensor: "target",
        })?)
    } else if req.target.is_some() {
        return Err(unexpected(
            loss.name,
            "target",
            &catalogue::names(loss.tensors),
        ));
    } else {
        None
    };
    let shapes: Vec<_> = rows.iter().map(|&(n, t)| (n, shape(t))).collect();
    let p = TupleProblem::new(loss, &shapes, labels.map(shape), &req.params, req.reduction)?;
    let inputs: Vec<_> = rows
        .iter()
        .map(|&(n, t)| (n, Some(t)))
        .chain([("target", labels)])
        .collect();
    let rows_shape = &p.shape[..p.shape.len() - 1];
    // Each gradient in its tensor's dtype unless the request names one.
    let dtype_of = |t: &Tensor| req.out_dtype.unwrap_or(t.dtype());
    let new = Some(rows[0].1.dtype());
    let (elements, grad) =
        outputs_typed(ctx, req, p.reduction, rows_shape, &p.shape, &inputs, new)?;
    let mut other_grads = Vec::new();
    if grad.is_some() {
        for &(name, t) in &rows[1..] {
            other_grads.push((name, ctx.scratch_typed(p.shape.clone(), dtype_of(t))?));
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
    let scratch = row_tuples::record(ctx, &p, &bound, enc)?;
    Ok(Parts {
        other_grads,
        ..Parts::new(p.names(), p.reduction, (elements, grad), scratch)
    })
}
