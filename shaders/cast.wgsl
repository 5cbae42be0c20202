// Converts a tensor to another float dtype, or copies it (the identity the packing is tested
// through): each load widens to f32 exactly, each store rounds to nearest even.
//
// The host (src/kernel/source.rs) prepends WG_SIZE, BLOCKED, LANES, walk.wgsl, one vector
// variant, halves.wgsl, and bindings 1 (src) and 2 (dst) with load_src and store_dst.

struct Cast {
    count: u32,   // elements in this dispatch, a multiple of VEC
    src_at: u32,
    dst_at: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> seg_uniform: Cast;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> seg: Cast;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    seg = seg_uniform;
    let walk = walk_in(wid.x * WG_SIZE + lid, nwg.x * WG_SIZE, seg.count / VEC);
    for (var i = walk.first; i < walk.end; i += walk.step) {
        store_dst(seg.dst_at, i, load_src(seg.src_at, i));
    }
}
