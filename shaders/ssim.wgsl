// ssim and the stages of ms_ssim (LOSSES.md section G), two entry points over 16×16 tiles of
// image planes, one workgroup per tile (dispatch: tiles across, tiles down, planes):
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
// Both filter in two steps: rows first into registers, then (after a barrier) into the tile
// memory the sources occupied, then columns. The host prepends WG_SIZE (256, one invocation
// per tile pixel), TILE_FLOATS, WRITE_OUT, WRITE_GRAD, common.wgsl, reduce.wgsl, scratch.wgsl,
// one tree strategy, and the loaders of x and y (a buffer's or a texture's).

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
    window: u32,      // taps of the Gaussian, odd, at most 15 (the tile memory's bound)
    _pad1: u32,
    _pad2: u32,
    weights: array<vec4<f32>, 4>, // the Gaussian window's taps
}

@group(0) @binding(0) var<uniform> img: Image;
// Bindings 1 and 2, x and y, are the host's: load_x and load_y read a buffer or a texture.
@group(0) @binding(3) var<storage, read> plane_scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> parts: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_buf: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: Scratch;

const TILE: u32 = 16u;
// Row-filtered positions (span rows of TILE): two per invocation, span·TILE ≤ 2·WG_SIZE.

// The sources (x and y, or P0..P2) with halo, then the row-filtered quantities in their place.
var<workgroup> tile: array<f32, TILE_FLOATS>;

fn tap(t: u32) -> f32 {
    return img.weights[t / 4u][t % 4u];
}

// A plane's P0, P1, P2, one map after another (plane-major, so planes bind in windows).
fn parts_at(plane: u32) -> u32 {
    return img.parts_at + 3u * plane * img.map_width * img.map_height;
}

// The tile's first source row and column for a correlation that pads `pad` zeros (may be
// negative). The adjoint of one padding `pad` pads window − 1 − pad.
fn origin(wid: vec3<u32>, pad: u32) -> vec2<i32> {
    return vec2<i32>(wid.xy * TILE) - vec2<i32>(i32(pad));
}

// μx, μy, E[x²], E[y²] and E[xy] (or their row-filtered parts).
struct Moments {
    a: vec4<f32>,
    xy: f32,
}

// Row position j of the tile (span rows of TILE) filtered along x from the x, y sources.
fn row_moments(j: u32, span: u32) -> Moments {
    var m = Moments(vec4<f32>(0.0), 0.0);
    if j < span * TILE {
        let at = (j / TILE) * span + j % TILE;
        let area = span * span;
        for (var t = 0u; t < img.window; t++) {
            let xv = tile[at + t];
            let yv = tile[area + at + t];
            let g = tap(t);
            m.a += g * vec4<f32>(xv, yv, xv * xv, yv * yv);
            m.xy += g * xv * yv;
        }
    }
    return m;
}

fn store_moments(j: u32, span: u32, m: Moments) {
    let rows = span * TILE;
    if j < rows {
        tile[j] = m.a.x;
        tile[rows + j] = m.a.y;
        tile[2u * rows + j] = m.a.z;
        tile[3u * rows + j] = m.a.w;
        tile[4u * rows + j] = m.xy;
    }
}

// Row position j filtered along x from the P0..P2 sources.
fn row_parts(j: u32, span: u32) -> vec3<f32> {
    var s = vec3<f32>(0.0);
    if j < span * TILE {
        let at = (j / TILE) * span + j % TILE;
        let area = span * span;
        for (var t = 0u; t < img.window; t++) {
            let a = at + t;
            s += tap(t) * vec3<f32>(tile[a], tile[area + a], tile[2u * area + a]);
        }
    }
    return s;
}

fn store_parts(j: u32, span: u32, s: vec3<f32>) {
    let rows = span * TILE;
    if j < rows {
        tile[j] = s.x;
        tile[rows + j] = s.y;
        tile[2u * rows + j] = s.z;
    }
}

