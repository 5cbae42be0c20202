// Fused elementwise loss (sections A and B of LOSSES.md).
//
// One pass: input, target and weight are each read once; the kernel writes the per-element
// loss and the gradient when asked and leaves one compensated partial sum per workgroup for
// finish.wgsl. The loss itself is loss_fn(x, y, aux, params) -> vec2(value, d value / d x),
// a few lines in regression.wgsl or binary.wgsl.
//
// The host (src/kernel/source.rs) prepends the configuration constants
//   WG_SIZE, HAS_WEIGHT, HAS_AUX, AUX_BROADCAST, AUX_DEFAULT, WRITE_OUT, WRITE_GRAD,
//   CHECK_INPUT, INPUT_LO, INPUT_HI, CHECK_AUX, AUX_LO, AUX_HI
// and common.wgsl, reduce.wgsl, one tree strategy, one vector variant and the loss family.

// One dispatch's view of the tensors: element positions are relative to each binding window.
struct Segment {
    count: u32,       // elements in this dispatch, a multiple of VEC
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

// Status slots: the first offending element of each check (stored as !index, 0 = none).
const STATUS_NAN_INPUT: u32 = 0u;
const STATUS_NAN_TARGET: u32 = 1u;
const STATUS_NAN_WEIGHT: u32 = 2u;
const STATUS_NAN_AUX: u32 = 3u;
const STATUS_INPUT_DOMAIN: u32 = 4u;
const STATUS_AUX_DOMAIN: u32 = 5u;

@group(0) @binding(0) var<uniform> seg: Segment;
@group(0) @binding(1) var<storage, read> x_buf: array<VT>;
@group(0) @binding(2) var<storage, read> y_buf: array<VT>;
@group(0) @binding(3) var<storage, read> w_buf: array<VT>;
@group(0) @binding(4) var<storage, read> aux_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_buf: array<VT>;
@group(0) @binding(6) var<storage, read_write> grad_buf: array<VT>;
@group(0) @binding(7) var<storage, read_write> partials: array<Acc>;
@group(0) @binding(8) var<storage, read_write> status: array<atomic<u32>, 8>;

fn flag(slot: u32, index: u32) {
    atomicMax(&status[slot], ~index);
}

// The aux tensor's element for element i of this dispatch, and its index for error reports.
fn aux_index(i: u32) -> u32 {
    if AUX_BROADCAST {
        return (seg.first + i) / seg.aux_div % seg.aux_mod;
    }
    return seg.first + i;
}

fn aux_value(i: u32) -> f32 {
    if AUX_BROADCAST {
        return aux_buf[seg.aux_at + aux_index(i)];
    }
    return aux_buf[seg.aux_at + i];
}

fn check(i: u32, x: f32, y: f32, w: f32, a: f32) {
    let g = seg.first + i;
    if is_nan_f(x) {
        flag(STATUS_NAN_INPUT, g);
    }
    if is_nan_f(y) {
        flag(STATUS_NAN_TARGET, g);
    }
    if HAS_WEIGHT && is_nan_f(w) {
        flag(STATUS_NAN_WEIGHT, g);
    }
    if HAS_AUX && is_nan_f(a) {
        flag(STATUS_NAN_AUX, aux_index(i));
    }
    if CHECK_INPUT && !(x >= INPUT_LO && x <= INPUT_HI) {
        flag(STATUS_INPUT_DOMAIN, g);
    }
    if CHECK_AUX && HAS_AUX && !(a >= AUX_LO && a <= AUX_HI) {
        flag(STATUS_AUX_DOMAIN, aux_index(i));
    }
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    let n_vec = seg.count / VEC;
    let stride = ids.nwg.x * WG_SIZE;
    var acc = ACC_ZERO;
    for (var i = ids.wid.x * WG_SIZE + ids.lid; i < n_vec; i += stride) {
        let xv = x_buf[seg.x_at / VEC + i];
        let yv = y_buf[seg.y_at / VEC + i];
        var wv = splat(1.0);
        if HAS_WEIGHT {
            wv = w_buf[seg.w_at / VEC + i];
        }
        var values: array<f32, VEC>;
        var grads: array<f32, VEC>;
        var sum = 0.0;
        for (var k = 0u; k < VEC; k++) {
            let e = i * VEC + k;
            var a = AUX_DEFAULT;
            if HAS_AUX {
                a = aux_value(e);
            }
            let x = lane(xv, k);
            let y = lane(yv, k);
            let w = lane(wv, k);
            check(e, x, y, w, a);
            let r = loss_fn(x, y, a, seg.params) * w;
            values[k] = r.x;
            grads[k] = r.y * seg.grad_scale;
            sum += r.x;
        }
        acc = acc_add(acc, sum);
        if WRITE_OUT {
            out_buf[seg.out_at / VEC + i] = pack(values);
        }
        if WRITE_GRAD {
            grad_buf[seg.grad_at / VEC + i] = pack(grads);
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        partials[seg.partial_at + ids.wid.x] = total;
    }
}
