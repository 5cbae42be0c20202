//! The float64 reference for the row losses (`gpu_loss::cpu::rows`, LOSSES.md section C),
//! without a GPU: every gradient against central differences over shapes, reductions and
//! options; the worked examples; the conformance cases that PyTorch and Keras computed; and
//! the edges (labels out of range, ignored rows, empty inputs, infinite logits, clamps).

use gpu_loss::cpu::rows::{self, ClassTarget, CrossEntropy, RowResult};
use gpu_loss::{LossError, Reduction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Helpers

const SHAPES: [(usize, usize); 12] = [
    (1, 1),
    (1, 2),
    (1, 5),
    (1, 17),
    (3, 1),
    (3, 2),
    (3, 5),
    (3, 17),
    (7, 1),
    (7, 2),
    (7, 5),
    (7, 17),
];
const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Sum, Reduction::Mean];

fn uniform(rng: &mut StdRng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// Values of magnitude in [lo, hi) and random sign: away from 0, where a norm has its kink.
fn signed(rng: &mut StdRng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len)
        .map(|_| {
            let v = rng.random_range(lo..hi);
            if rng.random_bool(0.5) {
                v
            } else {
                -v
            }
        })
        .collect()
}

/// Rows of probabilities summing to 1, with some exact zeros when `zeros`.
fn prob_rows(rng: &mut StdRng, n: usize, c: usize, zeros: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * c);
    for _ in 0..n {
        let mut row: Vec<f64> = (0..c)
            .map(|_| {
                if zeros && c > 1 && rng.random_bool(0.3) {
                    0.0
                } else {
                    rng.random_range(0.05..1.0)
                }
            })
            .collect();
        if row.iter().all(|&v| v == 0.0) {
            row[0] = 1.0;
        }
        let s: f64 = row.iter().sum();
        out.extend(row.iter().map(|v| v / s));
    }
    out
}

fn labels(rng: &mut StdRng, n: usize, c: usize) -> Vec<i64> {
    (0..n).map(|_| rng.random_range(0..c as i64)).collect()
}

/// Replaces some labels by `ignored`, always keeping row 0 (so a mean is defined).
fn ignore_some(rng: &mut StdRng, labels: &mut [i64], ignored: i64) {
    for y in labels.iter_mut().skip(1) {
        if rng.random_bool(0.4) {
            *y = ignored;
        }
    }
}

/// The scalar the gradients are of: the reduced value, or for `none` the sum of the rows.
fn objective(r: &RowResult) -> f64 {
    r.value
        .unwrap_or_else(|| r.rows.as_ref().expect("rows for none").iter().sum())
}

fn log_softmax_rows(x: &[f64], c: usize) -> Vec<f64> {
    x.chunks(c)
        .flat_map(|row| {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            row.iter().map(move |v| v - lse).collect::<Vec<_>>()
        })
        .collect()
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1.0)
}

#[track_caller]
fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(close(got, want, tol), "{what}: got {got}, want {want}");
}

#[track_caller]
fn assert_all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w, tol), "{what}[{i}]: got {g}, want {w}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Gradients against central differences

/// |analytic − numeric| <= GRAD_TOL·max(1, |analytic|). A central difference with
/// h = 1e-6·max(1, |x|) is good to ~1e-8 on these smooth functions.
const GRAD_TOL: f64 = 1e-6;

#[derive(Default)]
struct GradReport {
    checked: usize,
    failures: Vec<String>,
}

impl GradReport {
    #[track_caller]
    fn assert_ok(&self, loss: &str) {
        assert!(self.checked > 0, "{loss}: nothing checked");
        assert!(
            self.failures.is_empty(),
            "{loss}: {} of {} derivatives wrong, first ones:\n{}",
            self.failures.len(),
            self.checked,
            self.failures[..self.failures.len().min(10)].join("\n")
        );
        println!("{loss}: {} derivatives checked", self.checked);
    }
}

/// Checks every entry of every prediction tensor of `inputs` (the gradient's subjects, in the
/// loss's order) against a central difference of `f`'s objective.
fn check_gradients(
    what: &str,
    inputs: &[Vec<f64>],
    f: &dyn Fn(&[Vec<f64>]) -> RowResult,
    report: &mut GradReport,
) {
    let base = f(inputs);
    assert!(
        objective(&base).is_finite(),
        "{what}: objective {}",
        objective(&base)
    );
    assert_eq!(base.grads.len(), inputs.len(), "{what}: gradient count");
    for (t, input) in inputs.iter().enumerate() {
        assert_eq!(
            base.grads[t].len(),
            input.len(),
            "{what}: gradient {t} length"
        );
        for (i, &x) in input.iter().enumerate() {
            let h = 1e-6 * x.abs().max(1.0);
            let at = |v: f64| {
                let mut moved = inputs.to_vec();
                moved[t][i] = v;
                objective(&f(&moved))
            };
            // Divide by the step actually taken, not by the h that x ± h rounds from.
            let (xp, xm) = (x + h, x - h);
            let numeric = (at(xp) - at(xm)) / (xp - xm);
            let g = base.grads[t][i];
            report.checked += 1;
            if !(numeric.is_finite() && (g - numeric).abs() <= GRAD_TOL * g.abs().max(1.0)) {
                report.failures.push(format!(
                    "{what}: tensor {t}, entry {i} (x = {x}): analytic {g}, numeric {numeric}"
                ));
            }
        }
    }
}

/// One cross_entropy setting: which options are on.
#[derive(Clone, Copy, Debug)]
struct CeSetting {
    weight: bool,
    /// Some rows get this label, which is also the ignore_index.
    ignore: Option<i64>,
    label_smoothing: f64,
    z_loss: f64,
    softcap: Option<f64>,
    probs: bool,
}

const CE_BASE: CeSetting = CeSetting {
    weight: false,
    ignore: None,
    label_smoothing: 0.0,
    z_loss: 0.0,
    softcap: None,
    probs: false,
};

const CE_SETTINGS: [CeSetting; 12] = [
    CE_BASE,
    CeSetting {
        weight: true,
        ..CE_BASE
    },
    CeSetting {
        ignore: Some(-100),
        ..CE_BASE
    },
    CeSetting {
        label_smoothing: 0.1,
        ..CE_BASE
    },
    CeSetting {
        z_loss: 0.05,
        ..CE_BASE
    },
    CeSetting {
        softcap: Some(2.5),
        ..CE_BASE
    },
    CeSetting {
        probs: true,
        ..CE_BASE
    },
    // An ignore_index inside [0, C): rows of class 0 drop out.
    CeSetting {
        weight: true,
        ignore: Some(0),
        ..CE_BASE
    },
    CeSetting {
        weight: true,
        label_smoothing: 0.3,
        ..CE_BASE
    },
    CeSetting {
        weight: true,
        ignore: Some(-100),
        label_smoothing: 0.2,
        z_loss: 0.01,
        softcap: Some(3.0),
        probs: false,
    },
    CeSetting {
        weight: true,
        probs: true,
        label_smoothing: 0.2,
        z_loss: 0.01,
        softcap: Some(3.0),
        ..CE_BASE
    },
    CeSetting {
        probs: true,
        z_loss: 0.05,
        label_smoothing: 0.1,
        ..CE_BASE
    },
];

#[test]
fn cross_entropy_gradients() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut report = GradReport::default();
    for s in CE_SETTINGS {
        for (n, c) in SHAPES {
            let x = uniform(&mut rng, n * c, -4.0, 4.0);
            let weight = s.weight.then(|| uniform(&mut rng, c, 0.2, 2.0));
            let probs = prob_rows(&mut rng, n, c, true);
            let mut idx = labels(&mut rng, n, c);
            if let Some(ig) = s.ignore {
                ignore_some(&mut rng, &mut idx, ig);
                if idx[0] == ig {
                    // Row 0 must stay: with ignore_index in range, give it another class
                    // (or, with one class, drop the setting for this shape).
                    if c == 1 {
                        continue;
                    }
                    idx[0] = (ig + 1) % c as i64;
                }
            }
            let p = CrossEntropy {
                ignore_index: s.ignore.unwrap_or(-100),
                label_smoothing: s.label_smoothing,
                z_loss: s.z_loss,
                softcap: s.softcap,
            };
            for reduction in REDUCTIONS {
                let what = format!("cross_entropy {s:?} [{n}, {c}] {reduction}");
                let f = |t: &[Vec<f64>]| {
                    let target = if s.probs {
                        ClassTarget::Probs(&probs)
                    } else {
                        ClassTarget::Index(&idx)
                    };
                    rows::cross_entropy(&t[0], c, target, weight.as_deref(), &p, reduction).unwrap()
                };
                check_gradients(&what, std::slice::from_ref(&x), &f, &mut report);
            }
        }
    }
    report.assert_ok("cross_entropy");
}

