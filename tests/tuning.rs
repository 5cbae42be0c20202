//! Autotuning on every adapter: a search times each candidate and caches the fastest; the
//! cache round-trips, and a corrupt, foreign or hand-edited one is ignored or fitted, never
//! fatal; `Off` gives the hand-picked settings exactly; an explicit `Tuning` wins; and every
//! candidate computes the same values as the float64 reference.

mod common;

use common::{normwise_error, seed};
use gpu_loss::autotune::Source;
use gpu_loss::{GpuContext, TuneFamily, Tuning, TuningMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A cache file of its own for each test (tests run in parallel).
fn fresh_cache() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "tuning-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("tuning.json")
}

fn contexts(cache: &std::path::Path) -> Vec<GpuContext> {
    let adapters = gpu_loss::adapters();
    assert!(!adapters.is_empty(), "no adapter");
    adapters
        .iter()
        .map(|a| {
            let ctx = GpuContext::from_adapter(a).unwrap();
            ctx.set_tuning_cache(Some(cache.to_path_buf()));
            ctx.set_tuning_mode(TuningMode::Cached);
            ctx
        })
        .collect()
}

/// mse's value and gradient against a float64 sum written here.
fn check_mse(ctx: &GpuContext, rng: &mut StdRng, n: usize, what: &str) {
    let x: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
    let y: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
    let (xt, yt) = (ctx.upload(&x, &[n]).unwrap(), ctx.upload(&y, &[n]).unwrap());
    let out = ctx
        .loss("mse")
        .unwrap()
        .input(&xt)
        .target(&yt)
        .with_grad()
        .run()
        .unwrap();
    let d: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| f64::from(*a) - f64::from(*b))
        .collect();
    let want = d.iter().map(|v| v * v).sum::<f64>() / n as f64;
    let got = f64::from(out.value.unwrap());
    assert!(
        (got - want).abs() <= 1e-5 * want.abs(),
        "{what}: mse {got} vs {want}"
    );
    let grad = ctx.download(out.grad.as_ref().unwrap()).unwrap();
    let want: Vec<f64> = d.iter().map(|v| 2.0 * v / n as f64).collect();
    let err = normwise_error(&grad, &want);
    assert!(err <= 2e-6, "{what}: mse gradient error {err}");
}

/// cross_entropy's value and gradient against a float64 log-sum-exp written here.
fn check_cross_entropy(
    ctx: &GpuContext,
    rng: &mut StdRng,
    rows: usize,
    classes: usize,
    what: &str,
) {
    let x: Vec<f32> = (0..rows * classes)
        .map(|_| rng.random_range(-4.0..4.0))
        .collect();
    let labels: Vec<i32> = (0..rows)
        .map(|_| rng.random_range(0..classes as i32))
        .collect();
    let xt = ctx.upload(&x, &[rows, classes]).unwrap();
    let lt = ctx.upload_i32(&labels, &[rows]).unwrap();
    let out = ctx
        .loss("cross_entropy")
        .unwrap()
        .input(&xt)
        .target(&lt)
        .with_grad()
        .run()
        .unwrap();
    let (mut total, mut grad_want) = (0f64, vec![0f64; rows * classes]);
    for (r, &label) in labels.iter().enumerate() {
        let row: Vec<f64> = x[r * classes..][..classes]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
        total += max + sum.ln() - row[label as usize];
        for (c, v) in row.iter().enumerate() {
            let p = (v - max).exp() / sum - if c == label as usize { 1.0 } else { 0.0 };
            grad_want[r * classes + c] = p / rows as f64;
        }
    }
    let want = total / rows as f64;
    let got = f64::from(out.value.unwrap());
    assert!(
        (got - want).abs() <= 1e-5 * want.abs(),
        "{what}: cross_entropy {got} vs {want}"
    );
    let grad = ctx.download(out.grad.as_ref().unwrap()).unwrap();
    let err = normwise_error(&grad, &grad_want);
    assert!(err <= 1e-5, "{what}: cross_entropy gradient error {err}");
}

