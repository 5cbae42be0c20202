//! Records a conversion of one float tensor into another of the same length (any of f32, f16,
//! bf16 each side; the same dtype is a copy through the kernel's load and store).

use super::dispatch::{group, segments, window, Launch};
use super::registry::CAST;
use super::source::CastConfig;
use super::storage;
use crate::context::GpuContext;
use crate::error::Result;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// shaders/cast.wgsl's `Cast`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CastUniform {
    count: u32,
    src_at: u32,
    dst_at: u32,
    _pad: u32,
}

/// Records `dst = src` (same length, both floats, checked by the caller).
pub(crate) fn record(
    ctx: &GpuContext,
    src: &Tensor,
    dst: &Tensor,
    enc: &mut wgpu::CommandEncoder,
) -> Result<()> {
    let l = Launch::of(ctx);
    let (tuning, align) = (&l.tuning, l.align);
    let max_count = ((tuning.max_binding_bytes - align) / 4) as usize / 1024 * 1024;
    let vec4 = tuning.vector_loads
        && [src, dst]
            .iter()
            .all(|t| t.offset() % storage::vec4_alignment(t.dtype()) == 0);
    let wg = tuning.workgroup_size as usize;
    let mut dispatches = Vec::new();
    for s in segments(src.len(), if vec4 { 4 } else { 0 }, max_count.max(1024)) {
        let (x, y) = (
            window(src, s.first, s.count, align),
            window(dst, s.first, s.count, align),
        );
        let uniform = CastUniform {
            count: s.count as u32,
            src_at: x.at,
            dst_at: y.at,
            _pad: 0,
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let bind = group(
            ctx,
            &CAST,
            "cast",
            &[
                (&ubuf, 0, ubuf.size()),
                (src.buffer(), x.offset, x.size),
                (dst.buffer(), y.offset, y.size),
            ],
        );
        let config = CastConfig {
            code: l.code,
            vec4: s.vec4,
            src: src.dtype(),
            dst: dst.dtype(),
        };
        let pipeline = ctx.inner.kernels.pipeline(&CAST, &config)?;
        let per = if s.vec4 { 4 } else { 1 };
        let groups = (s.count / per)
            .div_ceil(wg)
            .clamp(1, tuning.max_workgroups as usize) as u32;
        dispatches.push((pipeline, bind, groups));
    }
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("cast"),
        timestamp_writes: None,
    });
    for (pipeline, bind, groups) in &dispatches {
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    Ok(())
}
