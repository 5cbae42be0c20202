// wasserstein_1d_samples, stage 1 of 3 (LOSSES.md section D; stages 2 and 3 are the sort,
// radix.wgsl or bitonic.wgsl, and samples_scan.wgsl). `keys_from_samples` lays both sets out as
// one array of (value, position) to sort: u's samples at positions 0..n, v's at n..n+m, then
// +inf padding; it checks every sample and weight and sums the weights per workgroup, which
// `totals` (one workgroup) folds into scratch.norms[0..4] (hi, lo each). The host prepends
// WG_SIZE, common.wgsl, reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy.

struct Params {
    n: u32,
    m: u32,
    padded: u32,
    weighted: u32,  // bit 0: u_weights given; bit 1: v_weights given
    u_at: u32,
    v_at: u32,
    uw_at: u32,
    vw_at: u32,
    groups: u32,    // keys_from_samples' workgroups
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p_uniform: Params;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> p: Params;
@group(0) @binding(1) var<storage, read> u_buf: array<f32>;
@group(0) @binding(2) var<storage, read> v_buf: array<f32>;
@group(0) @binding(3) var<storage, read> uw_buf: array<f32>;
@group(0) @binding(4) var<storage, read> vw_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> keys: array<f32>;
@group(0) @binding(6) var<storage, read_write> order: array<u32>;
@group(0) @binding(7) var<storage, read_write> scratch: Scratch;
// Both sets' weights by position, v's negated (−0 for 0: the sign says the set), when either
// set is weighted: samples_scan.wgsl gathers them in sorted order from one array.
@group(0) @binding(8) var<storage, read_write> signed_weights: array<f32>;

// Status slots as src/call.rs names them for this loss: NAN_INPUT u_values, NAN_WEIGHT
// v_values, AUX_DOMAIN u_weights, TARGET_DOMAIN v_weights.
fn flag(slot: u32, index: u32) {
    atomicMax(&scratch.status[slot], ~index);
}

fn good_weight(w: f32) -> bool {
    return !is_nan_f(w) && !is_inf_f(w) && w >= 0.0;
}

// Lays out the keys, checks every sample and weight, and sums each set's weights per
// workgroup into scratch.partials[2·w] (u) and [2·w + 1] (v), for `totals` to fold in order.
@compute @workgroup_size(WG_SIZE)
fn keys_from_samples(ids: Ids) {
    p = p_uniform;
    acc_setup(ids.nwg.x);
    // Blocked on CPU drivers (walk.wgsl): grid-striding, each SIMD group would touch a few
    // floats every grid·4 bytes, and this pass took as long as a radix pass.
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, ids.nwg.x * WG_SIZE, p.padded);
    var wu = ACC_ZERO;
    var wv = ACC_ZERO;
    for (var i = walk.first; i < walk.end; i += walk.step) {
        var key = bitcast<f32>(0x7f800000u);
        var at = 0xffffffffu;
        if i < p.n {
            key = u_buf[p.u_at + i];
            at = i;
            if is_nan_f(key) {
                flag(STATUS_NAN_INPUT, i);
            }
            var w = 1.0;
            if (p.weighted & 1u) != 0u {
                w = uw_buf[p.uw_at + i];
                if !good_weight(w) {
                    flag(STATUS_AUX_DOMAIN, i);
                }
            }
            wu = acc_add(wu, w);
            if p.weighted != 0u {
                signed_weights[i] = abs(w);
            }
        } else if i < p.n + p.m {
            let e = i - p.n;
            key = v_buf[p.v_at + e];
            at = i;
            if is_nan_f(key) {
                flag(STATUS_NAN_WEIGHT, e);
            }
            var w = 1.0;
            if (p.weighted & 2u) != 0u {
                w = vw_buf[p.vw_at + e];
                if !good_weight(w) {
                    flag(STATUS_TARGET_DOMAIN, e);
                }
            }
            wv = acc_add(wv, w);
            if p.weighted != 0u {
                signed_weights[i] = -abs(w);
            }
        }
        keys[i] = key;
        order[i] = at;
    }
    let tu = workgroup_reduce(ids, wu);
    let tv = workgroup_reduce(ids, wv);
    if ids.lid == 0u {
        scratch.partials[2u * ids.wid.x] = tu;
        scratch.partials[2u * ids.wid.x + 1u] = tv;
    }
}

// One workgroup: the weights' totals from keys_from_samples' p.groups partials, in order.
@compute @workgroup_size(WG_SIZE)
fn totals(ids: Ids) {
    p = p_uniform;
    acc_setup(ids.nwg.x);
    var wu = ACC_ZERO;
    var wv = ACC_ZERO;
    for (var g = ids.lid; g < p.groups; g += WG_SIZE) {
        wu = acc_combine(wu, scratch.partials[2u * g]);
        wv = acc_combine(wv, scratch.partials[2u * g + 1u]);
    }
    let tu = workgroup_reduce(ids, wu);
    let tv = workgroup_reduce(ids, wv);
    if ids.lid == 0u {
        let su = acc_value(tu);
        let sv = acc_value(tv);
        // Each total as hi + lo: the steps w / W are formed to twice f32's precision.
        scratch.norms[0] = tu.x;
        scratch.norms[1] = tu.y;
        scratch.norms[2] = tv.x;
        scratch.norms[3] = tv.y;
        // A set of no mass (or more than f32 holds) is no distribution.
        if !(su > 0.0) || is_inf_f(su) {
            flag(STATUS_AUX_DOMAIN, 0u);
        }
        if !(sv > 0.0) || is_inf_f(sv) {
            flag(STATUS_TARGET_DOMAIN, 0u);
        }
    }
}
