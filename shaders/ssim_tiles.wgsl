// ssim.wgsl's entries for GPUs: one workgroup of WG_SIZE = 256 invocations per 16×16 tile
// (dispatch: tiles across, tiles down, planes), the tile and its halo in workgroup memory.
// Both entries filter rows first into registers, then (after a barrier) into the tile memory
// the sources occupied, then columns. The host prepends TILE_FLOATS too.

const TILE: u32 = 16u;
const SPAN: u32 = TILE + WINDOW - 1u;
const AREA: u32 = SPAN * SPAN;
// Row-filtered positions (SPAN rows of TILE): two per invocation, SPAN·TILE ≤ 2·WG_SIZE.
const ROWS: u32 = SPAN * TILE;

// The sources (x and y, or P0..P2) with halo, then the row-filtered quantities in their place.
var<workgroup> tile: array<f32, TILE_FLOATS>;

// The tile's first source row and column for a correlation that pads `pad` zeros (may be
// negative). The adjoint of one padding `pad` pads WINDOW − 1 − pad.
fn origin(wid: vec3<u32>, pad: u32) -> vec2<i32> {
    return vec2<i32>(wid.xy * TILE) - vec2<i32>(i32(pad));
}

// Row position j of the tile filtered along x from the x, y sources.
fn row_moments(j: u32) -> Moments {
    var m = Moments(vec4<f32>(0.0), 0.0);
    if j < ROWS {
        let at = (j / TILE) * SPAN + j % TILE;
        for (var t = 0u; t < WINDOW; t++) {
            let xv = tile[at + t];
            let yv = tile[AREA + at + t];
            let g = tap(t);
            m.a += g * vec4<f32>(xv, yv, xv * xv, yv * yv);
            m.xy += g * xv * yv;
        }
    }
    return m;
}

fn store_moments(j: u32, m: Moments) {
    if j < ROWS {
        tile[j] = m.a.x;
        tile[ROWS + j] = m.a.y;
        tile[2u * ROWS + j] = m.a.z;
        tile[3u * ROWS + j] = m.a.w;
        tile[4u * ROWS + j] = m.xy;
    }
}

// Row position j filtered along x from the P0..P2 sources.
fn row_parts(j: u32) -> vec3<f32> {
    var s = vec3<f32>(0.0);
    if j < ROWS {
        let at = (j / TILE) * SPAN + j % TILE;
        for (var t = 0u; t < WINDOW; t++) {
            let a = at + t;
            s += tap(t) * vec3<f32>(tile[a], tile[AREA + a], tile[2u * AREA + a]);
        }
    }
    return s;
}

fn store_parts(j: u32, s: vec3<f32>) {
    if j < ROWS {
        tile[j] = s.x;
        tile[ROWS + j] = s.y;
        tile[2u * ROWS + j] = s.z;
    }
}

@compute @workgroup_size(WG_SIZE)
fn moments(ids: Ids) {
    img = img_uniform;
    acc_setup(ids.nwg.x);
    let plane = ids.wid.z;
    let o = origin(ids.wid, img.pad);
    let plane_at = plane * img.width * img.height;
    // The shift: a pixel of the tile (the same for the whole workgroup).
    let cr = u32(clamp(o.y + i32(SPAN / 2u), 0, i32(img.height) - 1));
    let cc = u32(clamp(o.x + i32(SPAN / 2u), 0, i32(img.width) - 1));
    let texel = img.first_plane + plane;
    let ce = plane_at + cr * img.width + cc;
    let shift = vec2<f32>(load_x(img.x_at + ce, cc, cr, texel), load_y(img.y_at + ce, cc, cr, texel));
    for (var i = ids.lid; i < AREA; i += WG_SIZE) {
        let c = o.x + i32(i % SPAN);
        let r = o.y + i32(i / SPAN);
        var xv = 0.0;
        var yv = 0.0;
        if c >= 0 && r >= 0 && u32(c) < img.width && u32(r) < img.height {
            let e = plane_at + u32(r) * img.width + u32(c);
            xv = load_x(img.x_at + e, u32(c), u32(r), texel);
            yv = load_y(img.y_at + e, u32(c), u32(r), texel);
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
        tile[AREA + i] = yv - shift.y;
    }
    workgroupBarrier();
    // Rows: the five products filtered along x, kept in registers (no private arrays:
    // GL drivers turn their indexing into branch ladders).
    let r0 = row_moments(ids.lid);
    let r1 = row_moments(ids.lid + WG_SIZE);
    workgroupBarrier();
    store_moments(ids.lid, r0);
    store_moments(ids.lid + WG_SIZE, r1);
    workgroupBarrier();
    // Columns: the moments at this invocation's map position.
    let lx = ids.lid % TILE;
    let ly = ids.lid / TILE;
    var m = Moments(vec4<f32>(0.0), 0.0);
    for (var t = 0u; t < WINDOW; t++) {
        let g = tap(t);
        let a = (ly + t) * TILE + lx;
        m.a += g * vec4<f32>(tile[a], tile[ROWS + a], tile[2u * ROWS + a], tile[3u * ROWS + a]);
        m.xy += g * tile[4u * ROWS + a];
    }
    let acc = position(ACC_ZERO, plane, ids.wid.x * TILE + lx, ids.wid.y * TILE + ly, m, shift);
    put_partial(ids, workgroup_reduce(ids, acc));
}

@compute @workgroup_size(WG_SIZE)
fn gradient(ids: Ids) {
    img = img_uniform;
    let plane = ids.wid.z;
    let o = origin(ids.wid, WINDOW - 1u - img.pad);
    let stride = img.map_width * img.map_height;
    for (var i = ids.lid; i < AREA; i += WG_SIZE) {
        let c = o.x + i32(i % SPAN);
        let r = o.y + i32(i / SPAN);
        var p = vec3<f32>(0.0);
        if c >= 0 && r >= 0 && u32(c) < img.map_width && u32(r) < img.map_height {
            let e = parts_at(plane) + u32(r) * img.map_width + u32(c);
            p = vec3<f32>(parts[e], parts[e + stride], parts[e + 2u * stride]);
        }
        tile[i] = p.x;
        tile[AREA + i] = p.y;
        tile[2u * AREA + i] = p.z;
    }
    workgroupBarrier();
    let r0 = row_parts(ids.lid);
    let r1 = row_parts(ids.lid + WG_SIZE);
    workgroupBarrier();
    store_parts(ids.lid, r0);
    store_parts(ids.lid + WG_SIZE, r1);
    workgroupBarrier();
    let lx = ids.lid % TILE;
    let ly = ids.lid / TILE;
    var f = vec3<f32>(0.0);
    for (var t = 0u; t < WINDOW; t++) {
        let a = (ly + t) * TILE + lx;
        f += tap(t) * vec3<f32>(tile[a], tile[ROWS + a], tile[2u * ROWS + a]);
    }
    put_grad(plane, ids.wid.x * TILE + lx, ids.wid.y * TILE + ly, f, grad_scale_of(plane));
}
