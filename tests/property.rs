//! Issue 12's property over the whole catalogue: for random small shapes (zero rows and zero
//! columns included), label dtypes, reductions and parameters (defaults, valid values and
//! invalid ones) of every entry, the GPU and the float64 reference either both succeed and
//! agree, or both fail with the same kind of error.
//!
//! Cheap by design: PROPTEST_CASES cases per entry (default 8) on the first adapter, and the
//! first case of every fourth entry on the others too (one context each, reused: shader
//! compiles dominate on a cold Mesa cache), from a fixed seed, printed, that
//! GPU_LOSS_PROPERTY_SEED replaces.

mod common;

use common::defaults;
use gpu_loss::catalogue::{self, Holds, Loss};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::params::{ParamSpec, Rule};
use gpu_loss::sample::{self, Size};
use gpu_loss::{GpuContext, ParamValue, Reduction, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Values and gradients agree to this, relative to the largest |reference| (at least 1).
const TOLERANCE: f64 = 2e-4;

#[derive(Clone, Debug)]
struct Case {
    rows: usize,
    cols: usize,
    seed: u64,
    reduction: Reduction,
    params: Vec<(String, ParamValue)>,
    /// Class labels as int32 (else int64).
    int32_labels: bool,
    /// cross_entropy's target as probabilities of the input's shape.
    probabilities: bool,
}

/// A parameter left at its default, given a valid value, or (rarely) an invalid one.
fn param(spec: &ParamSpec) -> BoxedStrategy<Option<(String, ParamValue)>> {
    let num = |s: BoxedStrategy<f64>| s.prop_map(ParamValue::Number).boxed();
    let (valid, invalid) = match spec.rule {
        Rule::Finite => (num((-2.0..2.0).boxed()), ParamValue::Number(f64::NAN)),
        Rule::Positive => (num((0.25..3.0).boxed()), ParamValue::Number(-1.0)),
        Rule::NonNegative => (
            num(prop_oneof![Just(0.0), 0.0..2.0].boxed()),
            ParamValue::Number(-0.5),
        ),
        Rule::Bool => (
            any::<bool>().prop_map(ParamValue::Bool).boxed(),
            ParamValue::Number(0.5),
        ),
        Rule::Integer => (
            num(prop_oneof![Just(-100.0), (0..3).prop_map(f64::from)].boxed()),
            ParamValue::Number(0.5),
        ),
        Rule::Unit => (
            num(prop_oneof![Just(0.0), Just(1.0), 0.0..1.0].boxed()),
            ParamValue::Number(1.5),
        ),
        Rule::Window => (
            num(prop_oneof![Just(3.0), Just(5.0)].boxed()),
            ParamValue::Number(4.0),
        ),
        Rule::OneOf { words, .. } => (
            proptest::sample::select(words.to_vec())
                .prop_map(ParamValue::from)
                .boxed(),
            ParamValue::from("bogus"),
        ),
    };
    let name = spec.name.to_string();
    prop_oneof![
        4 => Just(None),
        5 => valid.prop_map(move |v| Some((name.clone(), v))),
        1 => Just(Some((spec.name.to_string(), invalid))),
    ]
    .boxed()
}

fn case(loss: Loss) -> impl Strategy<Value = Case> {
    let size = prop_oneof![1 => Just(0usize), 6 => 1usize..6];
    let cols = prop_oneof![1 => Just(0usize), 6 => 1usize..10];
    let reductions = loss.reductions();
    let params: Vec<_> = loss.params().iter().map(param).collect();
    (
        size,
        cols,
        any::<u64>(),
        proptest::sample::select(reductions),
        params,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rows, cols, seed, reduction, params, i32s, probs)| Case {
            rows,
            cols,
            seed,
            reduction,
            params: params.into_iter().flatten().collect(),
            int32_labels: i32s,
            probabilities: probs,
        })
}

/// The case's tensors, drawn as the entry says (sample.rs), with cross_entropy's target
/// sometimes probabilities instead of labels.
fn tensors(loss: Loss, c: &Case) -> Vec<(String, Array)> {
    let mut t = sample::named(loss, Size::Matrix(c.rows, c.cols), c.seed);
    let probs = loss
        .tensor("target")
        .is_some_and(|s| s.holds == Holds::IndicesOrProbabilities);
    if probs && c.probabilities {
        let shape = t[0].1.shape.clone();
        let len = shape.iter().product::<usize>();
        let values = (0..len).map(|k| ((k * 7 + 3) % 11) as f64 / 10.0).collect();
        let target = Array {
            shape,
            values: Values::Float(values),
            dtype: "<f4".into(),
        };
        for (name, a) in &mut t {
            if name == "target" {
                *a = target.clone();
            }
        }
    }
    t
}

/// The value, the per-element (or per-row) losses for `none`, and each gradient.
type Outcome = gpu_loss::Result<(Option<f64>, Vec<f64>, Vec<Vec<f64>>)>;

