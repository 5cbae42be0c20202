// wasserstein_1d (LOSSES.md section D): rows u, v [N, C] of non-negative weights on one grid of
// spacing dx, each normalised to sum 1; W1 = dx·Σ_c |U_c − V_c| with U, V the cumulative sums.
//
// One workgroup per row (rows grid-strided over workgroups), the row walked in chunks of
// WG_SIZE with a workgroup scan per chunk, the running total carried between chunks:
//   sweep 1: S_u = Σ u, S_v = Σ v (and the checks: negative, NaN, zero mass);
//   sweep 2: the scan of (u/S_u, u/S_u − v/S_v) gives U_c and D_c = U_c − V_c:
//            L = Σ |D_c|, T = Σ s_c, A = Σ s_c·U_c (s = sign D);
// The masses, the steps u/S_u and v/S_v (reduce.wgsl's `quotient`) and every scan carry
// twice f32's precision (Acc): D_c is a small difference of two CDFs near 1, and its sign
// picks the gradient, so it must agree with float64's wherever D_c is above rounding.
//   sweep 3 (gradient): D_c again and the scan of s give Σ_{c≥k} s_c = T − P_{k−1}, and
//            d W/d u_k = dx/S_u·(Σ_{c≥k} s_c − A), d W/d v_k = −dx/S_v·(Σ_{c≥k} s_c − B),
//            B = Σ s_c·V_c = A − L.
// Every barrier is reached by the whole workgroup: the row and chunk loops depend on the
// workgroup only. The host prepends WG_SIZE, WRITE_OUT, WRITE_GRAD, common.wgsl, reduce.wgsl,
// scratch.wgsl, one tree strategy.

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
    _pad: u32,
}

@group(0) @binding(0) var<uniform> seg: Segment;
@group(0) @binding(1) var<storage, read> u_buf: array<f32>;
@group(0) @binding(2) var<storage, read> v_buf: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_u: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_v: array<f32>;
@group(0) @binding(6) var<storage, read_write> scratch: Scratch;

// One scan buffer for every scan: two Accs (or two plain values) per invocation.
var<workgroup> scan_buf: array<vec4<f32>, 2u * WG_SIZE>;

// Two Accs side by side: (x.xy, x.zw).
fn pair_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return vec4(acc_combine(a.xy, b.xy), acc_combine(a.zw, b.zw));
}

// Inclusive scan of two Accs per invocation across the workgroup (Hillis–Steele, double
// buffered: one barrier per step). Returns (this invocation's prefix, the chunk's total).
fn scan_pair(lid: u32, x: vec4<f32>) -> array<vec4<f32>, 2> {
    var src = 0u;
    scan_buf[lid] = x;
    workgroupBarrier();
    for (var step = 1u; step < WG_SIZE; step *= 2u) {
        var v = scan_buf[src + lid];
        if lid >= step {
            v = pair_combine(scan_buf[src + lid - step], v);
        }
        let dst = WG_SIZE - src;
        scan_buf[dst + lid] = v;
        src = dst;
        workgroupBarrier();
    }
    let out = array<vec4<f32>, 2>(scan_buf[src + lid], scan_buf[src + WG_SIZE - 1u]);
    workgroupBarrier();
    return out;
}

// The chunk's total of one plain value per invocation (sign counts: exact in f32).
fn total_of(lid: u32, x: f32) -> f32 {
    return acc_value(scan_pair(lid, vec4(x, 0.0, 0.0, 0.0))[1].xy);
}

// One plain value's inclusive prefix across the workgroup.
fn prefix_of(lid: u32, x: f32) -> array<f32, 2> {
    let s = scan_pair(lid, vec4(x, 0.0, 0.0, 0.0));
    return array<f32, 2>(acc_value(s[0].xy), acc_value(s[1].xy));
}

// sign(D), 0 within the scan's rounding of 0: where both CDFs have reached 1 (empty trailing
// bins) D is 0 in exact arithmetic, and its rounding must not pick a subgradient at random.
// The scans keep about 2^-47 of the CDFs (≤ 1) per level they pass through.
fn tie_sign(d: f32, chunks: u32) -> f32 {
    let tol = 5.684342e-14 * f32(countTrailingZeros(WG_SIZE) + chunks);
    return select(sign(d), 0.0, abs(d) <= tol);
}

fn flag(slot: u32, index: u32) {
    atomicMax(&scratch.status[slot], ~index);
}

