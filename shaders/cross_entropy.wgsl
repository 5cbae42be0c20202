// The class-label row losses of LOSSES.md section C, the gradient in the same kernel:
// - MODE 0, cross_entropy: softmax cross-entropy over [N, C] logits, with class indices
//   (int32/int64) or probability targets, class weights, ignore_index, label smoothing,
//   z-loss and softcap;
// - MODE 1, nll: -w[y]·x[y] on log-probabilities (no sweep: one gather per row);
// - MODE 2, sparse_categorical_cross_entropy: Keras on probabilities, -log clip(x_y / Σx).
//
// Each row is swept twice at most: the first sweep folds (max, Σ exp(x - max)) online together
// with the sums label smoothing and soft targets need; the second, only when the gradient is
// asked for, writes softmax-based gradients already scaled for the reduction (class_labels.wgsl
// computed the weighted mean's denominators before this kernel runs). No [N, C] temporary.
//
// ROW_LANES invocations share a row (1 for short rows, up to WG_SIZE for vocabularies), so a
// workgroup handles WG_SIZE / ROW_LANES rows at a time.
//
// The host prepends WG_SIZE, BLOCKED, LANES, ROW_LANES, MODE (one of MODE_CROSS_ENTROPY,
// MODE_NLL, MODE_SPARSE_KERAS), PROB_TARGET, LABEL_WORDS, HAS_WEIGHT, SOFTCAP, WRITE_OUT,
// WRITE_GRAD, IN_PLACE (the gradient overwrites the logits: each lane reads then writes its own
// elements), UNROLL (VTs a step: 2 where half logits are read eight a load), CACHE_ROW (each
// lane's share of a row fits in ROW_CACHE registers, so the gradient sweep reads no logit
// twice), and common.wgsl, reduce.wgsl, scratch.wgsl, walk.wgsl, one tree strategy, one vector
// variant, math.wgsl, labels.wgsl, row_reduce.wgsl.

struct RowSegment {
    rows: u32,          // rows in this dispatch
    first_row: u32,     // index of its first row in the whole tensor
    classes: u32,
    x_at: u32,          // first element of each window
    t_at: u32,          // labels: in words; probabilities: in elements
    w_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    ignore_lo: u32,
    ignore_hi: u32,
    ignore: u32,        // 0: no label is ignored
    label_smoothing: f32,
    z_loss: f32,
    softcap: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> seg_uniform: RowSegment;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: RowSegment;
// Bindings 1 (x), 3 (probs), 4 (class_weight), 5 (out) and 6 (grad), with their load_,
// elem_, store_ and put_ functions, are emitted by the host for each tensor's dtype
// (src/kernel/storage.rs): f32, or f16/bf16 widened to f32.
@group(0) @binding(2) var<storage, read> label_words: array<u32>;
@group(0) @binding(7) var<storage, read_write> scratch: Scratch;

const ROWS_PER_GROUP: u32 = WG_SIZE / ROW_LANES;
const NEG_INF_BITS: u32 = 0xff800000u;
const POS_INF_BITS: u32 = 0x7f800000u;

// The statistics one row folds: x = running max m, y = r = Σ exp(logit - m) over every logit
// but one that equals m (so Σ exp = 1 + r, and log Σ = log1p(r) keeps a confident row's
// digits, which 1 + r in f32 would round away); z and w per target kind: class indices,
// z = Σ_c w_c·x_c (label smoothing); probabilities, z = Σ_c w_c·t'_c·x_c, w = Σ_c w_c·t'_c.
// The identity is (-inf, 0, 0, 0): its implicit max term exp(-inf) is 0.
fn stats_zero() -> vec4<f32> {
    return vec4<f32>(bitcast<f32>(NEG_INF_BITS), 0.0, 0.0, 0.0);
}

fn is_neg_inf(v: f32) -> bool {
    return bitcast<u32>(v) == NEG_INF_BITS;
}

// Rescales to the larger max; the smaller side's max term joins the rest.
fn stats_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    let m = max(a.x, b.x);
    var r = 0.0;
    if !is_neg_inf(m) {
        if a.x >= b.x {
            r = a.y + (1.0 + b.y) * exp(b.x - m);
        } else {
            r = b.y + (1.0 + a.y) * exp(a.x - m);
        }
    }
    return vec4(m, r, a.z + b.z, a.w + b.w);
}

// Logits after the softcap s·tanh(x/s), and the chain factor 1 - tanh² the gradient carries.
fn capped(x: VT) -> VT {
    if SOFTCAP {
        return seg.softcap * tanh_v(x / seg.softcap);
    }
    return x;
}

