// Workgroup reduction strategy: a shared-memory tree of radix 16 (any adapter).
//
// Radix 16 rather than 2: two barriers instead of eight for 256 invocations. A barrier is
// cheap on a GPU but costly where workgroups run as coroutines on a CPU (llvmpipe), and
// sixteen serial combines are cheap everywhere.
//
// Every invocation of the workgroup must call workgroup_reduce from uniform control flow:
// the barriers live here and nowhere else. It may be called several times in a row (the
// leading barrier keeps one call's writes from racing the last call's reads). The result
// is valid in invocation 0.

struct Ids {
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
}

const TREE_RADIX: u32 = 16u;

// Two halves, read and written in turn, so each round needs one barrier, not two.
var<workgroup> tree: array<Acc, 2u * WG_SIZE>;

fn workgroup_reduce(ids: Ids, v: Acc) -> Acc {
    workgroupBarrier();
    var acc = v;
    var half = 0u;
    // Each round, invocation i folds live entries i·16 .. i·16 + 15 into its own value.
    for (var live = WG_SIZE; live > 1u; live = (live + TREE_RADIX - 1u) / TREE_RADIX) {
        tree[half + ids.lid] = acc;
        workgroupBarrier();
        acc = ACC_ZERO;
        let first = ids.lid * TREE_RADIX;
        for (var k = first; k < min(first + TREE_RADIX, live); k++) {
            acc = acc_combine(acc, tree[half + k]);
        }
        half = WG_SIZE - half;
    }
    return acc;
}
