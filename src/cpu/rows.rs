//! Float64 references for the row losses of LOSSES.md section C: one public function per loss,
//! each on row-major [N, C] tensors (leading axes already flattened, C = `classes`), returning
//! the reduced value or the per-row losses, and the gradient of the reduced loss with respect
//! to each prediction tensor.
//!
//! Each follows the framework LOSSES.md names, edges included: PyTorch's weighted mean and
//! ignore_index, Liger-Kernel's z_loss and softcap, Keras's rescale-then-clip and its masked
//! mean, ATen's 1e-12 in cosine_embedding and the eps inside pairwise_distance. Gradients are
//! written out by hand; tests/rows_reference.rs checks them against central differences and
//! against the frameworks' own numbers (the conformance cases).
//!
//! Checks, in order: the reduction, the shapes, the parameters, NaN in any tensor (first
//! index), then the labels (first bad row).

use super::Compensated;
use crate::error::{LossError, Result};
use crate::params::Reduction;

/// Keras's backend.epsilon(): its probability clip and the guard of its masked mean.
const KERAS_EPSILON: f64 = 1e-7;
/// What ATen adds to each squared norm in cosine_embedding_loss.
const ATEN_COSINE_EPSILON: f64 = 1e-12;

/// What a row loss computes on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct RowResult {
    /// The reduced value; None for `Reduction::None`.
    pub value: Option<f64>,
    /// For `Reduction::None`: the per-row losses [N] (kl_div: the per-element terms [N·C]).
    pub rows: Option<Vec<f64>>,
    /// The gradient of the reduced loss (for `none`: of the sum of the unreduced losses) with
    /// respect to each prediction tensor, each of that tensor's length, in the order the loss
    /// names them: [input] for most; [input1, input2] for cosine_embedding;
    /// [anchor, positive, negative] for triplet_margin.
    pub grads: Vec<Vec<f64>>,
}

/// cross_entropy's target: class indices [N], or probabilities [N, C].
#[derive(Clone, Copy, Debug)]
pub enum ClassTarget<'a> {
    Index(&'a [i64]),
    Probs(&'a [f64]),
}

/// cross_entropy's parameters (LOSSES.md defaults through `Default`).
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropy {
    pub ignore_index: i64,
    pub label_smoothing: f64,
    pub z_loss: f64,
    pub softcap: Option<f64>,
}

impl Default for CrossEntropy {
    fn default() -> Self {
        CrossEntropy {
            ignore_index: -100,
            label_smoothing: 0.0,
            z_loss: 0.0,
            softcap: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks and reductions shared by every loss

/// The row count N of an [N, C] tensor of `len` values.
fn row_count(
    loss: &'static str,
    tensor: &'static str,
    len: usize,
    classes: usize,
) -> Result<usize> {
    if classes == 0 || !len.is_multiple_of(classes) {
        return Err(LossError::ShapeMismatch {
            loss,
            tensor,
            got: vec![len],
            expected: if classes == 0 {
                "[N, C] with C >= 1".into()
            } else {
                format!("[N, {classes}]: a multiple of {classes} values")
            },
        });
    }
    Ok(len / classes)
}

fn expect_len(
    loss: &'static str,
    tensor: &'static str,
    len: usize,
    want: usize,
    expected: impl FnOnce() -> String,
) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(LossError::ShapeMismatch {
            loss,
            tensor,
            got: vec![len],
            expected: expected(),
        })
    }
}

/// A tensor with one value per row.
fn per_row(n: usize) -> impl FnOnce() -> String {
    move || format!("[{n}] (one value per row of the input)")
}

/// A tensor shaped like the [N, C] input.
fn like_input(n: usize, c: usize) -> impl FnOnce() -> String {
    move || format!("[{n}, {c}] ({} values, like the input)", n * c)
}

/// What a parameter of these losses may be.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Finite,
    Positive,
    NonNegative,
    /// In [0, 1].
    Fraction,
}

fn param(loss: &'static str, name: &'static str, value: f64, rule: Rule) -> Result<()> {
    let (ok, text) = match rule {
        Rule::Finite => (value.is_finite(), "a finite number"),
        Rule::Positive => (value.is_finite() && value > 0.0, "a finite number > 0"),
        Rule::NonNegative => (value.is_finite() && value >= 0.0, "a finite number >= 0"),
        Rule::Fraction => ((0.0..=1.0).contains(&value), "a number in [0, 1]"),
    };
    if ok {
        Ok(())
    } else {
        Err(LossError::InvalidParam {
            loss,
            name,
            value: value.to_string(),
            rule: text,
        })
    }
}

pub(crate) fn no_nan(loss: &'static str, tensor: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| x.is_nan()) {
        Some(i) => Err(LossError::NaN {
            loss,
            tensor,
            index: i as u64,
        }),
        None => Ok(()),
    }
}

