//! Timing GPU work: GPU timestamps where the device has them, else wall time around submit
//! and wait. Benchmarks and the report compare a kernel with the adapter's own buffer copy
//! measured the same way in the same run, because absolute times on shared machines mean
//! little.

use crate::context::GpuContext;
use crate::error::{LossError, Result};
use std::time::{Duration, Instant};

/// How times were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
///
/// ```no_run
/// let ctx = gpu_loss::GpuContext::new()?;
/// println!("times by {}", gpu_loss::timing::clock(&ctx).name());
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub enum Clock {
    /// GPU timestamp queries around the work.
    GpuTimestamps,
    /// Wall time from submission to completion.
    WallTime,
}

impl Clock {
    /// As reports say it.
    ///
    /// ```
    /// assert_eq!(gpu_loss::timing::Clock::WallTime.name(), "wall time");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Clock::GpuTimestamps => "gpu timestamps",
            Clock::WallTime => "wall time",
        }
    }
}

/// How this device's work is timed: timestamps where it has them.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// println!("times by {}", gpu_loss::timing::clock(&ctx).name());
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn clock(ctx: &GpuContext) -> Clock {
    let needed = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
    if ctx.features().contains(needed) {
        Clock::GpuTimestamps
    } else {
        Clock::WallTime
    }
}

/// Runs what `record` records, `reps` times (each in its own submission, after one warm-up),
/// and returns the median duration.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5; 1024], &[1024])?;
/// let t = gpu_loss::timing::median_time(&ctx, 5, |enc| {
///     ctx.loss("mse")?.input(&x).target(&x).record(enc).map(drop)
/// })?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn median_time(
    ctx: &GpuContext,
    reps: usize,
    mut record: impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<Duration> {
    let _serial = ctx.gl_lock();
    let clock = clock(ctx);
    let queries = (clock == Clock::GpuTimestamps).then(|| {
        ctx.device().create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("gpu-loss timing"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        })
    });
    let resolve = ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("gpu-loss timing"),
        size: 16,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let period = f64::from(ctx.queue().get_timestamp_period());
    let mut times = Vec::with_capacity(reps);
    for rep in 0..=reps {
        let mut enc = ctx.encoder();
        if let Some(q) = &queries {
            enc.write_timestamp(q, 0);
        }
        record(&mut enc)?;
        let elapsed = if let Some(q) = &queries {
            enc.write_timestamp(q, 1);
            enc.resolve_query_set(q, 0..2, &resolve, 0);
            let staging = ctx.staging(16)?;
            enc.copy_buffer_to_buffer(&resolve, 0, staging.buffer(), 0, 16);
            let idx = ctx.queue().submit([enc.finish()]);
            let raw = ctx.map_read(staging, 16, idx)?;
            let ticks: &[u64] = bytemuck::cast_slice(&raw);
            let ns = ticks[1].saturating_sub(ticks[0]) as f64 * period;
            Duration::from_nanos(ns as u64)
        } else {
            let start = Instant::now();
            ctx.submit_and_wait(enc)?;
            start.elapsed()
        };
        if rep > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    times
        .get(times.len() / 2)
        .copied()
        .ok_or_else(|| LossError::Gpu("no repetitions timed".into()))
}

/// The adapter's own buffer-to-buffer copy of `bytes`, in GB/s counting the bytes read and
/// written (2 × bytes per copy), the way kernel bandwidth counts them.
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// let gbps = gpu_loss::timing::copy_bandwidth(&ctx, 1 << 24, 5)?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn copy_bandwidth(ctx: &GpuContext, bytes: u64, reps: usize) -> Result<f64> {
    let bytes = bytes.next_multiple_of(4).max(4);
    ctx.check_buffer_size("copy benchmark buffer", bytes)?;
    let make = || {
        ctx.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("gpu-loss copy benchmark"),
            size: bytes,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    };
    let (src, dst) = (make(), make());
    let t = median_time(ctx, reps, |enc| {
        enc.copy_buffer_to_buffer(&src, 0, &dst, 0, bytes);
        Ok(())
    })?;
    Ok(gbps(2 * bytes, t))
}

/// Bytes over time, in GB/s.
///
/// ```
/// let g = gpu_loss::timing::gbps(2_000_000_000, std::time::Duration::from_secs(1));
/// assert_eq!(g, 2.0);
/// ```
pub fn gbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64().max(1e-12) / 1e9
}
