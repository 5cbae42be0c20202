//! The one place a loss meets its kernel family: each family's adapter validates the request
//! against the entry, allocates the outputs and records the kernels; an objective is a
//! composite of those adapters.

use super::readback::Recorded;
use super::{elementwise, gram, objective, rows, structured, Request};
use crate::catalogue::{Loss, RowKernel, StructuredKernel};
use crate::context::GpuContext;
use crate::error::Result;
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::status::Names;
use crate::tensor::Tensor;

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
}

/// Records `req` into `enc`, its reduced value into element 0 of `value`.
pub(crate) fn record(
    ctx: &GpuContext,
    req: &Request<'_>,
    enc: &mut wgpu::CommandEncoder,
    value: Tensor,
) -> Result<Recorded> {
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
        Loss::Objective(o) => return objective::record(ctx, req, o, enc, value),
    };
    Ok(Recorded::new(ctx, value, parts))
}