fn cap_slope(x: VT) -> VT {
    if SOFTCAP {
        let t = tanh_v(x / seg.softcap);
        return 1.0 - t * t;
    }
    return VT(1.0);
}

fn weights(i: u32) -> VT {
    if HAS_WEIGHT {
        return load_class_weight(seg.w_at, i);
    }
    return VT(1.0);
}

// Smoothed probability targets t' = (1 - ε)·t + ε/C.
fn smoothed(row: u32, i: u32) -> VT {
    let t = load_probs(seg.t_at + row * seg.classes, i);
    let eps = seg.label_smoothing;
    return (1.0 - eps) * t + eps / f32(seg.classes);
}

// Sparse Keras folds z = Σ x over every class but the target y: with x_y, the rescaled
// q = x_y / (x_y + z) and 1 - q = z / (x_y + z) both keep their digits.
fn sparse_add(s: vec4<f32>, i: u32, x: VT, y: u32) -> vec4<f32> {
    let rest = select(x, VT(0.0), lane_ids() + UT(i * VEC) == UT(y));
    return s + vec4(0.0, 0.0, hsum(rest), 0.0);
}

// One lane's statistics, kept lane by lane of its VTs until the sweep ends: m the running
// max, r = Σ exp(x - m) over every logit but one equal to m, z and w as in stats_zero.
struct LaneStats {
    m: VT,
    r: VT,
    z: VT,
    w: VT,
}

fn lane_stats_zero() -> LaneStats {
    return LaneStats(VT(bitcast<f32>(NEG_INF_BITS)), VT(0.0), VT(0.0), VT(0.0));
}

// Folds VT number i of a row in, one exp a logit and no branch: a new max rescales the rest by
// exp(m - x) and the old max joins it; any other logit joins it as exp(x - m); both exponents
// are min - max. A −inf logit adds nothing (−inf − −inf would be NaN).
fn lane_stats_add(s: LaneStats, row: u32, i: u32, x: VT) -> LaneStats {
    let e = exp(min(x, s.m) - max(x, s.m));
    let r = select(select(s.r + e, (s.r + 1.0) * e, x > s.m), s.r,
        x == VT(bitcast<f32>(NEG_INF_BITS)));
    var z = s.z;
    var w = s.w;
    if PROB_TARGET {
        let tw = smoothed(row, i) * weights(i);
        z += tw * x;
        w += tw;
    } else {
        // Needed only with label smoothing, but a branch on it would cost every VT more
        // than the add (gallivm runs an `if` body either way).
        z += weights(i) * x;
    }
    return LaneStats(max(s.m, x), r, z, w);
}

// The lane's statistics in stats_zero's form, its VT's lanes combined.
fn lane_stats_total(s: LaneStats) -> vec4<f32> {
    var t = stats_zero();
    for (var k = 0u; k < VEC; k++) {
        t = stats_combine(t, vec4(lane(s.m, k), lane(s.r, k), lane(s.z, k), lane(s.w, k)));
    }
    return t;
}

// Step g of the logits after element `at` (UNROLL VTs: two when halves are read eight a
// load): from the gradient's buffer when the gradient overwrites them (then UNROLL is 1).
fn logits_step(at: u32, g: u32) -> array<VT, UNROLL> {
    if IN_PLACE {
        var r: array<VT, UNROLL>;
        r[0] = reload_grad(at, g);
        return r;
    }
    return loadn_x(at, g);
}

fn logit(row_at: u32, c: u32) -> f32 {
    if IN_PLACE {
        return relem_grad(row_at + c);
    }
    return elem_x(row_at + c);
}

fn class_weight_of(c: u32) -> f32 {
    if HAS_WEIGHT {
        return elem_class_weight(seg.w_at + c);
    }
    return 1.0;
}

