// wasserstein_1d (LOSSES.md section D): rows u, v [N, C] of non-negative weights on one grid of
// spacing dx, each normalised to sum 1; W1 = dx·Σ_c |U_c − V_c| with U, V the cumulative sums.
//
// A row belongs to a group of seg.lanes invocations (WG_SIZE / lanes rows a workgroup, row
// groups grid-strided), each lane a contiguous span of it walked serially: a scan is a serial
// sum per lane, one scan across the group's lanes (log2(lanes) barriers), then a serial walk
// from the lane's start (reduce-then-scan, so the work is O(C), not O(C log C)):
//   sweep 1: S_u = Σ u, S_v = Σ v (and the checks: negative, NaN, zero mass), and the
//            sums before each lane, whose quotients by S start its U and D;
//   sweep 2: the scan of (u/S_u, u/S_u − v/S_v) gives U_c and D_c = U_c − V_c:
//            L = Σ |D_c|, T = Σ s_c, A = Σ s_c·U_c (s = sign D);
// The masses, the steps u/S_u and v/S_v (u times 1/S_u, both to twice f32) and every scan carry
// twice f32's precision (Acc): D_c is a small difference of two CDFs near 1, and its sign
// picks the gradient, so it must agree with float64's wherever D_c is above rounding.
//   sweep 3 (gradient): the prefix of s (kept per bin in grad_u by sweep 2) gives
//            Σ_{c≥k} s_c = T − P_{k−1}, and
//            d W/d u_k = dx/S_u·(Σ_{c≥k} s_c − A), d W/d v_k = −dx/S_v·(Σ_{c≥k} s_c − B),
//            B = Σ s_c·V_c = A − L.
// With KEEP_ROW (CPU drivers, whose storage accesses go lane by lane and cost more than the
// arithmetic: a third off the call on lavapipe), sweep 1 keeps each lane's span of u and v in
// private memory (KEEP vec4s, the host's bound on a span) and sweep 2 keeps its counts there,
// so only sweep 1 reads storage and only sweep 3 writes it.
// Every barrier is reached by the whole workgroup: the loops around them depend on the
// workgroup and the uniform only. The host prepends WG_SIZE, WRITE_OUT, WRITE_GRAD, KEEP_ROW,
// KEEP, common.wgsl, reduce.wgsl, scratch.wgsl, one tree strategy.

struct Segment {
    rows: u32,
    first_row: u32,
    classes: u32,
    u_at: u32,
    v_at: u32,
    out_at: u32,
    gu_at: u32,
    gv_at: u32,
    partial_at: u32,
    scale: f32,      // 1/N for mean, 1 otherwise
    dx: f32,
    lanes: u32,      // invocations a row: a power of two dividing WG_SIZE
    vec4_loads: u32, // rows and u_at, v_at, gu_at, gv_at are whole vec4s: u4 .. gv4 serve
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> seg_uniform: Segment;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: Segment;
@group(0) @binding(1) var<storage, read> u_buf: array<f32>;
@group(0) @binding(2) var<storage, read> v_buf: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_u: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_v: array<f32>;
@group(0) @binding(6) var<storage, read_write> scratch: Scratch;
// u, v and the gradients again, four bins an access (CPU drivers load and store storage lane
// by lane, 16 bytes about as cheaply as 4).
@group(0) @binding(7) var<storage, read> u4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> v4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> gu4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> gv4: array<vec4<f32>>;

// Bins i .. i + 3 of a row from its first element `at`, those from `hi` on as 0.
fn load4(at: u32, i: u32, hi: u32, from_u: bool) -> vec4<f32> {
    if seg.vec4_loads != 0u {
        if from_u {
            return u4[(at + i) / 4u];
        }
        return v4[(at + i) / 4u];
    }
    var x = vec4<f32>(0.0);
    for (var r = 0u; r < 4u; r++) {
        if i + r < hi {
            if from_u {
                x[r] = u_buf[at + i + r];
            } else {
                x[r] = v_buf[at + i + r];
            }
        }
    }
    return x;
}

// Bins i .. i + 3 of a gradient row from `at`, those from `hi` on left alone.
fn store4(at: u32, i: u32, hi: u32, x: vec4<f32>, to_u: bool) {
    if seg.vec4_loads != 0u {
        if to_u {
            gu4[(at + i) / 4u] = x;
        } else {
            gv4[(at + i) / 4u] = x;
        }
        return;
    }
    for (var r = 0u; r < 4u; r++) {
        if i + r < hi {
            if to_u {
                grad_u[at + i + r] = x[r];
            } else {
                grad_v[at + i + r] = x[r];
            }
        }
    }
}

// One scan buffer for every scan: two Accs (or two plain values) per invocation.
var<workgroup> scan_buf: array<vec4<f32>, 2u * WG_SIZE>;

// Two Accs side by side: (x.xy, x.zw).
fn pair_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return vec4(acc_combine(a.xy, b.xy), acc_combine(a.zw, b.zw));
}

