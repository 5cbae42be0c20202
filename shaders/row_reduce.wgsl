// Folds the statistics (a vec4 per invocation) of each group of ROW_LANES consecutive
// invocations, the lanes that share one row, and gives the total to every lane of the group.
// The loss file provides stats_zero() and stats_combine (the monoid).
//
// Every invocation must call row_reduce from uniform control flow: the barriers live here.

const ROW_RADIX: u32 = 16u;

// Two halves read and written in turn: one barrier per round.
var<workgroup> row_tree: array<vec4<f32>, 2u * WG_SIZE>;

fn row_reduce(lid: u32, v: vec4<f32>) -> vec4<f32> {
    if ROW_LANES == 1u {
        return v;
    }
    let base = lid / ROW_LANES * ROW_LANES;
    let lane = lid % ROW_LANES;
    var acc = v;
    var half = 0u;
    for (var live = ROW_LANES; live > 1u; live = (live + ROW_RADIX - 1u) / ROW_RADIX) {
        row_tree[half + lid] = acc;
        workgroupBarrier();
        acc = stats_zero();
        let first = lane * ROW_RADIX;
        for (var k = first; k < min(first + ROW_RADIX, live); k++) {
            acc = stats_combine(acc, row_tree[half + base + k]);
        }
        half = WG_SIZE - half;
    }
    // Lane 0 holds the total: share it, and let every lane read before the tree is reused.
    row_tree[half + lid] = acc;
    workgroupBarrier();
    let total = row_tree[half + base];
    workgroupBarrier();
    return total;
}

// Records each NaN lane of `v`, elements at, at + 1, ... of a tensor, in status word `slot`
// (as !index with atomicMax: the lowest index wins). The rare path, after a sweep that only
// flagged a NaN; the row kernels bind `scratch`.
fn flag_nan_lanes(slot: u32, at: u32, v: VT) {
    for (var k = 0u; k < VEC; k++) {
        if is_nan_f(lane(v, k)) {
            atomicMax(&scratch.status[slot], ~(at + k));
        }
    }
}
