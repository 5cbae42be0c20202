//! Records one call of wasserstein_1d_samples: check and total the weights, lay both sample
//! sets out as one array, sort it (radix, or bitonic when small), chain the CDF difference's prefix sum over chunks
//! and add up |S|·Δx, then the finish pass. Stages in shaders/samples_prep.wgsl,
//! shaders/radix.wgsl, shaders/bitonic.wgsl and shaders/samples_scan.wgsl; the float64 twin is
//! cpu::structured::wasserstein_1d_samples.

use super::dispatch::{
    begin_pass, group, scratch_range, window, BindRange, Finish, Launch, Window,
};
use super::registry::{KernelDef, BITONIC, RADIX_SORT, SAMPLES_PREP, SAMPLES_SCAN};
use super::source::{samples_scan_per, CodeConfig};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use crate::problem::structured::SamplesProblem;
use crate::tensor::Tensor;
use crate::tuning::Layout;
use bytemuck::{Pod, Zeroable};

/// radix.wgsl's RADIX, and its passes over 32 bits.
const RADIX: usize = 16;
/// Keys per invocation of a radix tile: on CPU drivers long tiles amortise each tile's scan
/// (1M + 0.5M samples on lavapipe: 188–273 ms at 128 against 221–289 ms at 64, side by side);
/// GPUs want many workgroups.
const RADIX_PER_CPU: usize = 128;
const RADIX_PER: usize = 16;
// radix.wgsl counts an invocation's keys in 8 bits a digit.
const _: () = assert!(RADIX_PER_CPU <= 255 && RADIX_PER <= 255);
const RADIX_PASSES: u32 = 8;
/// From this many samples on the radix sort is faster: on lavapipe they were even at 3072
/// samples, radix 4× faster at 24576 (`gpu-loss bench wasserstein_1d_samples`, both forced).
const RADIX_FROM: usize = 1 << 12;

/// The tensors of one call.
pub(crate) struct Bound<'a> {
    pub u: &'a Tensor,
    pub v: &'a Tensor,
    pub u_weights: Option<&'a Tensor>,
    pub v_weights: Option<&'a Tensor>,
    /// Gradients for u_values and v_values, or none.
    pub grads: Option<(&'a Tensor, &'a Tensor)>,
    /// `none`: W1 as a one-element output too.
    pub out: Option<&'a Tensor>,
    pub result: &'a Tensor,
}

/// samples_prep.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PrepUniform {
    n: u32,
    m: u32,
    padded: u32,
    weighted: u32,
    u_at: u32,
    v_at: u32,
    uw_at: u32,
    vw_at: u32,
    groups: u32,
    _pad: [u32; 3],
}

/// bitonic.wgsl's `Step`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct StepUniform {
    padded: u32,
    k: u32,
    j: u32,
    _pad: u32,
}

/// radix.wgsl's `Pass`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RadixUniform {
    count: u32,
    tiles: u32,
    shift: u32,
    per: u32,
}

/// samples_scan.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ScanUniform {
    n: u32,
    m: u32,
    weighted: u32,
    gu_at: u32,
    gv_at: u32,
    chunks: u32,
    write_grad: u32,
    chunk_base: u32,
    _pad: [u32; 4],
}

