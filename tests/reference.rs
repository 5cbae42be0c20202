//! The float64 CPU reference (`gpu_loss::cpu`) against LOSSES.md, without a GPU: every
//! elementwise loss's analytic gradient against central differences, the worked examples,
//! the edge conventions (clamps, switch points, empty inputs, `none`), and the errors that
//! NaN and out-of-domain values raise.

use gpu_loss::catalogue::{self, Elementwise};
use gpu_loss::cpu::{self, CpuResult, Inputs};
use gpu_loss::params::{self, ParamValue, Reduction};
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::LossError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------------
// Helpers

fn loss(name: &str) -> &'static Elementwise {
    catalogue::elementwise(name).unwrap_or_else(|| panic!("no loss `{name}` in the catalogue"))
}

/// The loss's parameters in catalogue order: its defaults, overridden by `pairs`.
fn resolved(loss: &'static Elementwise, pairs: &[(&str, f64)]) -> Vec<f64> {
    let given: Vec<(String, ParamValue)> = pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), ParamValue::Number(v)))
        .collect();
    params::resolve(loss.name, loss.params, &given)
        .unwrap_or_else(|e| panic!("{}: {pairs:?}: {e}", loss.name))
}

/// One parameter's value, by name.
fn param(loss: &Elementwise, p: &[f64], name: &str) -> f64 {
    let i = loss.params.iter().position(|s| s.name == name);
    p[i.unwrap_or_else(|| panic!("{} has no parameter `{name}`", loss.name))]
}

/// `cpu::evaluate` on 1-D tensors (aux full-shape), with the gradient.
fn evaluate(
    name: &str,
    pairs: &[(&str, f64)],
    t: &Inputs<'_, f64>,
    reduction: Reduction,
) -> Result<CpuResult, LossError> {
    let given: Vec<(String, ParamValue)> = pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), ParamValue::Number(v)))
        .collect();
    let (n, nt) = ([t.input.len()], [t.target.len()]);
    let weight = t.weight.map(|w| [w.len()]);
    let aux = t.aux.map(|a| [a.len()]);
    let shapes = Shapes {
        input: &n,
        target: &nt,
        weight: weight.as_ref().map(|s| &s[..]),
        aux: aux.as_ref().map(|s| &s[..]),
    };
    let problem = Problem::new(loss(name), shapes, &given, reduction)?;
    cpu::evaluate(&problem, t, true)
}

/// The mean loss of one element, through `cpu::evaluate`.
fn value(name: &str, pairs: &[(&str, f64)], x: f64, y: f64) -> f64 {
    let t = Inputs {
        input: &[x],
        target: &[y],
        weight: None,
        aux: None,
    };
    let r = evaluate(name, pairs, &t, Reduction::Mean).unwrap();
    r.value.unwrap()
}

/// A binary label: mostly hard 0 or 1, sometimes soft.
fn label(rng: &mut StdRng) -> f64 {
    if rng.random_bool(0.8) {
        f64::from(u8::from(rng.random_bool(0.5)))
    } else {
        rng.random()
    }
}

fn plus_minus_one(rng: &mut StdRng) -> f64 {
    if rng.random_bool(0.5) {
        1.0
    } else {
        -1.0
    }
}

