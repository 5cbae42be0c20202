// total_variation (LOSSES.md section F): over images [..., H, W], Σ |x[i, j+1] − x[i, j]|^p +
// |x[i+1, j] − x[i, j]|^p, with the gradient in the same pass. Element e's loss is its right and
// down terms; its gradient gathers the four differences it enters (right, down, left, up), so
// each invocation reads its neighbours instead of scattering (no atomics, deterministic).
//
// A dispatch covers whole planes (a binding window); the host prepends WG_SIZE, BLOCKED, LANES,
// WRITE_OUT, WRITE_GRAD, POWER (1, 2, or 0 for any other), and common.wgsl, reduce.wgsl,
// scratch.wgsl, walk.wgsl, one tree strategy.

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

// |d|^p; p = 1 and 2 without pow (exact, and pow(0, p) is not defined for every p), built in
// by the host (POWER) so that no other path is run.
fn term(d: f32) -> f32 {
    if POWER == 1u {
        return abs(d);
    }
    if POWER == 2u {
        return d * d;
    }
    return select(pow(abs(d), seg.power), 0.0, d == 0.0);
}

// d |d|^p / d d: p·|d|^(p−1)·sign(d), 0 at d = 0.
fn slope(d: f32) -> f32 {
    if POWER == 1u {
        return sign(d);
    }
    if POWER == 2u {
        return 2.0 * d;
    }
    return select(seg.power * pow(abs(d), seg.power - 1.0) * sign(d), 0.0, d == 0.0);
}

// Records each NaN of the invocation's elements: the rare path, after a sweep that only set
// a flag (a branch an element costs CPU drivers whether it is taken or not).
fn flag_nans(walk: Walk) {
    for (var e = walk.first; e < walk.end; e += walk.step) {
        if is_nan_f(x_buf[seg.x_at + e]) {
            atomicMax(&scratch.status[STATUS_NAN_INPUT], ~(seg.first + e));
        }
    }
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    seg = seg_uniform;
    acc_setup(ids.nwg.x);
    let grid = ids.nwg.x * WG_SIZE;
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, grid, seg.count);
    var acc = ACC_ZERO;
    var suspicious = false;
    // e's column and row, carried from step to step where a step is shorter than a row (a CPU
    // driver's span, where two divisions an element cost most of the loop), else divided.
    let carry = walk.step < seg.width;
    var col = walk.first % seg.width;
    var row = walk.first / seg.width % seg.height;
    for (var e = walk.first; e < walk.end; e += walk.step) {
        if !carry {
            col = e % seg.width;
            row = e / seg.width % seg.height;
        }
        let i = seg.x_at + e;
        let x = x_buf[i];
        suspicious = suspicious | is_nan_f(x);
        // Without branches: a missing neighbour is read at x's own index and its difference
        // set to 0, whose term and slope are 0.
        let right = col + 1u < seg.width;
        let down = row + 1u < seg.height;
        let left = col > 0u;
        let up = row > 0u;
        let dr = select(0.0, x_buf[select(i, i + 1u, right)] - x, right);
        let dd = select(0.0, x_buf[select(i, i + seg.width, down)] - x, down);
        let dl = select(0.0, x - x_buf[select(i, i - 1u, left)], left);
        let du = select(0.0, x - x_buf[select(i, i - seg.width, up)], up);
        let value = term(dr) + term(dd);
        let grad = ((-slope(dr) - slope(dd)) + slope(dl)) + slope(du);
        acc = acc_add(acc, value);
        if WRITE_OUT {
            out_buf[seg.out_at + e] = value;
        }
        if WRITE_GRAD {
            grad_buf[seg.grad_at + e] = grad * seg.grad_scale;
        }
        if carry {
            col += walk.step;
            let wrap = col >= seg.width;
            col = select(col, col - seg.width, wrap);
            row = select(row, row + 1u, wrap);
            row = select(row, 0u, row == seg.height);
        }
    }
    if suspicious {
        flag_nans(walk);
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
