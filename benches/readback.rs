//! Wall time of one whole call, readback included: what a caller of the blocking API waits for
//! (record, submit, wait, map, read the value and status words), at n = 2^10 (latency), 2^20
//! and 2^24 elements. The other benches time kernels; this one times the path `value()`,
//! `run()` and `Recorded::check()` take back to the host, and its async twins under pollster.
//!
//! Ids per adapter group `readback/{backend}`:
//! - `value/{n}`: `ctx.loss("mse")?.input(&x).target(&y).value()`.
//! - `run+grad/{n}`: huber with the gradient into a preallocated tensor, `run()`.
//! - `record+check/{n}`: mse recorded into an encoder, submitted, `Recorded::read_value()`.
//! - `value_async/{n}`: `value_async()` under `pollster::block_on` (polls, never waits).
//!
//! `cargo bench --bench readback` (filter as usual: `-- 'vulkan/value/'`).

mod common;

use criterion::{BenchmarkId, Criterion};
use gpu_loss::{GpuContext, Tensor};
use std::time::Duration;

const SIZES: [usize; 3] = [1 << 10, 1 << 20, 1 << 24];

/// Values in [0, 1): every loss here is defined on them.
fn data(ctx: &GpuContext, n: usize, seed: u32) -> Tensor {
    let v: Vec<f32> = (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32)
        .collect();
    ctx.upload(&v, &[n]).expect("upload")
}

fn bench_adapter(c: &mut Criterion, ctx: &GpuContext, group_name: &str) {
    eprintln!("{group_name}: {}", ctx.adapter_name());
    let mut group = c.benchmark_group(group_name);
    for n in SIZES {
        let (x, y) = (data(ctx, n, 1), data(ctx, n, 7));
        let grad = ctx.zeros(&[n]).expect("grad");
        let value = || ctx.loss("mse")?.input(&x).target(&y).value();
        value().expect("mse");
        group.bench_function(BenchmarkId::new("value", n), |b| {
            b.iter(|| value().expect("mse"))
        });
        let value_async = || {
            let call = ctx.loss("mse")?.input(&x).target(&y);
            pollster::block_on(call.value_async())
        };
        group.bench_function(BenchmarkId::new("value_async", n), |b| {
            b.iter(|| value_async().expect("mse"))
        });
        let run = || {
            let call = ctx.loss("huber")?.input(&x).target(&y);
            call.grad_into(&grad).run()
        };
        run().expect("huber");
        group.bench_function(BenchmarkId::new("run+grad", n), |b| {
            b.iter(|| run().expect("huber"))
        });
        let record = || {
            let mut enc = common::encoder(ctx);
            let r = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
            ctx.queue().submit([enc.finish()]);
            r.read_value()
        };
        record().expect("record");
        group.bench_function(BenchmarkId::new("record+check", n), |b| {
            b.iter(|| record().expect("record"))
        });
    }
    group.finish();
}

fn main() {
    common::run_on_every_adapter("readback", Duration::from_secs(3), bench_adapter);
}
