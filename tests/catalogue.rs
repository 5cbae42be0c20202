//! The guard against a half-added loss: every catalogue entry must have a GPU test, a twin
//! and a sampler that work together, a `list` line, a `report` line that passes, and a
//! conformance case in ../shared/conformance.

use gpu_loss::catalogue::{self, Loss};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::sample::{self, Size};
use gpu_loss::Reduction;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The files of tests that run losses on the GPU, against the float64 reference.
const GPU_TESTS: [&str; 6] = [
    include_str!("elementwise.rs"),
    include_str!("rows.rs"),
    include_str!("structured.rs"),
    include_str!("samples.rs"),
    include_str!("objectives.rs"),
    include_str!("images.rs"),
];

/// An awkward size: rows of 1024 and a ragged rest, odd sample counts.
const SIZE: Size = Size::Elements(4099);

fn names_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = text[..i].chars().next_back().is_none_or(|c| !ident(c));
        let after = text[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

/// The loss's name and aliases.
fn names(loss: Loss) -> Vec<&'static str> {
    let mut n = vec![loss.name()];
    if let Loss::Elementwise(l) = loss {
        n.extend(l.aliases);
    }
    n
}

#[test]
fn every_loss_has_a_gpu_test() {
    let missing: Vec<&str> = catalogue::all()
        .filter(|&l| !GPU_TESTS.iter().any(|t| names_word(t, l.name())))
        .map(Loss::name)
        .collect();
    assert!(missing.is_empty(), "no GPU test names {missing:?}");
}

#[test]
fn every_loss_samples_what_its_twin_takes() {
    for loss in catalogue::all() {
        let tensors = sample::named(loss, SIZE, 7);
        for spec in loss.tensors().iter().filter(|t| t.required) {
            assert!(
                tensors.iter().any(|(n, _)| n == spec.name),
                "{}: the sampler draws no `{}`",
                loss.name(),
                spec.name
            );
        }
        let r = evaluate_named(loss.name(), &tensors, &[], Reduction::Mean)
            .unwrap_or_else(|e| panic!("{}: the twin refuses its own sample: {e}", loss.name()));
        let value = r.value.expect("a mean");
        assert!(value.is_finite(), "{}: value {value}", loss.name());
        let grads: Vec<&str> = r.grads.iter().map(|g| g.0).collect();
        assert_eq!(grads, loss.grad_tensors(), "{}: gradients", loss.name());
        for (name, g) in &r.grads {
            let t = &tensors.iter().find(|(n, _)| n == name).expect("drawn").1;
            assert_eq!(g.len(), t.shape.iter().product::<usize>(), "{name}");
            assert!(
                g.iter().all(|v| v.is_finite()),
                "{}: d/d{name}",
                loss.name()
            );
        }
    }
}

fn gpu_loss(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .args(args)
        .output()
        .expect("gpu-loss runs")
}

#[test]
fn every_loss_has_a_list_line() {
    let out = gpu_loss(&["list", "--json"]);
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for loss in catalogue::all() {
        let entry = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == loss.name())
            .unwrap_or_else(|| panic!("{} is not listed", loss.name()));
        let tensors: Vec<&str> = entry["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            tensors,
            catalogue::names(&loss.tensors()),
            "{}",
            loss.name()
        );
    }
}

/// The whole road for every loss at once, as `cargo run --release` takes it: sampled inputs
/// (rounded to f16 and bf16 for the losses that take halves), the GPU, the twin, the comparison. On the first adapter's backend only (the GPU test files
/// run every adapter; a cold GL shader cache would take minutes here).
#[test]
fn every_loss_has_a_passing_report_line() {
    let adapters = gpu_loss::adapters();
    let first = adapters.first().expect("an adapter (see README: No GPU?)");
    let backend = format!("{:?}", first.get_info().backend).to_lowercase();
    let json = std::env::temp_dir().join(format!("gpu-loss-guard-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .args(["report", "--size", "4099", "--reps", "1", "--json"])
        .arg(&json)
        .env("WGPU_BACKEND", &backend)
        .output()
        .expect("gpu-loss runs");
    let records: Value = serde_json::from_slice(&std::fs::read(&json).expect("report --json"))
        .expect("JSON records");
    let _ = std::fs::remove_file(&json);
    for loss in catalogue::all() {
        let dtypes: &[&str] = if loss.takes_halves() {
            &["float32", "bfloat16", "float16"]
        } else {
            &["float32"]
        };
        for dtype in dtypes {
            let line = records
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["loss"] == loss.name() && r["dtype"] == *dtype)
                .unwrap_or_else(|| panic!("no {dtype} report line for {}", loss.name()));
            assert_eq!(line["pass"], true, "{} {dtype}: {line}", loss.name());
        }
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn every_loss_has_a_conformance_case() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/cases");
    let dirs = std::fs::read_dir(&cases)
        .unwrap_or_else(|e| panic!("{}: {e} (shared/ beside the repo)", cases.display()));
    let mut covered = Vec::new();
    for d in dirs {
        let file = d.expect("a case").path().join("case.json");
        if let Ok(text) = std::fs::read_to_string(&file) {
            let case: Value = serde_json::from_str(&text).expect("case.json");
            covered.push(case["loss"].as_str().unwrap_or_default().to_string());
        }
    }
    let missing: Vec<&str> = catalogue::all()
        .filter(|&l| !names(l).iter().any(|n| covered.iter().any(|c| c == n)))
        .map(Loss::name)
        .collect();
    assert!(missing.is_empty(), "no conformance case for {missing:?}");
}