@compute @workgroup_size(WG_SIZE)
fn moments(ids: Ids) {
    acc_setup(ids.nwg.x);
    let plane = ids.wid.z;
    let span = TILE + img.window - 1u;
    let o = origin(ids.wid, img.pad);
    let area = span * span;
    let plane_at = plane * img.width * img.height;
    // Moments of x − cx and y − cy, a pixel of the tile (the same for the whole workgroup):
    // the variances E[x'²] − E[x']² then cancel far less in float32 than E[x²] − μ² would.
    let cr = u32(clamp(o.y + i32(span / 2u), 0, i32(img.height) - 1));
    let cc = u32(clamp(o.x + i32(span / 2u), 0, i32(img.width) - 1));
    let ce = plane_at + cr * img.width + cc;
    let texture_plane = img.first_plane + plane;
    let shift = vec2<f32>(
        load_x(img.x_at + ce, cc, cr, texture_plane),
        load_y(img.y_at + ce, cc, cr, texture_plane),
    );
    for (var i = ids.lid; i < area; i += WG_SIZE) {
        let c = o.x + i32(i % span);
        let r = o.y + i32(i / span);
        var xv = 0.0;
        var yv = 0.0;
        if c >= 0 && r >= 0 && u32(c) < img.width && u32(r) < img.height {
            let e = plane_at + u32(r) * img.width + u32(c);
            xv = load_x(img.x_at + e, u32(c), u32(r), texture_plane);
            yv = load_y(img.y_at + e, u32(c), u32(r), texture_plane);
            let at = img.first_plane * img.width * img.height + e;
            if is_nan_f(xv) {
                atomicMax(&scratch.status[STATUS_NAN_INPUT], ~at);
            }
            if is_nan_f(yv) {
                atomicMax(&scratch.status[STATUS_NAN_TARGET], ~at);
            }
        }
        // Padding is a zero of x, so x − cx there too.
        tile[i] = xv - shift.x;
        tile[area + i] = yv - shift.y;
    }
    workgroupBarrier();
    // Rows: the five products filtered along x, kept in registers (no private arrays:
    // GL drivers turn their indexing into branch ladders).
    let r0 = row_moments(ids.lid, span);
    let r1 = row_moments(ids.lid + WG_SIZE, span);
    workgroupBarrier();
    store_moments(ids.lid, span, r0);
    store_moments(ids.lid + WG_SIZE, span, r1);
    workgroupBarrier();
    // Columns: the moments at this invocation's map position.
    let lx = ids.lid % TILE;
    let ly = ids.lid / TILE;
    let rows = span * TILE;
    var m = Moments(vec4<f32>(0.0), 0.0);
    for (var t = 0u; t < img.window; t++) {
        let g = tap(t);
        let a = (ly + t) * TILE + lx;
        m.a += g * vec4<f32>(tile[a], tile[rows + a], tile[2u * rows + a], tile[3u * rows + a]);
        m.xy += g * tile[4u * rows + a];
    }
    let mx = ids.wid.x * TILE + lx;
    let my = ids.wid.y * TILE + ly;
    var acc = ACC_ZERO;
    if mx < img.map_width && my < img.map_height {
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
        acc = acc_add(acc, img.offset + img.sign * map);
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
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        let tiles = ids.nwg.x * ids.nwg.y;
        scratch.partials[img.partial_at + plane * tiles + ids.wid.y * ids.nwg.x + ids.wid.x] = total;
    }
}

@compute @workgroup_size(WG_SIZE)
fn gradient(ids: Ids) {
    let plane = ids.wid.z;
    let span = TILE + img.window - 1u;
    let o = origin(ids.wid, img.window - 1u - img.pad);
    let area = span * span;
    let stride = img.map_width * img.map_height;
    for (var i = ids.lid; i < area; i += WG_SIZE) {
        let c = o.x + i32(i % span);
        let r = o.y + i32(i / span);
        var p = vec3<f32>(0.0);
        if c >= 0 && r >= 0 && u32(c) < img.map_width && u32(r) < img.map_height {
            let e = parts_at(plane) + u32(r) * img.map_width + u32(c);
            p = vec3<f32>(parts[e], parts[e + stride], parts[e + 2u * stride]);
        }
        tile[i] = p.x;
        tile[area + i] = p.y;
        tile[2u * area + i] = p.z;
    }
    workgroupBarrier();
    let r0 = row_parts(ids.lid, span);
    let r1 = row_parts(ids.lid + WG_SIZE, span);
    workgroupBarrier();
    store_parts(ids.lid, span, r0);
    store_parts(ids.lid + WG_SIZE, span, r1);
    workgroupBarrier();
    let lx = ids.lid % TILE;
    let ly = ids.lid / TILE;
    let rows = span * TILE;
    var f = vec3<f32>(0.0);
    for (var t = 0u; t < img.window; t++) {
        let a = (ly + t) * TILE + lx;
        f += tap(t) * vec3<f32>(tile[a], tile[rows + a], tile[2u * rows + a]);
    }
    let px = ids.wid.x * TILE + lx;
    let py = ids.wid.y * TILE + ly;
    if px < img.width && py < img.height {
        let e = (plane * img.height + py) * img.width + px;
        let xv = load_x(img.x_at + e, px, py, img.first_plane + plane);
        let yv = load_y(img.y_at + e, px, py, img.first_plane + plane);
        var scale = img.grad_scale;
        if img.per_plane != 0u {
            scale *= plane_scale[img.scale_at + plane];
        }
        var g = scale * (f.x + 2.0 * xv * f.y + yv * f.z);
        if img.accumulate != 0u {
            g += grad_buf[img.grad_at + e];
        }
        grad_buf[img.grad_at + e] = g;
    }
}
