//! Records one call of a row-statistics loss (js_div, cosine_similarity, dice): rows split
//! into dispatches that fit the binding limit, then the finish pass.

use super::cross_entropy::{group, row_lanes};
use super::elementwise::{record_pass, window, Finish};
use super::{CodeConfig, KernelKey, RowStatsConfig, ROW_STATS};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::rows::RowStatsProblem;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// shaders/row_stats.wgsl's `RowSegment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RowSegmentUniform {
    rows: u32,
    first_row: u32,
    classes: u32,
    x_at: u32,
    y_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    scale: f32,
    _pad: [f32; 3],
    params: [f32; 4],
}

pub(crate) struct Bound<'a> {
    pub input: &'a Tensor,
    pub target: &'a Tensor,
    pub out: Option<&'a Tensor>,
    pub grad: Option<&'a Tensor>,
    pub result: &'a Tensor,
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &RowStatsProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let tuning = ctx.tuning();
    let code = CodeConfig::from(&tuning);
    let align = u64::from(inner.limits.min_storage_buffer_offset_alignment).max(16);
    let max_binding = tuning.max_binding_bytes;
    let (n, c) = (p.rows, p.classes);
    let row_bytes = 4 * c as u64;
    if row_bytes + align > max_binding {
        return Err(LossError::Limit {
            what: format!("one row of {c} values in one storage binding"),
            needed: row_bytes + align,
            limit: max_binding,
        });
    }
    let aligned = [Some(t.input), Some(t.target), t.grad]
        .into_iter()
        .flatten()
        .all(|t| t.offset() % 16 == 0);
    let vec4 = tuning.vector_loads && c % 4 == 0 && aligned;
    let lanes = row_lanes(c / if vec4 { 4 } else { 1 }, tuning.workgroup_size);
    let rows_per_group = (tuning.workgroup_size / lanes) as usize;
    let rows_per_segment = (((max_binding - align) / row_bytes.max(4)) as usize).max(1);
    let max_groups = tuning.max_workgroups as usize;
    let mean = p.reduction == Reduction::Mean;
    let mut params = [0f32; 4];
    for (dst, src) in params.iter_mut().zip(&p.params) {
        *dst = *src as f32;
    }

    let pipeline = inner
        .kernels
        .pipeline(&KernelKey::RowStats(RowStatsConfig {
            loss: p.loss.name,
            code,
            vec4,
            row_lanes: lanes,
            write_out: t.out.is_some(),
            write_grad: t.grad.is_some(),
        }))?;
    let mut segments = Vec::new();
    let mut first = 0;
    while first < n {
        let count = rows_per_segment.min(n - first);
        let groups = count.div_ceil(rows_per_group).clamp(1, max_groups) as u32;
        segments.push((first, count, groups));
        first += count;
    }
    let partials: u32 = segments.iter().map(|s| s.2).sum();
    let scratch = ctx.scratch(u64::from(partials))?;
    let mut dispatches = Vec::with_capacity(segments.len());
    let mut partial_at = 0;
    for &(first, count, groups) in &segments {
        let x = window(t.input, first * c, count * c, align);
        let y = window(t.target, first * c, count * c, align);
        let out = t.out.map(|o| window(o, first, count, align));
        let grad = t.grad.map(|g| window(g, first * c, count * c, align));
        let uniform = RowSegmentUniform {
            rows: count as u32,
            first_row: first as u32,
            classes: c as u32,
            x_at: x.at,
            y_at: y.at,
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            partial_at,
            scale: if mean { 1.0 / n as f32 } else { 1.0 },
            _pad: [0.0; 3],
            params,
        };
        partial_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let out_res = match (t.out, &out) {
            (Some(o), Some(w)) => (o.buffer(), w.offset, w.size),
            _ => (&inner.dummy_out, 0, 16),
        };
        let grad_res = match (t.grad, &grad) {
            (Some(g), Some(w)) => (g.buffer(), w.offset, w.size),
            _ => (&inner.dummy_grad, 0, 16),
        };
        let bind = group(
            ctx,
            inner.kernels.bind_group_layout(&ROW_STATS),
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (t.input.buffer(), x.offset, x.size),
                (t.target.buffer(), y.offset, y.size),
                out_res,
                grad_res,
                (scratch.buffer(), 0, scratch.buffer().size()),
            ],
        );
        dispatches.push((bind, groups));
    }
    // A mean over no row is NaN.
    let finish = Finish::sum(ctx, code, &scratch, t.result, partials, mean && n == 0)?;
    record_pass(enc, p.loss.name, &pipeline, &dispatches, &scratch, &finish);
    Ok(scratch)
}
