//! What every recorder shares: binding windows of tensors, bind groups, launch plans (element
//! segments, rows split at the binding limit), and the finish pass that folds partials.

use super::registry::{KernelDef, FINISH};
use super::source::CodeConfig;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use crate::status::SCRATCH_HEADER_BYTES;
use crate::tensor::Tensor;
use crate::tuning::{TuneFamily, Tuning};
use bytemuck::{Pod, Zeroable};
use std::num::NonZeroU64;

/// The launch settings of one call, read once so every plan of the call sees the same.
pub(crate) struct Launch {
    pub tuning: Tuning,
    pub code: CodeConfig,
    /// Binding offsets are multiples of this (at least 16, so a window can hold vec4s).
    pub align: u64,
}

impl Launch {
    /// The hand-picked settings (the kernels not tuned by family).
    pub(crate) fn of(ctx: &GpuContext) -> Launch {
        Launch::with(ctx, ctx.tuning())
    }

    /// The settings `family` runs with: its tuned choice, once made.
    pub(crate) fn tuned(ctx: &GpuContext, family: TuneFamily) -> Launch {
        Launch::with(ctx, ctx.inner.settings.of(family))
    }

    fn with(ctx: &GpuContext, tuning: Tuning) -> Launch {
        Launch {
            code: CodeConfig::from(&tuning),
            align: u64::from(ctx.inner.limits.min_storage_buffer_offset_alignment).max(16),
            tuning,
        }
    }
}

/// Where a dispatch's elements sit in a tensor's buffer: the aligned binding and the
/// position of the first element inside it.
pub(crate) struct Window {
    pub offset: u64,
    pub size: u64,
    pub at: u32,
}

/// Elements and `at` count f32 words, or halves for an f16/bf16 tensor (whose window is
/// widened to whole words).
pub(crate) fn window(t: &Tensor, first: usize, count: usize, align: u64) -> Window {
    let unit = if t.dtype().is_half() { 2 } else { 4 };
    let start = t.offset() + unit * first as u64;
    let offset = start / align * align;
    Window {
        offset,
        size: (start - offset + unit * count as u64)
            .next_multiple_of(4)
            .max(4),
        at: ((start - offset) / unit) as u32,
    }
}

/// A buffer range for one binding: buffer, offset, size.
pub(crate) type BindRange<'a> = (&'a wgpu::Buffer, u64, u64);

/// `tensor`'s window, or 16 bytes of `dummy` when the call has no such tensor.
pub(crate) fn range_or_dummy<'a>(
    tensor: Option<&'a Tensor>,
    w: Option<&Window>,
    dummy: &'a wgpu::Buffer,
) -> BindRange<'a> {
    match (tensor, w) {
        (Some(t), Some(w)) => (t.buffer(), w.offset, w.size),
        _ => (dummy, 0, 16),
    }
}

/// The whole scratch buffer (status words, norms, partials).
pub(crate) fn scratch_range(scratch: &Pooled) -> BindRange<'_> {
    (scratch.buffer(), 0, scratch.buffer().size())
}

pub(crate) fn binding(buffer: &wgpu::Buffer, offset: u64, size: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset,
        size: NonZeroU64::new(size),
    })
}

/// A bind group of `kernel`'s layout, `resources` in binding order.
pub(crate) fn group<C>(
    ctx: &GpuContext,
    kernel: &KernelDef<C>,
    label: &str,
    resources: &[BindRange<'_>],
) -> wgpu::BindGroup {
    let entries: Vec<_> = resources
        .iter()
        .enumerate()
        .map(|(i, (b, off, size))| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: binding(b, *off, *size),
        })
        .collect();
    ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &ctx.inner.kernels.bind_group_layout(kernel, 0),
        entries: &entries,
    })
}

