// ssim and the stages of ms_ssim (LOSSES.md section G): the uniform, the bindings and the
// per-position algebra shared by two layouts of the same two entry points,
// ssim_tiles.wgsl (GPUs: 16×16 tiles filtered in workgroup memory) and the strips that
// src/kernel/ssim_strips.rs writes out (CPU drivers: a strip per invocation, in registers):
//
// - `moments`: the five local moments (μx, μy, E[x²], E[y²], E[xy]) by separable Gaussian
//   filtering of a tile and its halo held in workgroup memory; the SSIM map (or, for ms_ssim's
//   finer scales, the contrast-structure map cs) at each map position, summed per workgroup
//   into the partials (value = offset + sign·map, so splatting's 1 − ssim is summed as such,
//   without cancellation); optionally the map itself and the three per-position partials
//   P0 = ∂m/∂μx, P1 = ∂m/∂E[x²], P2 = ∂m/∂E[xy] the gradient needs, per plane.
// - `gradient`: the adjoint filtering of P0..P2 (the same Gaussian, the other offset),
//   d/dx = g∗P0 + 2x·g∗P1 + y·g∗P2, scaled, written or added to the gradient.
//
// Both filter rows first, then columns. The host prepends WG_SIZE, WINDOW (a constant, so
// the filters unroll), WRITE_OUT, WRITE_GRAD, common.wgsl, reduce.wgsl, scratch.wgsl, one
// tree strategy and the loaders of x and y (a buffer's or a texture's); the layout follows.

struct Image {
    width: u32,       // input plane
    height: u32,
    map_width: u32,   // SSIM map plane
    map_height: u32,
    pad: u32,         // window/2 (same) or 0 (valid)
    scale_at: u32,    // plane_scale's first element for this dispatch
    x_at: u32,
    y_at: u32,
    out_at: u32,
    parts_at: u32,
    grad_at: u32,
    partial_at: u32,
    first_plane: u32, // of the whole call, for the NaN index
    contrast: u32,    // 1: the map is cs = (2σxy + C2)/(σx² + σy² + C2) (ms_ssim's finer scales)
    accumulate: u32,  // gradient: add to the values already in grad_buf
    per_plane: u32,   // gradient: scale each plane by plane_scale[plane] too
    c1: f32,
    c2: f32,
    offset: f32,      // summed per position: offset + sign·map
    sign: f32,
    grad_scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    weights: array<vec4<f32>, 4>, // the Gaussian window, WINDOW taps
}

@group(0) @binding(0) var<uniform> img_uniform: Image;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> img: Image;
// Bindings 1 and 2, x and y, are the host's: load_x and load_y read a buffer or a texture
// (the strips, for buffers only, read x_buf and y_buf directly).
@group(0) @binding(3) var<storage, read> plane_scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> parts: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_buf: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: Scratch;

fn tap(t: u32) -> f32 {
    return img.weights[t / 4u][t % 4u];
}

// A plane's P0, P1, P2, one map after another (plane-major, so planes bind in windows).
fn parts_at(plane: u32) -> u32 {
    return img.parts_at + 3u * plane * img.map_width * img.map_height;
}

// μx, μy, E[x²], E[y²] and E[xy] of x − sx and y − sy (or their row-filtered parts).
struct Moments {
    a: vec4<f32>,
    xy: f32,
}

