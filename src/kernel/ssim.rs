//! Records ssim, and the scales of ms_ssim: image planes in chunks that fit a binding, one
//! dispatch per chunk for the moments, then (when asked) one for the gradient's adjoint
//! filtering; 16×16 tiles on GPUs, strips in registers on CPU drivers (ssim_strips.rs). A
//! `Stage` is one image size's bind groups; ssim is one stage and its finish, ms_ssim five
//! stages (src/kernel/ms_ssim.rs).

use super::dispatch::{
    begin_pass, group_with, image, range_or_dummy, scratch_range, window, Finish, FinishUniform,
    Launch, Resource,
};
use super::image_source::{texture_slots, Source, SsimConfig, SSIM_TILE};
use super::registry::SSIM;
use super::ssim_strips;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::images::SsimProblem;
use crate::tensor::Tensor;
use crate::tuning::Layout;
use bytemuck::{Pod, Zeroable};

/// shaders/ssim.wgsl's `Image`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ImageUniform {
    width: u32,
    height: u32,
    map_width: u32,
    map_height: u32,
    pad: u32,
    scale_at: u32,
    x_at: u32,
    y_at: u32,
    out_at: u32,
    parts_at: u32,
    grad_at: u32,
    partial_at: u32,
    first_plane: u32,
    contrast: u32,
    accumulate: u32,
    per_plane: u32,
    c1: f32,
    c2: f32,
    offset: f32,
    sign: f32,
    grad_scale: f32,
    _pad: [u32; 3],
    weights: [f32; 16],
}

/// What the summed value and the gradient are, beyond the map itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Form {
    /// Sum 1 − map instead of the map (splatting's D-SSIM; the gradient's sign follows).
    pub one_minus: bool,
    /// The map is contrast-structure only (ms_ssim's finer scales).
    pub contrast: bool,
    /// Multiplies the gradient (the call's weight over its divisor).
    pub grad_scale: f64,
    /// Add the gradient to what `grad` holds (a second term on the same tensor, or a finer
    /// scale's pooled gradient).
    pub accumulate: bool,
}

/// One image size's tensors: planes of `height × width`, their map, outputs and partials.
pub(crate) struct Planes<'a> {
    pub x: &'a Tensor,
    pub y: &'a Tensor,
    pub height: usize,
    pub width: usize,
    /// The map, for ssim's `none`.
    pub out: Option<&'a Tensor>,
    /// P0..P2 per plane (`[planes, 3, map]`), when the gradient is asked for.
    pub parts: Option<&'a Tensor>,
    pub grad: Option<&'a Tensor>,
    /// A factor per plane on the gradient, from this element on (ms_ssim's coefficients).
    pub plane_scale: Option<(&'a Tensor, usize)>,
    /// Where this stage's workgroup partials start: one per tile of each plane's map.
    pub partial_at: usize,
}

/// One image size's dispatches: bind groups per chunk of planes and the tile grids.
pub(crate) struct Stage {
    groups: Vec<(wgpu::BindGroup, u32)>,
    map_tiles: (u32, u32),
    grad_tiles: (u32, u32),
    moments: wgpu::ComputePipeline,
    gradient: Option<wgpu::ComputePipeline>,
}

/// Whether `ctx` runs ssim as strips in registers: on CPU drivers, where memory accesses
/// cost far more than arithmetic (ssim_strips.rs), for images in buffers (a texture's planes
/// take the tiles, whose loads go through the loaders).
fn strips(ctx: &GpuContext, textured: bool) -> bool {
    !textured && matches!(Launch::of(ctx).tuning.layout, Layout::Blocked { .. })
}

/// Whether either image is a texture's planes.
pub(crate) fn textured(x: &Tensor, y: &Tensor) -> bool {
    x.texture().is_some() || y.texture().is_some()
}

/// Workgroups across and down a `width × height` grid of positions.
fn tiles(strips: bool, width: usize, height: usize) -> (u32, u32) {
    if strips {
        return ssim_strips::groups(width, height);
    }
    let t = SSIM_TILE as usize;
    (width.div_ceil(t) as u32, height.div_ceil(t) as u32)
}

