//! The row losses on f16 and bf16 tensors (issue 14): cross_entropy, nll and
//! sparse_categorical_cross_entropy (bf16 logits with int64 labels and f32 class weights above
//! all, probability targets, the gradient in place) and the row-statistics losses, against the
//! float64 twin on the same rounded inputs: the value within the f32 tolerance, per-row losses
//! and gradients within one ulp of their dtype (plus the f32 tolerance).

mod common;

use common::{defaults, seed, targets, triplet_distances, Target};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::half::{bf16, f16};
use gpu_loss::npy::{Array, Values};
use gpu_loss::{DType, LossError, ParamValue, Reduction, Tensor};
use rand::{Rng, SeedableRng};

const VALUE_TOL: f64 = 1e-5;
const NORM_TOL: f64 = 1e-5;
const ROW_TOL: f64 = 1e-4;

fn round(v: f32, d: DType) -> f32 {
    match d {
        DType::F16 => f16::from_f32(v).to_f32(),
        DType::BF16 => bf16::from_f32(v).to_f32(),
        _ => v,
    }
}

fn ulp(d: DType, w: f64) -> f64 {
    let e = w.abs().log2().floor();
    match d {
        DType::F16 => 2f64.powf(e.max(-14.0) - 10.0),
        DType::BF16 => 2f64.powf(e.max(-126.0) - 7.0),
        _ => 0.0,
    }
}

fn floats(shape: &[usize], v: &[f32]) -> Array {
    Array {
        shape: shape.to_vec(),
        values: Values::Float(v.iter().map(|&x| x as f64).collect()),
        dtype: "<f4".into(),
    }
}

/// One call: its loss, tensors (values already rounded to their dtypes) and options.
struct Case {
    loss: &'static str,
    n: usize,
    c: usize,
    x: (Vec<f32>, DType),
    /// Class indices, or probabilities of a dtype.
    labels: Option<(Vec<i64>, DType)>,
    probs: Option<(Vec<f32>, DType)>,
    weight: Option<(Vec<f32>, DType)>,
    params: Vec<(String, ParamValue)>,
    grad: Option<DType>,
    in_place: bool,
}

impl Case {
    fn new(loss: &'static str, n: usize, c: usize, xd: DType, seed: u64) -> Case {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let x: Vec<f32> = (0..n * c)
            .map(|_| match loss {
                // Log-probabilities, probabilities, logits.
                "nll" => round(-rng.random_range(0.01f32..5.0), xd),
                "sparse_categorical_cross_entropy" => round(rng.random_range(0.01f32..1.0), xd),
                _ => round(rng.random_range(-6.0f32..6.0), xd),
            })
            .collect();
        let labels = (0..n).map(|_| rng.random_range(0..c as i64)).collect();
        Case {
            loss,
            n,
            c,
            x: (x, xd),
            labels: Some((labels, DType::I64)),
            probs: None,
            weight: None,
            params: Vec::new(),
            grad: None,
            in_place: false,
        }
    }

    fn weight(mut self, d: DType, seed: u64) -> Case {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let w = (0..self.c)
            .map(|_| round(rng.random_range(0.1f32..2.0), d))
            .collect();
        self.weight = Some((w, d));
        self
    }

    fn probs(mut self, d: DType, seed: u64) -> Case {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut p = Vec::new();
        for _ in 0..self.n {
            let raw: Vec<f32> = (0..self.c).map(|_| rng.random::<f32>()).collect();
            let total: f32 = raw.iter().sum();
            p.extend(raw.iter().map(|v| round(v / total, d)));
        }
        self.probs = Some((p, d));
        self.labels = None;
        self
    }

