//! Records shaders/matmul.wgsl: out = alpha · A · op(B) on windows of three tensors.

use super::dispatch::{group, window};
use super::registry::MATMUL;
use super::source::MatmulConfig;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::tensor::Tensor;
use bytemuck::{Pod, Zeroable};

/// shaders/matmul.wgsl's `Dims`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Dims {
    rows: u32,
    cols: u32,
    inner: u32,
    a_at: u32,
    b_at: u32,
    out_at: u32,
    alpha: f32,
    _pad: u32,
}

/// A matrix inside a tensor: `rows × cols` elements from element `first`.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a> {
    pub tensor: &'a Tensor,
    pub first: usize,
    pub rows: usize,
    pub cols: usize,
}

/// out = alpha · a · b (or a · bᵀ with `trans_b`), as one dispatch in `pass`.
pub(crate) fn record(
    ctx: &GpuContext,
    pass: &mut wgpu::ComputePass<'_>,
    a: Matrix<'_>,
    b: Matrix<'_>,
    trans_b: bool,
    out: Matrix<'_>,
    alpha: f32,
) -> Result<()> {
    let inner = &ctx.inner;
    let align = u64::from(inner.limits.min_storage_buffer_offset_alignment).max(16);
    let (k, q) = if trans_b {
        (b.cols, b.rows)
    } else {
        (b.rows, b.cols)
    };
    debug_assert_eq!(a.cols, k, "inner dimensions");
    debug_assert_eq!((out.rows, out.cols), (a.rows, q), "output shape");
    let limit = ctx.tuning().max_binding_bytes;
    let win = |m: Matrix<'_>| {
        let w = window(m.tensor, m.first, m.rows * m.cols, align);
        if w.size > limit {
            return Err(LossError::Limit {
                what: format!("a {}x{} matrix in one storage binding", m.rows, m.cols),
                needed: w.size,
                limit,
            });
        }
        Ok(w)
    };
    let (wa, wb, wo) = (win(a)?, win(b)?, win(out)?);
    let groups = (q.div_ceil(16), a.rows.div_ceil(16));
    let max = inner.limits.max_compute_workgroups_per_dimension as usize;
    if groups.0 > max || groups.1 > max {
        return Err(LossError::Limit {
            what: format!("a {}x{q} product in 16x16 tiles", a.rows),
            needed: groups.0.max(groups.1) as u64,
            limit: max as u64,
        });
    }
    let dims = Dims {
        rows: a.rows as u32,
        cols: q as u32,
        inner: k as u32,
        a_at: wa.at,
        b_at: wb.at,
        out_at: wo.at,
        alpha,
        _pad: 0,
    };
    let ubuf = ctx.uniform(bytemuck::bytes_of(&dims));
    let bind = group(
        ctx,
        &MATMUL,
        "matmul",
        &[
            (&ubuf, 0, ubuf.size()),
            (a.tensor.buffer(), wa.offset, wa.size),
            (b.tensor.buffer(), wb.offset, wb.size),
            (out.tensor.buffer(), wo.offset, wo.size),
        ],
    );
    let pipeline = inner.kernels.pipeline(&MATMUL, &MatmulConfig { trans_b })?;
    pass.set_pipeline(&pipeline);
    pass.set_bind_group(0, &bind, &[]);
    pass.dispatch_workgroups(groups.0 as u32, groups.1 as u32, 1);
    Ok(())
}
