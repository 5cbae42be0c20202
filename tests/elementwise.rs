//! Every elementwise loss (sections A and B of LOSSES.md) on every adapter, under every launch
//! setting of common::targets(), against the float64 reference: each reduction, with and
//! without weight, with the gradient, on fresh random inputs of awkward sizes.

mod common;

use common::{defaults, elementwise_error, normwise_error, seed, targets, Target};
use gpu_loss::catalogue::{self, Elementwise};
use gpu_loss::cpu::{self, CpuResult};
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::sample::{sample, AuxForm, Sample};
use gpu_loss::{ParamValue, Reduction};

/// Awkward sizes: empty, one, less than a vec4, around a workgroup, a prime past 4096.
const SIZES: [usize; 7] = [0, 1, 3, 255, 256, 257, 4099];
/// Above a million, on the adapters' own settings.
const LARGE: usize = 1_000_003;

/// Reduced values: within this of the float64 reference, relative to the sum of |terms|
/// (which is |value| whenever the terms share a sign).
const VALUE_TOL: f64 = 1e-5;
/// Per-element losses and gradients: normwise (relative to the largest element).
const NORM_TOL: f64 = 2e-6;
/// Per-element losses and gradients: each relative to itself, above 1e-3 of the largest.
const ELEMENT_TOL: f64 = 1e-4;

/// Parameter sets to run for each loss: the defaults, and the settings that change its code
/// path (LOSSES.md's edges: beta = 0, full, log_input = false, alpha < 0, gamma = 0).
fn param_sets(loss: &Elementwise) -> Vec<Vec<(String, ParamValue)>> {
    let set = |pairs: &[(&str, ParamValue)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Vec<_>>()
    };
    use ParamValue::{Bool, Number};
    let mut sets = vec![vec![]];
    sets.extend(match loss.name {
        "smooth_l1" => vec![set(&[("beta", Number(0.5))]), set(&[("beta", Number(0.0))])],
        "huber" => vec![set(&[("delta", Number(0.3))])],
        "charbonnier" => vec![set(&[("eps", Number(0.1))])],
        "cauchy" => vec![set(&[("c", Number(0.3))])],
        "gaussian_nll" => vec![set(&[("eps", Number(0.5)), ("full", Bool(true))])],
        "poisson_nll" => vec![
            set(&[("full", Bool(true))]),
            set(&[("log_input", Bool(false)), ("full", Bool(true))]),
        ],
        "kl_div" => vec![
            set(&[("log_target", Bool(true))]),
            set(&[("log_input", Bool(false))]),
            set(&[("log_input", Bool(false)), ("log_target", Bool(true))]),
        ],
        "focal" => vec![
            set(&[("alpha", Number(-1.0)), ("gamma", Number(0.0))]),
            set(&[("alpha", Number(0.6)), ("gamma", Number(0.5))]),
            set(&[("gamma", Number(3.5))]),
        ],
        _ => vec![],
    });
    sets
}

/// Inputs that suit the parameters: poisson_nll on rates needs positive input; kl_div on
/// probabilities wants them (its samples are log-probabilities), and log targets.
fn adapt(loss: &Elementwise, mut s: Sample, params: &[(String, ParamValue)]) -> Sample {
    let is = |name: &str, value: bool| {
        params
            .iter()
            .any(|(k, v)| k == name && *v == ParamValue::Bool(value))
    };
    match loss.name {
        "poisson_nll" if is("log_input", false) => {
            s.input.iter_mut().for_each(|x| *x = x.abs() + 0.1);
        }
        "kl_div" => {
            if is("log_input", false) {
                s.input.iter_mut().for_each(|x| *x = x.exp());
            }
            if is("log_target", true) {
                s.target.iter_mut().for_each(|y| *y = y.ln());
            }
        }
        _ => {}
    }
    s
}

/// The reductions a loss takes: none, sum, mean, and batchmean for kl_div.
fn reductions(loss: &Elementwise) -> Vec<Reduction> {
    let mut r = Reduction::ALL.to_vec();
    if loss.batchmean {
        r.push(Reduction::BatchMean);
    }
    r
}