#[test]
fn nll_gradients() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut report = GradReport::default();
    for (weighted, ignore) in [(false, false), (true, false), (false, true), (true, true)] {
        for (n, c) in SHAPES {
            let x = uniform(&mut rng, n * c, -5.0, 0.0);
            let weight = weighted.then(|| uniform(&mut rng, c, 0.2, 2.0));
            let mut idx = labels(&mut rng, n, c);
            if ignore {
                ignore_some(&mut rng, &mut idx, -100);
            }
            for reduction in REDUCTIONS {
                let what = format!("nll weight {weighted} ignore {ignore} [{n}, {c}] {reduction}");
                let f = |t: &[Vec<f64>]| {
                    rows::nll(&t[0], c, &idx, weight.as_deref(), -100, reduction).unwrap()
                };
                check_gradients(&what, std::slice::from_ref(&x), &f, &mut report);
            }
        }
    }
    report.assert_ok("nll");
}

#[test]
fn keras_cross_entropy_gradients() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut report = GradReport::default();
    for (n, c) in SHAPES {
        // Unnormalised probabilities: Keras rescales each row, then clips; these stay well
        // inside the clip, so the rescale's slope is what is checked.
        let x = uniform(&mut rng, n * c, 0.05, 1.0);
        let soft = prob_rows(&mut rng, n, c, true);
        let idx = labels(&mut rng, n, c);
        for reduction in REDUCTIONS {
            for ls in [0.0, 0.2] {
                let what = format!("categorical_cross_entropy ls {ls} [{n}, {c}] {reduction}");
                let f = |t: &[Vec<f64>]| {
                    rows::categorical_cross_entropy(&t[0], c, &soft, ls, reduction).unwrap()
                };
                check_gradients(&what, std::slice::from_ref(&x), &f, &mut report);
            }
            for ignore_class in [None, Some(-1), Some(0)] {
                let mut idx = idx.clone();
                if let Some(ig) = ignore_class {
                    ignore_some(&mut rng, &mut idx, ig);
                }
                let what = format!(
                    "sparse_categorical_cross_entropy {ignore_class:?} [{n}, {c}] {reduction}"
                );
                let f = |t: &[Vec<f64>]| {
                    rows::sparse_categorical_cross_entropy(&t[0], c, &idx, ignore_class, reduction)
                        .unwrap()
                };
                check_gradients(&what, std::slice::from_ref(&x), &f, &mut report);
            }
        }
    }
    report.assert_ok("categorical and sparse_categorical_cross_entropy");
}

#[test]
fn divergence_gradients() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut report = GradReport::default();
    for (n, c) in SHAPES {
        let p = prob_rows(&mut rng, n, c, true);
        let log_p: Vec<f64> = p.iter().map(|v| v.ln()).collect(); // −inf where p = 0
        let log_q = uniform(&mut rng, n * c, -5.0, 0.0);
        let q = uniform(&mut rng, n * c, 0.01, 0.99);
        for reduction in REDUCTIONS.into_iter().chain([Reduction::BatchMean]) {
            for (log_input, log_target) in [(true, false), (true, true), (false, false)] {
                let x = if log_input { &log_q } else { &q };
                let t = if log_target { &log_p } else { &p };
                let what = format!(
                    "kl_div log_input {log_input} log_target {log_target} [{n}, {c}] {reduction}"
                );
                let f = |xs: &[Vec<f64>]| {
                    rows::kl_div(&xs[0], c, t, log_input, log_target, reduction).unwrap()
                };
                check_gradients(&what, std::slice::from_ref(x), &f, &mut report);
            }
            if reduction == Reduction::BatchMean {
                continue;
            }
            for beta in [0.5, 0.3, 0.9] {
                for log_input in [false, true] {
                    let x = if log_input { &log_q } else { &q };
                    let what =
                        format!("js_div beta {beta} log_input {log_input} [{n}, {c}] {reduction}");
                    let f = |xs: &[Vec<f64>]| {
                        rows::js_div(&xs[0], c, &p, beta, log_input, reduction).unwrap()
                    };
                    check_gradients(&what, std::slice::from_ref(x), &f, &mut report);
                }
            }
        }
    }
    report.assert_ok("kl_div and js_div");
}

#[test]
fn similarity_gradients() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut report = GradReport::default();
    for (n, c) in SHAPES {
        let x = signed(&mut rng, n * c, 0.1, 2.0);
        let y = signed(&mut rng, n * c, 0.1, 2.0);
        let soft = uniform(&mut rng, n * c, 0.0, 1.0);
        for reduction in REDUCTIONS {
            // eps = 10 puts every norm below it: the constant-denominator branch.
            for eps in [1e-7, 10.0] {
                let what = format!("cosine_similarity eps {eps} [{n}, {c}] {reduction}");
                let f =
                    |t: &[Vec<f64>]| rows::cosine_similarity(&t[0], c, &y, eps, reduction).unwrap();
                check_gradients(&what, std::slice::from_ref(&x), &f, &mut report);
            }
            let what = format!("dice [{n}, {c}] {reduction}");
            let p = uniform(&mut rng, n * c, 0.0, 1.0);
            let f = |t: &[Vec<f64>]| rows::dice(&t[0], c, &soft, reduction).unwrap();
            check_gradients(&what, &[p], &f, &mut report);
        }
    }
    report.assert_ok("cosine_similarity and dice");
}

/// cos as ATen computes it, to keep the draws away from the hinge cos = margin.
fn aten_cos(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(u, v)| u * v).sum();
    let m1: f64 = a.iter().map(|v| v * v).sum::<f64>() + 1e-12;
    let m2: f64 = b.iter().map(|v| v * v).sum::<f64>() + 1e-12;
    dot / (m1 * m2).sqrt()
}

#[test]
fn cosine_embedding_gradients() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut report = GradReport::default();
    for margin in [0.0, -0.2, 0.5] {
        for (n, c) in SHAPES {
            let y: Vec<f64> = (0..n)
                .map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 })
                .collect();
            // Redraw each y = −1 row until it is clear of the hinge cos = margin.
            let (mut x1, mut x2) = (Vec::new(), Vec::new());
            for &label in &y {
                loop {
                    let a = signed(&mut rng, c, 0.1, 2.0);
                    let b = signed(&mut rng, c, 0.1, 2.0);
                    if label == 1.0 || (aten_cos(&a, &b) - margin).abs() > 1e-3 {
                        x1.extend(a);
                        x2.extend(b);
                        break;
                    }
                }
            }
            for reduction in REDUCTIONS {
                let what = format!("cosine_embedding margin {margin} [{n}, {c}] {reduction}");
                let f = |t: &[Vec<f64>]| {
                    rows::cosine_embedding(&t[0], &t[1], c, &y, margin, reduction).unwrap()
                };
                check_gradients(&what, &[x1.clone(), x2.clone()], &f, &mut report);
            }
        }
    }
    report.assert_ok("cosine_embedding");
}

/// The differences u − v + eps of a pairwise distance, and its p-norm.
fn differences(u: &[f64], v: &[f64], eps: f64) -> Vec<f64> {
    u.iter().zip(v).map(|(a, b)| a - b + eps).collect()
}

fn p_norm(d: &[f64], p: f64) -> f64 {
    d.iter().map(|v| v.abs().powf(p)).sum::<f64>().powf(1.0 / p)
}

