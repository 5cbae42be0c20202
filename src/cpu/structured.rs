//! The float64 twins of the section D and F kernels of their own: total_variation,
//! wasserstein_1d, gram and style_loss (one layer). Written to be read beside
//! shaders/total_variation.wgsl, shaders/wasserstein.wgsl and src/style.rs.

use super::rows::{no_nan, sum, Reducer, RowResult};
use crate::error::{LossError, Result};
use crate::params::Reduction;
use crate::tensor::element_count;

/// |d|^p and its slope p·|d|^(p−1)·sign(d), 0 at d = 0 (as ATen's abs and pow backward).
fn power_term(d: f64, p: f64) -> (f64, f64) {
    if d == 0.0 {
        return (0.0, 0.0);
    }
    (d.abs().powf(p), p * d.abs().powf(p - 1.0) * d.signum())
}

/// total_variation over the last two axes of `shape` (every leading axis another plane):
/// each pixel's loss is its right and down terms |x[i, j+1] − x[i, j]|^p + |x[i+1, j] − x[i, j]|^p;
/// `none` returns them per pixel, `mean` divides their sum by the element count.
///
/// ```
/// use gpu_loss::{cpu::structured::total_variation, Reduction};
/// // [[0, 1], [3, 5]], power 2: right 1², 2², down 3², 4².
/// let r = total_variation(&[0.0, 1.0, 3.0, 5.0], &[2, 2], 2.0, Reduction::Sum)?;
/// assert_eq!(r.value, Some(30.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn total_variation(
    x: &[f64],
    shape: &[usize],
    power: f64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "total_variation";
    let [.., h, w] = *shape else {
        return Err(LossError::ShapeMismatch {
            loss: LOSS,
            tensor: "input",
            got: shape.to_vec(),
            expected: "[..., H, W] (at least two axes)".into(),
        });
    };
    values_fit(LOSS, "input", shape, x.len())?;
    no_nan(LOSS, "input", x)?;
    let n = x.len();
    let red = Reducer::new(reduction, n as f64);
    let mut pixels = vec![0.0; n];
    let mut grad = vec![0.0; n];
    for (e, loss) in pixels.iter_mut().enumerate() {
        let (col, row) = (e % w, e / w % h);
        let mut pair = |other: usize| {
            let (v, g) = power_term(x[other] - x[e], power);
            grad[e] -= g;
            grad[other] += g;
            v
        };
        if col + 1 < w {
            *loss += pair(e + 1);
        }
        if row + 1 < h {
            *loss += pair(e + w);
        }
    }
    let scale = red.scale();
    grad.iter_mut().for_each(|g| *g *= scale);
    Ok(red.finish(pixels, vec![grad]))
}

/// `len` values for `shape`, whose count must fit in usize: the twins index by the shape.
fn values_fit(loss: &'static str, tensor: &'static str, shape: &[usize], len: usize) -> Result<()> {
    if element_count(&format!("{loss}: {tensor}"), shape)? != len {
        return Err(LossError::ShapeMismatch {
            loss,
            tensor,
            got: shape.to_vec(),
            expected: format!("a shape of {len} elements, as many as the values given"),
        });
    }
    Ok(())
}

/// wasserstein_1d's rows: `u` of shape [..., C] with at least one axis, `v` of u's shape.
/// Returns (rows, C). The GPU path's validation applies this same rule.
///
/// ```
/// use gpu_loss::cpu::structured::histogram_rows;
/// assert_eq!(histogram_rows(&[4, 2, 8], &[4, 2, 8])?, (8, 8));
/// assert!(histogram_rows(&[4, 8], &[4, 7]).is_err());
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn histogram_rows(u: &[usize], v: &[usize]) -> Result<(usize, usize)> {
    const LOSS: &str = "wasserstein_1d";
    element_count(&format!("{LOSS}: u"), u)?;
    let Some((&classes, rows)) = u.split_last() else {
        return Err(LossError::ShapeMismatch {
            loss: LOSS,
            tensor: "u",
            got: u.to_vec(),
            expected: "[N, C] (at least one axis)".into(),
        });
    };
    if v != u {
        return Err(LossError::ShapeMismatch {
            loss: LOSS,
            tensor: "v",
            got: v.to_vec(),
            expected: format!("{u:?}, the shape of `u`"),
        });
    }
    let rows: usize = rows.iter().product();
    // A row of no bins has no mass: refused as any row of zero mass is, on both backends.
    if classes == 0 && rows > 0 {
        return Err(LossError::OutOfDomain {
            loss: LOSS,
            tensor: "u and v",
            index: 0,
            domain: POSITIVE_MASS,
        });
    }
    Ok((rows, classes))
}

