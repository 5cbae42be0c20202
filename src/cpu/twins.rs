//! The float64 twins of the row and structured losses behind one signature: tensors by name
//! in, the value, the per-row (or per-element) losses and the gradients out. Each catalogue
//! entry names its twin; `cpu::named` resolves the call (tensor names, parameters) from the
//! entry and labels the gradients with the entry's names.

use super::images::{self, SsimParams};
use super::rows::{self, ClassTarget, CrossEntropy, RowResult};
use super::structured;
use crate::error::{LossError, Result};
use crate::npy::{Array, Values};
use crate::params::Reduction;
use crate::tensor::element_count;

/// One call of a twin: its tensors by LOSSES.md name, its parameters resolved in catalogue
/// order (NaN stands for "none"), its reduction.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction};
/// let t = [("input".to_string(), Array { shape: vec![1, 2], values: Float(vec![0.0, 0.0]), dtype: "<f8".into() }),
///          ("target".to_string(), Array { shape: vec![1], values: Int(vec![1]), dtype: "<i8".into() })];
/// let call = TwinCall { loss: "nll", tensors: &t, params: &[-100.0], reduction: Reduction::Mean };
/// assert_eq!(call.need("input")?.shape, [1, 2]);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct TwinCall<'a> {
    /// The loss's name.
    pub loss: &'static str,
    /// Its tensors by name.
    pub tensors: &'a [(String, Array)],
    /// Its parameters, resolved in catalogue order.
    pub params: &'a [f64],
    /// The reduction.
    pub reduction: Reduction,
}

/// What a twin returns: the reduced value (None for `none`), the per-row or per-element
/// losses for `none` with their shape, and the gradients in the entry's `grads` order.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // nll: −input[label] per row, its gradient −1 at the label.
/// let t = [a("input", &[1, 2], Float(vec![-1.0, -2.0])), a("target", &[1], Int(vec![1]))];
/// let r = nll(&TwinCall { loss: "nll", tensors: &t, params: &[-100.0], reduction: Reduction::None })?;
/// assert_eq!((r.value, r.out, r.grads), (None, Some((vec![1], vec![2.0])), vec![vec![0.0, -1.0]]));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct TwinResult {
    /// The reduced value; None for `none`.
    pub value: Option<f64>,
    /// For `none`: the per-row or per-element losses, with their shape.
    pub out: Option<(Vec<usize>, Vec<f64>)>,
    /// The gradients, in the entry's `grads` order.
    pub grads: Vec<Vec<f64>>,
}

