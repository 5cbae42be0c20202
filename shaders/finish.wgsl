// Final pass of every reduction: one workgroup folds the partials of all dispatches of one
// call and writes the reduced value, sum / divisor (divisor = n for mean, 1 for sum).
// A mean over zero elements is NaN, as in PyTorch.

struct Finish {
    count: u32,       // partials to fold
    partial_at: u32,
    result_at: u32,   // element of `result` to write
    divisor: f32,
}

@group(0) @binding(0) var<uniform> fin: Finish;
@group(0) @binding(1) var<storage, read> partials: array<Acc>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    var acc = ACC_ZERO;
    for (var i = ids.lid; i < fin.count; i += WG_SIZE) {
        acc = acc_combine(acc, partials[fin.partial_at + i]);
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        var value = nan_f();
        if fin.divisor != 0.0 {
            value = acc_value(total) / fin.divisor;
        }
        result[fin.result_at] = value;
    }
}