/// One point (x, y, a) inside the loss's domain; `a` is the loss's extra tensor value.
fn draw(loss: &Elementwise, p: &[f64], rng: &mut StdRng) -> (f64, f64, f64) {
    let a = loss.aux.map_or(0.0, |a| f64::from(a.default));
    match loss.name {
        // Over decades; y sometimes exactly 0.
        "msle" => {
            let x = rng.random_range(-7.0f64..4.5).exp();
            let y = if rng.random_bool(0.1) {
                0.0
            } else {
                rng.random_range(-7.0f64..4.5).exp()
            };
            (x, y, a)
        }
        // y away from 0, where the 1e-7 floor would make the slope 1e9.
        "mape" => (
            rng.random_range(-5.0..5.0),
            plus_minus_one(rng) * rng.random_range(0.1..5.0),
            a,
        ),
        "gaussian_nll" => (
            rng.random_range(-5.0..5.0),
            rng.random_range(-5.0..5.0),
            rng.random_range(0.1..2.0),
        ),
        "poisson_nll" => {
            let y = f64::from(rng.random_range(0u8..=10));
            if param(loss, p, "log_input") != 0.0 {
                (rng.random_range(-3.0..3.0), y, a)
            } else {
                (rng.random_range(0.1..5.0), y, a)
            }
        }
        "bce" => (rng.random_range(0.01..0.99), label(rng), a),
        "bce_with_logits" => (
            rng.random_range(-10.0..10.0),
            label(rng),
            rng.random_range(0.5..3.0),
        ),
        "focal" => (rng.random_range(-8.0..8.0), label(rng), a),
        // 0 is read as -1, so draw it too.
        "hinge" | "squared_hinge" => {
            let y = [-1.0, 0.0, 1.0][rng.random_range(0..3)];
            (rng.random_range(-3.0..3.0), y, a)
        }
        "soft_margin" => (rng.random_range(-5.0..5.0), plus_minus_one(rng), a),
        _ => (rng.random_range(-5.0..5.0), rng.random_range(-5.0..5.0), a),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Gradients

/// Points per parameter setting.
const POINTS: usize = 200;
/// |analytic - numeric| <= GRAD_TOL·max(1, |analytic|). A central difference with
/// h = 1e-6·max(1, |x|) is good to ~1e-9 on these smooth functions.
const GRAD_TOL: f64 = 1e-6;

/// Settings beyond the defaults: the ones that change a loss's code path or scale.
const EXTRA_SETTINGS: &[(&str, &[(&str, f64)])] = &[
    ("smooth_l1", &[("beta", 0.5)]),
    ("huber", &[("delta", 0.3)]),
    ("charbonnier", &[("eps", 0.1)]),
    ("cauchy", &[("c", 0.3)]),
    ("gaussian_nll", &[("eps", 1e-6), ("full", 1.0)]),
    ("poisson_nll", &[("log_input", 1.0), ("full", 1.0)]),
    ("poisson_nll", &[("log_input", 0.0), ("full", 1.0)]),
    ("focal", &[("alpha", 0.25), ("gamma", 2.0)]),
    ("focal", &[("alpha", -1.0), ("gamma", 0.5)]),
    ("focal", &[("gamma", 3.5)]),
];

/// The x where the loss has a kink: a central difference straddling one measures nothing.
fn kinks(loss: &Elementwise, y: f64, p: &[f64]) -> Vec<f64> {
    match loss.name {
        "mae" | "mape" => vec![y],
        "smooth_l1" | "huber" => vec![y, y - p[0], y + p[0]],
        "hinge" | "squared_hinge" => vec![if y == 0.0 { -1.0 } else { y }], // 1 - t·x = 0, t = ±1
        "msle" => vec![1e-7],
        _ => vec![],
    }
}

/// Checks one setting; returns (points checked, failures).
fn check_gradient(
    loss: &'static Elementwise,
    pairs: &[(&str, f64)],
    seed: u64,
) -> (usize, Vec<String>) {
    let p = resolved(loss, pairs);
    let f = |x: f64, y: f64, a: f64| (loss.cpu)(x, y, a, &p);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut checked, mut failures) = (0, Vec::new());
    for _ in 0..POINTS {
        let (x, y, a) = draw(loss, &p, &mut rng);
        let h = 1e-6 * x.abs().max(1.0);
        if kinks(loss, y, &p).iter().any(|k| (x - k).abs() < 10.0 * h) {
            continue;
        }
        let (v, g) = f(x, y, a);
        // Divide by the step actually taken, not by the h that x ± h rounds from.
        let (xp, xm) = (x + h, x - h);
        let numeric = (f(xp, y, a).0 - f(xm, y, a).0) / (xp - xm);
        checked += 1;
        if !(v.is_finite() && (g - numeric).abs() <= GRAD_TOL * g.abs().max(1.0)) {
            failures.push(format!(
                "{} {pairs:?} at x = {x}, y = {y}, a = {a}: loss {v}, analytic {g}, numeric {numeric}",
                loss.name
            ));
        }
    }
    (checked, failures)
}

#[test]
fn gradients_match_central_differences() {
    let defaults = catalogue::ELEMENTWISE.iter().map(|l| (l, &[][..]));
    let extra = EXTRA_SETTINGS
        .iter()
        .map(|&(name, pairs)| (loss(name), pairs));
    let mut failures = Vec::new();
    for (seed, (loss, pairs)) in defaults.chain(extra).enumerate() {
        let (checked, f) = check_gradient(loss, pairs, 1000 + seed as u64);
        // Skipping kinks must leave nearly every point checked, or the test proves little.
        assert!(
            checked >= POINTS * 9 / 10,
            "{} {pairs:?}: only {checked} of {POINTS} points away from kinks",
            loss.name
        );
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} gradient mismatches, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Worked examples

/// `got` matches `printed` to its last printed digit (within half a unit there).
fn assert_printed(case: &str, got: f64, printed: &str) {
    let want: f64 = printed.parse().unwrap();
    let decimals = printed.split_once('.').map_or(0, |(_, d)| d.len());
    let tol = 0.5 * 10f64.powi(-(decimals as i32));
    assert!(
        (got - want).abs() <= tol,
        "{case}: got {got}, LOSSES.md prints {printed}"
    );
}

/// `got` equals an exact value, up to 6.1 and 6.3 not being exact in binary.
fn assert_exact(case: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs(),
        "{case}: got {got}, want {want}"
    );
}

#[test]
fn worked_examples_of_losses_md() {
    assert_exact("mse(6.1, 6.3)", value("mse", &[], 6.1, 6.3), 0.04);
    assert_exact("mae(6.1, 6.3)", value("mae", &[], 6.1, 6.3), 0.2);
    assert_exact(
        "huber(6.1, 6.3, delta = 1)",
        value("huber", &[("delta", 1.0)], 6.1, 6.3),
        0.02,
    );
    assert_printed("bce(0.8, 1)", value("bce", &[], 0.8, 1.0), "0.2231436");
    // p_t = σ(ln 9) = 0.9 with y = 1, so α_t = α = 0.25.
    let focal = value("focal", &[("alpha", 0.25), ("gamma", 2.0)], 9f64.ln(), 1.0);
    assert_printed("focal(p_t = 0.9, α_t = 0.25, γ = 2)", focal, "0.0002634");
}

// ---------------------------------------------------------------------------------------------
// 3. Edge conventions

/// bce's logs are clamped at -100 and its backward divides by max(x(1 - x), 1e-12).
fn bce_clamps_at_the_ends() {
    let (x, y) = ([0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0]);
    let t = Inputs {
        input: &x,
        target: &y,
        weight: None,
        aux: None,
    };
    let r = evaluate("bce", &[], &t, Reduction::None).unwrap();
    assert_eq!(r.elements.unwrap(), [100.0, 100.0, 0.0, 0.0]);
    let grad = r.grad.unwrap();
    let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| (x - y) / 1e-12).collect();
    assert_eq!(grad, want, "bce gradient at x = 0 and 1");
}

