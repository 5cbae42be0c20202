//! Custom losses: each built-in elementwise loss of sections A and B, written as a formula,
//! on every adapter and launch setting against the built-in's float64 reference, within the
//! tolerances tests/elementwise.rs holds the built-ins to; the formula's own twin against the
//! built-in's; raw WGSL with a closure twin; bad formulas and WGSL as typed errors; the CLI.

mod common;

use common::{defaults, elementwise_error, normwise_error, seed, targets};
use gpu_loss::catalogue::{self, custom, Elementwise, Loss};
use gpu_loss::cpu::{self, CpuResult};
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::sample::{sample, AuxForm, Sample};
use gpu_loss::{LossError, ParamValue, Reduction};
use std::process::Command;

/// tests/elementwise.rs's tolerances.
const VALUE_TOL: f64 = 1e-5;
const NORM_TOL: f64 = 2e-6;
const ELEMENT_TOL: f64 = 1e-4;
const SIZES: [usize; 5] = [0, 1, 3, 257, 4099];

/// The built-ins the language can say, as formulas (kl_div is section C's), with the
/// parameter settings of tests/elementwise.rs that change their code path.
/// Parameter settings: (name, value) pairs.
type Sets = &'static [&'static [(&'static str, f64)]];

const WRITTEN: &[(&str, &str, Sets)] = &[
    ("mse", "(x - y)^2", &[]),
    ("mae", "abs(x - y)", &[]),
    (
        "smooth_l1",
        "beta = 1; e = x - y; select(abs(e) < beta, 0.5 * e^2 / beta, abs(e) - 0.5 * beta)",
        &[&[("beta", 0.5)], &[("beta", 0.0)]],
    ),
    (
        "huber",
        "delta = 1; e = x - y; select(abs(e) <= delta, 0.5 * e^2, delta * (abs(e) - 0.5 * delta))",
        &[&[("delta", 0.3)]],
    ),
    (
        "charbonnier",
        "eps = 1e-3; sqrt((x - y)^2 + eps^2)",
        &[&[("eps", 0.1)]],
    ),
    // As the built-in: near x = y, log1p of (x - y)/(1 + y) (the log of a ratio that rounds
    // near 1 loses ~1e-5 of the value); far from it the ratio (1 + z cancels as z nears -1).
    (
        "msle",
        "xc = max(x, 1e-7); yc = max(y, 1e-7); z = (xc - yc) / (1 + yc); \
         select(abs(z) < 0.5, log1p(z), log((1 + xc) / (1 + yc)))^2",
        &[],
    ),
    // As the built-in: log1p(2·sinh²(e/2)) near 0, where log(cosh e) would take the log of
    // a number rounded near 1; |e| + softplus(−2|e|) − log 2 beyond.
    (
        "log_cosh",
        "e = x - y; select(abs(e) < 4, log1p(2 * sinh(e / 2)^2), abs(e) + softplus(-2 * abs(e)) - log(2))",
        &[],
    ),
    ("cauchy", "c = 1; log1p(((x - y) / c)^2)", &[&[("c", 0.3)]]),
    ("mape", "100 * abs(x - y) / max(abs(y), 1e-7)", &[]),
    (
        "gaussian_nll",
        "eps = 1e-6; full = 0; v = max(a, eps); \
         0.5 * (log(v) + (x - y)^2 / v) + select(full != 0, 0.5 * log(2 * pi), 0)",
        &[&[("eps", 0.5), ("full", 1.0)]],
    ),
    (
        "poisson_nll",
        "log_input = 1; full = 0; eps = 1e-8; \
         select(log_input != 0, exp(x) - y * x, x - y * log(x + eps)) \
         + select(full != 0, select(y > 1, y * log(y) - y + 0.5 * log(2 * pi * y), 0), 0)",
        &[&[("full", 1.0)], &[("log_input", 0.0), ("full", 1.0)]],
    ),
    (
        "bce",
        "-(y * max(log(x), -100) + (1 - y) * max(log1p(-x), -100))",
        &[],
    ),
    (
        "bce_with_logits",
        "a = 1; (1 - y) * softplus(x) + a * y * softplus(-x)",
        &[],
    ),
    ("hinge", "t = select(y == 0, -1, y); max(1 - t * x, 0)", &[]),
    (
        "squared_hinge",
        "t = select(y == 0, -1, y); max(1 - t * x, 0)^2",
        &[],
    ),
    (
        "focal",
        "alpha = 0.25; gamma = 2; ce = (1 - y) * softplus(x) + y * softplus(-x); \
         q = y * sigmoid(-x) + (1 - y) * sigmoid(x); \
         ce * q^gamma * select(alpha >= 0, alpha * y + (1 - alpha) * (1 - y), 1)",
        &[
            &[("alpha", -1.0), ("gamma", 0.0)],
            &[("alpha", 0.6), ("gamma", 0.5)],
        ],
    ),
    ("soft_margin", "softplus(-y * x)", &[]),
];

/// A built-in's parameter as its own rule reads it: booleans for `full` and `log_input`.
fn builtin_param(loss: &Elementwise, name: &str, v: f64) -> ParamValue {
    let is_bool = loss
        .params
        .iter()
        .any(|p| p.name == name && p.rule == gpu_loss::params::Rule::Bool);
    if is_bool {
        ParamValue::Bool(v != 0.0)
    } else {
        ParamValue::Number(v)
    }
}

fn params(loss: &Elementwise, set: &[(&str, f64)], builtin: bool) -> Vec<(String, ParamValue)> {
    set.iter()
        .map(|&(k, v)| {
            let value = if builtin {
                builtin_param(loss, k, v)
            } else {
                ParamValue::Number(v)
            };
            (k.to_string(), value)
        })
        .collect()
}

fn problem(
    loss: &'static Elementwise,
    s: &Sample,
    params: &[(String, ParamValue)],
    reduction: Reduction,
) -> Problem {
    Problem::new(
        loss,
        Shapes {
            input: &s.shape,
            target: &s.shape,
            weight: s.weight.as_ref().map(|_| s.shape.as_slice()),
            aux: s.aux.as_ref().map(|a| a.1.as_slice()),
        },
        params,
        reduction,
    )
    .expect("valid problem")
}

fn reference(p: &Problem, s: &Sample) -> CpuResult {
    let inputs = cpu::Inputs {
        input: &s.input,
        target: &s.target,
        weight: s.weight.as_deref(),
        aux: s.aux.as_ref().map(|a| a.0.as_slice()),
    };
    cpu::evaluate(p, &inputs, true).expect("reference")
}

/// The largest parts of a sum whose terms may cancel, where the formula's f32 error is a few
/// ulp of those parts (as tests/elementwise.rs judges the built-ins): poisson_nll on log
/// inputs subtracts e^x and y·x; focal's gradient with soft labels adds the cross-entropy's
/// slope, of either sign, to the modulating factor's.
fn parts_scale(name: &str, set: &[(&str, f64)], s: &Sample, of_grad: bool, r: Reduction) -> f64 {
    let param = |k: &str, default: f64| set.iter().find(|p| p.0 == k).map_or(default, |p| p.1);
    let log_input = param("log_input", 1.0) != 0.0;
    let (alpha, gamma) = (param("alpha", 0.25), param("gamma", 2.0));
    let softplus = |z: f64| z.max(0.0) + (-z.abs()).exp().ln_1p();
    let parts = |x: f64, y: f64| match name {
        "poisson_nll" if log_input => Some(x.exp() + y.abs() * (1.0 + x.abs())),
        "focal" if of_grad => {
            let (s_pos, s_neg) = (1.0 / (1.0 + (-x).exp()), 1.0 / (1.0 + x.exp()));
            let q = y * s_neg + (1.0 - y) * s_pos;
            let ce = (1.0 - y) * softplus(x) + y * softplus(-x);
            let alpha_t = if alpha >= 0.0 {
                alpha * y + (1.0 - alpha) * (1.0 - y)
            } else {
                1.0
            };
            let d_ce = (1.0 - y).abs() * s_pos + y.abs() * s_neg;
            let d_m = gamma * q.powf(gamma - 1.0) * ((1.0 - 2.0 * y) * s_pos * s_neg).abs();
            Some((d_ce * q.powf(gamma) + ce * d_m) * alpha_t.abs())
        }
        _ => None,
    };
    let n = s.input.len().max(1) as f64;
    let scale = if of_grad && r == Reduction::Mean {
        1.0 / n
    } else {
        1.0
    };
    (0..s.input.len())
        .filter_map(|i| {
            let (x, y) = (s.input[i] as f64, s.target[i] as f64);
            let w = s.weight.as_ref().map_or(1.0, |w| w[i] as f64).abs();
            parts(x, y).map(|p| p * w * scale)
        })
        .fold(0.0, f64::max)
}

fn compare(label: &str, got: &[f32], want: &[f64], parts: f64) {
    let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let mut norm = normwise_error(got, want);
    if parts > 0.0 && largest > 0.0 && norm.is_finite() {
        norm *= largest / largest.max(parts);
    }
    assert!(norm <= NORM_TOL, "{label}: normwise error {norm:.2e}");
    let floor = if largest > 0.0 {
        f64::max(1e-3, parts / largest)
    } else {
        1e-3
    };
    let (err, at) = elementwise_error(got, want, floor);
    assert!(
        err <= ELEMENT_TOL,
        "{label}[{at}] = {} vs {} (error {err:.2e})",
        got[at],
        want[at]
    );
}

#[test]
fn built_in_losses_written_as_formulas_match_their_references() {
    let seed = seed();
    for (k, &(name, text, sets)) in WRITTEN.iter().enumerate() {
        let builtin = catalogue::elementwise(name).unwrap();
        let mine = custom::formula(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut all_sets: Vec<&[(&str, f64)]> = vec![&[]];
        all_sets.extend(sets.iter().copied());
        for set in all_sets {
            for (i, &n) in SIZES.iter().enumerate() {
                let weighted = i % 2 == 1;
                let mut s = sample(
                    builtin,
                    &[n],
                    weighted,
                    AuxForm::Default,
                    seed + (k * 10 + i) as u64,
                );
                if name == "poisson_nll" && set.contains(&("log_input", 0.0)) {
                    s.input.iter_mut().for_each(|x| *x = x.abs() + 0.1);
                }
                let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][i % 3];
                check(name, builtin, mine, set, &s, reduction, targets().iter());
            }
        }
    }
}

/// One case on `targets`: the formula on the GPU against the built-in's reference, and the
/// formula's twin against the built-in's twin.
fn check<'a>(
    name: &str,
    builtin: &'static Elementwise,
    mine: &'static Elementwise,
    set: &[(&str, f64)],
    s: &Sample,
    reduction: Reduction,
    on: impl Iterator<Item = &'a common::Target>,
) {
    let want = reference(
        &problem(builtin, s, &params(builtin, set, true), reduction),
        s,
    );
    let given = params(builtin, set, false);
    let twin = reference(&problem(mine, s, &given, reduction), s);
    let label = format!(
        "{name} n={} {reduction} weight={} {set:?}",
        s.input.len(),
        s.weight.is_some()
    );
    // The twins: float64 both, different forms of one function.
    let (tg, wg) = (twin.grad.as_ref().unwrap(), want.grad.as_ref().unwrap());
    let scale = wg.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
    let worst = tg
        .iter()
        .zip(wg)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst / scale <= 1e-9,
        "{label}: twin gradient off by {:.2e}",
        worst / scale
    );

    let mass: f64 = {
        let mut p = problem(builtin, s, &params(builtin, set, true), Reduction::None);
        p.reduction = Reduction::None;
        let e = reference(&p, s).elements.unwrap();
        e.iter().map(|v| v.abs()).sum::<f64>()
            / if reduction == Reduction::Mean {
                s.input.len().max(1) as f64
            } else {
                1.0
            }
    };
    for t in on {
        let ctx = &t.ctx;
        let label = format!("{label} on {}", t.name);
        let x = ctx.upload(&s.input, &s.shape).unwrap();
        let y = ctx.upload(&s.target, &s.shape).unwrap();
        let w = s.weight.as_ref().map(|w| ctx.upload(w, &s.shape).unwrap());
        let a = s.aux.as_ref().map(|(v, sh)| ctx.upload(v, sh).unwrap());
        let mut call = ctx
            .call(Loss::Elementwise(mine))
            .input(&x)
            .target(&y)
            .reduction(reduction)
            .with_grad();
        if let Some(w) = &w {
            call = call.weight(w);
        }
        if let Some(a) = &a {
            call = call.tensor(custom::AUX_NAME, a);
        }
        for (k, v) in &given {
            call = call.param(k, v.clone());
        }
        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
        match (out.value, want.value) {
            (None, None) => {}
            (Some(got), Some(w)) if w.is_nan() => assert!(got.is_nan(), "{label}: {got}"),
            (Some(got), Some(w)) => {
                let err = (got as f64 - w).abs() / w.abs().max(mass).max(f64::MIN_POSITIVE);
                assert!(err <= VALUE_TOL, "{label}: value {got} vs {w} ({err:.2e})");
            }
            other => panic!("{label}: values {other:?}"),
        }
        let grad = ctx.download(out.grad.as_ref().unwrap()).unwrap();
        compare(
            &format!("{label}: grad"),
            &grad,
            wg,
            parts_scale(name, set, s, true, reduction),
        );
        if let (Some(e), Some(we)) = (&out.elements, &want.elements) {
            let e = ctx.download(e).unwrap();
            compare(
                &format!("{label}: elements"),
                &e,
                we,
                parts_scale(name, set, s, false, reduction),
            );
        }
    }
}