// Scan of two Accs per lane across each row's lanes (Hillis–Steele, double buffered: one
// barrier per step). Returns (the sum over the lanes before this one, the row's total).
fn scan_pair(lid: u32, x: vec4<f32>) -> array<vec4<f32>, 2> {
    let li = lid % seg.lanes;
    var src = 0u;
    scan_buf[lid] = x;
    workgroupBarrier();
    for (var step = 1u; step < seg.lanes; step *= 2u) {
        var v = scan_buf[src + lid];
        if li >= step {
            v = pair_combine(scan_buf[src + lid - step], v);
        }
        let dst = WG_SIZE - src;
        scan_buf[dst + lid] = v;
        src = dst;
        workgroupBarrier();
    }
    var before = vec4<f32>(0.0);
    if li > 0u {
        before = scan_buf[src + lid - 1u];
    }
    let out = array<vec4<f32>, 2>(before, scan_buf[src + lid - li + seg.lanes - 1u]);
    workgroupBarrier();
    return out;
}

// sign(D), 0 within the scan's rounding of 0: where both CDFs have reached 1 (empty trailing
// bins) D is 0 in exact arithmetic, and its rounding must not pick a subgradient at random.
// The scans keep about 2^-47 of the CDFs (≤ 1) per combine they pass through.
fn tie_sign(d: f32, levels: u32) -> f32 {
    let tol = 5.684342e-14 * f32(levels);
    return select(sign(d), 0.0, abs(d) <= tol);
}

fn flag(slot: u32, index: u32) {
    atomicMax(&scratch.status[slot], ~index);
}