/// Every label in [0, C) or equal to `ignored`; the error names the first row that is not.
fn check_labels(
    loss: &'static str,
    labels: &[i64],
    classes: usize,
    ignored: Option<i64>,
) -> Result<()> {
    let bad = labels
        .iter()
        .position(|&y| Some(y) != ignored && !(0..classes as i64).contains(&y));
    match bad {
        Some(row) => Err(LossError::LabelOutOfRange {
            loss,
            row: row as u64,
            label: labels[row],
            classes,
        }),
        None => Ok(()),
    }
}

fn no_batchmean(loss: &'static str, reduction: Reduction) -> Result<()> {
    if reduction == Reduction::BatchMean {
        Err(LossError::Reduction {
            loss,
            reduction: reduction.to_string(),
            why: "batchmean is kl_div's alone",
        })
    } else {
        Ok(())
    }
}

/// A compensated sum: the reference's sums are exact to a few ulp.
pub(crate) fn sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut s = Compensated::default();
    values.into_iter().for_each(|x| s.add(x));
    s.value()
}

/// How the per-row losses combine: `mean` (and `batchmean`) divide their sum by `divisor`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reducer {
    reduction: Reduction,
    divisor: f64,
}

impl Reducer {
    pub(crate) fn new(reduction: Reduction, divisor: f64) -> Self {
        Reducer { reduction, divisor }
    }

    /// The factor the reduction puts on each row's gradient.
    pub(crate) fn scale(self) -> f64 {
        match self.reduction {
            Reduction::Mean | Reduction::BatchMean => 1.0 / self.divisor,
            Reduction::None | Reduction::Sum => 1.0,
        }
    }

    /// With an empty input the sum is 0 and the mean 0/0 = NaN, as LOSSES.md asks.
    pub(crate) fn finish(self, rows: Vec<f64>, grads: Vec<Vec<f64>>) -> RowResult {
        let value = match self.reduction {
            Reduction::None => None,
            Reduction::Sum => Some(sum(rows.iter().copied())),
            Reduction::Mean | Reduction::BatchMean => {
                Some(sum(rows.iter().copied()) / self.divisor)
            }
        };
        RowResult {
            value,
            rows: (self.reduction == Reduction::None).then_some(rows),
            grads,
        }
    }
}

/// d clip(v, lo, hi) / dv as JAX's clip (maximum, then minimum) gives it, which is what
/// Keras's autodiff sees: 1 inside, 0 outside, and 1/2 at a bound (lax.max/min split ties).
fn clip_slope(v: f64, lo: f64, hi: f64) -> f64 {
    let at_lo = if v > lo {
        1.0
    } else if v == lo {
        0.5
    } else {
        0.0
    };
    let m = v.max(lo);
    let at_hi = if m < hi {
        1.0
    } else if m == hi {
        0.5
    } else {
        0.0
    };
    at_lo * at_hi
}

/// log Σ exp(z), shifted by the row maximum so that large logits cannot overflow.
fn log_sum_exp(z: &[f64]) -> f64 {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return m;
    }
    m + log_sum_rest(z, m)
}

/// log Σ_k exp(z_k − m) for m = max z, as log1p of the sum over all but one maximal entry:
/// a confident row's log-softmax is far below ulp(lse), and lse − z_y would lose it.
fn log_sum_rest(z: &[f64], m: f64) -> f64 {
    let top = z.iter().position(|&v| v == m).unwrap_or(0);
    let mut s = Compensated::default();
    z.iter()
        .enumerate()
        .filter(|&(k, _)| k != top)
        .for_each(|(_, &v)| s.add((v - m).exp()));
    s.value().ln_1p()
}

