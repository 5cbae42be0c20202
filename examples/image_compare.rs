//! A renderer's case: the renderer owns the device and renders two frames into its own
//! textures (here a small compute shader draws a pattern and a noisy, slightly blurred copy of
//! it); gpu-loss reads those textures in place, without copying them into buffers, and
//! compares them with mse, mae, PSNR, SSIM (both paddings) and MS-SSIM, then takes the
//! splatting objective and its gradient, as a 3D Gaussian splatting trainer would each step.
//!
//! `cargo run --release --example image_compare`

use gpu_loss::{GpuContext, Reduction};

const WIDTH: u32 = 512;
const HEIGHT: u32 = 384;

// The "renderer": a pattern into `a` and the same with hash noise and a softened edge into
// `b`, values in [0, 1].
const RENDER: &str = r#"
@group(0) @binding(0) var a: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(1) var b: texture_storage_2d<rgba8unorm, write>;

fn hash(i: u32) -> f32 {
    var x = i * 747796405u + 2891336453u;
    x = ((x >> ((x >> 28u) + 4u)) ^ x) * 277803737u;
    return f32((x >> 22u) ^ x) / 4294967295.0;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= 512u || id.y >= 384u {
        return;
    }
    let x = f32(id.x) / 511.0;
    let y = f32(id.y) / 383.0;
    let ring = 0.5 + 0.5 * sin(40.0 * length(vec2<f32>(x - 0.5, y - 0.5)));
    let value = vec3<f32>(fract(x + 0.5 * y), ring, select(0.2, 0.8, x > y));
    let i = id.y * 512u + id.x;
    let noise = 0.04 * (vec3<f32>(hash(3u * i), hash(3u * i + 1u), hash(3u * i + 2u)) - 0.5);
    textureStore(a, id.xy, vec4<f32>(value, 1.0));
    textureStore(b, id.xy, vec4<f32>(clamp(0.9 * value + 0.05 + noise, vec3(0.0), vec3(1.0)), 1.0));
}
"#;

fn main() -> gpu_loss::Result<()> {
    // The renderer's own device, queue and frames.
    let adapter = gpu_loss::adapters()
        .into_iter()
        .next()
        .ok_or_else(|| gpu_loss::LossError::NoAdapter(String::new()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .map_err(|e| gpu_loss::LossError::Gpu(e.to_string()))?;
    let frame = |label| {
        device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width: WIDTH,
                height: HEIGHT,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        })
    };
    let (a, b) = (frame("rendered"), frame("reference"));
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
    let view = |t: &wgpu::Texture| t.create_view(&Default::default());
    let (va, vb) = (view(&a), view(&b));
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("render"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&va),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::TextureView(&vb),
            },
        ],
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(WIDTH.div_ceil(8), HEIGHT.div_ceil(8), 1);
    }
    queue.submit([enc.finish()]);

    // gpu-loss on the renderer's device, reading the frames' RGB channels in place.
    let ctx = GpuContext::from_device(device.clone(), queue.clone())?;
    let rendered = ctx.wrap_texture(&a, &[0, 1, 2])?;
    let reference = ctx.wrap_texture(&b, &[0, 1, 2])?;
    println!(
        "{WIDTH} x {HEIGHT} RGB textures on {} (the renderer's device)",
        ctx.adapter_name()
    );
    let compare = |loss: &str, params: &[(&str, &str)]| -> gpu_loss::Result<f32> {
        let mut call = ctx.loss(loss)?.input(&rendered).target(&reference);
        for (k, v) in params {
            call = call.param(k, *v);
        }
        call.value()
    };
    println!("  {:<22} {:.6e}", "mse", compare("mse", &[])?);
    println!("  {:<22} {:.6e}", "mae", compare("mae", &[])?);
    println!("  {:<22} {:.2} dB", "psnr", compare("psnr", &[])?);
    println!("  {:<22} {:.6}", "ssim (valid)", compare("ssim", &[])?);
    let same = [("padding", "same")];
    println!(
        "  {:<22} {:.6}",
        "ssim (same, 3DGS)",
        compare("ssim", &same)?
    );
    println!("  {:<22} {:.6}", "ms_ssim", compare("ms_ssim", &[])?);

    // A trainer's step: the splatting objective and its gradient for the rendered frame.
    let step = ctx
        .loss("splatting")?
        .input(&rendered)
        .target(&reference)
        .reduction(Reduction::Mean)
        .with_grad()
        .run()?;
    let terms: Vec<String> = step
        .terms
        .iter()
        .map(|(name, v)| format!("{name} {v:.6}"))
        .collect();
    let grad = ctx.download(step.grad.as_ref().expect("asked for"))?;
    let norm = grad.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt();
    println!(
        "  {:<22} {:.6} ({}); |gradient| {norm:.3e} over {} values",
        "splatting",
        step.value.unwrap_or(f32::NAN),
        terms.join(", "),
        grad.len()
    );
    Ok(())
}
