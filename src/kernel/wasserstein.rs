//! Records one call of wasserstein_1d: rows split into dispatches that fit a binding (a group
//! of lanes per row inside each, each lane a span of about ROW_SPAN bins), then the finish
//! pass.

use super::dispatch::{
    group, record_pass, row_plan, scratch_range, window, BindRange, Finish, Launch,
};
use super::registry::WASSERSTEIN;
use super::source::{OutputsConfig, WassersteinConfig};
use crate::context::GpuContext;
use crate::error::Result;
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::structured::WassersteinProblem;
use crate::tensor::Tensor;
use crate::tuning::Layout;
use bytemuck::{Pod, Zeroable};

/// shaders/wasserstein.wgsl's `Segment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SegmentUniform {
    rows: u32,
    first_row: u32,
    classes: u32,
    u_at: u32,
    v_at: u32,
    out_at: u32,
    gu_at: u32,
    gv_at: u32,
    partial_at: u32,
    scale: f32,
    dx: f32,
    lanes: u32,
    vec4_loads: u32,
    _pad: [u32; 3],
}

/// Bins a lane walks serially: enough to make the scans across lanes (their barriers) cheap
/// beside the walk, few enough that a row of 1024 still spreads over 32 lanes.
const ROW_SPAN: usize = 32;
/// On CPU drivers, where each barrier switches every SIMD group of the workgroup: 1024 × 1024
/// with gradient took 23–28 ms on lavapipe at 512 bins a lane, 35–51 ms at 32; later, side by
/// side in three rounds, 12.2–12.9 ms at 256, 11.1–11.2 at 512, 10.6–10.7 at 1024 and 10.5–10.6
/// at 2048 (a row of 1024 then has one lane, and its scans no partner to wait for).
const ROW_SPAN_CPU: usize = 1024;
/// Where `Tuning::cache_rows` asks for it, a lane keeps a span of up to this many vec4s of u
/// and v in private memory between sweeps: ROW_SPAN_CPU's bins. 1024 × 1024 with gradient,
/// side by side in six rounds on lavapipe: 6.2–6.4 ms kept, 9.7–9.9 ms read again (llvmpipe
/// GL: 5.6–5.8 against 9.1–9.3, with a third of the runs of either about twice as slow).
/// Spans of 512 or 256 bins (and more lanes a row) kept were slower: 7.6 and 8.0 ms. The
/// cost is compile time: a report of wasserstein_1d on both adapters with an empty Mesa cache
/// took 12.8 s against 1.1 s (u and v kept in one array of pairs: 37.8 s).
const KEPT_VEC4S: usize = ROW_SPAN_CPU / 4;

pub(crate) struct Bound<'a> {
    pub u: &'a Tensor,
    pub v: &'a Tensor,
    pub out: Option<&'a Tensor>,
    /// Gradients for u and v, or none.
    pub grads: Option<(&'a Tensor, &'a Tensor)>,
    pub result: &'a Tensor,
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &WassersteinProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::of(ctx);
    let (n, c) = (p.rows, p.classes);
    let wg = l.tuning.workgroup_size;
    let span = match l.tuning.layout {
        Layout::Blocked { .. } => ROW_SPAN_CPU,
        Layout::GridStride => ROW_SPAN,
    };
    let lanes = (c.div_ceil(span).next_power_of_two() as u32).clamp(1, wg);
    let max_groups = inner.limits.max_compute_workgroups_per_dimension as usize;
    let rows = row_plan(&l, n, c, "values", (wg / lanes) as usize, max_groups)?;
    // Vec4s a lane's span takes, the bins rounded up as the shader rounds them.
    let span_vec4s = c.div_ceil(lanes as usize).div_ceil(4);
    let config = WassersteinConfig {
        outputs: OutputsConfig {
            code: l.code,
            write_out: t.out.is_some(),
            write_grad: t.grads.is_some(),
        },
        kept_vec4s: if l.tuning.cache_rows && span_vec4s <= KEPT_VEC4S {
            KEPT_VEC4S as u32
        } else {
            0
        },
    };
    let pipeline = inner.kernels.pipeline(&WASSERSTEIN, &config)?;
    let scratch = ctx.scratch(u64::from(rows.partials))?;
    let mean = p.reduction == Reduction::Mean;
    let mut dispatches = Vec::new();
    for s in &rows.spans {
        let win =
            |t: &Tensor, per_row: usize| window(t, s.first * per_row, s.count * per_row, l.align);
        let u = win(t.u, c);
        let v = win(t.v, c);
        let out = t.out.map(|o| (o, win(o, 1)));
        let grads = t.grads.map(|(gu, gv)| ((gu, win(gu, c)), (gv, win(gv, c))));
        let whole4 = |at: u32| at.is_multiple_of(4);
        let vec4 = l.tuning.vector_loads
            && c.is_multiple_of(4)
            && whole4(u.at)
            && whole4(v.at)
            && grads
                .as_ref()
                .is_none_or(|g| whole4(g.0 .1.at) && whole4(g.1 .1.at));
        let uniform = SegmentUniform {
            rows: s.count as u32,
            first_row: s.first as u32,
            classes: c as u32,
            u_at: u.at,
            v_at: v.at,
            out_at: out.as_ref().map_or(0, |w| w.1.at),
            gu_at: grads.as_ref().map_or(0, |g| g.0 .1.at),
            gv_at: grads.as_ref().map_or(0, |g| g.1 .1.at),
            partial_at: s.partial_at,
            scale: if mean { 1.0 / n as f32 } else { 1.0 },
            dx: p.dx as f32,
            lanes,
            vec4_loads: u32::from(vec4),
            _pad: [0; 3],
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let out_res: BindRange<'_> = out.map_or((&inner.dummy_out, 0, 16), |(o, w)| {
            (o.buffer(), w.offset, w.size)
        });
        let (gu_res, gv_res): (BindRange<'_>, BindRange<'_>) = match &grads {
            Some(((gu, wu), (gv, wv))) => (
                (gu.buffer(), wu.offset, wu.size),
                (gv.buffer(), wv.offset, wv.size),
            ),
            None => ((&inner.dummy_grad, 0, 16), (&inner.dummy_grad, 0, 16)),
        };
        // The vec4 views of the same windows (dummies when the kernel reads only the others).
        let (u4, v4, gu4, gv4): (BindRange<'_>, BindRange<'_>, _, _) = if vec4 {
            (
                (t.u.buffer(), u.offset, u.size),
                (t.v.buffer(), v.offset, v.size),
                gu_res,
                gv_res,
            )
        } else {
            let (dummy, grad) = ((&inner.dummy_read, 0, 16), (&inner.dummy_grad, 0, 16));
            (dummy, dummy, grad, grad)
        };
        let bind = group(
            ctx,
            &WASSERSTEIN,
            p.loss.name,
            &[
                (&ubuf, 0, ubuf.size()),
                (t.u.buffer(), u.offset, u.size),
                (t.v.buffer(), v.offset, v.size),
                out_res,
                gu_res,
                gv_res,
                scratch_range(&scratch),
                u4,
                v4,
                gu4,
                gv4,
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