/// wasserstein_1d's rule for each row, in the words of both backends' errors.
pub const POSITIVE_MASS: &str = "rows of positive mass (a row that sums to 0 is no distribution)";

/// wasserstein_1d: each row of `u` and `v` normalised to sum 1, W1 = dx·Σ_c |U_c − V_c| with
/// U, V the cumulative sums; the gradients go through the normalisation
/// (d U_c / d u_k = (1[k ≤ c] − U_c) / S_u) and take sign(0) = 0, where 0 is what the sums'
/// rounding leaves of an exact 0 (empty trailing bins: both CDFs at 1), as the GPU does.
///
/// ```
/// use gpu_loss::{cpu::structured::wasserstein_1d, Reduction};
/// // Row 1 moves its mass two bins, row 2 one bin (after normalising to sum 1); dx = 0.5.
/// let u = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0];
/// let v = [0.0, 0.0, 1.0, 0.0, 0.0, 4.0];
/// let r = wasserstein_1d(&u, &v, 3, 0.5, Reduction::None)?;
/// assert_eq!(r.rows, Some(vec![1.0, 0.5]));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn wasserstein_1d(
    u: &[f64],
    v: &[f64],
    classes: usize,
    dx: f64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "wasserstein_1d";
    let c = classes;
    if u.len() != v.len() || (c == 0 && !u.is_empty()) || (c > 0 && !u.len().is_multiple_of(c)) {
        return Err(LossError::ShapeMismatch {
            loss: LOSS,
            tensor: "v",
            got: vec![v.len()],
            expected: format!("{} values, rows of {c} as `u`", u.len()),
        });
    }
    let outside = |tensor, index: usize, domain| LossError::OutOfDomain {
        loss: LOSS,
        tensor,
        index: index as u64,
        domain,
    };
    for (name, t) in [("u", u), ("v", v)] {
        // NaN is no weight either.
        if let Some(i) = t.iter().position(|w| w.is_nan() || *w < 0.0) {
            return Err(outside(name, i, "non-negative weights"));
        }
    }
    let n = u.len().checked_div(c).unwrap_or(0);
    let red = Reducer::new(reduction, n as f64);
    let mut rows = vec![0.0; n];
    let (mut gu, mut gv) = (vec![0.0; n * c], vec![0.0; n * c]);
    for (r, loss) in rows.iter_mut().enumerate() {
        let range = r * c..(r + 1) * c;
        let (ur, vr) = (&u[range.clone()], &v[range.clone()]);
        let (su, sv) = (sum(ur.iter().copied()), sum(vr.iter().copied()));
        if !(su > 0.0 && sv > 0.0) {
            return Err(outside("u and v", r, POSITIVE_MASS));
        }
        let (mut big_u, mut big_v) = (0.0, 0.0);
        let mut signs = vec![0.0; c];
        let tie = 4.0 * f64::EPSILON * c as f64;
        let (mut a, mut b, mut l) = (0.0, 0.0, 0.0);
        for k in 0..c {
            big_u += ur[k] / su;
            big_v += vr[k] / sv;
            let d = big_u - big_v;
            signs[k] = if d > tie {
                1.0
            } else if d < -tie {
                -1.0
            } else {
                0.0
            };
            l += d.abs();
            a += signs[k] * big_u;
            b += signs[k] * big_v;
        }
        *loss = dx * l;
        // Σ_{c ≥ k} s_c, from the end.
        let scale = dx * red.scale();
        let mut suffix = 0.0;
        for k in (0..c).rev() {
            suffix += signs[k];
            gu[r * c + k] = scale / su * (suffix - a);
            gv[r * c + k] = -scale / sv * (suffix - b);
        }
    }
    Ok(red.finish(rows, vec![gu, gv]))
}