#[test]
fn triplet_margin_gradients() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut report = GradReport::default();
    let settings = [
        (1.0, 2.0, 1e-6, false),
        (1.0, 2.0, 1e-6, true),
        (0.2, 1.0, 1e-6, true),
        (0.5, 3.0, 0.1, false),
        (0.5, 1.5, 0.1, true),
        (0.3, 0.5, 1e-6, true),
    ];
    // Rows with the hinge off and on: both must be drawn.
    let mut hinge = [0usize; 2];
    for (margin, p, eps, swap) in settings {
        for (n, c) in SHAPES {
            // Redraw each row until it is clear of every kink: the hinge, the swap's min,
            // and (p <= 1) a zero entry of a difference.
            let (mut a, mut pos, mut neg) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..n {
                loop {
                    let ra = uniform(&mut rng, c, -1.0, 1.0);
                    let rp = uniform(&mut rng, c, -1.0, 1.0);
                    let rn = uniform(&mut rng, c, -1.0, 1.0);
                    let diffs = [
                        differences(&ra, &rp, eps),
                        differences(&ra, &rn, eps),
                        differences(&rp, &rn, eps),
                    ];
                    let [d_ap, d_an, d_pn] = diffs.each_ref().map(|d| p_norm(d, p));
                    let d_neg = if swap { d_an.min(d_pn) } else { d_an };
                    let v = margin + d_ap - d_neg;
                    let clear = v.abs() > 1e-3
                        && (!swap || (d_an - d_pn).abs() > 1e-3)
                        && diffs.iter().flatten().all(|x| x.abs() > 1e-3);
                    if clear {
                        hinge[usize::from(v > 0.0)] += 1;
                        a.extend(ra);
                        pos.extend(rp);
                        neg.extend(rn);
                        break;
                    }
                }
            }
            for reduction in REDUCTIONS {
                let what = format!(
                    "triplet_margin margin {margin} p {p} eps {eps} swap {swap} [{n}, {c}] {reduction}"
                );
                let f = |t: &[Vec<f64>]| {
                    rows::triplet_margin(&t[0], &t[1], &t[2], c, margin, p, eps, swap, reduction)
                        .unwrap()
                };
                check_gradients(
                    &what,
                    &[a.clone(), pos.clone(), neg.clone()],
                    &f,
                    &mut report,
                );
            }
        }
    }
    assert!(
        hinge[0] > 20 && hinge[1] > 20,
        "rows off and on the hinge: {hinge:?}"
    );
    report.assert_ok("triplet_margin");
}

// ---------------------------------------------------------------------------------------------
// 2. Definitions: each option's value against its formula, and the worked examples

#[test]
fn worked_examples() {
    let want = 0.3566749;
    let cce = rows::categorical_cross_entropy(
        &[0.7, 0.2, 0.1],
        3,
        &[1.0, 0.0, 0.0],
        0.0,
        Reduction::Mean,
    );
    assert_close(cce.unwrap().value.unwrap(), want, 1e-7, "categorical CE");
    let scce =
        rows::sparse_categorical_cross_entropy(&[0.7, 0.2, 0.1], 3, &[0], None, Reduction::Mean);
    assert_close(
        scce.unwrap().value.unwrap(),
        want,
        1e-7,
        "sparse categorical CE",
    );

    // KL(P ‖ Q) with input = log Q, target = P; one row, so sum = batchmean.
    let log_q = [0.5f64.ln(), 0.5f64.ln()];
    let p = [0.4, 0.6];
    for reduction in [Reduction::Sum, Reduction::BatchMean] {
        let r = rows::kl_div(&log_q, 2, &p, true, false, reduction).unwrap();
        assert_close(r.value.unwrap(), 0.0201355, 1e-6, "KL(P‖Q)");
    }
    // Keras's form on probabilities gives the same.
    let r = rows::kl_div(&[0.5, 0.5], 2, &p, false, false, Reduction::BatchMean).unwrap();
    assert_close(r.value.unwrap(), 0.0201355, 1e-6, "KL(P‖Q), Keras");

    // Triplet: d(a, p) = 0.5, d(a, n) = 1.0 exactly, once eps is inside the difference.
    let eps = 1e-6;
    let a = [0.1, -0.2];
    let pos = [a[0] + 0.3 + eps, a[1] + 0.4 + eps]; // a − p + eps = (−0.3, −0.4)
    let neg = [a[0] + 0.6 + eps, a[1] + 0.8 + eps]; // a − n + eps = (−0.6, −0.8)
    let r = rows::triplet_margin(&a, &pos, &neg, 2, 0.2, 2.0, eps, false, Reduction::Mean).unwrap();
    assert_eq!(r.value, Some(0.0));
    assert!(r.grads.iter().flatten().all(|&g| g == 0.0));
    // With margin 0.7 the hinge is active: 0.5 − 1.0 + 0.7.
    let r = rows::triplet_margin(&a, &pos, &neg, 2, 0.7, 2.0, eps, false, Reduction::Mean).unwrap();
    assert_close(r.value.unwrap(), 0.2, 1e-12, "triplet, active");
}

/// cross_entropy's options, each against the formula LOSSES.md gives for it.
#[test]
fn cross_entropy_definitions() {
    let mut rng = StdRng::seed_from_u64(8);
    let (n, c) = (6, 5);
    let x = uniform(&mut rng, n * c, -4.0, 4.0);
    let w = uniform(&mut rng, c, 0.2, 2.0);
    let mut y = labels(&mut rng, n, c);
    y[2] = -100;
    y[4] = -100;
    let kept: Vec<usize> = (0..n).filter(|&r| y[r] != -100).collect();
    let lp = log_softmax_rows(&x, c);
    let ce = |x: &[f64], p: &CrossEntropy, w: Option<&[f64]>, red| {
        rows::cross_entropy(x, c, ClassTarget::Index(&y), w, p, red).unwrap()
    };
    let none =
        |x: &[f64], p: &CrossEntropy, w: Option<&[f64]>| ce(x, p, w, Reduction::None).rows.unwrap();
    let base = CrossEntropy::default();

    // Weighted mean: Σ w_y·ℓ / Σ w_y over the rows kept (PyTorch); ignored rows are 0.
    let want: Vec<f64> = (0..n)
        .map(|r| {
            if y[r] == -100 {
                0.0
            } else {
                -w[y[r] as usize] * lp[r * c + y[r] as usize]
            }
        })
        .collect();
    assert_all_close(&none(&x, &base, Some(&w)), &want, 1e-12, "weighted rows");
    let w_kept: f64 = kept.iter().map(|&r| w[y[r] as usize]).sum();
    let mean = ce(&x, &base, Some(&w), Reduction::Mean).value.unwrap();
    assert_close(
        mean,
        want.iter().sum::<f64>() / w_kept,
        1e-12,
        "weighted mean",
    );

    // Label smoothing: (1 − ε)·w_y·nll + (ε/C)·Σ_c w_c·(−log p_c).
    let eps = 0.2;
    let p = CrossEntropy {
        label_smoothing: eps,
        ..base
    };
    let want: Vec<f64> = (0..n)
        .map(|r| {
            if y[r] == -100 {
                return 0.0;
            }
            let yr = y[r] as usize;
            let smooth: f64 = (0..c).map(|k| -w[k] * lp[r * c + k]).sum();
            (1.0 - eps) * -w[yr] * lp[r * c + yr] + eps / c as f64 * smooth
        })
        .collect();
    assert_all_close(&none(&x, &p, Some(&w)), &want, 1e-12, "smoothed rows");
    let mean = ce(&x, &p, Some(&w), Reduction::Mean).value.unwrap();
    assert_close(
        mean,
        want.iter().sum::<f64>() / w_kept,
        1e-12,
        "smoothed mean",
    );

    // z_loss adds z·lse² per kept row, unweighted; its mean is over the kept rows (Liger).
    let z = 0.03;
    let pz = CrossEntropy { z_loss: z, ..p };
    let with_z = none(&x, &pz, Some(&w));
    let lse: Vec<f64> = (0..n).map(|r| x[r * c] - lp[r * c]).collect();
    for r in 0..n {
        let add = if y[r] == -100 {
            0.0
        } else {
            z * lse[r] * lse[r]
        };
        assert_close(with_z[r] - want[r], add, 1e-10, "z-term");
    }
    let z_sum: f64 = kept.iter().map(|&r| z * lse[r] * lse[r]).sum();
    let mean = ce(&x, &pz, Some(&w), Reduction::Mean).value.unwrap();
    let want_mean = want.iter().sum::<f64>() / w_kept + z_sum / kept.len() as f64;
    assert_close(mean, want_mean, 1e-12, "mean with z_loss");
    let total = ce(&x, &pz, Some(&w), Reduction::Sum).value.unwrap();
    assert_close(
        total,
        want.iter().sum::<f64>() + z_sum,
        1e-12,
        "sum with z_loss",
    );

    // Softcap: the same loss on s·tanh(x/s).
    let s = 2.0;
    let capped: Vec<f64> = x.iter().map(|v| s * (v / s).tanh()).collect();
    let ps = CrossEntropy {
        softcap: Some(s),
        ..pz
    };
    for red in REDUCTIONS {
        let a = ce(&x, &ps, Some(&w), red);
        let b = ce(&capped, &pz, Some(&w), red);
        assert_eq!(a.value.map(f64::to_bits), b.value.map(f64::to_bits));
    }

    // Probability targets: one-hot rows give the index rows (no ignoring; mean over N).
    let y_all = labels(&mut rng, n, c);
    let mut one_hot = vec![0.0; n * c];
    for r in 0..n {
        one_hot[r * c + y_all[r] as usize] = 1.0;
    }
    for p in [base, p, pz, ps] {
        let a = rows::cross_entropy(
            &x,
            c,
            ClassTarget::Index(&y_all),
            Some(&w),
            &p,
            Reduction::None,
        )
        .unwrap();
        let b = rows::cross_entropy(
            &x,
            c,
            ClassTarget::Probs(&one_hot),
            Some(&w),
            &p,
            Reduction::None,
        )
        .unwrap();
        assert_all_close(
            b.rows.as_ref().unwrap(),
            a.rows.as_ref().unwrap(),
            1e-12,
            "one-hot rows",
        );
        assert_all_close(&b.grads[0], &a.grads[0], 1e-12, "one-hot gradient");
        let mean = rows::cross_entropy(
            &x,
            c,
            ClassTarget::Probs(&one_hot),
            Some(&w),
            &p,
            Reduction::Mean,
        )
        .unwrap()
        .value
        .unwrap();
        assert_close(
            mean,
            a.rows.unwrap().iter().sum::<f64>() / n as f64,
            1e-12,
            "probs mean over N",
        );
    }

    // nll on log_softmax is cross_entropy, for every reduction, weights and ignored rows.
    for red in REDUCTIONS {
        let a = ce(&x, &base, Some(&w), red);
        let b = rows::nll(&lp, c, &y, Some(&w), -100, red).unwrap();
        assert_eq!(a.value.is_some(), b.value.is_some());
        if let (Some(a), Some(b)) = (a.value, b.value) {
            assert_close(b, a, 1e-12, "nll value");
        }
        if let (Some(a), Some(b)) = (a.rows, b.rows) {
            assert_all_close(&b, &a, 1e-12, "nll rows");
        }
    }
}

