// The per-call scratch buffer every reduction kernel binds: status words (the first offending
// index of each data check, as !index, 0 = none), a few normalisers one dispatch computes for
// the next, and the workgroup partials that finish.wgsl folds. One binding instead of three
// keeps kernels within 8 storage buffers, the default limit of a caller's device.

struct Scratch {
    status: array<atomic<u32>, 16>,
    norms: array<f32, 8>,
    partials: array<Acc>,
}

// Status slots (src/status.rs has the same order).
const STATUS_NAN_INPUT: u32 = 0u;
const STATUS_NAN_TARGET: u32 = 1u;
const STATUS_NAN_WEIGHT: u32 = 2u;
const STATUS_NAN_AUX: u32 = 3u;
const STATUS_INPUT_DOMAIN: u32 = 4u;
const STATUS_AUX_DOMAIN: u32 = 5u;
const STATUS_BAD_LABEL: u32 = 6u;
const STATUS_TARGET_DOMAIN: u32 = 7u;