/// bce_with_logits at x = ±100 against its exact value; terms below 1e-40 relative dropped.
fn bce_with_logits_is_finite_at_large_logits() {
    let t = (-100f64).exp(); // softplus(-100) = σ(-100) = e^-100 to f64 precision
    for x in [100.0, -100.0] {
        for y in [0.0, 1.0, 0.5] {
            for a in [1.0, 3.0] {
                let (v, g) = (loss("bce_with_logits").cpu)(x, y, a, &[]);
                let (want_v, want_g) = if x > 0.0 {
                    ((1.0 - y) * 100.0 + a * y * t, (1.0 - y) - a * y * t)
                } else {
                    ((1.0 - y) * t + a * y * 100.0, (1.0 - y) * t - a * y)
                };
                let close = |got: f64, want: f64| (got - want).abs() <= 1e-12 * want.abs();
                assert!(
                    close(v, want_v) && close(g, want_g),
                    "bce_with_logits(x = {x}, y = {y}, pos_weight = {a}) = ({v}, {g}), \
                     want ({want_v}, {want_g})"
                );
            }
        }
    }
}

/// huber and smooth_l1 are C¹: value and slope agree just either side of |e| = delta (beta).
fn switch_points_are_smooth() {
    for (name, key) in [("huber", "delta"), ("smooth_l1", "beta")] {
        for b in [1.0, 0.3, 2.5] {
            let l = loss(name);
            let p = resolved(l, &[(key, b)]);
            for s in [1.0, -1.0] {
                let y = 0.7;
                let below = (l.cpu)(y + s * b * (1.0 - 1e-9), y, 0.0, &p);
                let above = (l.cpu)(y + s * b * (1.0 + 1e-9), y, 0.0, &p);
                assert!(
                    (below.0 - above.0).abs() <= 1e-7 && (below.1 - above.1).abs() <= 1e-7,
                    "{name}({key} = {b}) at e = {}: below {below:?}, above {above:?}",
                    s * b
                );
            }
        }
    }
}