#[test]
fn other_definitions() {
    // Sparse is categorical with one-hot targets.
    let mut rng = StdRng::seed_from_u64(9);
    let (n, c) = (5, 4);
    let x = uniform(&mut rng, n * c, 0.05, 1.0);
    let y = labels(&mut rng, n, c);
    let mut one_hot = vec![0.0; n * c];
    for r in 0..n {
        one_hot[r * c + y[r] as usize] = 1.0;
    }
    for red in REDUCTIONS {
        let a = rows::categorical_cross_entropy(&x, c, &one_hot, 0.0, red).unwrap();
        let b = rows::sparse_categorical_cross_entropy(&x, c, &y, None, red).unwrap();
        assert_eq!(
            a.value.map(f64::to_bits),
            b.value.map(f64::to_bits),
            "{red}"
        );
        assert_all_close(
            &b.grads[0],
            &a.grads[0],
            1e-14,
            "sparse = categorical gradient",
        );
    }
    // Label smoothing: y' = y·(1 − ls) + ls/C.
    let ls = 0.3;
    let smoothed: Vec<f64> = one_hot
        .iter()
        .map(|v| v * (1.0 - ls) + ls / c as f64)
        .collect();
    let a = rows::categorical_cross_entropy(&x, c, &one_hot, ls, Reduction::Sum).unwrap();
    let b = rows::categorical_cross_entropy(&x, c, &smoothed, 0.0, Reduction::Sum).unwrap();
    assert_close(a.value.unwrap(), b.value.unwrap(), 1e-14, "label smoothing");

    // Keras's masked mean: Σ over kept rows / (kept + 1e-7).
    let mut y_ig = y.clone();
    y_ig[1] = -1;
    y_ig[3] = -1;
    let r =
        rows::sparse_categorical_cross_entropy(&x, c, &y_ig, Some(-1), Reduction::None).unwrap();
    let rws = r.rows.unwrap();
    assert_eq!((rws[1], rws[3]), (0.0, 0.0));
    let mean =
        rows::sparse_categorical_cross_entropy(&x, c, &y_ig, Some(-1), Reduction::Mean).unwrap();
    assert_close(
        mean.value.unwrap(),
        rws.iter().sum::<f64>() / (3.0 + 1e-7),
        1e-14,
        "masked mean",
    );
    assert!(mean.grads[0][c..2 * c].iter().all(|&g| g == 0.0));

    // kl_div: a log target is its exp; reductions divide by N·C (mean) and N (batchmean).
    let p = prob_rows(&mut rng, n, c, true);
    let log_p: Vec<f64> = p.iter().map(|v| v.ln()).collect();
    let log_q = log_softmax_rows(&uniform(&mut rng, n * c, -2.0, 2.0), c);
    let terms = rows::kl_div(&log_q, c, &p, true, false, Reduction::None)
        .unwrap()
        .rows
        .unwrap();
    assert_eq!(terms.len(), n * c);
    for i in 0..n * c {
        let want = if p[i] > 0.0 {
            p[i] * (p[i].ln() - log_q[i])
        } else {
            0.0
        };
        assert_close(terms[i], want, 1e-14, "kl term");
    }
    let total: f64 = terms.iter().sum();
    let via_log = rows::kl_div(&log_q, c, &log_p, true, true, Reduction::Sum).unwrap();
    assert_close(via_log.value.unwrap(), total, 1e-12, "log_target");
    let mean = rows::kl_div(&log_q, c, &p, true, false, Reduction::Mean).unwrap();
    assert_close(
        mean.value.unwrap(),
        total / (n * c) as f64,
        1e-12,
        "kl mean",
    );
    let bm = rows::kl_div(&log_q, c, &p, true, false, Reduction::BatchMean).unwrap();
    assert_close(bm.value.unwrap(), total / n as f64, 1e-12, "kl batchmean");

    // js_div: symmetric at β = 0.5; log_input reads log Q; β = 0 gives 0.
    let q: Vec<f64> = log_q.iter().map(|v| v.exp()).collect();
    let a = rows::js_div(&q, c, &p, 0.5, false, Reduction::Sum)
        .unwrap()
        .value
        .unwrap();
    let b = rows::js_div(&p, c, &q, 0.5, false, Reduction::Sum)
        .unwrap()
        .value
        .unwrap();
    assert_close(a, b, 1e-12, "JS symmetric");
    let l = rows::js_div(&log_q, c, &p, 0.5, true, Reduction::Sum)
        .unwrap()
        .value
        .unwrap();
    assert_close(l, a, 1e-12, "JS log_input");
    assert!(a > 0.0 && a <= std::f64::consts::LN_2 * n as f64);
    let m: Vec<f64> = p.iter().zip(&q).map(|(p, q)| 0.5 * (p + q)).collect();
    let kl = |u: &[f64]| -> f64 {
        u.iter()
            .zip(&m)
            .map(|(u, m)| if *u > 0.0 { u * (u / m).ln() } else { 0.0 })
            .sum()
    };
    assert_close(a, 0.5 * kl(&p) + 0.5 * kl(&q), 1e-12, "JS formula");
    let zero = rows::js_div(&q, c, &p, 0.0, false, Reduction::Sum).unwrap();
    assert_close(zero.value.unwrap(), 0.0, 1e-15, "JS at β = 0");

    // cosine_similarity and cosine_embedding on known vectors.
    let r = rows::cosine_similarity(
        &[3.0, 4.0, 1.0, 0.0],
        2,
        &[4.0, 3.0, 0.0, 2.0],
        1e-7,
        Reduction::None,
    )
    .unwrap();
    assert_all_close(
        &r.rows.unwrap(),
        &[-24.0 / 25.0, 0.0],
        1e-15,
        "cosine_similarity",
    );
    // A zero row: max(‖x‖, ε) keeps it 0, with gradient −y/(ε·‖y‖).
    let r = rows::cosine_similarity(&[0.0, 0.0], 2, &[3.0, 4.0], 1e-7, Reduction::Sum).unwrap();
    assert_eq!(r.value, Some(0.0));
    assert_all_close(
        &r.grads[0],
        &[-0.6e7, -0.8e7],
        1e-12,
        "cosine_similarity at 0",
    );
    let (x1, x2) = ([1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]);
    let r = rows::cosine_embedding(&x1, &x2, 2, &[1.0, -1.0], -0.2, Reduction::None).unwrap();
    assert_all_close(&r.rows.unwrap(), &[1.0, 1.2], 1e-11, "cosine_embedding");
    let r = rows::cosine_embedding(&x1, &x2, 2, &[-1.0, 1.0], 0.0, Reduction::None).unwrap();
    assert_all_close(&r.rows.unwrap(), &[0.0, 0.0], 1e-11, "cosine_embedding");

    // dice: 1 − 2·Σxy / (Σx + Σy + 1e-7).
    let r = rows::dice(
        &[0.5, 0.5, 1.0, 0.0],
        2,
        &[1.0, 0.0, 1.0, 0.0],
        Reduction::None,
    )
    .unwrap();
    let want = [1.0 - 1.0 / (2.0 + 1e-7), 1.0 - 2.0 / (2.0 + 1e-7)];
    assert_all_close(&r.rows.unwrap(), &want, 1e-15, "dice");
}