/// A loss's float64 twin.
pub type Twin = fn(&TwinCall<'_>) -> Result<TwinResult>;

impl<'a> TwinCall<'a> {
    /// The tensor by this name, if given, its shape checked against its values.
    ///
    /// ```
    /// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction};
    /// let t = [("u".to_string(), Array { shape: vec![3], values: Float(vec![0.0; 2]), dtype: "<f8".into() })];
    /// let call = TwinCall { loss: "wasserstein_1d", tensors: &t, params: &[1.0], reduction: Reduction::Mean };
    /// assert!(call.get("v")?.is_none());
    /// assert!(call.get("u").is_err()); // 2 values for shape [3]
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn get(&self, name: &str) -> Result<Option<&'a Array>> {
        let Some((_, a)) = self.tensors.iter().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        let tensor = format!("{}: {name}", self.loss);
        let held = match &a.values {
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
        };
        if element_count(&tensor, &a.shape)? != held {
            return Err(LossError::Buffer {
                tensor,
                why: format!("{held} values for shape {:?}", a.shape),
            });
        }
        Ok(Some(a))
    }

    /// The tensor by this name, or the missing-tensor error.
    ///
    /// ```
    /// # use gpu_loss::{cpu::twins::*, LossError, Reduction};
    /// let call = TwinCall { loss: "dice", tensors: &[], params: &[], reduction: Reduction::Mean };
    /// assert!(matches!(call.need("input"), Err(LossError::MissingTensor { tensor: "input", .. })));
    /// ```
    pub fn need(&self, name: &'static str) -> Result<&'a Array> {
        self.get(name)?.ok_or(LossError::MissingTensor {
            loss: self.loss,
            tensor: name,
        })
    }

    fn floats(&self, name: &'static str) -> Result<Vec<f64>> {
        self.need(name).map(Array::floats)
    }

    /// Class indices, int32 or int64.
    fn labels(&self, name: &'static str) -> Result<Vec<i64>> {
        let t = self.need(name)?;
        t.ints()
            .map(<[i64]>::to_vec)
            .ok_or_else(|| LossError::Buffer {
                tensor: format!("{}: {name}", self.loss),
                why: format!(
                    "it holds {}, expected int32 or int64 class indices",
                    dtype_name(t)
                ),
            })
    }

    /// `[..., C]` rows of `name`: the values and C.
    fn rows(&self, name: &'static str) -> Result<(&'a Array, Vec<f64>, usize)> {
        let a = self.need(name)?;
        let (_, classes) = rows::class_rows(self.loss, name, &a.shape)?;
        Ok((a, a.floats(), classes))
    }
}

/// An array's dtype as the GPU path's errors name it.
pub(crate) fn dtype_name(a: &Array) -> &str {
    match a.dtype.trim_start_matches(['<', '>', '|', '=']) {
        "f4" => "float32",
        "f8" => "float64",
        "i4" => "int32",
        "i8" => "int64",
        _ => &a.dtype,
    }
}

fn none_if_nan(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// A row loss's result, its per-row losses shaped as `x`'s rows.
fn by_rows(x: &Array, r: RowResult) -> TwinResult {
    let rows_shape = x.shape[..x.shape.len() - 1].to_vec();
    TwinResult {
        value: r.value,
        out: r.rows.map(|v| (rows_shape, v)),
        grads: r.grads,
    }
}

/// cross_entropy's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Equal logits over two classes: ln 2, whatever the label.
/// let t = [a("input", &[1, 2], Float(vec![0.0, 0.0])), a("target", &[1], Int(vec![1]))];
/// let p = [-100.0, 0.0, 0.0, f64::NAN]; // ignore_index, label_smoothing, z_loss, softcap (none)
/// let r = cross_entropy(&TwinCall { loss: "cross_entropy", tensors: &t, params: &p, reduction: Reduction::Mean })?;
/// assert!((r.value.unwrap() - 2f64.ln()).abs() < 1e-15);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn cross_entropy(c: &TwinCall<'_>) -> Result<TwinResult> {
    let p = c.params;
    let opts = CrossEntropy {
        ignore_index: p[0] as i64,
        label_smoothing: p[1],
        z_loss: p[2],
        softcap: none_if_nan(p[3]),
    };
    let (a, x, classes) = c.rows("input")?;
    let t = c.need("target")?;
    let weight = c.get("weight")?.map(Array::floats);
    let (ints, probs);
    let target = match t.ints() {
        Some(v) => {
            ints = v.to_vec();
            ClassTarget::Index(&ints)
        }
        None => {
            probs = t.floats();
            ClassTarget::Probs(&probs)
        }
    };
    let r = rows::cross_entropy(&x, classes, target, weight.as_deref(), &opts, c.reduction)?;
    Ok(by_rows(a, r))
}

/// nll's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Rows of log-probabilities: the mean of −input[label] = (1 + 2) / 2.
/// let t = [a("input", &[2, 2], Float(vec![-1.0, -3.0, -4.0, -2.0])), a("target", &[2], Int(vec![0, 1]))];
/// let r = nll(&TwinCall { loss: "nll", tensors: &t, params: &[-100.0], reduction: Reduction::Mean })?;
/// assert_eq!(r.value, Some(1.5));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn nll(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input")?;
    let weight = c.get("weight")?.map(Array::floats);
    let labels = c.labels("target")?;
    let ignore = c.params[0] as i64;
    let r = rows::nll(&x, classes, &labels, weight.as_deref(), ignore, c.reduction)?;
    Ok(by_rows(a, r))
}

