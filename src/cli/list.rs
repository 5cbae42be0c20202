//! `gpu-loss list`: the catalogue, each loss with its tensors, parameters and reductions.

use gpu_loss::catalogue::{self, Loss};
use gpu_loss::params::{ParamSpec, Rule};
use gpu_loss::Result;
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Print the catalogue as JSON.
    #[arg(long)]
    json: bool,
}

fn params(specs: &[ParamSpec]) -> Value {
    specs
        .iter()
        .map(|p| {
            let default = match p.rule {
                _ if p.default.is_nan() => Value::Null,
                Rule::OneOf { words, .. } => json!(words[p.default as usize]),
                Rule::Bool => json!(p.default != 0.0),
                Rule::Window | Rule::Integer => json!(p.default as i64),
                _ => json!(p.default),
            };
            json!({"name": p.name, "default": default, "rule": p.rule.describe()})
        })
        .collect()
}

/// One loss as `list --json` prints it, from its catalogue entry.
fn entry(loss: Loss) -> Value {
    let tensors: Vec<Value> = loss
        .tensors()
        .iter()
        .map(|t| {
            json!({"name": t.name, "required": t.required, "dtype": t.holds.dtypes(), "shape": t.shape})
        })
        .collect();
    let (kind, aliases) = match loss {
        Loss::Elementwise(l) => ("elementwise", l.aliases),
        Loss::Row(_) => ("row", &[][..]),
        Loss::Objective(_) => ("objective", &[][..]),
        Loss::Structured(_) => ("structured", &[][..]),
    };
    let reductions: Vec<&str> = loss.reductions().iter().map(|r| r.name()).collect();
    let mut v = json!({
        "name": loss.name(),
        "aliases": aliases,
        "kind": kind,
        "follows": loss.follows(),
        "tensors": tensors,
        "params": params(loss.params()),
        "reductions": reductions,
    });
    if matches!(loss, Loss::Objective(_) | Loss::Structured(_)) {
        v["gradients"] = json!(loss.grad_tensors());
    }
    v
}

/// Every loss of the catalogue, as `list --json` prints it.
pub fn catalogue() -> Vec<Value> {
    catalogue::all().map(entry).collect()
}

pub fn run(args: &ListArgs) -> Result<ExitCode> {
    let all = catalogue();
    if args.json {
        println!("{}", Value::Array(all));
        return Ok(ExitCode::SUCCESS);
    }
    for l in &all {
        println!(
            "{}  ({})",
            l["name"].as_str().unwrap_or(""),
            l["follows"].as_str().unwrap_or("")
        );
        for t in l["tensors"].as_array().into_iter().flatten() {
            println!(
                "    {:<10} {:<24} {}{}",
                t["name"].as_str().unwrap_or(""),
                t["dtype"].as_str().unwrap_or(""),
                t["shape"].as_str().unwrap_or(""),
                if t["required"] == json!(true) {
                    ""
                } else {
                    " (optional)"
                }
            );
        }
        for p in l["params"].as_array().into_iter().flatten() {
            let default = match &p["default"] {
                Value::Null => "none".to_string(),
                v => v.to_string(),
            };
            println!(
                "    {}={default}  ({})",
                p["name"].as_str().unwrap_or(""),
                p["rule"].as_str().unwrap_or("")
            );
        }
        let reductions: Vec<&str> = l["reductions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!("    reductions: {}", reductions.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
