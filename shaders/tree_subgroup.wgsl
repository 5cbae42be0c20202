// Workgroup reduction strategy: a butterfly within each subgroup, one barrier, then the first
// subgroup folds the subgroups' results. Works for any power-of-two subgroup size (4 to 128)
// that divides WG_SIZE; the host checks that before picking this strategy.
//
// Every invocation of the workgroup must call workgroup_reduce from uniform control flow:
// the barriers live here and nowhere else. It may be called several times in a row (the
// leading barrier keeps one call's writes from racing the last call's reads). The result
// is valid in invocation 0.

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
    workgroupBarrier();
    var total = ACC_ZERO;
    // Only the first subgroup goes on; subgroup operations need no barrier.
    if ids.sid == 0u {
        var acc = ACC_ZERO;
        for (var k = ids.lane; k < ids.nsg; k += ids.sg_size) {
            acc = acc_combine(acc, tree[k]);
        }
        total = subgroup_fold(acc, ids.sg_size);
    }
    return total;
}
