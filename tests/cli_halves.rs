//! `gpu-loss eval` on half-precision `.npy` files (issue 14): float16 (`<f2`) read as f16,
//! bf16 from 16-bit patterns (`<u2`, `|V2`) marked `NAME:bf16=FILE`, conversions on upload;
//! outputs in the input's dtype (f16 as `<f2`, bf16 as `<u2`) or float32 with `--grad-dtype`,
//! against `--backend cpu` on the same rounded values.

mod common;

use common::seed;
use gpu_loss::half::{bf16, f16};
use gpu_loss::npy::{self, Array, Values};
use gpu_loss::sample::normal;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gpu_loss(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .args(args)
        .output()
        .expect("the gpu-loss binary runs")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-loss-halves-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// bf16 bit patterns as `<u2`, or as the 2-byte void dtype ml_dtypes writes.
fn write_bf16(path: &Path, shape: &[usize], v: &[bf16], void: bool) {
    let bits: Vec<u16> = v.iter().map(|b| b.to_bits()).collect();
    npy::write_to(path, shape, &bits).unwrap();
    if void {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.windows(5).position(|w| w == b"'<u2'").unwrap();
        bytes[at + 1..at + 4].copy_from_slice(b"|V2");
        std::fs::write(path, bytes).unwrap();
    }
}

/// An output file's values and its dtype.
fn read(path: &Path) -> (Vec<f64>, String) {
    let a = Array::read(path).unwrap();
    let values = match (&a.values, a.dtype.as_str()) {
        (Values::Int(bits), "<u2") => bits
            .iter()
            .map(|&b| f64::from(bf16::from_bits(b as u16)))
            .collect(),
        _ => a.floats(),
    };
    (values, a.dtype)
}

/// Runs eval on the GPU and on the reference with `--out` and `--grad input=`; returns
/// (value, out, grad) of each and the GPU files' dtypes.
fn both(dir: &Path, tag: &str, args: &[String]) -> [(f64, Vec<f64>, Vec<f64>, String); 2] {
    ["auto", "cpu"].map(|backend| {
        let out = dir.join(format!("{tag}_out_{backend}.npy"));
        let grad = dir.join(format!("{tag}_grad_{backend}.npy"));
        let mut all: Vec<String> = vec!["eval".into()];
        all.extend(args.iter().cloned());
        all.extend([
            "--out".into(),
            out.display().to_string(),
            "--grad".into(),
            format!("input={}", grad.display()),
            "--backend".into(),
            backend.into(),
        ]);
        let o = gpu_loss(&all);
        assert!(
            o.status.success(),
            "{all:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let json: Value = serde_json::from_slice(&o.stdout).unwrap();
        let (out, dtype) = read(&out);
        let (grad, gdtype) = read(&grad);
        assert_eq!(dtype, gdtype, "{tag}: --out and --grad dtypes");
        (json["value"].as_f64().unwrap(), out, grad, dtype)
    })
}

/// GPU outputs within one ulp of `dtype` of the reference (plus the f32 tolerance).
fn agree(tag: &str, got: &[f64], want: &[f64], ulp_bits: i32) {
    let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ulp = 2f64.powf(w.abs().log2().floor().max(-14.0) - f64::from(ulp_bits));
        let tol = ulp + 1e-5 * largest;
        assert!((g - w).abs() <= tol, "{tag}[{i}]: {g} vs {w} ({tol:.2e})");
    }
}

#[test]
fn eval_reads_and_writes_half_precision() {
    let dir = scratch_dir("eval");
    let mut rng = StdRng::seed_from_u64(seed());
    let (n, c) = (67, 33);
    let mut random = |k: usize| (0..k).map(|_| normal(&mut rng)).collect::<Vec<f32>>();
    let (x, y) = (random(n * c), random(n * c));
    let file = |name: &str| dir.join(format!("{name}.npy"));

    // float16 files: kept f16, outputs `<f2`.
    let h = |v: &[f32]| v.iter().map(|&a| f16::from_f32(a)).collect::<Vec<_>>();
    npy::write_to(&file("x16"), &[n, c], &h(&x)).unwrap();
    npy::write_to(&file("y16"), &[n, c], &h(&y)).unwrap();
    let args = |x: &str, y: &str| -> Vec<String> {
        vec![
            "huber".into(),
            "--tensor".into(),
            format!(
                "input{x}={}",
                file(if x.is_empty() { "x16" } else { "x" }).display()
            ),
            "--tensor".into(),
            format!("target{y}={}", file("y16").display()),
        ]
    };
    let [gpu, cpu] = both(&dir, "f16", &args("", ""));
    assert_eq!(gpu.3, "<f2");
    assert!(
        (gpu.0 - cpu.0).abs() <= 1e-5 * cpu.0.abs(),
        "f16 value {} vs {}",
        gpu.0,
        cpu.0
    );
    agree("f16 out", &gpu.1, &cpu.1, 10);
    agree("f16 grad", &gpu.2, &cpu.2, 10);

    // An f32 file converted on upload (`input:f16=`): the same as the f16 file.
    npy::write_f32(&file("x"), &[n, c], &x).unwrap();
    let [conv, _] = both(&dir, "conv", &args(":f16", ""));
    assert_eq!(conv.3, "<f2");
    assert_eq!(
        conv.0, gpu.0,
        "converting on upload gives the f16 file's value"
    );

    // bf16 logits as `|V2` patterns, int64 labels: cross_entropy, outputs `<u2` patterns.
    let b: Vec<bf16> = x.iter().map(|&a| bf16::from_f32(a)).collect();
    write_bf16(&file("xb"), &[n, c], &b, true);
    let labels: Vec<i64> = (0..n).map(|i| (i * 7 % c) as i64).collect();
    npy::write_to(&file("labels"), &[n], &labels).unwrap();
    let ce = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            "cross_entropy".into(),
            "--tensor".into(),
            format!("input:bf16={}", file("xb").display()),
            "--tensor".into(),
            format!("target={}", file("labels").display()),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let [gpu, cpu] = both(&dir, "bf16", &ce(&[]));
    assert_eq!(gpu.3, "<u2");
    assert!(
        (gpu.0 - cpu.0).abs() <= 1e-5 * cpu.0.abs(),
        "bf16 value {} vs {}",
        gpu.0,
        cpu.0
    );
    agree("bf16 rows", &gpu.1, &cpu.1, 7);
    agree("bf16 grad", &gpu.2, &cpu.2, 7);

    // `--grad-dtype f32`: float32 outputs, within the f32 tolerance alone.
    let [wide, _] = both(&dir, "wide", &ce(&["--grad-dtype", "f32"]));
    assert_eq!(wide.3, "<f4");
    agree("f32 grad of bf16 logits", &wide.2, &cpu.2, 40);
}

#[test]
fn unmarked_or_mismatched_half_files_are_usage_errors() {
    let dir = scratch_dir("errors");
    let v = vec![bf16::from_f32(0.5); 12];
    let void = dir.join("v.npy");
    write_bf16(&void, &[12], &v, true);
    let labels = dir.join("l.npy");
    npy::write_to(&labels, &[12], &[1i64; 12]).unwrap();
    for (tensor, why) in [
        (format!("input={}", void.display()), "NAME:bf16=FILE"),
        (
            format!("input:f16={}", void.display()),
            "cannot be read as float16",
        ),
        (
            format!("input:bf16={}", labels.display()),
            "cannot be read as bfloat16",
        ),
        (format!("input:f8={}", void.display()), "expected a dtype"),
    ] {
        let args: Vec<String> = vec![
            "eval".into(),
            "mse".into(),
            "--tensor".into(),
            tensor.clone(),
            "--tensor".into(),
            format!("target:bf16={}", void.display()),
        ];
        let o = gpu_loss(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{tensor}: {err}");
        assert!(
            o.stdout.is_empty() && err.lines().count() == 1,
            "{tensor}: {err}"
        );
        assert!(err.contains(why), "{tensor}: {err}");
    }
}

#[test]
fn bench_measures_dtypes_side_by_side() {
    let dir = scratch_dir("bench");
    let json = dir.join("bench.json").display().to_string();
    let args: Vec<String> = [
        "bench", "mse", "--sizes", "4099", "--grad", "--dtype", "f32,bf16", "--reps", "1",
        "--json", &json,
    ]
    .map(String::from)
    .to_vec();
    let o = gpu_loss(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), gpu_loss::adapters().len() * 2);
    for (r, (dtype, width)) in records
        .iter()
        .zip([("float32", 4.0), ("bfloat16", 2.0)].iter().cycle())
    {
        assert_eq!(r["dtype"], *dtype, "{r}");
        // Input and target read, the gradient written, each `width` bytes an element.
        assert_eq!(r["bytes"].as_f64().unwrap(), 3.0 * width * 4099.0, "{r}");
    }
    let bad: Vec<String> = ["bench", "mse", "--dtype", "f64"]
        .map(String::from)
        .to_vec();
    let o = gpu_loss(&bad);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected a dtype"));
}