/// sparse_categorical_cross_entropy's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Probabilities [0.5, 0.5], label 0: −ln 0.5.
/// let t = [a("input", &[1, 2], Float(vec![0.5, 0.5])), a("target", &[1], Int(vec![0]))];
/// let call = TwinCall { loss: "sparse_categorical_cross_entropy", tensors: &t, params: &[f64::NAN], reduction: Reduction::Mean };
/// assert!((sparse_categorical_cross_entropy(&call)?.value.unwrap() - 2f64.ln()).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn sparse_categorical_cross_entropy(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input")?;
    let labels = c.labels("target")?;
    let ignore = none_if_nan(c.params[0]).map(|v| v as i64);
    let r = rows::sparse_categorical_cross_entropy(&x, classes, &labels, ignore, c.reduction)?;
    Ok(by_rows(a, r))
}

/// categorical_cross_entropy's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Probabilities [0.5, 0.5], one-hot target [1, 0]: −ln 0.5.
/// let t = [a("input", &[1, 2], Float(vec![0.5, 0.5])), a("target", &[1, 2], Float(vec![1.0, 0.0]))];
/// let call = TwinCall { loss: "categorical_cross_entropy", tensors: &t, params: &[0.0], reduction: Reduction::Mean };
/// assert!((categorical_cross_entropy(&call)?.value.unwrap() - 2f64.ln()).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn categorical_cross_entropy(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input")?;
    let y = c.floats("target")?;
    let r = rows::categorical_cross_entropy(&x, classes, &y, c.params[0], c.reduction)?;
    Ok(by_rows(a, r))
}

/// js_div's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Disjoint P = [1, 0] and Q = [0, 1]: M = [½, ½], JSD = ½·ln 2 + ½·ln 2.
/// let t = [a("input", &[1, 2], Float(vec![1.0, 0.0])), a("target", &[1, 2], Float(vec![0.0, 1.0]))];
/// let r = js_div(&TwinCall { loss: "js_div", tensors: &t, params: &[0.5, 0.0], reduction: Reduction::Mean })?;
/// assert!((r.value.unwrap() - 2f64.ln()).abs() < 1e-6);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn js_div(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input")?;
    let y = c.floats("target")?;
    let p = c.params;
    let r = rows::js_div(&x, classes, &y, p[0], p[1] != 0.0, c.reduction)?;
    Ok(by_rows(a, r))
}

/// cosine_similarity's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // −cos: −1 for parallel rows, 0 for orthogonal ones.
/// let t = [a("input", &[2, 2], Float(vec![3.0, 4.0, 1.0, 0.0])), a("target", &[2, 2], Float(vec![6.0, 8.0, 0.0, 2.0]))];
/// let r = cosine_similarity(&TwinCall { loss: "cosine_similarity", tensors: &t, params: &[1e-7], reduction: Reduction::None })?;
/// assert_eq!(r.out, Some((vec![2], vec![-1.0, 0.0])));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn cosine_similarity(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input")?;
    let y = c.floats("target")?;
    let r = rows::cosine_similarity(&x, classes, &y, c.params[0], c.reduction)?;
    Ok(by_rows(a, r))
}

/// dice's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Rows that do not overlap: 1 − 2·0 / (Σx + Σy + 1e-7) = 1.
/// let t = [a("input", &[1, 2], Float(vec![1.0, 0.0])), a("target", &[1, 2], Float(vec![0.0, 1.0]))];
/// let r = dice(&TwinCall { loss: "dice", tensors: &t, params: &[], reduction: Reduction::Mean })?;
/// assert_eq!(r.value, Some(1.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn dice(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input")?;
    let y = c.floats("target")?;
    Ok(by_rows(a, rows::dice(&x, classes, &y, c.reduction)?))
}

