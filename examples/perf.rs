use gpu_loss::sample::{sample, AuxForm};
use gpu_loss::*;
fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(1 << 24);
    for ctx in GpuContext::all()? {
        let mut t = ctx.tuning();
        if let Some(w) = args.get(2) { t.max_workgroups = w.parse().unwrap(); }
        if let Some(w) = args.get(3) { t.workgroup_size = w.parse().unwrap(); }
        if let Some(w) = args.get(4) { t.vector_loads = w == "1"; }
        if let Some(w) = args.get(5) { let l: u32 = w.parse().unwrap(); t.layout = if l == 0 { tuning::Layout::GridStride } else { tuning::Layout::Blocked { lanes: l } }; }
        ctx.set_tuning(t);
        let copy = timing::copy_bandwidth(&ctx, 8 * n as u64, 5)?;
        println!("== {} {:?} clock={:?} copy {:.2} GB/s", ctx.adapter_name(), ctx.tuning(), timing::clock(&ctx), copy);
        for name in ["mse", "huber", "bce_with_logits"] {
            let loss = catalogue::elementwise(name).unwrap();
            let s = sample(loss, &[n], false, AuxForm::Default, 1);
            let x = ctx.upload(&s.input, &s.shape)?;
            let y = ctx.upload(&s.target, &s.shape)?;
            for grad in [false, true] {
                let g = ctx.zeros(&[n])?;
                let d = timing::median_time(&ctx, 5, |enc| {
                    let mut c = ctx.loss(name)?.input(&x).target(&y);
                    if grad { c = c.grad_into(&g); }
                    c.record(enc).map(|_| ())
                })?;
                let bytes = (if grad { 12 } else { 8 }) * n as u64;
                let bw = timing::gbps(bytes, d);
                let t0 = std::time::Instant::now();
                let p = problem::Problem::new(loss, problem::Shapes{input:&s.shape,target:&s.shape,weight:None,aux:None}, &[], Reduction::Mean)?;
                let _ = cpu::evaluate(&p, &cpu::Inputs{input:&s.input, target:&s.target, weight:None, aux:None}, grad)?;
                let cpu_t = t0.elapsed();
                println!("{name:16} grad={grad:5} {:8.2} ms {:6.2} GB/s ratio {:.2}  cpu {:8.2} ms (gpu/cpu speedup {:.1})", d.as_secs_f64()*1e3, bw, bw/copy, cpu_t.as_secs_f64()*1e3, cpu_t.as_secs_f64()/d.as_secs_f64());
            }
        }
    }
    Ok(())
}
