//! Records one call of a row-tuples loss (cosine_embedding, triplet_margin): rows split into
//! dispatches that fit the binding limit, then the finish pass.

use super::cross_entropy::{group, row_lanes};
use super::elementwise::{record_pass, window, Finish, Window};
use super::{CodeConfig, KernelKey, RowTuplesConfig, ROW_TUPLES};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::rows::TupleProblem;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// shaders/row_tuples.wgsl's `RowSegment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RowSegmentUniform {
    rows: u32,
    first_row: u32,
    classes: u32,
    a_at: u32,
    b_at: u32,
    c_at: u32,
    out_at: u32,
    ga_at: u32,
    gb_at: u32,
    gc_at: u32,
    partial_at: u32,
    scale: f32,
    params: [f32; 4],
}

pub(crate) struct Bound<'a> {
    /// The row tensors in catalogue order (two or three).
    pub rows: &'a [&'a Tensor],
    pub labels: Option<&'a Tensor>,
    pub out: Option<&'a Tensor>,
    /// A gradient per row tensor, or none.
    pub grads: &'a [Tensor],
    pub result: &'a Tensor,
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &TupleProblem,
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
    let aligned = t
        .rows
        .iter()
        .copied()
        .chain(t.grads)
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
        .pipeline(&KernelKey::RowTuples(RowTuplesConfig {
            loss: p.loss.name,
            code,
            vec4,
            row_lanes: lanes,
            write_out: t.out.is_some(),
            write_grad: !t.grads.is_empty(),
            labels: t.labels.is_some(),
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
        let rows: Vec<Window> = t
            .rows
            .iter()
            .map(|r| window(r, first * c, count * c, align))
            .collect();
        let third = match t.labels {
            Some(l) => (l, window(l, first, count, align)),
            None => (t.rows[2], window(t.rows[2], first * c, count * c, align)),
        };
        let out = t.out.map(|o| (o, window(o, first, count, align)));
        let grads: Vec<_> = t
            .grads
            .iter()
            .map(|g| (g, window(g, first * c, count * c, align)))
            .collect();
        let grad_at = |k: usize| grads.get(k).map_or(0, |g| g.1.at);
        let uniform = RowSegmentUniform {
            rows: count as u32,
            first_row: first as u32,
            classes: c as u32,
            a_at: rows[0].at,
            b_at: rows[1].at,
            c_at: third.1.at,
            out_at: out.as_ref().map_or(0, |w| w.1.at),
            ga_at: grad_at(0),
            gb_at: grad_at(1),
            gc_at: grad_at(2),
            partial_at,
            scale: if mean { 1.0 / n as f32 } else { 1.0 },
            params,
        };
        partial_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let out_res = out.map_or((&inner.dummy_out, 0, 16), |(o, w)| {
            (o.buffer(), w.offset, w.size)
        });
        let grad_res = |k: usize| {
            grads.get(k).map_or((&inner.dummy_grad, 0, 16), |(g, w)| {
                (g.buffer(), w.offset, w.size)
            })
        };
        let bind = group(
            ctx,
            inner.kernels.bind_group_layout(&ROW_TUPLES),
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (t.rows[0].buffer(), rows[0].offset, rows[0].size),
                (t.rows[1].buffer(), rows[1].offset, rows[1].size),
                (third.0.buffer(), third.1.offset, third.1.size),
                out_res,
                grad_res(0),
                grad_res(1),
                grad_res(2),
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