/// Features [C, M] or [B, C, M]: (batch, channels, positions). The GPU path's validation
/// (problem::structured) applies this same rule to its tensors' shapes.
///
/// ```
/// use gpu_loss::cpu::structured::feature_dims;
/// assert_eq!(feature_dims("gram", "input", &[4, 2, 8])?, (4, 2, 8));
/// assert_eq!(feature_dims("gram", "input", &[2, 8])?, (1, 2, 8));
/// assert!(feature_dims("gram", "input", &[8]).is_err());
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn feature_dims(
    loss: &'static str,
    tensor: &'static str,
    shape: &[usize],
) -> Result<(usize, usize, usize)> {
    let (b, c, m) = match *shape {
        [c, m] => (1, c, m),
        [b, c, m] => (b, c, m),
        _ => {
            return Err(LossError::ShapeMismatch {
                loss,
                tensor,
                got: shape.to_vec(),
                expected: "[C, M] or [B, C, M] (M = H·W)".into(),
            })
        }
    };
    element_count(&format!("{loss}: {tensor}"), shape)?;
    element_count(&format!("{loss}: gram of {tensor}"), &[b, c, c])?;
    Ok((b, c, m))
}

/// G = F·Fᵀ / (C·M) for each batch item, [B, C, C] row-major.
///
/// ```
/// // F = [[1, 2], [3, 4]] (C = M = 2): F·Fᵀ = [[5, 11], [11, 25]], over C·M = 4.
/// let g = gpu_loss::cpu::structured::gram(&[1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(g, [1.25, 2.75, 2.75, 6.25]);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn gram(f: &[f64], shape: &[usize]) -> Result<Vec<f64>> {
    let (b, c, m) = feature_dims("gram", "input", shape)?;
    values_fit("gram", "input", shape, f.len())?;
    no_nan("gram", "input", f)?;
    let mut g = vec![0.0; b * c * c];
    for item in 0..b {
        let fb = &f[item * c * m..(item + 1) * c * m];
        for i in 0..c {
            for j in 0..c {
                let dot = sum((0..m).map(|k| fb[i * m + k] * fb[j * m + k]));
                g[item * c * c + i * c + j] = dot / (c * m) as f64;
            }
        }
    }
    Ok(g)
}

/// d L / d F = (dG + dGᵀ)·F / (C·M) for each batch item, given d L / d G.
fn gram_backward(f: &[f64], shape: &[usize], d_g: &[f64]) -> Result<Vec<f64>> {
    let (b, c, m) = feature_dims("gram", "input", shape)?;
    let mut grad = vec![0.0; f.len()];
    for item in 0..b {
        let (fb, db) = (&f[item * c * m..], &d_g[item * c * c..]);
        for a in 0..c {
            for k in 0..m {
                let s = sum((0..c).map(|j| (db[a * c + j] + db[j * c + a]) * fb[j * m + k]));
                grad[item * c * m + a * m + k] = s / (c * m) as f64;
            }
        }
    }
    Ok(grad)
}

/// `gram` as a loss: `none` gives G; `sum`/`mean` reduce its entries; the gradient is that of
/// the reduced value (of the sum for `none`).
///
/// ```
/// use gpu_loss::{cpu::structured::gram_loss, Reduction};
/// // G = [[5, 11], [11, 25]] / 4: its entries sum to 13.
/// let r = gram_loss(&[1.0, 2.0, 3.0, 4.0], &[2, 2], Reduction::Sum)?;
/// assert_eq!(r.value, Some(13.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn gram_loss(f: &[f64], shape: &[usize], reduction: Reduction) -> Result<RowResult> {
    let g = gram(f, shape)?;
    let red = Reducer::new(reduction, g.len() as f64);
    let d_g = vec![red.scale(); g.len()];
    let grad = gram_backward(f, shape, &d_g)?;
    Ok(red.finish(g, vec![grad]))
}