    fn check(&self, t: &Target, reduction: Reduction) {
        let ctx = &t.ctx;
        let (n, c) = (self.n, self.c);
        let label = format!(
            "{} {n}x{c} {reduction} x {:?} weight {:?} probs {:?} grad {:?} in place {} params {:?} on {}",
            self.loss,
            self.x.1,
            self.weight.as_ref().map(|w| w.1),
            self.probs.as_ref().map(|p| p.1),
            self.grad,
            self.in_place,
            self.params,
            t.name
        );
        let x = ctx.upload_as(&self.x.0, &[n, c], self.x.1).unwrap();
        let target: Tensor = match (&self.labels, &self.probs) {
            (Some((l, DType::I32)), _) => {
                let l: Vec<i32> = l.iter().map(|&v| v as i32).collect();
                ctx.upload_i32(&l, &[n]).unwrap()
            }
            (Some((l, _)), _) => ctx.upload_i64(l, &[n]).unwrap(),
            (None, Some((p, d))) => ctx.upload_as(p, &[n, c], *d).unwrap(),
            (None, None) => unreachable!("a target"),
        };
        let w = (self.weight.as_ref()).map(|(w, d)| ctx.upload_as(w, &[c], *d).unwrap());
        let mut call = ctx.loss(self.loss).unwrap().input(&x).target(&target);
        call = call.reduction(reduction).with_elements();
        call = if self.in_place {
            call.grad_into(&x)
        } else {
            call.with_grad()
        };
        if let Some(w) = &w {
            call = call.weight(w);
        }
        if let Some(g) = self.grad {
            call = call.grad_dtype(g);
        }
        for (k, v) in &self.params {
            call = call.param(k, v.clone());
        }
        // A row must fit one storage binding (the small-binding profile's is 8 KiB), counted
        // as f32 whatever the dtypes.
        if 4 * c as u64 + 256 > ctx.tuning().max_binding_bytes {
            let e = call.run().unwrap_err();
            assert!(matches!(e, LossError::Limit { .. }), "{label}: {e}");
            return;
        }
        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));

        let mut tensors = vec![("input".to_string(), floats(&[n, c], &self.x.0))];
        tensors.push(match (&self.labels, &self.probs) {
            (Some((l, _)), _) => (
                "target".into(),
                Array {
                    shape: vec![n],
                    values: Values::Int(l.clone()),
                    dtype: "<i8".into(),
                },
            ),
            (_, Some((p, _))) => ("target".into(), floats(&[n, c], p)),
            _ => unreachable!("a target"),
        });
        if let Some((w, _)) = &self.weight {
            tensors.push(("weight".into(), floats(&[c], w)));
        }
        let want = evaluate_named(self.loss, &tensors, &self.params, reduction).unwrap();
        let rows = evaluate_named(self.loss, &tensors, &self.params, Reduction::None).unwrap();
        if let (Some(g), Some(w)) = (out.value, want.value) {
            if w.is_nan() {
                assert!(g.is_nan(), "{label}: {g} vs NaN");
            } else {
                let err = (g as f64 - w).abs() / w.abs().max(1e-30);
                assert!(err <= VALUE_TOL, "{label}: value {g} vs {w} ({err:.2e})");
            }
        }
        let dt = self.grad.unwrap_or(self.x.1);
        let want_rows = rows.out.expect("per-row losses").1;
        let want_grad = &want.grads[0].1;
        for (what, got, want, tol) in [
            ("row", out.elements.as_ref(), &want_rows, ROW_TOL),
            ("grad", out.grad.as_ref(), want_grad, NORM_TOL),
        ] {
            let got = got.unwrap_or_else(|| panic!("{label}: no {what}"));
            assert_eq!(got.dtype(), dt, "{label}: {what} dtype");
            let got = ctx.download(got).unwrap();
            let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
                // A gradient that cancels to ~0 (one class) against its terms' scale (class
                // weights up to 2, over n rows), as tests/rows.rs.
                let bound = ulp(dt, w) + tol * largest + 2e-7 / n.max(1) as f64;
                assert!(
                    (g as f64 - w).abs() <= bound || (g.is_nan() && w.is_nan()),
                    "{label}: {what}[{i}] = {g} vs {w} (tolerance {bound:.2e})"
                );
            }
        }
    }
}

