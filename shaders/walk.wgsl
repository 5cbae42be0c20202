// Which elements each invocation visits: `for (i = first; i < end; i += step)`.
//
// Two layouts, picked per adapter (src/tuning.rs):
// - grid-stride (GPUs): invocation k of the whole grid visits k, k + grid, k + 2·grid, ...;
//   each step a subgroup reads consecutive elements (coalesced), and the workgroup count can
//   stay bounded whatever the size.
// - blocked (CPU drivers such as lavapipe, which run a workgroup LANES invocations at a time,
//   one SIMD group after another): each group of LANES invocations owns one contiguous span
//   and walks it in steps of LANES, so each SIMD group streams through memory in order
//   instead of striding across the whole tensor.

struct Walk {
    first: u32,
    end: u32,
    step: u32,
}

// Invocation `index` of `count` sharing n items (a whole grid over a tensor, or the lanes of
// one row). Blocked needs `count` to be a multiple of LANES, else it strides.
fn walk_in(index: u32, count: u32, n: u32) -> Walk {
    if BLOCKED && count % LANES == 0u {
        let groups = count / LANES;
        let span = (n + groups * LANES - 1u) / (groups * LANES) * LANES;
        let start = index / LANES * span;
        return Walk(start + index % LANES, min(start + span, n), LANES);
    }
    return Walk(index, n, count);
}
