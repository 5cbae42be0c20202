// Fused elementwise loss (sections A and B of LOSSES.md).
//
// One pass: input, target and weight are each read once; the kernel writes the per-element
// loss and the gradient when asked and leaves one compensated partial sum per workgroup for
// finish.wgsl. The loss itself is loss_fn(x, y, aux, params) -> Pair(value, d value / d x),
// a few lines in regression.wgsl or binary.wgsl, evaluated on one VT (f32 or vec4) at a time.
//
// The host (src/kernel/source.rs) prepends the configuration constants
//   WG_SIZE, BLOCKED, LANES, HAS_WEIGHT, HAS_AUX, AUX_BROADCAST, AUX_DEFAULT, WRITE_OUT,
//   WRITE_GRAD, ADD_GRAD, UNROLL, CHECK_INPUT, INPUT_LO, INPUT_HI, CHECK_AUX, AUX_LO, AUX_HI
// and common.wgsl, reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy, one vector
// variant, math.wgsl, the loss family, and loss_fn.

// One dispatch's view of the tensors: element positions are relative to each binding window.
struct Segment {
    count: u32,       // elements in this dispatch, a multiple of VEC · UNROLL
    first: u32,       // index of this dispatch's first element in the whole tensor
    x_at: u32,
    y_at: u32,
    w_at: u32,
    aux_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,  // this dispatch's first slot in `partials`
    aux_div: u32,     // broadcast aux: index = (first + i) / aux_div % aux_mod
    aux_mod: u32,
    grad_scale: f32,  // 1/n for mean, 1 otherwise
    params: vec4<f32>,
}

@group(0) @binding(0) var<uniform> seg_uniform: Segment;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: Segment;
// Bindings 1-6 (x, y, w, aux, out, grad) and their loadn_/storen_ functions (UNROLL VTs a
// step) are emitted by the host for each tensor's dtype (src/kernel/storage.rs): f32, or
// f16/bf16 widened to f32.
@group(0) @binding(7) var<storage, read_write> scratch: Scratch;

// The aux tensor's index for element e of this dispatch.
fn aux_index(e: u32) -> u32 {
    if AUX_BROADCAST {
        return (seg.first + e) / seg.aux_div % seg.aux_mod;
    }
    return e;
}

// The inputs of one VT: weight 1 and the aux default where absent.
struct Loaded {
    x: VT,
    y: VT,
    w: VT,
    a: VT,
}

// The aux values of VT number i, gathered: a broadcast aux repeats along rows or columns.
fn load_aux_vt(i: u32) -> VT {
    var a = VT(AUX_DEFAULT);
    if HAS_AUX {
        var lanes: array<f32, VEC>;
        for (var k = 0u; k < VEC; k++) {
            lanes[k] = load_aux(seg.aux_at + aux_index(i * VEC + k));
        }
        a = pack(lanes);
    }
    return a;
}

// Step g's UNROLL VTs (numbers g·UNROLL + h), each tensor read in one access.
fn load_step(g: u32) -> array<Loaded, UNROLL> {
    let xs = loadn_x(seg.x_at, g);
    let ys = loadn_y(seg.y_at, g);
    var ws: array<VT, UNROLL>;
    if HAS_WEIGHT {
        ws = loadn_w(seg.w_at, g);
    }
    var t: array<Loaded, UNROLL>;
    for (var h = 0u; h < UNROLL; h++) {
        var w = VT(1.0);
        if HAS_WEIGHT {
            w = ws[h];
        }
        t[h] = Loaded(xs[h], ys[h], w, load_aux_vt(g * UNROLL + h));
    }
    return t;
}

// Whether any check below could fail: a few vector operations and no branch.
fn suspect(t: Loaded) -> bool {
    var bad = is_nan_v(t.x) | is_nan_v(t.y) | is_nan_v(t.w) | is_nan_v(t.a);
    if CHECK_INPUT {
        bad = bad | !((t.x >= VT(INPUT_LO)) & (t.x <= VT(INPUT_HI)));
    }
    if CHECK_AUX && HAS_AUX {
        bad = bad | !((t.a >= VT(AUX_LO)) & (t.a <= VT(AUX_HI)));
    }
    return any(bad);
}

