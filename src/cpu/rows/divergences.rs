//! kl_div (elementwise terms, PyTorch's reductions) and js_div (per row, row_losses.wgsl).

use super::shared::{clip_slope, paired_rows, Reducer, RowResult, KERAS_EPSILON};
use crate::cpu::Compensated;
use crate::error::Result;
use crate::params::{no_batchmean, Reduction, Rule};

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
///
/// ```
/// use gpu_loss::{cpu::rows::kl_div, Reduction};
/// // Log input x, target y: the terms y·ln y − y·x are [1, 0]; batchmean divides by 1 row.
/// let r = kl_div(&[-1.0, -5.0], 2, &[1.0, 0.0], true, false, Reduction::BatchMean)?;
/// assert_eq!(r.value, Some(1.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    let n = paired_rows(LOSS, x, target, c, || Ok(()))?;

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
///
/// ```
/// use gpu_loss::{cpu::rows::js_div, Reduction};
/// // A distribution against itself: 0.
/// let r = js_div(&[0.3, 0.7], 2, &[0.3, 0.7], 0.5, false, Reduction::Mean)?;
/// assert!(r.value.unwrap().abs() < 1e-15);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    let n = paired_rows(LOSS, x, target, c, || Rule::Unit.check(LOSS, "beta", beta))?;

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
