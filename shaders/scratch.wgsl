// The per-call scratch buffer every reduction kernel binds: status words (the first offending
// index of each data check, as !index, 0 = none), a few normalisers one dispatch computes for
// the next, and the workgroup partials that finish.wgsl folds. One binding instead of three
// keeps kernels within 8 storage buffers, the default limit of a caller's device.
// The host prepends STATUS_WORDS, SCRATCH_NORMS and the STATUS_* slots from src/status.rs.

struct Scratch {
    status: array<atomic<u32>, STATUS_WORDS>,
    norms: array<f32, SCRATCH_NORMS>,
    partials: array<Acc>,
}
