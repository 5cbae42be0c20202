//! Records one call of a row-statistics loss (js_div, cosine_similarity, dice): rows split
//! into dispatches that fit the binding limit, then the finish pass.

use super::dispatch::{
    group, range_or_dummy, record_pass, row_plan, scratch_range, window, Finish, Launch, RowLanes,
};
use super::registry::ROW_STATS;
use super::source::RowStatsConfig;
use super::storage::Dtypes;
use crate::context::GpuContext;
use crate::error::Result;
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::rows::RowStatsProblem;
use crate::tensor::{DType, Tensor};
use crate::tuning::TuneFamily;
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
    let l = Launch::tuned(ctx, TuneFamily::Rows);
    let (n, c) = (p.rows, p.classes);
    let shape = RowLanes::new(
        &l,
        c,
        [Some(t.input), Some(t.target), t.grad]
            .into_iter()
            .flatten(),
    );
    let max_groups = l.tuning.max_workgroups as usize;
    let rows = row_plan(&l, n, c, "values", shape.rows_per_group, max_groups)?;
    let mean = p.reduction == Reduction::Mean;
    let mut params = [0f32; 4];
    for (dst, src) in params.iter_mut().zip(&p.params) {
        *dst = *src as f32;
    }

    let config = RowStatsConfig {
        loss: p.loss.name,
        code: l.code,
        vec4: shape.vec4,
        row_lanes: shape.lanes,
        write_out: t.out.is_some(),
        write_grad: t.grad.is_some(),
        dtypes: Dtypes {
            x: t.input.dtype(),
            y: t.target.dtype(),
            out: t.out.map_or(DType::F32, Tensor::dtype),
            grad: t.grad.map_or(DType::F32, Tensor::dtype),
            ..Dtypes::default()
        },
    };
    let pipeline = inner.kernels.pipeline(&ROW_STATS, &config)?;
    let scratch = ctx.scratch(u64::from(rows.partials))?;
    let mut dispatches = Vec::with_capacity(rows.spans.len());
    for s in &rows.spans {
        let win =
            |t: &Tensor, per_row: usize| window(t, s.first * per_row, s.count * per_row, l.align);
        let x = win(t.input, c);
        let y = win(t.target, c);
        let out = t.out.map(|o| win(o, 1));
        let grad = t.grad.map(|g| win(g, c));
        let uniform = RowSegmentUniform {
            rows: s.count as u32,
            first_row: s.first as u32,
            classes: c as u32,
            x_at: x.at,
            y_at: y.at,
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            partial_at: s.partial_at,
            scale: if mean { 1.0 / n as f32 } else { 1.0 },
            _pad: [0.0; 3],
            params,
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let bind = group(
            ctx,
            &ROW_STATS,
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (t.input.buffer(), x.offset, x.size),
                (t.target.buffer(), y.offset, y.size),
                range_or_dummy(t.out, out.as_ref(), &inner.dummy_out),
                range_or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad),
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