const HALVES: [DType; 2] = [DType::BF16, DType::F16];

#[test]
fn cross_entropy_on_half_logits() {
    let seed = seed();
    for (i, &(n, c)) in [(1, 1), (3, 7), (5, 64), (17, 1001), (4, 4100)]
        .iter()
        .enumerate()
    {
        for (j, d) in HALVES.into_iter().enumerate() {
            let s = seed + (i * 4 + j) as u64;
            // The common case: int64 labels, f32 class weights, half gradient.
            let case = Case::new("cross_entropy", n, c, d, s).weight(DType::F32, s + 1);
            for t in targets() {
                case.check(t, Reduction::Mean);
            }
            // Half probability targets and class weights, smoothing and z-loss, f32 outputs.
            let mut case = Case::new("cross_entropy", n, c, d, s + 2)
                .probs(d, s + 3)
                .weight(d, s + 4);
            case.params = vec![
                ("label_smoothing".into(), ParamValue::Number(0.1)),
                ("z_loss".into(), ParamValue::Number(1e-3)),
            ];
            case.grad = Some(DType::F32);
            for t in defaults() {
                case.check(t, Reduction::Sum);
            }
            // int32 labels, softcap, the gradient over the logits.
            let mut case = Case::new("cross_entropy", n, c, d, s + 5);
            case.labels.as_mut().unwrap().1 = DType::I32;
            case.params = vec![("softcap".into(), ParamValue::Number(4.0))];
            case.in_place = true;
            for t in defaults() {
                case.check(t, Reduction::Mean);
            }
        }
    }
}

#[test]
fn nll_and_sparse_categorical_on_halves() {
    let seed = seed();
    for (i, &(n, c)) in [(1, 1), (3, 7), (9, 256)].iter().enumerate() {
        for (j, d) in HALVES.into_iter().enumerate() {
            let s = seed + (i * 4 + j) as u64;
            let case = Case::new("nll", n, c, d, s).weight(DType::BF16, s + 1);
            let sparse = Case::new("sparse_categorical_cross_entropy", n, c, d, s + 2);
            for t in defaults() {
                case.check(t, Reduction::Mean);
                sparse.check(t, Reduction::Sum);
            }
        }
    }
}

#[test]
fn a_vocabulary_of_bf16_logits() {
    let case = Case::new("cross_entropy", 6, 32768, DType::BF16, seed()).weight(DType::F32, 1);
    for t in defaults() {
        case.check(t, Reduction::Mean);
    }
}

#[test]
fn a_half_nan_logit_is_reported_with_its_index() {
    // Rows of 40 are read eight halves a load: a NaN in a step's second half too.
    for (t, (n, c)) in targets()
        .iter()
        .flat_map(|t| [(5, 37), (5, 40)].map(|s| (t, s)))
    {
        for (d, at) in [(DType::BF16, 2 * c + 5), (DType::F16, 4 * c + c - 1)] {
            let mut x = vec![0.5f32; n * c];
            x[at] = f32::NAN;
            let xt = t.ctx.upload_as(&x, &[n, c], d).unwrap();
            let y = t.ctx.upload_i64(&[0, 1, 2, 3, 4], &[n]).unwrap();
            let e = t
                .ctx
                .loss("cross_entropy")
                .unwrap()
                .input(&xt)
                .target(&y)
                .value();
            assert!(
                matches!(e, Err(LossError::NaN { tensor: "input", index, .. }) if index == at as u64),
                "{d:?} NaN at {at} on {}: {e:?}",
                t.name
            );
        }
    }
}