// Map position (mx, my) of `plane` from its moments of x − shift.x, y − shift.y (the
// variances E[x'²] − E[x']² then cancel far less in float32 than E[x²] − μ² would): its term
// added to `acc`, the map and P0..P2 written as asked. Outside the map, nothing.
fn position(acc: Acc, plane: u32, mx: u32, my: u32, m: Moments, shift: vec2<f32>) -> Acc {
    if mx >= img.map_width || my >= img.map_height {
        return acc;
    }
    // The taps sum to 1 (to float32's rounding): shifting moves the means only.
    let vxx = m.a.z - m.a.x * m.a.x;
    let vyy = m.a.w - m.a.y * m.a.y;
    let vxy = m.xy - m.a.x * m.a.y;
    let ux = m.a.x + shift.x;
    let uy = m.a.y + shift.y;
    let a = 2.0 * ux * uy + img.c1;
    let b = 2.0 * vxy + img.c2;
    let c = ux * ux + uy * uy + img.c1;
    let d = vxx + vyy + img.c2;
    var map = 0.0;
    var p = vec3<f32>(0.0);
    if img.contrast != 0u {
        map = b / d;
        p = vec3<f32>((2.0 * ux * map - 2.0 * uy) / d, -map / d, 2.0 / d);
    } else {
        let cd = c * d;
        map = a * b / cd;
        p = vec3<f32>(
            2.0 * uy * (b - a) / cd + 2.0 * ux * map * (1.0 / d - 1.0 / c),
            -map / d,
            2.0 * a / cd,
        );
    }
    let pos = my * img.map_width + mx;
    if WRITE_OUT {
        out_buf[img.out_at + plane * img.map_width * img.map_height + pos] = map;
    }
    if WRITE_GRAD {
        let at = parts_at(plane) + pos;
        let stride = img.map_width * img.map_height;
        parts[at] = p.x;
        parts[at + stride] = p.y;
        parts[at + 2u * stride] = p.z;
    }
    return acc_add(acc, img.offset + img.sign * map);
}

// The gradient at pixel (px, py) of `plane` from the adjoint-filtered f = (g∗P0, g∗P1, g∗P2):
// d/dx = f0 + 2x·f1 + y·f2, scaled, written or added. Outside the image, nothing.
fn put_grad(plane: u32, px: u32, py: u32, f: vec3<f32>, scale: f32) {
    if px >= img.width || py >= img.height {
        return;
    }
    let e = (plane * img.height + py) * img.width + px;
    let xv = load_x(img.x_at + e, px, py, img.first_plane + plane);
    let yv = load_y(img.y_at + e, px, py, img.first_plane + plane);
    var g = scale * (f.x + 2.0 * xv * f.y + yv * f.z);
    if img.accumulate != 0u {
        g += grad_buf[img.grad_at + e];
    }
    grad_buf[img.grad_at + e] = g;
}

// The gradient's scale for `plane`: the call's, times ms_ssim's coefficient of the plane.
fn grad_scale_of(plane: u32) -> f32 {
    if img.per_plane != 0u {
        return img.grad_scale * plane_scale[img.scale_at + plane];
    }
    return img.grad_scale;
}

// Records NaNs of x and y in rows r0 ..< r0 + rows and columns c0 ..< c0 + cols of `plane`
// (the first, by index, wins); only invocations that saw one come here.
fn report_nans(plane: u32, r0: i32, c0: i32, rows: u32, cols: u32) {
    let plane_at = plane * img.width * img.height;
    for (var i = 0u; i < rows * cols; i++) {
        let r = r0 + i32(i / cols);
        let c = c0 + i32(i % cols);
        if c >= 0 && r >= 0 && u32(c) < img.width && u32(r) < img.height {
            let e = plane_at + u32(r) * img.width + u32(c);
            let at = img.first_plane * img.width * img.height + e;
            let texel = img.first_plane + plane;
            if is_nan_f(load_x(img.x_at + e, u32(c), u32(r), texel)) {
                atomicMax(&scratch.status[STATUS_NAN_INPUT], ~at);
            }
            if is_nan_f(load_y(img.y_at + e, u32(c), u32(r), texel)) {
                atomicMax(&scratch.status[STATUS_NAN_TARGET], ~at);
            }
        }
    }
}

// Each workgroup's sum, at its place among the plane's partials.
fn put_partial(ids: Ids, total: Acc) {
    if ids.lid == 0u {
        let groups = ids.nwg.x * ids.nwg.y;
        let at = img.partial_at + ids.wid.z * groups + ids.wid.y * ids.nwg.x + ids.wid.x;
        scratch.partials[at] = total;
    }
}