// A mass that is NaN or negative.
fn bad_mass(m: vec4<f32>) -> vec4<bool> {
    let nan = (bitcast<vec4<u32>>(m) & vec4(0x7fffffffu)) > vec4(0x7f800000u);
    return nan | (m < vec4(0.0));
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    seg = seg_uniform;
    acc_setup(ids.nwg.x);
    let lid = ids.lid;
    let c = seg.classes;
    let lanes = seg.lanes;
    let per_group = WG_SIZE / lanes;
    let li = lid % lanes;
    // Whole vec4s a lane when they can be loaded so.
    var span = (c + lanes - 1u) / lanes;
    if seg.vec4_loads != 0u {
        span = (span + 3u) & ~3u;
    }
    let lo = min(li * span, c);
    let levels = countTrailingZeros(lanes) + span + 4u;
    var acc = ACC_ZERO;
    // With KEEP_ROW, each lane's span of u and v and sweep 2's counts, for the next sweep.
    var kept_u: array<vec4<f32>, KEEP>;
    var kept_v: array<vec4<f32>, KEEP>;
    var kept_b: array<vec4<f32>, KEEP>;
    for (var base = ids.wid.x * per_group; base < seg.rows; base += ids.nwg.x * per_group) {
        let row = base + lid / lanes;
        // A row past the end walks nothing but still meets every barrier.
        var hi = min(lo + span, c);
        if row >= seg.rows {
            hi = lo;
        }
        let u_row = seg.u_at + row * c;
        let v_row = seg.v_at + row * c;
        let global_row = seg.first_row + row;

        // Sweep 1: the masses (S_u, S_v as Accs) and the mass before each lane's span; the
        // checks.
        var own = vec4<f32>(0.0);
        // No branch an element (CPU drivers run one whether it is taken or not): a bad mass
        // sets a flag, and the rare path reads the span again to find where.
        var suspicious = false;
        for (var i4 = lo; i4 < hi; i4 += 4u) {
            let u = load4(u_row, i4, hi, true);
            let v = load4(v_row, i4, hi, false);
            if KEEP_ROW {
                kept_u[(i4 - lo) / 4u] = u;
                kept_v[(i4 - lo) / 4u] = v;
            }
            suspicious = suspicious | any(bad_mass(u) | bad_mass(v));
            for (var r = 0u; r < 4u; r++) {
                own = vec4(acc_add(own.xy, u[r]), acc_add(own.zw, v[r]));
            }
        }
        if suspicious {
            for (var i4 = lo; i4 < hi; i4 += 4u) {
                let u = bad_mass(load4(u_row, i4, hi, true));
                let v = bad_mass(load4(v_row, i4, hi, false));
                for (var r = 0u; r < 4u; r++) {
                    let e = global_row * c + i4 + r;
                    if u[r] {
                        flag(STATUS_INPUT_DOMAIN, e);
                    }
                    if v[r] {
                        flag(STATUS_AUX_DOMAIN, e);
                    }
                }
            }
        }
        let masses = scan_pair(lid, own);
        let mass = masses[1];
        let mass_u = acc_value(mass.xy);
        let mass_v = acc_value(mass.zw);
        if li == 0u && row < seg.rows && !(mass_u > 0.0 && mass_v > 0.0) {
            flag(STATUS_TARGET_DOMAIN, global_row);
        }

        // Sweep 2: U_c and D_c from each lane's start; L and A (as Accs) and T. With the
        // gradient, each bin's count of positive-minus-negative signs before it in its lane
        // waits in grad_u (or kept_b) for sweep 3 (an integer: exact in f32).
        let inv_u = reciprocal(mass.xy);
        let inv_v = reciprocal(mass.zw);
        let u_start = acc_scaled(masses[0].xy, inv_u);
        let d_start = acc_combine(u_start, -acc_scaled(masses[0].zw, inv_v));
        var run = vec4(u_start, d_start);
        var la = vec4<f32>(0.0); // (L, A)
        var t = 0.0;
        for (var i4 = lo; i4 < hi; i4 += 4u) {
            var u: vec4<f32>;
            var v: vec4<f32>;
            if KEEP_ROW {
                u = kept_u[(i4 - lo) / 4u];
                v = kept_v[(i4 - lo) / 4u];
            } else {
                u = load4(u_row, i4, hi, true);
                v = load4(v_row, i4, hi, false);
            }
            var before = vec4<f32>(0.0);
            // A fixed count without an exit, so that compilers unroll it and index u, v
            // statically. Bins from hi on load as 0, which leaves the scan as it is (adding an
            // exact 0), and count for nothing.
            for (var r = 0u; r < 4u; r++) {
                let live = select(0.0, 1.0, i4 + r < hi);
                let qu = scaled(u[r], inv_u);
                let qv = scaled(v[r], inv_v);
                run = pair_combine(run, vec4(qu, acc_combine(qu, -qv)));
                let d = acc_value(run.zw);
                let sg = tie_sign(d, levels) * live;
                la = vec4(acc_add(la.xy, abs(d) * live), acc_add(la.zw, sg * acc_value(run.xy)));
                before[r] = t;
                t += sg;
            }
            if WRITE_GRAD {
                if KEEP_ROW {
                    kept_b[(i4 - lo) / 4u] = before;
                } else {
                    store4(seg.gu_at + row * c, i4, hi, before, true);
                }
            }
        }
        // Fold the lanes' sums; T's prefix at each lane's start.
        let la_total = scan_pair(lid, la)[1];
        let l_total = acc_value(la_total.xy);
        let a_total = acc_value(la_total.zw);
        let ts = scan_pair(lid, vec4(t, 0.0, 0.0, 0.0));
        let t_total = acc_value(ts[1].xy);
        let loss = seg.dx * l_total;
        if li == 0u && row < seg.rows {
            acc = acc_add(acc, loss * seg.scale);
            if WRITE_OUT {
                out_buf[seg.out_at + row] = loss;
            }
        }

        // Sweep 3: the gradient from the suffix sums of s, Σ_{c≥k} s_c = T − P_{k−1}.
        if WRITE_GRAD {
            let b_total = a_total - l_total;
            let k_scale = seg.dx * seg.scale;
            let t_before = acc_value(ts[0].xy);
            for (var i4 = lo; i4 < hi; i4 += 4u) {
                let at = seg.gu_at + row * c;
                var before = vec4<f32>(0.0);
                if KEEP_ROW {
                    before = kept_b[(i4 - lo) / 4u];
                } else if seg.vec4_loads != 0u {
                    before = gu4[(at + i4) / 4u];
                } else {
                    for (var r = 0u; r < 4u; r++) {
                        if i4 + r < hi {
                            before[r] = grad_u[at + i4 + r];
                        }
                    }
                }
                let suffix = t_total - (t_before + before);
                store4(at, i4, hi, k_scale / mass_u * (suffix - a_total), true);
                store4(seg.gv_at + row * c, i4, hi, -k_scale / mass_v * (suffix - b_total), false);
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
