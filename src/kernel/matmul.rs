//! Records shaders/matmul.wgsl: out = alpha · A · op(B) on windows of three tensors, K split
//! over several workgroups when the output has few tiles, only the upper tiles of A·Aᵀ.

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
    splits: u32,
    k_span: u32,
    sym: u32,
    _pad: [u32; 2],
}

/// matmul.wgsl's output tile (BLOCK) and K step (KT).
const BLOCK: usize = 64;
const KT: usize = 16;
/// K per split when K is split: long enough that each split's loads and barriers pay off.
const SPLIT_K: usize = 512;
/// Workgroups worth having in flight before splitting K stops paying.
const WANT_GROUPS: usize = 64;

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
    // A·Aᵀ (one window read twice) is symmetric: the upper tiles and their mirrors.
    let sym = trans_b
        && a.tensor.buffer() == b.tensor.buffer()
        && a.tensor.offset() == b.tensor.offset()
        && (a.first, a.rows, a.cols) == (b.first, b.rows, b.cols);
    let groups = (q.div_ceil(BLOCK), a.rows.div_ceil(BLOCK));
    let max = inner.limits.max_compute_workgroups_per_dimension as usize;
    if groups.0 > max || groups.1 > max {
        return Err(LossError::Limit {
            what: format!("a {}x{q} product in {BLOCK}x{BLOCK} tiles", a.rows),
            needed: groups.0.max(groups.1) as u64,
            limit: max as u64,
        });
    }
    // Few tiles over a long K (G = F·Fᵀ): split K, the partials (hi, lo) added in order.
    let tiles = groups.0 * groups.1;
    let out_bytes = 8 * (a.rows * q) as u64;
    let mut splits = (k / SPLIT_K).clamp(1, (WANT_GROUPS / tiles.max(1)).max(1));
    while splits > 1 && splits as u64 * out_bytes + align > limit {
        splits /= 2;
    }
    let k_span = k.div_ceil(splits).next_multiple_of(KT).max(KT);
    let splits = k.div_ceil(k_span).max(1);
    let partials = (splits > 1)
        .then(|| ctx.scratch_tensor(vec![2 * splits * a.rows * q]))
        .transpose()?;
    let dims = Dims {
        rows: a.rows as u32,
        cols: q as u32,
        inner: k as u32,
        a_at: wa.at,
        b_at: wb.at,
        out_at: wo.at,
        alpha,
        splits: splits as u32,
        k_span: k_span as u32,
        sym: u32::from(sym),
        _pad: [0; 2],
    };
    let ubuf = ctx.uniform(bytemuck::bytes_of(&dims));
    let partials_res = match &partials {
        Some(p) => (p.buffer(), p.offset(), p.byte_len()),
        None => (&inner.dummy_out, 0, 16),
    };
    let bind = group(
        ctx,
        &MATMUL,
        "matmul",
        &[
            (&ubuf, 0, ubuf.size()),
            (a.tensor.buffer(), wa.offset, wa.size),
            (b.tensor.buffer(), wb.offset, wb.size),
            (out.tensor.buffer(), wo.offset, wo.size),
            partials_res,
        ],
    );
    let config = MatmulConfig { trans_b };
    pass.set_pipeline(&inner.kernels.pipeline(&MATMUL, &config)?);
    pass.set_bind_group(0, &bind, &[]);
    pass.dispatch_workgroups(groups.0 as u32, groups.1 as u32, splits as u32);
    if splits > 1 {
        let gather_groups = (a.rows * q).div_ceil(256).clamp(1, max);
        pass.set_pipeline(&inner.kernels.entry_pipeline(&MATMUL, &config, "gather")?);
        pass.dispatch_workgroups(gather_groups as u32, 1, 1);
    }
    Ok(())
}
