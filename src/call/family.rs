//! The one place a loss meets its kernel family: each family's adapter validates the request
//! against the entry, allocates the outputs and records the kernels. (Objectives, composites
//! of these adapters, are `objective`'s.)

use super::readback::Recorded;
use super::request::Request;
use super::{elementwise, gram, rows, structured};
use crate::catalogue::{Loss, RowKernel, StructuredKernel};
use crate::context::GpuContext;
use crate::error::Result;
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
            }
        }
        Loss::Objective(o) => unreachable!("{}: objectives are composites", o.name),
    };
    Ok(Recorded::new(ctx, value, parts))
}
