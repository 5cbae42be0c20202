//! The same loss on every adapter wgpu finds, on the same data: the values side by side and
//! their spread, beside the float64 reference.
//!
//! `cargo run --release --example cross_vendor -- [LOSS] [N]` (default: cross_entropy 4096x1000
//! for row losses, 1,000,000 elements for elementwise ones).

use gpu_loss::catalogue::{self, Loss};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::sample::normal;
use gpu_loss::{GpuContext, LossError, Reduction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() -> gpu_loss::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "cross_entropy".into());
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let loss = catalogue::find(&name).ok_or_else(|| LossError::UnknownLoss(name.clone()))?;
    let mut rng = StdRng::seed_from_u64(7);
    let floats = |shape: &[usize], rng: &mut StdRng| Array {
        shape: shape.to_vec(),
        values: Values::Float(
            (0..shape.iter().product())
                .map(|_| f64::from(normal(rng)))
                .collect(),
        ),
        dtype: "<f4".into(),
    };
    // Inputs: logits and labels for the class losses; two real tensors otherwise.
    let tensors: Vec<(String, Array)> = match loss {
        Loss::Row(l) if l.name == "cross_entropy" || l.name == "nll" => {
            let (rows, classes) = ((n / 1000).max(1), 1000);
            let labels = Array {
                shape: vec![rows],
                values: Values::Int((0..rows).map(|_| rng.random_range(0..1000)).collect()),
                dtype: "<i8".into(),
            };
            vec![
                ("input".into(), floats(&[rows, classes], &mut rng)),
                ("target".into(), labels),
            ]
        }
        Loss::Elementwise(l) => {
            let s = gpu_loss::sample::sample(l, &[n], false, gpu_loss::sample::AuxForm::Absent, 7);
            let arr = |v: &[f32]| Array {
                shape: s.shape.clone(),
                values: Values::Float(v.iter().map(|&x| f64::from(x)).collect()),
                dtype: "<f4".into(),
            };
            vec![
                ("input".into(), arr(&s.input)),
                ("target".into(), arr(&s.target)),
            ]
        }
        _ => {
            return Err(LossError::Usage(format!(
                "{name}: this example runs elementwise losses, cross_entropy and nll"
            )))
        }
    };
    let want = evaluate_named(loss.name(), &tensors, &[], Reduction::Mean)?
        .value
        .unwrap_or(f64::NAN);
    println!("{name}, mean, same data on every adapter; float64 reference {want:.9}");
    let mut values = Vec::new();
    for ctx in GpuContext::all()? {
        let uploaded: Vec<_> = tensors
            .iter()
            .map(|(k, a)| {
                let t = match a.ints() {
                    Some(labels) => ctx.upload_i64(labels, &a.shape),
                    None => ctx.upload(&a.f32s(), &a.shape),
                }?;
                Ok((k.as_str(), t))
            })
            .collect::<gpu_loss::Result<_>>()?;
        let mut call = ctx.loss(&name)?;
        for (k, t) in &uploaded {
            call = call.tensor(k, t);
        }
        let v = call.value()? as f64;
        println!(
            "  {:<48} {v:.9}  (relative to float64: {:+.2e})",
            ctx.adapter_name(),
            (v - want) / want.abs()
        );
        values.push(v);
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    println!(
        "spread between adapters: {:.2e} (relative {:.2e})",
        hi - lo,
        (hi - lo) / want.abs()
    );
    Ok(())
}