/// LOSSES.md: smooth_l1 with beta = 0 is L1, gradient included (0 at e = 0).
fn smooth_l1_with_beta_zero_is_mae() {
    let (smooth, mae) = (loss("smooth_l1"), loss("mae"));
    let p = resolved(smooth, &[("beta", 0.0)]);
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..POINTS {
        let y = rng.random_range(-5.0..5.0);
        let x = if i % 10 == 0 {
            y
        } else {
            rng.random_range(-5.0..5.0)
        };
        assert_eq!(
            (smooth.cpu)(x, y, 0.0, &p),
            (mae.cpu)(x, y, 0.0, &[]),
            "smooth_l1(beta = 0) vs mae at x = {x}, y = {y}"
        );
    }
}

/// A mean over nothing is NaN, a sum over nothing 0, `none` an empty vector (PyTorch).
fn empty_inputs() {
    for l in catalogue::ELEMENTWISE {
        let t = Inputs::<f64> {
            input: &[],
            target: &[],
            weight: None,
            aux: l.aux.map(|_| &[][..]),
        };
        let mean = evaluate(l.name, &[], &t, Reduction::Mean).unwrap();
        assert!(mean.value.unwrap().is_nan(), "{}: mean of nothing", l.name);
        let sum = evaluate(l.name, &[], &t, Reduction::Sum).unwrap();
        assert_eq!(sum.value, Some(0.0), "{}: sum of nothing", l.name);
        let none = evaluate(l.name, &[], &t, Reduction::None).unwrap();
        assert_eq!(
            (none.value, none.elements),
            (None, Some(vec![])),
            "{}",
            l.name
        );
        assert_eq!(none.grad, Some(vec![]), "{}: gradient of nothing", l.name);
    }
}

