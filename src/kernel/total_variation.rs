//! Records one call of total_variation: whole image planes per dispatch (each a binding
//! window), then the finish pass.

use super::dispatch::{
    group, plan, range_or_dummy, record_pass, scratch_range, window, Finish, FinishUniform, Launch,
};
use super::registry::TOTAL_VARIATION;
use super::source::{built_in_power, OutputsConfig, TotalVariationConfig};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use crate::problem::structured::TvProblem;
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
    let l = Launch::of(ctx);
    let (tuning, align) = (&l.tuning, l.align);
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
    let config = TotalVariationConfig {
        outputs: OutputsConfig {
            code: l.code,
            write_out: t.out.is_some(),
            write_grad: t.grad.is_some(),
        },
        power: built_in_power(p.power as f32),
    };
    let pipeline = inner.kernels.pipeline(&TOTAL_VARIATION, &config)?;
    // Whole planes per dispatch, one workgroup per WG_SIZE elements.
    let elements = plan(p.n, per_segment, |count| {
        count.div_ceil(wg).clamp(1, tuning.max_workgroups as usize) as u32
    });
    let scratch = ctx.scratch(u64::from(elements.partials))?;
    let divisor = p.divisor();
    let grad_scale = if divisor > 0.0 { 1.0 / divisor } else { 1.0 };
    let mut dispatches = Vec::with_capacity(elements.spans.len());
    for s in &elements.spans {
        let win = |t: &Tensor| window(t, s.first, s.count, align);
        let x = win(t.input);
        let out = t.out.map(win);
        let grad = t.grad.map(win);
        let uniform = SegmentUniform {
            count: s.count as u32,
            first: s.first as u32,
            width: p.width as u32,
            height: p.height as u32,
            x_at: x.at,
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            partial_at: s.partial_at,
            grad_scale: grad_scale as f32,
            power: p.power as f32,
            _pad: [0; 2],
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let bind = group(
            ctx,
            &TOTAL_VARIATION,
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (t.input.buffer(), x.offset, x.size),
                range_or_dummy(t.out, out.as_ref(), &inner.dummy_out),
                range_or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad),
                scratch_range(&scratch),
            ],
        );
        dispatches.push((bind, s.groups));
    }
    let finish = Finish::new(
        ctx,
        l.code,
        &scratch,
        t.result,
        FinishUniform {
            count: elements.partials,
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
