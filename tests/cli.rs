//! The `gpu-loss` command end to end: `eval` on .npy files this test writes, on the GPU
//! against `--backend cpu` (the float64 reference), its errors (exit 2, one line on stderr,
//! nothing on stdout), `list --json`, and `bench --json --plot`.

mod common;

use common::seed;
use gpu_loss::catalogue::{ELEMENTWISE, OBJECTIVES, ROWS, STRUCTURED};
use gpu_loss::npy::{self, Array};
use gpu_loss::sample::normal;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gpu_loss(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .args(args)
        .output()
        .expect("the gpu-loss binary runs")
}

/// A fresh directory for one test's files.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-loss-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, shape: &[usize], data: &[f32]) -> String {
    let path = dir.join(format!("{name}.npy"));
    npy::write_f32(&path, shape, data).unwrap();
    path.display().to_string()
}

fn write_labels(dir: &Path, name: &str, labels: &[i64]) -> String {
    use npyz::WriterBuilder;
    let path = dir.join(format!("{name}.npy"));
    let file = std::fs::File::create(&path).unwrap();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[labels.len() as u64])
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .unwrap();
    w.extend(labels.iter().copied()).unwrap();
    w.finish().unwrap();
    path.display().to_string()
}

/// Runs `eval` with these arguments plus `--backend`; returns its JSON and gradient files.
fn eval(dir: &Path, args: &[String], grads: &[&str], backend: &str) -> (Value, Vec<Vec<f64>>) {
    let mut all: Vec<String> = vec!["eval".into()];
    all.extend(args.iter().cloned());
    let files: Vec<String> = grads
        .iter()
        .map(|g| {
            dir.join(format!("grad_{g}_{backend}.npy"))
                .display()
                .to_string()
        })
        .collect();
    for (g, f) in grads.iter().zip(&files) {
        all.push("--grad".into());
        all.push(format!("{g}={f}"));
    }
    all.push("--backend".into());
    all.push(backend.into());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = gpu_loss(&refs);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let grads = files
        .iter()
        .map(|f| Array::read(Path::new(f)).unwrap().floats())
        .collect();
    (json, grads)
}

fn rel_norm_err(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    (num / den.max(1e-300)).sqrt()
}