/// cosine_embedding's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // Label 1: 1 − cos(x1, x2) = 1 for orthogonal rows.
/// let t = [a("input1", &[1, 2], Float(vec![1.0, 0.0])), a("input2", &[1, 2], Float(vec![0.0, 1.0])),
///          a("target", &[1], Float(vec![1.0]))];
/// let r = cosine_embedding(&TwinCall { loss: "cosine_embedding", tensors: &t, params: &[0.0], reduction: Reduction::Mean })?;
/// assert!((r.value.unwrap() - 1.0).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn cosine_embedding(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("input1")?;
    let (x2, labels) = (c.floats("input2")?, c.floats("target")?);
    let r = rows::cosine_embedding(&x, &x2, classes, &labels, c.params[0], c.reduction)?;
    Ok(by_rows(a, r))
}

/// triplet_margin's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // d(a, p) = 3, d(a, n) = 4, margin 2: max(3 − 4 + 2, 0) = 1.
/// let t = [a("anchor", &[1, 2], Float(vec![0.0, 0.0])), a("positive", &[1, 2], Float(vec![3.0, 0.0])),
///          a("negative", &[1, 2], Float(vec![0.0, 4.0]))];
/// let p = [2.0, 2.0, 0.0, 0.0]; // margin, p, eps, swap
/// let r = triplet_margin(&TwinCall { loss: "triplet_margin", tensors: &t, params: &p, reduction: Reduction::Mean })?;
/// assert_eq!(r.value, Some(1.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn triplet_margin(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, classes) = c.rows("anchor")?;
    let (pos, neg) = (c.floats("positive")?, c.floats("negative")?);
    let p = c.params;
    let r = rows::triplet_margin(
        &x,
        &pos,
        &neg,
        classes,
        p[0],
        p[1],
        p[2],
        p[3] != 0.0,
        c.reduction,
    )?;
    Ok(by_rows(a, r))
}

/// total_variation's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction};
/// // [[0, 1], [3, 5]]: right differences 1 and 2, down differences 3 and 4.
/// let t = [("input".to_string(), Array { shape: vec![2, 2], values: Float(vec![0.0, 1.0, 3.0, 5.0]), dtype: "<f8".into() })];
/// let r = total_variation(&TwinCall { loss: "total_variation", tensors: &t, params: &[1.0], reduction: Reduction::Sum })?;
/// assert_eq!(r.value, Some(10.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn total_variation(c: &TwinCall<'_>) -> Result<TwinResult> {
    let x = c.need("input")?;
    let r = structured::total_variation(&x.floats(), &x.shape, c.params[0], c.reduction)?;
    Ok(TwinResult {
        value: r.value,
        out: r.rows.map(|v| (x.shape.clone(), v)),
        grads: r.grads,
    })
}

/// wasserstein_1d's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // All the mass moves two bins: W1 = 2·dx.
/// let t = [a("u", &[1, 3], Float(vec![1.0, 0.0, 0.0])), a("v", &[1, 3], Float(vec![0.0, 0.0, 1.0]))];
/// let r = wasserstein_1d(&TwinCall { loss: "wasserstein_1d", tensors: &t, params: &[1.0], reduction: Reduction::Mean })?;
/// assert_eq!(r.value, Some(2.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn wasserstein_1d(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (u, v) = (c.need("u")?, c.need("v")?);
    let (_, classes) = structured::histogram_rows(&u.shape, &v.shape)?;
    let r =
        structured::wasserstein_1d(&u.floats(), &v.floats(), classes, c.params[0], c.reduction)?;
    let rows_shape = u.shape[..u.shape.len() - 1].to_vec();
    Ok(TwinResult {
        value: r.value,
        out: r.rows.map(|v| (rows_shape, v)),
        grads: r.grads,
    })
}

/// wasserstein_1d_samples's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // One sample each, at 0 and 3: the distance is 3.
/// let t = [a("u_values", &[1], Float(vec![0.0])), a("v_values", &[1], Float(vec![3.0]))];
/// let r = wasserstein_1d_samples(&TwinCall { loss: "wasserstein_1d_samples", tensors: &t, params: &[], reduction: Reduction::Mean })?;
/// assert_eq!(r.value, Some(3.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn wasserstein_1d_samples(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (u, v) = (c.need("u_values")?, c.need("v_values")?);
    let weights = |name| c.get(name).map(|w| w.map(Array::floats));
    let (uw, vw) = (weights("u_weights")?, weights("v_weights")?);
    let (w1, gu, gv) =
        structured::wasserstein_1d_samples(&u.floats(), &v.floats(), uw.as_deref(), vw.as_deref())?;
    // One distance: `none` gives it as a one-element output.
    let none = c.reduction == Reduction::None;
    Ok(TwinResult {
        value: (!none).then_some(w1),
        out: none.then(|| (vec![1], vec![w1])),
        grads: vec![gu, gv],
    })
}

