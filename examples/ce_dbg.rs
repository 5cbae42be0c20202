use gpu_loss::cpu::rows::{self, ClassTarget, CrossEntropy};
use gpu_loss::*;
fn main() -> Result<()> {
    let ctx = GpuContext::new()?;
    let inf = f32::INFINITY;
    let x = [1e4f32, -1e4, 0.0, -inf, 5.0, -inf, 2.0, 1e4, -1e4];
    let labels = [0i64, 1, 2];
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for softcap in [None, Some(30.0)] {
        let want = rows::cross_entropy(
            &x64,
            3,
            ClassTarget::Index(&labels),
            None,
            &CrossEntropy {
                softcap,
                ..Default::default()
            },
            Reduction::None,
        )?;
        let xt = ctx.upload(&x, &[3, 3])?;
        let lt = ctx.upload_i64(&labels, &[3])?;
        let mut call = ctx
            .loss("cross_entropy")?
            .input(&xt)
            .target(&lt)
            .reduction(Reduction::None)
            .with_grad();
        if let Some(s) = softcap {
            call = call.param("softcap", s);
        }
        let out = call.run()?;
        println!(
            "rows gpu {:?}\n     cpu {:?}",
            ctx.download(&out.elements.unwrap())?,
            want.rows
        );
        println!(
            "grad gpu {:?}\n     cpu {:?}",
            ctx.download(&out.grad.unwrap())?,
            want.grads[0]
        );
    }
    Ok(())
}