/// log_softmax(z), each entry as (z_k − max) − log Σ exp(z − max), without cancellation.
fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return z.iter().map(|&v| v - log_sum_exp(z)).collect();
    }
    let rest = log_sum_rest(z, m);
    z.iter().map(|&v| (v - m) - rest).collect()
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy family

/// PyTorch CrossEntropyLoss with Liger-Kernel's z_loss and softcap.
///
/// Index targets: ℓ_n = (1−ε)·w_y·(lse − z_y) + (ε/C)·Σ_c w_c·(lse − z_c) + z_loss·lse² on the
/// softcapped logits z; ignored rows give 0. `mean` is PyTorch's weighted mean for the
/// cross-entropy part (Σ over rows / Σ w_y over kept rows) plus Liger's unweighted mean of
/// the z-terms over kept rows. Probability targets: ℓ_n = −Σ_c w_c·t'_c·log_softmax(z)_c +
/// z_loss·lse², t' = (1−ε)·t + ε/C, and `mean` divides by N (PyTorch).
pub fn cross_entropy(
    x: &[f64],
    classes: usize,
    target: ClassTarget<'_>,
    weight: Option<&[f64]>,
    p: &CrossEntropy,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "cross_entropy";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    match target {
        ClassTarget::Index(t) => expect_len(LOSS, "target", t.len(), n, per_row(n))?,
        ClassTarget::Probs(t) => expect_len(LOSS, "target", t.len(), n * c, like_input(n, c))?,
    }
    if let Some(w) = weight {
        expect_len(LOSS, "weight", w.len(), c, || {
            format!("[{c}] (one per class)")
        })?;
    }
    let eps = p.label_smoothing;
    param(LOSS, "label_smoothing", eps, Rule::Fraction)?;
    param(LOSS, "z_loss", p.z_loss, Rule::Finite)?;
    if let Some(s) = p.softcap {
        param(LOSS, "softcap", s, Rule::Positive)?;
    }
    no_nan(LOSS, "input", x)?;
    if let ClassTarget::Probs(t) = target {
        no_nan(LOSS, "target", t)?;
    }
    if let Some(w) = weight {
        no_nan(LOSS, "weight", w)?;
    }
    if let ClassTarget::Index(t) = target {
        check_labels(LOSS, t, c, Some(p.ignore_index))?;
    }

    let w = |k: usize| weight.map_or(1.0, |w| w[k]);
    let w_all = sum((0..c).map(w));
    let smooth = eps / c as f64;
    let kept = |r: usize| match target {
        ClassTarget::Index(t) => t[r] != p.ignore_index,
        ClassTarget::Probs(_) => true,
    };

    // The mean's divisors, known before any logit is read: one for the cross-entropy part,
    // one for the z-terms.
    let (ce_divisor, z_divisor) = match target {
        ClassTarget::Index(t) => {
            let rows: Vec<usize> = (0..n).filter(|&r| kept(r)).collect();
            let w_kept = sum(rows.iter().map(|&r| w(t[r] as usize)));
            (w_kept, rows.len() as f64)
        }
        ClassTarget::Probs(_) => (n as f64, n as f64),
    };
    let (ce_scale, z_scale) = if reduction == Reduction::Mean {
        (1.0 / ce_divisor, 1.0 / z_divisor)
    } else {
        (1.0, 1.0)
    };

    let mut ce_rows = vec![0.0; n];
    let mut z_rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for r in (0..n).filter(|&r| kept(r)) {
        let row = &x[r * c..(r + 1) * c];
        // Softcap: z = s·tanh(x/s), whose slope 1 − tanh² carries into the gradient.
        let (z, dz): (Vec<f64>, Vec<f64>) = match p.softcap {
            Some(s) => row
                .iter()
                .map(|&v| {
                    let t = (v / s).tanh();
                    (s * t, 1.0 - t * t)
                })
                .unzip(),
            None => (row.to_vec(), vec![1.0; c]),
        };
        let lse = log_sum_exp(&z);
        let log_p = log_softmax(&z);
        let prob: Vec<f64> = log_p.iter().map(|&v| v.exp()).collect();

        // d ce_n / d z_k, before the reduction's scale.
        let d_ce: Vec<f64> = match target {
            ClassTarget::Index(t) => {
                let y = t[r] as usize;
                let mut ce = (1.0 - eps) * w(y) * -log_p[y];
                // PyTorch adds the smoothing term only when ε > 0: with ε = 0, a −inf logit
                // must not turn 0·inf into NaN.
                if eps > 0.0 {
                    let terms: Vec<f64> = (0..c).map(|k| w(k) * -log_p[k]).collect();
                    ce += smooth * sum(terms.iter().copied());
                }
                ce_rows[r] = ce;
                (0..c)
                    .map(|k| {
                        // p_y − 1 as expm1: it is tiny for a confident row.
                        let p_minus_hot = if k == y { log_p[k].exp_m1() } else { prob[k] };
                        let mut g = (1.0 - eps) * w(y) * p_minus_hot;
                        if eps > 0.0 {
                            g += smooth * (w_all * prob[k] - w(k));
                        }
                        g
                    })
                    .collect()
            }
            ClassTarget::Probs(t) => {
                let t = &t[r * c..(r + 1) * c];
                let t_s: Vec<f64> = if eps > 0.0 {
                    t.iter().map(|&v| v * (1.0 - eps) + smooth).collect()
                } else {
                    t.to_vec()
                };
                // As PyTorch: a 0 target on a −inf logit is 0·(−inf) = NaN in the value.
                let terms: Vec<f64> = (0..c).map(|k| log_p[k] * t_s[k] * w(k)).collect();
                ce_rows[r] = -sum(terms.iter().copied());
                let wt: Vec<f64> = (0..c).map(|k| w(k) * t_s[k]).collect();
                let total = sum(wt.iter().copied());
                (0..c).map(|k| prob[k] * total - wt[k]).collect()
            }
        };
        if p.z_loss != 0.0 {
            z_rows[r] = p.z_loss * lse * lse;
        }
        for k in 0..c {
            let mut g = d_ce[k] * ce_scale;
            if p.z_loss != 0.0 {
                g += 2.0 * p.z_loss * lse * prob[k] * z_scale;
            }
            grad[r * c + k] = g * dz[k];
        }
    }

    let value = match reduction {
        Reduction::None => None,
        Reduction::Sum => Some(sum(ce_rows.iter().copied()) + sum(z_rows.iter().copied())),
        // All rows ignored: 0/0 = NaN, as PyTorch; the gradient stays 0.
        _ => Some(
            sum(ce_rows.iter().copied()) / ce_divisor + sum(z_rows.iter().copied()) / z_divisor,
        ),
    };
    let rows = (reduction == Reduction::None)
        .then(|| ce_rows.iter().zip(&z_rows).map(|(a, b)| a + b).collect());
    Ok(RowResult {
        value,
        rows,
        grads: vec![grad],
    })
}

