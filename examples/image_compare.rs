//! A renderer's case: the renderer owns the device and two images in its own buffers (here a
//! small compute shader "renders" a gradient and a noisy copy of it); gpu-loss compares them on
//! those buffers, without copying, with mse, mae and charbonnier, and PSNR from the mse.
//!
//! `cargo run --release --example image_compare`

use gpu_loss::GpuContext;

const WIDTH: u32 = 512;
const HEIGHT: u32 = 384;

// The "renderer": writes an RGB gradient into `a` and the same with a little
// hash noise into `b` (values in [0, 1]).
const RENDER: &str = r#"
@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;

fn hash(i: u32) -> f32 {
    var x = i * 747796405u + 2891336453u;
    x = ((x >> ((x >> 28u) + 4u)) ^ x) * 277803737u;
    return f32((x >> 22u) ^ x) / 4294967295.0;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= arrayLength(&a) {
        return;
    }
    let pixel = i / 3u;
    let x = f32(pixel % 512u) / 511.0;
    let y = f32(pixel / 512u) / 383.0;
    let channel = f32(i % 3u);
    let value = fract(x * (1.0 + channel) + y * 0.5);
    a[i] = value;
    b[i] = clamp(value + 0.02 * (hash(i) - 0.5), 0.0, 1.0);
}
"#;

fn main() -> gpu_loss::Result<()> {
    // The renderer's own device and queue.
    let adapter = gpu_loss::adapters()
        .into_iter()
        .next()
        .ok_or_else(|| gpu_loss::LossError::NoAdapter(String::new()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .map_err(|e| gpu_loss::LossError::Gpu(e.to_string()))?;
    let n = (WIDTH * HEIGHT * 3) as u64;
    let image = |label| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: 4 * n,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    };
    let (a, b) = (image("rendered"), image("reference"));
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("render"),
        source: wgpu::ShaderSource::Wgsl(RENDER.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("render"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("render"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: a.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: b.as_entire_binding(),
            },
        ],
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups((n as u32).div_ceil(64), 1, 1);
    }
    queue.submit([enc.finish()]);

    // gpu-loss on the renderer's device, reading the renderer's buffers in place.
    let ctx = GpuContext::from_device(device.clone(), queue.clone())?;
    let shape = [HEIGHT as usize, WIDTH as usize, 3];
    let rendered = ctx.wrap(&a, 0, &shape)?;
    let reference = ctx.wrap(&b, 0, &shape)?;
    println!(
        "{} x {} RGB on {} (the renderer's device)",
        WIDTH,
        HEIGHT,
        ctx.adapter_name()
    );
    let mut mse = 0.0;
    for loss in ["mse", "mae", "charbonnier"] {
        let v = ctx
            .loss(loss)?
            .input(&rendered)
            .target(&reference)
            .value()?;
        if loss == "mse" {
            mse = v;
        }
        println!("  {loss:<12} {v:.6e}");
    }
    // Peak signal-to-noise ratio for values in [0, 1].
    println!("  {:<12} {:.2} dB", "PSNR", -10.0 * (mse as f64).log10());
    Ok(())
}