// ---------------------------------------------------------------------------------------------
// 3. Conformance cases (PyTorch / Keras numbers)

const SECTION_C_CASES: [&str; 10] = [
    "categorical_cross_entropy_2",
    "cosine_embedding_2",
    "cosine_similarity_3",
    "cross_entropy_3",
    "dice_2",
    "js_div_1",
    "kl_div_2",
    "nll_0",
    "sparse_categorical_cross_entropy_1",
    "triplet_margin_2",
];

/// A tensor from a case folder: floats (widened to f64) or integer labels.
#[derive(Clone, Debug)]
enum Npy {
    Float(Vec<f64>, Vec<usize>),
    Int(Vec<i64>, Vec<usize>),
}

impl Npy {
    fn read(path: &Path) -> Npy {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let descr = npy.dtype().descr();
        fn all<T: npyz::Deserialize>(
            npy: npyz::NpyFile<impl std::io::Read>,
            path: &Path,
        ) -> Vec<T> {
            npy.into_vec()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
        match descr.trim_matches('\'') {
            "<f4" => Npy::Float(
                all::<f32>(npy, path).into_iter().map(f64::from).collect(),
                shape,
            ),
            "<f8" => Npy::Float(all(npy, path), shape),
            "<i8" => Npy::Int(all(npy, path), shape),
            "<i4" => Npy::Int(
                all::<i32>(npy, path).into_iter().map(i64::from).collect(),
                shape,
            ),
            other => panic!("{}: dtype {other}", path.display()),
        }
    }

    fn shape(&self) -> &[usize] {
        match self {
            Npy::Float(_, s) | Npy::Int(_, s) => s,
        }
    }

    /// As floats (labels widened, as cosine_embedding's ±1 targets need).
    fn floats(&self) -> Vec<f64> {
        match self {
            Npy::Float(v, _) => v.clone(),
            Npy::Int(v, _) => v.iter().map(|&y| y as f64).collect(),
        }
    }

    fn ints(&self) -> Vec<i64> {
        match self {
            Npy::Int(v, _) => v.clone(),
            Npy::Float(..) => panic!("expected integer labels"),
        }
    }
}

struct Case {
    id: String,
    dir: PathBuf,
    json: Value,
}

impl Case {
    fn tensor(&self, name: &str) -> Npy {
        let file = self.json["tensors"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no tensor `{name}`", self.id));
        Npy::read(&self.dir.join(file))
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.json["tensors"].get(name).is_some()
    }

    fn num(&self, name: &str, default: f64) -> f64 {
        match self.json["params"].get(name) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => f64::from(u8::from(*b)),
            Some(v) => v
                .as_f64()
                .unwrap_or_else(|| panic!("{}: {name} = {v}", self.id)),
        }
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        match self.json["params"].get(name) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(v) => v
                .as_f64()
                .map(|x| x != 0.0)
                .unwrap_or_else(|| panic!("{}: {name} = {v}", self.id)),
        }
    }

    /// Fails on a parameter this test would silently not pass on.
    fn only_params(&self, known: &[&str]) {
        if let Some(params) = self.json["params"].as_object() {
            for k in params.keys() {
                assert!(
                    known.contains(&k.as_str()),
                    "{}: unhandled parameter `{k}`",
                    self.id
                );
            }
        }
    }

    /// Runs the case's loss; returns the result and its gradients' names, in order.
    fn run(&self) -> (RowResult, Vec<&'static str>) {
        let loss = self.json["loss"].as_str().unwrap();
        let reduction = Reduction::parse(self.json["reduction"].as_str().unwrap()).unwrap();
        let first = ["input", "input1", "anchor"]
            .into_iter()
            .find(|n| self.has_tensor(n))
            .unwrap();
        let classes = *self.tensor(first).shape().last().unwrap();
        let input = || self.tensor("input").floats();
        let weight = self
            .has_tensor("weight")
            .then(|| self.tensor("weight").floats());
        let one = vec!["input"];
        let r = match loss {
            "cross_entropy" => {
                self.only_params(&["ignore_index", "label_smoothing", "z_loss", "softcap"]);
                let p = CrossEntropy {
                    ignore_index: self.num("ignore_index", -100.0) as i64,
                    label_smoothing: self.num("label_smoothing", 0.0),
                    z_loss: self.num("z_loss", 0.0),
                    softcap: self.json["params"].get("softcap").and_then(Value::as_f64),
                };
                let t = self.tensor("target");
                let (ints, floats);
                let target = match &t {
                    Npy::Int(..) => {
                        ints = t.ints();
                        ClassTarget::Index(&ints)
                    }
                    Npy::Float(..) => {
                        floats = t.floats();
                        ClassTarget::Probs(&floats)
                    }
                };
                rows::cross_entropy(&input(), classes, target, weight.as_deref(), &p, reduction)
            }
            "nll" => {
                self.only_params(&["ignore_index"]);
                let t = self.tensor("target").ints();
                let ig = self.num("ignore_index", -100.0) as i64;
                rows::nll(&input(), classes, &t, weight.as_deref(), ig, reduction)
            }
            "categorical_cross_entropy" => {
                self.only_params(&["label_smoothing"]);
                let t = self.tensor("target").floats();
                let ls = self.num("label_smoothing", 0.0);
                rows::categorical_cross_entropy(&input(), classes, &t, ls, reduction)
            }
            "sparse_categorical_cross_entropy" => {
                self.only_params(&["ignore_class"]);
                let t = self.tensor("target").ints();
                let ig = self.json["params"]
                    .get("ignore_class")
                    .and_then(Value::as_i64);
                rows::sparse_categorical_cross_entropy(&input(), classes, &t, ig, reduction)
            }
            "kl_div" => {
                self.only_params(&["log_input", "log_target"]);
                let t = self.tensor("target").floats();
                let (li, lt) = (self.flag("log_input", true), self.flag("log_target", false));
                rows::kl_div(&input(), classes, &t, li, lt, reduction)
            }
            "js_div" => {
                self.only_params(&["beta", "log_input"]);
                let t = self.tensor("target").floats();
                let (beta, li) = (self.num("beta", 0.5), self.flag("log_input", false));
                rows::js_div(&input(), classes, &t, beta, li, reduction)
            }
            "cosine_similarity" => {
                self.only_params(&["eps"]);
                let t = self.tensor("target").floats();
                rows::cosine_similarity(&input(), classes, &t, self.num("eps", 1e-7), reduction)
            }
            "cosine_embedding" => {
                self.only_params(&["margin"]);
                let (x1, x2) = (
                    self.tensor("input1").floats(),
                    self.tensor("input2").floats(),
                );
                let t = self.tensor("target").floats();
                let r = rows::cosine_embedding(
                    &x1,
                    &x2,
                    classes,
                    &t,
                    self.num("margin", 0.0),
                    reduction,
                );
                return (r.unwrap(), vec!["input1", "input2"]);
            }
            "triplet_margin" => {
                self.only_params(&["margin", "p", "eps", "swap"]);
                let [a, p, n] = ["anchor", "positive", "negative"].map(|t| self.tensor(t).floats());
                let r = rows::triplet_margin(
                    &a,
                    &p,
                    &n,
                    classes,
                    self.num("margin", 1.0),
                    self.num("p", 2.0),
                    self.num("eps", 1e-6),
                    self.flag("swap", false),
                    reduction,
                );
                return (r.unwrap(), vec!["anchor", "positive", "negative"]);
            }
            "dice" => {
                self.only_params(&[]);
                let t = self.tensor("target").floats();
                rows::dice(&input(), classes, &t, reduction)
            }
            other => panic!("{}: `{other}` is not a section C loss", self.id),
        };
        (r.unwrap_or_else(|e| panic!("{}: {e}", self.id)), one)
    }
}

