// A bitonic sort of (key, position) pairs in place, ascending by key, ties by position (so the
// order is total and every run gives the same one). The length is a power of two, at least
// BLOCK. Stages whose partner distance j is below BLOCK run in workgroup memory, BLOCK
// elements per workgroup: `local_sort` does every stage k <= BLOCK at once, `local_merge` the
// last steps of a larger stage; `global_step` does one step (k, j >= BLOCK) over the whole
// array. Element i of stage k sorts ascending when i & k == 0. Blocks and pairs are
// grid-strided over a bounded number of workgroups. The host prepends WG_SIZE.

struct Step {
    padded: u32,
    k: u32,
    j: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> step_uniform: Step;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> step: Step;
@group(0) @binding(1) var<storage, read_write> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> order: array<u32>;

const BLOCK: u32 = 2u * WG_SIZE;

var<workgroup> block_keys: array<f32, BLOCK>;
var<workgroup> block_order: array<u32, BLOCK>;

// Whether (ka, oa) sorts before (kb, ob).
fn before(ka: f32, oa: u32, kb: f32, ob: u32) -> bool {
    return ka < kb || (ka == kb && oa < ob);
}

// The lower index of pair t at distance j.
fn pair_low(t: u32, j: u32) -> u32 {
    return 2u * j * (t / j) + t % j;
}

@compute @workgroup_size(WG_SIZE)
fn global_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    step = step_uniform;
    let grid = nwg.x * WG_SIZE;
    for (var t = gid.x; t < step.padded / 2u; t += grid) {
        let i = pair_low(t, step.j);
        let l = i + step.j;
        let ka = keys[i];
        let kb = keys[l];
        let oa = order[i];
        let ob = order[l];
        if before(kb, ob, ka, oa) == ((i & step.k) == 0u) {
            keys[i] = kb;
            keys[l] = ka;
            order[i] = ob;
            order[l] = oa;
        }
    }
}

// One compare-exchange in workgroup memory: pair t at distance j of the block at `base`.
fn exchange_local(base: u32, t: u32, j: u32, k: u32) {
    let i = pair_low(t, j);
    let l = i + j;
    let ka = block_keys[i];
    let kb = block_keys[l];
    let oa = block_order[i];
    let ob = block_order[l];
    if before(kb, ob, ka, oa) == (((base + i) & k) == 0u) {
        block_keys[i] = kb;
        block_keys[l] = ka;
        block_order[i] = ob;
        block_order[l] = oa;
    }
}

// Loads, sorts or merges, and stores every block of this workgroup. The loops depend on the
// workgroup and the uniform only, so every invocation reaches every barrier.
fn blocks(lid: u32, wid: u32, nwg: u32, merge_only: bool) {
    for (var b = wid; b < step.padded / BLOCK; b += nwg) {
        let base = b * BLOCK;
        block_keys[lid] = keys[base + lid];
        block_keys[lid + WG_SIZE] = keys[base + lid + WG_SIZE];
        block_order[lid] = order[base + lid];
        block_order[lid + WG_SIZE] = order[base + lid + WG_SIZE];
        var k = 2u;
        if merge_only {
            k = step.k;
        }
        for (; k <= max(step.k, 2u) && (merge_only || k <= BLOCK); k *= 2u) {
            for (var j = min(k / 2u, BLOCK / 2u); j > 0u; j /= 2u) {
                workgroupBarrier();
                exchange_local(base, lid, j, k);
            }
            if merge_only {
                break;
            }
        }
        workgroupBarrier();
        keys[base + lid] = block_keys[lid];
        keys[base + lid + WG_SIZE] = block_keys[lid + WG_SIZE];
        order[base + lid] = block_order[lid];
        order[base + lid + WG_SIZE] = block_order[lid + WG_SIZE];
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG_SIZE)
fn local_sort(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    step = step_uniform;
    blocks(lid, wid.x, nwg.x, false);
}

@compute @workgroup_size(WG_SIZE)
fn local_merge(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    step = step_uniform;
    blocks(lid, wid.x, nwg.x, true);
}
