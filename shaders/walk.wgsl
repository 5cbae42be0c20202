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

fn walk_start(lid: u32, wid: u32, nwg: u32, n: u32) -> Walk {
    if BLOCKED {
        let groups = nwg * (WG_SIZE / LANES);
        let group = wid * (WG_SIZE / LANES) + lid / LANES;
        let span = (n + groups * LANES - 1u) / (groups * LANES) * LANES;
        let start = group * span;
        return Walk(start + lid % LANES, min(start + span, n), LANES);
    }
    return Walk(wid * WG_SIZE + lid, n, nwg * WG_SIZE);
}