#[test]
fn large_tensors_split_into_dispatches_as_the_built_ins_do() {
    let seed = seed();
    for (name, text) in [("huber", WRITTEN[3].1), ("bce_with_logits", WRITTEN[12].1)] {
        let builtin = catalogue::elementwise(name).unwrap();
        let mine = custom::formula(name, text).unwrap();
        let s = sample(builtin, &[1_000_003], true, AuxForm::Default, seed + 99);
        check(name, builtin, mine, &[], &s, Reduction::Mean, defaults());
    }
}

#[test]
fn the_extra_tensor_broadcasts_per_row_and_is_required_without_a_default() {
    let seed = seed();
    let builtin = catalogue::elementwise("gaussian_nll").unwrap();
    let mine = custom::formula("gaussian_nll", WRITTEN[9].1).unwrap();
    let s = sample(builtin, &[37, 113], false, AuxForm::Broadcast, seed + 7);
    check(
        "gaussian_nll",
        builtin,
        mine,
        &[],
        &s,
        Reduction::Mean,
        targets().iter(),
    );

    let ctx = &targets()[0].ctx;
    let x = ctx.upload(&[1.0, 2.0], &[2]).unwrap();
    let e = ctx
        .call(Loss::Elementwise(mine))
        .input(&x)
        .target(&x)
        .value()
        .unwrap_err();
    assert!(
        matches!(e, LossError::MissingTensor { tensor: "aux", .. }),
        "{e}"
    );
}

