//! The class losses: cross_entropy and nll (PyTorch, on logits and log-probabilities) and
//! Keras's two cross-entropies on probabilities, which share one row function.

use super::shared::{
    check_labels, clip_slope, expect_len, like_input, no_nan, paired_rows, per_row, row_count, sum,
    Reducer, RowResult, KERAS_EPSILON,
};
use crate::cpu::Compensated;
use crate::error::{LossError, Result};
use crate::params::{no_batchmean, Reduction, Rule};

/// cross_entropy's target: class indices `[N]`, or probabilities `[N, C]`.
///
/// ```
/// use gpu_loss::{cpu::rows::{cross_entropy, ClassTarget, CrossEntropy}, Reduction};
/// // Equal logits over two classes: ln 2 for an index or for a probability target.
/// for target in [ClassTarget::Index(&[1]), ClassTarget::Probs(&[0.5, 0.5])] {
///     let r = cross_entropy(&[0.0, 0.0], 2, target, None, &CrossEntropy::default(), Reduction::Mean)?;
///     assert!((r.value.unwrap() - 2f64.ln()).abs() < 1e-15);
/// }
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub enum ClassTarget<'a> {
    /// Class indices, one per row.
    Index(&'a [i64]),
    /// Class probabilities, rows × classes.
    Probs(&'a [f64]),
}

/// cross_entropy's parameters (LOSSES.md defaults through `Default`).
///
/// ```
/// use gpu_loss::{cpu::rows::{cross_entropy, ClassTarget, CrossEntropy}, Reduction};
/// // z_loss adds z·lse² to each row: lse = ln 2 for two zero logits.
/// let p = CrossEntropy { z_loss: 1.0, ..Default::default() };
/// let r = cross_entropy(&[0.0, 0.0], 2, ClassTarget::Index(&[0]), None, &p, Reduction::Mean)?;
/// assert!((r.value.unwrap() - (2f64.ln() + 2f64.ln().powi(2))).abs() < 1e-15);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropy {
    /// The label whose rows count for nothing.
    pub ignore_index: i64,
    /// Label smoothing in [0, 1].
    pub label_smoothing: f64,
    /// The z-loss weight; 0 for none.
    pub z_loss: f64,
    /// Logit soft-capping, if any.
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
/// A row whose max is infinite (a +inf logit, or all −inf) is NaN throughout, as PyTorch's
/// log_softmax gives it (z − max is NaN at the max).
fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return vec![f64::NAN; z.len()];
    }
    let rest = log_sum_rest(z, m);
    z.iter().map(|&v| (v - m) - rest).collect()
}

/// PyTorch CrossEntropyLoss with Liger-Kernel's z_loss and softcap.
///
/// Index targets: ℓ_n = (1−ε)·w_y·(lse − z_y) + (ε/C)·Σ_c w_c·(lse − z_c) + z_loss·lse² on the
/// softcapped logits z; ignored rows give 0. `mean` is PyTorch's weighted mean for the
/// cross-entropy part (Σ over rows / Σ w_y over kept rows) plus Liger's unweighted mean of
/// the z-terms over kept rows. Probability targets: ℓ_n = −Σ_c w_c·t'_c·log_softmax(z)_c +
/// z_loss·lse², t' = (1−ε)·t + ε/C, and `mean` divides by N (PyTorch).
///
/// ```
/// use gpu_loss::{cpu::rows::{cross_entropy, ClassTarget, CrossEntropy}, Reduction};
/// // Row 2's label is ignore_index (−100): the mean is over row 1 alone, ln 2.
/// let labels = ClassTarget::Index(&[1, -100]);
/// let r = cross_entropy(&[0.0, 0.0, 5.0, 1.0], 2, labels, None, &CrossEntropy::default(), Reduction::Mean)?;
/// assert!((r.value.unwrap() - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(r.grads[0][2..], [0.0, 0.0]); // an ignored row takes no gradient
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    Rule::Unit.check(LOSS, "label_smoothing", eps)?;
    Rule::NonNegative.check(LOSS, "z_loss", p.z_loss)?;
    if let Some(s) = p.softcap {
        Rule::Positive.check(LOSS, "softcap", s)?;
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
/// rows not ignored. A gather: a NaN it does not read (another class's, an ignored row's)
/// is no error, as in PyTorch.
///
/// ```
/// use gpu_loss::{cpu::rows::nll, Reduction};
/// // Log-probabilities; labels 0 and 1 weighted 1 and 3: (1·1 + 3·2) / (1 + 3).
/// let r = nll(&[-1.0, -3.0, -4.0, -2.0], 2, &[0, 1], Some(&[1.0, 3.0]), -100, Reduction::Mean)?;
/// assert_eq!(r.value, Some(1.75));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    gathered_nan(x, c, target, weight, ignore_index)?;
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

/// nll's NaN check: only what it gathers, x[n, y_n] and w[y_n] of the rows kept with a
/// class label, as PyTorch's value depends on nothing else. The first such x (flat index),
/// then the lowest such class's weight.
fn gathered_nan(
    x: &[f64],
    c: usize,
    target: &[i64],
    weight: Option<&[f64]>,
    ignore_index: i64,
) -> Result<()> {
    let read = || {
        (target.iter().enumerate())
            .filter(|&(_, &y)| y != ignore_index && (0..c as i64).contains(&y))
            .map(|(r, &y)| (r, y as usize))
    };
    let nan = |tensor, index: usize| LossError::NaN {
        loss: "nll",
        tensor,
        index: index as u64,
    };
    if let Some((r, y)) = read().find(|&(r, y)| x[r * c + y].is_nan()) {
        return Err(nan("input", r * c + y));
    }
    if let Some(w) = weight {
        if let Some(y) = read().map(|(_, y)| y).filter(|&y| w[y].is_nan()).min() {
            return Err(nan("weight", y));
        }
    }
    Ok(())
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
///
/// ```
/// use gpu_loss::{cpu::rows::categorical_cross_entropy, Reduction};
/// // Probabilities [0.5, 0.5] against one-hot [1, 0]: −ln 0.5.
/// let r = categorical_cross_entropy(&[0.5, 0.5], 2, &[1.0, 0.0], 0.0, Reduction::Mean)?;
/// assert!((r.value.unwrap() - 2f64.ln()).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    let ls = label_smoothing;
    let n = paired_rows(LOSS, x, target, c, || {
        Rule::Unit.check(LOSS, "label_smoothing", ls)
    })?;

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
///
/// ```
/// use gpu_loss::{cpu::rows::sparse_categorical_cross_entropy as scce, Reduction};
/// let r = scce(&[0.25, 0.75], 2, &[1], None, Reduction::Mean)?; // −ln 0.75
/// assert!((r.value.unwrap() - (4.0f64 / 3.0).ln()).abs() < 1e-12);
/// assert_eq!(scce(&[0.25, 0.75], 2, &[1], Some(1), Reduction::Mean)?.value, Some(0.0)); // all masked
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