fn flag(slot: u32, index: u32) {
    atomicMax(&scratch.status[slot], ~index);
}

// The rare path: which lane of VT number i failed which check.
fn check(i: u32, t: Loaded) {
    for (var k = 0u; k < VEC; k++) {
        let e = i * VEC + k;
        let g = seg.first + e;
        let aux_at = select(g, aux_index(e), AUX_BROADCAST);
        let x = lane(t.x, k);
        let a = lane(t.a, k);
        if is_nan_f(x) {
            flag(STATUS_NAN_INPUT, g);
        }
        if is_nan_f(lane(t.y, k)) {
            flag(STATUS_NAN_TARGET, g);
        }
        if is_nan_f(lane(t.w, k)) {
            flag(STATUS_NAN_WEIGHT, g);
        }
        if HAS_AUX && is_nan_f(a) {
            flag(STATUS_NAN_AUX, aux_at);
        }
        if CHECK_INPUT && !(x >= INPUT_LO && x <= INPUT_HI) {
            flag(STATUS_INPUT_DOMAIN, g);
        }
        if CHECK_AUX && HAS_AUX && !(a >= AUX_LO && a <= AUX_HI) {
            flag(STATUS_AUX_DOMAIN, aux_at);
        }
    }
}

// One compensated sum per lane, folded only after the loop: adding hsum(value) instead would
// round each vec4's sum uncompensated, sqrt(n) ulp of drift on signed terms.
struct LaneAcc {
    hi: VT,
    lo: VT,
}

fn lane_add(a: LaneAcc, v: VT) -> LaneAcc {
    // two_sum (reduce.wgsl) on four lanes at once.
    let s = a.hi + v;
    let sv = s + opaque_zero;
    let bb = sv - a.hi;
    return LaneAcc(s, a.lo + ((a.hi - (sv - bb)) + (v - bb)));
}

fn lane_total(a: LaneAcc) -> Acc {
    var acc = ACC_ZERO;
    for (var k = 0u; k < VEC; k++) {
        acc = acc_combine(acc, Acc(lane(a.hi, k), lane(a.lo, k)));
    }
    return acc;
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    seg = seg_uniform;
    acc_setup(ids.nwg.x);
    halves_setup(ids.nwg.x);
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, ids.nwg.x * WG_SIZE, seg.count / (VEC * UNROLL));
    var acc = LaneAcc(VT(0.0), VT(0.0));
    // No branch in the loop: a suspicious value only sets a flag, and the rare path after
    // the loop walks the same elements again to find which check failed where.
    var suspicious = false;
    for (var g = walk.first; g < walk.end; g += walk.step) {
        let t = load_step(g);
        var values: array<VT, UNROLL>;
        var grads: array<VT, UNROLL>;
        var prior: array<VT, UNROLL>;
        if WRITE_GRAD && ADD_GRAD {
            prior = reloadn_grad(seg.grad_at, g);
        }
        for (var h = 0u; h < UNROLL; h++) {
            suspicious = suspicious | suspect(t[h]);
            let r = loss_fn(t[h].x, t[h].y, t[h].a, seg.params);
            values[h] = r.value * t[h].w;
            acc = lane_add(acc, values[h]);
            grads[h] = r.grad * t[h].w * seg.grad_scale;
            if ADD_GRAD {
                grads[h] += prior[h];
            }
        }
        if WRITE_OUT {
            storen_out(seg.out_at, g, values);
        }
        if WRITE_GRAD {
            storen_grad(seg.grad_at, g, grads);
        }
    }
    if suspicious {
        for (var g = walk.first; g < walk.end; g += walk.step) {
            let t = load_step(g);
            for (var h = 0u; h < UNROLL; h++) {
                check(g * UNROLL + h, t[h]);
            }
        }
    }
    let total = workgroup_reduce(ids, lane_total(acc));
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
