// wasserstein_1d_samples, stage 3 of 3: with both sets sorted together (bitonic.wgsl), each
// sample steps the CDF difference S = F_u − F_v by +w/W_u (a u sample) or −w/W_v (a v sample),
// so S_e after sample e is a prefix sum, and
//   W1 = Σ_e |S_e|·(x_{e+1} − x_e),   d W1 / d x_e = |S_{e−1}| − |S_e|   (S_last = 0).
// The prefix sum is chained over chunks of CHUNK samples: `chunk_sums` sums each chunk,
// `chunk_offsets` (one workgroup) turns the sums into each chunk's starting S, and `apply`
// scans within each chunk, adds the terms into workgroup partials for finish.wgsl, and writes
// the gradient to each sample's own position. Every sum is compensated (reduce.wgsl). The host
// prepends WG_SIZE, common.wgsl, reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy.

struct Params {
    n: u32,
    m: u32,
    padded: u32,
    weighted: u32,  // bit 0: u_weights given; bit 1: v_weights given
    uw_at: u32,
    vw_at: u32,
    gu_at: u32,
    gv_at: u32,
    chunks: u32,
    write_grad: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> uw_buf: array<f32>;
@group(0) @binding(2) var<storage, read> vw_buf: array<f32>;
@group(0) @binding(3) var<storage, read> keys: array<f32>;
@group(0) @binding(4) var<storage, read> order: array<u32>;
@group(0) @binding(5) var<storage, read_write> chunk_buf: array<Acc>;
@group(0) @binding(6) var<storage, read_write> grad_u: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_v: array<f32>;
@group(0) @binding(8) var<storage, read_write> scratch: Scratch;

const PER: u32 = 8u;
const CHUNK: u32 = WG_SIZE * PER;

// How sample e (in sorted order) moves S, as hi + lo; padding moves nothing.
fn step_of(e: u32) -> Acc {
    let at = order[e];
    if at == 0xffffffffu {
        return ACC_ZERO;
    }
    if at < p.n {
        var w = 1.0;
        if (p.weighted & 1u) != 0u {
            w = uw_buf[p.uw_at + at];
        }
        return quotient(w, Acc(scratch.norms[0], scratch.norms[1]));
    }
    var w = 1.0;
    if (p.weighted & 2u) != 0u {
        w = vw_buf[p.vw_at + at - p.n];
    }
    return -quotient(w, Acc(scratch.norms[2], scratch.norms[3]));
}

// This invocation's PER samples of chunk c, summed.
fn own_sum(c: u32, lid: u32) -> Acc {
    var acc = ACC_ZERO;
    let first = c * CHUNK + lid * PER;
    for (var q = 0u; q < PER; q++) {
        acc = acc_combine(acc, step_of(first + q));
    }
    return acc;
}

@compute @workgroup_size(WG_SIZE)
fn chunk_sums(ids: Ids) {
    acc_setup(ids.nwg.x);
    for (var c = ids.wid.x; c < p.chunks; c += ids.nwg.x) {
        let total = workgroup_reduce(ids, own_sum(c, ids.lid));
        if ids.lid == 0u {
            chunk_buf[c] = total;
        }
    }
}

// One workgroup: each chunk's sum becomes the S before it (a few thousand chunks at most).
@compute @workgroup_size(WG_SIZE)
fn chunk_offsets(ids: Ids) {
    acc_setup(ids.nwg.x);
    if ids.lid == 0u {
        var running = ACC_ZERO;
        for (var c = 0u; c < p.chunks; c++) {
            let sum = chunk_buf[c];
            chunk_buf[c] = running;
            running = acc_combine(running, sum);
        }
    }
}

var<workgroup> scan_acc: array<Acc, 2u * WG_SIZE>;

// The sum of x over the invocations before this one (Hillis–Steele on the shifted values,
// double buffered). Called by the whole workgroup from uniform control flow.
fn exclusive_scan(lid: u32, x: Acc) -> Acc {
    scan_acc[lid] = x;
    workgroupBarrier();
    var shifted = ACC_ZERO;
    if lid > 0u {
        shifted = scan_acc[lid - 1u];
    }
    workgroupBarrier();
    scan_acc[lid] = shifted;
    workgroupBarrier();
    var src = 0u;
    for (var d = 1u; d < WG_SIZE; d *= 2u) {
        var t = scan_acc[src + lid];
        if lid >= d {
            t = acc_combine(scan_acc[src + lid - d], t);
        }
        let dst = WG_SIZE - src;
        scan_acc[dst + lid] = t;
        src = dst;
        workgroupBarrier();
    }
    let out = scan_acc[src + lid];
    workgroupBarrier();
    return out;
}

@compute @workgroup_size(WG_SIZE)
fn apply(ids: Ids) {
    acc_setup(ids.nwg.x);
    let count = p.n + p.m;
    var total = ACC_ZERO;
    for (var c = ids.wid.x; c < p.chunks; c += ids.nwg.x) {
        // This invocation's steps, kept for the walk after the scan (each a weight gathered
        // by position and a quotient: formed once, not twice).
        let first = c * CHUNK + ids.lid * PER;
        var steps: array<Acc, PER>;
        var own = ACC_ZERO;
        for (var q = 0u; q < PER; q++) {
            steps[q] = step_of(first + q);
            own = acc_combine(own, steps[q]);
        }
        var s = acc_combine(chunk_buf[c], exclusive_scan(ids.lid, own));
        var s_prev = acc_value(s);
        for (var q = 0u; q < PER; q++) {
            let e = first + q;
            if e >= count {
                break;
            }
            let st = steps[q];
            s = acc_combine(s, st);
            var s_here = acc_value(s);
            if e + 1u == count {
                s_here = 0.0;
            } else {
                total = acc_add(total, abs(s_here) * (keys[e + 1u] - keys[e]));
            }
            if p.write_grad != 0u {
                // |S_{e-1}| − |S_e| without cancellation: while S keeps its sign the
                // difference is the step itself, exactly.
                var g = abs(s_prev) - abs(s_here);
                if s_prev >= 0.0 && s_here >= 0.0 {
                    g = -acc_value(st);
                } else if s_prev <= 0.0 && s_here <= 0.0 {
                    g = acc_value(st);
                }
                let at = order[e];
                if at < p.n {
                    grad_u[p.gu_at + at] = g;
                } else {
                    grad_v[p.gv_at + at - p.n] = g;
                }
            }
            s_prev = s_here;
        }
    }
    let sum = workgroup_reduce(ids, total);
    if ids.lid == 0u {
        scratch.partials[ids.wid.x] = sum;
    }
}
