//! Records ms_ssim: five ssim stages (src/kernel/ssim.rs) on an image pyramid built by
//! shaders/ms_ssim.wgsl's pooling, the per-plane combination of their means, the finish over
//! planes, then the gradient from the coarsest scale down: each scale's adjoint filtering
//! added to the pooled-back gradient of the scale below it.

use super::dispatch::{
    begin_pass, group_with, image, range_or_dummy, scratch_range, window, Finish, FinishUniform,
    Launch, Resource,
};
use super::image_source::{MsSsimConfig, Source};
use super::registry::MS_SSIM;
use super::ssim::{self, Bound, Form, Planes, Stage};
use crate::context::GpuContext;
use crate::cpu::images::{pooled_size, MS_SSIM_WEIGHTS};
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::images::SsimProblem;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

const SCALES: usize = MS_SSIM_WEIGHTS.len();

/// shaders/ms_ssim.wgsl's `Pyramid`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Default)]
struct PyramidUniform {
    planes: u32,
    channels: u32,
    height: u32,
    width: u32,
    out_height: u32,
    out_width: u32,
    pad_h: u32,
    pad_w: u32,
    src_at: u32,
    dst_at: u32,
    accumulate: u32,
    values_at: u32,
    factor: f32,
    _pad: [u32; 3],
    partial_at: [u32; 8],
    tiles: [u32; 8],
    counts: [f32; 8],
    weights: [f32; 8],
}

/// One dispatch of shaders/ms_ssim.wgsl: its entry, bind group and workgroups.
struct Step {
    entry: &'static str,
    config: MsSsimConfig,
    group: wgpu::BindGroup,
    groups: (u32, u32),
}

