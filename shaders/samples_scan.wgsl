// wasserstein_1d_samples, stage 3 of 3: with both sets sorted together (radix.wgsl or
// bitonic.wgsl), each sample steps the CDF difference S = F_u − F_v by +w/W_u (a u sample) or
// −w/W_v (a v sample), so S_e after sample e is a prefix sum, and
//   W1 = Σ_e |S_e|·(x_{e+1} − x_e),   d W1 / d x_e = |S_{e−1}| − |S_e|   (S_last = 0).
// The prefix sum is chained over chunks of CHUNK samples: `chunk_sums` gathers each sorted
// sample's weight once (signed: −w for v), keeps it in `steps` beside the keys and sums each
// chunk's u and v weights, `chunk_offsets` (one workgroup) turns the sums into each chunk's
// starting S, and `apply` scans within each chunk from the kept weights, adds the terms into
// workgroup partials for finish.wgsl, and writes the gradient to each sample's own position.
// Every sum is compensated (reduce.wgsl); a step w/W is w times 1/W, both to twice f32's
// precision (a product costs a CPU driver far less than a quotient). The host prepends
// WG_SIZE, PER (samples an invocation owns in a chunk), common.wgsl, reduce.wgsl,
// scratch.wgsl, walk.wgsl, one tree strategy.

struct Params {
    n: u32,
    m: u32,
    weighted: u32,  // not 0: either set is weighted (signed_weights holds both)
    gu_at: u32,
    gv_at: u32,
    chunks: u32,
    write_grad: u32,
    // scratch.partials[chunk_base + 2c (+ 1)]: chunk c's u (v) weight, then the S before it.
    chunk_base: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
}

@group(0) @binding(0) var<uniform> p_uniform: Params;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> p: Params;
// Both sets' weights by position, signed (samples_prep.wgsl), when either set is weighted.
@group(0) @binding(1) var<storage, read> signed_weights: array<f32>;
// Read and written four at a time (CPU drivers load storage lane by lane: one 16-byte access
// costs about what a 4-byte one does); each holds whole vec4s, and an invocation's PER samples
// start on one.
@group(0) @binding(2) var<storage, read> keys: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> order: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> steps: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> grad_u: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_v: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: Scratch;

const CHUNK: u32 = WG_SIZE * PER;

// The weight of the sample at position `at`, negative for a v sample (−0 for a v weight of 0:
// the sign says the set). A weight gathered by position: the one random read per sample, done
// once, from one array (no branch on the set around it).
fn signed_weight(at: u32) -> f32 {
    if p.weighted != 0u {
        return signed_weights[at];
    }
    return select(-1.0, 1.0, at < p.n);
}

// 1/W_u and 1/W_v, as totals' formed them.
fn reciprocals() -> vec4<f32> {
    let su = reciprocal(Acc(scratch.norms[0], scratch.norms[1]));
    let sv = reciprocal(Acc(scratch.norms[2], scratch.norms[3]));
    return vec4<f32>(su, sv);
}

// The set of a signed weight: its sign bit (−0 for a v sample of weight 0).
fn in_v(w: f32) -> bool {
    return (bitcast<u32>(w) & 0x80000000u) != 0u;
}

// How a sample of signed weight w moves S, as hi + lo (inv: reciprocals()).
fn step_of(w: f32, inv: vec4<f32>) -> Acc {
    let v = in_v(w);
    let st = scaled(abs(w), select(inv.xy, inv.zw, v));
    return select(st, -st, v);
}

// The S a chunk of u weight su and v weight sv moves by.
fn moved(su: Acc, sv: Acc, inv: vec4<f32>) -> Acc {
    return acc_combine(acc_scaled(su, inv.xy), -acc_scaled(sv, inv.zw));
}

// Adds signed weight w to its set's sum: .xy u, .zw v.
fn add_weight(sums: vec4<f32>, w: f32) -> vec4<f32> {
    let v = in_v(w);
    return vec4<f32>(acc_add(sums.xy, select(w, 0.0, v)), acc_add(sums.zw, select(0.0, -w, v)));
}

