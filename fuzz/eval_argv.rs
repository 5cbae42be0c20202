//! Fuzz bytes to a `gpu-loss eval` command line, shared by the fuzz target and by
//! tests/cli.rs, which replays the corpus through the binary. One argument per line; the
//! command always runs on the float64 reference (`--backend cpu`, so a second `--backend` is
//! an error) in a scratch folder holding the tensors `fixtures` writes. Arguments with a path
//! separator are dropped, so nothing is read or written outside that folder.

use gpu_loss::npy;
use std::path::Path;

const MAX_ARGS: usize = 64;
const MAX_ARG_LEN: usize = 4096;

/// The argument vector, program name first.
pub fn argv(data: &[u8]) -> Vec<String> {
    let mut args: Vec<String> = ["gpu-loss", "eval", "--backend", "cpu"]
        .map(String::from)
        .to_vec();
    let lines = data
        .split(|&b| b == b'\n')
        .map(String::from_utf8_lossy)
        .filter(|a| a.len() <= MAX_ARG_LEN && !a.contains(['/', '\\']))
        .take(MAX_ARGS);
    args.extend(lines.map(|a| a.into_owned()));
    args
}

/// The tensors the arguments may name, written into `dir` (created if need be) after
/// emptying it: a run's outputs, or a fixture it overwrote, must not change the next run.
pub fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).expect("a scratch folder");
    for entry in std::fs::read_dir(dir).expect("a scratch folder").flatten() {
        let path = entry.path();
        let gone = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir_all(&path));
        gone.expect("an emptied scratch folder");
    }
    let f32s: &[(&str, &[usize], &[f32])] = &[
        ("x.npy", &[2, 3], &[0.1, -0.2, 0.3, 0.9, 0.5, -0.6]),
        ("y.npy", &[2, 3], &[0.0, 1.0, 0.0, 1.0, 1.0, 0.0]),
        ("v.npy", &[6], &[0.5, 1.0, 2.0, 0.25, 3.0, 1.5]),
        ("pm1.npy", &[2], &[1.0, -1.0]),
        (
            "nan.npy",
            &[2, 3],
            &[f32::NAN, 1.0, f32::INFINITY, 0.0, -1.0, 2.0],
        ),
        ("empty.npy", &[0], &[]),
        ("rows.npy", &[0, 3], &[]),
        ("scalar.npy", &[], &[0.5]),
        ("img.npy", &[1, 2, 3], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
    ];
    for (name, shape, data) in f32s {
        npy::write_f32(&dir.join(name), shape, data).expect("a fixture");
    }
    let i64s: &[(&str, &[i64])] = &[
        ("labels.npy", &[0, 2]),
        ("far.npy", &[0, i64::MAX]),
        ("neg.npy", &[-100, 1]),
    ];
    for (name, data) in i64s {
        npy::write_to(&dir.join(name), &[data.len()], data).expect("a fixture");
    }
}