/// PyTorch NLLLoss on log-probabilities: ℓ_n = −w_y·x[n, y]; `mean` divides by Σ w_y over the
/// rows not ignored.
pub fn nll(
    x: &[f64],
    classes: usize,
    target: &[i64],
    weight: Option<&[f64]>,
    ignore_index: i64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "nll";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n, per_row(n))?;
    if let Some(w) = weight {
        expect_len(LOSS, "weight", w.len(), c, || {
            format!("[{c}] (one per class)")
        })?;
    }
    no_nan(LOSS, "input", x)?;
    if let Some(w) = weight {
        no_nan(LOSS, "weight", w)?;
    }
    check_labels(LOSS, target, c, Some(ignore_index))?;

    let w = |k: usize| weight.map_or(1.0, |w| w[k]);
    let kept: Vec<usize> = (0..n).filter(|&r| target[r] != ignore_index).collect();
    let w_kept = sum(kept.iter().map(|&r| w(target[r] as usize)));
    let red = Reducer::new(reduction, w_kept);
    let scale = red.scale();

    let mut rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for &r in &kept {
        let y = target[r] as usize;
        rows[r] = -w(y) * x[r * c + y];
        grad[r * c + y] = -w(y) * scale;
    }
    Ok(red.finish(rows, vec![grad]))
}

