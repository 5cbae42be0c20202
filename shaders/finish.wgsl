// Final pass of every reduction: one workgroup folds the partials of all dispatches of one
// call and writes the reduced value, sum / divisor. The divisor is n for mean, 1 for sum, or,
// when norm_divisor is set, scratch.norms[3] as an earlier dispatch computed it (cross_entropy:
// 0 when every row is ignored). A mean over nothing is NaN, as in PyTorch.

struct Finish {
    count: u32,        // partials to fold
    partial_at: u32,
    result_at: u32,    // element of `result` to write
    divisor: f32,
    norm_divisor: u32, // 1: multiply the divisor by scratch.norms[3]
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> fin_uniform: Finish;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> fin: Finish;
@group(0) @binding(1) var<storage, read_write> scratch: Scratch;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    fin = fin_uniform;
    acc_setup(ids.nwg.x);
    var acc = ACC_ZERO;
    for (var i = ids.lid; i < fin.count; i += WG_SIZE) {
        acc = acc_combine(acc, scratch.partials[fin.partial_at + i]);
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        var divisor = fin.divisor;
        if fin.norm_divisor != 0u {
            divisor *= scratch.norms[3];
        }
        var value = nan_f();
        if divisor != 0.0 {
            value = acc_value(total) / divisor;
        }
        result[fin.result_at] = value;
    }
}