/// What one binding of a bind group holds: a buffer range or a texture's view.
pub(crate) enum Resource<'a> {
    Buffer(BindRange<'a>),
    Texture(&'a wgpu::TextureView),
}

/// An image's binding: its window of a buffer, or its texture's view.
pub(crate) fn image<'a>(t: &'a Tensor, w: &Window) -> Resource<'a> {
    match t.texture() {
        Some(tex) => Resource::Texture(&tex.view),
        None => Resource::Buffer((t.buffer(), w.offset, w.size)),
    }
}

/// A bind group of `kernel`'s variant whose texture slots are `textures`.
pub(crate) fn group_with<C>(
    ctx: &GpuContext,
    kernel: &KernelDef<C>,
    textures: u32,
    label: &str,
    resources: &[Resource<'_>],
) -> wgpu::BindGroup {
    let entries: Vec<_> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: match r {
                Resource::Buffer((b, off, size)) => binding(b, *off, *size),
                Resource::Texture(view) => wgpu::BindingResource::TextureView(view),
            },
        })
        .collect();
    ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &ctx.inner.kernels.bind_group_layout(kernel, textures),
        entries: &entries,
    })
}

/// A range of elements handled by one elementwise dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub first: usize,
    pub count: usize,
    pub vec4: bool,
}

/// Splits n elements into dispatches of at most `max_count` (a multiple of `unit`): vec4
/// dispatches over the first n - n % unit elements (`unit` those of one vector step: 4, or 8
/// for steps of two vec4s; 0 for none), then one scalar dispatch for the rest.
pub(crate) fn segments(n: usize, unit: usize, max_count: usize) -> Vec<Segment> {
    let body = if unit > 0 { n - n % unit } else { 0 };
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

/// One dispatch of a plan: items [first, first + count) (rows, or elements), run by `groups`
/// workgroups whose partials start at `partial_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub first: usize,
    pub count: usize,
    pub groups: u32,
    pub partial_at: u32,
}

/// A call's dispatches, their partials one after another in dispatch order.
pub(crate) struct Plan {
    pub spans: Vec<Span>,
    /// Partials of every dispatch together.
    pub partials: u32,
}

/// Splits `n` items into dispatches of at most `per_span` (at least 1), `groups(count)`
/// workgroups each.
pub(crate) fn plan(n: usize, per_span: usize, groups: impl Fn(usize) -> u32) -> Plan {
    let mut spans = Vec::new();
    let (mut first, mut partial_at) = (0, 0);
    while first < n {
        let count = per_span.min(n - first);
        let groups = groups(count);
        spans.push(Span {
            first,
            count,
            groups,
            partial_at,
        });
        first += count;
        partial_at += groups;
    }
    Plan {
        spans,
        partials: partial_at,
    }
}

/// Rows of `classes` f32 split into dispatches of whole rows that each fit one storage
/// binding, `rows_per_group` rows per workgroup, at most `max_groups` workgroups a dispatch.
/// `unit` names a row's elements in the error when one row alone is too long for a binding.
pub(crate) fn row_plan(
    l: &Launch,
    rows: usize,
    classes: usize,
    unit: &str,
    rows_per_group: usize,
    max_groups: usize,
) -> Result<Plan> {
    let max_binding = l.tuning.max_binding_bytes;
    let row_bytes = 4 * classes as u64;
    if row_bytes + l.align > max_binding {
        return Err(LossError::Limit {
            what: format!("one row of {classes} {unit} in one storage binding"),
            needed: row_bytes + l.align,
            limit: max_binding,
        });
    }
    let rows_per_span = (((max_binding - l.align) / row_bytes.max(4)) as usize).max(1);
    Ok(plan(rows, rows_per_span, |count| {
        count.div_ceil(rows_per_group).clamp(1, max_groups) as u32
    }))
}

/// How a row kernel walks its rows: VT = vec4 when the launch allows it, every row tensor
/// starts 16-aligned and rows are whole vec4s; `lanes` invocations share a row.
pub(crate) struct RowLanes {
    pub vec4: bool,
    pub lanes: u32,
    pub rows_per_group: usize,
}