/// Keras's cross-entropy on probabilities, one row: q = x / Σx clipped to [ε, 1 − ε], loss
/// −Σ_k y_k·log(clip(q_k)). Writes d loss / d x (through the rescale and the clip, as JAX's
/// autodiff does) times `scale` into `grad`, and returns the loss.
fn keras_probability_row(x: &[f64], y: &[f64], scale: f64, grad: &mut [f64]) -> f64 {
    let s = sum(x.iter().copied());
    let q: Vec<f64> = x.iter().map(|&v| v / s).collect();
    let mut loss = Compensated::default();
    let mut d_q = vec![0.0; x.len()];
    for k in 0..x.len() {
        let clipped = q[k].clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON);
        loss.add(-y[k] * clipped.ln());
        d_q[k] = -y[k] / clipped * clip_slope(q[k], KERAS_EPSILON, 1.0 - KERAS_EPSILON);
    }
    // q_k = x_k / s: d q_k / d x_j = (δ_kj − q_k) / s.
    let through = sum(d_q.iter().zip(&q).map(|(g, q)| g * q));
    for j in 0..x.len() {
        grad[j] = (d_q[j] - through) / s * scale;
    }
    loss.value()
}

/// Keras CategoricalCrossentropy (from_logits = false): ℓ_n = −Σ_c y'_c·log(clip(x_c / Σx)),
/// y' = y·(1 − ls) + ls/C; `mean` divides by N.
pub fn categorical_cross_entropy(
    x: &[f64],
    classes: usize,
    target: &[f64],
    label_smoothing: f64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "categorical_cross_entropy";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n * c, like_input(n, c))?;
    let ls = label_smoothing;
    param(LOSS, "label_smoothing", ls, Rule::Fraction)?;
    no_nan(LOSS, "input", x)?;
    no_nan(LOSS, "target", target)?;

    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for (r, loss) in rows.iter_mut().enumerate() {
        let range = r * c..(r + 1) * c;
        let y: Vec<f64> = target[range.clone()]
            .iter()
            .map(|&v| v * (1.0 - ls) + ls / c as f64)
            .collect();
        *loss = keras_probability_row(&x[range.clone()], &y, red.scale(), &mut grad[range]);
    }
    Ok(red.finish(rows, vec![grad]))
}

/// Keras SparseCategoricalCrossentropy (from_logits = false): ℓ_n = −log(clip(x_y / Σx)).
///
/// With `ignore_class`, Keras masks the rows with that label (loss and gradient 0) and its
/// `mean` is Σ ℓ / (rows kept + 1e-7) (keras.losses.loss.apply_mask); so with every row
/// ignored the mean is 0, not NaN. Without `ignore_class` the mean divides by N.
pub fn sparse_categorical_cross_entropy(
    x: &[f64],
    classes: usize,
    target: &[i64],
    ignore_class: Option<i64>,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "sparse_categorical_cross_entropy";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n, per_row(n))?;
    no_nan(LOSS, "input", x)?;
    check_labels(LOSS, target, c, ignore_class)?;

    let kept: Vec<usize> = (0..n)
        .filter(|&r| Some(target[r]) != ignore_class)
        .collect();
    let divisor = match ignore_class {
        // An empty input's mean stays NaN (LOSSES.md), where Keras's divide_no_nan gives 0.
        Some(_) if n > 0 => kept.len() as f64 + KERAS_EPSILON,
        _ => n as f64,
    };
    let red = Reducer::new(reduction, divisor);
    let mut rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for &r in &kept {
        let range = r * c..(r + 1) * c;
        let mut one_hot = vec![0.0; c];
        one_hot[target[r] as usize] = 1.0;
        rows[r] = keras_probability_row(&x[range.clone()], &one_hot, red.scale(), &mut grad[range]);
    }
    Ok(red.finish(rows, vec![grad]))
}

// ---------------------------------------------------------------------------------------------
// Divergences

/// One kl_div term and its derivative with respect to x.
pub(crate) fn kl_term(x: f64, t: f64, log_input: bool, log_target: bool) -> (f64, f64) {
    if log_input {
        // PyTorch: xlogy(y, y) − y·x, or exp(t)·(t − x) for a log target. LOSSES.md makes
        // the term 0 wherever y ≤ 0 (PyTorch: 0 at y = 0, NaN below).
        let y = if log_target { t.exp() } else { t };
        if y <= 0.0 {
            return (0.0, 0.0);
        }
        let v = if log_target {
            y * (t - x)
        } else {
            y * y.ln() - y * x
        };
        (v, -y)
    } else {
        // Keras KLDivergence: both clipped to [1e-7, 1]; only x's clip carries the gradient.
        let y = if log_target { t.exp() } else { t }.clamp(KERAS_EPSILON, 1.0);
        let q = x.clamp(KERAS_EPSILON, 1.0);
        (y * (y / q).ln(), -y / q * clip_slope(x, KERAS_EPSILON, 1.0))
    }
}

