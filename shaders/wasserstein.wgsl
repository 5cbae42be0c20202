// wasserstein_1d (LOSSES.md section D): rows u, v [N, C] of non-negative weights on one grid of
// spacing dx, each normalised to sum 1; W1 = dx·Σ_c |U_c − V_c| with U, V the cumulative sums.
//
// One workgroup per row (rows grid-strided over workgroups), the row walked in chunks of
// WG_SIZE with a workgroup scan per chunk, the running total carried between chunks:
//   sweep 1: S_u = Σ u, S_v = Σ v (and the checks: negative, NaN, zero mass);
//   sweep 2: the scan of (u/S_u, u/S_u − v/S_v) gives U_c and D_c = U_c − V_c:
//            L = Σ |D_c|, T = Σ s_c, A = Σ s_c·U_c (s = sign D);
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

var<workgroup> scan_buf: array<vec2<f32>, 2u * WG_SIZE>;

// Inclusive scan of one vec2 per invocation across the workgroup (Hillis–Steele, double
// buffered: one barrier per step). Returns (this invocation's prefix, the chunk's total).
fn scan2(lid: u32, x: vec2<f32>) -> array<vec2<f32>, 2> {
    var src = 0u;
    scan_buf[lid] = x;
    workgroupBarrier();
    for (var step = 1u; step < WG_SIZE; step *= 2u) {
        var v = scan_buf[src + lid];
        if lid >= step {
            v += scan_buf[src + lid - step];
        }
        let dst = WG_SIZE - src;
        scan_buf[dst + lid] = v;
        src = dst;
        workgroupBarrier();
    }
    let out = array<vec2<f32>, 2>(scan_buf[src + lid], scan_buf[src + WG_SIZE - 1u]);
    workgroupBarrier();
    return out;
}

// sign(D), 0 within the scan's rounding of 0: where both CDFs have reached 1 (empty trailing
// bins) D is 0 in exact arithmetic, and its rounding must not pick a subgradient at random.
fn tie_sign(d: f32, chunks: u32) -> f32 {
    let tol = 4.0 * 1.1920929e-7 * f32(countTrailingZeros(WG_SIZE) + chunks);
    return select(sign(d), 0.0, abs(d) <= tol);
}

fn flag(slot: u32, index: u32) {
    atomicMax(&scratch.status[slot], ~index);
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

        // Sweep 1: the masses, and the checks.
        var mass = vec2<f32>(0.0);
        for (var k = 0u; k < chunks; k++) {
            let i = k * WG_SIZE + lid;
            var x = vec2<f32>(0.0);
            if i < c {
                x = vec2(u_buf[u_row + i], v_buf[v_row + i]);
                let e = global_row * c + i;
                if is_nan_f(x.x) || x.x < 0.0 {
                    flag(STATUS_INPUT_DOMAIN, e);
                }
                if is_nan_f(x.y) || x.y < 0.0 {
                    flag(STATUS_AUX_DOMAIN, e);
                }
            }
            mass += scan2(lid, x)[1];
        }
        if lid == 0u && !(mass.x > 0.0 && mass.y > 0.0) {
            flag(STATUS_TARGET_DOMAIN, global_row);
        }

        // Sweep 2: U_c and D_c by scan; L, T, A.
        var carry = vec2<f32>(0.0);
        var sums = vec3<f32>(0.0); // L, T, A
        for (var k = 0u; k < chunks; k++) {
            let i = k * WG_SIZE + lid;
            var x = vec2<f32>(0.0);
            if i < c {
                let q = u_buf[u_row + i] / mass.x;
                x = vec2(q, q - v_buf[v_row + i] / mass.y);
            }
            let s = scan2(lid, x);
            let prefix = carry + s[0];
            carry += s[1];
            if i < c {
                let sg = tie_sign(prefix.y, chunks);
                sums += vec3(abs(prefix.y), sg, sg * prefix.x);
            }
        }
        // Fold the invocations' sums (three scans' totals).
        let l_total = scan2(lid, vec2(sums.x, sums.y))[1];
        let a_total = scan2(lid, vec2(sums.z, 0.0))[1].x;
        let loss = seg.dx * l_total.x;
        if lid == 0u {
            acc = acc_add(acc, loss * seg.scale);
            if WRITE_OUT {
                out_buf[seg.out_at + row] = loss;
            }
        }

        // Sweep 3: the gradient from the suffix sums of s.
        if WRITE_GRAD {
            let t_total = l_total.y;
            let b_total = a_total - l_total.x;
            var carry3 = vec2<f32>(0.0); // (D, P)
            for (var k = 0u; k < chunks; k++) {
                let i = k * WG_SIZE + lid;
                var d = 0.0;
                if i < c {
                    d = u_buf[u_row + i] / mass.x - v_buf[v_row + i] / mass.y;
                }
                let sd = scan2(lid, vec2(d, 0.0));
                let big_d = carry3.x + sd[0].x;
                carry3.x += sd[1].x;
                var sg = 0.0;
                if i < c {
                    sg = tie_sign(big_d, chunks);
                }
                let sp = scan2(lid, vec2(sg, 0.0));
                let p_before = carry3.y + sp[0].x - sg;
                carry3.y += sp[1].x;
                if i < c {
                    let suffix = t_total - p_before;
                    let k_scale = seg.dx * seg.scale;
                    grad_u[seg.gu_at + row * c + i] = k_scale / mass.x * (suffix - a_total);
                    grad_v[seg.gv_at + row * c + i] = -k_scale / mass.y * (suffix - b_total);
                }
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
