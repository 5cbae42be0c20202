//! The crate page's examples (src/lib.rs), which need an adapter and so are `no_run` there,
//! run here on every adapter, their results checked against the float64 reference.

mod common;

use common::defaults;
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::losses::{Focal, Huber};
use gpu_loss::npy::{Array, Values};
use gpu_loss::params::ParamValue;
use gpu_loss::{GpuContext, LossError, Reduction};

const X: [f32; 3] = [0.5, 2.0, -1.0];
const Y: [f32; 3] = [0.0, 2.5, 1.0];

/// The float64 reference of `loss` on X and Y (value, and the input's gradient).
fn reference(loss: &str, params: &[(&str, f64)], reduction: Reduction) -> (f64, Vec<f64>) {
    let array = |v: &[f32]| Array {
        shape: vec![v.len()],
        values: Values::Float(v.iter().map(|&x| f64::from(x)).collect()),
        dtype: "<f4".into(),
    };
    let tensors = [
        ("input".to_string(), array(&X)),
        ("target".to_string(), array(&Y)),
    ];
    let given: Vec<(String, ParamValue)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Number(*v)))
        .collect();
    let r = evaluate_named(loss, &tensors, &given, reduction).expect("reference");
    let grad = r.grads.first().map(|g| g.1.clone()).unwrap_or_default();
    (r.value.expect("a value"), grad)
}

fn close(got: f32, want: f64, what: &str) {
    let err = (f64::from(got) - want).abs() / want.abs().max(1e-6);
    assert!(err < 1e-5, "{what}: {got} against the float64 {want}");
}

#[test]
fn three_ways_to_run_a_loss() -> gpu_loss::Result<()> {
    for t in defaults() {
        let ctx = &t.ctx;
        let x = ctx.upload(&X, &[3])?;
        let y = ctx.upload(&Y, &[3])?;
        let mean = ctx
            .loss("huber")?
            .input(&x)
            .target(&y)
            .param("delta", 0.5)
            .value()?;
        close(
            mean,
            reference("huber", &[("delta", 0.5)], Reduction::Mean).0,
            &t.name,
        );
        let out = ctx
            .loss("mse")?
            .input(&x)
            .target(&y)
            .reduction(Reduction::Sum)
            .with_grad()
            .run()?;
        let grad: Vec<f32> = ctx.download(out.grad.as_ref().unwrap())?;
        let (sum, want_grad) = reference("mse", &[], Reduction::Sum);
        close(out.value.unwrap(), sum, &t.name);
        for (g, w) in grad.iter().zip(&want_grad) {
            close(*g, *w, &t.name);
        }
        let mut enc = ctx.device().create_command_encoder(&Default::default());
        let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
        ctx.queue().submit([enc.finish()]);
        rec.check()?;
        close(
            rec.read_value()?,
            reference("mse", &[], Reduction::Mean).0,
            &t.name,
        );
    }
    Ok(())
}

#[test]
fn typed_by_name_and_async() -> gpu_loss::Result<()> {
    for t in defaults() {
        let ctx = &t.ctx;
        let x = ctx.upload(&X, &[3])?;
        let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
        let typed = ctx.eval(&Huber { delta: 0.5 }, &x, &y)?;
        let by_name = ctx
            .loss("huber")?
            .input(&x)
            .target(&y)
            .param("delta", 0.5)
            .value()?;
        assert_eq!(typed, by_name, "{}", t.name);
        let focal = Focal {
            gamma: 1.0,
            ..Default::default()
        };
        let out = ctx.call(&focal).input(&x).target(&y).with_grad().run()?;
        assert!(out.value.unwrap().is_finite() && out.grad.is_some());

        let y = ctx.upload(&Y, &[3])?;
        let grad = pollster::block_on(async {
            let out = ctx
                .loss("mse")?
                .input(&x)
                .target(&y)
                .with_grad()
                .run_async()
                .await?;
            ctx.download_async(out.grad.as_ref().unwrap()).await
        })?;
        let (_, want) = reference("mse", &[], Reduction::Mean);
        for (g, w) in grad.iter().zip(&want) {
            close(*g, *w, &t.name);
        }
    }
    Ok(())
}

#[test]
fn a_callers_device_and_buffers() -> gpu_loss::Result<()> {
    let adapters = gpu_loss::adapters();
    for adapter in &adapters {
        let (device, queue) =
            pollster::block_on(adapter.request_device(&Default::default())).expect("device");
        let ctx = GpuContext::from_device(device.clone(), queue.clone())?;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("predictions and targets"),
            size: 2 * 4 * 1024,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let data: Vec<f32> = (0..2048).map(|i| (i % 17) as f32 * 0.25).collect();
        queue.write_buffer(&buffer, 0, bytemuck::cast_slice(&data));
        let x = ctx.wrap(&buffer, 0, &[1024])?;
        let y = ctx.wrap(&buffer, 4 * 1024, &[1024])?;
        let mut enc = device.create_command_encoder(&Default::default());
        let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
        queue.submit([enc.finish()]);
        let want: f64 = (0..1024)
            .map(|i| (f64::from(data[i]) - f64::from(data[1024 + i])).powi(2))
            .sum::<f64>()
            / 1024.0;
        close(rec.read_value()?, want, &ctx.adapter_name());
    }
    Ok(())
}

#[test]
fn errors() -> gpu_loss::Result<()> {
    for t in defaults() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[0.5, f32::NAN, 1.0], &[3])?;
        let y = ctx.upload(&[0.0, 0.0, 0.0], &[3])?;
        let nan = ctx.loss("mse")?.input(&x).target(&y).value();
        let want = LossError::NaN {
            loss: "mse",
            tensor: "input",
            index: 1,
        };
        assert_eq!(nan, Err(want), "{}", t.name);
        let bad = ctx
            .loss("huber")?
            .input(&x)
            .target(&y)
            .param("delta", -1.0)
            .value();
        assert!(matches!(
            bad,
            Err(LossError::InvalidParam { name: "delta", .. })
        ));
    }
    Ok(())
}