pub(crate) fn record<'a>(
    ctx: &'a GpuContext,
    p: &SamplesProblem,
    t: &Bound<'a>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::of(ctx);
    let (tuning, code, align) = (&l.tuning, l.code, l.align);
    let wg = tuning.workgroup_size as usize;
    let chunk = wg * samples_scan_per(&code);
    let count = p.n + p.m;
    let radix = count >= RADIX_FROM && wg >= RADIX;
    // Whole vec4s (the radix sort reads four at a time, and a binding's last partial vec4
    // would be out of bounds); the bitonic sort wants a power of two, at least its block (the
    // scan stops at count).
    let padded = if radix {
        count.next_multiple_of(4)
    } else {
        count.next_power_of_two().max(2 * wg).max(4)
    };
    let chunks = count.div_ceil(chunk).max(1);
    let fits = |what: &str, bytes: u64| {
        if bytes + align > tuning.max_binding_bytes {
            return Err(LossError::Limit {
                what: format!("{what} in one storage binding"),
                needed: bytes + align,
                limit: tuning.max_binding_bytes,
            });
        }
        Ok(())
    };
    fits(&format!("{} sorted samples", p.n + p.m), 4 * padded as u64)?;
    fits(
        &format!("{} samples", p.n.max(p.m)),
        4 * p.n.max(p.m) as u64,
    )?;

    let keys = ctx.scratch_tensor(vec![padded])?;
    let order = ctx.scratch_tensor(vec![padded])?;
    let steps = ctx.scratch_tensor(vec![count.next_multiple_of(4).max(4)])?;
    let weighted = u32::from(t.u_weights.is_some()) | (u32::from(t.v_weights.is_some()) << 1);
    let signed_weights = ctx.scratch_tensor(vec![if weighted != 0 { padded } else { 4 }])?;
    let max_groups = (inner.limits.max_compute_workgroups_per_dimension as usize).min(4096);
    let scan_groups = chunks.clamp(1, max_groups) as u32;
    // keys_from_samples' two weight sums per workgroup go through the partials first.
    // As many workgroups as the adapter wants in flight (each ends in two workgroup sums: on a
    // CPU driver thousands of them cost more than the loop).
    let sample_groups = padded
        .div_ceil(wg)
        .clamp(1, max_groups.min(tuning.max_workgroups as usize)) as u32;
    // Partials: apply's, then each chunk's u and v sums; before them keys_from_samples' two per
    // workgroup.
    let scratch =
        ctx.scratch((scan_groups as u64 + 2 * chunks as u64).max(2 * sample_groups as u64))?;
    let whole = |t: &Tensor| window(t, 0, t.len(), align);
    let (u, v) = (whole(t.u), whole(t.v));
    let uw = t.u_weights.map(whole);
    let vw = t.v_weights.map(whole);
    let dummy = &inner.dummy_out;
    let bind = |tensor: Option<&'a Tensor>, w: &Option<Window>| -> BindRange<'a> {
        match (tensor, w) {
            (Some(t), Some(w)) => (t.buffer(), w.offset, w.size),
            _ => (dummy, 0, 16),
        }
    };
    let pipeline = |def: &KernelDef<CodeConfig>, entry: &'static str| {
        inner.kernels.entry_pipeline(def, &code, entry)
    };

    let prep_uniform = ctx.uniform(bytemuck::bytes_of(&PrepUniform {
        n: p.n as u32,
        m: p.m as u32,
        padded: padded as u32,
        weighted,
        u_at: u.at,
        v_at: v.at,
        uw_at: uw.as_ref().map_or(0, |w| w.at),
        vw_at: vw.as_ref().map_or(0, |w| w.at),
        groups: sample_groups,
        _pad: [0; 3],
    }));
    let prep = group(
        ctx,
        &SAMPLES_PREP,
        p.loss.name,
        &[
            (&prep_uniform, 0, prep_uniform.size()),
            (t.u.buffer(), u.offset, u.size),
            (t.v.buffer(), v.offset, v.size),
            bind(t.u_weights, &uw),
            bind(t.v_weights, &vw),
            whole_buffer(&keys),
            whole_buffer(&order),
            scratch_range(&scratch),
            whole_buffer(&signed_weights),
        ],
    );
    let grads = t.grads.map(|(gu, gv)| ((gu, whole(gu)), (gv, whole(gv))));
    let scan_uniform = ctx.uniform(bytemuck::bytes_of(&ScanUniform {
        n: p.n as u32,
        m: p.m as u32,
        weighted,
        gu_at: grads.as_ref().map_or(0, |g| g.0 .1.at),
        gv_at: grads.as_ref().map_or(0, |g| g.1 .1.at),
        chunks: chunks as u32,
        write_grad: u32::from(grads.is_some()),
        chunk_base: scan_groups,
        _pad: [0; 4],
    }));
    let (gu_res, gv_res) = match &grads {
        Some(((gu, wu), (gv, wv))) => (
            (gu.buffer(), wu.offset, wu.size),
            (gv.buffer(), wv.offset, wv.size),
        ),
        None => ((&inner.dummy_grad, 0, 16), (&inner.dummy_grad, 0, 16)),
    };
    let scan = group(
        ctx,
        &SAMPLES_SCAN,
        p.loss.name,
        &[
            (&scan_uniform, 0, scan_uniform.size()),
            whole_buffer(&signed_weights),
            whole_buffer(&keys),
            whole_buffer(&order),
            whole_buffer(&steps),
            gu_res,
            gv_res,
            scratch_range(&scratch),
        ],
    );
    let finishes = [Some(t.result), t.out]
        .into_iter()
        .flatten()
        .map(|r| Finish::sum(ctx, code, &scratch, r, scan_groups, false))
        .collect::<Result<Vec<_>>>()?;

    // The radix sort's own buffers, held until the pass is recorded.
    let mut held = Vec::new();
    let sort = if radix {
        radix_steps(ctx, p.loss.name, count, &keys, &order, &mut held)?
    } else {
        bitonic_steps(ctx, p.loss.name, padded, &keys, &order)
    };

    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    for (def, entry, bind_group, groups) in [
        (&SAMPLES_PREP, "keys_from_samples", &prep, sample_groups),
        (&SAMPLES_PREP, "totals", &prep, 1),
    ] {
        pass.set_pipeline(&pipeline(def, entry)?);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    for (def, entry, bind_group, groups) in &sort {
        pass.set_pipeline(&pipeline(def, entry)?);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    for (entry, groups) in [
        ("chunk_sums", scan_groups),
        ("chunk_offsets", 1),
        ("apply", scan_groups),
    ] {
        pass.set_pipeline(&pipeline(&SAMPLES_SCAN, entry)?);
        pass.set_bind_group(0, &scan, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    for f in &finishes {
        f.dispatch(&mut pass);
    }
    drop(pass);
    drop(held);
    Ok(scratch)
}

/// A tensor's whole span as a binding (for the call's own scratch tensors).
fn whole_buffer(t: &Tensor) -> BindRange<'_> {
    (t.buffer(), t.offset(), t.byte_len())
}

/// One dispatch of the sort: kernel, entry point, bind group, workgroups.
type Step = (
    &'static KernelDef<CodeConfig>,
    &'static str,
    wgpu::BindGroup,
    u32,
);

/// The bitonic sort's steps over `padded` (a power of two) keys: every stage up to one block
/// in workgroup memory, then for each larger stage its wide steps over the whole array and
/// its last steps in workgroup memory.
fn bitonic_steps(
    ctx: &GpuContext,
    label: &str,
    padded: usize,
    keys: &Tensor,
    order: &Tensor,
) -> Vec<Step> {
    let wg = ctx.tuning().workgroup_size as usize;
    let max_groups = (ctx.inner.limits.max_compute_workgroups_per_dimension as usize).min(4096);
    let step_group = |k: usize, j: usize| {
        let uniform = ctx.uniform(bytemuck::bytes_of(&StepUniform {
            padded: padded as u32,
            k: k as u32,
            j: j as u32,
            _pad: 0,
        }));
        group(
            ctx,
            &BITONIC,
            label,
            &[
                (&uniform, 0, uniform.size()),
                whole_buffer(keys),
                whole_buffer(order),
            ],
        )
    };
    let block = 2 * wg;
    let block_groups = (padded / block).clamp(1, max_groups) as u32;
    let pair_groups = (padded / 2).div_ceil(wg).clamp(1, max_groups) as u32;
    let mut sort = vec![(&BITONIC, "local_sort", step_group(block, 0), block_groups)];
    let mut k = 2 * block;
    while k <= padded {
        let mut j = k / 2;
        while j >= block {
            sort.push((&BITONIC, "global_step", step_group(k, j), pair_groups));
            j /= 2;
        }
        sort.push((&BITONIC, "local_merge", step_group(k, 0), block_groups));
        k *= 2;
    }
    sort
}

/// The radix sort's passes over the first `count` keys (4 bits each, three dispatches each),
/// ping-ponging with a second pair of buffers; an even number of passes ends where it began.
fn radix_steps(
    ctx: &GpuContext,
    label: &str,
    count: usize,
    keys: &Tensor,
    order: &Tensor,
    held: &mut Vec<Tensor>,
) -> Result<Vec<Step>> {
    let wg = ctx.tuning().workgroup_size as usize;
    let per = match ctx.tuning().layout {
        Layout::Blocked { .. } => RADIX_PER_CPU,
        Layout::GridStride => RADIX_PER,
    }
    .min(65535 / wg / 4 * 4);
    let tiles = count.div_ceil(wg * per);
    let groups = tiles.min(ctx.inner.limits.max_compute_workgroups_per_dimension as usize) as u32;
    // Whole vec4s: radix.wgsl reads four keys at a time.
    let keys2 = ctx.scratch_tensor(vec![count.next_multiple_of(4)])?;
    let order2 = ctx.scratch_tensor(vec![count.next_multiple_of(4)])?;
    // Tile counts by digit, their totals, and eight words per invocation and tile.
    let counts = ctx.scratch_tensor(vec![RADIX * (tiles + 1) + 8 * wg * tiles])?;
    let mut steps = Vec::new();
    for pass in 0..RADIX_PASSES {
        let uniform = ctx.uniform(bytemuck::bytes_of(&RadixUniform {
            count: count as u32,
            tiles: tiles as u32,
            shift: 4 * pass,
            per: per as u32,
        }));
        let (from, to) = if pass % 2 == 0 {
            ((keys, order), (&keys2, &order2))
        } else {
            ((&keys2, &order2), (keys, order))
        };
        let bind_group = group(
            ctx,
            &RADIX_SORT,
            label,
            &[
                (&uniform, 0, uniform.size()),
                whole_buffer(from.0),
                whole_buffer(from.1),
                whole_buffer(to.0),
                whole_buffer(to.1),
                whole_buffer(&counts),
            ],
        );
        steps.push((&RADIX_SORT, "count", bind_group.clone(), groups));
        steps.push((&RADIX_SORT, "scan", bind_group.clone(), RADIX as u32));
        steps.push((&RADIX_SORT, "scatter", bind_group, groups));
    }
    held.extend([keys2, order2, counts]);
    Ok(steps)
}
