//! Throughput of the elementwise losses against the adapter's own buffer copy.
//!
//! For every adapter `GpuContext::all()` finds (honouring `WGPU_BACKEND`, e.g.
//! `WGPU_BACKEND=vulkan` or `gl`) there is one criterion group, `elementwise/{backend}`
//! (`elementwise/{backend}-{adapter}` when two adapters share a backend), with these ids at
//! n = 2^16, 2^20 and 2^24 elements:
//!
//! - `{loss}/{n}`: mse, huber, bce_with_logits and kl_div, mean reduction, value only. Counted as
//!   8·n bytes (input and target read).
//! - `{loss}+grad/{n}`: the same call with the gradient written into a preallocated tensor.
//!   Counted as 12·n bytes (input and target read, gradient written).
//! - `copy/{n}`: `copy_buffer_to_buffer` of 8·n bytes between two buffers on the same
//!   adapter. Counted as 16·n bytes (read and written), the way the kernels are counted.
//! - `squares/{n}` and `subtract/{n}`: the floors, bare kernels with a loss's traffic and none
//!   of its work (no checks, no compensation): what a compute kernel at all reaches on this
//!   adapter, as opposed to its copy engine or memcpy. `squares` has the traffic of `{loss}`
//!   (Σ (x - y)² in plain f32, vec4 loads, a workgroup tree; 8·n bytes): on a CPU driver each
//!   invocation walks a contiguous span, on a GPU the grid strides. `subtract` has that of
//!   `{loss}+grad` (out = x - y, one vec4 an invocation; 12·n bytes).
//!
//! Each iteration records the work into a fresh `CommandEncoder` and finishes it before the
//! clock starts; the time taken is from `queue.submit` until `device.poll` reports that
//! submission done (wall time, so it includes the driver's submit and wait overhead, which
//! dominates at 2^16).
//!
//! Run everything with `cargo bench --bench elementwise` (a few minutes on software
//! adapters), or pick benchmarks with criterion's usual filter, which is a regular
//! expression matched against `group/id/n`: `cargo bench --bench elementwise -- mse/65536`,
//! `-- 'vulkan/huber'`, `-- '\+grad/16777216'` (escape the `+`).
//!
//! Reading the results: criterion prints `thrpt` in binary units (MiB/s, GiB/s). Absolute
//! numbers on a shared machine or a software rasteriser mean little; compare each kernel
//! with `copy` at the same n in the same group. The ratio kernel GB/s / copy GB/s says how
//! close the loss comes to moving its bytes as fast as the adapter moves memory at all:
//! near 1 the kernel is bandwidth-bound and efficient, well below 1 it is limited by
//! arithmetic, launch and reduction overhead, or poor memory access. At 2^16 both sides are
//! mostly fixed per-submission cost, so read the ratio at 2^20 and 2^24.

mod common;

use common::{encoder, submit_timed, BareKernel, CopyData};
use criterion::{BenchmarkId, Criterion, Throughput};
use gpu_loss::sample::{sample, AuxForm};
use gpu_loss::{GpuContext, Tensor};
use std::time::Duration;

const LOSSES: [&str; 4] = ["mse", "huber", "bce_with_logits", "kl_div"];
const SIZES: [usize; 3] = [1 << 16, 1 << 20, 1 << 24];
const SEED: u64 = 0x5eed;

/// The tensors of one loss at one size, shared by its `{loss}` and `{loss}+grad` benchmarks.
struct LossData {
    input: Tensor,
    target: Tensor,
    grad: Tensor,
    value: Tensor,
}

impl LossData {
    fn new(ctx: &GpuContext, loss: &str, n: usize) -> LossData {
        let entry = gpu_loss::catalogue::elementwise(loss).expect("loss in the catalogue");
        let s = sample(entry, &[n], false, AuxForm::Default, SEED);
        let data = LossData {
            input: ctx.upload(&s.input, &[n]).expect("uploading input"),
            target: ctx.upload(&s.target, &[n]).expect("uploading target"),
            grad: ctx.zeros(&[n]).expect("allocating grad"),
            value: ctx.zeros(&[1]).expect("allocating value"),
        };
        // One checked run of each variant: compiles the pipelines and makes sure the inputs
        // are valid, so the benchmark never times a call that fails on the GPU.
        for grad in [false, true] {
            let mut enc = encoder(ctx);
            let rec = data.record(ctx, loss, grad, &mut enc);
            submit_timed(ctx, enc.finish());
            rec.check()
                .unwrap_or_else(|e| panic!("{loss} (grad: {grad}) on {n}: {e}"));
        }
        data
    }

    fn record(
        &self,
        ctx: &GpuContext,
        loss: &str,
        grad: bool,
        enc: &mut wgpu::CommandEncoder,
    ) -> gpu_loss::Recorded {
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
        call.record(enc).expect("recording the loss")
    }

    /// `iters` submissions, each recorded beforehand; only submit-to-completion is timed.
    fn time(&self, ctx: &GpuContext, loss: &str, grad: bool, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut enc = encoder(ctx);
            let rec = self.record(ctx, loss, grad, &mut enc);
            total += submit_timed(ctx, enc.finish());
            drop(rec);
        }
        total
    }
}

/// A bare compute kernel with a loss's traffic and none of its work.
#[derive(Clone, Copy)]
enum Floor {
    /// out = x - y, one vec4 an invocation: the traffic of `{loss}+grad`.
    Subtract,
    /// Σ (x - y)², one partial a workgroup: the traffic of `{loss}`.
    Squares,
}

