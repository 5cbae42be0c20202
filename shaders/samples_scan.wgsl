// wasserstein_1d_samples, stage 3 of 3: with both sets sorted together (radix.wgsl or bitonic.wgsl), each
// sample steps the CDF difference S = F_u − F_v by +w/W_u (a u sample) or −w/W_v (a v sample),
// so S_e after sample e is a prefix sum, and
//   W1 = Σ_e |S_e|·(x_{e+1} − x_e),   d W1 / d x_e = |S_{e−1}| − |S_e|   (S_last = 0).
// The prefix sum is chained over chunks of CHUNK samples: `chunk_sums` gathers each sorted
// sample's weight once (signed: −w for v), keeps it in `steps` beside the keys and sums each
// chunk, `chunk_offsets` (one workgroup) turns the sums into each chunk's starting S, and
// `apply` scans within each chunk from the kept weights, adds the terms into workgroup
// partials for finish.wgsl, and writes the gradient to each sample's own position. Every sum is
// compensated (reduce.wgsl). The host prepends WG_SIZE, PER (samples an invocation owns in a
// chunk), common.wgsl, reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy.

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
    chunk_base: u32,  // scratch.partials[chunk_base + c]: chunk c's sum, then the S before it
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> uw_buf: array<f32>;
@group(0) @binding(2) var<storage, read> vw_buf: array<f32>;
@group(0) @binding(3) var<storage, read> keys: array<f32>;
@group(0) @binding(4) var<storage, read> order: array<u32>;
@group(0) @binding(5) var<storage, read_write> steps: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_u: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_v: array<f32>;
@group(0) @binding(8) var<storage, read_write> scratch: Scratch;

const CHUNK: u32 = WG_SIZE * PER;

// Sample e's weight (in sorted order), negative for a v sample (−0 for a v weight of 0: the
// sign says the set). A weight gathered by position: the one random read per sample, done once.
fn signed_weight(e: u32) -> f32 {
    let at = order[e];
    if at < p.n {
        var w = 1.0;
        if (p.weighted & 1u) != 0u {
            w = uw_buf[p.uw_at + at];
        }
        return abs(w);
    }
    var w = 1.0;
    if (p.weighted & 2u) != 0u {
        w = vw_buf[p.vw_at + at - p.n];
    }
    return -abs(w);
}

// How a sample of signed weight w moves S, as hi + lo.
fn step_of(w: f32) -> Acc {
    if (bitcast<u32>(w) & 0x80000000u) == 0u {
        return quotient(w, Acc(scratch.norms[0], scratch.norms[1]));
    }
    return -quotient(-w, Acc(scratch.norms[2], scratch.norms[3]));
}

@compute @workgroup_size(WG_SIZE)
fn chunk_sums(ids: Ids) {
    acc_setup(ids.nwg.x);
    for (var c = ids.wid.x; c < p.chunks; c += ids.nwg.x) {
        var own = ACC_ZERO;
        let first = c * CHUNK + ids.lid * PER;
        for (var q = 0u; q < PER; q++) {
            let e = first + q;
            if e < p.n + p.m {
                let w = signed_weight(e);
                steps[e] = w;
                own = acc_combine(own, step_of(w));
            }
        }
        let total = workgroup_reduce(ids, own);
        if ids.lid == 0u {
            scratch.partials[p.chunk_base + c] = total;
        }
    }
}

// One workgroup: each chunk's sum becomes the S before it (a few thousand chunks at most).
@compute @workgroup_size(WG_SIZE)
fn chunk_offsets(ids: Ids) {
    acc_setup(ids.nwg.x);
    if ids.lid == 0u {
        var running = ACC_ZERO;
        for (var c = p.chunk_base; c < p.chunk_base + p.chunks; c++) {
            let sum = scratch.partials[c];
            scratch.partials[c] = running;
            running = acc_combine(running, sum);
        }
    }
}

// The exclusive scan's rake: RAKERS invocations each run over RAKE entries (three barriers,
// not Hillis–Steele's two per doubling: barriers are what a CPU driver pays for).
const RAKE: u32 = min(16u, WG_SIZE);
const RAKERS: u32 = (WG_SIZE + RAKE - 1u) / RAKE;

var<workgroup> rake: array<Acc, WG_SIZE>;
var<workgroup> rakers: array<Acc, RAKERS>;

// The sum of x over the invocations before this one. Called by the whole workgroup from
// uniform control flow.
fn exclusive_scan(lid: u32, x: Acc) -> Acc {
    rake[lid] = x;
    workgroupBarrier();
    if lid < RAKERS {
        var run = ACC_ZERO;
        for (var i = lid * RAKE; i < min(lid * RAKE + RAKE, WG_SIZE); i++) {
            let here = rake[i];
            rake[i] = run;
            run = acc_combine(run, here);
        }
        rakers[lid] = run;
    }
    workgroupBarrier();
    var before = ACC_ZERO;
    for (var r = 0u; r < lid / RAKE; r++) {
        before = acc_combine(before, rakers[r]);
    }
    before = acc_combine(before, rake[lid]);
    // The next call's writes must not overtake these reads.
    workgroupBarrier();
    return before;
}

@compute @workgroup_size(WG_SIZE)
fn apply(ids: Ids) {
    acc_setup(ids.nwg.x);
    let count = p.n + p.m;
    var total = ACC_ZERO;
    for (var c = ids.wid.x; c < p.chunks; c += ids.nwg.x) {
        // This invocation's steps, from the weights chunk_sums kept (read in order), held
        // for the walk after the scan.
        let first = c * CHUNK + ids.lid * PER;
        var own_steps: array<Acc, PER>;
        var own = ACC_ZERO;
        for (var q = 0u; q < PER; q++) {
            own_steps[q] = ACC_ZERO;
            if first + q < count {
                own_steps[q] = step_of(steps[first + q]);
            }
            own = acc_combine(own, own_steps[q]);
        }
        let offset = scratch.partials[p.chunk_base + c];
        var s = acc_combine(offset, exclusive_scan(ids.lid, own));
        var s_prev = acc_value(s);
        for (var q = 0u; q < PER; q++) {
            let e = first + q;
            if e >= count {
                break;
            }
            let st = own_steps[q];
            let s_before = s;
            s = acc_combine(s, st);
            var s_here = acc_value(s);
            if e + 1u == count {
                s_here = 0.0;
            } else {
                total = acc_add(total, abs(s_here) * (keys[e + 1u] - keys[e]));
            }
            if p.write_grad != 0u {
                // |S_{e-1}| − |S_e| without cancellation: while S keeps its sign the
                // difference is the step itself, exactly; where it changes sign it is
                // ±(S_{e-1} + S_e), summed at twice f32's precision (in f32 the two CDF
                // differences near ±1/2 cancel: a lone v sample's gradient 2a/n − 1).
                var g = abs(s_prev) - abs(s_here);
                if s_prev >= 0.0 && s_here >= 0.0 {
                    g = -acc_value(st);
                } else if s_prev <= 0.0 && s_here <= 0.0 {
                    g = acc_value(st);
                } else {
                    g = sign(s_prev) * acc_value(acc_combine(s_before, s));
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
