//! Records one cross_entropy call: the label pre-pass and its finish (checks, weighted-mean
//! denominators), the row kernel over dispatches of whole rows that fit the binding limit,
//! and the finish pass that folds the rows' losses.

use super::dispatch::{
    begin_pass, group, range_or_dummy, row_plan, scratch_range, window, Finish, FinishUniform,
    Launch, RowLanes,
};
use super::registry::{CLASS_LABELS, CROSS_ENTROPY};
use super::source::{ClassLabelsConfig, CrossEntropyConfig, CrossEntropyMode, ROW_CACHE};
use super::storage::Dtypes;
use crate::catalogue::RowKernel;
use crate::context::GpuContext;
use crate::error::Result;
use crate::params::Reduction;
use crate::pool::Pooled;
use crate::problem::rows::{CrossEntropyProblem, TargetKind};
use crate::tensor::{DType, Tensor};
use crate::tuning::TuneFamily;
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

pub(crate) fn record(
    ctx: &GpuContext,
    p: &CrossEntropyProblem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::tuned(ctx, TuneFamily::Rows);
    let (tuning, code, align) = (&l.tuning, l.code, l.align);
    let (n, c) = (p.rows, p.classes);

    let label_words: u32 = match p.target {
        TargetKind::Index(DType::I64) => 2,
        _ => 1,
    };
    let index_target = matches!(p.target, TargetKind::Index(_));
    let weight_window = t.weight.map(|w| window(w, 0, c, align));

    let row_tensors = [Some(t.input), t.grad, t.weight]
        .into_iter()
        .flatten()
        .chain((!index_target).then_some(t.target));
    let shape = RowLanes::new(&l, c, row_tensors);
    let vec = if shape.vec4 { 4 } else { 1 };

    let ignore_word = p.ignore_index.unwrap_or(0) as u64;
    let (ignore_lo, ignore_hi) = (ignore_word as u32, (ignore_word >> 32) as u32);
    let ignore = u32::from(p.ignore_index.is_some());
    let mode = match p.kernel {
        RowKernel::Nll => CrossEntropyMode::Nll,
        RowKernel::SparseCategorical => CrossEntropyMode::SparseKeras,
        _ => CrossEntropyMode::CrossEntropy,
    };
    // Keras's mean: over the kept rows + 1e-7, when rows can be ignored.
    let keras_mean = u32::from(mode == CrossEntropyMode::SparseKeras && p.ignore_index.is_some());
    let wg = tuning.workgroup_size as usize;
    let max_groups = tuning.max_workgroups as usize;

    let rows = row_plan(&l, n, c, "classes", shape.rows_per_group, max_groups)?;
    // The pre-pass: over each segment's labels (the first also sums the class weights), or
    // once over the class weights alone (probability targets, or no row).
    let pre_segments: Vec<(usize, usize, u32)> = if index_target && n > 0 {
        rows.spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let items = if i == 0 { s.count.max(c) } else { s.count };
                let groups = items.div_ceil(wg).clamp(1, max_groups) as u32;
                (s.first, s.count, groups)
            })
            .collect()
    } else {
        vec![(0, 0, c.div_ceil(wg).clamp(1, max_groups) as u32)]
    };
    let pre_slots: u32 = pre_segments.iter().map(|s| s.2).sum();
    // The row kernel's partials follow the pre-pass's three slots' worth.
    let rows_at = 3 * pre_slots;
    let scratch = ctx.scratch(u64::from(rows_at) + u64::from(rows.partials))?;
    let dummy = (&inner.dummy_read, 0u64, 16u64);
    let weight_res = range_or_dummy(t.weight, weight_window.as_ref(), &inner.dummy_read);

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
            // nll reads w[y] alone (no smoothing): it neither sums nor checks the others.
            count_classes: (i == 0 && mode != CrossEntropyMode::Nll).into(),
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
        let bind = group(
            ctx,
            &CLASS_LABELS,
            "class_labels",
            &[
                (&ubuf, 0, ubuf.size()),
                range_or_dummy(Some(t.target), labels.as_ref(), &inner.dummy_read),
                weight_res,
                scratch_range(&scratch),
            ],
        );
        pre_groups.push((bind, groups));
    }
    let dtype = |t: Option<&Tensor>| t.map_or(DType::F32, Tensor::dtype);
    let pre = ClassLabelsConfig {
        code,
        label_words,
        has_weight: t.weight.is_some(),
        weight: dtype(t.weight),
    };
    let pre_count = inner.kernels.entry_pipeline(&CLASS_LABELS, &pre, "count")?;
    let pre_finish = inner
        .kernels
        .entry_pipeline(&CLASS_LABELS, &pre, "finish")?;

    // The row kernel, one dispatch per segment of rows.
    let in_place = t.grad.is_some_and(|g| g.same_window(t.input));
    let row_config = CrossEntropyConfig {
        code,
        mode,
        vec4: shape.vec4,
        row_lanes: shape.lanes,
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
            && mode == CrossEntropyMode::CrossEntropy
            && t.grad.is_some()
            && (c / vec).div_ceil(shape.lanes as usize) <= ROW_CACHE,
        // Half logits eight a load (the gradient written four a store as before), where every
        // row starts on 16 bytes; in place the logits come through the gradient's writer.
        pairs: shape.vec4
            && t.input.dtype().is_half()
            && c.is_multiple_of(8)
            && t.input.offset().is_multiple_of(16)
            && !in_place,
        dtypes: Dtypes {
            x: t.input.dtype(),
            y: if index_target {
                DType::F32
            } else {
                t.target.dtype()
            },
            w: dtype(t.weight),
            aux: DType::F32,
            out: dtype(t.out),
            grad: dtype(t.grad),
        },
    };
    let checked = l.tuning.runtime_checks;
    let row_pipeline = inner
        .kernels
        .pipeline_checked(&CROSS_ENTROPY, &row_config, checked)?;
    let mut row_groups = Vec::with_capacity(rows.spans.len());
    for s in &rows.spans {
        let (first, count) = (s.first, s.count);
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
            partial_at: rows_at + s.partial_at,
            ignore_lo,
            ignore_hi,
            ignore,
            label_smoothing: p.label_smoothing as f32,
            z_loss: p.z_loss as f32,
            softcap: p.softcap.unwrap_or(0.0) as f32,
            _pad1: 0.0,
        };
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let target_res = (t.target.buffer(), target.offset, target.size);
        let (labels, probs) = if index_target {
            (target_res, dummy)
        } else {
            (dummy, target_res)
        };
        // In place the logits are read through the gradient's (read-write) binding.
        let x_res = if in_place {
            dummy
        } else {
            (t.input.buffer(), x.offset, x.size)
        };
        let bind = group(
            ctx,
            &CROSS_ENTROPY,
            "cross_entropy",
            &[
                (&ubuf, 0, ubuf.size()),
                x_res,
                labels,
                probs,
                weight_res,
                range_or_dummy(t.out, out.as_ref(), &inner.dummy_out),
                range_or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad),
                scratch_range(&scratch),
            ],
        );
        row_groups.push((bind, s.groups));
    }

    let finish = Finish::new(
        ctx,
        code,
        &scratch,
        t.result,
        FinishUniform {
            count: rows.partials,
            partial_at: rows_at,
            result_at: 0,
            divisor: 1.0,
            norm_divisor: 1,
            _pad: [0; 3],
        },
    )?;

    let mut pass = begin_pass(enc, "cross_entropy", &scratch);
    pass.set_pipeline(&pre_count);
    for (bind, groups) in &pre_groups {
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    pass.set_pipeline(&pre_finish);
    pass.dispatch_workgroups(1, 1, 1);
    pass.set_pipeline(&row_pipeline);
    for (bind, groups) in &row_groups {
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    finish.dispatch(&mut pass);
    drop(pass);
    Ok(scratch)
}