/// The row-statistics losses (js_div, cosine_similarity, dice, categorical_cross_entropy) on
/// f16 and bf16 rows: inputs drawn by the catalogue, rounded, against the twin.
#[test]
fn row_statistics_losses_on_halves() {
    use gpu_loss::catalogue::{self, Loss, RowKernel};
    use gpu_loss::sample::{named, Size};
    let seed = seed();
    let stats: Vec<_> = (catalogue::ROWS.iter())
        .filter(|l| l.kernel == RowKernel::Stats)
        .collect();
    let names: Vec<&str> = stats.iter().map(|l| l.name).collect();
    for want in [
        "js_div",
        "cosine_similarity",
        "dice",
        "categorical_cross_entropy",
    ] {
        assert!(
            names.contains(&want),
            "{want} is not a row-statistics loss: {names:?}"
        );
    }
    for (k, loss) in stats.into_iter().enumerate() {
        // Not one class: a cosine of 1-d rows is ±1, its gradient 0 up to f32 rounding of
        // terms far larger (tests/rows.rs judges that case against the terms' scale).
        for (i, &(n, c)) in [(1usize, 5usize), (3, 7), (9, 256)].iter().enumerate() {
            for (j, d) in HALVES.into_iter().enumerate() {
                let s = seed + (k * 16 + i * 2 + j) as u64;
                let mut tensors = named(Loss::Row(loss), Size::Matrix(n, c), s);
                for (_, a) in &mut tensors {
                    if let Values::Float(v) = &mut a.values {
                        v.iter_mut()
                            .for_each(|x| *x = f64::from(round(*x as f32, d)));
                    }
                }
                for t in defaults() {
                    check_rows(t, loss.name, &tensors, d, Reduction::Mean);
                }
            }
        }
    }
}

/// cosine_embedding and triplet_margin on f16 and bf16 rows, every tensor of one dtype and
/// mixed (f16 beside bf16 beside f32), each gradient in its tensor's dtype.
#[test]
fn row_tuple_losses_on_halves() {
    use gpu_loss::catalogue::{self, Loss, RowKernel};
    use gpu_loss::sample::{named, Size};
    let seed = seed();
    let tuples: Vec<_> = (catalogue::ROWS.iter())
        .filter(|l| l.kernel == RowKernel::Tuples)
        .collect();
    let names: Vec<&str> = tuples.iter().map(|l| l.name).collect();
    assert_eq!(names, ["cosine_embedding", "triplet_margin"]);
    let mixed = [DType::F16, DType::BF16, DType::F32];
    for (k, loss) in tuples.into_iter().enumerate() {
        for (i, &(n, c)) in [(1usize, 5usize), (3, 8), (9, 256)].iter().enumerate() {
            for (j, d) in HALVES.into_iter().enumerate() {
                let dtypes = if i == 1 { mixed } else { [d; 3] };
                let s = seed + (k * 16 + i * 2 + j) as u64;
                let mut tensors = named(Loss::Row(loss), Size::Matrix(n, c), s);
                for (t, (_, a)) in tensors.iter_mut().enumerate() {
                    if let Values::Float(v) = &mut a.values {
                        v.iter_mut()
                            .for_each(|x| *x = f64::from(round(*x as f32, dtypes[t % 3])));
                    }
                }
                for t in targets() {
                    check_mixed(t, loss.name, &tensors, &dtypes, Reduction::Mean);
                }
            }
        }
    }
}

/// `loss` on `tensors` (floats uploaded as `d`) with the gradient and per-row losses, against
/// the twin on the same values.
fn check_rows(t: &Target, loss: &str, tensors: &[(String, Array)], d: DType, r: Reduction) {
    check_mixed(t, loss, tensors, &[d], r)
}