/// vec4s a `squares` invocation walks on a CPU driver: long enough that each SIMD lane
/// streams (16 vec4s took 27 ms at 2^24 on lavapipe, 256 took 10).
const SQUARES_SPAN: u32 = 256;
/// Bound on `squares` workgroups on a GPU, which then stride.
const SQUARES_GPU_GROUPS: u32 = 4096;

impl Floor {
    fn name(self) -> &'static str {
        match self {
            Floor::Subtract => "subtract",
            Floor::Squares => "squares",
        }
    }

    /// Bytes counted for n elements, the way the losses count theirs.
    fn bytes(self, n: u64) -> u64 {
        match self {
            Floor::Subtract => 12 * n,
            Floor::Squares => 8 * n,
        }
    }

    /// The kernel's source and (workgroups, elements of `out`) for n elements.
    fn plan(self, ctx: &GpuContext, n: usize) -> (String, u32, usize) {
        let vec4s = (n / 4) as u32;
        match self {
            Floor::Subtract => (SUBTRACT.to_string(), vec4s.div_ceil(256), n),
            Floor::Squares => {
                let cpu = ctx.adapter_info().device_type == wgpu::DeviceType::Cpu;
                let groups = if cpu {
                    vec4s.div_ceil(SQUARES_SPAN * 256)
                } else {
                    vec4s.div_ceil(256).min(SQUARES_GPU_GROUPS)
                };
                let source = format!(
                    "const BLOCKED: bool = {cpu};\nconst SPAN: u32 = {SQUARES_SPAN}u;\n{SQUARES}"
                );
                (source, groups, groups as usize)
            }
        }
    }
}

const SUBTRACT: &str = "
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x + id.y * 65535u * 256u;
    if i < arrayLength(&x) {
        out[i] = x[i] - y[i];
    }
}";

// The host prepends BLOCKED (a CPU driver: contiguous spans) and SPAN.
const SQUARES: &str = "
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> tree: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = arrayLength(&x);
    var s = vec4<f32>(0.0);
    if BLOCKED {
        for (var i = id.x * SPAN; i < min(id.x * SPAN + SPAN, n); i++) {
            let d = x[i] - y[i];
            s += d * d;
        }
    } else {
        for (var i = id.x; i < n; i += nwg.x * 256u) {
            let d = x[i] - y[i];
            s += d * d;
        }
    }
    tree[lid] = s.x + s.y + s.z + s.w;
    for (var w = 128u; w > 0u; w /= 2u) {
        workgroupBarrier();
        if lid < w {
            tree[lid] += tree[lid + w];
        }
    }
    if lid == 0u {
        out[wid.x] = tree[0];
    }
}";

/// One floor kernel at one size, ready to dispatch.
fn floor_kernel(ctx: &GpuContext, floor: Floor, n: usize) -> BareKernel {
    let (source, workgroups, out_len) = floor.plan(ctx, n);
    let data: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let x = ctx.upload(&data, &[n]).expect("uploading");
    let y = ctx.upload(&data, &[n]).expect("uploading");
    let out = ctx.zeros(&[out_len]).expect("allocating");
    BareKernel::new(ctx, floor.name(), &source, &[&x, &y, &out], workgroups)
}

fn bench_adapter(c: &mut Criterion, ctx: &GpuContext, group_name: &str) {
    eprintln!("{group_name}: {}", ctx.adapter_name());
    let max_buffer = ctx.limits().max_buffer_size;
    let mut group = c.benchmark_group(group_name);
    for n in SIZES {
        let n64 = n as u64;
        // Data is made on the first call of a benchmark's routine, so filtered-out
        // benchmarks cost nothing; `{loss}` and `{loss}+grad` share theirs.
        for loss in LOSSES {
            let mut data: Option<LossData> = None;
            for grad in [false, true] {
                let (id, bytes) = if grad {
                    (format!("{loss}+grad"), 12 * n64)
                } else {
                    (loss.to_string(), 8 * n64)
                };
                group.throughput(Throughput::Bytes(bytes));
                group.bench_function(BenchmarkId::new(id, n), |b| {
                    let d = data.get_or_insert_with(|| LossData::new(ctx, loss, n));
                    b.iter_custom(|iters| d.time(ctx, loss, grad, iters));
                });
            }
        }
        for floor in [Floor::Squares, Floor::Subtract] {
            let mut data: Option<BareKernel> = None;
            group.throughput(Throughput::Bytes(floor.bytes(n64)));
            group.bench_function(BenchmarkId::new(floor.name(), n), |b| {
                let d = data.get_or_insert_with(|| floor_kernel(ctx, floor, n));
                b.iter_custom(|iters| d.time(ctx, iters));
            });
        }
        let copy_bytes = 8 * n64;
        if copy_bytes > max_buffer {
            eprintln!("{group_name}: copy/{n} skipped, {copy_bytes} bytes > max_buffer_size");
            continue;
        }
        let mut copy: Option<CopyData> = None;
        group.throughput(Throughput::Bytes(2 * copy_bytes));
        group.bench_function(BenchmarkId::new("copy", n), |b| {
            let d = copy.get_or_insert_with(|| CopyData::new(ctx, copy_bytes));
            b.iter_custom(|iters| d.time(ctx, iters));
        });
    }
    group.finish();
}

fn main() {
    common::run_on_every_adapter("elementwise", Duration::from_secs(3), bench_adapter);
}
