// total_variation (LOSSES.md section F): over images [..., H, W], Σ |x[i, j+1] − x[i, j]|^p +
// |x[i+1, j] − x[i, j]|^p, with the gradient in the same pass. Element e's loss is its right and
// down terms; its gradient gathers the four differences it enters (right, down, left, up), so
// each invocation reads its neighbours instead of scattering (no atomics, deterministic).
//
// A dispatch covers whole planes (a binding window); the host prepends WG_SIZE, BLOCKED, LANES,
// WRITE_OUT, WRITE_GRAD, and common.wgsl, reduce.wgsl, scratch.wgsl, walk.wgsl, one tree
// strategy.

struct Segment {
    count: u32,       // elements in this dispatch: whole planes
    first: u32,       // its first element in the whole tensor
    width: u32,
    height: u32,
    x_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    grad_scale: f32,  // 1/n for mean, 1 otherwise
    power: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> seg_uniform: Segment;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: Segment;
@group(0) @binding(1) var<storage, read> x_buf: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> scratch: Scratch;

// |d|^p; p = 1 and 2 without pow (exact, and pow(0, p) is not defined for every p).
fn term(d: f32) -> f32 {
    if seg.power == 1.0 {
        return abs(d);
    }
    if seg.power == 2.0 {
        return d * d;
    }
    return select(pow(abs(d), seg.power), 0.0, d == 0.0);
}

// d |d|^p / d d: p·|d|^(p−1)·sign(d), 0 at d = 0.
fn slope(d: f32) -> f32 {
    if seg.power == 1.0 {
        return sign(d);
    }
    if seg.power == 2.0 {
        return 2.0 * d;
    }
    return select(seg.power * pow(abs(d), seg.power - 1.0) * sign(d), 0.0, d == 0.0);
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    seg = seg_uniform;
    acc_setup(ids.nwg.x);
    let grid = ids.nwg.x * WG_SIZE;
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, grid, seg.count);
    var acc = ACC_ZERO;
    for (var e = walk.first; e < walk.end; e += walk.step) {
        let col = e % seg.width;
        let row = e / seg.width % seg.height;
        let i = seg.x_at + e;
        let x = x_buf[i];
        if is_nan_f(x) {
            atomicMax(&scratch.status[STATUS_NAN_INPUT], ~(seg.first + e));
        }
        var value = 0.0;
        var grad = 0.0;
        if col + 1u < seg.width {
            let d = x_buf[i + 1u] - x;
            value += term(d);
            grad -= slope(d);
        }
        if row + 1u < seg.height {
            let d = x_buf[i + seg.width] - x;
            value += term(d);
            grad -= slope(d);
        }
        if col > 0u {
            grad += slope(x - x_buf[i - 1u]);
        }
        if row > 0u {
            grad += slope(x - x_buf[i - seg.width]);
        }
        acc = acc_add(acc, value);
        if WRITE_OUT {
            out_buf[seg.out_at + e] = value;
        }
        if WRITE_GRAD {
            grad_buf[seg.grad_at + e] = grad * seg.grad_scale;
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