fn on_gpu(ctx: &GpuContext, loss: Loss, tensors: &[(String, Array)], c: &Case) -> Outcome {
    let takes_labels = |name: &str| loss.tensor(name).is_some_and(|t| t.holds.takes_indices());
    let mut uploaded = Vec::new();
    for (name, a) in tensors {
        let t = match &a.values {
            Values::Int(v) if takes_labels(name) && c.int32_labels => {
                let v: Vec<i32> = v.iter().map(|&y| y as i32).collect();
                ctx.upload_i32(&v, &a.shape)?
            }
            Values::Int(v) if takes_labels(name) => ctx.upload_i64(v, &a.shape)?,
            _ => ctx.upload(&a.f32s(), &a.shape)?,
        };
        uploaded.push((name.as_str(), t));
    }
    let mut call = ctx.loss(loss.name())?.reduction(c.reduction).with_grad();
    for (name, t) in &uploaded {
        call = call.tensor(name, t);
    }
    for (k, v) in &c.params {
        call = call.param(k, v.clone());
    }
    let got = call.run()?;
    let down = |t: &Tensor| -> gpu_loss::Result<Vec<f64>> {
        Ok(ctx.download(t)?.into_iter().map(f64::from).collect())
    };
    let out = match &got.elements {
        Some(e) if c.reduction == Reduction::None => down(e)?,
        _ => Vec::new(),
    };
    let mut grads = Vec::new();
    for g in got.grad.iter().chain(got.other_grads.iter().map(|g| &g.1)) {
        grads.push(down(g)?);
    }
    Ok((got.value.map(f64::from), out, grads))
}

fn on_cpu(loss: Loss, tensors: &[(String, Array)], c: &Case) -> Outcome {
    let want = evaluate_named(loss.name(), tensors, &c.params, c.reduction)?;
    let out = want.out.filter(|_| c.reduction == Reduction::None);
    let grads = want.grads.into_iter().map(|g| g.1).collect();
    Ok((want.value, out.map(|o| o.1).unwrap_or_default(), grads))
}

/// Largest |got − want| relative to the largest |want| (at least 1); NaN must meet NaN.
fn error(got: &[f64], want: &[f64]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    let scale = want.iter().fold(1f64, |m, v| m.max(v.abs()));
    let mut worst = 0f64;
    for (&g, &w) in got.iter().zip(want) {
        if g.is_nan() != w.is_nan() || (w.is_infinite() && g != w) {
            return f64::INFINITY;
        }
        if w.is_finite() {
            worst = worst.max((g - w).abs() / scale);
        }
    }
    worst
}

fn check(ctx: &GpuContext, loss: Loss, c: &Case) -> Result<(), TestCaseError> {
    let t = tensors(loss, c);
    let shapes: Vec<_> = t.iter().map(|(n, a)| (n.as_str(), &a.shape)).collect();
    let what = format!(
        "{} on {}: {shapes:?} {c:?}",
        loss.name(),
        ctx.adapter_name()
    );
    match (on_gpu(ctx, loss, &t, c), on_cpu(loss, &t, c)) {
        (Err(g), Err(w)) => prop_assert!(
            std::mem::discriminant(&g) == std::mem::discriminant(&w),
            "{what}: GPU {g:?}, reference {w:?}"
        ),
        (Ok((gv, go, gg)), Ok((wv, wo, wg))) => {
            let value = error(
                &gv.into_iter().collect::<Vec<_>>(),
                &wv.into_iter().collect::<Vec<_>>(),
            );
            prop_assert!(value <= TOLERANCE, "{what}: value {gv:?} against {wv:?}");
            prop_assert!(
                error(&go, &wo) <= TOLERANCE,
                "{what}: {go:?} against {wo:?}"
            );
            prop_assert_eq!(gg.len(), wg.len(), "{}: gradients", what);
            for (g, w) in gg.iter().zip(&wg) {
                prop_assert!(
                    error(g, w) <= TOLERANCE,
                    "{what}: gradient {g:?} against {w:?}"
                );
            }
        }
        (g, w) => prop_assert!(false, "{what}: GPU {g:?}, reference {w:?}"),
    }
    Ok(())
}

#[test]
fn gpu_and_reference_agree_on_random_cases_of_every_entry() {
    let seed: u64 = std::env::var("GPU_LOSS_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261130);
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    eprintln!("property cases from GPU_LOSS_PROPERTY_SEED={seed}, {cases} per entry");
    let contexts: Vec<&GpuContext> = defaults().map(|t| &t.ctx).collect();
    let mut failures = Vec::new();
    for (i, loss) in catalogue::all().enumerate() {
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..Config::default()
        };
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let first = std::cell::Cell::new(i % 4 == 0);
        let outcome = runner.run(&case(loss), |c| {
            let others = if first.replace(false) {
                contexts.len()
            } else {
                1
            };
            contexts[..others]
                .iter()
                .try_for_each(|ctx| check(ctx, loss, &c))
        });
        if let Err(e) = outcome {
            eprintln!("{}: {e}", loss.name());
            failures.push(loss.name());
        }
    }
    assert!(
        failures.is_empty(),
        "disagreements in {failures:?} (seed {seed})"
    );
}