/// PyTorch KLDivLoss (log_input) or Keras KLDivergence (probabilities), elementwise terms
/// with PyTorch's reductions whatever `log_input`: `none` gives the [N·C] terms, `mean`
/// divides by N·C, `batchmean` by N.
pub fn kl_div(
    x: &[f64],
    classes: usize,
    target: &[f64],
    log_input: bool,
    log_target: bool,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "kl_div";
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n * c, like_input(n, c))?;
    no_nan(LOSS, "input", x)?;
    no_nan(LOSS, "target", target)?;

    let divisor = match reduction {
        Reduction::BatchMean => n as f64,
        _ => (n * c) as f64,
    };
    let red = Reducer::new(reduction, divisor);
    let (terms, grad): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(target)
        .map(|(&x, &t)| {
            let (v, g) = kl_term(x, t, log_input, log_target);
            (v, g * red.scale())
        })
        .unzip();
    Ok(red.finish(terms, vec![grad]))
}

/// a·log(a/m) with 0·log 0 = 0.
fn x_log_ratio(a: f64, m: f64) -> f64 {
    if a == 0.0 {
        0.0
    } else {
        a * (a / m).ln()
    }
}

/// Jensen–Shannon divergence per row: β·KL(P‖M) + (1−β)·KL(Q‖M), M = β·P + (1−β)·Q, with
/// `input` = Q (or log Q) and `target` = P; natural log, 0·log 0 = 0; `mean` over N.
///
/// d/dQ_c = (1−β)·log(Q_c / M_c) (the terms through M cancel): −inf where Q_c = 0 < M_c,
/// the true one-sided slope; 0 where Q_c = M_c = 0. Through log Q it is Q_c times that, 0 at
/// Q_c = 0.
pub fn js_div(
    x: &[f64],
    classes: usize,
    target: &[f64],
    beta: f64,
    log_input: bool,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "js_div";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n * c, like_input(n, c))?;
    param(LOSS, "beta", beta, Rule::Fraction)?;
    no_nan(LOSS, "input", x)?;
    no_nan(LOSS, "target", target)?;

    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for (r, loss) in rows.iter_mut().enumerate() {
        let mut row = Compensated::default();
        for i in r * c..(r + 1) * c {
            let q = if log_input { x[i].exp() } else { x[i] };
            let p = target[i];
            let m = beta * p + (1.0 - beta) * q;
            // A side with weight 0 adds nothing, even where its log ratio is infinite.
            let side = |w: f64, a: f64| if w == 0.0 { 0.0 } else { w * x_log_ratio(a, m) };
            row.add(side(beta, p) + side(1.0 - beta, q));
            let d_q = if beta == 1.0 || (q == 0.0 && m == 0.0) {
                0.0
            } else {
                (1.0 - beta) * (q / m).ln()
            };
            let d_x = match (log_input, q == 0.0) {
                (true, true) => 0.0,
                (true, false) => q * d_q,
                (false, _) => d_q,
            };
            grad[i] = d_x * red.scale();
        }
        *loss = row.value();
    }
    Ok(red.finish(rows, vec![grad]))
}

// ---------------------------------------------------------------------------------------------
// Similarities and embeddings

/// Keras CosineSimilarity (cosine proximity): ℓ_n = −(x·y)/(max(‖x‖, ε)·max(‖y‖, ε)), which is
/// Keras's normalize (x·min(1/‖x‖, 1/ε)); `mean` over N.
pub fn cosine_similarity(
    x: &[f64],
    classes: usize,
    target: &[f64],
    eps: f64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "cosine_similarity";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n * c, like_input(n, c))?;
    param(LOSS, "eps", eps, Rule::NonNegative)?;
    no_nan(LOSS, "input", x)?;
    no_nan(LOSS, "target", target)?;

    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for (r, loss) in rows.iter_mut().enumerate() {
        let range = r * c..(r + 1) * c;
        let (xr, yr) = (&x[range.clone()], &target[range.clone()]);
        let norm_x = sum(xr.iter().map(|v| v * v)).sqrt();
        let norm_y = sum(yr.iter().map(|v| v * v)).sqrt();
        let denom = norm_x.max(eps) * norm_y.max(eps);
        let dot = sum(xr.iter().zip(yr).map(|(a, b)| a * b));
        *loss = -dot / denom;
        // Below ε the norm is the constant ε and passes no gradient.
        let through_norm = if norm_x > eps {
            dot / denom / (norm_x * norm_x)
        } else {
            0.0
        };
        for (k, g) in grad[range].iter_mut().enumerate() {
            *g = (-yr[k] / denom + through_norm * xr[k]) * red.scale();
        }
    }
    Ok(red.finish(rows, vec![grad]))
}

