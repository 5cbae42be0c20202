//! A call's outputs: the per-element (or per-row) losses, the gradient and the value,
//! allocated or the caller's, checked for size, usage and for sharing a buffer with an input
//! (wgpu tracks usage per buffer).

use super::request::{Output, Request};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::tensor::{element_count, DType, Tensor};

/// The tensor element 0 of which receives the reduced value: the caller's, or a new one.
pub(crate) fn value_tensor(ctx: &GpuContext, into: Option<&Tensor>) -> Result<Tensor> {
    match into {
        Some(t) if t.texture().is_some() => t.buffer_only("the value").map(|_| t.clone()),
        Some(t) if t.is_empty() => Err(LossError::Buffer {
            tensor: "value".into(),
            why: "it has no element to hold the value".into(),
        }),
        Some(t) if !t.buffer().usage().contains(wgpu::BufferUsages::STORAGE) => {
            Err(LossError::Buffer {
                tensor: "value".into(),
                why: "the buffer lacks STORAGE usage".into(),
            })
        }
        Some(t) => Ok(t.clone()),
        None => ctx.scratch_tensor(vec![1]),
    }
}

/// An output: new ones of dtype `new` (f32 where `None`); the caller's may hold any float
/// dtype where `new` is given (the family writes halves), else only float32.
fn output(
    ctx: &GpuContext,
    o: Output<'_>,
    shape: &[usize],
    new: Option<DType>,
) -> Result<Option<Tensor>> {
    let n = element_count(&format!("output of shape {shape:?}"), shape)?;
    let takes = |d: DType| d == DType::F32 || (new.is_some() && d.is_float());
    match o {
        Output::No => Ok(None),
        Output::New => ctx
            .scratch_typed(shape.to_vec(), new.unwrap_or(DType::F32))
            .map(Some),
        Output::Into(t) if t.len() == n && takes(t.dtype()) => Ok(Some(t.clone())),
        Output::AddTo(t) if t.len() == n && t.dtype() == DType::F32 => Ok(Some(t.clone())),
        Output::Into(t) | Output::AddTo(t) => Err(LossError::Buffer {
            tensor: format!("output {:?}", t.shape()),
            why: format!(
                "it has {} {} elements; this output takes {n} {}",
                t.len(),
                t.dtype().name(),
                if new.is_some() { "floats" } else { "float32" }
            ),
        }),
    }
}

/// The per-element (per-row) losses and the gradient of `req`, for `reduction` (the
/// validated one), checked against `inputs`.
pub(crate) fn outputs(
    ctx: &GpuContext,
    req: &Request<'_>,
    reduction: Reduction,
    elements_shape: &[usize],
    grad_shape: &[usize],
    inputs: &[(&'static str, Option<&Tensor>)],
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    outputs_typed(
        ctx,
        req,
        reduction,
        elements_shape,
        grad_shape,
        inputs,
        None,
    )
}

/// [`outputs`] of a family that writes f16 and bf16 too: new outputs take `new` (the
/// request's `out_dtype` wins), the caller's any float dtype.
pub(crate) fn outputs_typed(
    ctx: &GpuContext,
    req: &Request<'_>,
    reduction: Reduction,
    elements_shape: &[usize],
    grad_shape: &[usize],
    inputs: &[(&'static str, Option<&Tensor>)],
    new: Option<DType>,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let new = new.map(|d| req.out_dtype.unwrap_or(d));
    let elements = match (reduction, req.elements) {
        (Reduction::None, Output::No) => Output::New,
        (_, o) => o,
    };
    let elements = output(ctx, elements, elements_shape, new)?;
    let grad = output(ctx, req.grad, grad_shape, new)?;
    let loss = req.loss.name();
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

/// `loss` was given a tensor it does not take.
pub(crate) fn unexpected(loss: &'static str, tensor: &str, takes: &[&str]) -> LossError {
    LossError::UnexpectedTensor {
        loss,
        tensor: tensor.to_string(),
        takes: takes.join(", "),
    }
}