/// style_loss for one layer: mse(gram(F), gram(S)) over the entries of G (`none`: each
/// entry's squared difference), the gradient for F.
///
/// ```
/// use gpu_loss::{cpu::structured::style_loss, Reduction};
/// // gram(I) = I / 4 against gram(0) = 0: the mean of (1/4)², 0, 0, (1/4)².
/// let r = style_loss(&[1.0, 0.0, 0.0, 1.0], &[0.0; 4], &[2, 2], Reduction::Mean)?;
/// assert_eq!(r.value, Some(1.0 / 32.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn style_loss(
    f: &[f64],
    s: &[f64],
    shape: &[usize],
    reduction: Reduction,
) -> Result<RowResult> {
    if f.len() != s.len() {
        return Err(LossError::ShapeMismatch {
            loss: "style_loss",
            tensor: "target",
            got: vec![s.len()],
            expected: format!("{shape:?}, the shape of `input`"),
        });
    }
    no_nan("style_loss", "target", s)?;
    let (gf, gs) = (gram(f, shape)?, gram(s, shape)?);
    let red = Reducer::new(reduction, gf.len() as f64);
    let entries: Vec<f64> = gf.iter().zip(&gs).map(|(a, b)| (a - b).powi(2)).collect();
    let d_g: Vec<f64> = gf
        .iter()
        .zip(&gs)
        .map(|(a, b)| 2.0 * (a - b) * red.scale())
        .collect();
    let grad = gram_backward(f, shape, &d_g)?;
    Ok(red.finish(entries, vec![grad]))
}

/// One layer for [`style_loss_layers`]: features F, style features S, their shape, weight w_l.
///
/// ```
/// use gpu_loss::cpu::structured::{style_loss_layers, StyleLayer};
/// let layer = StyleLayer { input: &[1.0, 0.0, 0.0, 1.0], target: &[0.0; 4], shape: &[2, 2], weight: 2.0 };
/// assert_eq!(style_loss_layers(&[layer])?.0, 2.0 / 32.0);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct StyleLayer<'a> {
    /// The features F.
    pub input: &'a [f64],
    /// The style features S.
    pub target: &'a [f64],
    /// Their shape, `[C, M]` or `[B, C, M]`.
    pub shape: &'a [usize],
    /// The layer's weight w_l.
    pub weight: f64,
}

/// style_loss over layers, Σ_l w_l·mse(gram(F_l), gram(S_l)): the total, each layer's weighted
/// term, and d total / d F_l for each layer (the twin of `GpuContext::style_loss`).
///
/// ```
/// use gpu_loss::cpu::structured::{style_loss_layers, StyleLayer};
/// let (eye, zero) = ([1.0, 0.0, 0.0, 1.0], [0.0; 4]);
/// let layer = |weight| StyleLayer { input: &eye, target: &zero, shape: &[2, 2], weight };
/// let (total, terms, grads) = style_loss_layers(&[layer(1.0), layer(3.0)])?;
/// assert_eq!((total, terms), (4.0 / 32.0, vec![1.0 / 32.0, 3.0 / 32.0]));
/// assert_eq!(grads.len(), 2);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn style_loss_layers(layers: &[StyleLayer<'_>]) -> Result<(f64, Vec<f64>, Vec<Vec<f64>>)> {
    let mut terms = Vec::with_capacity(layers.len());
    let mut grads = Vec::with_capacity(layers.len());
    for l in layers {
        let r = style_loss(l.input, l.target, l.shape, Reduction::Mean)?;
        terms.push(l.weight * r.value.unwrap_or(f64::NAN));
        grads.push(r.grads[0].iter().map(|g| l.weight * g).collect());
    }
    Ok((terms.iter().sum(), terms, grads))
}

