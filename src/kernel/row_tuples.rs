//! Records one call of a row-tuples loss (cosine_embedding, triplet_margin): rows split into
//! dispatches that fit the binding limit, then the finish pass.

use super::dispatch::{
    group, record_pass, row_plan, scratch_range, window, BindRange, Finish, Launch, RowLanes,
    Window,
};
use super::registry::ROW_TUPLES;
use super::source::{built_in_power, RowTuplesConfig, TupleDtypes};
use crate::context::GpuContext;
use crate::error::Result;
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::rows::TupleProblem;
use crate::tensor::{DType, Tensor};
use crate::tuning::TuneFamily;
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
    let l = Launch::tuned(ctx, TuneFamily::Rows);
    let (n, c) = (p.rows, p.classes);
    let shape = RowLanes::new(&l, c, t.rows.iter().copied().chain(t.grads));
    let max_groups = l.tuning.max_workgroups as usize;
    let rows = row_plan(&l, n, c, "values", shape.rows_per_group, max_groups)?;
    let mean = p.reduction == Reduction::Mean;
    let mut params = [0f32; 4];
    for (dst, src) in params.iter_mut().zip(&p.params) {
        *dst = *src as f32;
    }

    let config = RowTuplesConfig {
        loss: p.loss.name,
        code: l.code,
        vec4: shape.vec4,
        row_lanes: shape.lanes,
        write_out: t.out.is_some(),
        write_grad: !t.grads.is_empty(),
        labels: t.labels.is_some(),
        power: p
            .loss
            .params
            .iter()
            .position(|s| s.name == "p")
            .map_or(0, |i| built_in_power(params[i])),
        dtypes: TupleDtypes {
            rows: [
                t.rows[0].dtype(),
                t.rows[1].dtype(),
                t.labels.unwrap_or_else(|| t.rows[2]).dtype(),
            ],
            out: t.out.map_or(DType::F32, Tensor::dtype),
            grads: [0, 1, 2].map(|k| t.grads.get(k).map_or(DType::F32, Tensor::dtype)),
        },
    };
    let pipeline = inner.kernels.pipeline(&ROW_TUPLES, &config)?;
    let scratch = ctx.scratch(u64::from(rows.partials))?;
    let mut dispatches = Vec::with_capacity(rows.spans.len());
    for s in &rows.spans {
        let win =
            |t: &Tensor, per_row: usize| window(t, s.first * per_row, s.count * per_row, l.align);
        let row_windows: Vec<Window> = t.rows.iter().map(|r| win(r, c)).collect();
        let third = match t.labels {
            Some(labels) => (labels, win(labels, 1)),
            None => (t.rows[2], win(t.rows[2], c)),
        };
        let out = t.out.map(|o| (o, win(o, 1)));
        let grads: Vec<_> = t.grads.iter().map(|g| (g, win(g, c))).collect();
        let grad_at = |k: usize| grads.get(k).map_or(0, |g| g.1.at);
        let uniform = RowSegmentUniform {
            rows: s.count as u32,
            first_row: s.first as u32,
            classes: c as u32,
            a_at: row_windows[0].at,
            b_at: row_windows[1].at,
            c_at: third.1.at,
            out_at: out.as_ref().map_or(0, |w| w.1.at),
            ga_at: grad_at(0),
            gb_at: grad_at(1),
            gc_at: grad_at(2),
            partial_at: s.partial_at,
            scale: if mean { 1.0 / n as f32 } else { 1.0 },
            params,
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let out_res: BindRange<'_> = out.map_or((&inner.dummy_out, 0, 16), |(o, w)| {
            (o.buffer(), w.offset, w.size)
        });
        let grad_res = |k: usize| -> BindRange<'_> {
            grads.get(k).map_or((&inner.dummy_grad, 0, 16), |(g, w)| {
                (g.buffer(), w.offset, w.size)
            })
        };
        let bind = group(
            ctx,
            &ROW_TUPLES,
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (
                    t.rows[0].buffer(),
                    row_windows[0].offset,
                    row_windows[0].size,
                ),
                (
                    t.rows[1].buffer(),
                    row_windows[1].offset,
                    row_windows[1].size,
                ),
                (third.0.buffer(), third.1.offset, third.1.size),
                out_res,
                grad_res(0),
                grad_res(1),
                grad_res(2),
                scratch_range(&scratch),
            ],
        );
        dispatches.push((bind, s.groups));
    }
    // A mean over no row is NaN.
    let finish = Finish::sum(
        ctx,
        l.code,
        &scratch,
        t.result,
        rows.partials,
        mean && n == 0,
    )?;
    record_pass(enc, p.loss.name, &pipeline, &dispatches, &scratch, &finish);
    Ok(scratch)
}