#[test]
fn bad_formulas_are_typed_errors() {
    let ctx = &targets()[0].ctx;
    for text in [
        "log(1 + (x - y)^2",
        "floor(x)",
        "foo(x)",
        "min(x)",
        "x < y",
        "",
        "x +* y",
    ] {
        match ctx.custom("bad", text) {
            Err(LossError::Custom { loss, why }) => {
                assert_eq!(loss, "bad");
                assert!(why.contains("column"), "{text}: {why}");
            }
            Err(e) => panic!("{text}: {e}"),
            Ok(_) => panic!("{text}: accepted"),
        }
    }
    let x = ctx.upload(&[1.0], &[1]).unwrap();
    let e = ctx
        .custom("p", "d = 1; d * x")
        .unwrap()
        .input(&x)
        .target(&x)
        .param("nope", 1.0)
        .value();
    assert!(matches!(e, Err(LossError::UnknownParam { .. })), "{e:?}");
}

#[test]
fn a_formula_is_one_entry_and_runs_the_same_bits_twice() {
    let a = custom::formula("c", "log(1 + (x - y)^2)").unwrap();
    let b = custom::formula("c", "log(1 + (x - y)^2)").unwrap();
    assert!(std::ptr::eq(a, b));
    let other = custom::formula("c", "log(1 + (x - y)^2) * 2").unwrap();
    assert!(!std::ptr::eq(a, other));
    let s = sample(a, &[4099], true, AuxForm::Default, seed());
    for t in targets() {
        let ctx = &t.ctx;
        let x = ctx.upload(&s.input, &s.shape).unwrap();
        let y = ctx.upload(&s.target, &s.shape).unwrap();
        let run = || {
            ctx.custom("c", "log(1 + (x - y)^2)")
                .unwrap()
                .input(&x)
                .target(&y)
                .value()
                .unwrap()
        };
        assert_eq!(run().to_bits(), run().to_bits(), "{}", t.name);
    }
}

