//! `gpu-loss bench`: the throughput of losses at several sizes, each beside the adapter's own
//! buffer copy of the same traffic (measured right before it, in the same run) and the float64
//! reference's time. Ratios measured side by side are what mean something on shared machines.

use super::plot::{self, Point};
use super::report::chosen;
use super::staged::Staged;
use super::workload::{inputs, measure, Size};
use gpu_loss::{timing, DType, Result};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_LOSSES: [&str; 4] = ["mse", "huber", "bce_with_logits", "cross_entropy"];

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The losses (default: mse huber bce_with_logits cross_entropy, or none with --formula).
    losses: Vec<String>,
    /// Also a custom loss written as a formula (repeatable), named formula, formula2, ...
    #[arg(long = "formula", value_name = "FORMULA")]
    formulas: Vec<String>,
    /// Element counts (65536), ROWSxCOLS (512x32768) or image stacks CxHxW, NxCxHxW
    /// (3x1080x1920, 5x3x1080x1920), comma-separated. A count is [N/1024, 1024] for the row
    /// losses; ROWSxCOLS is [ROWS, COLS] for elementwise ones and a [1, 3, ROWS, COLS]
    /// picture for the image losses (ssim, ms_ssim, psnr, splatting); an image stack is
    /// their input's shape (elementwise losses take it as is, row losses as rows of W).
    #[arg(long, value_delimiter = ',', default_value = "65536,1048576,16777216")]
    sizes: Vec<String>,
    /// Time the loss with its gradient (written into a preallocated tensor).
    #[arg(long)]
    grad: bool,
    /// The float tensors' dtypes: f32, f16, bf16, comma-separated (class labels stay int64);
    /// several are measured side by side, one after another per loss and size.
    #[arg(long, value_delimiter = ',', default_value = "f32")]
    dtype: Vec<String>,
    /// all (every adapter), vulkan, gl, metal or dx12.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Only adapters whose name contains this.
    #[arg(long, value_name = "SUBSTRING")]
    adapter: Option<String>,
    /// Timed repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Write one JSON record per (adapter, loss, size).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw GB/s against size per loss, with the copy bandwidth, as SVG.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Also time each row under the hand-picked settings (`GPU_LOSS_TUNING=off`), right after
    /// the tuned ones: `default ms` and `tuned/default` columns, `default_ms` in JSON.
    #[arg(long)]
    vs_defaults: bool,
}

/// `measure` under the hand-picked settings; the context's own mode is restored after (its
/// families then decide again, from the cache).
fn measure_defaults(
    ctx: &gpu_loss::GpuContext,
    loss: gpu_loss::catalogue::Loss,
    tensors: &[(String, gpu_loss::npy::Array)],
    grad: bool,
    reps: usize,
) -> Result<f64> {
    let mode = ctx.tuning_mode();
    ctx.set_tuning_mode(gpu_loss::TuningMode::Off);
    let m = measure(ctx, loss, tensors, grad, reps, false);
    ctx.set_tuning_mode(mode);
    Ok(m?.gpu.as_secs_f64() * 1e3)
}

pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let names: Vec<String> = if args.losses.is_empty() && args.formulas.is_empty() {
        DEFAULT_LOSSES.iter().map(|s| s.to_string()).collect()
    } else {
        args.losses.clone()
    };
    let losses = super::with_formulas(&names, &args.formulas, chosen)?;
    let sizes: Vec<Size> = args
        .sizes
        .iter()
        .map(|s| Size::parse(s))
        .collect::<Result<_>>()?;
    let backend = match args.backend.as_str() {
        "all" => "auto",
        other => other,
    };
    // Both files are staged now, so a bad folder fails before the measuring, not after.
    let (json, plot) = (args.json.as_deref(), args.plot.as_deref());
    let mut staged = Staged::open(&[json, plot].into_iter().flatten().collect::<Vec<_>>())?;
    let dtypes: Vec<DType> = (args.dtype.iter())
        .map(|d| super::eval::dtype_arg(d, "--dtype"))
        .collect::<Result<_>>()?;
    let contexts = super::contexts(backend, args.adapter.as_deref())?;
    let reps = args.reps.max(1);

    let bar = super::progress(contexts.len() * losses.len() * sizes.len() * dtypes.len());
    let mut records = Vec::new();
    let mut points = Vec::new();
    for ctx in &contexts {
        let info = ctx.adapter_info();
        let backend = format!("{:?}", info.backend).to_lowercase();
        bar.suspend(|| {
            println!(
                "\n{}  (times by {}, median of {reps})",
                ctx.adapter_name(),
                timing::clock(ctx).name()
            );
            println!(
                "{:<24} {:>16} {:>8} {:>5} {:>10} {:>9} {:>8} {:>9} {:>7} {:>10} {:>8}",
                "loss",
                "size",
                "dtype",
                "grad",
                "GPU ms",
                "MB",
                "GB/s",
                "copy GB/s",
                "/copy",
                "CPU ms",
                "CPU/GPU"
            )
        });
        for &loss in &losses {
            for (&size, &dtype) in sizes
                .iter()
                .flat_map(|s| dtypes.iter().map(move |d| (s, d)))
            {
                bar.set_message(format!("{} {} on {}", loss.name(), size.label(), info.name));
                let tensors = inputs(loss, size, 0xbe7c ^ size.elements() as u64);
                let tensors = super::eval::as_dtype(tensors, dtype)?;
                let m = measure(ctx, loss, &tensors, args.grad, reps, false)?;
                let defaults_ms = if args.vs_defaults {
                    Some(measure_defaults(ctx, loss, &tensors, args.grad, reps)?)
                } else {
                    None
                };
                // The copy moves the same bytes: half read, half written.
                let copy = timing::copy_bandwidth(ctx, m.bytes.div_ceil(2), reps)?;
                let gbps = timing::gbps(m.bytes, m.gpu);
                let (gpu_ms, cpu_ms) = (m.gpu.as_secs_f64() * 1e3, m.cpu.as_secs_f64() * 1e3);
                let shape = &tensors[0].1.shape;
                bar.suspend(|| {
                    println!(
                        "{:<24} {:>16} {:>8} {:>5} {:>10.3} {:>9.2} {:>8.2} {:>9.2} {:>7.2} {:>10.2} {:>8.1}",
                        loss.name(),
                        size.label(),
                        dtype.name(),
                        if args.grad { "yes" } else { "no" },
                        gpu_ms,
                        m.bytes as f64 / 1e6,
                        gbps,
                        copy,
                        gbps / copy,
                        cpu_ms,
                        cpu_ms / gpu_ms,
                    );
                    if let Some(d) = defaults_ms {
                        println!("{:>52} default {d:.3} ms, tuned/default {:.3}", "", gpu_ms / d);
                    }
                });
                records.push(json!({
                    "adapter": info.name,
                    "backend": backend,
                    "loss": loss.name(),
                    "n": shape.iter().product::<usize>(),
                    "shape": shape,
                    "grad": args.grad,
                    "dtype": dtype.name(),
                    "gpu_ms": gpu_ms,
                    "bytes": m.bytes,
                    "gbps": gbps,
                    "copy_gbps": copy,
                    "ratio_to_copy": gbps / copy,
                    "cpu_ms": cpu_ms,
                    "clock": timing::clock(ctx).name(),
                    "tuning": ctx.tuning_of(loss),
                    "default_ms": defaults_ms,
                }));
                points.push(Point {
                    panel: format!("{} ({backend})", info.name),
                    series: match dtypes.len() {
                        1 => loss.name().to_string(),
                        _ => format!("{} {}", loss.name(), dtype.name()),
                    },
                    n: shape.iter().product(),
                    gbps,
                    copy_gbps: copy,
                });
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "\nMB: bytes every call must move (each tensor read once, each gradient written once); \
         GB/s = MB / GPU time. copy GB/s: copy_buffer_to_buffer of the same traffic, measured \
         just before. CPU ms: the float64 reference (value and gradients)."
    );
    if json.is_some() {
        staged.write_bytes(0, &super::json_bytes(&serde_json::Value::Array(records)))?;
    }
    if plot.is_some() {
        let title = format!(
            "gpu-loss bench{}",
            if args.grad { " (with gradient)" } else { "" }
        );
        let svg = plot::svg(&title, &points);
        staged.write_bytes(usize::from(json.is_some()), svg.as_bytes())?;
    }
    staged.commit()?;
    Ok(ExitCode::SUCCESS)
}