impl RowLanes {
    pub(crate) fn new<'a>(
        l: &Launch,
        classes: usize,
        tensors: impl IntoIterator<Item = &'a Tensor>,
    ) -> RowLanes {
        let aligned = tensors
            .into_iter()
            .all(|t| t.offset() % super::storage::vec4_alignment(t.dtype()) == 0);
        let vec4 = l.tuning.vector_loads && classes.is_multiple_of(4) && aligned;
        let lanes = row_lanes(
            classes / if vec4 { 4 } else { 1 },
            l.tuning.workgroup_size,
            l.tuning.row_span,
        );
        RowLanes {
            vec4,
            lanes,
            rows_per_group: (l.tuning.workgroup_size / lanes) as usize,
        }
    }
}

/// Lanes per row: enough that each walks about `span` VTs of it, at most a workgroup.
pub(crate) fn row_lanes(vts_per_row: usize, workgroup: u32, span: u32) -> u32 {
    let lanes = vts_per_row
        .div_ceil(span.max(1) as usize)
        .next_power_of_two();
    (lanes.min(workgroup as usize) as u32).max(1)
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
        let align = u64::from(ctx.inner.limits.min_storage_buffer_offset_alignment).max(16);
        let win = window(result, 0, 1, align);
        let uniform = FinishUniform {
            result_at: win.at,
            ..uniform
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let group = group(
            ctx,
            &FINISH,
            "finish",
            &[
                (&ubuf, 0, ubuf.size()),
                scratch_range(scratch),
                (result.buffer(), win.offset, win.size),
            ],
        );
        Ok(Finish {
            pipeline: ctx.inner.kernels.pipeline(&FINISH, &code)?,
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

/// Clears the scratch buffer's status words and norms, then opens the call's compute pass.
pub(crate) fn begin_pass<'e>(
    enc: &'e mut wgpu::CommandEncoder,
    label: &str,
    scratch: &Pooled,
) -> wgpu::ComputePass<'e> {
    enc.clear_buffer(scratch.buffer(), 0, Some(SCRATCH_HEADER_BYTES));
    enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(label),
        timestamp_writes: None,
    })
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
    let mut pass = begin_pass(enc, label, scratch);
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
        for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 4095, 4096, 4097, 12289] {
            for unit in [0usize, 4, 8] {
                let segs = segments(n, unit, 4096);
                let mut next = 0;
                for s in &segs {
                    assert_eq!(s.first, next);
                    assert!(s.count > 0 && s.count <= 4096);
                    if s.vec4 {
                        assert_eq!(s.count % unit, 0);
                    } else {
                        assert!(unit == 0 || s.count < unit);
                    }
                    next += s.count;
                }
                assert_eq!(next, n);
                assert!(segs.iter().filter(|s| !s.vec4).count() <= if unit > 0 { 1 } else { n });
            }
        }
    }

    #[test]
    fn rows_are_shared_by_enough_lanes_for_the_span() {
        assert_eq!(row_lanes(8192, 256, 8), 256, "capped at the workgroup");
        assert_eq!(row_lanes(8192, 256, 1024), 8);
        assert_eq!(
            row_lanes(1025, 256, 256),
            8,
            "5 lanes' worth, a power of two"
        );
        assert_eq!(row_lanes(256, 256, 1024), 1);
        assert_eq!(row_lanes(0, 256, 8), 1);
        assert_eq!(row_lanes(3, 64, 0), 4, "a zero span counts as one");
    }

    #[test]
    fn plans_cover_every_item_once_with_partials_in_order() {
        for n in [0usize, 1, 7, 8, 9, 100] {
            let p = plan(n, 8, |count| count.div_ceil(3) as u32);
            let (mut next, mut partial) = (0, 0);
            for s in &p.spans {
                assert_eq!((s.first, s.partial_at), (next, partial));
                assert!(s.count > 0 && s.count <= 8);
                assert_eq!(s.groups, s.count.div_ceil(3) as u32);
                next += s.count;
                partial += s.groups;
            }
            assert_eq!((next, p.partials), (n, partial));
        }
    }
}