// D_c's step at bin i of the row: u_i/S_u − v_i/S_v, as an Acc.
fn step_d(u: f32, v: f32, mass: vec4<f32>) -> Acc {
    return acc_combine(quotient(u, mass.xy), -quotient(v, mass.zw));
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    acc_setup(ids.nwg.x);
    let lid = ids.lid;
    let c = seg.classes;
    let chunks = (c + WG_SIZE - 1u) / WG_SIZE;
    var acc = ACC_ZERO;
    for (var row = ids.wid.x; row < seg.rows; row += ids.nwg.x) {
        let u_row = seg.u_at + row * c;
        let v_row = seg.v_at + row * c;
        let global_row = seg.first_row + row;

        // Sweep 1: the masses (S_u, S_v as Accs), and the checks.
        var mass = vec4<f32>(0.0);
        for (var k = 0u; k < chunks; k++) {
            let i = k * WG_SIZE + lid;
            var x = vec4<f32>(0.0);
            if i < c {
                x = vec4(u_buf[u_row + i], 0.0, v_buf[v_row + i], 0.0);
                let e = global_row * c + i;
                if is_nan_f(x.x) || x.x < 0.0 {
                    flag(STATUS_INPUT_DOMAIN, e);
                }
                if is_nan_f(x.z) || x.z < 0.0 {
                    flag(STATUS_AUX_DOMAIN, e);
                }
            }
            mass = pair_combine(mass, scan_pair(lid, x)[1]);
        }
        let mass_u = acc_value(mass.xy);
        let mass_v = acc_value(mass.zw);
        if lid == 0u && !(mass_u > 0.0 && mass_v > 0.0) {
            flag(STATUS_TARGET_DOMAIN, global_row);
        }

        // Sweep 2: U_c and D_c by scan; L and A (as Accs) and T.
        var carry = vec4<f32>(0.0);
        var la = vec4<f32>(0.0); // (L, A)
        var t = 0.0;
        for (var k = 0u; k < chunks; k++) {
            let i = k * WG_SIZE + lid;
            var x = vec4<f32>(0.0);
            if i < c {
                let u = u_buf[u_row + i];
                let v = v_buf[v_row + i];
                x = vec4(quotient(u, mass.xy), step_d(u, v, mass));
            }
            let s = scan_pair(lid, x);
            let prefix = pair_combine(carry, s[0]);
            carry = pair_combine(carry, s[1]);
            if i < c {
                let d = acc_value(prefix.zw);
                let sg = tie_sign(d, chunks);
                la = vec4(acc_add(la.xy, abs(d)), acc_add(la.zw, sg * acc_value(prefix.xy)));
                t += sg;
            }
        }
        // Fold the invocations' sums.
        let la_total = scan_pair(lid, la)[1];
        let l_total = acc_value(la_total.xy);
        let a_total = acc_value(la_total.zw);
        let t_total = total_of(lid, t);
        let loss = seg.dx * l_total;
        if lid == 0u {
            acc = acc_add(acc, loss * seg.scale);
            if WRITE_OUT {
                out_buf[seg.out_at + row] = loss;
            }
        }

        // Sweep 3: the gradient from the suffix sums of s.
        if WRITE_GRAD {
            let b_total = a_total - l_total;
            var carry_d = ACC_ZERO;
            var carry_p = 0.0;
            for (var k = 0u; k < chunks; k++) {
                let i = k * WG_SIZE + lid;
                var d = ACC_ZERO;
                if i < c {
                    d = step_d(u_buf[u_row + i], v_buf[v_row + i], mass);
                }
                let sd = scan_pair(lid, vec4(d, 0.0, 0.0));
                let big_d = acc_value(acc_combine(carry_d, sd[0].xy));
                carry_d = acc_combine(carry_d, sd[1].xy);
                var sg = 0.0;
                if i < c {
                    sg = tie_sign(big_d, chunks);
                }
                let sp = prefix_of(lid, sg);
                let p_before = carry_p + sp[0] - sg;
                carry_p += sp[1];
                if i < c {
                    let suffix = t_total - p_before;
                    let k_scale = seg.dx * seg.scale;
                    grad_u[seg.gu_at + row * c + i] = k_scale / mass_u * (suffix - a_total);
                    grad_v[seg.gv_at + row * c + i] = -k_scale / mass_v * (suffix - b_total);
                }
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
