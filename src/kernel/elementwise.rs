//! Records one elementwise call: splits the tensors into dispatches that fit the device's
//! binding limit (vec4 body, scalar tail), binds each dispatch's windows, and folds every
//! dispatch's workgroup partials in one finish pass.

use super::{CodeConfig, ElementConfig, KernelKey, ELEMENTWISE, FINISH};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use crate::problem::{AuxLayout, Problem};
use crate::status::SCRATCH_HEADER_BYTES;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};
use std::num::NonZeroU64;

/// shaders/elementwise.wgsl's `Segment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SegmentUniform {
    count: u32,
    first: u32,
    x_at: u32,
    y_at: u32,
    w_at: u32,
    aux_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    aux_div: u32,
    aux_mod: u32,
    grad_scale: f32,
    params: [f32; 4],
}

/// shaders/finish.wgsl's `Finish`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct FinishUniform {
    pub count: u32,
    pub partial_at: u32,
    pub result_at: u32,
    pub divisor: f32,
    pub norm_divisor: u32,
    pub _pad: [u32; 3],
}

/// The tensors of one call, already checked against its `Problem`.
pub(crate) struct Bound<'a> {
    pub input: &'a Tensor,
    pub target: &'a Tensor,
    pub weight: Option<&'a Tensor>,
    pub aux: Option<&'a Tensor>,
    pub out: Option<&'a Tensor>,
    pub grad: Option<&'a Tensor>,
    /// The reduced value goes to element 0 of this tensor.
    pub result: &'a Tensor,
}

/// A range of elements handled by one dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub first: usize,
    pub count: usize,
    pub vec4: bool,
}

/// Splits n elements into dispatches of at most `max_count` (a multiple of 4): vec4 dispatches
/// over the first n - n % 4 when `vec4`, then one scalar dispatch for the rest.
pub(crate) fn segments(n: usize, vec4: bool, max_count: usize) -> Vec<Segment> {
    let body = if vec4 { n - n % 4 } else { 0 };
    let mut out = Vec::new();
    let mut split = |from: usize, to: usize, vec4: bool| {
        let mut first = from;
        while first < to {
            let count = max_count.min(to - first);
            out.push(Segment { first, count, vec4 });
            first += count;
        }
    };
    split(0, body, true);
    split(body, n, false);
    out
}

/// Where a dispatch's elements sit in a tensor's buffer: the aligned binding and the
/// position of the first element inside it.
pub(crate) struct Window {
    pub offset: u64,
    pub size: u64,
    pub at: u32,
}

pub(crate) fn window(t: &Tensor, first: usize, count: usize, align: u64) -> Window {
    let start = t.offset() + 4 * first as u64;
    let offset = start / align * align;
    Window {
        offset,
        size: (start - offset + 4 * count as u64).max(4),
        at: ((start - offset) / 4) as u32,
    }
}

pub(crate) fn binding(buffer: &wgpu::Buffer, offset: u64, size: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset,
        size: NonZeroU64::new(size),
    })
}

/// Records the call; returns its scratch buffer (status words, partials), which the caller
/// keeps to read the status once the work has run.
pub(crate) fn record(
    ctx: &GpuContext,
    p: &Problem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let tuning = ctx.tuning();
    let code = CodeConfig::from(&tuning);
    let align = u64::from(inner.limits.min_storage_buffer_offset_alignment).max(16);
    let max_count = ((tuning.max_binding_bytes - align) / 4) as usize / 1024 * 1024;

    let aux_full = p.aux == Some(AuxLayout::Full);
    let windowed: Vec<&Tensor> = [Some(t.input), Some(t.target), t.weight, t.out, t.grad]
        .into_iter()
        .flatten()
        .chain(t.aux.filter(|_| aux_full))
        .collect();
    let vec4 = tuning.vector_loads && windowed.iter().all(|w| w.offset() % 16 == 0);
    let segs = segments(p.n, vec4, max_count.max(1024));

    let config = |vec4| {
        KernelKey::Elementwise(ElementConfig {
            loss: p.loss.name,
            code,
            vec4,
            has_weight: t.weight.is_some(),
            has_aux: t.aux.is_some(),
            aux_broadcast: matches!(p.aux, Some(AuxLayout::Broadcast { .. })),
            write_out: t.out.is_some(),
            write_grad: t.grad.is_some(),
        })
    };
    let wg = tuning.workgroup_size as usize;
    let groups: Vec<u32> = segs
        .iter()
        .map(|s| {
            let vec = if s.vec4 { 4 } else { 1 };
            (s.count / vec)
                .div_ceil(wg)
                .clamp(1, tuning.max_workgroups as usize) as u32
        })
        .collect();
    let total: u32 = groups.iter().sum();
    let scratch = ctx.scratch(u64::from(total))?;

    // A broadcast aux tensor is bound whole: each element finds its value by global index.
    let aux_whole = match (t.aux, p.aux) {
        (Some(a), Some(AuxLayout::Broadcast { .. })) => {
            let w = window(a, 0, a.len(), align);
            if w.size > inner.limits.max_storage_buffer_binding_size {
                return Err(LossError::Limit {
                    what: format!("binding `{}`", p.aux_name()),
                    needed: w.size,
                    limit: inner.limits.max_storage_buffer_binding_size,
                });
            }
            Some(w)
        }
        _ => None,
    };
    let (aux_div, aux_mod) = match p.aux {
        Some(AuxLayout::Broadcast { div, modulo }) => (div.max(1), modulo.max(1)),
        _ => (1, 1),
    };
    let mut params = [0f32; 4];
    for (dst, src) in params.iter_mut().zip(&p.params) {
        *dst = *src as f32;
    }

    let layout = inner.kernels.bind_group_layout(&ELEMENTWISE);
    let mut dispatches = Vec::with_capacity(segs.len());
    let mut partial_at = 0u32;
    for (s, &groups) in segs.iter().zip(&groups) {
        let win = |t: &Tensor| window(t, s.first, s.count, align);
        let x = win(t.input);
        let y = win(t.target);
        let w = t.weight.map(win);
        let out = t.out.map(win);
        let grad = t.grad.map(win);
        let aux = if aux_full { t.aux.map(win) } else { None };
        let aux_ref = aux.as_ref().or(aux_whole.as_ref());
        let uniform = SegmentUniform {
            count: s.count as u32,
            first: s.first as u32,
            x_at: x.at,
            y_at: y.at,
            w_at: w.as_ref().map_or(0, |w| w.at),
            aux_at: aux_ref.map_or(0, |w| w.at),
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            partial_at,
            aux_div,
            aux_mod,
            grad_scale: (p.grad_scale() * p.scale) as f32,
            params,
        };
        partial_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let opt =
            |tensor: Option<&Tensor>, w: Option<&Window>, dummy: &wgpu::Buffer| match (tensor, w) {
                (Some(tensor), Some(w)) => (tensor.buffer().clone(), w.offset, w.size),
                _ => (dummy.clone(), 0, 16),
            };
        let resources = [
            (ubuf.clone(), 0, ubuf.size()),
            (t.input.buffer().clone(), x.offset, x.size),
            (t.target.buffer().clone(), y.offset, y.size),
            opt(t.weight, w.as_ref(), &inner.dummy_read),
            opt(t.aux, aux_ref, &inner.dummy_read),
            opt(t.out, out.as_ref(), &inner.dummy_out),
            opt(t.grad, grad.as_ref(), &inner.dummy_grad),
            (scratch.buffer().clone(), 0, scratch.buffer().size()),
        ];
        let entries: Vec<_> = resources
            .iter()
            .enumerate()
            .map(|(i, (b, off, size))| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: binding(b, *off, *size),
            })
            .collect();
        let group = inner.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("elementwise"),
            layout,
            entries: &entries,
        });
        dispatches.push((inner.kernels.pipeline(&config(s.vec4))?, group, groups));
    }

    let finish = Finish::new(
        ctx,
        code,
        &scratch,
        t.result,
        FinishUniform {
            count: total,
            partial_at: 0,
            result_at: 0,
            divisor: (p.divisor() / p.scale) as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;

    enc.clear_buffer(scratch.buffer(), 0, Some(SCRATCH_HEADER_BYTES));
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(p.loss.name),
        timestamp_writes: None,
    });
    for (pipeline, group, groups) in &dispatches {
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    finish.dispatch(&mut pass);
    drop(pass);
    Ok(scratch)
}

