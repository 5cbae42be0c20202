//! The elementwise family's adapter (sections A and B, kl_div, the objectives' terms):
//! `input`, `target`, optional `weight` and extra tensor → one elementwise kernel call.

use super::outputs::outputs_typed;
use super::readback::Parts;
use super::request::{Output, Request};
use crate::catalogue::Elementwise;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::{elementwise, texture_elementwise};
use crate::problem::{Problem, Shapes};
use crate::tensor::Tensor;

pub(crate) fn record(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Elementwise,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    req.checked()?;
    let missing = |tensor| LossError::MissingTensor {
        loss: loss.name,
        tensor,
    };
    let input = req.input.ok_or_else(|| missing("input"))?;
    let target = req.target.ok_or_else(|| missing("target"))?;
    let aux_name = loss.aux.map(|a| a.name).unwrap_or("aux");
    let inputs = [
        ("input", Some(input)),
        ("target", Some(target)),
        ("weight", req.weight),
        (aux_name, req.aux),
    ];
    let texture = input.texture().is_some() || target.texture().is_some();
    for (name, t) in inputs {
        if let Some(t) = t {
            // The texture kernel reads its buffer tensors as f32.
            match texture {
                true => t.dtype().expect_f32(loss.name, name)?,
                false => t.dtype().expect_float(loss.name, name)?,
            }
        }
    }
    let mut p = Problem::new(
        loss,
        Shapes {
            input: input.shape(),
            target: target.shape(),
            weight: req.weight.map(Tensor::shape),
            aux: req.aux.map(Tensor::shape),
        },
        &req.params,
        req.reduction,
    )?;
    p.scale = req.scale;
    let new = (!texture).then(|| input.dtype());
    let (elements, grad) = outputs_typed(ctx, req, p.reduction, &p.shape, &p.shape, &inputs, new)?;
    if texture && matches!(req.grad, Output::AddTo(_)) {
        return Err(LossError::Gpu(format!(
            "{}: a gradient added to another term's needs buffer tensors, not a texture",
            loss.name
        )));
    }
    let scratch = if texture {
        // A texture's planes (family.rs allowed them: no weight, no extra tensor).
        let bound = texture_elementwise::Bound {
            input,
            target,
            out: elements.as_ref(),
            grad: grad.as_ref(),
            result,
        };
        texture_elementwise::record(ctx, &p, &bound, enc)?
    } else {
        let bound = elementwise::Bound {
            input,
            target,
            weight: req.weight,
            aux: req.aux,
            out: elements.as_ref(),
            grad: grad.as_ref(),
            add_grad: matches!(req.grad, Output::AddTo(_)),
            result,
        };
        elementwise::record(ctx, &p, &bound, enc)?
    };
    Ok(Parts::new(
        p.names(),
        p.reduction,
        (elements, grad),
        scratch,
    ))
}
