//! Helpers the criterion benches share: timed submission, the adapter's own buffer copy
//! (the yardstick every kernel's bandwidth is compared with), and group names per adapter.
#![allow(dead_code)]

use gpu_loss::{GpuContext, Tensor};
use std::time::{Duration, Instant};

/// Submits one finished command buffer and waits for it; returns the time that took.
pub fn submit_timed(ctx: &GpuContext, commands: wgpu::CommandBuffer) -> Duration {
    let start = Instant::now();
    let idx = ctx.queue().submit([commands]);
    ctx.device()
        .poll(wgpu::PollType::Wait {
            submission_index: Some(idx),
            timeout: None,
        })
        .expect("waiting for the GPU");
    start.elapsed()
}

pub fn encoder(ctx: &GpuContext) -> wgpu::CommandEncoder {
    ctx.device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gpu-loss bench"),
        })
}

/// Two buffers of `bytes` each, both written once so no lazy zeroing lands in the timing.
pub struct CopyData {
    src: wgpu::Buffer,
    dst: wgpu::Buffer,
    bytes: u64,
}

impl CopyData {
    pub fn new(ctx: &GpuContext, bytes: u64) -> CopyData {
        let make = |label| {
            ctx.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let (src, dst) = (make("copy bench src"), make("copy bench dst"));
        let mut enc = encoder(ctx);
        enc.clear_buffer(&src, 0, None);
        enc.clear_buffer(&dst, 0, None);
        submit_timed(ctx, enc.finish());
        CopyData { src, dst, bytes }
    }

    pub fn time(&self, ctx: &GpuContext, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut enc = encoder(ctx);
            enc.copy_buffer_to_buffer(&self.src, 0, &self.dst, 0, self.bytes);
            total += submit_timed(ctx, enc.finish());
        }
        total
    }
}

/// A bare kernel, a bench's floor: WGSL with entry `main`, the tensors bound whole at bindings
/// 0, 1, ... in order, dispatched as `workgroups` (x, then y past 65535).
pub struct BareKernel {
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    workgroups: u32,
}

impl BareKernel {
    pub fn new(
        ctx: &GpuContext,
        label: &str,
        source: &str,
        tensors: &[&Tensor],
        workgroups: u32,
    ) -> BareKernel {
        let device = ctx.device();
        let label = Some(label);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label,
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label,
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let entries: Vec<wgpu::BindGroupEntry> = tensors
            .iter()
            .enumerate()
            .map(|(binding, t)| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: t.buffer(),
                    offset: 0,
                    size: std::num::NonZeroU64::new(t.byte_len()),
                }),
            })
            .collect();
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        BareKernel {
            pipeline,
            group,
            workgroups,
        }
    }

    /// `iters` dispatches, each submitted and waited for alone.
    pub fn time(&self, ctx: &GpuContext, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut enc = encoder(ctx);
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &self.group, &[]);
                let (x, y) = (self.workgroups.min(65535), self.workgroups.div_ceil(65535));
                pass.dispatch_workgroups(x, y, 1);
            }
            total += submit_timed(ctx, enc.finish());
        }
        total
    }
}

/// `{prefix}/{backend}`, or `{prefix}/{backend}-{adapter}` (then `-{i}`) if the backend
/// is not unique among the adapters.
pub fn group_names(prefix: &str, ctxs: &[GpuContext]) -> Vec<String> {
    let backend = |c: &GpuContext| format!("{:?}", c.adapter_info().backend).to_lowercase();
    let mut names: Vec<String> = Vec::new();
    for (i, ctx) in ctxs.iter().enumerate() {
        let b = backend(ctx);
        let shared = ctxs.iter().filter(|c| backend(c) == b).count() > 1;
        let mut name = format!("{prefix}/{b}");
        if shared {
            let short: String = ctx
                .adapter_info()
                .name
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|w| !w.is_empty())
                .unwrap_or("adapter")
                .to_lowercase();
            name = format!("{name}-{short}");
        }
        if names.contains(&name) {
            name = format!("{name}-{i}");
        }
        names.push(name);
    }
    names
}

/// A bench binary's main: small samples (software adapters on two cores take tens to hundreds
/// of milliseconds a call), `measurement` per benchmark, then `bench` on every adapter under
/// a group named `prefix`. Command-line options (--sample-size, --measurement-time, a filter)
/// override these.
pub fn run_on_every_adapter(
    prefix: &str,
    measurement: Duration,
    bench: fn(&mut criterion::Criterion, &GpuContext, &str),
) {
    let mut c = criterion::Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement)
        .configure_from_args();
    let ctxs = GpuContext::all().expect("no GPU adapter found");
    for (ctx, name) in ctxs.iter().zip(group_names(prefix, &ctxs)) {
        bench(&mut c, ctx, &name);
    }
    c.final_summary();
}