impl Stage {
    /// Checks limits and makes the bind groups of `s` (its scratch `scratch`).
    pub(crate) fn new(
        ctx: &GpuContext,
        p: &SsimProblem,
        s: &Planes<'_>,
        form: Form,
        scratch: &Pooled,
    ) -> Result<Stage> {
        let inner = &ctx.inner;
        let l = Launch::of(ctx);
        let (h, w) = (s.height, s.width);
        let (mh, mw) = p.map_of(h, w);
        let strips = strips(ctx, textured(s.x, s.y));
        let (map_tiles, grad_tiles) = (tiles(strips, mw, mh), tiles(strips, w, h));
        let max_dim = inner.limits.max_compute_workgroups_per_dimension;
        if grad_tiles.0.max(grad_tiles.1) > max_dim {
            return Err(LossError::Limit {
                what: format!(
                    "{h}x{w} images in {}",
                    match strips {
                        true => "strips",
                        false => "16x16 tiles",
                    }
                ),
                needed: u64::from(grad_tiles.0.max(grad_tiles.1)),
                limit: u64::from(max_dim),
            });
        }
        // The largest per-plane binding: a plane of input, or its map's three partials.
        let plane_bytes = 4 * (h * w).max(3 * mh * mw).max(1) as u64;
        let room = l.tuning.max_binding_bytes.saturating_sub(l.align);
        if plane_bytes > room {
            return Err(LossError::Limit {
                what: format!("one {h}x{w} image plane and its partials in one storage binding"),
                needed: plane_bytes + l.align,
                limit: l.tuning.max_binding_bytes,
            });
        }
        let per_chunk = ((room / plane_bytes) as usize).clamp(1, max_dim as usize);
        let planes = p.planes();
        let tiles_per_plane = map_tiles.0 as usize * map_tiles.1 as usize;
        let (xs, ys) = (Source::of(s.x), Source::of(s.y));
        let config = SsimConfig {
            code: l.code,
            x: xs,
            y: ys,
            write_out: s.out.is_some(),
            write_grad: s.grad.is_some(),
            window: p.params.window as u32,
            strips,
        };
        let sign: f64 = if form.one_minus { -1.0 } else { 1.0 };
        let mut weights = [0.0f32; 16];
        weights[..p.taps.len()].copy_from_slice(&p.taps);
        let mut groups = Vec::new();
        let mut first = 0;
        while first < planes {
            let n = per_chunk.min(planes - first);
            let win = |t: &Tensor, per: usize| window(t, first * per, n * per, l.align);
            let (x, y) = (win(s.x, h * w), win(s.y, h * w));
            let out = s.out.map(|o| win(o, mh * mw));
            let parts = s.parts.map(|q| win(q, 3 * mh * mw));
            let grad = s.grad.map(|g| win(g, h * w));
            let scales = s
                .plane_scale
                .map(|(t, at)| (t, window(t, at + first, n, l.align)));
            let uniform = ImageUniform {
                width: w as u32,
                height: h as u32,
                map_width: mw as u32,
                map_height: mh as u32,
                pad: p.pad() as u32,
                scale_at: scales.as_ref().map_or(0, |(_, w)| w.at),
                x_at: x.at,
                y_at: y.at,
                out_at: out.as_ref().map_or(0, |w| w.at),
                parts_at: parts.as_ref().map_or(0, |w| w.at),
                grad_at: grad.as_ref().map_or(0, |w| w.at),
                partial_at: (s.partial_at + first * tiles_per_plane) as u32,
                first_plane: first as u32,
                contrast: u32::from(form.contrast),
                accumulate: u32::from(form.accumulate),
                per_plane: u32::from(scales.is_some()),
                c1: p.c1,
                c2: p.c2,
                offset: if form.one_minus { 1.0 } else { 0.0 },
                sign: sign as f32,
                grad_scale: (sign * form.grad_scale) as f32,
                _pad: [0; 3],
                weights,
            };
            let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
            let buffer = Resource::Buffer;
            let resources = [
                buffer((&ubuf, 0, ubuf.size())),
                image(s.x, &x),
                image(s.y, &y),
                buffer(match &scales {
                    Some((t, w)) => (t.buffer(), w.offset, w.size),
                    None => (&inner.dummy_read, 0, 16),
                }),
                buffer(range_or_dummy(s.out, out.as_ref(), &inner.dummy_out)),
                buffer(range_or_dummy(s.parts, parts.as_ref(), &inner.dummy_out)),
                buffer(range_or_dummy(s.grad, grad.as_ref(), &inner.dummy_out)),
                buffer(scratch_range(scratch)),
            ];
            let textures = texture_slots(xs, ys);
            let group = group_with(ctx, &SSIM, textures, p.loss.name, &resources);
            groups.push((group, n as u32));
            first += n;
        }
        let gradient = match s.grad {
            Some(_) => Some(inner.kernels.entry_pipeline(&SSIM, &config, "gradient")?),
            None => None,
        };
        Ok(Stage {
            groups,
            map_tiles,
            grad_tiles,
            moments: inner.kernels.entry_pipeline(&SSIM, &config, "moments")?,
            gradient,
        })
    }

