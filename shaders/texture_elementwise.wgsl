// An elementwise loss (sections A and B) over image planes read in place from a renderer's
// texture (or a buffer beside one): each invocation walks pixels of the planes (walk.wgsl);
// loss_fn gives the value and d value / d x, summed per workgroup into the deterministic
// tree, the per-pixel loss and the gradient written to buffers laid out [C, H, W].
//
// The host prepends WG_SIZE, WRITE_OUT, WRITE_GRAD, common.wgsl, reduce.wgsl, scratch.wgsl,
// walk.wgsl, one tree strategy, the loss's constants and loss_fn (scalar variant), and the
// loaders of x and y (bindings 1 and 2).

struct Pixels {
    count: u32,       // planes × height × width
    width: u32,
    height: u32,
    x_at: u32,
    y_at: u32,
    out_at: u32,
    grad_at: u32,
    _pad: u32,
    grad_scale: f32,  // the call's weight / the divisor of its reduction
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
    params: vec4<f32>,
}

@group(0) @binding(0) var<uniform> px_uniform: Pixels;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> px: Pixels;
@group(0) @binding(3) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> scratch: Scratch;

// Element e of x and y: a texture's texel is (column, row, plane) of its planes.
fn pixel(e: u32) -> vec2<f32> {
    let plane_len = px.width * px.height;
    let c = e % px.width;
    let r = e % plane_len / px.width;
    let plane = e / plane_len;
    return vec2(load_x(px.x_at + e, c, r, plane), load_y(px.y_at + e, c, r, plane));
}

// Whether a check below could fail, without a branch.
fn suspect(x: f32, y: f32) -> bool {
    var bad = is_nan_f(x) | is_nan_f(y);
    if CHECK_INPUT {
        bad = bad | !((x >= INPUT_LO) & (x <= INPUT_HI));
    }
    return bad;
}

@compute @workgroup_size(WG_SIZE)
fn main(ids: Ids) {
    px = px_uniform;
    acc_setup(ids.nwg.x);
    let grid = ids.nwg.x * WG_SIZE;
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, grid, px.count);
    var acc = ACC_ZERO;
    // No branch a pixel (CPU drivers pay for one whether it is taken or not): a failed check
    // sets a flag, and the rare path walks the pixels again to find which and where.
    var suspicious = false;
    for (var e = walk.first; e < walk.end; e += walk.step) {
        let xy = pixel(e);
        let x = xy.x;
        let y = xy.y;
        suspicious = suspicious | suspect(x, y);
        let v = loss_fn(x, y, AUX_DEFAULT, px.params);
        acc = acc_add(acc, v.value);
        if WRITE_OUT {
            out_buf[px.out_at + e] = v.value;
        }
        if WRITE_GRAD {
            grad_buf[px.grad_at + e] = v.grad * px.grad_scale;
        }
    }
    if suspicious {
        for (var e = walk.first; e < walk.end; e += walk.step) {
            let xy = pixel(e);
            let x = xy.x;
            let y = xy.y;
            if is_nan_f(x) {
                atomicMax(&scratch.status[STATUS_NAN_INPUT], ~e);
            }
            if is_nan_f(y) {
                atomicMax(&scratch.status[STATUS_NAN_TARGET], ~e);
            }
            if CHECK_INPUT && !(x >= INPUT_LO && x <= INPUT_HI) {
                atomicMax(&scratch.status[STATUS_INPUT_DOMAIN], ~e);
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[ids.wid.x] = total;
    }
}
