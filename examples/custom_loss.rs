//! Custom losses written as formulas: `cargo run --release --example custom_loss`.
//!
//! 1. The text's L = Σ log(1 + (y − ŷ)²), with ŷ the input x: one fused GPU kernel with its
//!    gradient, generated from the formula, beside its float64 twin.
//! 2. Tukey's biweight, a robust loss whose branches are a `select`, with its tuning constant
//!    `c` a parameter (changing it compiles nothing).
//! 3. The generated gradient against central finite differences of the twin's value.

use gpu_loss::catalogue::{custom, Loss};
use gpu_loss::{GpuContext, Reduction};

const LOG_SQUARED: &str = "log(1 + (y - x)^2)";
const TUKEY: &str = "c = 4.685; e = x - y; \
                     select(abs(e) <= c, c^2 / 6 * (1 - (1 - (e / c)^2)^3), c^2 / 6)";

fn main() -> gpu_loss::Result<()> {
    let ctx = GpuContext::new()?;
    println!("adapter: {}", ctx.adapter_name());
    // Predictions near their targets, every tenth far off (an outlier).
    let n = 1000;
    let ys: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
    let xs: Vec<f32> = (0..n)
        .map(|i| ys[i] + (i as f32 * 1.3).cos() * if i % 10 == 0 { 20.0 } else { 0.5 })
        .collect();
    let x = ctx.upload(&xs, &[n])?;
    let y = ctx.upload(&ys, &[n])?;

    // 1. Σ log(1 + (y − ŷ)²) and its gradient, in one pass.
    let out = ctx
        .custom("log_squared", LOG_SQUARED)?
        .input(&x)
        .target(&y)
        .reduction(Reduction::Sum)
        .with_grad()
        .run()?;
    let entry = custom::formula("log_squared", LOG_SQUARED)?;
    let twin: f64 = (0..n)
        .map(|i| (entry.cpu)(xs[i] as f64, ys[i] as f64, 0.0, &[]).0)
        .sum();
    let value = out.value.unwrap_or(f32::NAN);
    println!("{LOG_SQUARED}: GPU {value:.6}, float64 twin {twin:.6}");
    assert!((value as f64 - twin).abs() <= 1e-5 * twin.abs());

    // 2. Tukey's biweight: outliers cost c²/6 at most; a smaller c trims more of them.
    for c in [4.685, 1.0] {
        let v = ctx
            .custom("tukey", TUKEY)?
            .input(&x)
            .target(&y)
            .param("c", c)
            .value()?;
        println!("tukey, c = {c}: mean {v:.6}");
    }

    // 3. The GPU's gradient (of the sum: dL/dx_i) against central differences of the twin.
    let grad = ctx.download(out.grad.as_ref().expect("asked for"))?;
    let loss = Loss::Elementwise(entry);
    let mut worst = 0f64;
    for i in (0..n).step_by(7) {
        let (xi, yi) = (xs[i] as f64, ys[i] as f64);
        let h = 1e-6 * (1.0 + xi.abs());
        let f = |x: f64| (entry.cpu)(x, yi, 0.0, &[]).0;
        let fd = (f(xi + h) - f(xi - h)) / (2.0 * h);
        worst = worst.max((grad[i] as f64 - fd).abs() / (1.0 + fd.abs()));
    }
    println!(
        "{}: gradient vs central differences, worst error {worst:.2e}",
        loss.name()
    );
    assert!(worst < 1e-5, "the generated gradient is off");
    Ok(())
}
