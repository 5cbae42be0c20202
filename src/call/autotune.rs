//! What autotuning times: one representative call per family, through the same builder every
//! caller uses, at a size that fills the device. `family::record` asks `ensure` before it
//! records, so a family's first call on a context decides its settings (`autotune::decide`).

use super::LossCall;
use crate::autotune::{self, TuneReport};
use crate::context::GpuContext;
use crate::error::Result;
use crate::tensor::{DType, Tensor};
use crate::timing;
use crate::tuning::{Slot, TuneFamily, Tuning};
use std::cell::Cell;
use std::time::Duration;

thread_local! {
    /// Set on the thread running a search: its own calls take the candidate being timed.
    static SEARCHING: Cell<bool> = const { Cell::new(false) };
}

/// The calls timed for one family, with their tensors.
struct Workload {
    family: TuneFamily,
    input: Tensor,
    target: Tensor,
    grad: Tensor,
    /// The elementwise family's f16 call (input, target, gradient) where the device has
    /// SHADER_F16, so that `Tuning::native_f16` is timed.
    f16: Option<[Tensor; 3]>,
}

impl Workload {
    /// Shape: elements for the elementwise family, [rows, classes] for the rows. Big enough to
    /// stream from memory rather than cache (a CPU's last-level cache can hold 2^22 f32 pairs:
    /// this machine's 32 MiB did, and there a SIMD group walking one span beat one or two
    /// lanes a span, which lose by a third at 2^24), small enough to time in tens of
    /// milliseconds on a CPU driver.
    fn shape(ctx: &GpuContext, family: TuneFamily) -> Vec<usize> {
        let elements: usize = 1 << 24;
        let cap = (ctx.limits().max_buffer_size / 4) as usize;
        let elements = elements.min(cap).max(1024);
        match family {
            TuneFamily::Elementwise => vec![elements],
            TuneFamily::Rows => vec![(elements / 32768).max(1), 32768],
        }
    }

    fn describe(ctx: &GpuContext, family: TuneFamily) -> String {
        let shape = Workload::shape(ctx, family);
        let loss = match family {
            TuneFamily::Elementwise => "mse",
            TuneFamily::Rows => "cross_entropy",
        };
        let f16 = family == TuneFamily::Elementwise
            && ctx.features().contains(wgpu::Features::SHADER_F16);
        let dtypes = if f16 { "f32 and f16" } else { "f32" };
        format!("{loss} {shape:?} in {dtypes}: value, and value with gradient")
    }

    fn new(ctx: &GpuContext, family: TuneFamily) -> Result<Workload> {
        let shape = Workload::shape(ctx, family);
        let n: usize = shape.iter().product();
        // Values spread over a few units, any fixed pattern: only the time matters.
        let wave = |k: usize, i: usize| ((i.wrapping_mul(k) % 1999) as f32 - 999.5) / 400.0;
        let input = ctx.upload(&(0..n).map(|i| wave(7919, i)).collect::<Vec<_>>(), &shape)?;
        let target = match family {
            TuneFamily::Elementwise => ctx.upload(
                &(0..n).map(|i| wave(104_729, i)).collect::<Vec<_>>(),
                &shape,
            )?,
            TuneFamily::Rows => {
                let labels: Vec<i32> = (0..shape[0])
                    .map(|r| ((r * 7919) % shape[1]) as i32)
                    .collect();
                ctx.upload_i32(&labels, &shape[..1])?
            }
        };
        let grad = ctx.zeros(&shape)?;
        let native = ctx.features().contains(wgpu::Features::SHADER_F16);
        let f16 = match family {
            TuneFamily::Elementwise if native => Some([
                ctx.cast(&input, DType::F16)?,
                ctx.cast(&target, DType::F16)?,
                ctx.cast(&grad, DType::F16)?,
            ]),
            _ => None,
        };
        Ok(Workload {
            family,
            input,
            target,
            grad,
            f16,
        })
    }

    fn call<'a>(&'a self, ctx: &'a GpuContext, [x, y]: [&'a Tensor; 2]) -> Result<LossCall<'a>> {
        let name = match self.family {
            TuneFamily::Elementwise => "mse",
            TuneFamily::Rows => "cross_entropy",
        };
        Ok(ctx.loss(name)?.input(x).target(y))
    }

    /// The value alone and the value with its gradient, each one run after a warm-up (the
    /// search's interleaved rounds take the best); the same in f16 where there is an f16 call.
    fn time(&self, ctx: &GpuContext) -> Result<Duration> {
        let f32s = [&self.input, &self.target, &self.grad];
        let mut total = Duration::ZERO;
        for [x, y, g] in [Some(f32s), self.f16.as_ref().map(|[x, y, g]| [x, y, g])]
            .into_iter()
            .flatten()
        {
            total +=
                timing::median_time(ctx, 1, |enc| self.call(ctx, [x, y])?.record(enc).map(drop))?;
            total += timing::median_time(ctx, 1, |enc| {
                self.call(ctx, [x, y])?.grad_into(g).record(enc).map(drop)
            })?;
        }
        Ok(total)
    }
}

/// Decides `family`'s settings (cache, search or defaults) on this thread, marked as the one
/// searching so that its own calls run the candidates.
fn decide(ctx: &GpuContext, family: TuneFamily, force: bool) -> TuneReport {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SEARCHING.set(false);
        }
    }
    SEARCHING.set(true);
    let _reset = Reset;
    let mut workload: Option<Workload> = None;
    let describe = Workload::describe(ctx, family);
    autotune::decide(ctx, family, force, &describe, |_: &Tuning| {
        if workload.is_none() {
            workload = Some(Workload::new(ctx, family)?);
        }
        workload
            .as_ref()
            .map_or(Ok(Duration::ZERO), |w| w.time(ctx))
    })
}

/// Before a call of `family` records: decides its settings if this context has not yet.
/// Concurrent first calls wait for one decision.
pub(crate) fn ensure(ctx: &GpuContext, family: TuneFamily) {
    let settings = &ctx.inner.settings;
    match settings.slot(family) {
        Slot::Chosen(_) => return,
        Slot::Trying(_) if SEARCHING.get() => return,
        _ if settings.explicit() => return,
        _ => {}
    }
    let _one = settings.search.lock().unwrap_or_else(|e| e.into_inner());
    if let Slot::Chosen(_) = settings.slot(family) {
        return;
    }
    let report = decide(ctx, family, false);
    settings.set_slot(family, Slot::Chosen(report.chosen));
}

impl GpuContext {
    /// Decides the settings of `families` now rather than at their first calls, and says how:
    /// from the cache, by a search (the candidates and their times), or the defaults.
    /// `retune` searches whatever the mode and the cache say, and caches the choice. A context
    /// whose `Tuning` was set with `set_tuning` keeps running it.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// use gpu_loss::TuneFamily;
    /// for report in ctx.autotune(&TuneFamily::ALL, false) {
    ///     println!("{}: {} ({})", report.family.name(), report.chosen, report.source.name());
    /// }
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn autotune(&self, families: &[TuneFamily], retune: bool) -> Vec<TuneReport> {
        let _serial = self.gl_lock();
        families
            .iter()
            .map(|&family| {
                let settings = &self.inner.settings;
                let _one = settings.search.lock().unwrap_or_else(|e| e.into_inner());
                let report = decide(self, family, retune);
                settings.set_slot(family, Slot::Chosen(report.chosen));
                report
            })
            .collect()
    }
}