// The rare path: records each NaN logit (and target) in the lane's share of the row.
fn flag_nan_share(row: u32, row_at: u32, flat: u32, walk: Walk) {
    for (var g = walk.first; g < walk.end; g += walk.step) {
        let raws = logits_step(row_at, g);
        for (var h = 0u; h < UNROLL; h++) {
            let i = g * UNROLL + h;
            flag_nan_lanes(STATUS_NAN_INPUT, flat + i * VEC, raws[h]);
            if PROB_TARGET {
                flag_nan_lanes(STATUS_NAN_TARGET, flat + i * VEC,
                    load_probs(seg.t_at + row * seg.classes, i));
            }
        }
    }
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    seg = seg_uniform;
    acc_setup(ids.nwg.x);
    halves_setup(ids.nwg.x);
    let slot = ids.lid / ROW_LANES;
    let lane_id = ids.lid % ROW_LANES;
    let n_vec = seg.classes / VEC;
    let eps = seg.label_smoothing;
    let c_f = f32(seg.classes);
    let ce_scale = scratch.norms[0];
    let z_scale = scratch.norms[1];
    let weight_sum = scratch.norms[2];
    var acc = ACC_ZERO;
    let batches = (seg.rows + ROWS_PER_GROUP - 1u) / ROWS_PER_GROUP;
    // The batch loop depends on the workgroup only, so row_reduce's barriers stay uniform.
    for (var b = ids.wid.x; b < batches; b += ids.nwg.x) {
        let row = b * ROWS_PER_GROUP + slot;
        let in_range = row < seg.rows;
        let row_at = seg.x_at + row * seg.classes;
        var label = Label(0, false);
        if in_range && !PROB_TARGET {
            label = read_label(seg.t_at, row, seg.ignore, seg.ignore_lo, seg.ignore_hi);
        }
        let skip = !in_range || label.ignored;
        // The row's class, clamped into the row: a label out of range has failed the label
        // pass already (the call reports it), and every read at it stays in the bound window,
        // which lets the tuner drop wgpu's runtime checks.
        let y = min(u32(label.index), max(seg.classes, 1u) - 1u);
        let walk = walk_in(lane_id, ROW_LANES, n_vec / UNROLL);

        var s = stats_zero();
        var ls = lane_stats_zero();
        // The lane's share of the row, for the gradient sweep (the host sets CACHE_ROW only
        // when it fits; min keeps the index in bounds regardless).
        var kept: array<VT, ROW_CACHE>;
        var k_at = 0u;
        // NaN anywhere is an error, in an ignored row too (PyTorch's gradient there is NaN);
        // nll reads x[y] alone and checks only that (below). No branch in the sweep: a NaN
        // only sets a flag, and the rare path walks the lane's share again to find where (a
        // branch a VT cost lavapipe a fifth of the forward).
        let flat = (seg.first_row + row) * seg.classes;
        // The largest magnitude's bits seen: NaN iff above +inf's. An integer max a VT, where a
        // NaN test (which compilers turn into a float compare) and any() cost more.
        var widest = UT(0u);
        if in_range && MODE != MODE_NLL {
            for (var g = walk.first; g < walk.end; g += walk.step) {
                let raws = logits_step(row_at, g);
                for (var h = 0u; h < UNROLL; h++) {
                    let i = g * UNROLL + h;
                    let raw = raws[h];
                    widest = max(widest, bitcast<UT>(raw) & UT(0x7fffffffu));
                    if PROB_TARGET {
                        // The load lane_stats_add makes again (smoothed), at the same address.
                        let t = load_probs(seg.t_at + row * seg.classes, i);
                        widest = max(widest, bitcast<UT>(t) & UT(0x7fffffffu));
                    }
                    if CACHE_ROW {
                        kept[min(k_at, ROW_CACHE - 1u)] = raw;
                        k_at++;
                    }
                    if MODE == MODE_SPARSE_KERAS {
                        s = sparse_add(s, i, raw, y);
                    } else {
                        ls = lane_stats_add(ls, row, i, capped(raw));
                    }
                }
            }
            if MODE != MODE_SPARSE_KERAS {
                s = lane_stats_total(ls);
            }
        }
        if any(widest > UT(0x7f800000u)) {
            flag_nan_share(row, row_at, flat, walk);
        }
        s = row_reduce(ids.lid, s);
        // A +inf logit makes the whole row NaN, loss and gradient, as PyTorch's log_softmax
        // (an all −inf row is NaN already: −inf − −inf).
        let log_sum = select(lane(log1p_v(VT(s.y)), 0u), nan_f(),
            bitcast<u32>(s.x) == POS_INF_BITS);
        let lse = s.x + log_sum;

        // The row's loss; gradient coefficients: grad_c = a·p_c - b_c, minus cy at c = y.
        var loss = 0.0;
        var scaled = 0.0;
        var a = 0.0;
        var cy = 0.0;
        // The target's gradient (class indices), made once for the sweep to put in place.
        var at_y = 0.0;
        let z = seg.z_loss * lse * lse;
        // Sparse Keras: q = x_y / Σx clipped; its gradient a·(δ_cy - q)/Σx, a = d(-log q)/dq.
        var q = 0.0;
        if MODE == MODE_NLL && !skip {
            let wy = class_weight_of(y);
            let xy = logit(row_at, y);
            if lane_id == 0u && u32(label.index) < seg.classes && is_nan_f(xy) {
                atomicMax(&scratch.status[STATUS_NAN_INPUT], ~(flat + y));
            }
            loss = -wy * xy;
            scaled = loss * ce_scale;
            cy = -wy * ce_scale;
        } else if MODE == MODE_SPARSE_KERAS && !skip {
            let xy = logit(row_at, y);
            let total = xy + s.z;
            q = xy / total;
            let rest = s.z / total;
            let clipped = clamp(q, KERAS_EPSILON, 1.0 - KERAS_EPSILON);
            // -log q = log1p(rest / x_y); at the clip, -log(1 - 1e-7) and -log(1e-7) as in
            // float64 (1 - 1e-7 is not an f32).
            loss = lane(log1p_v(VT(s.z / xy)), 0u);
            if rest <= KERAS_EPSILON {
                loss = 1.00000005e-7;
            } else if q <= KERAS_EPSILON {
                loss = 16.11809565095832;
            }
            scaled = loss * ce_scale;
            let slope = select(select(0.0, 0.5, q == KERAS_EPSILON), 1.0, q > KERAS_EPSILON)
                * select(select(0.0, 0.5, rest == KERAS_EPSILON), 1.0, rest > KERAS_EPSILON);
            a = -slope / clipped / total * ce_scale;
            cy = rest;
        } else if PROB_TARGET {
            loss = lse * s.w - s.z + z;
            scaled = (lse * s.w - s.z) * ce_scale + z * z_scale;
            a = s.w * ce_scale + 2.0 * seg.z_loss * lse * z_scale;
        } else if !skip {
            let wy = class_weight_of(y);
            let xy = lane(capped(VT(logit(row_at, y))), 0u);
            // (max - x_y) + log Σ, not lse - x_y: a confident row's loss is far below ulp(lse).
            var ce = (1.0 - eps) * wy * ((s.x - xy) + log_sum);
            if eps != 0.0 {
                ce += eps / c_f * (lse * weight_sum - s.z);
            }
            loss = ce + z;
            scaled = ce * ce_scale + z * z_scale;
            a = ((1.0 - eps) * wy + eps / c_f * weight_sum) * ce_scale
                + 2.0 * seg.z_loss * lse * z_scale;
            cy = (1.0 - eps) * wy * ce_scale;
            // a·p - cy = a·(p - 1) + (a - cy) with p - 1 from expm1: for a confident row p
            // rounds to 1 and a·p - cy to 0.
            let log_py = (xy - s.x) - log_sum;
            at_y = a * lane(expm1_v(VT(log_py)), 0u) + (a - cy) - eps / c_f * wy * ce_scale;
        }
        if in_range && lane_id == 0u {
            acc = acc_add(acc, scaled);
            if WRITE_OUT {
                put_out(seg.out_at + row, loss);
            }
        }

        // In place, every lane has read the target's logit before any lane overwrites it
        // (the batch loop is uniform, so the barrier is too).
        if IN_PLACE {
            workgroupBarrier();
        }
        if WRITE_GRAD && in_range {
            k_at = 0u;
            for (var step = walk.first; step < walk.end; step += walk.step) {
                var raws: array<VT, UNROLL>;
                if !CACHE_ROW {
                    raws = logits_step(row_at, step);
                }
                for (var h = 0u; h < UNROLL; h++) {
                    let i = step * UNROLL + h;
                    var raw = raws[h];
                    if CACHE_ROW {
                        raw = kept[min(k_at, ROW_CACHE - 1u)];
                        k_at++;
                    }
                    var g = VT(0.0);
                    let at_target = lane_ids() + UT(i * VEC) == UT(y);
                    if MODE == MODE_NLL {
                        // -w[y] at the target, 0 elsewhere.
                        g = select(VT(0.0), VT(cy), at_target);
                    } else if MODE == MODE_SPARSE_KERAS {
                        // δ_cy - q: 1 - q is the rest's share, kept in cy.
                        g = a * select(VT(-q), VT(cy), at_target);
                    } else {
                        let xc = capped(raw);
                        let p = exp((xc - s.x) - log_sum);
                        if PROB_TARGET {
                            g = a * p - smoothed(row, i) * weights(i) * ce_scale;
                        } else {
                            let spread = eps / c_f * weights(i) * ce_scale;
                            g = select(a * p - spread, VT(at_y), at_target);
                        }
                        g *= cap_slope(raw);
                    }
                    // A skipped row's gradient is 0: a select, where a branch on `skip` would
                    // cost every VT its mask bookkeeping and save nothing.
                    store_grad(seg.grad_at + row * seg.classes, i, select(g, VT(0.0), skip));
                }
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[seg.partial_at + ids.wid.x] = total;
    }
}
