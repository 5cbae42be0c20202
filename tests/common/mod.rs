//! Shared by the GPU test files: every adapter found, each under several launch settings, and
//! comparisons against the float64 reference.
#![allow(dead_code)]

use gpu_loss::tuning::Layout;
use gpu_loss::{GpuContext, TuneFamily, Tuning};
use std::sync::OnceLock;

/// A context with a name saying which adapter and which launch settings it runs.
pub struct Target {
    pub name: String,
    pub ctx: GpuContext,
}

/// The tuning cache of the test binaries: a search on an adapter happens once per target
/// folder, not once per binary, and never touches the user's own cache.
pub fn tuning_cache() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tuning.json")
}

/// Every adapter, each under three settings, so that the paths real GPUs take are run here
/// too: the adapter's own choice (autotuned, as a user's first calls get it, unless
/// GPU_LOSS_TUNING says otherwise); the discrete-GPU layout (grid-stride, many workgroups); and
/// the shared-memory tree with small bindings, which splits even small tensors into several
/// dispatches. Created once per test binary.
///
/// A machine with no adapter fails here, saying how to get one: tests do not pass by skipping.
pub fn targets() -> &'static [Target] {
    static TARGETS: OnceLock<Vec<Target>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let adapters = gpu_loss::adapters();
        if adapters.is_empty() {
            panic!("{}", gpu_loss::LossError::NoAdapter(String::new()));
        }
        // CI names the backends it installed, so that a missing one fails instead of
        // quietly testing less: GPU_LOSS_REQUIRE_BACKENDS=vulkan,gl
        if let Ok(required) = std::env::var("GPU_LOSS_REQUIRE_BACKENDS") {
            for want in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let found = adapters
                    .iter()
                    .any(|a| format!("{:?}", a.get_info().backend).eq_ignore_ascii_case(want));
                assert!(
                    found,
                    "GPU_LOSS_REQUIRE_BACKENDS asks for {want}, but the adapters are {:?}",
                    adapters.iter().map(|a| a.get_info()).collect::<Vec<_>>()
                );
            }
        }
        let mut out = Vec::new();
        for adapter in &adapters {
            let make = |label: &str, f: &dyn Fn(Tuning) -> Tuning| {
                let ctx = GpuContext::from_adapter(adapter).expect("device");
                ctx.set_tuning(f(ctx.tuning()));
                Target {
                    name: format!("{} [{label}: {:?}]", ctx.adapter_name(), ctx.tuning()),
                    ctx,
                }
            };
            out.push({
                let ctx = GpuContext::from_adapter(adapter).expect("device");
                ctx.set_tuning_cache(Some(tuning_cache()));
                ctx.autotune(&TuneFamily::ALL, false);
                let tuned: Vec<String> = TuneFamily::ALL
                    .iter()
                    .map(|&f| format!("{}: {}", f.name(), ctx.tuning_for(f)))
                    .collect();
                Target {
                    name: format!("{} [default, {}]", ctx.adapter_name(), tuned.join("; ")),
                    ctx,
                }
            });
            out.push(make("gpu layout", &|t| Tuning {
                layout: Layout::GridStride,
                max_workgroups: 4096,
                cache_rows: false,
                // f16 read as WGSL f16 where the device can (fitted away elsewhere).
                native_f16: true,
                ..t
            }));
            out.push(make("shared tree, small bindings", &|t| Tuning {
                // On CPU drivers, one lane a span (a tuner candidate the default may not pick).
                layout: match t.layout {
                    Layout::Blocked { .. } => Layout::Blocked { lanes: 1 },
                    grid => grid,
                },
                subgroups: false,
                // Unchecked elementwise modules (Vulkan only) meet windows that split tensors.
                runtime_checks: false,
                native_f16: false,
                workgroup_size: 64,
                // Rows shared by few lanes, each walking a long span (a CPU driver's candidate).
                row_span: 64,
                max_binding_bytes: 8192,
                ..t
            }));
        }
        out
    })
}

/// The contexts with the adapters' own settings only (for the costly tests).
pub fn defaults() -> impl Iterator<Item = &'static Target> {
    targets().iter().filter(|t| t.name.contains("[default"))
}

/// A seed that differs from run to run (fresh data), printed so a failure can be replayed
/// with GPU_LOSS_SEED.
pub fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        std::env::var("GPU_LOSS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
    });
    // In every test that draws, so that a failing test's output names its seed.
    eprintln!("random inputs from GPU_LOSS_SEED={seed}");
    seed
}

/// Largest |got - want| over elements, relative to the largest |want| (a normwise error that
/// is meaningful when some elements are 0). NaN anywhere counts as infinite error.
pub fn normwise_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let mut worst = 0f64;
    for (g, w) in got.iter().zip(want) {
        let g = *g as f64;
        if g.is_nan() != w.is_nan() {
            return f64::INFINITY;
        }
        if !w.is_nan() {
            worst = worst.max((g - w).abs());
        }
    }
    if scale == 0.0 {
        worst
    } else {
        worst / scale
    }
}

/// Largest elementwise error, each relative to its own |want| with a floor of `floor` × the
/// largest |want|.
pub fn elementwise_error(got: &[f32], want: &[f64], floor: f64) -> (f64, usize) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = want
        .iter()
        .fold(0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let mut worst = (0f64, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let e = (*g as f64 - w).abs() / w.abs().max(floor * scale);
        let e = if e.is_nan() { f64::INFINITY } else { e };
        if e > worst.0 {
            worst = (e, i);
        }
    }
    worst
}

/// triplet_margin's ‖anchor − positive‖_p + ‖anchor − negative‖_p per row of `c`: the size of
/// the two terms each row's loss is a difference of. Each is rounded in f32 on the GPU, so a
/// tolerance is relative to them, not to a loss near the hinge.
pub fn triplet_distances(
    anchor: &[f64],
    positive: &[f64],
    negative: &[f64],
    c: usize,
    p: f64,
) -> Vec<f64> {
    let rows = anchor.len() / c.max(1);
    let distance = |x: &[f64], r: usize| {
        (r * c..(r + 1) * c)
            .map(|i| (anchor[i] - x[i]).abs().powf(p))
            .sum::<f64>()
            .powf(1.0 / p)
    };
    (0..rows)
        .map(|r| distance(positive, r) + distance(negative, r))
        .collect()
}
