//! Command-line interface: subcommands and their arguments.

mod adapters;
mod bench;
mod compare;
mod eval;
mod heatmap;
mod list;
mod plot;
mod report;
mod staged;
mod tune;
mod workload;

use clap::{Parser, Subcommand};
use gpu_loss::{GpuContext, LossError, Result};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "gpu-loss",
    version,
    about = "Loss functions as WGSL compute kernels, checked against a float64 reference"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every loss on every adapter against the CPU reference: errors, pass/fail, time, GB/s,
    /// beside the adapter's own buffer-copy bandwidth (the default command).
    Report(report::ReportArgs),
    /// The adapters wgpu finds, with the features and limits that matter here.
    Adapters,
    /// One loss on tensors from .npy files, on a GPU or the float64 reference; JSON on stdout.
    Eval(eval::EvalArgs),
    /// The catalogue: each loss's tensors, parameters and reductions.
    List(list::ListArgs),
    /// Throughput of losses at several sizes beside the adapter's own buffer copy and the
    /// CPU reference; a table, JSON records, an SVG plot.
    Bench(bench::BenchArgs),
    /// Two images (PNG or .npy) on the GPU: mse, psnr, ssim, ms_ssim; the SSIM map as a PNG.
    Compare(compare::CompareArgs),
    /// Times each tuned kernel family's launch-setting candidates on each adapter, prints
    /// them beside the defaults, and caches the fastest.
    Tune(tune::TuneArgs),
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args
        .command
        .unwrap_or(Command::Report(report::ReportArgs::default()))
    {
        Command::Report(a) => report::run(&a),
        Command::Adapters => adapters::run(),
        Command::Eval(a) => eval::run(&a),
        Command::List(a) => list::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Compare(a) => compare::run(&a),
        Command::Tune(a) => tune::run(&a),
    }
}

/// The custom loss a `--formula` defines, named `formula` (the first) or `formula2`, ...
fn formula_loss(i: usize, text: &str) -> Result<gpu_loss::catalogue::Loss> {
    let name = match i {
        0 => "formula".to_string(),
        i => format!("formula{}", i + 1),
    };
    let entry = gpu_loss::catalogue::custom::formula(&name, text)?;
    Ok(gpu_loss::catalogue::Loss::Elementwise(entry))
}

/// The losses a command names, then those its `--formula`s define; with formulas only, just
/// those (`all` is the catalogue when neither is given).
fn with_formulas(
    names: &[String],
    formulas: &[String],
    all: impl FnOnce(&[String]) -> Result<Vec<gpu_loss::catalogue::Loss>>,
) -> Result<Vec<gpu_loss::catalogue::Loss>> {
    let mut losses = if names.is_empty() && !formulas.is_empty() {
        Vec::new()
    } else {
        all(names)?
    };
    for (i, text) in formulas.iter().enumerate() {
        losses.push(formula_loss(i, text)?);
    }
    Ok(losses)
}

/// `value` as pretty JSON, as `--json` files hold it.
fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    (text + "\n").into_bytes()
}

/// The adapters of `backend` (auto, vulkan, gl, metal, dx12) whose name contains `name`; at
/// least one, or an error saying what was asked for.
fn matching_adapters(backend: &str, name: Option<&str>) -> Result<Vec<wgpu::Adapter>> {
    let wanted = match backend {
        "auto" => None,
        "vulkan" => Some(wgpu::Backend::Vulkan),
        "gl" => Some(wgpu::Backend::Gl),
        "metal" => Some(wgpu::Backend::Metal),
        "dx12" => Some(wgpu::Backend::Dx12),
        other => {
            return Err(LossError::Usage(format!(
                "--backend {other}: expected auto, vulkan, gl, metal, dx12 or cpu"
            )))
        }
    };
    let name_lc = name.map(str::to_lowercase);
    let found: Vec<wgpu::Adapter> = gpu_loss::adapters()
        .into_iter()
        .filter(|a| {
            let info = a.get_info();
            wanted.is_none_or(|b| info.backend == b)
                && name_lc
                    .as_ref()
                    .is_none_or(|n| info.name.to_lowercase().contains(n))
        })
        .collect();
    if found.is_empty() {
        // WGPU_BACKEND narrows what wgpu enumerates, so it may be why nothing matched.
        let env = std::env::var("WGPU_BACKEND")
            .map(|b| format!(" with WGPU_BACKEND={b:?}"))
            .unwrap_or_default();
        return Err(LossError::NoAdapter(format!(
            " for --backend {backend}{}{env}",
            name.map(|n| format!(" --adapter {n:?}"))
                .unwrap_or_default()
        )));
    }
    Ok(found)
}

/// Every adapter the flags name (`auto` without a name: every adapter found).
fn contexts(backend: &str, name: Option<&str>) -> Result<Vec<GpuContext>> {
    if backend == "auto" && name.is_none() {
        return GpuContext::all();
    }
    matching_adapters(backend, name)?
        .iter()
        .map(GpuContext::from_adapter)
        .collect()
}

/// A progress bar on stderr: drawn on a terminal, nothing elsewhere (a pipe, CI).
fn progress(len: usize) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(len as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("a valid template"),
    )
}
