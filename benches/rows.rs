//! Throughput of the row losses (cross_entropy, cosine_similarity) against the adapter's own
//! buffer copy.
//!
//! For every adapter (one criterion group `rows/{backend}`), at N × C = 4096 × 1024,
//! 512 × 32768 and 64 × 262144 (a language model's vocabulary):
//!
//! - `cross_entropy/{N}x{C}`: the loss alone, mean reduction, int64 labels. Counted as the
//!   logits read once plus the labels: 4·N·C + 8·N bytes.
//! - `cross_entropy+grad/{N}x{C}`: with the gradient written into a preallocated tensor: the
//!   logits are read twice and the gradient written once, 12·N·C + 8·N bytes.
//! - `cosine_similarity/{N}x{C}` and `cosine_similarity+grad/{N}x{C}`: input and target read
//!   (8·N·C bytes), plus the gradient sweep's second read of both and write (20·N·C in all).
//! - `copy/{N}x{C}`: `copy_buffer_to_buffer` of the logits' 4·N·C bytes, counted 8·N·C (read
//!   and written), as the kernels count theirs.
//!
//! The time of `cross_entropy+grad` over `cross_entropy` says what the gradient costs (the
//! gradient sweep adds one read and one write of the logits, so about 3× the traffic of the
//! forward alone at most). Timing as in benches/elementwise.rs: submit to completion, wall time.
//! Run with `cargo bench --bench rows`, or a filter such as `-- 512x32768`.

mod common;

use common::{encoder, submit_timed, CopyData};
use criterion::{BenchmarkId, Criterion, Throughput};
use gpu_loss::sample::normal;
use gpu_loss::{GpuContext, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const SHAPES: [(usize, usize); 3] = [(4096, 1024), (512, 32768), (64, 262144)];

/// cosine_similarity's input and target, and its outputs.
struct CosineData {
    input: Tensor,
    target: Tensor,
    grad: Tensor,
    value: Tensor,
}

impl CosineData {
    fn new(ctx: &GpuContext, n: usize, c: usize) -> CosineData {
        let mut rng = StdRng::seed_from_u64(0xc05);
        let mut draw = || (0..n * c).map(|_| normal(&mut rng)).collect::<Vec<f32>>();
        CosineData {
            input: ctx.upload(&draw(), &[n, c]).expect("uploading input"),
            target: ctx.upload(&draw(), &[n, c]).expect("uploading target"),
            grad: ctx.zeros(&[n, c]).expect("allocating grad"),
            value: ctx.zeros(&[1]).expect("allocating value"),
        }
    }

    fn time(&self, ctx: &GpuContext, grad: bool, iters: u64) -> Duration {
        (0..iters)
            .map(|_| {
                let mut enc = encoder(ctx);
                let call = ctx
                    .loss("cosine_similarity")
                    .expect("cosine_similarity")
                    .input(&self.input)
                    .target(&self.target)
                    .value_into(&self.value);
                let call = if grad {
                    call.grad_into(&self.grad)
                } else {
                    call
                };
                let _rec = call.record(&mut enc).expect("recording cosine_similarity");
                submit_timed(ctx, enc.finish())
            })
            .sum()
    }
}

struct CrossEntropyData {
    logits: Tensor,
    labels: Tensor,
    grad: Tensor,
    value: Tensor,
}

impl CrossEntropyData {
    fn new(ctx: &GpuContext, n: usize, c: usize) -> CrossEntropyData {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let logits: Vec<f32> = (0..n * c).map(|_| 3.0 * normal(&mut rng)).collect();
        let labels: Vec<i64> = (0..n).map(|_| rng.random_range(0..c as i64)).collect();
        let data = CrossEntropyData {
            logits: ctx.upload(&logits, &[n, c]).expect("uploading logits"),
            labels: ctx.upload_i64(&labels, &[n]).expect("uploading labels"),
            grad: ctx.zeros(&[n, c]).expect("allocating grad"),
            value: ctx.zeros(&[1]).expect("allocating value"),
        };
        for grad in [false, true] {
            let mut enc = encoder(ctx);
            let rec = data.record(ctx, grad, &mut enc);
            submit_timed(ctx, enc.finish());
            rec.check()
                .unwrap_or_else(|e| panic!("cross_entropy {n}x{c}: {e}"));
        }
        data
    }

    fn record(
        &self,
        ctx: &GpuContext,
        grad: bool,
        enc: &mut wgpu::CommandEncoder,
    ) -> gpu_loss::Recorded {
        let call = ctx
            .loss("cross_entropy")
            .expect("cross_entropy")
            .input(&self.logits)
            .target(&self.labels)
            .value_into(&self.value);
        let call = if grad {
            call.grad_into(&self.grad)
        } else {
            call
        };
        call.record(enc).expect("recording cross_entropy")
    }

    fn time(&self, ctx: &GpuContext, grad: bool, iters: u64) -> Duration {
        (0..iters)
            .map(|_| {
                let mut enc = encoder(ctx);
                let _rec = self.record(ctx, grad, &mut enc);
                submit_timed(ctx, enc.finish())
            })
            .sum()
    }
}

fn bench_adapter(c: &mut Criterion, ctx: &GpuContext, group_name: &str) {
    eprintln!("{group_name}: {}", ctx.adapter_name());
    let mut group = c.benchmark_group(group_name);
    for (n, classes) in SHAPES {
        let shape = format!("{n}x{classes}");
        let elems = (n * classes) as u64;
        let mut data: Option<CrossEntropyData> = None;
        for grad in [false, true] {
            let (id, bytes) = if grad {
                ("cross_entropy+grad", 12 * elems + 8 * n as u64)
            } else {
                ("cross_entropy", 4 * elems + 8 * n as u64)
            };
            group.throughput(Throughput::Bytes(bytes));
            group.bench_function(BenchmarkId::new(id, &shape), |b| {
                let d = data.get_or_insert_with(|| CrossEntropyData::new(ctx, n, classes));
                b.iter_custom(|iters| d.time(ctx, grad, iters));
            });
        }
        let mut cosine: Option<CosineData> = None;
        for grad in [false, true] {
            let (id, bytes) = if grad {
                ("cosine_similarity+grad", 20 * elems)
            } else {
                ("cosine_similarity", 8 * elems)
            };
            group.throughput(Throughput::Bytes(bytes));
            group.bench_function(BenchmarkId::new(id, &shape), |b| {
                let d = cosine.get_or_insert_with(|| CosineData::new(ctx, n, classes));
                b.iter_custom(|iters| d.time(ctx, grad, iters));
            });
        }
        let mut copy: Option<CopyData> = None;
        group.throughput(Throughput::Bytes(8 * elems));
        group.bench_function(BenchmarkId::new("copy", &shape), |b| {
            let d = copy.get_or_insert_with(|| CopyData::new(ctx, 4 * elems));
            b.iter_custom(|iters| d.time(ctx, iters));
        });
    }
    group.finish();
}

fn main() {
    common::run_on_every_adapter("rows", Duration::from_secs(3), bench_adapter);
}
