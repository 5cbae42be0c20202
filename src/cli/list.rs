//! `gpu-loss list`: the catalogue, each loss with its tensors, parameters and reductions.

use gpu_loss::catalogue::{
    self, Broadcast, Elementwise, Loss, Objective, RowKernel, RowLoss, Structured,
};
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

fn tensor(name: &str, required: bool, dtype: &str, shape: &str) -> Value {
    json!({"name": name, "required": required, "dtype": dtype, "shape": shape})
}

fn params(specs: &[ParamSpec]) -> Value {
    specs
        .iter()
        .map(|p| {
            let default = match p.rule {
                _ if p.default.is_nan() => Value::Null,
                Rule::OneOf { words, .. } => json!(words[p.default as usize]),
                Rule::Bool => json!(p.default != 0.0),
                _ => json!(p.default),
            };
            json!({"name": p.name, "default": default, "rule": p.rule.describe()})
        })
        .collect()
}

fn elementwise(l: &Elementwise) -> Value {
    let mut tensors = vec![
        tensor("input", true, "float32", "any"),
        tensor("target", true, "float32", "input's shape"),
        tensor("weight", false, "float32", "input's shape"),
    ];
    if let Some(a) = l.aux {
        let shape = match a.broadcast {
            Broadcast::PerRow => "input's shape, one per row ([..., 1] or [...]), or [1]",
            Broadcast::PerColumn => "input's shape, one per class ([C]), or [1]",
        };
        tensors.push(tensor(a.name, a.required, "float32", shape));
    }
    let mut reductions = vec!["none", "sum", "mean"];
    if l.batchmean {
        reductions.push("batchmean");
    }
    json!({
        "name": l.name,
        "aliases": l.aliases,
        "kind": "elementwise",
        "follows": l.follows,
        "tensors": tensors,
        "params": params(l.params),
        "reductions": reductions,
    })
}

fn row(l: &RowLoss) -> Value {
    let rows = "[..., C]";
    let tensors = match l.kernel {
        RowKernel::CrossEntropy => vec![
            tensor("input", true, "float32", rows),
            tensor(
                "target",
                true,
                "int32 | int64 | float32",
                "[...] (indices) or [..., C]",
            ),
            tensor("weight", false, "float32", "[C]"),
        ],
        RowKernel::Nll => vec![
            tensor("input", true, "float32", rows),
            tensor("target", true, "int32 | int64", "[...]"),
            tensor("weight", false, "float32", "[C]"),
        ],
        RowKernel::SparseCategorical => vec![
            tensor("input", true, "float32", rows),
            tensor("target", true, "int32 | int64", "[...]"),
        ],
        RowKernel::Stats => vec![
            tensor("input", true, "float32", rows),
            tensor("target", true, "float32", rows),
        ],
        RowKernel::Tuples => l
            .tensors
            .iter()
            .map(|&t| match t {
                "target" => tensor(t, true, "float32 (±1)", "[...]"),
                _ => tensor(t, true, "float32", rows),
            })
            .collect(),
    };
    json!({
        "name": l.name,
        "aliases": [],
        "kind": "row",
        "follows": l.follows,
        "tensors": tensors,
        "params": params(l.params),
        "reductions": ["none", "sum", "mean"],
    })
}

fn objective(o: &Objective) -> Value {
    let tensors: Vec<Value> = o
        .tensors
        .iter()
        .map(|&t| match t {
            "target_domain" | "original_domain" => tensor(t, true, "int32 | int64", "[N]"),
            _ => tensor(t, true, "float32", "any"),
        })
        .collect();
    json!({
        "name": o.name,
        "aliases": [],
        "kind": "objective",
        "follows": o.follows,
        "tensors": tensors,
        "gradients": o.grads,
        "params": params(o.params),
        "reductions": ["mean"],
    })
}

fn structured(s: &Structured) -> Value {
    let shape = match s.name {
        "total_variation" => "[..., H, W]",
        "wasserstein_1d" => "[..., C]",
        "wasserstein_1d_samples" => "[n]",
        _ => "[C, M] or [B, C, M]",
    };
    let tensors: Vec<Value> = s
        .tensors
        .iter()
        .enumerate()
        .map(|(i, &t)| tensor(t, i < s.required, "float32", shape))
        .collect();
    json!({
        "name": s.name,
        "aliases": [],
        "kind": "structured",
        "follows": s.follows,
        "tensors": tensors,
        "gradients": s.grads,
        "params": params(s.params),
        "reductions": ["none", "sum", "mean"],
    })
}

/// Every loss of the catalogue, as `list --json` prints it.
pub fn catalogue() -> Vec<Value> {
    catalogue::all()
        .map(|l| match l {
            Loss::Elementwise(e) => elementwise(e),
            Loss::Row(r) => row(r),
            Loss::Objective(o) => objective(o),
            Loss::Structured(s) => structured(s),
        })
        .collect()
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
