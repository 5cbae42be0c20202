//! Records an elementwise loss whose input or target is a texture's planes: one dispatch,
//! grid-stride over every pixel of every plane, then the finish pass.

use super::dispatch::{
    begin_pass, group_with, image, range_or_dummy, scratch_range, window, Finish, FinishUniform,
    Launch, Resource,
};
use super::image_source::{texture_slots, Source, TextureElementConfig};
use super::registry::TEXTURE_ELEMENTWISE;
use crate::context::GpuContext;
use crate::error::Result;
use crate::pool::Pooled;
use crate::problem::Problem;
use crate::tensor::Tensor;
use crate::tuning::TuneFamily;
use bytemuck::{Pod, Zeroable};

/// shaders/texture_elementwise.wgsl's `Pixels`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PixelsUniform {
    count: u32,
    width: u32,
    height: u32,
    x_at: u32,
    y_at: u32,
    out_at: u32,
    grad_at: u32,
    _pad: u32,
    grad_scale: f32,
    _pad1: [u32; 3],
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
    p: &Problem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::tuned(ctx, TuneFamily::Elementwise);
    // A texture's tensor is [C, H, W]; a buffer beside it has the same shape.
    let [.., height, width] = p.shape[..] else {
        unreachable!("texture tensors are [C, H, W]")
    };
    let (xs, ys) = (Source::of(t.input), Source::of(t.target));
    let config = TextureElementConfig {
        loss: p.loss,
        code: l.code,
        x: xs,
        y: ys,
        write_out: t.out.is_some(),
        write_grad: t.grad.is_some(),
    };
    let pipeline = inner.kernels.pipeline(&TEXTURE_ELEMENTWISE, &config)?;
    let groups =
        p.n.div_ceil(l.tuning.workgroup_size as usize)
            .clamp(1, l.tuning.max_workgroups as usize) as u32;
    let scratch = ctx.scratch(u64::from(groups))?;
    let whole = |t: &Tensor| window(t, 0, t.len(), l.align);
    let (x, y) = (whole(t.input), whole(t.target));
    let (out, grad) = (t.out.map(whole), t.grad.map(whole));
    let mut params = [0f32; 4];
    for (dst, src) in params.iter_mut().zip(&p.params) {
        *dst = *src as f32;
    }
    let uniform = PixelsUniform {
        count: p.n as u32,
        width: width as u32,
        height: height as u32,
        x_at: x.at,
        y_at: y.at,
        out_at: out.as_ref().map_or(0, |w| w.at),
        grad_at: grad.as_ref().map_or(0, |w| w.at),
        _pad: 0,
        grad_scale: (p.grad_scale() * p.scale) as f32,
        _pad1: [0; 3],
        params,
    };
    let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
    let resources = [
        Resource::Buffer((&ubuf, 0, ubuf.size())),
        image(t.input, &x),
        image(t.target, &y),
        Resource::Buffer(range_or_dummy(t.out, out.as_ref(), &inner.dummy_out)),
        Resource::Buffer(range_or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad)),
        Resource::Buffer(scratch_range(&scratch)),
    ];
    let textures = texture_slots(xs, ys);
    let bind = group_with(ctx, &TEXTURE_ELEMENTWISE, textures, p.loss.name, &resources);
    let finish = Finish::new(
        ctx,
        l.code,
        &scratch,
        t.result,
        FinishUniform {
            count: groups,
            partial_at: 0,
            result_at: 0,
            divisor: (p.divisor() / p.scale) as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;
    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    pass.set_pipeline(&pipeline);
    pass.set_bind_group(0, &bind, &[]);
    pass.dispatch_workgroups(groups, 1, 1);
    finish.dispatch(&mut pass);
    drop(pass);
    Ok(scratch)
}
