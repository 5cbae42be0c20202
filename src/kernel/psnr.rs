//! Records psnr: whole images per dispatch (binding windows), a sum of squares per image in
//! chunks, the per-image value and gradient coefficient, the finish over images, then the
//! gradient when asked.

use super::dispatch::{
    begin_pass, group_with, image, range_or_dummy, scratch_range, window, Finish, Launch, Resource,
};
use super::image_source::{texture_slots, ImagePairConfig, Source};
use super::registry::PSNR;
use super::ssim::Bound;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::images::PsnrProblem;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// shaders/psnr.wgsl's `Images`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ImagesUniform {
    per_image: u32,
    chunks: u32,
    first_image: u32,
    x_at: u32,
    y_at: u32,
    out_at: u32,
    grad_at: u32,
    values_at: u32,
    coefs_at: u32,
    accumulate: u32,
    peak: f32,
    grad_scale: f32,
    width: u32,
    height: u32,
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &PsnrProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::of(ctx);
    let max_dim = inner.limits.max_compute_workgroups_per_dimension as usize;
    let image_bytes = 4 * p.per_image.max(1) as u64;
    let room = l.tuning.max_binding_bytes.saturating_sub(l.align);
    if image_bytes > room {
        return Err(LossError::Limit {
            what: format!("one image of {} values in one storage binding", p.per_image),
            needed: image_bytes + l.align,
            limit: l.tuning.max_binding_bytes,
        });
    }
    let per_dispatch = ((room / image_bytes) as usize).clamp(1, max_dim);
    let wg = l.tuning.workgroup_size as usize;
    // About 16 values per invocation, within the workgroup bound over all images.
    let budget = (l.tuning.max_workgroups as usize / p.images.max(1)).max(1);
    let chunks = p.per_image.div_ceil(16 * wg).clamp(1, budget.min(max_dim));
    let images = p.images;
    let too_many = |what: &str| LossError::Limit {
        what: format!("psnr's {what}"),
        needed: (images * (chunks + 2)) as u64,
        limit: u64::from(u32::MAX),
    };
    let values_at = u32::try_from(images * chunks).map_err(|_| too_many("partials"))?;
    let coefs_at = values_at + u32::try_from(images).map_err(|_| too_many("partials"))?;
    let scratch = ctx.scratch(u64::from(coefs_at) + images as u64)?;
    let divisor = match p.reduction {
        Reduction::Mean => images as f64,
        _ => 1.0,
    };
    let (xs, ys) = (Source::of(t.x), Source::of(t.y));
    let config = ImagePairConfig {
        code: l.code,
        x: xs,
        y: ys,
        write_out: t.out.is_some(),
        write_grad: t.grad.is_some(),
    };
    let pipeline = |entry| inner.kernels.entry_pipeline(&PSNR, &config, entry);
    let (sums, per_image) = (pipeline("sums")?, pipeline("per_image")?);
    let mut groups = Vec::new();
    let mut first = 0;
    while first < images {
        let n = per_dispatch.min(images - first);
        let win = |t: &Tensor, per: usize| window(t, first * per, n * per, l.align);
        let (x, y) = (win(t.x, p.per_image), win(t.y, p.per_image));
        let out = t.out.map(|o| win(o, 1));
        let grad = t.grad.map(|g| win(g, p.per_image));
        let uniform = ImagesUniform {
            per_image: p.per_image as u32,
            chunks: chunks as u32,
            first_image: first as u32,
            x_at: x.at,
            y_at: y.at,
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            values_at,
            coefs_at,
            accumulate: u32::from(t.accumulate),
            peak: p.data_range.powi(2) as f32,
            grad_scale: (t.scale / divisor.max(1.0)) as f32,
            width: p.width as u32,
            height: p.height as u32,
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let resources = [
            Resource::Buffer((&ubuf, 0, ubuf.size())),
            image(t.x, &x),
            image(t.y, &y),
            Resource::Buffer(range_or_dummy(t.out, out.as_ref(), &inner.dummy_out)),
            Resource::Buffer(range_or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad)),
            Resource::Buffer(scratch_range(&scratch)),
        ];
        let textures = texture_slots(xs, ys);
        let bind = group_with(ctx, &PSNR, textures, p.loss.name, &resources);
        groups.push((bind, n as u32));
        first += n;
    }
    let finish = Finish::new(
        ctx,
        l.code,
        &scratch,
        t.result,
        super::dispatch::FinishUniform {
            count: images as u32,
            partial_at: values_at,
            result_at: 0,
            divisor: (divisor / t.scale) as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;
    let gradient = t.grad.map(|_| pipeline("gradient")).transpose()?;
    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    pass.set_pipeline(&sums);
    for (bind, n) in &groups {
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(chunks as u32, *n, 1);
    }
    pass.set_pipeline(&per_image);
    for (bind, n) in &groups {
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(*n, 1, 1);
    }
    finish.dispatch(&mut pass);
    if let Some(gradient) = &gradient {
        pass.set_pipeline(gradient);
        for (bind, n) in &groups {
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(chunks as u32, *n, 1);
        }
    }
    Ok(scratch)
}
