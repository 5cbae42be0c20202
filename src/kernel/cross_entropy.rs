//! Records one cross_entropy call: the label pre-pass and its finish (checks, weighted-mean
//! denominators), the row kernel over dispatches of whole rows that fit the binding limit,
//! and the finish pass that folds the rows' losses.

use super::elementwise::{binding, window, Finish, FinishUniform, Window};
use super::{CodeConfig, CrossEntropyConfig, KernelKey, CLASS_LABELS, CROSS_ENTROPY};
use crate::catalogue::RowKernel;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::rows::{CrossEntropyProblem, TargetKind};
use crate::status::SCRATCH_HEADER_BYTES;
use crate::tensor::{DType, Tensor};
use bytemuck::{Pod, Zeroable};

/// shaders/class_labels.wgsl's `LabelPass`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LabelPassUniform {
    rows: u32,
    first_row: u32,
    classes: u32,
    t_at: u32,
    w_at: u32,
    slots: u32,
    slot_at: u32,
    count_classes: u32,
    index_target: u32,
    reduction_mean: u32,
    total_rows: u32,
    ignore_lo: u32,
    ignore_hi: u32,
    ignore: u32,
    keras_mean: u32,
    scale: f32,
}

/// shaders/cross_entropy.wgsl's `RowSegment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RowSegmentUniform {
    rows: u32,
    first_row: u32,
    classes: u32,
    x_at: u32,
    t_at: u32,
    w_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    ignore_lo: u32,
    ignore_hi: u32,
    ignore: u32,
    label_smoothing: f32,
    z_loss: f32,
    softcap: f32,
    _pad1: f32,
}

/// The tensors of one call, checked against its problem.
pub(crate) struct Bound<'a> {
    pub input: &'a Tensor,
    pub target: &'a Tensor,
    pub weight: Option<&'a Tensor>,
    /// Per-row losses `[N]`.
    pub out: Option<&'a Tensor>,
    /// `[N, C]`, the input's shape.
    pub grad: Option<&'a Tensor>,
    pub result: &'a Tensor,
}

/// Lanes per row: enough that each walks about 8 VTs of it, at most a workgroup.
pub(crate) fn row_lanes(vts_per_row: usize, workgroup: u32) -> u32 {
    (vts_per_row.div_ceil(8).next_power_of_two() as u32).clamp(1, workgroup)
}

/// VTs of a row one lane keeps in registers between the loss and gradient sweeps
/// (`ROW_CACHE` in shaders/cross_entropy.wgsl).
const ROW_CACHE: usize = 8;

pub(crate) fn group(
    ctx: &GpuContext,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    resources: &[(&wgpu::Buffer, u64, u64)],
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
        layout,
        entries: &entries,
    })
}