/// Workgroups for one invocation per element, folded into two dimensions.
fn grid(elements: usize, wg: u32, max_dim: u32) -> (u32, u32) {
    let groups = elements.div_ceil(wg as usize).max(1) as u64;
    let x = groups.min(u64::from(max_dim));
    (x as u32, groups.div_ceil(x) as u32)
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &SsimProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::of(ctx);
    let planes = p.planes();
    let max_dim = inner.limits.max_compute_workgroups_per_dimension;
    if planes > max_dim as usize {
        return Err(LossError::Limit {
            what: "ms_ssim's image planes, one workgroup each".into(),
            needed: planes as u64,
            limit: u64::from(max_dim),
        });
    }
    // The pyramid's steps bind whole tensors: the finest images must fit one binding.
    let bytes = 4 * (planes * p.dims.height * p.dims.width) as u64 + l.align;
    if bytes > l.tuning.max_binding_bytes {
        return Err(LossError::Limit {
            what: format!("ms_ssim's {planes} image planes in one storage binding"),
            needed: bytes,
            limit: l.tuning.max_binding_bytes,
        });
    }
    let mut sizes = vec![(p.dims.height, p.dims.width)];
    for s in 1..SCALES {
        let (h, w) = sizes[s - 1];
        sizes.push((pooled_size(h), pooled_size(w)));
    }
    let images = |(h, w): (usize, usize)| ctx.scratch_tensor(vec![planes, h, w]);
    let mut xs = Vec::with_capacity(SCALES - 1);
    for &size in &sizes[1..] {
        xs.push((images(size)?, images(size)?));
    }
    let want_grad = t.grad.is_some();
    let mut uniform = PyramidUniform {
        planes: planes as u32,
        channels: p.dims.channels as u32,
        factor: match p.reduction {
            Reduction::Mean => t.scale / planes.max(1) as f64,
            _ => t.scale / p.dims.channels.max(1) as f64,
        } as f32,
        ..Default::default()
    };
    let mut at = 0;
    for (s, &(h, w)) in sizes.iter().enumerate() {
        // The finest scale reads the caller's images (maybe a texture's); the rest, buffers.
        let textured = s == 0 && ssim::textured(t.x, t.y);
        let tiles = ssim::partials(ctx, p, (h, w), textured)? as usize / planes.max(1);
        let (mh, mw) = p.map_of(h, w);
        uniform.partial_at[s] = at as u32;
        uniform.tiles[s] = tiles as u32;
        uniform.counts[s] = (mh * mw) as f32;
        uniform.weights[s] = MS_SSIM_WEIGHTS[s] as f32;
        at += planes * tiles;
    }
    uniform.values_at = u32::try_from(at).map_err(|_| LossError::Limit {
        what: "ms_ssim's workgroup partials".into(),
        needed: at as u64,
        limit: u64::from(u32::MAX),
    })?;
    let scratch = ctx.scratch((at + planes) as u64)?;
    let coefs = ctx.scratch_tensor(vec![SCALES, planes])?;
    // Per scale: P0..P2 of its map, and (below the finest) the gradient for its images.
    let mut parts = Vec::new();
    let mut grads = Vec::new();
    if want_grad {
        for (s, &(h, w)) in sizes.iter().enumerate() {
            let (mh, mw) = p.map_of(h, w);
            parts.push(ctx.scratch_tensor(vec![planes, 3, mh, mw])?);
            if s > 0 {
                grads.push(images((h, w))?);
            }
        }
    }
    let mut stages = Vec::with_capacity(SCALES);
    for (s, &(h, w)) in sizes.iter().enumerate() {
        let (x, y) = match s {
            0 => (t.x, t.y),
            _ => (&xs[s - 1].0, &xs[s - 1].1),
        };
        let planes_s = Planes {
            x,
            y,
            height: h,
            width: w,
            out: None,
            parts: parts.get(s),
            grad: if s == 0 { t.grad } else { grads.get(s - 1) },
            plane_scale: Some((&coefs, s * planes)),
            partial_at: uniform.partial_at[s] as usize,
        };
        let form = Form {
            one_minus: false,
            contrast: s + 1 < SCALES,
            grad_scale: 1.0,
            // Below the coarsest scale, the pooled-back gradient is there first.
            accumulate: s + 1 < SCALES,
        };
        stages.push(Stage::new(ctx, p, &planes_s, form, &scratch)?);
    }
    let code = l.code;
    let wg = code.workgroup_size;
    let whole = |t: &Tensor| window(t, 0, t.len(), l.align);
    // One dispatch: `down` reads `src` (at the finest scale, maybe a texture), `up` reads
    // `coarse`; both write `dst`.
    let step = |entry, mut u: PyramidUniform, src: Option<&Tensor>, dst: Option<&Tensor>, n| {
        let (coarse, src) = match entry {
            "up" => (src, None),
            _ => (None, src),
        };
        let (ws, wd, wc) = (src.map(whole), dst.map(whole), coarse.map(whole));
        u.src_at = ws.as_ref().or(wc.as_ref()).map_or(0, |w| w.at);
        u.dst_at = wd.as_ref().map_or(0, |w| w.at);
        let ubuf = ctx.uniform(bytemuck::bytes_of(&u));
        let source = src.map_or(Source::Buffer, Source::of);
        let c = whole(&coefs);
        let resources = [
            Resource::Buffer((&ubuf, 0, ubuf.size())),
            match (src, &ws) {
                (Some(t), Some(w)) => image(t, w),
                _ => Resource::Buffer((&inner.dummy_read, 0, 16)),
            },
            Resource::Buffer(range_or_dummy(dst, wd.as_ref(), &inner.dummy_out)),
            Resource::Buffer((coefs.buffer(), c.offset, c.size)),
            Resource::Buffer(scratch_range(&scratch)),
            Resource::Buffer(range_or_dummy(coarse, wc.as_ref(), &inner.dummy_read)),
        ];
        let config = MsSsimConfig { code, src: source };
        let textures = (MS_SSIM.textures)(&config);
        Step {
            entry,
            config,
            group: group_with(ctx, &MS_SSIM, textures, p.loss.name, &resources),
            groups: n,
        }
    };
    // Between scales: the pooling of x and y, and (for the gradient) its adjoint.
    let between = |s: usize, accumulate: bool| {
        let ((h, w), (oh, ow)) = (sizes[s], sizes[s + 1]);
        PyramidUniform {
            height: h as u32,
            width: w as u32,
            out_height: oh as u32,
            out_width: ow as u32,
            pad_h: (h % 2) as u32,
            pad_w: (w % 2) as u32,
            accumulate: u32::from(accumulate),
            ..uniform
        }
    };
    let mut forward = Vec::new();
    for s in 0..SCALES - 1 {
        let n = grid(planes * sizes[s + 1].0 * sizes[s + 1].1, wg, max_dim);
        let (fine_x, fine_y) = match s {
            0 => (t.x, t.y),
            _ => (&xs[s - 1].0, &xs[s - 1].1),
        };
        forward.push(step(
            "down",
            between(s, false),
            Some(fine_x),
            Some(&xs[s].0),
            n,
        ));
        forward.push(step(
            "down",
            between(s, false),
            Some(fine_y),
            Some(&xs[s].1),
            n,
        ));
    }
    let combine = step("combine", uniform, None, None, (planes as u32, 1));
    let per_image = t.out.map(|o| {
        step(
            "per_image",
            uniform,
            None,
            Some(o),
            grid(p.dims.images, wg, max_dim),
        )
    });
    let mut backward = Vec::new();
    if let Some(grad) = t.grad {
        for s in (0..SCALES - 1).rev() {
            let n = grid(planes * sizes[s].0 * sizes[s].1, wg, max_dim);
            let fine = if s == 0 { grad } else { &grads[s - 1] };
            let accumulate = s == 0 && t.accumulate;
            backward.push((
                s,
                step("up", between(s, accumulate), Some(&grads[s]), Some(fine), n),
            ));
        }
    }
    let divisor = match p.reduction {
        Reduction::Mean => planes as f64,
        _ => p.dims.channels as f64,
    };
    let finish = Finish::new(
        ctx,
        code,
        &scratch,
        t.result,
        FinishUniform {
            count: planes as u32,
            partial_at: uniform.values_at,
            result_at: 0,
            divisor: (divisor / t.scale) as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;
    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    let run = |pass: &mut wgpu::ComputePass<'_>, st: &Step| -> Result<()> {
        let pipeline = inner
            .kernels
            .entry_pipeline(&MS_SSIM, &st.config, st.entry)?;
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &st.group, &[]);
        pass.dispatch_workgroups(st.groups.0, st.groups.1, 1);
        Ok(())
    };
    for s in 0..SCALES {
        stages[s].moments(&mut pass);
        if s + 1 < SCALES {
            run(&mut pass, &forward[2 * s])?;
            run(&mut pass, &forward[2 * s + 1])?;
        }
    }
    run(&mut pass, &combine)?;
    if let Some(st) = &per_image {
        run(&mut pass, st)?;
    }
    finish.dispatch(&mut pass);
    if want_grad {
        stages[SCALES - 1].gradient(&mut pass);
        for (s, st) in &backward {
            run(&mut pass, st)?;
            stages[*s].gradient(&mut pass);
        }
    }
    drop(pass);
    Ok(scratch)
}
