use gpu_loss::sample::{sample, AuxForm};
use gpu_loss::*;
fn main() -> Result<()> {
    for ctx in GpuContext::all()? {
        println!("== {} tuning {:?}", ctx.adapter_name(), ctx.tuning());
        for loss in gpu_loss::catalogue::ELEMENTWISE {
            for n in [0usize, 1, 3, 257, 4099, 1 << 20] {
                let s = sample(loss, &[n], true, AuxForm::Default, 7);
                let x = ctx.upload(&s.input, &s.shape)?;
                let y = ctx.upload(&s.target, &s.shape)?;
                let w = ctx.upload(s.weight.as_ref().unwrap(), &s.shape)?;
                let aux = s.aux.as_ref().map(|(v, sh)| ctx.upload(v, sh)).transpose()?;
                let mut call = ctx.loss(loss.name)?.input(&x).target(&y).weight(&w).with_grad();
                if let (Some(a), Some(spec)) = (&aux, loss.aux) { call = call.tensor(spec.name, a); }
                let out = call.run()?;
                let p = problem::Problem::new(loss, problem::Shapes{input:&s.shape, target:&s.shape, weight: Some(&s.shape), aux: s.aux.as_ref().map(|a| a.1.as_slice())}, &[], Reduction::Mean)?;
                let r = cpu::evaluate(&p, &cpu::Inputs{input:&s.input, target:&s.target, weight: s.weight.as_deref(), aux: s.aux.as_ref().map(|a| a.0.as_slice())}, true)?;
                let g = ctx.download(out.grad.as_ref().unwrap())?;
                let rg = r.grad.unwrap();
                let gmax = rg.iter().fold(0f64, |m, v| m.max(v.abs()));
                let gerr = g.iter().zip(&rg).fold(0f64, |m, (a, b)| m.max((*a as f64 - b).abs())) / gmax.max(1e-300);
                let v = out.value.unwrap() as f64; let rv = r.value.unwrap();
                println!("{:14} n={:8} gpu={:<14e} cpu={:<14e} rel={:.2e} grad={:.2e}", loss.name, n, v, rv, ((v - rv)/rv).abs(), gerr);
            }
        }
    }
    Ok(())
}
