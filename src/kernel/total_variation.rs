//! Records one call of total_variation: whole image planes per dispatch (each a binding
//! window), then the finish pass.

use super::cross_entropy::group;
use super::elementwise::{record_pass, window, Finish, FinishUniform};
use super::{CodeConfig, KernelKey, TOTAL_VARIATION};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::image::TvProblem;
use crate::pool::Pooled;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// shaders/total_variation.wgsl's `Segment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SegmentUniform {
    count: u32,
    first: u32,
    width: u32,
    height: u32,
    x_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    grad_scale: f32,
    power: f32,
    _pad: [u32; 2],
}

pub(crate) struct Bound<'a> {
    pub input: &'a Tensor,
    pub out: Option<&'a Tensor>,
    pub grad: Option<&'a Tensor>,
    pub result: &'a Tensor,
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &TvProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let tuning = ctx.tuning();
    let code = CodeConfig::from(&tuning);
    let align = u64::from(inner.limits.min_storage_buffer_offset_alignment).max(16);
    let plane = p.height * p.width;
    let plane_bytes = 4 * plane as u64;
    if plane_bytes + align > tuning.max_binding_bytes {
        return Err(LossError::Limit {
            what: format!(
                "one {}x{} image plane in one storage binding",
                p.height, p.width
            ),
            needed: plane_bytes + align,
            limit: tuning.max_binding_bytes,
        });
    }
    let planes_per_segment = ((tuning.max_binding_bytes - align) / plane_bytes.max(4)).max(1);
    let per_segment = planes_per_segment as usize * plane.max(1);
    let wg = tuning.workgroup_size as usize;
    let pipeline = inner.kernels.pipeline(&KernelKey::TotalVariation {
        code,
        write_out: t.out.is_some(),
        write_grad: t.grad.is_some(),
    })?;
    let mut segments = Vec::new();
    let mut first = 0;
    while first < p.n {
        let count = per_segment.min(p.n - first);
        let groups = count.div_ceil(wg).clamp(1, tuning.max_workgroups as usize) as u32;
        segments.push((first, count, groups));
        first += count;
    }
    let partials: u32 = segments.iter().map(|s| s.2).sum();
    let scratch = ctx.scratch(u64::from(partials))?;
    let divisor = p.divisor();
    let grad_scale = if divisor > 0.0 { 1.0 / divisor } else { 1.0 };
    let mut dispatches = Vec::with_capacity(segments.len());
    let mut partial_at = 0;
    for &(first, count, groups) in &segments {
        let x = window(t.input, first, count, align);
        let out = t.out.map(|o| (o, window(o, first, count, align)));
        let grad = t.grad.map(|g| (g, window(g, first, count, align)));
        let uniform = SegmentUniform {
            count: count as u32,
            first: first as u32,
            width: p.width as u32,
            height: p.height as u32,
            x_at: x.at,
            out_at: out.as_ref().map_or(0, |w| w.1.at),
            grad_at: grad.as_ref().map_or(0, |w| w.1.at),
            partial_at,
            grad_scale: grad_scale as f32,
            power: p.power as f32,
            _pad: [0; 2],
        };
        partial_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let out_res = out.map_or((&inner.dummy_out, 0, 16), |(o, w)| {
            (o.buffer(), w.offset, w.size)
        });
        let grad_res = grad.map_or((&inner.dummy_grad, 0, 16), |(g, w)| {
            (g.buffer(), w.offset, w.size)
        });
        let bind = group(
            ctx,
            inner.kernels.bind_group_layout(&TOTAL_VARIATION),
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (t.input.buffer(), x.offset, x.size),
                out_res,
                grad_res,
                (scratch.buffer(), 0, scratch.buffer().size()),
            ],
        );
        dispatches.push((bind, groups));
    }
    let finish = Finish::new(
        ctx,
        code,
        &scratch,
        t.result,
        FinishUniform {
            count: partials,
            partial_at: 0,
            result_at: 0,
            divisor: divisor as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;
    record_pass(enc, p.loss.name, &pipeline, &dispatches, &scratch, &finish);
    Ok(scratch)
}
