//! `gpu-loss tune`: times the launch-setting candidates of each tuned family on each adapter,
//! prints them beside the defaults, and caches the choice (what a family's first call would
//! otherwise do, with `GPU_LOSS_TUNING=retune`).

use super::report::chosen;
use super::staged::Staged;
use gpu_loss::catalogue::Loss;
use gpu_loss::{LossError, Result, TuneFamily};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// Tune the families of these losses (default: every tuned family).
    losses: Vec<String>,
    /// all (every adapter), vulkan, gl, metal or dx12.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Only adapters whose name contains this.
    #[arg(long, value_name = "SUBSTRING")]
    adapter: Option<String>,
    /// Write one JSON record per (adapter, family).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// The tuned families of `names`' losses, each once, in order.
fn families(names: &[String]) -> Result<Vec<TuneFamily>> {
    if names.is_empty() {
        return Ok(TuneFamily::ALL.to_vec());
    }
    let mut out = Vec::new();
    for loss in chosen(names)? {
        let family = match loss {
            Loss::Elementwise(_) => TuneFamily::Elementwise,
            Loss::Row(_) => TuneFamily::Rows,
            other => {
                return Err(LossError::Usage(format!(
                    "{}: its kernel takes the hand-picked settings; tuned families are those \
                     of the elementwise and row losses",
                    other.name()
                )))
            }
        };
        if !out.contains(&family) {
            out.push(family);
        }
    }
    Ok(out)
}

pub fn run(args: &TuneArgs) -> Result<ExitCode> {
    let families = families(&args.losses)?;
    let backend = match args.backend.as_str() {
        "all" => "auto",
        other => other,
    };
    let mut staged = Staged::open(&args.json.as_deref().into_iter().collect::<Vec<_>>())?;
    let contexts = super::contexts(backend, args.adapter.as_deref())?;
    let mut records = Vec::new();
    for ctx in &contexts {
        let defaults = ctx.tuning();
        for report in ctx.autotune(&families, true) {
            println!(
                "\n{} · {} · {}",
                report.adapter,
                report.family.name(),
                report.workload
            );
            let base_ms = report.timed.first().and_then(|t| t.ms);
            println!("  {:>9} {:>8}  settings", "ms", "/default");
            for t in &report.timed {
                let mark = if t.tuning == report.chosen {
                    "→"
                } else {
                    " "
                };
                match (t.ms, &t.error) {
                    (Some(ms), _) => println!(
                        "{mark} {ms:>9.3} {:>8.3}  {}",
                        base_ms.map_or(f64::NAN, |b| ms / b),
                        t.tuning
                    ),
                    (None, e) => println!(
                        "{mark} {:>9} {:>8}  {}  failed: {}",
                        "-",
                        "-",
                        t.tuning,
                        e.as_deref().unwrap_or("?")
                    ),
                }
            }
            records.push(json!({
                "adapter": report.adapter,
                "backend": format!("{:?}", ctx.adapter_info().backend).to_lowercase(),
                "family": report.family.name(),
                "workload": report.workload,
                "source": report.source.name(),
                "default": defaults,
                "chosen": report.chosen,
                "candidates": report.timed.iter().map(|t| json!({
                    "tuning": t.tuning,
                    "ms": t.ms,
                    "error": t.error,
                })).collect::<Vec<_>>(),
            }));
        }
        if let Some(file) = ctx.tuning_cache() {
            println!("\nsaved in {}", file.display());
        }
    }
    if args.json.is_some() {
        staged.write_bytes(0, &super::json_bytes(&json!(records)))?;
    }
    staged.commit()?;
    Ok(ExitCode::SUCCESS)
}
