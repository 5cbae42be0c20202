// A tiled matrix product for section F: out = alpha · A · op(B), A [R, K] row-major, op(B)
// = B [K, Q] or, with TRANS_B, Bᵀ where B is [Q, K] (the Gram matrix F·Fᵀ reads F twice).
// Each workgroup computes one TILE × TILE block of `out`, walking K in steps of TILE through
// two tiles in workgroup memory; each invocation keeps one compensated sum (TwoSum) of the
// tiles' partial sums, so sums over hundreds of thousands of products keep f32 precision, in a
// fixed order (deterministic).
//
// The host prepends TRANS_B, and common.wgsl and reduce.wgsl (for Acc). Every invocation
// reaches every barrier: the K loop's bounds are uniform, and loads out of range read 0.

const TILE: u32 = 16u;

struct Dims {
    rows: u32,     // R
    cols: u32,     // Q
    inner: u32,    // K
    a_at: u32,     // first element of A, B and out in their bindings
    b_at: u32,
    out_at: u32,
    alpha: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a_buf: array<f32>;
@group(0) @binding(2) var<storage, read> b_buf: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_buf: array<f32>;

var<workgroup> a_tile: array<array<f32, TILE>, TILE>;
var<workgroup> b_tile: array<array<f32, TILE>, TILE>;

fn a_at(i: u32, k: u32) -> f32 {
    if i < dims.rows && k < dims.inner {
        return a_buf[dims.a_at + i * dims.inner + k];
    }
    return 0.0;
}

// op(B)[k, j]
fn b_at(k: u32, j: u32) -> f32 {
    if k >= dims.inner || j >= dims.cols {
        return 0.0;
    }
    if TRANS_B {
        return b_buf[dims.b_at + j * dims.inner + k];
    }
    return b_buf[dims.b_at + k * dims.cols + j];
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    acc_setup(nwg.x);
    let i = wid.y * TILE + lid.y;
    let j = wid.x * TILE + lid.x;
    var acc = ACC_ZERO;
    for (var k0 = 0u; k0 < dims.inner; k0 += TILE) {
        // Coalesced loads: neighbouring invocations (lid.x) read neighbouring k of A's rows;
        // B's tile is loaded along its contiguous axis too.
        a_tile[lid.y][lid.x] = a_at(wid.y * TILE + lid.y, k0 + lid.x);
        if TRANS_B {
            b_tile[lid.y][lid.x] = b_at(k0 + lid.x, wid.x * TILE + lid.y);
        } else {
            b_tile[lid.x][lid.y] = b_at(k0 + lid.y, wid.x * TILE + lid.x);
        }
        workgroupBarrier();
        // A plain sum of this tile's TILE products, then TwoSum into the running total. (A
        // compensated update per product would meet a compiler fusing a·b + s into one FMA,
        // whose rounding the error term then misses.)
        var tile_sum = 0.0;
        for (var k = 0u; k < TILE; k++) {
            tile_sum += a_tile[lid.y][k] * b_tile[lid.x][k];
        }
        acc = acc_combine(acc, Acc(tile_sum, 0.0));
        workgroupBarrier();
    }
    if i < dims.rows && j < dims.cols {
        out_buf[dims.out_at + i * dims.cols + j] = dims.alpha * acc_value(acc);
    }
}