@compute @workgroup_size(WG_SIZE)
fn chunk_sums(ids: Ids) {
    p = p_uniform;
    acc_setup(ids.nwg.x);
    let count = p.n + p.m;
    for (var c = ids.wid.x; c < p.chunks; c += ids.nwg.x) {
        var own = vec4<f32>(0.0);
        let first = c * CHUNK + ids.lid * PER;
        for (var q = 0u; q < PER; q += 4u) {
            let e = first + q;
            if e < count {
                let at = order[e / 4u];
                var w = vec4<f32>(0.0);
                for (var r = 0u; r < 4u; r++) {
                    if e + r < count {
                        w[r] = signed_weight(at[r]);
                        own = add_weight(own, w[r]);
                    }
                }
                steps[e / 4u] = w;
            }
        }
        let su = workgroup_reduce(ids, own.xy);
        let sv = workgroup_reduce(ids, own.zw);
        if ids.lid == 0u {
            scratch.partials[p.chunk_base + 2u * c] = su;
            scratch.partials[p.chunk_base + 2u * c + 1u] = sv;
        }
    }
}

// One workgroup: each chunk's sums become the S before it (a few thousand chunks at most).
// Each chunk's move is formed from its own sums before the chain adds them: a prefix of
// whole sets' weights, scaled, would leave S the difference of two numbers near 1/2.
@compute @workgroup_size(WG_SIZE)
fn chunk_offsets(ids: Ids) {
    p = p_uniform;
    acc_setup(ids.nwg.x);
    if ids.lid == 0u {
        let inv = reciprocals();
        var running = ACC_ZERO;
        for (var c = 0u; c < p.chunks; c++) {
            let at = p.chunk_base + 2u * c;
            let chunk = moved(scratch.partials[at], scratch.partials[at + 1u], inv);
            scratch.partials[at] = running;
            running = acc_combine(running, chunk);
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
    p = p_uniform;
    acc_setup(ids.nwg.x);
    let count = p.n + p.m;
    let inv = reciprocals();
    var total = ACC_ZERO;
    for (var c = ids.wid.x; c < p.chunks; c += ids.nwg.x) {
        // This invocation's weights, as chunk_sums kept them (read in order): summed for
        // the scan, then walked.
        let first = c * CHUNK + ids.lid * PER;
        var own = vec4<f32>(0.0);
        for (var q = 0u; q < PER; q += 4u) {
            if first + q < count {
                let w = steps[(first + q) / 4u];
                for (var r = 0u; r < 4u; r++) {
                    if first + q + r < count {
                        own = add_weight(own, w[r]);
                    }
                }
            }
        }
        let offset = scratch.partials[p.chunk_base + 2u * c];
        var s = acc_combine(offset, exclusive_scan(ids.lid, moved(own.xy, own.zw, inv)));
        var s_prev = acc_value(s);
        // Sample e's key and the next one's: this vec4 of keys, and the next vec4's first.
        var x_next = vec4<f32>(0.0);
        if first < count {
            x_next = keys[first / 4u];
        }
        for (var q = 0u; q < PER; q += 4u) {
            let e4 = first + q;
            if e4 >= count {
                break;
            }
            let x = x_next;
            let w = steps[e4 / 4u];
            if e4 + 4u < count {
                x_next = keys[e4 / 4u + 1u];
            }
            var at = vec4<u32>(0u);
            if p.write_grad != 0u {
                at = order[e4 / 4u];
            }
            for (var r = 0u; r < 4u; r++) {
                let e = e4 + r;
                if e < count {
                    let st = step_of(w[r], inv);
                    let s_before = s;
                    s = acc_combine(s, st);
                    var s_here = acc_value(s);
                    if e + 1u == count {
                        s_here = 0.0;
                    } else {
                        let after = select(x_next.x, x[min(r + 1u, 3u)], r < 3u);
                        total = acc_add(total, abs(s_here) * (after - x[r]));
                    }
                    if p.write_grad != 0u {
                        // |S_{e-1}| − |S_e| without cancellation: while S keeps its sign
                        // the difference is the step itself, exactly; where it changes sign
                        // it is ±(S_{e-1} + S_e), summed at twice f32's precision (in f32 the
                        // two CDF differences near ±1/2 cancel: a lone v sample's gradient
                        // 2a/n − 1).
                        var g = abs(s_prev) - abs(s_here);
                        if s_prev >= 0.0 && s_here >= 0.0 {
                            g = -acc_value(st);
                        } else if s_prev <= 0.0 && s_here <= 0.0 {
                            g = acc_value(st);
                        } else {
                            g = sign(s_prev) * acc_value(acc_combine(s_before, s));
                        }
                        if at[r] < p.n {
                            grad_u[p.gu_at + at[r]] = g;
                        } else {
                            grad_v[p.gv_at + at[r] - p.n] = g;
                        }
                    }
                    s_prev = s_here;
                }
            }
        }
    }
    let sum = workgroup_reduce(ids, total);
    if ids.lid == 0u {
        scratch.partials[ids.wid.x] = sum;
    }
}
