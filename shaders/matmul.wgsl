// A register-blocked matrix product for section F: out = alpha · A · op(B), A [R, K] row-major,
// op(B) = B [K, Q] or, with TRANS_B, Bᵀ where B is [Q, K] (the Gram matrix F·Fᵀ reads F twice).
// A workgroup of 16 × 16 invocations computes one BLOCK × BLOCK tile of `out`, each invocation
// a 4 × 4 block of it in registers, walking its share of K in steps of KT through two tiles in
// workgroup memory kept as vec4s (four rows of A, four columns of op(B), at one k), so each
// step is four vec4 multiply-adds per k. Each output keeps a compensated sum (TwoSum) of the
// steps' plain sums, in a fixed order (deterministic).
//
// K may be split over dims.splits workgroups along z (a small output over a long K, as F·Fᵀ):
// each writes its (hi, lo) partials, and `gather` adds them in order. With dims.sym (A·Aᵀ:
// out is symmetric) only tiles on or above the diagonal are computed; the others are their
// mirror. The host prepends TRANS_B, common.wgsl and reduce.wgsl. Every invocation of a
// workgroup reaches every barrier: a workgroup below the diagonal returns as a whole, the K
// loop's bounds are uniform, and loads out of range read 0.

const BLOCK: u32 = 64u;
const KT: u32 = 16u;

struct Dims {
    rows: u32,     // R
    cols: u32,     // Q
    inner: u32,    // K
    a_at: u32,     // first element of A, B and out in their bindings
    b_at: u32,
    out_at: u32,
    alpha: f32,
    splits: u32,   // workgroups along z sharing K
    k_span: u32,   // K per split, a multiple of KT
    sym: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> dims_uniform: Dims;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> dims: Dims;
@group(0) @binding(1) var<storage, read> a_buf: array<f32>;
@group(0) @binding(2) var<storage, read> b_buf: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<vec2<f32>>;

// [k][quad]: rows (of A) or columns (of op(B)) 4·quad .. 4·quad + 3 at step k.
var<workgroup> a_tile: array<vec4<f32>, KT * 16u>;
var<workgroup> b_tile: array<vec4<f32>, KT * 16u>;

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

// Four (hi, lo) sums at once: hi + lo += s, TwoSum per lane (reduce.wgsl's acc_combine).
struct Acc4 {
    hi: vec4<f32>,
    lo: vec4<f32>,
}

fn acc4_add(a: Acc4, s: vec4<f32>) -> Acc4 {
    let t = a.hi + s;
    let tv = t + opaque_zero;
    let bb = tv - a.hi;
    let err = (a.hi - (tv - bb)) + (s - bb);
    return Acc4(t, a.lo + err);
}

fn store(i: u32, j: u32, z: u32, acc: Acc4) {
    for (var c = 0u; c < 4u; c++) {
        let jc = j + c;
        if i >= dims.rows || jc >= dims.cols {
            continue;
        }
        if dims.splits == 1u {
            let v = dims.alpha * acc_value(Acc(acc.hi[c], acc.lo[c]));
            out_buf[dims.out_at + i * dims.cols + jc] = v;
            // Above the diagonal's tiles, the mirror too.
            if dims.sym != 0u && i / BLOCK < jc / BLOCK {
                out_buf[dims.out_at + jc * dims.cols + i] = v;
            }
        } else {
            partials[(z * dims.rows + i) * dims.cols + jc] = vec2(acc.hi[c], acc.lo[c]);
        }
    }
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    dims = dims_uniform;
    if dims.sym != 0u && wid.y > wid.x {
        return;
    }
    acc_setup(nwg.x);
    let row0 = wid.y * BLOCK;
    let col0 = wid.x * BLOCK;
    let k_first = wid.z * dims.k_span;
    let k_end = min(k_first + dims.k_span, dims.inner);
    var acc0 = Acc4(vec4(0.0), vec4(0.0));
    var acc1 = acc0;
    var acc2 = acc0;
    var acc3 = acc0;
    for (var k0 = k_first; k0 < k_end; k0 += KT) {
        // Each invocation loads four consecutive k of one row of A (and of one column of
        // op(B) when that is a row of B); else four consecutive columns at one k.
        let r = t / 4u;
        let kq = (t % 4u) * 4u;
        for (var e = 0u; e < 4u; e++) {
            a_tile[(kq + e) * 16u + r / 4u][r % 4u] = a_at(row0 + r, k0 + kq + e);
        }
        if TRANS_B {
            for (var e = 0u; e < 4u; e++) {
                b_tile[(kq + e) * 16u + r / 4u][r % 4u] = b_at(k0 + kq + e, col0 + r);
            }
        } else {
            let k = t / 16u;
            let j = col0 + (t % 16u) * 4u;
            b_tile[k * 16u + t % 16u] = vec4(
                b_at(k0 + k, j),
                b_at(k0 + k, j + 1u),
                b_at(k0 + k, j + 2u),
                b_at(k0 + k, j + 3u),
            );
        }
        workgroupBarrier();
        // Plain sums over this step's KT products, then TwoSum into the running totals. (A
        // compensated update per product would meet a compiler fusing a·b + s into one FMA,
        // whose rounding the error term then misses.)
        var s0 = vec4(0.0);
        var s1 = vec4(0.0);
        var s2 = vec4(0.0);
        var s3 = vec4(0.0);
        for (var k = 0u; k < KT; k++) {
            let a = a_tile[k * 16u + lid.y];
            let b = b_tile[k * 16u + lid.x];
            s0 += a.x * b;
            s1 += a.y * b;
            s2 += a.z * b;
            s3 += a.w * b;
        }
        acc0 = acc4_add(acc0, s0);
        acc1 = acc4_add(acc1, s1);
        acc2 = acc4_add(acc2, s2);
        acc3 = acc4_add(acc3, s3);
        workgroupBarrier();
    }
    let i = row0 + lid.y * 4u;
    let j = col0 + lid.x * 4u;
    store(i, j, wid.z, acc0);
    store(i + 1u, j, wid.z, acc1);
    store(i + 2u, j, wid.z, acc2);
    store(i + 3u, j, wid.z, acc3);
}

// The splits' partials added in order, one output each (tiles below the diagonal of a
// symmetric product read their mirror's).
@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    dims = dims_uniform;
    acc_setup(nwg.x);
    let count = dims.rows * dims.cols;
    for (var e = gid.x; e < count; e += nwg.x * 256u) {
        var i = e / dims.cols;
        var j = e % dims.cols;
        if dims.sym != 0u && i / BLOCK > j / BLOCK {
            let swap = i;
            i = j;
            j = swap;
        }
        var acc = ACC_ZERO;
        for (var z = 0u; z < dims.splits; z++) {
            acc = acc_combine(acc, partials[(z * dims.rows + i) * dims.cols + j]);
        }
        out_buf[dims.out_at + e] = dims.alpha * acc_value(acc);
    }
}