#[test]
fn nan_inputs_are_found_as_for_built_ins() {
    for t in targets() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[1.0, f32::NAN, 3.0], &[3]).unwrap();
        let y = ctx.upload(&[0.0; 3], &[3]).unwrap();
        let e = ctx
            .custom("c", "(x - y)^2")
            .unwrap()
            .input(&x)
            .target(&y)
            .value();
        assert!(
            matches!(
                e,
                Err(LossError::NaN {
                    tensor: "input",
                    index: 1,
                    ..
                })
            ),
            "{e:?}"
        );
    }
}

const SCALED_MSE: &str = "fn custom_loss(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - y;
    return Pair(p.x * e * e, 2.0 * p.x * e);
}";

#[test]
fn raw_wgsl_runs_with_its_closure_twin_and_bad_wgsl_is_a_typed_error() {
    let seed = seed();
    let builtin = catalogue::elementwise("mse").unwrap();
    for t in targets() {
        let ctx = &t.ctx;
        let loss = ctx
            .custom_wgsl(
                "scaled",
                SCALED_MSE,
                &[("k", 3.0)],
                Some(0.0),
                |x, y, _a, p| {
                    let e = x - y;
                    (p[0] * e * e, 2.0 * p[0] * e)
                },
            )
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let Loss::Elementwise(mine) = loss else {
            unreachable!()
        };
        let s = sample(builtin, &[257], true, AuxForm::Default, seed);
        let want = reference(
            &problem(
                mine,
                &s,
                &[("k".into(), ParamValue::Number(0.5))],
                Reduction::Mean,
            ),
            &s,
        );
        let x = ctx.upload(&s.input, &s.shape).unwrap();
        let y = ctx.upload(&s.target, &s.shape).unwrap();
        let w = ctx.upload(s.weight.as_ref().unwrap(), &s.shape).unwrap();
        let out = ctx
            .call(loss)
            .input(&x)
            .target(&y)
            .weight(&w)
            .param("k", 0.5)
            .with_grad()
            .run()
            .unwrap();
        let v = out.value.unwrap() as f64;
        assert!(
            (v - want.value.unwrap()).abs() <= 1e-5 * want.value.unwrap().abs(),
            "{}",
            t.name
        );
        compare(
            &t.name,
            &ctx.download(out.grad.as_ref().unwrap()).unwrap(),
            want.grad.as_ref().unwrap(),
            0.0,
        );

        let broken = ctx.custom_wgsl(
            "broken",
            "fn custom_loss(x: VT) -> VT { return x; }",
            &[],
            None,
            |_, _, _, _| (0.0, 0.0),
        );
        assert!(
            matches!(broken, Err(LossError::Custom { .. })),
            "{}: {broken:?}",
            t.name
        );
        // The context goes on after the failed compile.
        assert!(ctx.call(loss).input(&x).target(&y).value().is_ok());
    }
}