/// A search times every candidate (the defaults first), picks the fastest, caches it; a new
/// context on the same adapter finds it in the cache. Every candidate it timed computes the
/// reference's values, on sizes that end mid-vector and mid-workgroup.
#[test]
fn a_search_caches_the_fastest_candidate_and_every_candidate_is_correct() {
    let mut rng = StdRng::seed_from_u64(seed());
    let cache = fresh_cache();
    let mut chosen = Vec::new();
    for ctx in contexts(&cache) {
        let name = ctx.adapter_name();
        let reports = ctx.autotune(&TuneFamily::ALL, false);
        for report in reports {
            let family = report.family;
            assert_eq!(report.source, Source::Search, "{name}: {family:?}");
            assert!(report.timed.len() >= 4, "{name}: {:?}", report.timed);
            let hand = Tuning::for_device(ctx.adapter_info(), ctx.features(), ctx.limits());
            assert_eq!(report.timed[0].tuning, hand, "{name}: defaults first");
            let fastest = report
                .timed
                .iter()
                .filter_map(|t| t.ms.map(|ms| (ms, t.tuning)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap();
            assert_eq!(report.chosen, fastest.1, "{name}: {family:?}");
            chosen.push((name.clone(), family, report.chosen));
            for t in &report.timed {
                assert!(
                    t.error.is_none(),
                    "{name}: {} failed: {:?}",
                    t.tuning,
                    t.error
                );
                // The same context, so that the search's pipelines are reused.
                let probe = &ctx;
                probe.set_tuning(t.tuning);
                let what = format!("{name} [{}]", t.tuning);
                match family {
                    TuneFamily::Elementwise => {
                        for n in [1, 3, 257, 4099] {
                            check_mse(probe, &mut rng, n, &what);
                        }
                    }
                    TuneFamily::Rows => {
                        for (rows, classes) in [(1, 3), (5, 257), (3, 4099)] {
                            check_cross_entropy(probe, &mut rng, rows, classes, &what);
                        }
                    }
                }
            }
        }
    }
    // The cache now holds every adapter's choices: a new context loads them, searches nothing.
    for ctx in contexts(&cache) {
        for report in ctx.autotune(&TuneFamily::ALL, false) {
            let name = ctx.adapter_name();
            assert_eq!(report.source, Source::Cache, "{name}");
            assert!(report.timed.is_empty());
            let want = chosen
                .iter()
                .find(|c| c.0 == name && c.1 == report.family)
                .unwrap();
            assert_eq!(report.chosen, want.2, "{name}: {:?}", report.family);
        }
    }
}

/// A cache that is not JSON, or of another format, is ignored with a warning; a foreign
/// adapter's entry is kept when ours is added; a hand-edited entry asking for more than the
/// device allows is fitted to it.
#[test]
fn a_corrupt_foreign_or_edited_cache_is_never_fatal() {
    let cache = fresh_cache();
    std::fs::write(&cache, b"{ this is not json").unwrap();
    let ctx = &contexts(&cache)[0];
    let mut rng = StdRng::seed_from_u64(seed());
    // The first call decides: the file is ignored, a search runs, and the call is right.
    check_mse(ctx, &mut rng, 1000, "after a corrupt cache");
    let text = std::fs::read_to_string(&cache).unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).expect("rewritten as JSON");
    let mut entries = file["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{text}");

    // A foreign adapter's entry, and ours edited to ask for too much.
    let mut foreign = entries[0].clone();
    foreign["key"]["adapter"] = "Some Other GPU".into();
    entries[0]["tuning"]["workgroup_size"] = (1u32 << 20).into();
    entries[0]["tuning"]["max_workgroups"] = (u32::MAX).into();
    entries.push(foreign);
    let edited = serde_json::json!({"format": file["format"], "version": file["version"], "entries": entries});
    std::fs::write(&cache, edited.to_string()).unwrap();
    let ctx2 = GpuContext::from_device(ctx.device().clone(), ctx.queue().clone()).unwrap();
    ctx2.set_tuning_cache(Some(cache.clone()));
    let report = &ctx2.autotune(&[TuneFamily::Elementwise], false)[0];
    assert_eq!(report.source, Source::Cache);
    let limits = ctx2.limits();
    assert!(report.chosen.workgroup_size <= limits.max_compute_invocations_per_workgroup);
    assert!(report.chosen.max_workgroups <= limits.max_compute_workgroups_per_dimension);
    check_mse(&ctx2, &mut rng, 4099, "after an edited cache");

    // Another format: ignored; the search's result replaces it, the foreign entry kept.
    let mut other = edited.clone();
    other["version"] = 99.into();
    std::fs::write(&cache, other.to_string()).unwrap();
    let report = &ctx2.autotune(&[TuneFamily::Elementwise], true)[0];
    assert_eq!(report.source, Source::Search);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        !text.contains("Some Other GPU"),
        "a file of another version is not merged"
    );
    std::fs::write(&cache, edited.to_string()).unwrap();
    ctx2.autotune(&[TuneFamily::Elementwise], true);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        text.contains("Some Other GPU"),
        "the foreign entry is kept: {text}"
    );
}

/// `Off` runs the hand-picked settings of `Tuning::for_device`, bit for bit the same as a
/// context given them explicitly; an explicit `Tuning` wins over `Retune` and nothing is
/// searched or cached.
#[test]
fn off_gives_the_hand_picked_settings_and_an_explicit_tuning_wins() {
    let cache = fresh_cache();
    let mut rng = StdRng::seed_from_u64(seed());
    for ctx in contexts(&cache) {
        let hand = Tuning::for_device(ctx.adapter_info(), ctx.features(), ctx.limits());
        ctx.set_tuning_mode(TuningMode::Off);
        let n = 4099;
        let x: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
        let y: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
        let value = |c: &GpuContext| {
            let (xt, yt) = (c.upload(&x, &[n]).unwrap(), c.upload(&y, &[n]).unwrap());
            c.loss("huber")
                .unwrap()
                .input(&xt)
                .target(&yt)
                .value()
                .unwrap()
        };
        let off = value(&ctx);
        for family in TuneFamily::ALL {
            assert_eq!(ctx.tuning_for(family), hand, "{}", ctx.adapter_name());
        }
        let explicit = GpuContext::from_device(ctx.device().clone(), ctx.queue().clone()).unwrap();
        explicit.set_tuning_cache(Some(cache.clone()));
        explicit.set_tuning(hand);
        explicit.set_tuning_mode(TuningMode::Retune);
        assert_eq!(off.to_bits(), value(&explicit).to_bits());
        assert_eq!(explicit.tuning_for(TuneFamily::Elementwise), hand);
        assert_eq!(
            explicit.autotune(&TuneFamily::ALL, false)[0].source,
            Source::Defaults
        );
    }
    assert!(!cache.exists(), "nothing was searched, so nothing cached");
    assert_eq!(TuningMode::parse("OFF"), Some(TuningMode::Off));
    assert_eq!(TuningMode::parse("retune"), Some(TuningMode::Retune));
    assert_eq!(TuningMode::parse("fast"), None);
}
