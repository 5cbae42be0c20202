//! A trainer's loop: logistic regression on a synthetic dataset, trained by full-batch gradient
//! descent entirely on the GPU. The trainer owns the model's two small kernels (the forward
//! product and the weight update); gpu-loss records bce_with_logits and its gradient with
//! respect to the logits into the same command encoder, and leaves each epoch's loss in a GPU
//! buffer. Nothing is read back until every tenth epoch, when the losses so far are printed.
//!
//! `cargo run --release --example train_logistic`

use gpu_loss::sample::normal;
use gpu_loss::{GpuContext, LossError, Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SAMPLES: usize = 8192;
const FEATURES: usize = 16;
const EPOCHS: usize = 100;
const LEARNING_RATE: f32 = 0.5;

// The trainer's kernels. `forward`: logits = X·w + b, one invocation per sample. `update`:
// one workgroup per parameter j folds dL/dlogits · X[:, j] over the samples (a tree in
// workgroup memory) and takes one step; parameter FEATURES is the bias.
// FEATURES and LEARNING_RATE are prepended from the Rust constants.
const MODEL: &str = r#"

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= arrayLength(&logits) {
        return;
    }
    var z = w[FEATURES];
    for (var j = 0u; j < FEATURES; j++) {
        z += x[i * FEATURES + j] * w[j];
    }
    logits[i] = z;
}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = wid.x;
    let n = arrayLength(&grad);
    var s = 0.0;
    for (var i = lid; i < n; i += 256u) {
        var feature = 1.0;
        if j < FEATURES {
            feature = x[i * FEATURES + j];
        }
        s += grad[i] * feature;
    }
    partial[lid] = s;
    for (var half = 128u; half > 0u; half /= 2u) {
        workgroupBarrier();
        if lid < half {
            partial[lid] += partial[lid + half];
        }
    }
    if lid == 0u {
        w[j] -= LEARNING_RATE * partial[0];
    }
}
"#;

/// Two Gaussian classes, separable up to noise: label 1 where true_w·x + 0.3 + noise > 0.
fn dataset(rng: &mut StdRng) -> (Vec<f32>, Vec<f32>) {
    let true_w: Vec<f32> = (0..FEATURES).map(|_| normal(rng)).collect();
    let mut x = Vec::with_capacity(SAMPLES * FEATURES);
    let mut y = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let row: Vec<f32> = (0..FEATURES).map(|_| normal(rng)).collect();
        let z: f32 = row.iter().zip(&true_w).map(|(a, b)| a * b).sum::<f32>() + 0.3;
        y.push(if z + 0.5 * normal(rng) > 0.0 {
            1.0
        } else {
            0.0
        });
        x.extend(row);
    }
    // A little label noise, so the loss cannot fall to zero.
    for label in y.iter_mut() {
        if rng.random::<f32>() < 0.02 {
            *label = 1.0 - *label;
        }
    }
    (x, y)
}

fn main() -> Result<()> {
    let ctx = GpuContext::new()?;
    println!("training on {}", ctx.adapter_name());
    let mut rng = StdRng::seed_from_u64(7);
    let (x_host, y_host) = dataset(&mut rng);

    let x = ctx.upload(&x_host, &[SAMPLES, FEATURES])?;
    let y = ctx.upload(&y_host, &[SAMPLES])?;
    let w = ctx.zeros(&[FEATURES + 1])?;
    let logits = ctx.zeros(&[SAMPLES])?;
    let grad = ctx.zeros(&[SAMPLES])?;
    let losses = ctx.zeros(&[EPOCHS])?;

    let device = ctx.device();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("logistic model"),
        source: wgpu::ShaderSource::Wgsl(
            format!(
                "const FEATURES: u32 = {FEATURES}u;\nconst LEARNING_RATE: f32 = {LEARNING_RATE:?};\n{MODEL}"
            )
            .into(),
        ),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("logistic model"),
        entries: &[
            storage_entry(0, true),
            storage_entry(1, false),
            storage_entry(2, false),
            storage_entry(3, true),
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("logistic model"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = |entry: &str| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    let (forward, update) = (pipeline("forward"), pipeline("update"));
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("logistic model"),
        layout: &layout,
        entries: &[
            binding(0, &x),
            binding(1, &w),
            binding(2, &logits),
            binding(3, &grad),
        ],
    });

    // One view per epoch into the losses buffer: gpu-loss writes each epoch's mean there.
    let slots: Vec<Tensor> = (0..EPOCHS)
        .map(|e| Tensor::wrap(losses.buffer(), losses.offset() + 4 * e as u64, &[1]))
        .collect::<Result<_>>()?;
    println!("{:>6} bce of the last ten epochs", "epoch");
    for (epoch, slot) in slots.iter().enumerate() {
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&forward);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(SAMPLES.div_ceil(64) as u32, 1, 1);
        }
        // The loss and dL/dlogits in one pass, recorded: no readback, no wait.
        ctx.loss("bce_with_logits")?
            .input(&logits)
            .target(&y)
            .grad_into(&grad)
            .value_into(slot)
            .record(&mut enc)?;
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&update);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(FEATURES as u32 + 1, 1, 1);
        }
        ctx.queue().submit([enc.finish()]);
        if (epoch + 1) % 10 == 0 {
            // The only readback: the losses of the last ten epochs, left on the GPU till now.
            let all = ctx.download(&losses)?;
            let block: Vec<String> = all[epoch - 9..=epoch]
                .iter()
                .map(|l| format!("{l:.4}"))
                .collect();
            println!("{:>6} {}", epoch + 1, block.join(" "));
        }
    }

    // Accuracy of the trained model, on the host from the final weights.
    let w_host = ctx.download(&w)?;
    let correct = x_host
        .chunks(FEATURES)
        .zip(&y_host)
        .filter(|(row, &label)| {
            let z: f32 =
                row.iter().zip(&w_host).map(|(a, b)| a * b).sum::<f32>() + w_host[FEATURES];
            (z > 0.0) == (label > 0.5)
        })
        .count();
    let history = ctx.download(&losses)?;
    let (first, last) = (history[0], history[EPOCHS - 1]);
    println!(
        "loss {first:.4} -> {last:.4}; training accuracy {:.1}% ({correct} of {SAMPLES})",
        100.0 * correct as f64 / SAMPLES as f64
    );
    if last.is_nan() || last >= first {
        return Err(LossError::Gpu(format!(
            "the loss did not fall ({first} -> {last})"
        )));
    }
    Ok(())
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn binding(binding: u32, t: &Tensor) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: t.buffer(),
            offset: t.offset(),
            size: wgpu::BufferSize::new(t.byte_len()),
        }),
    }
}