#[test]
fn recorded_calls_give_the_run_value() {
    for t in targets() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[0.5, -1.0, 2.0, 4.0, 1.5], &[5]).unwrap();
        let y = ctx.upload(&[0.0, 1.0, 2.5, 1.0, -1.0], &[5]).unwrap();
        let call = || {
            ctx.custom("c", "log(1 + (x - y)^2)")
                .unwrap()
                .input(&x)
                .target(&y)
        };
        let want = call().value().unwrap();
        let mut enc = ctx.device().create_command_encoder(&Default::default());
        let rec = call().record(&mut enc).unwrap();
        ctx.queue().submit([enc.finish()]);
        rec.check().unwrap();
        let got = rec.read_value().unwrap();
        assert_eq!(got.to_bits(), want.to_bits(), "{}", t.name);
    }
}

fn gpu_loss_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .args(args)
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or("/tmp".into()),
        )
        .output()
        .unwrap()
}

#[test]
fn the_cli_evaluates_formulas_and_refuses_bad_ones_with_exit_2() {
    let dir = std::env::temp_dir().join(format!("gpu-loss-custom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x, y) = ([0.5f32, -1.0, 2.0], [0.0f32, 1.0, 2.5]);
    let xp = dir.join("x.npy");
    let yp = dir.join("y.npy");
    gpu_loss::npy::write_to(&xp, &[3], &x).unwrap();
    gpu_loss::npy::write_to(&yp, &[3], &y).unwrap();
    let want: f64 = x
        .iter()
        .zip(&y)
        .map(|(a, b)| ((a - b) as f64).powi(2).ln_1p())
        .sum::<f64>()
        / 3.0;
    let input = format!("input={}", xp.display());
    let target = format!("target={}", yp.display());
    for backend in ["cpu", "vulkan", "gl"] {
        let out = gpu_loss_cli(&[
            "eval",
            "--formula",
            "log(1 + (x - y)^2)",
            "--tensor",
            &input,
            "--tensor",
            &target,
            "--backend",
            backend,
        ]);
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let got = v["value"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-6 * want,
            "{backend}: {got} vs {want}"
        );
    }
    for bad in ["log(1 + (x - y)^2", "floor(x)", "x $ y"] {
        let out = gpu_loss_cli(&[
            "eval",
            "--formula",
            bad,
            "--tensor",
            &input,
            "--tensor",
            &target,
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        assert!(err.contains("column"), "{err}");
    }
    let out = gpu_loss_cli(&[
        "report",
        "--size",
        "4099",
        "--reps",
        "1",
        "--formula",
        "c = 2; log(1 + ((x - y) / c)^2)",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A custom loss reads a texture's planes as the built-ins do (the texture variant of the
/// elementwise kernel takes the custom entry's WGSL too).
#[test]
fn a_formula_reads_textures() {
    use rand::{Rng, SeedableRng};
    let (w, h) = (13u32, 7u32);
    let plane = (w * h) as usize;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let texels: Vec<f32> = (0..4 * plane)
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    let target: Vec<f32> = (0..3 * plane)
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    // Texel-major [H, W, 4] to the planes [3, H, W] channels 0, 1, 2 read.
    let planes: Vec<f32> = (0..3 * plane)
        .map(|e| texels[(e % plane) * 4 + e / plane])
        .collect();
    for t in defaults() {
        let ctx = &t.ctx;
        let tex = ctx.device().create_texture(&wgpu::TextureDescriptor {
            label: Some("custom test image"),
            size: wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba32Float,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        ctx.queue().write_texture(
            tex.as_image_copy(),
            bytemuck::cast_slice(&texels),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(w * 16),
                rows_per_image: Some(h),
            },
            tex.size(),
        );
        let x = ctx.wrap_texture(&tex, &[0, 1, 2]).unwrap();
        let shape = x.shape().to_vec();
        let bx = ctx.upload(&planes, &shape).unwrap();
        let y = ctx.upload(&target, &shape).unwrap();
        let text = "c = 1.5; log1p(((x - y) / c)^2)";
        let run = |x: &gpu_loss::Tensor| {
            let out = ctx
                .custom("c", text)
                .unwrap()
                .input(x)
                .target(&y)
                .with_grad()
                .run();
            let out = out.unwrap_or_else(|e| panic!("{}: {e}", t.name));
            let g = ctx.download(out.grad.as_ref().unwrap()).unwrap();
            (out.value.unwrap(), g)
        };
        let (tv, tg) = run(&x);
        let (bv, bg) = run(&bx);
        assert!(
            (tv - bv).abs() <= 1e-6 * bv.abs(),
            "{}: {tv} vs {bv}",
            t.name
        );
        let bg: Vec<f64> = bg.iter().map(|&v| v as f64).collect();
        assert!(normwise_error(&tg, &bg) <= 1e-6, "{}", t.name);
    }
}

/// Random formulas from the whole grammar, odd literals included (subnormal, near f32's
/// largest, long): each one compiles and runs on every adapter. No formula the parser takes
/// may fail in the shader compiler.
#[test]
fn every_formula_the_parser_takes_compiles() {
    use rand::{Rng, SeedableRng};
    fn gen(rng: &mut rand::rngs::StdRng, depth: u32) -> String {
        const LEAVES: [&str; 12] = [
            "x",
            "y",
            "a",
            "p",
            "q",
            "pi",
            "0",
            "1e-45",
            "3.4e38",
            "0.1",
            "123456789",
            "2.5e-7",
        ];
        const UNARY: [&str; 13] = [
            "abs", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "cosh", "sinh",
            "sigmoid", "softplus",
        ];
        const CMP: [&str; 6] = ["<", "<=", ">", ">=", "==", "!="];
        if depth == 0 || rng.random_bool(0.25) {
            return LEAVES[rng.random_range(0..LEAVES.len())].to_string();
        }
        let d = depth - 1;
        let pick = rng.random_range(0..9);
        let mut g = |n: usize| -> Vec<String> { (0..n).map(|_| gen(rng, d)).collect() };
        let k = g(4);
        match pick {
            0 => format!("{}({})", UNARY[k[0].len() % UNARY.len()], k[1]),
            1 => format!("({} + {})", k[0], k[1]),
            2 => format!("({} - {})", k[0], k[1]),
            3 => format!("({} * {})", k[0], k[1]),
            4 => format!("({} / {})", k[0], k[1]),
            5 => {
                let e = ["2", "-3", "0.5", "p", "y", "64", "65"][k[2].len() % 7];
                format!("({})^{e}", k[0])
            }
            6 => format!("min({}, {})", k[0], k[1]),
            7 => format!("clamp({}, -1, {})", k[0], k[1]),
            _ => {
                let c = CMP[k[3].len() % CMP.len()];
                format!("select({} {c} {}, {}, {})", k[0], k[1], k[2], k[3])
            }
        }
    }
    let seed = seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut texts = Vec::new();
    while texts.len() < 24 {
        let body = gen(&mut rng, 4);
        let text = format!("p = 0.5; q = -2; a = 1; e = x - y; {body} + e^2");
        if custom::formula("random", &text).is_ok() {
            texts.push(text);
        }
    }
    for t in defaults() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[0.5, -1.0, 2.0, 0.0, 3.0], &[5]).unwrap();
        let y = ctx.upload(&[0.0, 1.0, 2.0, -0.5, 1.0], &[5]).unwrap();
        for text in &texts {
            let call = ctx.custom("random", text).unwrap();
            let out = call.input(&x).target(&y).with_grad().run();
            assert!(out.is_ok(), "{text} on {}: {:?}", t.name, out.err());
        }
    }
}
