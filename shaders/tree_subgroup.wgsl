// Workgroup reduction strategy: a butterfly within each subgroup, then a shared-memory tree
// over the subgroups' results. Works for any power-of-two subgroup size (4 to 128) that
// divides WG_SIZE; the host checks that before picking this strategy.
//
// Every invocation of the workgroup must call workgroup_reduce from uniform control flow: the
// barriers live here and nowhere else. The result is valid in invocation 0.

struct Ids {
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_id) sid: u32,
    @builtin(num_subgroups) nsg: u32,
}

// One slot per subgroup; 4 is the smallest subgroup size an adapter may report.
var<workgroup> tree: array<Acc, WG_SIZE / 4u>;

fn subgroup_fold(v: Acc, sg_size: u32) -> Acc {
    var a = v;
    for (var mask = sg_size / 2u; mask > 0u; mask = mask / 2u) {
        a = acc_combine(a, subgroupShuffleXor(a, mask));
    }
    return a;
}

fn workgroup_reduce(ids: Ids, v: Acc) -> Acc {
    let folded = subgroup_fold(v, ids.sg_size);
    workgroupBarrier();
    if ids.lane == 0u {
        tree[ids.sid] = folded;
    }
    // nsg is the same in every invocation, so this loop (and its barriers) is uniform.
    let count = ids.nsg;
    var stride = 0u;
    if count > 1u {
        stride = 1u << (31u - countLeadingZeros(count - 1u));
    }
    loop {
        workgroupBarrier();
        if stride == 0u {
            break;
        }
        if ids.lid < stride && ids.lid + stride < count {
            tree[ids.lid] = acc_combine(tree[ids.lid], tree[ids.lid + stride]);
        }
        stride = stride / 2u;
    }
    return tree[0];
}
