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
//! - `row_sum/{N}x{C}`, `exp_sum/{N}x{C}` and `logsumexp/{N}x{C}`: cross_entropy's floors,
//!   bare row kernels with its forward traffic (4·N·C bytes): the read alone, one exp a logit,
//!   and an online log Σ exp. On a CPU driver a few lanes share a row, each walking its own
//!   span (the tuner's long spans); on a GPU a workgroup strides over each row.
//!
//! The time of `cross_entropy+grad` over `cross_entropy` says what the gradient costs (the
//! gradient sweep adds one read and one write of the logits, so about 3× the traffic of the
//! forward alone at most). Timing as in benches/elementwise.rs: submit to completion, wall time.
//! Run with `cargo bench --bench rows`, or a filter such as `-- 512x32768`.

mod common;

use common::{encoder, submit_timed, BareKernel, CopyData};
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

/// Bare row kernels with cross_entropy's forward traffic (the logits read once) and a
/// softmax's least work, for its floor: one log Σ exp a row, no checks or compensation.
#[derive(Clone, Copy)]
enum Floor {
    /// Σ x: the read alone.
    RowSum,
    /// Σ exp(x), no max: one exp a logit, the least any softmax does.
    ExpSum,
    /// log Σ exp(x), online: running max and rescaled sum, lane by lane (two exps a logit).
    LogSumExp,
}

const FLOORS: [Floor; 3] = [Floor::RowSum, Floor::ExpSum, Floor::LogSumExp];

impl Floor {
    fn name(self) -> &'static str {
        match self {
            Floor::RowSum => "row_sum",
            Floor::ExpSum => "exp_sum",
            Floor::LogSumExp => "logsumexp",
        }
    }

    /// The sweep's step over v, the row's next vec4, into m (running max) and s (sum).
    fn step(self) -> &'static str {
        match self {
            Floor::RowSum => "s += v;",
            Floor::ExpSum => "s += exp(v);",
            Floor::LogSumExp => "let m2 = max(m, v); s = s * exp(m - m2) + exp(v - m2); m = m2;",
        }
    }
}

/// vec4s each lane of a row walks on a CPU driver, in its own contiguous share (as the tuner
/// picks there: `Tuning::row_span`); a GPU strides a workgroup over each row.
const FLOOR_CPU_ROW_SPAN: usize = 1024;

// The host prepends ROW_LANES, BLOCKED (a CPU driver: contiguous shares), PER_ROW (vec4s a
// row), M0 (the max's start: near the lowest f32 online, else 0) and STEP. Only the time is
// looked at.
const FLOOR_ROWS: &str = "
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
var<workgroup> tree_m: array<f32, 256>;
var<workgroup> tree_s: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let row = (wid.x + wid.y * 65535u) * (256u / ROW_LANES) + lid / ROW_LANES;
    let lane = lid % ROW_LANES;
    let base = row * PER_ROW;
    var m = vec4<f32>(M0);
    var s = vec4<f32>(0.0);
    var first = lane;
    var end = PER_ROW;
    var step = ROW_LANES;
    if BLOCKED {
        first = lane * (PER_ROW / ROW_LANES);
        end = first + PER_ROW / ROW_LANES;
        step = 1u;
    }
    for (var i = first; i < end; i += step) {
        let v = x[base + i];
        STEP
    }
    let lm = max(max(m.x, m.y), max(m.z, m.w));
    tree_m[lid] = lm;
    tree_s[lid] = dot(s, exp(m - vec4(lm)));
    for (var w = ROW_LANES / 2u; w > 0u; w /= 2u) {
        workgroupBarrier();
        if lane < w {
            let a = tree_m[lid];
            let b = tree_m[lid + w];
            let mm = max(a, b);
            tree_s[lid] = tree_s[lid] * exp(a - mm) + tree_s[lid + w] * exp(b - mm);
            tree_m[lid] = mm;
        }
    }
    if lane == 0u {
        out[row] = tree_m[lid] + log(tree_s[lid]);
    }
}";

/// One floor kernel at one shape, ready to dispatch.
fn floor_kernel(ctx: &GpuContext, floor: Floor, n: usize, c: usize) -> BareKernel {
    let cpu = ctx.adapter_info().device_type == wgpu::DeviceType::Cpu;
    let row_lanes = if cpu {
        (c / 4 / FLOOR_CPU_ROW_SPAN)
            .next_power_of_two()
            .clamp(1, 256) as u32
    } else {
        256
    };
    let source = format!(
        "const ROW_LANES: u32 = {row_lanes}u;\nconst BLOCKED: bool = {cpu};\n\
         const PER_ROW: u32 = {}u;\nconst M0: f32 = {};\n{}",
        c / 4,
        match floor {
            Floor::LogSumExp => "-3.0e38",
            _ => "0.0",
        },
        FLOOR_ROWS.replace("STEP", floor.step())
    );
    let mut rng = StdRng::seed_from_u64(0xf100);
    let data: Vec<f32> = (0..n * c).map(|_| 3.0 * normal(&mut rng)).collect();
    let x = ctx.upload(&data, &[n * c]).expect("uploading logits");
    let out = ctx.zeros(&[n]).expect("allocating");
    let workgroups = (n as u32).div_ceil(256 / row_lanes);
    BareKernel::new(ctx, floor.name(), &source, &[&x, &out], workgroups)
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
        for floor in FLOORS {
            let mut data: Option<BareKernel> = None;
            group.throughput(Throughput::Bytes(4 * elems));
            group.bench_function(BenchmarkId::new(floor.name(), &shape), |b| {
                let d = data.get_or_insert_with(|| floor_kernel(ctx, floor, n, classes));
                b.iter_custom(|iters| d.time(ctx, iters));
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
