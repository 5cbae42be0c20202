//! Records one call of wasserstein_1d_samples: check and total the weights, lay both sample
//! sets out as one array, sort it (bitonic), chain the CDF difference's prefix sum over chunks
//! and add up |S|·Δx, then the finish pass. Stages in shaders/samples_prep.wgsl,
//! shaders/bitonic.wgsl and shaders/samples_scan.wgsl; the float64 twin is
//! cpu::structured::wasserstein_1d_samples.

use super::dispatch::{
    begin_pass, group, scratch_range, window, BindRange, Finish, Launch, Window,
};
use super::registry::{KernelDef, BITONIC, SAMPLES_PREP, SAMPLES_SCAN};
use super::source::CodeConfig;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use crate::problem::structured::SamplesProblem;
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// Samples per chunk of the scan: samples_scan.wgsl's WG_SIZE · PER.
const PER: usize = 8;

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

/// samples_scan.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ScanUniform {
    n: u32,
    m: u32,
    padded: u32,
    weighted: u32,
    uw_at: u32,
    vw_at: u32,
    gu_at: u32,
    gv_at: u32,
    chunks: u32,
    write_grad: u32,
    _pad: [u32; 2],
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
    let chunk = wg * PER;
    // A power of two holding every sample, and whole chunks (sort blocks are smaller).
    let padded = (p.n + p.m).next_power_of_two().max(chunk);
    let chunks = padded / chunk;
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
    let chunk_sums = ctx.scratch_tensor(vec![2 * chunks])?;
    let max_groups = (inner.limits.max_compute_workgroups_per_dimension as usize).min(4096);
    let scan_groups = chunks.clamp(1, max_groups) as u32;
    let scratch = ctx.scratch(u64::from(scan_groups))?;
    let whole = |t: &Tensor| window(t, 0, t.len(), align);
    let (u, v) = (whole(t.u), whole(t.v));
    let uw = t.u_weights.map(whole);
    let vw = t.v_weights.map(whole);
    let weighted = u32::from(t.u_weights.is_some()) | (u32::from(t.v_weights.is_some()) << 1);
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
        ],
    );
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
            p.loss.name,
            &[
                (&uniform, 0, uniform.size()),
                whole_buffer(&keys),
                whole_buffer(&order),
            ],
        )
    };
    let grads = t.grads.map(|(gu, gv)| ((gu, whole(gu)), (gv, whole(gv))));
    let scan_uniform = ctx.uniform(bytemuck::bytes_of(&ScanUniform {
        n: p.n as u32,
        m: p.m as u32,
        padded: padded as u32,
        weighted,
        uw_at: uw.as_ref().map_or(0, |w| w.at),
        vw_at: vw.as_ref().map_or(0, |w| w.at),
        gu_at: grads.as_ref().map_or(0, |g| g.0 .1.at),
        gv_at: grads.as_ref().map_or(0, |g| g.1 .1.at),
        chunks: chunks as u32,
        write_grad: u32::from(grads.is_some()),
        _pad: [0; 2],
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
            bind(t.u_weights, &uw),
            bind(t.v_weights, &vw),
            whole_buffer(&keys),
            whole_buffer(&order),
            whole_buffer(&chunk_sums),
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

    // The sort's steps: every stage up to one block in workgroup memory, then for each larger
    // stage its wide steps over the whole array and its last steps in workgroup memory.
    let block = 2 * wg;
    let block_groups = (padded / block).clamp(1, max_groups) as u32;
    let pair_groups = (padded / 2).div_ceil(wg).clamp(1, max_groups) as u32;
    let mut sort = vec![("local_sort", step_group(block, 0), block_groups)];
    let mut k = 2 * block;
    while k <= padded {
        let mut j = k / 2;
        while j >= block {
            sort.push(("global_step", step_group(k, j), pair_groups));
            j /= 2;
        }
        sort.push(("local_merge", step_group(k, 0), block_groups));
        k *= 2;
    }

    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    let sample_groups = (padded.div_ceil(wg)).clamp(1, max_groups) as u32;
    for (def, entry, bind_group, groups) in [
        (&SAMPLES_PREP, "totals", &prep, 1),
        (&SAMPLES_PREP, "keys_from_samples", &prep, sample_groups),
    ] {
        pass.set_pipeline(&pipeline(def, entry)?);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    for (entry, bind_group, groups) in &sort {
        pass.set_pipeline(&pipeline(&BITONIC, entry)?);
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
    Ok(scratch)
}

/// A tensor's whole span as a binding (for the call's own scratch tensors).
fn whole_buffer(t: &Tensor) -> BindRange<'_> {
    (t.buffer(), t.offset(), t.byte_len())
}