pub(crate) fn record(
    ctx: &GpuContext,
    p: &CrossEntropyProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let tuning = ctx.tuning();
    let code = CodeConfig::from(&tuning);
    let limits = &inner.limits;
    let align = u64::from(limits.min_storage_buffer_offset_alignment).max(16);
    let max_binding = tuning.max_binding_bytes;
    let (n, c) = (p.rows, p.classes);

    let row_bytes = 4 * c as u64;
    if row_bytes + align > max_binding {
        return Err(LossError::Limit {
            what: format!("one row of {c} classes in one storage binding"),
            needed: row_bytes + align,
            limit: max_binding,
        });
    }
    let label_words: u32 = match p.target {
        TargetKind::Index(DType::I64) => 2,
        _ => 1,
    };
    let index_target = matches!(p.target, TargetKind::Index(_));
    let weight_window = t.weight.map(|w| window(w, 0, c, align));

    let aligned = [Some(t.input), t.grad, t.weight]
        .into_iter()
        .flatten()
        .chain((!index_target).then_some(t.target))
        .all(|t| t.offset() % 16 == 0);
    let vec4 = tuning.vector_loads && c % 4 == 0 && aligned;
    let vec = if vec4 { 4 } else { 1 };
    let lanes = row_lanes(c / vec, tuning.workgroup_size);
    let rows_per_group = (tuning.workgroup_size / lanes) as usize;
    let rows_per_segment = (((max_binding - align) / row_bytes) as usize).max(1);

    let ignore_word = p.ignore_index.unwrap_or(0) as u64;
    let (ignore_lo, ignore_hi) = (ignore_word as u32, (ignore_word >> 32) as u32);
    let ignore = u32::from(p.ignore_index.is_some());
    let mode = match p.kernel {
        RowKernel::Nll => 1,
        RowKernel::SparseCategorical => 2,
        _ => 0,
    };
    // Keras's mean: over the kept rows + 1e-7, when rows can be ignored.
    let keras_mean = u32::from(mode == 2 && p.ignore_index.is_some());
    let wg = tuning.workgroup_size as usize;
    let max_groups = tuning.max_workgroups as usize;

    let mut segments = Vec::new();
    let mut first = 0;
    while first < n {
        let count = rows_per_segment.min(n - first);
        let groups = count.div_ceil(rows_per_group).clamp(1, max_groups) as u32;
        segments.push((first, count, groups));
        first += count;
    }
    // The pre-pass: over each segment's labels (the first also sums the class weights), or
    // once over the class weights alone (probability targets, or no row).
    let pre_segments: Vec<(usize, usize, u32)> = if index_target && n > 0 {
        segments
            .iter()
            .enumerate()
            .map(|(i, &(first, count, _))| {
                let items = if i == 0 { count.max(c) } else { count };
                (first, count, items.div_ceil(wg).clamp(1, max_groups) as u32)
            })
            .collect()
    } else {
        vec![(0, 0, c.div_ceil(wg).clamp(1, max_groups) as u32)]
    };
    let pre_slots: u32 = pre_segments.iter().map(|s| s.2).sum();
    let row_partials: u32 = segments.iter().map(|s| s.2).sum();
    let scratch = ctx.scratch(3 * u64::from(pre_slots) + u64::from(row_partials))?;
    let scratch_res = (scratch.buffer(), 0, scratch.buffer().size());
    let dummy = (&inner.dummy_read, 0u64, 16u64);
    let or_dummy = |tensor: Option<&Tensor>, w: Option<&Window>, d: &wgpu::Buffer| match (tensor, w)
    {
        (Some(t), Some(w)) => (t.buffer().clone(), w.offset, w.size),
        _ => (d.clone(), 0, 16),
    };
    let weight_res = or_dummy(t.weight, weight_window.as_ref(), &inner.dummy_read);

    let mut pre_groups = Vec::with_capacity(pre_segments.len());
    let mut slot_at = 0;
    for (i, &(first, count, groups)) in pre_segments.iter().enumerate() {
        let labels = (count > 0).then(|| {
            let words = label_words as usize;
            window(t.target, first * words, count * words, align)
        });
        let uniform = LabelPassUniform {
            rows: count as u32,
            first_row: first as u32,
            classes: c as u32,
            t_at: labels.as_ref().map_or(0, |w| w.at),
            w_at: weight_window.as_ref().map_or(0, |w| w.at),
            slots: pre_slots,
            slot_at,
            count_classes: (i == 0).into(),
            index_target: index_target.into(),
            reduction_mean: (p.reduction == Reduction::Mean).into(),
            total_rows: n as u32,
            ignore_lo,
            ignore_hi,
            ignore,
            keras_mean,
            scale: p.scale as f32,
        };
        slot_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let labels_res = or_dummy(Some(t.target), labels.as_ref(), &inner.dummy_read);
        pre_groups.push((
            group(
                ctx,
                inner.kernels.bind_group_layout(&CLASS_LABELS),
                "class_labels",
                &[
                    (&ubuf, 0, ubuf.size()),
                    (&labels_res.0, labels_res.1, labels_res.2),
                    (&weight_res.0, weight_res.1, weight_res.2),
                    scratch_res,
                ],
            ),
            groups,
        ));
    }
    let pre_key = |entry| KernelKey::ClassLabels {
        code,
        label_words,
        has_weight: t.weight.is_some(),
        entry,
    };
    let pre_count = inner.kernels.pipeline(&pre_key("count"))?;
    let pre_finish = inner.kernels.pipeline(&pre_key("finish"))?;

    // The row kernel, one dispatch per segment of rows.
    let in_place = t.grad.is_some_and(|g| g.same_window(t.input));
    let row_pipeline = inner
        .kernels
        .pipeline(&KernelKey::CrossEntropy(CrossEntropyConfig {
            code,
            mode,
            vec4,
            row_lanes: lanes,
            prob_target: !index_target,
            label_words,
            has_weight: t.weight.is_some(),
            softcap: p.softcap.is_some(),
            write_out: t.out.is_some(),
            write_grad: t.grad.is_some(),
            in_place,
            // Only softmax cross-entropy sweeps the row twice; nll and Keras's sparse form
            // compute their gradients without the logits.
            cache_row: tuning.cache_rows
                && mode == 0
                && t.grad.is_some()
                && (c / vec).div_ceil(lanes as usize) <= ROW_CACHE,
        }))?;
    let mut row_groups = Vec::with_capacity(segments.len());
    let mut partial_at = 3 * pre_slots;
    for &(first, count, groups) in &segments {
        let x = window(t.input, first * c, count * c, align);
        let target = if index_target {
            window(
                t.target,
                first * label_words as usize,
                count * label_words as usize,
                align,
            )
        } else {
            window(t.target, first * c, count * c, align)
        };
        let out = t.out.map(|o| window(o, first, count, align));
        let grad = t.grad.map(|g| window(g, first * c, count * c, align));
        let uniform = RowSegmentUniform {
            rows: count as u32,
            first_row: first as u32,
            classes: c as u32,
            x_at: x.at,
            t_at: target.at,
            w_at: weight_window.as_ref().map_or(0, |w| w.at),
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            partial_at,
            ignore_lo,
            ignore_hi,
            ignore,
            label_smoothing: p.label_smoothing as f32,
            z_loss: p.z_loss as f32,
            softcap: p.softcap.unwrap_or(0.0) as f32,
            _pad1: 0.0,
        };
        partial_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let target_res = (t.target.buffer(), target.offset, target.size);
        let (labels, probs) = if index_target {
            (target_res, dummy)
        } else {
            (dummy, target_res)
        };
        let out_res = or_dummy(t.out, out.as_ref(), &inner.dummy_out);
        let grad_res = or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad);
        // In place the logits are read through the gradient's (read-write) binding.
        let x_res = if in_place {
            dummy
        } else {
            (t.input.buffer(), x.offset, x.size)
        };
        row_groups.push((
            group(
                ctx,
                inner.kernels.bind_group_layout(&CROSS_ENTROPY),
                "cross_entropy",
                &[
                    (&ubuf, 0, ubuf.size()),
                    x_res,
                    labels,
                    probs,
                    (&weight_res.0, weight_res.1, weight_res.2),
                    (&out_res.0, out_res.1, out_res.2),
                    (&grad_res.0, grad_res.1, grad_res.2),
                    scratch_res,
                ],
            ),
            groups,
        ));
    }

    let finish = Finish::new(
        ctx,
        code,
        &scratch,
        t.result,
        FinishUniform {
            count: row_partials,
            partial_at: 3 * pre_slots,
            result_at: 0,
            divisor: 1.0,
            norm_divisor: 1,
            _pad: [0; 3],
        },
    )?;

    enc.clear_buffer(scratch.buffer(), 0, Some(SCRATCH_HEADER_BYTES));
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("cross_entropy"),
        timestamp_writes: None,
    });
    pass.set_pipeline(&pre_count);
    for (group, groups) in &pre_groups {
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    pass.set_pipeline(&pre_finish);
    pass.dispatch_workgroups(1, 1, 1);
    pass.set_pipeline(&row_pipeline);
    for (group, groups) in &row_groups {
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    finish.dispatch(&mut pass);
    drop(pass);
    Ok(scratch)
}