/// G's shape for features `[C, M]` or `[B, C, M]`.
fn gram_shape(shape: &[usize]) -> Vec<usize> {
    match *shape {
        [b, c, _] => vec![b, c, c],
        [c, _] => vec![c, c],
        _ => shape.to_vec(),
    }
}

/// gram's per-element output is G whatever the reduction (the GPU's `elements` too).
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction};
/// // F = I (C = M = 2): G = F·Fᵀ / (C·M) = I / 4.
/// let t = [("input".to_string(), Array { shape: vec![2, 2], values: Float(vec![1.0, 0.0, 0.0, 1.0]), dtype: "<f8".into() })];
/// let r = gram(&TwinCall { loss: "gram", tensors: &t, params: &[], reduction: Reduction::None })?;
/// assert_eq!(r.out, Some((vec![2, 2], vec![0.25, 0.0, 0.0, 0.25])));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn gram(c: &TwinCall<'_>) -> Result<TwinResult> {
    let x = c.need("input")?;
    let f = x.floats();
    let r = structured::gram_loss(&f, &x.shape, c.reduction)?;
    Ok(TwinResult {
        value: r.value,
        out: Some((gram_shape(&x.shape), structured::gram(&f, &x.shape)?)),
        grads: r.grads,
    })
}

/// style_loss's float64 twin.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // gram(I) = I / 4 against gram(0) = 0: mse over 4 entries = 2 · (1/4)² / 4.
/// let t = [a("input", &[2, 2], Float(vec![1.0, 0.0, 0.0, 1.0])), a("target", &[2, 2], Float(vec![0.0; 4]))];
/// let r = style_loss(&TwinCall { loss: "style_loss", tensors: &t, params: &[], reduction: Reduction::Mean })?;
/// assert_eq!(r.value, Some(1.0 / 32.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn style_loss(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (x, t) = (c.need("input")?, c.need("target")?);
    let r = structured::style_loss(&x.floats(), &t.floats(), &x.shape, c.reduction)?;
    Ok(TwinResult {
        value: r.value,
        out: r.rows.map(|v| (gram_shape(&x.shape), v)),
        grads: r.grads,
    })
}

/// `input` and `target` of one image shape, as float64.
fn image_pair<'a>(c: &TwinCall<'a>) -> Result<(&'a Array, Vec<f64>, Vec<f64>)> {
    let (x, y) = (c.need("input")?, c.need("target")?);
    if y.shape != x.shape {
        return Err(LossError::ShapeMismatch {
            loss: c.loss,
            tensor: "target",
            got: y.shape.clone(),
            expected: format!("{:?}, the shape of `input`", x.shape),
        });
    }
    Ok((x, x.floats(), y.floats()))
}

/// window, sigma, k1, k2, data_range in catalogue order; the window must be a whole number
/// before it is one.
fn ssim_params(c: &TwinCall<'_>, same: bool) -> Result<SsimParams> {
    let p = c.params;
    if !(p[0].fract() == 0.0 && (0.0..=1e9).contains(&p[0])) {
        return Err(LossError::InvalidParam {
            loss: c.loss,
            name: "window",
            value: p[0].to_string(),
            rule: crate::params::Rule::Window.describe(),
        });
    }
    Ok(SsimParams {
        window: p[0] as usize,
        sigma: p[1],
        k1: p[2],
        k2: p[3],
        data_range: p[4],
        same,
    })
}