/// err <= allowed, false for a NaN error.
fn within(err: f64, allowed: f64) -> bool {
    err <= allowed
}

fn rel_norm_err(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w) * (g - w)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// The reference's own bounds against the cases: float64 values to rounding, and results the
/// cases store as f32 to f32 rounding.
const TIGHT_VALUE: f64 = 1e-12;
const TIGHT_STORED: f64 = 1e-6;

#[test]
fn conformance_cases() {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/cases"
    ));
    if !root.is_dir() {
        println!(
            "conformance cases not found at {} (they live outside the repository): skipped",
            root.display()
        );
        return;
    }
    let mut failures = Vec::new();
    for id in SECTION_C_CASES {
        let dir = root.join(id);
        let text = std::fs::read_to_string(dir.join("case.json"))
            .unwrap_or_else(|e| panic!("{id}: case.json: {e}"));
        let case = Case {
            id: id.to_string(),
            dir,
            json: serde_json::from_str(&text).unwrap(),
        };
        let tol = &case.json["tol"];
        let (rel, abs, grad_rel) = (
            tol["rel"].as_f64().unwrap(),
            tol["abs"].as_f64().unwrap(),
            tol["grad_rel"].as_f64().unwrap(),
        );
        let expect = &case.json["expect"];
        let (got, grad_names) = case.run();
        let mut line = format!("{id}:");

        // Beyond the case's tolerance (made for f32 GPU results), the reference must give the
        // framework's float64 value to rounding, and its stored-as-f32 outputs and gradients
        // to f32 rounding: a convention off by an epsilon would show here.
        if let Some(want) = expect["value"].as_f64() {
            let v = got.value.unwrap_or(f64::NAN);
            let err = (v - want).abs();
            let allowed = abs + rel * want.abs();
            line += &format!(" value {v} vs {want}: |err| {err:.2e} (tol {allowed:.2e});");
            if !within(err, allowed) || !within(err, TIGHT_VALUE * want.abs()) {
                failures.push(format!(
                    "{id}: value {v}, want {want} (|err| {err:.2e}, tol {allowed:.2e})"
                ));
            }
        }
        if let Some(file) = expect["out"].as_str() {
            let want = Npy::read(&case.dir.join(file)).floats();
            let rows = got.rows.clone().unwrap_or_default();
            // run_cases.py allows ten times the value tolerance per element.
            let ratio = |allowed: &dyn Fn(f64) -> f64| {
                rows.iter()
                    .zip(&want)
                    .map(|(g, w)| (g - w).abs() / allowed(*w))
                    .map(|e| if e.is_nan() { f64::INFINITY } else { e })
                    .fold(0.0, f64::max)
            };
            let worst = ratio(&|w| 10.0 * (abs + rel * w.abs()));
            let worst_f32 = ratio(&|w| TIGHT_STORED * w.abs() + 1e-12);
            line += &format!(" out: worst |err|/tol {worst:.2e} (f32 rounding: {worst_f32:.2e});");
            if rows.len() != want.len() || !within(worst, 1.0) || !within(worst_f32, 1.0) {
                failures.push(format!(
                    "{id}: out (len {} vs {}), worst |err|/tol {worst:.2e}, \
                     worst |err|/(f32 rounding) {worst_f32:.2e}",
                    rows.len(),
                    want.len()
                ));
            }
        }
        let grads = expect["grads"].as_object().expect("grads");
        for (name, file) in grads {
            let i = grad_names
                .iter()
                .position(|n| n == name)
                .unwrap_or_else(|| panic!("{id}: no gradient `{name}`"));
            let want = Npy::read(&case.dir.join(file.as_str().unwrap())).floats();
            let err = rel_norm_err(&got.grads[i], &want);
            line += &format!(" grad {name} rel err {err:.2e} (tol {grad_rel:.0e});");
            let ok = within(err, grad_rel) && within(err, TIGHT_STORED);
            if got.grads[i].len() != want.len() || !ok {
                failures.push(format!(
                    "{id}: grad {name} rel err {err:.2e} (tol {grad_rel:.0e})"
                ));
            }
        }
        println!("{line}");
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Edges and errors

#[test]
fn labels_out_of_range_name_the_first_bad_row() {
    let x = [0.0; 12]; // [4, 3]
    let p = CrossEntropy::default();
    let y = [0, -100, 3, -1];
    let e =
        rows::cross_entropy(&x, 3, ClassTarget::Index(&y), None, &p, Reduction::Mean).unwrap_err();
    let want = |loss| LossError::LabelOutOfRange {
        loss,
        row: 2,
        label: 3,
        classes: 3,
    };
    assert_eq!(e, want("cross_entropy"));
    assert_eq!(
        rows::nll(&x, 3, &y, None, -100, Reduction::Sum).unwrap_err(),
        want("nll")
    );
    let y = [0, 2, 3, -1];
    assert_eq!(
        rows::sparse_categorical_cross_entropy(&x, 3, &y, Some(-1), Reduction::Sum).unwrap_err(),
        want("sparse_categorical_cross_entropy")
    );
    // −100 is only ignored when it is the ignore_index.
    let y = [0, -100, 1, 2];
    let e = rows::sparse_categorical_cross_entropy(&x, 3, &y, None, Reduction::Sum).unwrap_err();
    assert!(
        matches!(
            e,
            LossError::LabelOutOfRange {
                row: 1,
                label: -100,
                ..
            }
        ),
        "{e}"
    );
    let p = CrossEntropy {
        ignore_index: 1,
        ..p
    };
    let e =
        rows::cross_entropy(&x, 3, ClassTarget::Index(&y), None, &p, Reduction::Sum).unwrap_err();
    assert!(
        matches!(e, LossError::LabelOutOfRange { row: 1, .. }),
        "{e}"
    );
    // cosine_embedding takes ±1 only.
    let e =
        rows::cosine_embedding(&x, &x, 3, &[1.0, -1.0, 0.0, 1.0], 0.0, Reduction::Sum).unwrap_err();
    assert!(
        matches!(
            e,
            LossError::OutOfDomain {
                tensor: "target",
                index: 2,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn all_rows_ignored() {
    let x = [0.3, -1.0, 2.0, 0.5, 0.1, -0.2];
    let y = [-100, -100];
    let w = [0.5, 2.0, 1.0];
    for p in [
        CrossEntropy::default(),
        CrossEntropy {
            label_smoothing: 0.1,
            z_loss: 0.01,
            softcap: Some(5.0),
            ..CrossEntropy::default()
        },
    ] {
        for weight in [None, Some(&w[..])] {
            let r = rows::cross_entropy(&x, 3, ClassTarget::Index(&y), weight, &p, Reduction::Mean)
                .unwrap();
            assert!(
                r.value.unwrap().is_nan(),
                "mean over no rows: {:?}",
                r.value
            );
            assert_eq!(r.grads[0], vec![0.0; 6]);
            let r = rows::cross_entropy(&x, 3, ClassTarget::Index(&y), weight, &p, Reduction::Sum)
                .unwrap();
            assert_eq!(r.value, Some(0.0));
            let r = rows::cross_entropy(&x, 3, ClassTarget::Index(&y), weight, &p, Reduction::None)
                .unwrap();
            assert_eq!(r.rows, Some(vec![0.0, 0.0]));
        }
    }
    let r = rows::nll(&x, 3, &y, Some(&w), -100, Reduction::Mean).unwrap();
    assert!(r.value.unwrap().is_nan());
    assert_eq!(r.grads[0], vec![0.0; 6]);
    // Keras's masked mean divides by (0 + 1e-7): 0, not NaN.
    let probs = [0.2, 0.3, 0.5, 0.1, 0.1, 0.8];
    let r = rows::sparse_categorical_cross_entropy(&probs, 3, &[1, 1], Some(1), Reduction::Mean)
        .unwrap();
    assert_eq!(r.value, Some(0.0));
    assert_eq!(r.grads[0], vec![0.0; 6]);
}

#[test]
fn empty_inputs() {
    let e: [f64; 0] = [];
    let ei: [i64; 0] = [];
    let p = CrossEntropy::default();
    type Run = Box<dyn Fn(Reduction) -> RowResult>;
    let runs: Vec<(&str, usize, Run)> = vec![
        (
            "cross_entropy",
            1,
            Box::new(move |r| {
                rows::cross_entropy(&e, 4, ClassTarget::Index(&ei), None, &p, r).unwrap()
            }),
        ),
        (
            "cross_entropy probs",
            1,
            Box::new(move |r| {
                rows::cross_entropy(&e, 4, ClassTarget::Probs(&e), Some(&[1.0; 4]), &p, r).unwrap()
            }),
        ),
        (
            "nll",
            1,
            Box::new(move |r| rows::nll(&e, 4, &ei, None, -100, r).unwrap()),
        ),
        (
            "categorical_cross_entropy",
            1,
            Box::new(move |r| rows::categorical_cross_entropy(&e, 4, &e, 0.1, r).unwrap()),
        ),
        (
            "sparse_categorical_cross_entropy",
            1,
            Box::new(move |r| {
                rows::sparse_categorical_cross_entropy(&e, 4, &ei, Some(0), r).unwrap()
            }),
        ),
        (
            "kl_div",
            1,
            Box::new(move |r| rows::kl_div(&e, 4, &e, true, false, r).unwrap()),
        ),
        (
            "js_div",
            1,
            Box::new(move |r| rows::js_div(&e, 4, &e, 0.5, false, r).unwrap()),
        ),
        (
            "cosine_similarity",
            1,
            Box::new(move |r| rows::cosine_similarity(&e, 4, &e, 1e-7, r).unwrap()),
        ),
        (
            "cosine_embedding",
            2,
            Box::new(move |r| rows::cosine_embedding(&e, &e, 4, &e, 0.0, r).unwrap()),
        ),
        (
            "triplet_margin",
            3,
            Box::new(move |r| {
                rows::triplet_margin(&e, &e, &e, 4, 1.0, 2.0, 1e-6, true, r).unwrap()
            }),
        ),
        (
            "dice",
            1,
            Box::new(move |r| rows::dice(&e, 4, &e, r).unwrap()),
        ),
    ];
    for (name, grads, run) in &runs {
        let s = run(Reduction::Sum);
        assert_eq!(s.value, Some(0.0), "{name}: sum");
        assert_eq!(
            s.grads,
            vec![Vec::<f64>::new(); *grads],
            "{name}: gradients"
        );
        assert!(run(Reduction::Mean).value.unwrap().is_nan(), "{name}: mean");
        let none = run(Reduction::None);
        assert_eq!(
            (none.value, none.rows),
            (None, Some(vec![])),
            "{name}: none"
        );
    }
    let bm = rows::kl_div(&e, 4, &e, true, false, Reduction::BatchMean).unwrap();
    assert!(bm.value.unwrap().is_nan());
}

#[test]
fn extreme_logits_stay_finite() {
    let inf = f64::INFINITY;
    let none = CrossEntropy::default();
    let ce = |x: &[f64], y: &[i64], p: &CrossEntropy| {
        rows::cross_entropy(x, 3, ClassTarget::Index(y), None, p, Reduction::Mean).unwrap()
    };
    // ±1e4: the shifted logsumexp cannot overflow.
    let r = ce(&[1e4, -1e4, 0.0], &[0], &none);
    assert!(r.value.unwrap().abs() < 1e-300 && r.grads[0].iter().all(|g| g.is_finite()));
    let r = ce(&[1e4, -1e4, 0.0], &[1], &none);
    assert_close(r.value.unwrap(), 2e4, 1e-15, "logit gap of 2e4");
    assert_all_close(&r.grads[0], &[1.0, -1.0, 0.0], 1e-15, "saturated gradient");

    // −inf logits off the target: finite (PyTorch), their probability and gradient 0.
    let x = [-inf, 2.0, -inf, 1.0, -inf, 0.5];
    let y = [1, 0];
    let r =
        rows::cross_entropy(&x, 3, ClassTarget::Index(&y), None, &none, Reduction::None).unwrap();
    let rws = r.rows.unwrap();
    assert_close(rws[0], 0.0, 1e-15, "only finite logit");
    assert_close(
        rws[1],
        (1.0 + (-0.5f64).exp()).ln(),
        1e-15,
        "two finite logits",
    );
    assert!(r.grads[0].iter().all(|g| g.is_finite()));
    assert_eq!(
        (r.grads[0][0], r.grads[0][2], r.grads[0][4]),
        (0.0, 0.0, 0.0)
    );
    // ... with z_loss too; but label smoothing then averages −log 0 in: +inf, as PyTorch.
    let z = CrossEntropy {
        z_loss: 0.1,
        ..none
    };
    let r = ce(&x[..3], &[1], &z);
    assert_close(
        r.value.unwrap(),
        0.1 * 4.0,
        1e-15,
        "z_loss with −inf logits",
    );
    let ls = CrossEntropy {
        label_smoothing: 0.1,
        ..none
    };
    assert_eq!(ce(&x[..3], &[1], &ls).value, Some(inf));
    // A probability target of 0 on a −inf logit is 0·(−inf) = NaN in PyTorch's value.
    let r = rows::cross_entropy(
        &x[..3],
        3,
        ClassTarget::Probs(&[0.0, 1.0, 0.0]),
        None,
        &none,
        Reduction::Sum,
    )
    .unwrap();
    assert!(r.value.unwrap().is_nan());

    // Softcap maps ±inf and ±1e4 to ±s, with slope 0 there.
    let s = CrossEntropy {
        softcap: Some(30.0),
        label_smoothing: 0.1,
        z_loss: 1e-4,
        ..none
    };
    for x in [[1e4, -1e4, -inf], [inf, 0.0, -inf], [-inf, -1e4, 5.0]] {
        for y in 0..3 {
            let r = ce(&x, &[y], &s);
            assert!(
                r.value.unwrap().is_finite(),
                "{x:?} label {y}: {:?}",
                r.value
            );
            assert!(
                r.grads[0].iter().all(|g| g.is_finite()),
                "{x:?}: {:?}",
                r.grads
            );
        }
        let r = ce(&x, &[0], &s);
        for (k, &v) in x.iter().enumerate() {
            if v.abs() >= 1e4 {
                assert_eq!(r.grads[0][k], 0.0, "{x:?}[{k}]");
            }
        }
    }
}

#[test]
fn probability_clamps() {
    // Keras: a 0 entry is clipped to 1e-7 and takes no gradient from its log; an entry of 1
    // is clipped to 1 − 1e-7.
    let r =
        rows::categorical_cross_entropy(&[0.0, 0.5, 0.5], 3, &[1.0, 0.0, 0.0], 0.0, Reduction::Sum)
            .unwrap();
    assert_close(r.value.unwrap(), -(1e-7f64).ln(), 1e-15, "clipped 0");
    assert_eq!(r.grads[0], vec![0.0; 3]);
    let r = rows::sparse_categorical_cross_entropy(&[2.0, 0.0, 0.0], 3, &[0], None, Reduction::Sum)
        .unwrap();
    assert_close(r.value.unwrap(), -(1.0 - 1e-7f64).ln(), 1e-12, "clipped 1");
    assert_eq!(r.grads[0], vec![0.0; 3]);
    // Only the clipped entry's own log is cut: the rest still see the rescale.
    let r =
        rows::categorical_cross_entropy(&[0.0, 0.5, 0.5], 3, &[0.0, 1.0, 0.0], 0.0, Reduction::Sum)
            .unwrap();
    assert_close(r.value.unwrap(), 2f64.ln(), 1e-15, "unclipped entry");
    // q = x/s, loss −log q_1: d/dx_j = (δ_1j − q_1)·(−1/q_1)/s with s = 1.
    assert_all_close(&r.grads[0], &[1.0, -1.0, 1.0], 1e-15, "rescale gradient");

    // kl_div, Keras form: x and y clipped to [1e-7, 1]; at x = 1 JAX's clip splits the slope.
    let r = rows::kl_div(
        &[0.0, 1.0, 0.5],
        3,
        &[0.5, 0.5, 0.0],
        false,
        false,
        Reduction::None,
    )
    .unwrap();
    let t = r.rows.unwrap();
    assert_close(t[0], 0.5 * (0.5f64 / 1e-7).ln(), 1e-15, "x clipped to 1e-7");
    assert_close(t[1], 0.5 * 0.5f64.ln(), 1e-15, "x = 1");
    assert_close(
        t[2],
        1e-7 * (1e-7f64 / 0.5).ln(),
        1e-15,
        "y clipped to 1e-7",
    );
    assert_all_close(
        &r.grads[0],
        &[0.0, -0.25, -1e-7 / 0.5],
        1e-15,
        "clip slopes",
    );

    // kl_div, PyTorch form: y = 0 gives 0 (and slope 0), whatever x, even −inf.
    let r = rows::kl_div(
        &[-f64::INFINITY, -1.0],
        2,
        &[0.0, 0.0],
        true,
        false,
        Reduction::Sum,
    )
    .unwrap();
    assert_eq!(r.value, Some(0.0));
    assert_eq!(r.grads[0], vec![0.0, 0.0]);
    let r = rows::kl_div(
        &[-1.0, -1.0],
        2,
        &[-f64::INFINITY, 0.0],
        true,
        true,
        Reduction::Sum,
    )
    .unwrap();
    assert_close(r.value.unwrap(), 1.0, 1e-15, "log target −inf is y = 0");

    // js_div with zeros: 0·log 0 = 0, finite.
    let r = rows::js_div(&[0.0, 1.0], 2, &[1.0, 0.0], 0.5, false, Reduction::Sum).unwrap();
    assert_close(
        r.value.unwrap(),
        std::f64::consts::LN_2,
        1e-15,
        "disjoint supports",
    );
    assert_eq!(r.grads[0][0], f64::NEG_INFINITY, "slope at Q = 0 < M");
    let r = rows::js_div(
        &[f64::NEG_INFINITY, 0.0],
        2,
        &[1.0, 0.0],
        0.5,
        true,
        Reduction::Sum,
    )
    .unwrap();
    assert_close(
        r.value.unwrap(),
        std::f64::consts::LN_2,
        1e-15,
        "log Q = −inf",
    );
    assert_eq!(r.grads[0][0], 0.0);
}

#[test]
fn refusals() {
    let x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    let p = CrossEntropy::default();
    // batchmean is kl_div's alone.
    let e = rows::dice(&x, 3, &x, Reduction::BatchMean).unwrap_err();
    assert!(
        matches!(e, LossError::Reduction { loss: "dice", .. }),
        "{e}"
    );
    let e = rows::cross_entropy(
        &x,
        3,
        ClassTarget::Index(&[0, 1]),
        None,
        &p,
        Reduction::BatchMean,
    )
    .unwrap_err();
    assert!(matches!(e, LossError::Reduction { .. }), "{e}");
    assert!(rows::kl_div(&x, 3, &x, true, false, Reduction::BatchMean).is_ok());

    // Shapes.
    let shape = |e: LossError| match e {
        LossError::ShapeMismatch { tensor, .. } => tensor,
        other => panic!("not a shape error: {other}"),
    };
    assert_eq!(
        shape(rows::dice(&x, 4, &x, Reduction::Sum).unwrap_err()),
        "input"
    );
    assert_eq!(
        shape(rows::dice(&x, 0, &x, Reduction::Sum).unwrap_err()),
        "input"
    );
    assert_eq!(
        shape(rows::dice(&x, 3, &x[..3], Reduction::Sum).unwrap_err()),
        "target"
    );
    let e =
        rows::cross_entropy(&x, 3, ClassTarget::Index(&[0]), None, &p, Reduction::Sum).unwrap_err();
    assert_eq!(shape(e), "target");
    let e = rows::cross_entropy(&x, 3, ClassTarget::Probs(&x[..4]), None, &p, Reduction::Sum)
        .unwrap_err();
    assert_eq!(shape(e), "target");
    let e = rows::cross_entropy(
        &x,
        3,
        ClassTarget::Index(&[0, 1]),
        Some(&[1.0, 1.0]),
        &p,
        Reduction::Sum,
    )
    .unwrap_err();
    assert_eq!(shape(e), "weight");
    let e = rows::nll(&x, 3, &[0, 1], Some(&[1.0; 4]), -100, Reduction::Sum).unwrap_err();
    assert_eq!(shape(e), "weight");
    let e = rows::cosine_embedding(&x, &x[..3], 3, &[1.0, 1.0], 0.0, Reduction::Sum).unwrap_err();
    assert_eq!(shape(e), "input2");
    let e = rows::cosine_embedding(&x, &x, 3, &[1.0], 0.0, Reduction::Sum).unwrap_err();
    assert_eq!(shape(e), "target");
    let e = rows::triplet_margin(&x, &x, &x[..3], 3, 1.0, 2.0, 1e-6, false, Reduction::Sum)
        .unwrap_err();
    assert_eq!(shape(e), "negative");

    // Parameters.
    let bad = |e: LossError| match e {
        LossError::InvalidParam { name, .. } => name,
        other => panic!("not a parameter error: {other}"),
    };
    let idx = ClassTarget::Index(&[0, 1]);
    for (q, name) in [
        (
            CrossEntropy {
                label_smoothing: 1.5,
                ..p
            },
            "label_smoothing",
        ),
        (
            CrossEntropy {
                z_loss: f64::NAN,
                ..p
            },
            "z_loss",
        ),
        (
            CrossEntropy {
                softcap: Some(0.0),
                ..p
            },
            "softcap",
        ),
    ] {
        assert_eq!(
            bad(rows::cross_entropy(&x, 3, idx, None, &q, Reduction::Sum).unwrap_err()),
            name
        );
    }
    assert_eq!(
        bad(rows::js_div(&x, 3, &x, 1.5, false, Reduction::Sum).unwrap_err()),
        "beta"
    );
    let e = rows::triplet_margin(&x, &x, &x, 3, 1.0, 0.0, 1e-6, false, Reduction::Sum).unwrap_err();
    assert_eq!(bad(e), "p");

    // NaN anywhere: the first index of the first tensor holding one.
    let mut xn = x;
    xn[4] = f64::NAN;
    let e = rows::dice(&x, 3, &xn, Reduction::Sum).unwrap_err();
    assert_eq!(
        e,
        LossError::NaN {
            loss: "dice",
            tensor: "target",
            index: 4
        }
    );
    let e =
        rows::triplet_margin(&x, &xn, &xn, 3, 1.0, 2.0, 1e-6, false, Reduction::Sum).unwrap_err();
    assert_eq!(
        e,
        LossError::NaN {
            loss: "triplet_margin",
            tensor: "positive",
            index: 4
        }
    );
    let e = rows::cross_entropy(&x, 3, idx, Some(&[1.0, f64::NAN, 1.0]), &p, Reduction::Sum)
        .unwrap_err();
    assert_eq!(
        e,
        LossError::NaN {
            loss: "cross_entropy",
            tensor: "weight",
            index: 1
        }
    );
}