/// The finish pass of a call: folds the partials in the scratch buffer into `result`.
pub(crate) struct Finish {
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
}

impl Finish {
    pub(crate) fn new(
        ctx: &GpuContext,
        code: CodeConfig,
        scratch: &Pooled,
        result: &Tensor,
        uniform: FinishUniform,
    ) -> Result<Finish> {
        let inner = &ctx.inner;
        let align = u64::from(inner.limits.min_storage_buffer_offset_alignment).max(16);
        let win = window(result, 0, 1, align);
        let uniform = FinishUniform {
            result_at: win.at,
            ..uniform
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let group = inner.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("finish"),
            layout: inner.kernels.bind_group_layout(&FINISH),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: ubuf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: binding(scratch.buffer(), 0, scratch.buffer().size()),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: binding(result.buffer(), win.offset, win.size),
                },
            ],
        });
        Ok(Finish {
            pipeline: inner.kernels.pipeline(&KernelKey::Finish(code))?,
            group,
        })
    }

    pub(crate) fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }

    /// The finish of a plain sum of `partials` (each already scaled for the reduction):
    /// the divisor is 1, or 0 for a mean over nothing, which makes the value NaN.
    pub(crate) fn sum(
        ctx: &GpuContext,
        code: CodeConfig,
        scratch: &Pooled,
        result: &Tensor,
        partials: u32,
        empty_mean: bool,
    ) -> Result<Finish> {
        let uniform = FinishUniform {
            count: partials,
            partial_at: 0,
            result_at: 0,
            divisor: if empty_mean { 0.0 } else { 1.0 },
            norm_divisor: 0,
            _pad: [0; 3],
        };
        Finish::new(ctx, code, scratch, result, uniform)
    }
}

/// Records one kernel's dispatches (bind group, workgroups) and the finish pass in one compute
/// pass, after clearing the scratch buffer's status words and norms.
pub(crate) fn record_pass(
    enc: &mut wgpu::CommandEncoder,
    label: &str,
    pipeline: &wgpu::ComputePipeline,
    dispatches: &[(wgpu::BindGroup, u32)],
    scratch: &Pooled,
    finish: &Finish,
) {
    enc.clear_buffer(scratch.buffer(), 0, Some(SCRATCH_HEADER_BYTES));
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(label),
        timestamp_writes: None,
    });
    pass.set_pipeline(pipeline);
    for (bind, groups) in dispatches {
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    finish.dispatch(&mut pass);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_every_element_once() {
        for n in [0usize, 1, 3, 4, 5, 4095, 4096, 4097, 12289] {
            for vec4 in [false, true] {
                let segs = segments(n, vec4, 4096);
                let mut next = 0;
                for s in &segs {
                    assert_eq!(s.first, next);
                    assert!(s.count > 0 && s.count <= 4096);
                    if s.vec4 {
                        assert_eq!(s.count % 4, 0);
                    }
                    next += s.count;
                }
                assert_eq!(next, n);
                assert!(segs.iter().filter(|s| !s.vec4).count() <= if vec4 { 1 } else { n });
            }
        }
    }
}