/// What a sample-weight tensor must hold.
pub const SAMPLE_WEIGHTS: &str = "finite non-negative weights with a positive sum";

/// wasserstein_1d_samples, as scipy.stats.wasserstein_distance: W1 = ∫ |F_u − F_v| over the
/// merged support, F the weighted empirical CDFs. All samples are sorted together by (value,
/// position, u before v) — the GPU's order — and S_e = F_u − F_v just after sample e, so
/// W1 = Σ_e |S_e|·(x_{e+1} − x_e) and d W1 / d x_e = |S_{e−1}| − |S_e| (S_{−1} = S_last = 0).
/// Returns the value and the gradients for u_values and v_values.
///
/// ```
/// use gpu_loss::cpu::structured::wasserstein_1d_samples;
/// // One sample each, at 0 and 3: W1 = 3; moving either toward the other shrinks it.
/// let (w1, du, dv) = wasserstein_1d_samples(&[0.0], &[3.0], None, None)?;
/// assert_eq!((w1, du, dv), (3.0, vec![-1.0], vec![1.0]));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn wasserstein_1d_samples(
    u: &[f64],
    v: &[f64],
    u_weights: Option<&[f64]>,
    v_weights: Option<&[f64]>,
) -> Result<(f64, Vec<f64>, Vec<f64>)> {
    const LOSS: &str = "wasserstein_1d_samples";
    let check = |name: &'static str, values: &[f64], weights: Option<&[f64]>, wname| {
        if values.is_empty() {
            return Err(LossError::ShapeMismatch {
                loss: LOSS,
                tensor: name,
                got: vec![0],
                expected: "[n], n ≥ 1 (a distribution needs a sample)".into(),
            });
        }
        no_nan(LOSS, name, values)?;
        let Some(w) = weights else {
            return Ok(values.len() as f64);
        };
        if w.len() != values.len() {
            return Err(LossError::ShapeMismatch {
                loss: LOSS,
                tensor: wname,
                got: vec![w.len()],
                expected: format!("[{}], the shape of `{name}`", values.len()),
            });
        }
        let outside = |index: usize| LossError::OutOfDomain {
            loss: LOSS,
            tensor: wname,
            index: index as u64,
            domain: SAMPLE_WEIGHTS,
        };
        if let Some(i) = w.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(outside(i));
        }
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            return Err(outside(0));
        }
        Ok(total)
    };
    let total_u = check("u_values", u, u_weights, "u_weights")?;
    let total_v = check("v_values", v, v_weights, "v_weights")?;
    let (n, m) = (u.len(), v.len());
    // Global position k: u's samples first, then v's.
    let value = |k: usize| if k < n { u[k] } else { v[k - n] };
    let step = |k: usize| {
        if k < n {
            u_weights.map_or(1.0, |w| w[k]) / total_u
        } else {
            -v_weights.map_or(1.0, |w| w[k - n]) / total_v
        }
    };
    let mut order: Vec<usize> = (0..n + m).collect();
    // −0 and +0 are one value (total_cmp would order them); no NaN is left by now.
    order.sort_by(|&a, &b| {
        value(a)
            .partial_cmp(&value(b))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut grad_u = vec![0.0; n];
    let mut grad_v = vec![0.0; m];
    let (mut w1, mut s_prev) = (0.0, 0.0f64);
    for (e, &k) in order.iter().enumerate() {
        let last = e + 1 == order.len();
        let s = if last { 0.0 } else { s_prev + step(k) };
        if !last {
            w1 += s.abs() * (value(order[e + 1]) - value(k));
        }
        let g = s_prev.abs() - s.abs();
        if k < n {
            grad_u[k] = g;
        } else {
            grad_v[k - n] = g;
        }
        s_prev = s;
    }
    Ok((w1, grad_u, grad_v))
}
