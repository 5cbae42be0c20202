//! `gpu-loss report`: every loss on every adapter at one size, against the float64 reference,
//! with its time and bandwidth beside the adapter's own buffer copy measured in the same run.

use super::eval::as_dtype;
use super::staged::Staged;
use super::workload::{inputs, measure, Size};
use gpu_loss::catalogue::{self, Loss};
use gpu_loss::{timing, DType, GpuContext, LossError, Result};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// A reduced value passes within this of the reference, relative to the terms' mass.
const VALUE_TOL: f64 = 1e-5;
/// A gradient passes within this normwise error (relative to its largest element).
const GRAD_TOL: f64 = 2e-6;
/// The same for the row losses, objectives and image losses.
const NAMED_GRAD_TOL: f64 = 1e-5;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Elements per tensor.
    #[arg(long, default_value_t = 1 << 20)]
    size: usize,
    /// Timed repetitions per loss (the median is reported).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Also write the report as JSON: one record per adapter and loss.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Only these losses (default: all, or none with --formula).
    losses: Vec<String>,
    /// Also a custom loss written as a formula (repeatable): run on `Real` samples and
    /// checked against its float64 interpreter.
    #[arg(long = "formula", value_name = "FORMULA")]
    formulas: Vec<String>,
    /// The float tensors' dtypes, comma-separated: f32, and f16 and bf16 for the losses that
    /// take halves (sections A-C), checked against the reference on the same rounded inputs.
    #[arg(long, value_delimiter = ',', default_value = "f32,bf16,f16")]
    dtype: Vec<String>,
}

impl Default for ReportArgs {
    fn default() -> Self {
        ReportArgs {
            size: 1 << 20,
            reps: 7,
            json: None,
            losses: Vec::new(),
            formulas: Vec::new(),
            dtype: ["f32", "bf16", "f16"].map(String::from).to_vec(),
        }
    }
}

/// Every loss of the catalogue, or those of `names` (a name not in it is an error).
pub fn chosen(names: &[String]) -> Result<Vec<Loss>> {
    if names.is_empty() {
        return Ok(catalogue::all().collect());
    }
    names
        .iter()
        .map(|n| catalogue::find(n).ok_or_else(|| LossError::UnknownLoss(n.clone())))
        .collect()
}

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let losses = super::with_formulas(&args.losses, &args.formulas, chosen)?;
    // Staged now, so a bad folder fails before the run, not after.
    let mut staged = Staged::open(&args.json.as_deref().into_iter().collect::<Vec<_>>())?;
    let dtypes: Vec<DType> = (args.dtype.iter())
        .map(|d| super::eval::dtype_arg(d, "--dtype"))
        .collect::<Result<_>>()?;
    // Every loss in f32 (when asked), the half dtypes where the loss takes them.
    let runs: Vec<(Loss, DType)> = (losses.iter())
        .flat_map(|&l| dtypes.iter().map(move |&d| (l, d)))
        .filter(|(l, d)| *d == DType::F32 || l.takes_halves())
        .collect();
    let contexts = GpuContext::all()?;
    let size = Size::Elements(args.size);
    let bar = super::progress(contexts.len() * runs.len());
    let mut records = Vec::new();
    let mut failed = 0;
    for ctx in &contexts {
        let n = args.size;
        let copy = timing::copy_bandwidth(ctx, 8 * n as u64, args.reps)?;
        let info = ctx.adapter_info();
        let backend = format!("{:?}", info.backend).to_lowercase();
        bar.suspend(|| {
            println!(
                "\n{}  ({} elements, times by {}, buffer copy {:.2} GB/s)",
                ctx.adapter_name(),
                n,
                timing::clock(ctx).name(),
                copy
            );
            println!(
                "{:<33} {:>9} {:>10} {:>10} {:>6} {:>10} {:>8} {:>7} {:>9}",
                "loss", "dtype", "value err", "grad err", "", "GPU ms", "GB/s", "/copy", "CPU/GPU"
            );
        });
        for &(loss, dtype) in &runs {
            bar.set_message(format!("{} {} on {}", loss.name(), dtype.name(), info.name));
            let tensors = as_dtype(inputs(loss, size, 0x5eed ^ n as u64), dtype)?;
            let m = measure(ctx, loss, &tensors, true, args.reps, true)?;
            let (value_err, grad_err) = m.errors.expect("checked");
            // Half gradients: one ulp of their dtype beyond the f32 tolerance.
            let grad_tol = match loss {
                Loss::Elementwise(_) => GRAD_TOL,
                _ => NAMED_GRAD_TOL,
            } + m.grad_rounding;
            let pass = value_err <= VALUE_TOL && grad_err <= grad_tol;
            let gbps = timing::gbps(m.bytes, m.gpu);
            let cpu_over_gpu = m.cpu.as_secs_f64() / m.gpu.as_secs_f64();
            bar.suspend(|| {
                println!(
                    "{:<33} {:>9} {:>10.2e} {:>10.2e} {:>6} {:>10.3} {:>8.2} {:>7.2} {:>9.1}",
                    loss.name(),
                    dtype.name(),
                    value_err,
                    grad_err,
                    if pass { "pass" } else { "FAIL" },
                    m.gpu.as_secs_f64() * 1e3,
                    gbps,
                    gbps / copy,
                    cpu_over_gpu,
                )
            });
            let shape: Vec<&[usize]> = tensors.iter().map(|(_, a)| a.shape.as_slice()).collect();
            records.push(json!({
                "tuning": ctx.tuning_of(loss),
                "adapter": info.name,
                "backend": backend,
                "loss": loss.name(),
                "dtype": dtype.name(),
                "shapes": shape,
                "value_err": value_err,
                "value_tol": VALUE_TOL,
                "grad_err": grad_err,
                "grad_tol": grad_tol,
                "pass": pass,
                "gpu_ms": m.gpu.as_secs_f64() * 1e3,
                "bytes": m.bytes,
                "gbps": gbps,
                "copy_gbps": copy,
                "ratio_to_copy": gbps / copy,
                "cpu_ms": m.cpu.as_secs_f64() * 1e3,
            }));
            if !pass {
                failed += 1;
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    println!(
        "\nvalue err: |GPU - float64| / the terms' mean magnitude (mean, tolerance {VALUE_TOL:.0e}); \
         grad err: max |GPU - float64| / max |float64| (tolerance {GRAD_TOL:.0e}; \
         {NAMED_GRAD_TOL:.0e} for row losses, objectives and images, whose f32 row sums \
         are plain; plus one ulp of the gradient's dtype for f16 and bf16, whose inputs the \
         reference reads rounded as the GPU does).\n\
         Row losses run on [N, 1024]; objectives on discriminator outputs and images of about \
         the same size.\n\
         GB/s counts bytes read and written (each tensor once, each gradient once); the copy \
         counts both too.\n\
         CPU/GPU: the float64 reference's time over the kernel's."
    );
    if args.json.is_some() {
        staged.write_bytes(0, &super::json_bytes(&serde_json::Value::Array(records)))?;
    }
    staged.commit()?;
    if failed > 0 {
        println!("{failed} loss(es) FAILED");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