#[test]
fn eval_on_the_gpu_agrees_with_the_reference() {
    let dir = scratch_dir("agree");
    let mut rng = StdRng::seed_from_u64(seed());
    let mut random = |n: usize| (0..n).map(|_| normal(&mut rng)).collect::<Vec<f32>>();
    let (n, c) = (257, 13);
    let (x, y, z) = (random(n * c), random(n * c), random(n * c));
    let labels: Vec<i64> = (0..n).map(|i| (i * 7 % c) as i64).collect();
    let s = |v: &str| v.to_string();
    // One loss of each family: elementwise with a parameter, class labels, three tensors.
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![
                s("huber"),
                s("--tensor"),
                format!("input={}", write(&dir, "x", &[n, c], &x)),
                s("--tensor"),
                format!("target={}", write(&dir, "y", &[n, c], &y)),
                s("--param"),
                s("delta=0.5"),
            ],
            vec!["input"],
        ),
        (
            vec![
                s("cross_entropy"),
                s("--tensor"),
                format!("input={}", write(&dir, "x", &[n, c], &x)),
                s("--tensor"),
                format!("target={}", write_labels(&dir, "labels", &labels)),
                s("--param"),
                s("label_smoothing=0.1"),
                s("--reduction"),
                s("sum"),
            ],
            vec!["input"],
        ),
        (
            vec![
                s("triplet_margin"),
                s("--tensor"),
                format!("anchor={}", write(&dir, "x", &[n, c], &x)),
                s("--tensor"),
                format!("positive={}", write(&dir, "y", &[n, c], &y)),
                s("--tensor"),
                format!("negative={}", write(&dir, "z", &[n, c], &z)),
                s("--param"),
                s("swap=true"),
            ],
            vec!["anchor", "positive", "negative"],
        ),
        (
            vec![
                s("pix2pix_generator"),
                s("--tensor"),
                format!("fake={}", write(&dir, "d", &[n], &x[..n])),
                s("--tensor"),
                format!("generated={}", write(&dir, "y", &[n, c], &y)),
                s("--tensor"),
                format!("target={}", write(&dir, "z", &[n, c], &z)),
                s("--param"),
                s("gan=lsgan"),
            ],
            vec!["fake", "generated"],
        ),
    ];
    for (args, grads) in cases {
        let (cpu, cpu_grads) = eval(&dir, &args, &grads, "cpu");
        assert_eq!(cpu["adapter"]["backend"], "cpu");
        let want = cpu["value"].as_f64().expect("a value");
        for backend in ["vulkan", "gl"] {
            let found = gpu_loss::adapters()
                .iter()
                .any(|a| format!("{:?}", a.get_info().backend).eq_ignore_ascii_case(backend));
            if !found {
                continue; // tests/common requires the backends CI needs
            }
            let (gpu, gpu_grads) = eval(&dir, &args, &grads, backend);
            assert_eq!(gpu["loss"], args[0].as_str());
            assert_eq!(gpu["adapter"]["backend"], backend);
            assert!(gpu["elapsed_ms"].as_f64().unwrap() > 0.0);
            let got = gpu["value"].as_f64().expect("a value");
            // An objective also reports its terms, which add up to the value.
            if let Some(terms) = cpu["terms"].as_object() {
                let sum: f64 = gpu["terms"]
                    .as_object()
                    .expect("the GPU's terms")
                    .values()
                    .map(|v| v.as_f64().unwrap())
                    .sum();
                assert!((sum - got).abs() <= 1e-5 * got.abs(), "{sum} vs {got}");
                for (k, v) in terms {
                    let g = gpu["terms"][k].as_f64().unwrap();
                    let w = v.as_f64().unwrap();
                    assert!((g - w).abs() <= 1e-5 * w.abs().max(1e-9), "{k}: {g} vs {w}");
                }
            }
            assert!(
                (got - want).abs() <= 1e-5 * want.abs(),
                "{}: {got} vs {want} on {backend}",
                args[0]
            );
            for ((name, g), w) in grads.iter().zip(&gpu_grads).zip(&cpu_grads) {
                let err = rel_norm_err(g, w);
                assert!(
                    err < 1e-5,
                    "{} grad {name}: {err:.2e} on {backend}",
                    args[0]
                );
            }
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn eval_writes_the_per_element_losses() {
    let dir = scratch_dir("out");
    let x = [0.5f32, -1.0, 2.0];
    let y = [0.0f32, 0.0, 0.0];
    let out = dir.join("out.npy");
    let args = [
        "eval".to_string(),
        "mse".into(),
        "--tensor".into(),
        format!("input={}", write(&dir, "x", &[3], &x)),
        "--tensor".into(),
        format!("target={}", write(&dir, "y", &[3], &y)),
        "--reduction".into(),
        "none".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = gpu_loss(&refs);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["value"], Value::Null, "none has no value");
    assert_eq!(json["reduction"], "none");
    let a = Array::read(&out).unwrap();
    assert_eq!(a.shape, vec![3]);
    assert_eq!(a.floats(), vec![0.25, 1.0, 4.0]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn eval_errors_exit_2_with_one_line() {
    let dir = scratch_dir("errors");
    let x = write(&dir, "x", &[2, 3], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let short = write(&dir, "short", &[5], &[0.1, 0.2, 0.3, 0.4, 0.5]);
    let float_labels = write(&dir, "fl", &[2], &[0.0, 1.0]);
    let bad_labels = write_labels(&dir, "bad", &[0, 3]);
    let not_npy = dir.join("not.npy");
    std::fs::write(&not_npy, b"this is not a numpy file").unwrap();
    let not_npy = not_npy.display().to_string();
    let t = |name: &str, file: &str| format!("{name}={file}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["eval".into(), "no_such_loss".into()], "unknown loss"),
        (
            vec![
                "eval".into(),
                "mse".into(),
                "--tensor".into(),
                t("input", &x),
            ],
            "missing tensor `target`",
        ),
        (
            vec![
                "eval".into(),
                "mse".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &short),
            ],
            "shape",
        ),
        (
            vec![
                "eval".into(),
                "mse".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &not_npy),
            ],
            "not a .npy file",
        ),
        (
            vec![
                "eval".into(),
                "huber".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &x),
                "--param".into(),
                "delta=-1".into(),
            ],
            "delta",
        ),
        (
            vec![
                "eval".into(),
                "nll".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &float_labels),
            ],
            "int32 or int64",
        ),
        (
            vec![
                "eval".into(),
                "cross_entropy".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &bad_labels),
            ],
            "row 1",
        ),
        (
            vec![
                "eval".into(),
                "mse".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &x),
                "--grad".into(),
                t("target", &x),
            ],
            "gradient only for input",
        ),
        (
            vec![
                "eval".into(),
                "mse".into(),
                "--tensor".into(),
                t("input", &x),
                "--tensor".into(),
                t("target", &x),
                "--tensor".into(),
                t("var", &x),
            ],
            "unexpected tensor `var`",
        ),
    ];
    for backend in ["cpu", "auto"] {
        for (args, says) in &cases {
            let mut args = args.clone();
            args.extend(["--backend".to_string(), backend.to_string()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = gpu_loss(&refs);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(o.stdout.is_empty(), "{args:?}: stdout not empty");
            assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
            assert!(
                stderr.contains(says),
                "{args:?}: {stderr:?} should say {says:?}"
            );
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn list_json_names_every_loss() {
    let o = gpu_loss(&["list", "--json"]);
    assert!(o.status.success());
    let all: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let listed: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    let names = ELEMENTWISE
        .iter()
        .map(|l| l.name)
        .chain(ROWS.iter().map(|l| l.name))
        .chain(OBJECTIVES.iter().map(|o| o.name))
        .chain(STRUCTURED.iter().map(|s| s.name));
    for name in names {
        assert!(listed.contains(&name), "{name} missing from list --json");
    }
    let ce = all
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "cross_entropy")
        .unwrap();
    let params: Vec<&str> = ce["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        ["ignore_index", "label_smoothing", "z_loss", "softcap"]
    );
    assert_eq!(ce["tensors"][0]["name"], "input");
}

#[test]
fn bench_json_has_every_field_and_the_plot_draws_it() {
    let dir = scratch_dir("bench");
    let json = dir.join("bench.json").display().to_string();
    let svg = dir.join("bench.svg").display().to_string();
    let o = gpu_loss(&[
        "bench",
        "mse",
        "cross_entropy",
        "--sizes",
        "4099,8x300",
        "--grad",
        "--reps",
        "2",
        "--json",
        &json,
        "--plot",
        &svg,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), gpu_loss::adapters().len() * 2 * 2);
    for r in records {
        let num = |k: &str| {
            r[k].as_f64()
                .unwrap_or_else(|| panic!("{k} is not a number in {r}"))
        };
        for k in ["adapter", "backend", "loss"] {
            assert!(r[k].as_str().is_some_and(|s| !s.is_empty()), "{k} in {r}");
        }
        assert_eq!(r["grad"], true);
        let shape: Vec<u64> = r["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        let n = r["n"].as_u64().unwrap();
        assert_eq!(shape.iter().product::<u64>(), n, "{r}");
        let rows_cols = r["loss"] == "cross_entropy" || shape.len() == 2;
        let want_shape: &[u64] = match (n, rows_cols) {
            (4099, false) => &[4099],
            (4096, true) => &[4, 1024],
            (2400, true) => &[8, 300],
            _ => panic!("unexpected shape {shape:?} in {r}"),
        };
        assert_eq!(shape, want_shape, "{r}");
        // mse reads input and target and writes the gradient; cross_entropy reads the logits
        // and the labels and writes the gradient.
        let bytes = num("bytes");
        if r["loss"] == "mse" {
            assert_eq!(bytes, 12.0 * n as f64, "{r}");
        } else {
            assert!(bytes > 8.0 * n as f64, "{r}");
        }
        for k in ["gpu_ms", "gbps", "copy_gbps", "ratio_to_copy", "cpu_ms"] {
            assert!(num(k) > 0.0 && num(k).is_finite(), "{k} in {r}");
        }
        let gbps = bytes / (num("gpu_ms") * 1e6);
        assert!((num("gbps") / gbps - 1.0).abs() < 1e-6, "{r}");
        assert!((num("ratio_to_copy") * num("copy_gbps") / num("gbps") - 1.0).abs() < 1e-6);
    }
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.trim_end().ends_with("</svg>"));
    for needle in ["mse", "cross_entropy", "buffer copy", "<polyline"] {
        assert!(plot.contains(needle), "the plot lacks {needle}");
    }
    for bad in [
        &["bench", "no_such_loss"][..],
        &["bench", "--sizes", "0"],
        &["bench", "--sizes", "3y4"],
    ] {
        let o = gpu_loss(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(o.stdout.is_empty(), "{bad:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr).lines().count(),
            1,
            "{bad:?}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bench_takes_image_stacks_with_the_gradient() {
    let dir = scratch_dir("bench_images");
    let json = dir.join("bench.json").display().to_string();
    let o = gpu_loss(&[
        "bench", "ssim", "--sizes", "3x64x64", "--grad", "--reps", "1", "--json", &json,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), gpu_loss::adapters().len());
    for r in records {
        assert_eq!(r["loss"], "ssim");
        assert_eq!(r["grad"], true);
        assert_eq!(r["shape"], serde_json::json!([3, 64, 64]), "{r}");
        assert_eq!(r["n"], 3 * 64 * 64, "{r}");
        // input and target read, the gradient written.
        assert_eq!(r["bytes"], 12 * 3 * 64 * 64, "{r}");
        for k in ["gpu_ms", "cpu_ms", "copy_gbps"] {
            assert!(r[k].as_f64().is_some_and(|v| v > 0.0), "{k} in {r}");
        }
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("3x64x64"), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}
