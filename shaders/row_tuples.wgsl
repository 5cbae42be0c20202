// Row losses over two or three [N, C] tensors a, b, c read together (cosine_embedding: input1,
// input2 and per-row labels; triplet_margin: anchor, positive, negative), with the gradient
// for each tensor in the same kernel (LOSSES.md section C).
//
// As row_stats.wgsl: one sweep folds row_add into a vec4 of per-row sums, row_finish turns
// them (and the row's label) into the loss and the gradient's coefficients, and a second sweep
// (only when gradients are asked for) writes row_grads for every tensor. NaN is flagged in
// status slots NAN_INPUT (a), NAN_WEIGHT (b) and NAN_AUX (c or the labels), which
// TupleProblem::names names, so the reference's order of checks holds. The host defines,
// from the loss's functions in row_tuple_losses.wgsl:
//   the tensor bindings for their dtypes (src/kernel/storage.rs: f32, or f16/bf16 widened
//   to f32): load_a, load_b, put_out, store_ga, store_gb, store_gc, and binding 3 as a third
//   tensor (load_c) or one label per row (row_label), label_ok(label) -> bool,
//   row_add(s, a, b, c), row_finish(s, label) -> RowOut, row_grads(a, b, c, s, coef) -> Grads,
//   THIRD_GRAD (whether gc is written) and POWER (the loss's p where it is 1 or 2, else 0),
// and prepends WG_SIZE, BLOCKED, LANES, ROW_LANES, WRITE_OUT, WRITE_GRAD, common.wgsl,
// reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy, one vector variant, math.wgsl and
// row_reduce.wgsl. Eight storage bindings: the default limit of a caller's device.

struct RowSegment {
    rows: u32,        // rows in this dispatch
    first_row: u32,
    classes: u32,
    a_at: u32,        // first element of each window
    b_at: u32,
    c_at: u32,        // a third tensor's element, or the first label
    out_at: u32,
    ga_at: u32,
    gb_at: u32,
    gc_at: u32,
    partial_at: u32,
    scale: f32,       // 1/N for mean, 1 otherwise
    params: vec4<f32>,
}

// A row's loss and the coefficients its gradients need.
struct RowOut {
    loss: f32,
    coef: vec4<f32>,
}

// The gradients of one VT of a row, one per tensor.
struct Grads {
    a: VT,
    b: VT,
    c: VT,
}

@group(0) @binding(0) var<uniform> seg_uniform: RowSegment;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: RowSegment;
@group(0) @binding(8) var<storage, read_write> scratch: Scratch;

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
    for (var batch = ids.wid.x; batch < batches; batch += ids.nwg.x) {
        let row = batch * ROWS_PER_GROUP + slot;
        let in_range = row < seg.rows;
        let a_row = seg.a_at + row * seg.classes;
        let b_row = seg.b_at + row * seg.classes;
        let c_row = seg.c_at + row * seg.classes;
        let walk = walk_in(lane_id, ROW_LANES, n_vec);
        var s = vec4<f32>(0.0);
        if in_range {
            // No branch in the sweep: a NaN sets a flag, and the rare path finds where.
            var suspicious = false;
            for (var i = walk.first; i < walk.end; i += walk.step) {
                let a = load_a(a_row, i);
                let b = load_b(b_row, i);
                let c = load_c(c_row, i);
                suspicious = suspicious | any(is_nan_v(a) | is_nan_v(b) | is_nan_v(c));
                s = row_add(s, a, b, c);
            }
            if suspicious {
                let flat = (seg.first_row + row) * seg.classes;
                for (var i = walk.first; i < walk.end; i += walk.step) {
                    flag_nan_lanes(STATUS_NAN_INPUT, flat + i * VEC, load_a(a_row, i));
                    flag_nan_lanes(STATUS_NAN_WEIGHT, flat + i * VEC, load_b(b_row, i));
                    flag_nan_lanes(STATUS_NAN_AUX, flat + i * VEC, load_c(c_row, i));
                }
            }
        }
        s = row_reduce(ids.lid, s);
        var label = 1.0;
        if in_range {
            label = row_label(row);
        }
        let r = row_finish(s, label);
        if in_range && lane_id == 0u {
            if is_nan_f(label) {
                atomicMax(&scratch.status[STATUS_NAN_AUX], ~(seg.first_row + row));
            } else if !label_ok(label) {
                atomicMax(&scratch.status[STATUS_TARGET_DOMAIN], ~(seg.first_row + row));
            }
            acc = acc_add(acc, r.loss * seg.scale);
            if WRITE_OUT {
                put_out(seg.out_at + row, r.loss);
            }
        }
        if WRITE_GRAD && in_range {
            let at = row * seg.classes;
            for (var i = walk.first; i < walk.end; i += walk.step) {
                let g = row_grads(load_a(a_row, i), load_b(b_row, i), load_c(c_row, i), s, r.coef);
                store_ga(seg.ga_at + at, i, g.a * seg.scale);
                store_gb(seg.gb_at + at, i, g.b * seg.scale);
                if THIRD_GRAD {
                    store_gc(seg.gc_at + at, i, g.c * seg.scale);
                }
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
