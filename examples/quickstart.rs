//! The README's example, runnable: `cargo run --release --example quickstart`.
//! Three ways to call a loss on the default adapter, each checked against the float64 reference.

use gpu_loss::cpu;
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::{GpuContext, Reduction};

fn main() -> gpu_loss::Result<()> {
    let ctx = GpuContext::new()?;
    println!("adapter: {}", ctx.adapter_name());
    let (xs, ys) = ([0.5f32, 2.0, -1.0, 0.25], [0.0f32, 2.5, 1.0, 0.25]);
    let x = ctx.upload(&xs, &[2, 2])?;
    let y = ctx.upload(&ys, &[2, 2])?;

    // 1. Blocking, the value as f32.
    let huber = ctx
        .loss("huber")?
        .input(&x)
        .target(&y)
        .param("delta", 0.5)
        .value()?;
    let loss = gpu_loss::catalogue::elementwise("huber").unwrap();
    let delta = [("delta".to_string(), 0.5.into())];
    let p = Problem::new(
        loss,
        Shapes {
            input: &[2, 2],
            target: &[2, 2],
            weight: None,
            aux: None,
        },
        &delta,
        Reduction::Mean,
    )?;
    let inputs = cpu::Inputs {
        input: &xs,
        target: &ys,
        weight: None,
        aux: None,
    };
    let want = cpu::evaluate(&p, &inputs, false)?.value.unwrap();
    println!("huber(delta = 0.5), mean: GPU {huber}, float64 {want}");

    // 2. The gradient as a GPU tensor (downloaded here to print it).
    let labels = ctx.upload(&[0.0, 1.0, 1.0, 0.0], &[2, 2])?;
    let out = ctx
        .loss("bce_with_logits")?
        .input(&x)
        .target(&labels)
        .reduction(Reduction::Sum)
        .with_grad()
        .run()?;
    let grad = ctx.download(out.grad.as_ref().unwrap())?;
    println!("bce_with_logits, sum: {:?}, gradient {grad:?}", out.value);

    // 3. Recorded into our own encoder: nothing comes back until we ask.
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut encoder)?;
    ctx.queue().submit([encoder.finish()]);
    println!("mse, mean, read after submitting: {}", rec.read_value()?);
    Ok(())
}
