use gpu_loss::*;
fn main() -> Result<()> {
    let ctx = GpuContext::new()?;
    let name = std::env::args().nth(1).unwrap_or("focal".into());
    let loss = catalogue::elementwise(&name).unwrap();
    let mut xs = vec![]; let mut ys = vec![];
    for i in 0..2000 { let x = -12.0 + i as f32 * 0.012; for y in [0.0f32, 1.0, 0.3] { xs.push(x); ys.push(y); } }
    let n = xs.len();
    let x = ctx.upload(&xs, &[n])?; let y = ctx.upload(&ys, &[n])?;
    let out = ctx.loss(&name)?.input(&x).target(&y).reduction(Reduction::None).with_grad().run()?;
    let e = ctx.download(out.elements.as_ref().unwrap())?; let g = ctx.download(out.grad.as_ref().unwrap())?;
    let p = problem::Problem::new(loss, problem::Shapes{input:&[n],target:&[n],weight:None,aux:None}, &[], Reduction::None)?;
    let r = cpu::evaluate(&p, &cpu::Inputs{input:&xs,target:&ys,weight:None,aux:None}, true)?;
    let re = r.elements.unwrap(); let rg = r.grad.unwrap();
    let mut worst: Vec<(f64, usize)> = (0..n).map(|i| (((e[i] as f64 - re[i]) / re[i].abs().max(1e-30)).abs(), i)).collect();
    worst.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    for &(err, i) in worst.iter().take(6) { println!("value x={} y={} gpu={:e} cpu={:e} rel={:.2e}", xs[i], ys[i], e[i], re[i], err); }
    let mut worst: Vec<(f64, usize)> = (0..n).map(|i| (((g[i] as f64 - rg[i]) / rg[i].abs().max(1e-30)).abs(), i)).collect();
    worst.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    for &(err, i) in worst.iter().take(6) { println!("grad x={} y={} gpu={:e} cpu={:e} rel={:.2e}", xs[i], ys[i], g[i], rg[i], err); }
    Ok(())
}
