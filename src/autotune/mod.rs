//! Autotuning: the launch settings of a kernel family chosen by timing a few candidates on the
//! adapter itself, once, and cached on disk (`cache`). The candidates and the search live
//! here; what is timed (a representative call of each family) is `call::autotune`'s.
//!
//! Every candidate is a valid `Tuning`, covered by the same tests as the defaults, so a choice
//! changes speed, never correctness; the same input, adapter and settings still give the same
//! bits.

pub mod cache;

use crate::context::GpuContext;
use crate::error::Result;
use crate::tuning::{Layout, Slot, TuneFamily, Tuning, TuningMode};
use std::io::IsTerminal;
use std::time::Duration;

/// Where a family's settings came from.
///
/// ```no_run
/// use gpu_loss::{autotune::Source, TuneFamily};
/// let ctx = gpu_loss::GpuContext::new()?;
/// let report = &ctx.autotune(&[TuneFamily::Rows], true)[0]; // retune: search whatever is cached
/// assert_eq!(report.source, Source::Search);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The hand-picked ones (`GPU_LOSS_TUNING=off`, or a `Tuning` set by the caller).
    Defaults,
    /// The cache file.
    Cache,
    /// A search just now.
    Search,
}

impl Source {
    /// As reports and the cache say it.
    ///
    /// ```
    /// assert_eq!(gpu_loss::autotune::Source::Cache.name(), "cache");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Source::Defaults => "defaults",
            Source::Cache => "cache",
            Source::Search => "search",
        }
    }
}

/// One candidate's time.
///
/// ```no_run
/// let ctx = gpu_loss::GpuContext::new()?;
/// let report = &ctx.autotune(&[gpu_loss::TuneFamily::Elementwise], true)[0];
/// let fastest = report.timed.iter().filter(|t| t.ms.is_some()).min_by(|a, b| a.ms.unwrap().total_cmp(&b.ms.unwrap()));
/// assert_eq!(fastest.unwrap().tuning, report.chosen);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Timed {
    /// The candidate settings.
    pub tuning: Tuning,
    /// Best of the rounds' medians, in milliseconds; None when the candidate failed.
    pub ms: Option<f64>,
    /// Why it failed (a compile or device error): it is then never chosen.
    pub error: Option<String>,
}

/// A family's settings on one adapter and how they were chosen.
///
/// ```no_run
/// let ctx = gpu_loss::GpuContext::new()?;
/// for r in ctx.autotune(&gpu_loss::TuneFamily::ALL, false) {
///     println!("{} on {}: {:?} ({}, timed on {})", r.family.name(), r.adapter, r.chosen, r.source.name(), r.workload);
/// }
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TuneReport {
    /// The kernel family.
    pub family: TuneFamily,
    /// The adapter, as "name (Backend)".
    pub adapter: String,
    /// The settings chosen.
    pub chosen: Tuning,
    /// How they were chosen.
    pub source: Source,
    /// The candidates timed (empty unless `source` is `Search`), defaults first.
    pub timed: Vec<Timed>,
    /// What was timed, e.g. "mse 4194304, value and gradient".
    pub workload: String,
}

