//! Wall time of ssim and ms_ssim at a renderer's sizes, forward and with the gradient: the
//! GPU side of the comparison with PyTorch's CPU (benches/ssim_peer.py, also wall time).
//!
//! One criterion group per adapter, `images/{backend}` (as in benches/elementwise.rs), with
//! ids `{loss}/{size}` and `{loss}+grad/{size}` at 3x256x256, 3x1080x1920 and 5x3x1080x1920
//! (mean reduction, default parameters, valid padding; pictures drawn by `sample::named`).
//! Each iteration records the call into a fresh encoder and finishes it before the clock
//! starts; the time is from `queue.submit` until the device reports the submission done.
//! Counted as 8 bytes per pixel (input and target read), 12 with the gradient written.
//!
//! `cargo bench --bench images -- 'vulkan/ssim\+grad/3x1080x1920'` times one (a 1080p call
//! takes about half a second on lavapipe; the tensors of a size are drawn only when one of
//! its benchmarks runs).

mod common;

use common::{encoder, submit_timed};
use criterion::{BenchmarkId, Criterion, Throughput};
use gpu_loss::npy::Values;
use gpu_loss::sample::{named, Size};
use gpu_loss::{GpuContext, Tensor};
use std::cell::OnceCell;
use std::time::Duration;

const LOSSES: [&str; 2] = ["ssim", "ms_ssim"];
const SIZES: [&str; 3] = ["3x256x256", "3x1080x1920", "5x3x1080x1920"];

struct Pictures {
    input: Tensor,
    target: Tensor,
    grad: Tensor,
    value: Tensor,
}

impl Pictures {
    fn new(ctx: &GpuContext, size: Size) -> Pictures {
        let ssim = gpu_loss::catalogue::find("ssim").expect("ssim in the catalogue");
        let drawn = named(ssim, size, 0x1a6e);
        let upload = |i: usize| {
            let a = &drawn[i].1;
            let Values::Float(v) = &a.values else {
                panic!("pictures are floats")
            };
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            ctx.upload(&v, &a.shape).expect("uploading a picture")
        };
        let input = upload(0);
        Pictures {
            grad: ctx.zeros(input.shape()).expect("allocating grad"),
            target: upload(1),
            input,
            value: ctx.zeros(&[1]).expect("allocating value"),
        }
    }

    fn record(&self, ctx: &GpuContext, loss: &str, grad: bool, enc: &mut wgpu::CommandEncoder) {
        let call = ctx
            .loss(loss)
            .expect("loss in the catalogue")
            .input(&self.input)
            .target(&self.target)
            .value_into(&self.value);
        let call = if grad {
            call.grad_into(&self.grad)
        } else {
            call
        };
        call.record(enc).expect("recording the loss");
    }

    /// Checks one call (and compiles its pipelines) before anything is timed.
    fn check(&self, ctx: &GpuContext, loss: &str, grad: bool) {
        let call = ctx
            .loss(loss)
            .expect("loss in the catalogue")
            .input(&self.input)
            .target(&self.target);
        let call = if grad {
            call.grad_into(&self.grad)
        } else {
            call
        };
        call.run()
            .unwrap_or_else(|e| panic!("{loss} (grad: {grad}): {e}"));
    }

    fn time(&self, ctx: &GpuContext, loss: &str, grad: bool, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut enc = encoder(ctx);
            self.record(ctx, loss, grad, &mut enc);
            total += submit_timed(ctx, enc.finish());
        }
        total
    }
}

fn bench_adapter(c: &mut Criterion, ctx: &GpuContext, name: &str) {
    let mut group = c.benchmark_group(name);
    for text in SIZES {
        let size = Size::parse(text).expect("a valid size");
        let pixels = size.elements() as u64;
        let data: OnceCell<Pictures> = OnceCell::new();
        for loss in LOSSES {
            for grad in [false, true] {
                group.throughput(Throughput::Bytes(if grad { 12 } else { 8 } * pixels));
                let id = if grad {
                    format!("{loss}+grad")
                } else {
                    loss.to_string()
                };
                let checked = std::cell::Cell::new(false);
                group.bench_function(BenchmarkId::new(id, text), |b| {
                    b.iter_custom(|iters| {
                        let d = data.get_or_init(|| Pictures::new(ctx, size));
                        if !checked.replace(true) {
                            d.check(ctx, loss, grad);
                        }
                        d.time(ctx, loss, grad, iters)
                    })
                });
            }
        }
    }
    group.finish();
}

fn main() {
    // A 1080p call takes about half a second on lavapipe: five seconds a benchmark.
    common::run_on_every_adapter("images", Duration::from_secs(5), bench_adapter);
}