/// [`check_rows`] with float tensor k uploaded as `dtypes[k % len]`: per-row losses in the
/// first tensor's dtype, every gradient in its tensor's.
fn check_mixed(
    t: &Target,
    loss: &str,
    tensors: &[(String, Array)],
    dtypes: &[DType],
    r: Reduction,
) {
    let ctx = &t.ctx;
    let dtype_of = |k: usize| dtypes[k % dtypes.len()];
    let label = format!("{loss} {:?} {dtypes:?} on {}", tensors[0].1.shape, t.name);
    let uploaded: Vec<(&str, Tensor)> = tensors
        .iter()
        .enumerate()
        .map(|(k, (name, a))| {
            let t = match &a.values {
                Values::Int(v) => ctx.upload_i64(v, &a.shape).unwrap(),
                Values::Float(_) => ctx.upload_as(&a.f32s(), &a.shape, dtype_of(k)).unwrap(),
            };
            (name.as_str(), t)
        })
        .collect();
    let mut call = ctx
        .loss(loss)
        .unwrap()
        .reduction(r)
        .with_grad()
        .with_elements();
    for (name, t) in &uploaded {
        call = call.tensor(name, t);
    }
    let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
    let want = evaluate_named(loss, tensors, &[], r).unwrap();
    let rows = evaluate_named(loss, tensors, &[], Reduction::None).unwrap();
    let want_rows = rows.out.expect("per-row losses").1;
    // A reduced value against its rows' total magnitude (signed cosines cancel), and
    // triplet_margin's against its distances: a difference of two, each rounded in f32, whose
    // error is relative to them, not to a loss near the hinge (as tests/rows.rs).
    let mass = want_rows.iter().map(|v| v.abs()).sum::<f64>() / want_rows.len().max(1) as f64;
    let terms = if loss == "triplet_margin" {
        mean_distances(tensors)
    } else {
        0.0
    };
    let (g, w) = (out.value.unwrap() as f64, want.value.unwrap());
    assert!(
        (g - w).abs() <= VALUE_TOL * w.abs().max(mass).max(terms) || (g.is_nan() && w.is_nan()),
        "{label}: value {g} vs {w}"
    );
    let first = want.grads[0].0;
    let grads = [(
        first,
        out.grad
            .as_ref()
            .unwrap_or_else(|| panic!("{label}: no grad")),
    )]
    .into_iter()
    .chain(out.other_grads.iter().map(|(n, t)| (*n, t)));
    let mut checked = vec![(
        "row",
        out.elements.as_ref().unwrap(),
        &want_rows,
        ROW_TOL,
        dtype_of(0),
    )];
    for (name, got) in grads {
        let (k, (_, want)) = (want.grads.iter().enumerate())
            .find(|(_, (n, _))| *n == name)
            .unwrap_or_else(|| panic!("{label}: no reference gradient of {name}"));
        let at = tensors.iter().position(|(n, _)| n == name).unwrap_or(k);
        checked.push((name, got, want, NORM_TOL, dtype_of(at)));
    }
    assert_eq!(checked.len(), 1 + want.grads.len(), "{label}: gradients");
    for (what, got, want, tol, d) in checked {
        assert_eq!(got.dtype(), d, "{label}: {what} dtype");
        let got = ctx.download(got).unwrap();
        let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
            let bound = ulp(d, w) + tol * largest + 1e-7;
            assert!(
                (g as f64 - w).abs() <= bound,
                "{label}: {what}[{i}] = {g} vs {w} (tolerance {bound:.2e})"
            );
        }
    }
}

/// triplet_margin's distances (p = 2, its default), averaged over the rows.
fn mean_distances(tensors: &[(String, Array)]) -> f64 {
    let floats = |name: &str| {
        let (_, a) = tensors.iter().find(|(n, _)| n == name).expect(name);
        let Values::Float(v) = &a.values else {
            panic!("{name}: floats")
        };
        (v.clone(), *a.shape.last().unwrap_or(&1))
    };
    let ((anchor, c), (positive, _), (negative, _)) =
        (floats("anchor"), floats("positive"), floats("negative"));
    let d = triplet_distances(&anchor, &positive, &negative, c, 2.0);
    d.iter().sum::<f64>() / d.len().max(1) as f64
}