/// The settings worth timing for `family`, the defaults first, each fitted to the device and
/// none twice. Few and chosen per kind of device, so a search takes seconds on a CPU driver.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// use gpu_loss::TuneFamily;
/// let all = gpu_loss::autotune::candidates(&ctx, TuneFamily::Rows, ctx.tuning());
/// assert_eq!(all[0], ctx.tuning()); // the defaults first
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn candidates(ctx: &GpuContext, family: TuneFamily, base: Tuning) -> Vec<Tuning> {
    let mut out = vec![base];
    let vary = |f: &dyn Fn(Tuning) -> Tuning| f(base);
    let cpu = matches!(base.layout, Layout::Blocked { .. });
    let mut more = Vec::new();
    if cpu {
        // A CPU driver: fewer, bigger workgroups amortise their start-up; more balance the
        // threads. Subgroup reductions are emulated there, and may lose to the shared tree.
        for wg in [64, 128] {
            more.push(vary(&|t| Tuning {
                workgroup_size: wg,
                ..t
            }));
        }
        for mw in [16, 32, 128, 256] {
            more.push(vary(&|t| Tuning {
                max_workgroups: mw,
                ..t
            }));
        }
        // Spans walked by one or two invocations instead of one SIMD group: on lavapipe mse
        // and huber at 2^24 took 14.5–16 ms at one or two lanes against 18.5–20 at eight.
        for lanes in [1, 2] {
            more.push(vary(&|t| Tuning {
                layout: Layout::Blocked { lanes },
                ..t
            }));
        }
    } else {
        for wg in [64, 128, 512] {
            more.push(vary(&|t| Tuning {
                workgroup_size: wg,
                ..t
            }));
        }
        for mw in [1024, 16384, 65535] {
            more.push(vary(&|t| Tuning {
                max_workgroups: mw,
                ..t
            }));
        }
    }
    more.push(vary(&|t| Tuning {
        subgroups: !t.subgroups,
        ..t
    }));
    // Fitted back to checked where the driver does not bound buffer accesses itself.
    more.push(vary(&|t| Tuning {
        runtime_checks: false,
        ..t
    }));
    if family == TuneFamily::Elementwise {
        // f16 read natively or unpacked (the workload has an f16 call where the device has
        // SHADER_F16; fitted away elsewhere).
        more.push(vary(&|t| Tuning {
            native_f16: !t.native_f16,
            ..t
        }));
    }
    if family == TuneFamily::Rows {
        more.push(vary(&|t| Tuning {
            cache_rows: !t.cache_rows,
            ..t
        }));
        if cpu {
            // Few lanes a row, each walking its own long span, so that the row's reduction
            // (barriers, which a CPU driver pays as thread switches) is rare: on lavapipe
            // cross_entropy at 512 × 32768 took 14 ms at 256 VTs a lane against 21 at 8.
            // Unchecked too: the search varies one thing at a time, and both pay together.
            for (row_span, runtime_checks) in [(256, true), (256, false), (1024, false)] {
                more.push(vary(&|t| Tuning {
                    row_span,
                    layout: Layout::Blocked { lanes: 1 },
                    runtime_checks,
                    ..t
                }));
            }
        }
    }
    let (info, features, limits) = (ctx.adapter_info(), ctx.features(), ctx.limits());
    for t in more {
        let t = t.fit(info, features, limits);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Times every candidate with `time` (one representative call recorded under the settings
/// given) in interleaved rounds, so that a burst of load on a shared machine hurts every
/// candidate alike, and keeps each one's best round. A candidate that fails is reported and
/// skipped; if all fail, the defaults stand. Once this returns the family runs what it ran
/// before: a search alone decides nothing (`GpuContext::autotune` does).
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// use gpu_loss::{autotune, timing, TuneFamily};
/// # let x = ctx.upload(&[0.5; 4096], &[4096])?;
/// let candidates = autotune::candidates(&ctx, TuneFamily::Elementwise, ctx.tuning());
/// let (best, timed) = autotune::search(&ctx, TuneFamily::Elementwise, &candidates, 3, |_| {
///     timing::median_time(&ctx, 3, |enc| ctx.loss("mse")?.input(&x).target(&x).record(enc).map(drop))
/// });
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn search(
    ctx: &GpuContext,
    family: TuneFamily,
    candidates: &[Tuning],
    rounds: usize,
    mut time: impl FnMut(&Tuning) -> Result<Duration>,
) -> (Tuning, Vec<Timed>) {
    let settings = &ctx.inner.settings;
    let progress = std::io::stderr().is_terminal();
    let mut timed: Vec<Timed> = candidates
        .iter()
        .map(|&tuning| Timed {
            tuning,
            ms: None,
            error: None,
        })
        .collect();
    let steps = rounds * timed.len();
    // The family's own settings come back after the timing: a search alone decides nothing.
    let before = settings.slot(family);
    for round in 0..rounds {
        for (i, c) in timed.iter_mut().enumerate() {
            if c.error.is_some() {
                continue;
            }
            if progress {
                eprint!(
                    "\rgpu-loss: tuning {} kernels on {}: {}/{steps}",
                    family.name(),
                    ctx.adapter_name(),
                    round * candidates.len() + i + 1
                );
            }
            settings.set_slot(family, Slot::Trying(c.tuning));
            match time(&c.tuning) {
                Ok(d) => {
                    let ms = d.as_secs_f64() * 1e3;
                    c.ms = Some(c.ms.map_or(ms, |m| m.min(ms)));
                }
                Err(e) => {
                    c.ms = None;
                    c.error = Some(e.to_string());
                }
            }
        }
    }
    settings.set_slot(family, before);
    if progress {
        eprint!("\r\x1b[2K");
    }
    let best = timed
        .iter()
        .filter_map(|c| c.ms.map(|ms| (ms, c.tuning)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(candidates[0], |(_, t)| t);
    (best, timed)
}

/// Decides `family`'s settings when its slot is open: the defaults under `Off`, the cache
/// under `Cached` when it has them, else a search with `time`, whose choice is cached.
/// `force` searches whatever the mode and the cache say (`gpu-loss tune`).
pub(crate) fn decide(
    ctx: &GpuContext,
    family: TuneFamily,
    force: bool,
    workload: &str,
    time: impl FnMut(&Tuning) -> Result<Duration>,
) -> TuneReport {
    let settings = &ctx.inner.settings;
    let base = settings.base();
    let key = cache::Key::of(ctx.adapter_info());
    let file = settings.cache();
    let report = |chosen, source, timed| TuneReport {
        family,
        adapter: ctx.adapter_name(),
        chosen,
        source,
        timed,
        workload: workload.into(),
    };
    let mode = settings.mode();
    if !force && (settings.explicit() || mode == TuningMode::Off) {
        return report(base, Source::Defaults, Vec::new());
    }
    if !force && mode == TuningMode::Cached {
        if let Some(t) = file.as_deref().and_then(|f| cache::load(f, &key, family)) {
            // The binding size is the device's, not a choice; the rest is fitted again, so
            // that a hand-edited file cannot ask for more than the device allows.
            let t = Tuning {
                max_binding_bytes: base.max_binding_bytes,
                ..t
            }
            .fit(ctx.adapter_info(), ctx.features(), ctx.limits());
            return report(t, Source::Cache, Vec::new());
        }
    }
    let (best, timed) = search(ctx, family, &candidates(ctx, family, base), 3, time);
    if let Some(f) = &file {
        cache::store(f, &key, family, best);
    }
    report(best, Source::Search, timed)
}

impl GpuContext {
    /// The settings a call of `family` runs with now: the tuned choice once made, else the
    /// hand-picked ones (a family is tuned at its first call).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// use gpu_loss::TuneFamily;
    /// let settings = ctx.tuning_for(TuneFamily::Rows); // e.g. "wg 64 · blocked×8 · ..."
    /// println!("{settings}");
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn tuning_for(&self, family: TuneFamily) -> Tuning {
        self.inner.settings.of(family)
    }

    /// The settings `loss`'s kernels run with now (for reports: which settings ran).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let loss = gpu_loss::catalogue::find("cross_entropy").unwrap();
    /// let ran = ctx.tuning_of(loss);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn tuning_of(&self, loss: crate::catalogue::Loss) -> Tuning {
        loss.tuned_family()
            .map_or_else(|| self.tuning(), |f| self.tuning_for(f))
    }

    /// Where launch settings come from (`GPU_LOSS_TUNING` gives the default). Families decide
    /// again at their next call; a `Tuning` set with `set_tuning` still wins.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// ctx.set_tuning_mode(gpu_loss::TuningMode::Off); // the hand-picked settings, never timed
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn set_tuning_mode(&self, mode: TuningMode) {
        self.inner.settings.set_mode(mode);
    }

    /// How this context chooses its launch settings.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// assert_eq!(ctx.tuning_mode(), gpu_loss::TuningMode::Cached); // unless GPU_LOSS_TUNING says
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn tuning_mode(&self) -> TuningMode {
        self.inner.settings.mode()
    }

    /// The file tuned settings are cached in (None: kept in memory only). The default is
    /// `$GPU_LOSS_CACHE_DIR/tuning.json`, else `gpu-loss/tuning.json` in the platform cache
    /// directory.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// ctx.set_tuning_cache(Some("/tmp/my-tuning.json".into()));
    /// ctx.set_tuning_cache(None); // choices in memory only
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn set_tuning_cache(&self, file: Option<std::path::PathBuf>) {
        self.inner.settings.set_cache(file);
    }

    /// The file tuned settings are cached in, if any.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// if let Some(file) = ctx.tuning_cache() {
    ///     println!("tuned settings are cached in {}", file.display());
    /// }
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn tuning_cache(&self) -> Option<std::path::PathBuf> {
        self.inner.settings.cache()
    }
}