/// PyTorch CosineEmbeddingLoss: ℓ_n = 1 − cos if y = 1, max(0, cos − margin) if y = −1, with
/// ATen's cos = Σx1·x2 / sqrt((Σx1² + 1e-12)·(Σx2² + 1e-12)); `mean` over N.
///
/// A label other than ±1 is refused (`OutOfDomain` on `target`, first row), where PyTorch
/// would silently give that row 0. At cos = margin the gradient passes (clamp_min's `>=`).
pub fn cosine_embedding(
    x1: &[f64],
    x2: &[f64],
    classes: usize,
    target: &[f64],
    margin: f64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "cosine_embedding";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input1", x1.len(), c)?;
    expect_len(LOSS, "input2", x2.len(), n * c, like_input(n, c))?;
    expect_len(LOSS, "target", target.len(), n, per_row(n))?;
    param(LOSS, "margin", margin, Rule::Finite)?;
    no_nan(LOSS, "input1", x1)?;
    no_nan(LOSS, "input2", x2)?;
    no_nan(LOSS, "target", target)?;
    if let Some(row) = target.iter().position(|&y| y != 1.0 && y != -1.0) {
        return Err(LossError::OutOfDomain {
            loss: LOSS,
            tensor: "target",
            index: row as u64,
            domain: "{-1, 1}",
        });
    }

    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let (mut g1, mut g2) = (vec![0.0; n * c], vec![0.0; n * c]);
    for (r, loss) in rows.iter_mut().enumerate() {
        let range = r * c..(r + 1) * c;
        let (a, b) = (&x1[range.clone()], &x2[range.clone()]);
        let dot = sum(a.iter().zip(b).map(|(u, v)| u * v));
        let mag1 = sum(a.iter().map(|v| v * v)) + ATEN_COSINE_EPSILON;
        let mag2 = sum(b.iter().map(|v| v * v)) + ATEN_COSINE_EPSILON;
        let denom = (mag1 * mag2).sqrt();
        let cos = dot / denom;
        // d loss / d cos.
        let slope = if target[r] == 1.0 {
            *loss = 1.0 - cos;
            -1.0
        } else {
            *loss = (cos - margin).max(0.0);
            if cos - margin >= 0.0 {
                1.0
            } else {
                0.0
            }
        };
        // d cos / d x1 = x2 / denom − cos·x1 / mag1, and symmetrically for x2.
        let s = slope * red.scale();
        for k in 0..c {
            g1[r * c + k] = s * (b[k] / denom - cos * a[k] / mag1);
            g2[r * c + k] = s * (a[k] / denom - cos * b[k] / mag2);
        }
    }
    Ok(red.finish(rows, vec![g1, g2]))
}

/// ATen's pairwise_distance ‖u − w + eps‖_p and its gradient with respect to u (that to w is
/// its negative). As ATen's norm backward, an entry or a whole difference of 0 gets slope 0.
fn pairwise_distance(u: &[f64], w: &[f64], p: f64, eps: f64) -> (f64, Vec<f64>) {
    let v: Vec<f64> = u.iter().zip(w).map(|(a, b)| a - b + eps).collect();
    let d = if p == 2.0 {
        sum(v.iter().map(|x| x * x)).sqrt()
    } else if p == 1.0 {
        sum(v.iter().map(|x| x.abs()))
    } else {
        sum(v.iter().map(|x| x.abs().powf(p))).powf(1.0 / p)
    };
    let g = v
        .iter()
        .map(|&x| {
            if d == 0.0 || x == 0.0 {
                0.0
            } else {
                x.signum() * (x.abs() / d).powf(p - 1.0)
            }
        })
        .collect();
    (d, g)
}

