// Row losses over [N, C] `input` and `target` that follow from a few per-row sums
// (cosine_similarity, dice, js_div, categorical_cross_entropy; LOSSES.md section C), the
// gradient in the same kernel.
//
// One sweep folds row_add over the row into a vec4 of statistics (row_reduce.wgsl folds the
// lanes), row_finish turns them into the row's loss and the coefficients the gradient needs,
// and a last sweep (only when the gradient is asked for) writes row_grads. The main sweep
// flags the first NaN of `input` and `target` (status words, as every kernel does). A loss whose sums
// need another sum first (categorical_cross_entropy's Σx) gets a sweep before (PRE_SWEEP).
// The host defines, from the loss's functions in row_losses.wgsl:
//   stats_zero, stats_combine, row_pre(s, x, y), row_add(s, x, y, pre),
//   row_finish(s, pre) -> RowOut, row_grads(x, y, s, coef) -> VT
// and prepends WG_SIZE, BLOCKED, LANES, ROW_LANES, PRE_SWEEP, WRITE_OUT, WRITE_GRAD, common.wgsl,
// reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy, one vector variant, math.wgsl and
// row_reduce.wgsl.

struct RowSegment {
    rows: u32,        // rows in this dispatch
    first_row: u32,
    classes: u32,
    x_at: u32,        // first element of each window
    y_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    scale: f32,       // 1/N for mean, 1 otherwise
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
    params: vec4<f32>,
}

// A row's loss and the coefficients its gradient needs.
struct RowOut {
    loss: f32,
    coef: vec4<f32>,
}

@group(0) @binding(0) var<uniform> seg_uniform: RowSegment;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: RowSegment;
// Bindings 1 (x), 2 (y), 3 (out) and 4 (grad) with their load_, put_ and store_ functions
// are emitted by the host for each tensor's dtype (src/kernel/storage.rs).
@group(0) @binding(5) var<storage, read_write> scratch: Scratch;

const ROWS_PER_GROUP: u32 = WG_SIZE / ROW_LANES;

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    seg = seg_uniform;
    acc_setup(ids.nwg.x);
    halves_setup(ids.nwg.x);
    let slot = ids.lid / ROW_LANES;
    let lane_id = ids.lid % ROW_LANES;
    let n_vec = seg.classes / VEC;
    var acc = ACC_ZERO;
    let batches = (seg.rows + ROWS_PER_GROUP - 1u) / ROWS_PER_GROUP;
    // The batch loop depends on the workgroup only, so row_reduce's barriers stay uniform.
    for (var b = ids.wid.x; b < batches; b += ids.nwg.x) {
        let row = b * ROWS_PER_GROUP + slot;
        let in_range = row < seg.rows;
        let x_row = seg.x_at + row * seg.classes;
        let y_row = seg.y_at + row * seg.classes;
        let walk = walk_in(lane_id, ROW_LANES, n_vec);
        // The first sweep, for a loss whose sums need another's first (row_pre).
        var pre = stats_zero();
        if PRE_SWEEP {
            if in_range {
                for (var i = walk.first; i < walk.end; i += walk.step) {
                    pre = row_pre(pre, load_x(x_row, i), load_y(y_row, i));
                }
            }
            pre = row_reduce(ids.lid, pre);
        }
        var s = stats_zero();
        if in_range {
            // No branch in the sweep: a NaN sets a flag, and the rare path finds where.
            var suspicious = false;
            for (var i = walk.first; i < walk.end; i += walk.step) {
                let x = load_x(x_row, i);
                let y = load_y(y_row, i);
                suspicious = suspicious | any(is_nan_v(x) | is_nan_v(y));
                s = row_add(s, x, y, pre);
            }
            if suspicious {
                let flat = (seg.first_row + row) * seg.classes;
                for (var i = walk.first; i < walk.end; i += walk.step) {
                    flag_nan_lanes(STATUS_NAN_INPUT, flat + i * VEC, load_x(x_row, i));
                    flag_nan_lanes(STATUS_NAN_TARGET, flat + i * VEC, load_y(y_row, i));
                }
            }
        }
        s = row_reduce(ids.lid, s);
        let r = row_finish(s, pre);
        if in_range && lane_id == 0u {
            acc = acc_add(acc, r.loss * seg.scale);
            if WRITE_OUT {
                put_out(seg.out_at + row, r.loss);
            }
        }
        if WRITE_GRAD && in_range {
            let g_row = seg.grad_at + row * seg.classes;
            for (var i = walk.first; i < walk.end; i += walk.step) {
                let g = row_grads(load_x(x_row, i), load_y(y_row, i), s, r.coef) * seg.scale;
                store_grad(g_row, i, g);
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