    pub(crate) fn moments(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.moments);
        for (group, n) in &self.groups {
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(self.map_tiles.0, self.map_tiles.1, *n);
        }
    }

    pub(crate) fn gradient(&self, pass: &mut wgpu::ComputePass<'_>) {
        let Some(gradient) = &self.gradient else {
            return;
        };
        pass.set_pipeline(gradient);
        for (group, n) in &self.groups {
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(self.grad_tiles.0, self.grad_tiles.1, *n);
        }
    }
}

/// The partials of `planes` planes whose maps are `h × w` on `ctx` (read from a texture
/// when `textured`), as a u32 count.
pub(crate) fn partials(
    ctx: &GpuContext,
    p: &SsimProblem,
    (h, w): (usize, usize),
    textured: bool,
) -> Result<u32> {
    let (mh, mw) = p.map_of(h, w);
    let (tx, ty) = tiles(strips(ctx, textured), mw, mh);
    let n = p.planes() as u64 * u64::from(tx) * u64::from(ty);
    u32::try_from(n).map_err(|_| LossError::Limit {
        what: format!("{}'s workgroup partials", p.loss.name),
        needed: n,
        limit: u64::from(u32::MAX),
    })
}

/// A section G call's images and outputs (ssim's, and ms_ssim's and psnr's recorders too).
pub(crate) struct Bound<'a> {
    pub x: &'a Tensor,
    pub y: &'a Tensor,
    /// ssim's map, or ms_ssim's and psnr's value per image, for `none`.
    pub out: Option<&'a Tensor>,
    pub grad: Option<&'a Tensor>,
    pub result: &'a Tensor,
    /// Sum 1 − map (splatting's D-SSIM; ssim only, as call/family.rs checks).
    pub one_minus: bool,
    /// A weight on the value and the gradient (an objective's term).
    pub scale: f64,
    /// Add the gradient to what `grad` holds.
    pub accumulate: bool,
}

/// ssim: one stage, the finish of its partials, its gradient.
pub(crate) fn record(
    ctx: &GpuContext,
    p: &SsimProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let (h, w) = (p.dims.height, p.dims.width);
    let (mh, mw) = p.map_of(h, w);
    let partials = partials(ctx, p, (h, w), textured(t.x, t.y))?;
    let scratch = ctx.scratch(u64::from(partials))?;
    let parts = t
        .grad
        .map(|_| ctx.scratch_tensor(vec![p.planes(), 3, mh, mw]))
        .transpose()?;
    let divisor = match p.reduction {
        Reduction::Mean => (p.planes() * mh * mw) as f64,
        _ => 1.0,
    };
    let planes = Planes {
        x: t.x,
        y: t.y,
        height: h,
        width: w,
        out: t.out,
        parts: parts.as_ref(),
        grad: t.grad,
        plane_scale: None,
        partial_at: 0,
    };
    let form = Form {
        one_minus: t.one_minus,
        contrast: false,
        grad_scale: t.scale / divisor.max(1.0),
        accumulate: t.accumulate,
    };
    let stage = Stage::new(ctx, p, &planes, form, &scratch)?;
    let finish = Finish::new(
        ctx,
        Launch::of(ctx).code,
        &scratch,
        t.result,
        FinishUniform {
            count: partials,
            partial_at: 0,
            result_at: 0,
            divisor: (divisor / t.scale) as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;
    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    stage.moments(&mut pass);
    finish.dispatch(&mut pass);
    stage.gradient(&mut pass);
    Ok(scratch)
}
