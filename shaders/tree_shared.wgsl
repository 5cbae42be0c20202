// Workgroup reduction strategy: a shared-memory tree (any adapter).
//
// Every invocation of the workgroup must call workgroup_reduce from uniform control flow: the
// barriers live here and nowhere else. The result is valid in invocation 0.

struct Ids {
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
}

var<workgroup> tree: array<Acc, WG_SIZE>;

fn workgroup_reduce(ids: Ids, v: Acc) -> Acc {
    workgroupBarrier();
    tree[ids.lid] = v;
    for (var stride = WG_SIZE / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if ids.lid < stride {
            tree[ids.lid] = acc_combine(tree[ids.lid], tree[ids.lid + stride]);
        }
    }
    workgroupBarrier();
    return tree[0];
}
