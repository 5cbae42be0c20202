//! `gpu-loss report`: every loss on every adapter at one size, against the float64 reference,
//! with its time and bandwidth beside the adapter's own buffer copy measured in the same run.

use gpu_loss::catalogue::{self, Elementwise};
use gpu_loss::cpu;
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::sample::{sample, AuxForm};
use gpu_loss::{timing, GpuContext, Reduction, Result};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A reduced value passes within this of the reference, relative to the terms' mass.
const VALUE_TOL: f64 = 1e-5;
/// A gradient passes within this normwise error (relative to its largest element).
const GRAD_TOL: f64 = 2e-6;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Elements per tensor.
    #[arg(long, default_value_t = 1 << 20)]
    size: usize,
    /// Timed repetitions per loss (the median is reported).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Only these losses (default: all).
    losses: Vec<String>,
}

impl Default for ReportArgs {
    fn default() -> Self {
        ReportArgs {
            size: 1 << 20,
            reps: 7,
            losses: Vec::new(),
        }
    }
}

struct Row {
    loss: &'static str,
    value_err: f64,
    grad_err: f64,
    gpu: Duration,
    cpu: Duration,
    bytes: u64,
}

impl Row {
    fn pass(&self) -> bool {
        self.value_err <= VALUE_TOL && self.grad_err <= GRAD_TOL
    }
}

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let losses: Vec<&'static Elementwise> = if args.losses.is_empty() {
        catalogue::ELEMENTWISE.iter().collect()
    } else {
        args.losses
            .iter()
            .map(|n| {
                catalogue::elementwise(n).ok_or_else(|| gpu_loss::LossError::UnknownLoss(n.clone()))
            })
            .collect::<Result<_>>()?
    };
    let mut failed = 0;
    for ctx in GpuContext::all()? {
        let n = args.size;
        let copy = timing::copy_bandwidth(&ctx, 8 * n as u64, args.reps)?;
        println!(
            "\n{}  ({} elements, times by {}, buffer copy {:.2} GB/s)",
            ctx.adapter_name(),
            n,
            timing::clock(&ctx).name(),
            copy
        );
        println!(
            "{:<17} {:>10} {:>10} {:>6} {:>10} {:>8} {:>7} {:>9}",
            "loss", "value err", "grad err", "", "GPU ms", "GB/s", "/copy", "CPU/GPU"
        );
        for loss in &losses {
            let row = measure(&ctx, loss, n, args.reps)?;
            let gbps = timing::gbps(row.bytes, row.gpu);
            println!(
                "{:<17} {:>10.2e} {:>10.2e} {:>6} {:>10.3} {:>8.2} {:>7.2} {:>9.1}",
                row.loss,
                row.value_err,
                row.grad_err,
                if row.pass() { "pass" } else { "FAIL" },
                row.gpu.as_secs_f64() * 1e3,
                gbps,
                gbps / copy,
                row.cpu.as_secs_f64() / row.gpu.as_secs_f64(),
            );
            if !row.pass() {
                failed += 1;
            }
        }
    }
    println!(
        "\nvalue err: |GPU - float64| / sum of |terms| (mean, tolerance {VALUE_TOL:.0e}); \
         grad err: max |GPU - float64| / max |float64| (tolerance {GRAD_TOL:.0e}).\n\
         GB/s counts bytes read and written (input, target, gradient); the copy counts both too.\n\
         CPU/GPU: the float64 reference's time over the kernel's."
    );
    if failed > 0 {
        println!("{failed} loss(es) FAILED");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(ctx: &GpuContext, loss: &'static Elementwise, n: usize, reps: usize) -> Result<Row> {
    let s = sample(loss, &[n], false, AuxForm::Default, 0x5eed ^ n as u64);
    let x = ctx.upload(&s.input, &s.shape)?;
    let y = ctx.upload(&s.target, &s.shape)?;
    let aux = s
        .aux
        .as_ref()
        .map(|(v, sh)| ctx.upload(v, sh))
        .transpose()?;
    let grad = ctx.zeros(&s.shape)?;
    let call = || {
        let mut c = ctx.loss(loss.name)?.input(&x).target(&y).grad_into(&grad);
        if let (Some(a), Some(spec)) = (&aux, loss.aux) {
            c = c.tensor(spec.name, a);
        }
        Ok(c)
    };
    let got = call()?.run()?;
    let gpu = timing::median_time(ctx, reps, |enc| call()?.record(enc).map(|_| ()))?;

    let p = Problem::new(
        loss,
        Shapes {
            input: &s.shape,
            target: &s.shape,
            weight: None,
            aux: s.aux.as_ref().map(|a| a.1.as_slice()),
        },
        &[],
        Reduction::Mean,
    )?;
    let inputs = cpu::Inputs {
        input: &s.input,
        target: &s.target,
        weight: None,
        aux: s.aux.as_ref().map(|a| a.0.as_slice()),
    };
    let start = Instant::now();
    let want = cpu::evaluate(&p, &inputs, true)?;
    let cpu_time = start.elapsed();
    // The sum of |terms| (scaled like the value) bounds what rounding can do to the value.
    let mut none = p.clone();
    none.reduction = Reduction::None;
    let terms = cpu::evaluate(&none, &inputs, false)?
        .elements
        .unwrap_or_default();
    let abs_mass = terms.iter().map(|v| v.abs()).sum::<f64>() * p.grad_scale();
    let want_value = want.value.unwrap_or(f64::NAN);
    let value_err = (got.value.unwrap_or(f32::NAN) as f64 - want_value).abs()
        / want_value.abs().max(abs_mass).max(f64::MIN_POSITIVE);
    let got_grad = ctx.download(&grad)?;
    let want_grad = want.grad.unwrap_or_default();
    let scale = want_grad.iter().fold(0f64, |m, v| m.max(v.abs()));
    let grad_err = got_grad
        .iter()
        .zip(&want_grad)
        .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()))
        / scale.max(f64::MIN_POSITIVE);
    let aux_bytes = s.aux.as_ref().map_or(0, |a| 4 * a.0.len() as u64);
    Ok(Row {
        loss: loss.name,
        value_err: if value_err.is_nan() {
            f64::INFINITY
        } else {
            value_err
        },
        grad_err: if grad_err.is_nan() {
            f64::INFINITY
        } else {
            grad_err
        },
        gpu,
        cpu: cpu_time,
        bytes: 12 * n as u64 + aux_bytes,
    })
}