/// `none` returns each element's weighted loss and its own derivative; sum and mean agree.
fn reduction_none_is_per_element() {
    let t = Inputs {
        input: &[1.0, 2.0, 3.0],
        target: &[0.0, 0.0, 0.0],
        weight: None,
        aux: None,
    };
    let r = evaluate("mse", &[], &t, Reduction::None).unwrap();
    assert_eq!(r.value, None);
    assert_eq!(r.elements, Some(vec![1.0, 4.0, 9.0]));
    assert_eq!(r.grad, Some(vec![2.0, 4.0, 6.0]));

    let mut rng = StdRng::seed_from_u64(11);
    for l in catalogue::ELEMENTWISE {
        let p = resolved(l, &[]);
        let (mut x, mut y, mut a, mut w) = (vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            let (xi, yi, ai) = draw(l, &p, &mut rng);
            x.push(xi);
            y.push(yi);
            a.push(ai);
            w.push(rng.random_range(0.0..2.0));
        }
        let t = Inputs {
            input: &x,
            target: &y,
            weight: Some(&w),
            aux: l.aux.map(|_| &a[..]),
        };
        let none = evaluate(l.name, &[], &t, Reduction::None).unwrap();
        let (want_v, want_g): (Vec<f64>, Vec<f64>) = (0..x.len())
            .map(|i| {
                let (v, g) = (l.cpu)(x[i], y[i], a[i], &p);
                (w[i] * v, w[i] * g)
            })
            .unzip();
        assert_eq!(none.elements.as_ref(), Some(&want_v), "{}: none", l.name);
        assert_eq!(none.grad, Some(want_g), "{}: none, gradient", l.name);
        let total: f64 = want_v.iter().sum();
        let sum = evaluate(l.name, &[], &t, Reduction::Sum)
            .unwrap()
            .value
            .unwrap();
        let mean = evaluate(l.name, &[], &t, Reduction::Mean)
            .unwrap()
            .value
            .unwrap();
        assert!(
            (sum - total).abs() <= 1e-12 * total.abs(),
            "{}: sum",
            l.name
        );
        assert!(
            (mean - total / 5.0).abs() <= 1e-12 * total.abs(),
            "{}: mean",
            l.name
        );
    }
}

#[test]
fn edge_conventions() {
    bce_clamps_at_the_ends();
    bce_with_logits_is_finite_at_large_logits();
    switch_points_are_smooth();
    smooth_l1_with_beta_zero_is_mae();
    empty_inputs();
    reduction_none_is_per_element();
}

// ---------------------------------------------------------------------------------------------
// 4. Errors

#[test]
fn nan_and_domain_errors_name_the_first_index() {
    // Whatever the reduction, the error is the same and names the first offending index.
    for reduction in Reduction::ALL {
        let mut x = vec![0.5; 12];
        x[5] = f64::NAN;
        x[9] = f64::NAN;
        let t = Inputs {
            input: &x,
            target: &[0.0; 12],
            weight: None,
            aux: None,
        };
        let err = evaluate("mse", &[], &t, reduction).unwrap_err();
        assert_eq!(
            err,
            LossError::NaN {
                loss: "mse",
                tensor: "input",
                index: 5
            },
            "{reduction}"
        );

        let mut x = vec![0.5; 8];
        x[3] = 1.5;
        x[6] = -0.2;
        let t = Inputs {
            input: &x,
            target: &[1.0; 8],
            weight: None,
            aux: None,
        };
        let err = evaluate("bce", &[], &t, reduction).unwrap_err();
        assert!(
            matches!(
                err,
                LossError::OutOfDomain {
                    loss: "bce",
                    tensor: "input",
                    index: 3,
                    ..
                }
            ),
            "{reduction}: {err:?}"
        );

        let mut var = vec![1.0; 6];
        var[2] = -0.5;
        var[4] = -1.0;
        let t = Inputs {
            input: &[0.0; 6],
            target: &[1.0; 6],
            weight: None,
            aux: Some(&var),
        };
        let err = evaluate("gaussian_nll", &[], &t, reduction).unwrap_err();
        assert!(
            matches!(
                err,
                LossError::OutOfDomain {
                    loss: "gaussian_nll",
                    tensor: "var",
                    index: 2,
                    ..
                }
            ),
            "{reduction}: {err:?}"
        );
    }
}