struct Case<'a> {
    loss: &'static Elementwise,
    sample: &'a Sample,
    params: &'a [(String, ParamValue)],
    reduction: Reduction,
}

impl Case<'_> {
    fn problem(&self) -> Problem {
        let s = self.sample;
        Problem::new(
            self.loss,
            Shapes {
                input: &s.shape,
                target: &s.shape,
                weight: s.weight.as_ref().map(|_| s.shape.as_slice()),
                aux: s.aux.as_ref().map(|a| a.1.as_slice()),
            },
            self.params,
            self.reduction,
        )
        .expect("valid problem")
    }

    fn reference(&self) -> (CpuResult, f64) {
        let s = self.sample;
        let inputs = cpu::Inputs {
            input: &s.input,
            target: &s.target,
            weight: s.weight.as_deref(),
            aux: s.aux.as_ref().map(|a| a.0.as_slice()),
        };
        let p = self.problem();
        let r = cpu::evaluate(&p, &inputs, true).expect("reference");
        // The sum of |terms| (scaled like the value) bounds what rounding can do to the value.
        let mut none = p.clone();
        none.reduction = Reduction::None;
        let terms = cpu::evaluate(&none, &inputs, false).expect("reference");
        let mass: f64 = terms.elements.unwrap().iter().map(|v| v.abs()).sum();
        (r, mass * p.grad_scale())
    }

    /// Runs the case on one target and compares every output with the reference.
    fn check(&self, t: &Target, reference: &(CpuResult, f64)) {
        let ctx = &t.ctx;
        let s = self.sample;
        let label = format!(
            "{} n={} {} weight={} params={:?} on {}",
            self.loss.name,
            s.input.len(),
            self.reduction,
            s.weight.is_some(),
            self.params,
            t.name
        );
        let x = ctx.upload(&s.input, &s.shape).unwrap();
        let y = ctx.upload(&s.target, &s.shape).unwrap();
        let w = s.weight.as_ref().map(|w| ctx.upload(w, &s.shape).unwrap());
        let a = s.aux.as_ref().map(|(v, sh)| ctx.upload(v, sh).unwrap());
        let mut call = ctx
            .loss(self.loss.name)
            .unwrap()
            .input(&x)
            .target(&y)
            .reduction(self.reduction)
            .with_grad();
        if let Some(w) = &w {
            call = call.weight(w);
        }
        if let (Some(a), Some(spec)) = (&a, self.loss.aux) {
            call = call.tensor(spec.name, a);
        }
        for (k, v) in self.params {
            call = call.param(k, v.clone());
        }
        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
        let (want, mass) = reference.clone();

        match (out.value, want.value) {
            (None, None) => {}
            (Some(got), Some(want)) if want.is_nan() => {
                assert!(got.is_nan(), "{label}: value {got}, expected NaN")
            }
            (Some(got), Some(want)) => {
                let err = (got as f64 - want).abs() / want.abs().max(mass).max(f64::MIN_POSITIVE);
                assert!(
                    err <= VALUE_TOL,
                    "{label}: value {got} vs reference {want} (error {err:.2e} of the terms' mass)"
                );
            }
            (got, want) => panic!("{label}: value {got:?} vs {want:?}"),
        }
        let pairs = [
            ("elements", out.elements, want.elements),
            ("grad", out.grad, want.grad),
        ];
        // Losses whose element is a difference of larger parts: poisson_nll on log inputs
        // (e^x − y·x, e^x − y), kl_div (y·(log y − x) and its other forms). With one or three
        // elements the largest can be a near-cancellation, whose f32 error (a few ulp of the
        // parts) is large beside the result; judge those against the parts they subtract.
        let flag = |name: &str, value: bool| {
            self.params
                .iter()
                .any(|(k, v)| k == name && *v == ParamValue::Bool(value))
        };
        let parts = |x: f64, y: f64| -> Option<f64> {
            match self.loss.name {
                "poisson_nll" if !flag("log_input", false) => {
                    Some(x.exp() + y.abs() * (1.0 + x.abs()))
                }
                "kl_div" if flag("log_target", true) => Some(y.exp() * (y.abs() + x.abs())),
                "kl_div" if flag("log_input", false) => {
                    Some(y.abs() * (y.abs().ln().abs() + x.abs().ln().abs()))
                }
                "kl_div" => Some(y.abs() * (y.abs().ln().abs() + x.abs())),
                _ => None,
            }
        };
        let cancelling = parts(1.0, 1.0).is_some();
        let parts_scale = |of_grad: bool| -> f64 {
            let n = s.input.len().max(1) as f64;
            let scale = if of_grad && self.reduction == Reduction::Mean {
                1.0 / n
            } else {
                1.0
            };
            (0..s.input.len())
                .filter_map(|i| {
                    let w = s.weight.as_ref().map_or(1.0, |w| w[i] as f64).abs();
                    let p = parts(s.input[i] as f64, s.target[i] as f64)?;
                    Some(p * w * scale)
                })
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max)
        };
        for (what, got, want) in pairs {
            match (got, want) {
                (None, None) => {}
                (Some(got), Some(want)) => {
                    let got = ctx.download(&got).unwrap();
                    let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
                    let mut norm = normwise_error(&got, &want);
                    if cancelling && largest > 0.0 && norm.is_finite() {
                        norm *= largest / largest.max(parts_scale(what == "grad"));
                    }
                    assert!(
                        norm <= NORM_TOL,
                        "{label}: {what} normwise error {norm:.2e}"
                    );
                    let mut floor = 1e-3;
                    if cancelling && largest > 0.0 {
                        floor = f64::max(floor, parts_scale(what == "grad") / largest);
                    }
                    let (err, at) = elementwise_error(&got, &want, floor);
                    assert!(
                        err <= ELEMENT_TOL,
                        "{label}: {what}[{at}] = {} vs {} (error {err:.2e})",
                        got[at],
                        want[at]
                    );
                }
                (got, want) => panic!(
                    "{label}: {what} present on GPU: {}, in reference: {}",
                    got.is_some(),
                    want.is_some()
                ),
            }
        }
    }
}

