//! PyTorch's cosine_embedding and triplet_margin: two or three tensors, each with a gradient
//! (row_tuple_losses.wgsl).

use super::shared::{expect_len, like_input, no_nan, per_row, row_count, sum, Reducer, RowResult};
use crate::error::{LossError, Result};
use crate::params::{no_batchmean, Reduction, Rule};

/// What ATen adds to each squared norm in cosine_embedding_loss.
const ATEN_COSINE_EPSILON: f64 = 1e-12;

/// PyTorch CosineEmbeddingLoss: ℓ_n = 1 − cos if y = 1, max(0, cos − margin) if y = −1, with
/// ATen's cos = Σx1·x2 / sqrt((Σx1² + 1e-12)·(Σx2² + 1e-12)); `mean` over N.
///
/// A label other than ±1 is refused (`OutOfDomain` on `target`, first row), where PyTorch
/// would silently give that row 0. At cos = margin the gradient passes (clamp_min's `>=`).
///
/// ```
/// use gpu_loss::{cpu::rows::cosine_embedding, Reduction};
/// // Label −1 on parallel rows: max(0, cos − margin) = 1 − 0.5.
/// let r = cosine_embedding(&[1.0, 0.0], &[2.0, 0.0], 2, &[-1.0], 0.5, Reduction::Mean)?;
/// assert!((r.value.unwrap() - 0.5).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    Rule::Finite.check(LOSS, "margin", margin)?;
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
///
/// ```
/// use gpu_loss::{cpu::rows::triplet_margin, Reduction};
/// let (a, p, n) = ([0.0, 0.0], [3.0, 0.0], [3.0, 1.0]); // d(a, p) = 3, d(a, n) = √10, d(p, n) = 1
/// let plain = triplet_margin(&a, &p, &n, 2, 0.0, 2.0, 0.0, false, Reduction::Mean)?;
/// let swap = triplet_margin(&a, &p, &n, 2, 0.0, 2.0, 0.0, true, Reduction::Mean)?;
/// assert_eq!((plain.value, swap.value), (Some(0.0), Some(2.0))); // swap: 3 − min(√10, 1)
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    Rule::Finite.check(LOSS, "margin", margin)?;
    Rule::Positive.check(LOSS, "p", p)?;
    Rule::Finite.check(LOSS, "eps", eps)?;
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
