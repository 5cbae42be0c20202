//! Fitting an image from noise on 3D Gaussian splatting's training loss,
//! (1 − λ)·L1 + λ·(1 − SSIM), the way a splatting trainer takes its steps: every step records
//! the objective with its gradient and an Adam update (this example's own kernel) into one
//! command encoder. The pixels, the gradient and Adam's moments stay on the GPU; only the
//! printed steps read anything back. Here the "renderer" is the identity, so the parameters are
//! the pixels themselves.
//!
//! `cargo run --release --example fit_splatting [-- OUT_DIR]` writes `target.png`, `before.png`
//! and `after.png` into OUT_DIR (default: a folder in the system's temp dir).

use gpu_loss::{GpuContext, LossError, Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CHANNELS: usize = 3;
const HEIGHT: usize = 96;
const WIDTH: usize = 128;
const STEPS: usize = 300;
const PRINT_EVERY: usize = 50;
const LEARNING_RATE: f32 = 0.02;
const LAMBDA: f64 = 0.2;

// Adam on the GPU, one invocation per pixel; the step's bias-corrected rate comes in a uniform
// the host rewrites each step. Pixels are kept in [0, 1], as an image's are.
const ADAM: &str = r#"
struct Step { lr: f32, b1: f32, b2: f32, eps: f32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;

@compute @workgroup_size(64)
fn adam(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= arrayLength(&x) {
        return;
    }
    m[i] = step.b1 * m[i] + (1.0 - step.b1) * g[i];
    v[i] = step.b2 * v[i] + (1.0 - step.b2) * g[i] * g[i];
    x[i] = clamp(x[i] - step.lr * m[i] / (sqrt(v[i]) + step.eps), 0.0, 1.0);
}
"#;

/// The picture to fit: smooth colour ramps, a disc, and a band of stripes (edges SSIM sees).
fn target() -> Vec<f32> {
    let mut t = vec![0f32; CHANNELS * HEIGHT * WIDTH];
    for c in 0..CHANNELS {
        for i in 0..HEIGHT {
            for j in 0..WIDTH {
                let (y, x) = (i as f32 / HEIGHT as f32, j as f32 / WIDTH as f32);
                let mut v = 0.25 + 0.5 * ((3.0 * x + c as f32) * 1.3).sin().abs() * y;
                if (x - 0.3).powi(2) + (y - 0.45).powi(2) < 0.04 {
                    v = [0.9, 0.5, 0.2][c];
                }
                if x > 0.6 && (j / 4) % 2 == 0 {
                    v = 0.3 + 0.6 * y * (c as f32 / 2.0);
                }
                t[(c * HEIGHT + i) * WIDTH + j] = v.clamp(0.0, 1.0);
            }
        }
    }
    t
}

fn write_png(path: &Path, planes: &[f32]) -> Result<()> {
    let fail = |e: String| LossError::File {
        path: path.display().to_string(),
        why: e,
    };
    let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let plane = HEIGHT * WIDTH;
    let rgb: Vec<u8> = (0..plane)
        .flat_map(|p| (0..CHANNELS).map(move |c| c * plane + p))
        .map(|k| (planes[k].clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .map_err(|e| fail(e.to_string()))
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gpu-loss-fit-splatting"));
    std::fs::create_dir_all(&dir).map_err(|e| LossError::File {
        path: dir.display().to_string(),
        why: e.to_string(),
    })?;
    let started = Instant::now();
    let ctx = GpuContext::new()?;
    println!(
        "fitting {CHANNELS}×{HEIGHT}×{WIDTH} on {}",
        ctx.adapter_name()
    );

    let shape = [CHANNELS, HEIGHT, WIDTH];
    let n = CHANNELS * HEIGHT * WIDTH;
    let mut rng = StdRng::seed_from_u64(11);
    let noise: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
    let goal = target();
    let x = ctx.upload(&noise, &shape)?;
    let y = ctx.upload(&goal, &shape)?;
    let grad = ctx.zeros(&shape)?;
    let (m, v) = (ctx.zeros(&shape)?, ctx.zeros(&shape)?);

    let device = ctx.device();
    let step_uniform = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("adam step"),
        size: 16,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("adam"),
        source: wgpu::ShaderSource::Wgsl(ADAM.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("adam"),
        layout: None,
        module: &module,
        entry_point: Some("adam"),
        compilation_options: Default::default(),
        cache: None,
    });
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("adam"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            tensor(0, &x),
            tensor(1, &grad),
            tensor(2, &m),
            tensor(3, &v),
            wgpu::BindGroupEntry {
                binding: 4,
                resource: step_uniform.as_entire_binding(),
            },
        ],
    });

    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>8}",
        "step", "loss", "l1 term", "dssim term", "ssim"
    );
    let (b1, b2) = (0.9f32, 0.999f32);
    let (mut first, mut last) = (f32::NAN, f32::NAN);
    for step in 0..=STEPS {
        let mut enc = device.create_command_encoder(&Default::default());
        // The loss, its terms and d loss / d pixels, written into `grad`: nothing read back.
        let rec = ctx
            .loss("splatting")?
            .input(&x)
            .target(&y)
            .param("lambda", LAMBDA)
            .grad_into(&grad)
            .record(&mut enc)?;
        if step < STEPS {
            let t = (step + 1) as i32;
            // Decayed tenfold over the run, so L1's sign-like gradient settles instead of
            // dithering around the target; then Adam's bias correction.
            let decay = 0.1f32.powf(step as f32 / STEPS as f32);
            let lr = LEARNING_RATE * decay * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            ctx.queue()
                .write_buffer(&step_uniform, 0, bytemuck::cast_slice(&[lr, b1, b2, 1e-8]));
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(n.div_ceil(64) as u32, 1, 1);
        }
        ctx.queue().submit([enc.finish()]);
        if step % PRINT_EVERY == 0 {
            rec.check()?;
            let value = ctx.download(&rec.value)?[0];
            let term = |name: &str| -> Result<f32> {
                let t = rec.terms.iter().find(|(k, _)| *k == name);
                Ok(ctx.download(&t.expect("splatting has this term").1)?[0])
            };
            let (l1, dssim) = (term("l1")?, term("dssim")?);
            let ssim = 1.0 - f64::from(dssim) / LAMBDA;
            println!("{step:>5} {value:>10.6} {l1:>10.6} {dssim:>10.6} {ssim:>8.5}");
            if step == 0 {
                first = value;
            }
            last = value;
        }
    }
    let psnr = ctx.loss("psnr")?.input(&x).target(&y).value()?;
    let fitted = ctx.download(&x)?;
    write_png(&dir.join("target.png"), &goal)?;
    write_png(&dir.join("before.png"), &noise)?;
    write_png(&dir.join("after.png"), &fitted)?;
    println!(
        "loss {first:.6} -> {last:.6}, PSNR {psnr:.2} dB after {STEPS} steps in {:.1} s; \
         wrote target.png, before.png, after.png to {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    if last.is_nan() || last >= first {
        return Err(LossError::Gpu(format!(
            "the loss did not fall ({first} -> {last})"
        )));
    }
    Ok(())
}

fn tensor(binding: u32, t: &Tensor) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: t.buffer(),
            offset: t.offset(),
            size: wgpu::BufferSize::new(t.byte_len()),
        }),
    }
}
