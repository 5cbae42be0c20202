//! `gpu-loss eval` on hostile input: its outputs are written all or nothing (a later error, a
//! full disk), `--out` means the per-element losses whatever the reduction, on the reference
//! as on the GPU; parameters that are labels hold any i64 float64 holds; messages say what
//! went wrong in one line. Also replays the fuzz corpus (fuzz/corpus/eval_args).

#[allow(dead_code)]
#[path = "../fuzz/eval_argv.rs"]
mod eval_argv;

use gpu_loss::npy::{self, Array};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gpu-loss");

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the gpu-loss binary runs")
}

/// A fresh folder holding `eval_argv`'s fixtures (x.npy, y.npy, labels.npy, ...).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-loss-hostile-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    eval_argv::fixtures(&dir);
    dir
}

fn ok(o: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

/// Exit 2, nothing on stdout, one line on stderr; that line.
fn refused(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(o.stdout.is_empty());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

/// The folder's files, temporary ones included.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The GPU backends CI requires that this machine has.
fn gpu_backends() -> Vec<&'static str> {
    let found = gpu_loss::adapters();
    ["vulkan", "gl"]
        .into_iter()
        .filter(|b| {
            found
                .iter()
                .any(|a| format!("{:?}", a.get_info().backend).eq_ignore_ascii_case(b))
        })
        .collect()
}

#[test]
fn out_holds_the_per_element_losses_for_every_reduction() {
    let dir = scratch("out");
    let base = [
        "eval",
        "mse",
        "--tensor",
        "input=x.npy",
        "--tensor",
        "target=y.npy",
    ];
    let want = {
        let (x, y) = (
            Array::read(&dir.join("x.npy")).unwrap(),
            Array::read(&dir.join("y.npy")).unwrap(),
        );
        let e: Vec<f64> = x
            .f32s()
            .iter()
            .zip(y.f32s())
            .map(|(a, b)| f64::from((a - b).powi(2)))
            .collect();
        e
    };
    for backend in ["cpu"].into_iter().chain(gpu_backends()) {
        for reduction in ["none", "sum", "mean"] {
            let out = format!("out_{backend}_{reduction}.npy");
            let mut args = base.to_vec();
            args.extend([
                "--reduction",
                reduction,
                "--out",
                &out,
                "--backend",
                backend,
            ]);
            ok(&run_in(&dir, &args));
            let a = Array::read(&dir.join(&out))
                .unwrap_or_else(|e| panic!("{backend} {reduction}: {e}"));
            assert_eq!(a.shape, [2, 3], "{backend} {reduction}");
            for (g, w) in a.floats().iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-6 * w.max(1.0),
                    "{backend} {reduction}: {g} vs {w}"
                );
            }
        }
    }
    // An objective has no per-element losses: said, not silently skipped.
    for backend in ["cpu", "auto"] {
        let o = run_in(
            &dir,
            &[
                "eval",
                "pix2pix_generator",
                "--tensor",
                "fake=pm1.npy",
                "--tensor",
                "generated=x.npy",
                "--tensor",
                "target=y.npy",
                "--out",
                "o.npy",
                "--backend",
                backend,
            ],
        );
        assert!(refused(&o).contains("no per-element losses"));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_failed_call_writes_nothing() {
    let dir = scratch("nothing");
    let before = listing(&dir);
    let mse = [
        "eval",
        "mse",
        "--tensor",
        "input=x.npy",
        "--tensor",
        "target=y.npy",
        "--out",
        "o.npy",
    ];
    for backend in ["cpu", "auto"] {
        let cases: Vec<(Vec<&str>, &str)> = vec![
            // The gradient's folder does not exist: found before anything is computed.
            (
                vec!["--grad", "input=no_such_folder/g.npy"],
                "no_such_folder",
            ),
            (vec!["--grad", "input=."], "not a file"),
            (vec!["--grad", "input=o.npy"], "two outputs"),
            // A failure after the outputs were staged.
            (vec!["--param", "delta=1"], "unknown parameter"),
        ];
        for (extra, says) in cases {
            let mut args = mse.to_vec();
            args.extend(extra);
            args.extend(["--backend", backend]);
            let e = refused(&run_in(&dir, &args));
            assert!(e.contains(says), "{args:?}: {e}");
            assert_eq!(listing(&dir), before, "{args:?} left files behind");
        }
        // A bad label is found on the GPU, after the kernel ran.
        let ce = [
            "eval",
            "cross_entropy",
            "--tensor",
            "input=x.npy",
            "--tensor",
            "target=far.npy",
            "--out",
            "o.npy",
            "--grad",
            "input=g.npy",
            "--backend",
            backend,
        ];
        assert!(refused(&run_in(&dir, &ce)).contains("row 1"));
        assert_eq!(listing(&dir), before);
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bench_and_report_write_all_their_files_or_none() {
    let dir = scratch("bench");
    let before = listing(&dir);
    // The plot's folder is missing: found before measuring, and the JSON is not left alone.
    let bench = [
        "bench",
        "mse",
        "--sizes",
        "64",
        "--reps",
        "1",
        "--json",
        "b.json",
        "--plot",
        "no_such_folder/b.svg",
    ];
    assert!(refused(&run_in(&dir, &bench)).contains("no_such_folder"));
    let report = [
        "report",
        "mse",
        "--size",
        "64",
        "--json",
        "no_such_folder/r.json",
    ];
    assert!(refused(&run_in(&dir, &report)).contains("no_such_folder"));
    assert_eq!(listing(&dir), before);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_full_disk_leaves_no_truncated_file() {
    let dir = scratch("full");
    let n = 4096;
    let x: Vec<f32> = (0..n).map(|i| i as f32 / 7.0).collect();
    npy::write_f32(&dir.join("big.npy"), &[n], &x).unwrap();
    let before = listing(&dir);
    // A file-size limit of 8 KiB stands in for a full disk: the 32 KiB float64 output fails
    // part way (EFBIG, with SIGXFSZ ignored) as it would on ENOSPC.
    let script = format!(
        "trap '' XFSZ; ulimit -f 16; exec '{BIN}' eval mse --tensor input=big.npy \
         --tensor target=big.npy --reduction none --out o.npy --backend cpu"
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .output()
        .unwrap();
    let e = refused(&o);
    assert!(
        e.contains("o.npy") && e.contains("cannot be written"),
        "{e}"
    );
    assert_eq!(listing(&dir), before);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn label_parameters_hold_any_i64_float64_holds() {
    let dir = scratch("labels");
    // Row 1's label is i64::MAX, ignored: the loss is row 0's alone.
    npy::write_f32(&dir.join("row0.npy"), &[1, 3], &[0.1, -0.2, 0.3]).unwrap();
    npy::write_to(&dir.join("label0.npy"), &[1], &[0i64]).unwrap();
    let want = ok(&run_in(
        &dir,
        &[
            "eval",
            "cross_entropy",
            "--tensor",
            "input=row0.npy",
            "--tensor",
            "target=label0.npy",
            "--backend",
            "cpu",
        ],
    ))["value"]
        .as_f64()
        .unwrap();
    for backend in ["cpu"].into_iter().chain(gpu_backends()) {
        for ignore in ["9223372036854775807", "9.223372036854775807e18"] {
            let param = format!("ignore_index={ignore}");
            let o = run_in(
                &dir,
                &[
                    "eval",
                    "cross_entropy",
                    "--tensor",
                    "input=x.npy",
                    "--tensor",
                    "target=far.npy",
                    "--param",
                    &param,
                    "--backend",
                    backend,
                ],
            );
            let got = ok(&o)["value"].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-6 * want.abs(),
                "{backend}: {got} vs {want}"
            );
        }
    }
    // One float64 cannot hold is refused, not rounded to a neighbour.
    let o = run_in(
        &dir,
        &[
            "eval",
            "nll",
            "--tensor",
            "input=x.npy",
            "--tensor",
            "target=labels.npy",
            "--param",
            "ignore_index=9007199254740993",
            "--backend",
            "cpu",
        ],
    );
    assert!(refused(&o).contains("float64 holds exactly"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn parameters_read_as_list_prints_them_and_once() {
    let dir = scratch("params");
    let ce = [
        "eval",
        "cross_entropy",
        "--tensor",
        "input=x.npy",
        "--tensor",
        "target=labels.npy",
        "--backend",
        "cpu",
    ];
    let plain = ok(&run_in(&dir, &ce))["value"].clone();
    let mut none = ce.to_vec();
    none.extend(["--param", "softcap=none"]);
    assert_eq!(ok(&run_in(&dir, &none))["value"], plain);
    let mut twice = ce.to_vec();
    twice.extend(["--param", "z_loss=0.1", "--param", "z_loss=0.2"]);
    assert!(refused(&run_in(&dir, &twice)).contains("--param z_loss given twice"));
    let mut grads = ce.to_vec();
    grads.extend(["--grad", "input=a.npy", "--grad", "input=b.npy"]);
    assert!(refused(&run_in(&dir, &grads)).contains("--grad input given twice"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn values_json_cannot_hold_are_named() {
    let dir = scratch("json");
    npy::write_f64(&dir.join("far.npy"), &[1], &[1e200]).unwrap();
    npy::write_f64(&dir.join("zero.npy"), &[1], &[0.0]).unwrap();
    let value = |args: &[&str]| ok(&run_in(&dir, args))["value"].clone();
    let mse = |x: &'static str, y: &'static str| {
        [
            "eval",
            "mse",
            "--tensor",
            x,
            "--tensor",
            y,
            "--backend",
            "cpu",
        ]
    };
    assert_eq!(value(&mse("input=far.npy", "target=zero.npy")), "inf");
    assert_eq!(value(&mse("input=empty.npy", "target=empty.npy")), "nan");
    assert!(value(&mse("input=x.npy", "target=y.npy")).is_f64());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn messages_are_one_line_and_say_why() {
    let dir = scratch("messages");
    // npyz's parse errors spanned six lines.
    std::fs::write(
        dir.join("bad.npy"),
        b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4' \n",
    )
    .unwrap();
    let o = run_in(
        &dir,
        &[
            "eval",
            "mse",
            "--tensor",
            "input=bad.npy",
            "--tensor",
            "target=y.npy",
            "--backend",
            "cpu",
        ],
    );
    assert!(refused(&o).contains("not a .npy file (header:"));
    // WGPU_BACKEND narrows the search; when nothing is found it is named.
    for backend in ["auto", "vulkan"] {
        let o = Command::new(BIN)
            .args([
                "eval",
                "mse",
                "--tensor",
                "input=x.npy",
                "--tensor",
                "target=y.npy",
                "--backend",
                backend,
            ])
            .current_dir(&dir)
            .env("WGPU_BACKEND", "metal")
            .output()
            .unwrap();
        if cfg!(target_os = "linux") {
            assert!(refused(&o).contains("WGPU_BACKEND=\"metal\""), "{backend}");
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Every command line of the fuzz corpus through the binary: a result or one line and exit 2,
/// never a panic; nothing half-written.
#[test]
fn the_fuzz_corpus_replays() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/eval_args");
    let dir = scratch("corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(&corpus).expect("the corpus is committed") {
        let path = entry.unwrap().path();
        eval_argv::fixtures(&dir);
        let argv = eval_argv::argv(&std::fs::read(&path).unwrap());
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let o = run_in(&dir, &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        match o.status.code() {
            Some(0) => {}
            Some(2) => assert_eq!(
                stderr.trim_end().lines().count(),
                1,
                "{}: {stderr}",
                path.display()
            ),
            other => panic!("{}: exit {other:?}: {stderr}", path.display()),
        }
        let temps: Vec<String> = listing(&dir)
            .into_iter()
            .filter(|f| f.ends_with(".tmp"))
            .collect();
        assert!(temps.is_empty(), "{}: {temps:?}", path.display());
        seen += 1;
    }
    assert!(seen >= 10, "{seen} command lines in {}", corpus.display());
    std::fs::remove_dir_all(dir).ok();
}