/// One value per image: [N] for `[N, C, H, W]`, [1] for one image.
fn by_images(x: &Array, loss: &'static str, r: RowResult) -> Result<TwinResult> {
    let n = images::image_dims(loss, "input", &x.shape)?.images;
    Ok(TwinResult {
        value: r.value,
        out: r.rows.map(|v| (vec![n], v)),
        grads: r.grads,
    })
}

/// params: window, sigma, k1, k2, data_range, padding (0 valid, 1 same). `none` gives the map
/// in the input's rank, its last two axes the map's.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // An image against itself: SSIM 1 (3 × 3 valid windows on 4 × 4: a 2 × 2 map).
/// let x: Vec<f64> = (0..16).map(|i| i as f64 / 16.0).collect();
/// let t = [a("input", &[1, 1, 4, 4], Float(x.clone())), a("target", &[1, 1, 4, 4], Float(x))];
/// let p = [3.0, 1.5, 0.01, 0.03, 1.0, 0.0]; // window, sigma, k1, k2, data_range, padding (valid)
/// let r = ssim(&TwinCall { loss: "ssim", tensors: &t, params: &p, reduction: Reduction::None })?;
/// assert!(r.out.unwrap().1.iter().all(|v| (v - 1.0).abs() < 1e-12));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn ssim(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, y) = image_pair(c)?;
    let same = match c.params[5] {
        0.0 => false,
        1.0 => true,
        v => {
            return Err(LossError::InvalidParam {
                loss: c.loss,
                name: "padding",
                value: v.to_string(),
                rule: "valid (0) or same (1)",
            })
        }
    };
    let p = ssim_params(c, same)?;
    let r = images::ssim(&x, &y, &a.shape, &p, c.reduction)?;
    let mut map_shape = a.shape.clone();
    if !same {
        // ssim succeeded: the shape has H and W last, each at least the window.
        let rank = map_shape.len();
        for d in &mut map_shape[rank - 2..] {
            *d = *d + 1 - p.window;
        }
    }
    Ok(TwinResult {
        value: r.value,
        out: r.rows.map(|v| (map_shape, v)),
        grads: r.grads,
    })
}

/// params: window, sigma, k1, k2, data_range (padding valid).
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // An image against itself: 1 at every scale (3 × 3 windows fit the fifth scale of 48 × 48).
/// let x: Vec<f64> = (0..48 * 48).map(|i| (i % 7) as f64 / 7.0).collect();
/// let t = [a("input", &[1, 1, 48, 48], Float(x.clone())), a("target", &[1, 1, 48, 48], Float(x))];
/// let p = [3.0, 1.5, 0.01, 0.03, 1.0]; // window, sigma, k1, k2, data_range
/// let r = ms_ssim(&TwinCall { loss: "ms_ssim", tensors: &t, params: &p, reduction: Reduction::Mean })?;
/// assert!((r.value.unwrap() - 1.0).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn ms_ssim(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, y) = image_pair(c)?;
    let p = ssim_params(c, false)?;
    let r = images::ms_ssim(&x, &y, &a.shape, &p, c.reduction)?;
    by_images(a, c.loss, r)
}

/// params: data_range.
///
/// ```
/// # use gpu_loss::{cpu::twins::*, npy::{Array, Values::*}, Reduction}; let a = |n: &str, s: &[usize], v| (n.to_string(), Array { shape: s.to_vec(), values: v, dtype: "<f8".into() });
/// // mse = 0.5² against data_range 1: 10·log10(1 / 0.25) = 20·log10 2.
/// let t = [a("input", &[1, 1, 1, 2], Float(vec![0.0, 0.0])), a("target", &[1, 1, 1, 2], Float(vec![0.5, 0.5]))];
/// let r = psnr(&TwinCall { loss: "psnr", tensors: &t, params: &[1.0], reduction: Reduction::Mean })?;
/// assert!((r.value.unwrap() - 20.0 * 2f64.log10()).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn psnr(c: &TwinCall<'_>) -> Result<TwinResult> {
    let (a, x, y) = image_pair(c)?;
    let r = images::psnr(&x, &y, &a.shape, c.params[0], c.reduction)?;
    by_images(a, c.loss, r)
}
