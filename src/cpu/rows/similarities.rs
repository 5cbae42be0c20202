//! Keras's cosine_similarity and dice: a few sums per row of `input` and `target`
//! (row_losses.wgsl).

use super::shared::{paired_rows, sum, Reducer, RowResult, KERAS_EPSILON};
use crate::error::Result;
use crate::params::{no_batchmean, Reduction, Rule};

/// Keras CosineSimilarity (cosine proximity): ℓ_n = −(x·y)/(max(‖x‖, ε)·max(‖y‖, ε)), which is
/// Keras's normalize (x·min(1/‖x‖, 1/ε)); `mean` over N.
///
/// ```
/// use gpu_loss::{cpu::rows::cosine_similarity, Reduction};
/// // 45° apart: −cos = −1/√2.
/// let r = cosine_similarity(&[1.0, 0.0], 2, &[1.0, 1.0], 1e-7, Reduction::Mean)?;
/// assert!((r.value.unwrap() + 0.5f64.sqrt()).abs() < 1e-15);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    let n = paired_rows(LOSS, x, target, c, || {
        Rule::NonNegative.check(LOSS, "eps", eps)
    })?;

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

/// Keras dice over each row: ℓ_n = 1 − 2·Σx·y / (Σx + Σy + 1e-7); `mean` over N.
///
/// ```
/// use gpu_loss::{cpu::rows::dice, Reduction};
/// // 1 − 2·Σxy / (Σx + Σy + 1e-7) = 1 − 2 / 3, near enough.
/// let r = dice(&[1.0, 1.0], 2, &[1.0, 0.0], Reduction::Mean)?;
/// assert!((r.value.unwrap() - 1.0 / 3.0).abs() < 1e-7);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn dice(x: &[f64], classes: usize, target: &[f64], reduction: Reduction) -> Result<RowResult> {
    const LOSS: &str = "dice";
    no_batchmean(LOSS, reduction)?;
    let c = classes;
    let n = paired_rows(LOSS, x, target, c, || Ok(()))?;

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