fn matrix(name: &str) {
    let loss = catalogue::elementwise(name).expect("a catalogue loss");
    let seed = seed() ^ name.len() as u64;
    for params in param_sets(loss) {
        for weighted in [false, true] {
            // Shapes: 1-D of every awkward size, then 2-D with the extra tensor broadcast.
            let mut samples: Vec<Sample> = SIZES
                .iter()
                .enumerate()
                .map(|(i, &n)| sample(loss, &[n], weighted, AuxForm::Default, seed + i as u64))
                .collect();
            if loss.aux.is_some() {
                for (i, shape) in [[37usize, 113], [1, 3], [255, 1]].iter().enumerate() {
                    samples.push(sample(
                        loss,
                        shape,
                        weighted,
                        AuxForm::Broadcast,
                        seed + 50 + i as u64,
                    ));
                }
            }
            for s in &samples {
                let s = adapt(loss, s.clone(), &params);
                for reduction in reductions(loss) {
                    let case = Case {
                        loss,
                        sample: &s,
                        params: &params,
                        reduction,
                    };
                    let reference = case.reference();
                    for t in targets() {
                        case.check(t, &reference);
                    }
                }
            }
            let large = adapt(
                loss,
                sample(loss, &[LARGE], weighted, AuxForm::Default, seed + 99),
                &params,
            );
            for reduction in reductions(loss) {
                let case = Case {
                    loss,
                    sample: &large,
                    params: &params,
                    reduction,
                };
                let reference = case.reference();
                for t in defaults() {
                    case.check(t, &reference);
                }
            }
        }
    }
}

macro_rules! matrix_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                matrix(stringify!($name));
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

matrix_tests!(
    mse,
    mae,
    smooth_l1,
    huber,
    charbonnier,
    msle,
    log_cosh,
    cauchy,
    mape,
    gaussian_nll,
    poisson_nll,
    bce,
    bce_with_logits,
    hinge,
    squared_hinge,
    focal,
    soft_margin,
    kl_div,
);

#[test]
fn every_elementwise_loss_has_a_matrix_test() {
    for loss in catalogue::ELEMENTWISE {
        assert!(
            TESTED.contains(&loss.name),
            "{} has no matrix test",
            loss.name
        );
    }
    assert_eq!(TESTED.len(), catalogue::ELEMENTWISE.len());
}