/// PyTorch TripletMarginLoss: ℓ_n = max(d(a, p) − d(a, n) + margin, 0) with
/// d(u, v) = ‖u − v + eps‖_p; `swap` uses min(d(a, n), d(p, n)) for d(a, n), so the gradient
/// reaches `positive` through d(p, n) when that is the smaller (a tie splits it in half, as
/// torch.min's backward does). At the hinge the gradient passes (clamp_min's `>=`).
#[allow(clippy::too_many_arguments)]
pub fn triplet_margin(
    anchor: &[f64],
    positive: &[f64],
    negative: &[f64],
    classes: usize,
    margin: f64,
    p: f64,
    eps: f64,
    swap: bool,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "triplet_margin";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "anchor", anchor.len(), c)?;
    expect_len(LOSS, "positive", positive.len(), n * c, like_input(n, c))?;
    expect_len(LOSS, "negative", negative.len(), n * c, like_input(n, c))?;
    param(LOSS, "margin", margin, Rule::Finite)?;
    param(LOSS, "p", p, Rule::Positive)?;
    param(LOSS, "eps", eps, Rule::Finite)?;
    no_nan(LOSS, "anchor", anchor)?;
    no_nan(LOSS, "positive", positive)?;
    no_nan(LOSS, "negative", negative)?;

    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let mut ga = vec![0.0; n * c];
    let mut gp = vec![0.0; n * c];
    let mut gn = vec![0.0; n * c];
    for (r, loss) in rows.iter_mut().enumerate() {
        let range = r * c..(r + 1) * c;
        let (a, pos, neg) = (
            &anchor[range.clone()],
            &positive[range.clone()],
            &negative[range],
        );
        let (d_ap, g_ap) = pairwise_distance(a, pos, p, eps);
        let (d_an, g_an) = pairwise_distance(a, neg, p, eps);
        // The negative distance and how it splits between d(a, n) and d(p, n).
        let (d_neg, w_an, w_pn, g_pn) = if swap {
            let (d_pn, g_pn) = pairwise_distance(pos, neg, p, eps);
            let (w_an, w_pn) = if d_an < d_pn {
                (1.0, 0.0)
            } else if d_pn < d_an {
                (0.0, 1.0)
            } else {
                (0.5, 0.5)
            };
            (d_an.min(d_pn), w_an, w_pn, g_pn)
        } else {
            (d_an, 1.0, 0.0, vec![0.0; c])
        };
        let v = margin + d_ap - d_neg;
        *loss = v.max(0.0);
        if v >= 0.0 {
            let s = red.scale();
            for k in 0..c {
                let i = r * c + k;
                ga[i] = s * (g_ap[k] - w_an * g_an[k]);
                gp[i] = s * (-g_ap[k] - w_pn * g_pn[k]);
                gn[i] = s * (w_an * g_an[k] + w_pn * g_pn[k]);
            }
        }
    }
    Ok(red.finish(rows, vec![ga, gp, gn]))
}

/// Keras dice over each row: ℓ_n = 1 − 2·Σx·y / (Σx + Σy + 1e-7); `mean` over N.
pub fn dice(x: &[f64], classes: usize, target: &[f64], reduction: Reduction) -> Result<RowResult> {
    const LOSS: &str = "dice";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = row_count(LOSS, "input", x.len(), c)?;
    expect_len(LOSS, "target", target.len(), n * c, like_input(n, c))?;
    no_nan(LOSS, "input", x)?;
    no_nan(LOSS, "target", target)?;

    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let mut grad = vec![0.0; n * c];
    for (r, loss) in rows.iter_mut().enumerate() {
        let range = r * c..(r + 1) * c;
        let (xr, yr) = (&x[range.clone()], &target[range.clone()]);
        let inter = sum(xr.iter().zip(yr).map(|(a, b)| a * b));
        let denom = sum(xr.iter().copied()) + sum(yr.iter().copied()) + KERAS_EPSILON;
        *loss = 1.0 - 2.0 * inter / denom;
        for (k, g) in grad[range].iter_mut().enumerate() {
            *g = (-2.0 * yr[k] / denom + 2.0 * inter / (denom * denom)) * red.scale();
        }
    }
    Ok(red.finish(rows, vec![grad]))
}
