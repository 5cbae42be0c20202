//! The float64 reference of any loss of the catalogue, from tensors given by their LOSSES.md
//! names (as `gpu-loss eval --backend cpu` and the conformance cases give them).

use super::rows::{self, ClassTarget, CrossEntropy, RowResult};
use super::structured;
use super::{evaluate, Compensated, Inputs};
use crate::catalogue::{self, Loss, Objective, RowLoss, Structured};
use crate::error::{LossError, Result};
use crate::npy::Array;
use crate::params::{self, ParamValue, Reduction};
use crate::problem::{Problem, Shapes};

/// What the reference gives: the reduced value (None for `none`), the per-element or per-row
/// losses for `none` with their shape, and each gradient by its tensor's name.
#[derive(Clone, Debug)]
pub struct NamedResult {
    pub value: Option<f64>,
    pub out: Option<(Vec<usize>, Vec<f64>)>,
    pub grads: Vec<(&'static str, Vec<f64>)>,
    /// An objective's terms: each one's contribution to `value`.
    pub terms: Vec<(&'static str, f64)>,
}

/// Evaluates `loss` on `tensors` (name, array) with the given parameters and reduction.
pub fn evaluate_named(
    loss: &str,
    tensors: &[(String, Array)],
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    let found = catalogue::find(loss).ok_or_else(|| LossError::UnknownLoss(loss.to_string()))?;
    let takes: Vec<&str> = match found {
        Loss::Elementwise(l) => ["input", "target", "weight"]
            .into_iter()
            .chain(l.aux.map(|a| a.name))
            .collect(),
        Loss::Row(l) => l.tensors.to_vec(),
        Loss::Objective(o) => o.tensors.to_vec(),
        Loss::Structured(s) => s.tensors.to_vec(),
    };
    if let Some((name, _)) = tensors.iter().find(|(n, _)| !takes.contains(&n.as_str())) {
        return Err(LossError::UnexpectedTensor {
            loss: found.name(),
            tensor: name.clone(),
            takes: takes.join(", "),
        });
    }
    let get = |name: &str| tensors.iter().find(|(n, _)| n == name).map(|t| &t.1);
    match found {
        Loss::Elementwise(l) => {
            let need = |name: &'static str| {
                get(name).ok_or(LossError::MissingTensor {
                    loss: l.name,
                    tensor: name,
                })
            };
            let (input, target) = (need("input")?, need("target")?);
            let weight = get("weight");
            let aux = l.aux.and_then(|a| get(a.name));
            let p = Problem::new(
                l,
                Shapes {
                    input: &input.shape,
                    target: &target.shape,
                    weight: weight.map(|w| w.shape.as_slice()),
                    aux: aux.map(|a| a.shape.as_slice()),
                },
                given,
                reduction,
            )?;
            let (x, y) = (input.floats(), target.floats());
            let (w, a) = (weight.map(Array::floats), aux.map(Array::floats));
            let r = evaluate(
                &p,
                &Inputs {
                    input: &x,
                    target: &y,
                    weight: w.as_deref(),
                    aux: a.as_deref(),
                },
                true,
            )?;
            Ok(NamedResult {
                value: r.value,
                out: r.elements.map(|e| (input.shape.clone(), e)),
                grads: vec![("input", r.grad.unwrap_or_default())],
                terms: Vec::new(),
            })
        }
        Loss::Row(l) => row_loss(l, &get, given, reduction),
        Loss::Objective(o) => objective(o, &get, given, reduction),
        Loss::Structured(s) => structured(s, &get, given, reduction),
    }
}

/// Sections D and F with kernels of their own: their float64 twins in cpu::structured.
fn structured<'a>(
    s: &'static Structured,
    get: &dyn Fn(&str) -> Option<&'a Array>,
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    let need = |name: &'static str| {
        get(name).ok_or(LossError::MissingTensor {
            loss: s.name,
            tensor: name,
        })
    };
    let p = params::resolve(s.name, s.params, given)?;
    params::no_batchmean(s.name, reduction)?;
    let (r, out_shape) = match s.name {
        "total_variation" => {
            let x = need("input")?;
            let r = structured::total_variation(&x.floats(), &x.shape, p[0], reduction)?;
            (r, x.shape.clone())
        }
        "wasserstein_1d" => {
            let (u, v) = (need("u")?, need("v")?);
            if u.shape != v.shape {
                return Err(LossError::ShapeMismatch {
                    loss: s.name,
                    tensor: "v",
                    got: v.shape.clone(),
                    expected: format!("{:?}, the shape of `u`", u.shape),
                });
            }
            let classes = *u.shape.last().unwrap_or(&0);
            let r = structured::wasserstein_1d(&u.floats(), &v.floats(), classes, p[0], reduction)?;
            (r, u.shape[..u.shape.len().saturating_sub(1)].to_vec())
        }
        "wasserstein_1d_samples" => {
            let (u, v) = (need("u_values")?, need("v_values")?);
            let weights = |name| get(name).map(|a| a.floats());
            let (uw, vw) = (weights("u_weights"), weights("v_weights"));
            let (w1, gu, gv) = structured::wasserstein_1d_samples(
                &u.floats(),
                &v.floats(),
                uw.as_deref(),
                vw.as_deref(),
            )?;
            // One distance: `none` gives it as a one-element output.
            let none = reduction == Reduction::None;
            let r = RowResult {
                value: (!none).then_some(w1),
                rows: none.then(|| vec![w1]),
                grads: vec![gu, gv],
            };
            (r, vec![1])
        }
        _ => {
            let x = need("input")?;
            let g_shape = match *x.shape.as_slice() {
                [b, c, _] => vec![b, c, c],
                [c, _] => vec![c, c],
                _ => x.shape.clone(),
            };
            let r = if s.name == "gram" {
                structured::gram_loss(&x.floats(), &x.shape, reduction)?
            } else {
                let t = need("target")?;
                structured::style_loss(&x.floats(), &t.floats(), &x.shape, reduction)?
            };
            (r, g_shape)
        }
    };
    // gram's per-element output is G whatever the reduction (the GPU's `elements` too).
    let out = match (s.name, r.rows) {
        ("gram", _) => Some(structured::gram(
            &need("input")?.floats(),
            &need("input")?.shape,
        )?),
        (_, rows) => rows,
    };
    Ok(NamedResult {
        value: r.value,
        out: out.map(|v| (out_shape, v)),
        grads: s.grads.iter().copied().zip(r.grads).collect(),
        terms: Vec::new(),
    })
}

/// An objective as the GPU runs it (src/objective.rs): the same terms, each by its float64
/// twin, weighted and summed. `terms` are the weighted contributions.
fn objective<'a>(
    o: &'static Objective,
    get: &dyn Fn(&str) -> Option<&'a Array>,
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    if reduction != Reduction::Mean {
        return Err(LossError::Reduction {
            loss: o.name,
            reduction: reduction.name().into(),
            why: "an objective is a weighted sum of means",
        });
    }
    let need = |name: &'static str| {
        get(name).ok_or(LossError::MissingTensor {
            loss: o.name,
            tensor: name,
        })
    };
    for &name in o.tensors {
        need(name)?;
    }
    let p = params::resolve(o.name, o.params, given)?;
    let mut value = Compensated::default();
    let mut terms = Vec::new();
    let mut grads = Vec::new();
    for t in crate::objective::terms(o, &p) {
        let x = need(t.input)?;
        let y = need(t.target.unwrap_or(t.input))?;
        let (v, g) = if t.loss == "cross_entropy" {
            let labels = y.ints().ok_or_else(|| LossError::Buffer {
                tensor: format!("{}: {}", o.name, t.target.unwrap_or("target")),
                why: format!(
                    "it holds {}, expected int32 or int64 class indices",
                    y.dtype
                ),
            })?;
            let classes = *x.shape.last().unwrap_or(&0);
            let r = rows::cross_entropy(
                &x.floats(),
                classes,
                ClassTarget::Index(labels),
                None,
                &CrossEntropy::default(),
                Reduction::Mean,
            )?;
            let scale = t.weight;
            let g: Vec<f64> = r.grads[0].iter().map(|g| g * scale).collect();
            (r.value.unwrap_or(f64::NAN) * scale, g)
        } else {
            let l = catalogue::elementwise(t.loss).expect("terms name catalogue entries");
            let mut p = Problem::new(
                l,
                Shapes {
                    input: &x.shape,
                    target: &y.shape,
                    weight: None,
                    aux: None,
                },
                &[],
                Reduction::Mean,
            )?;
            p.scale = t.weight;
            let (xs, ys) = (x.floats(), y.floats());
            let inputs = Inputs {
                input: &xs,
                target: &ys,
                weight: None,
                aux: None,
            };
            let r = evaluate(&p, &inputs, true)?;
            (r.value.unwrap_or(f64::NAN), r.grad.unwrap_or_default())
        };
        value.add(v);
        terms.push((t.name, v));
        if o.grads.contains(&t.input) {
            grads.push((t.input, g));
        }
    }
    let ordered = o
        .grads
        .iter()
        .filter_map(|name| grads.iter().find(|(n, _)| n == name).cloned())
        .collect();
    Ok(NamedResult {
        value: Some(value.value()),
        out: None,
        grads: ordered,
        terms,
    })
}

fn row_loss<'a>(
    l: &'static RowLoss,
    get: &dyn Fn(&str) -> Option<&'a Array>,
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    let need = |name: &'static str| {
        get(name).ok_or(LossError::MissingTensor {
            loss: l.name,
            tensor: name,
        })
    };
    // Parameters in catalogue order; NaN stands for "none" (softcap, ignore_class).
    let p = params::resolve(l.name, l.params, given)?;
    let first = l.grad_tensors().next().unwrap_or("input");
    let x_arr = need(first)?;
    let classes = *x_arr.shape.last().ok_or_else(|| LossError::ShapeMismatch {
        loss: l.name,
        tensor: first,
        got: vec![],
        expected: "[N, C] (at least one axis)".into(),
    })?;
    let x = x_arr.floats();
    let floats = |name| need(name).map(Array::floats);
    let labels = |name: &'static str| -> Result<Vec<i64>> {
        let t = need(name)?;
        t.ints()
            .map(<[i64]>::to_vec)
            .ok_or_else(|| LossError::Buffer {
                tensor: format!("{}: {name}", l.name),
                why: format!(
                    "it holds {}, expected int32 or int64 class indices",
                    t.dtype
                ),
            })
    };
    let weight = get("weight").map(Array::floats);
    let none_if_nan = |v: f64| (!v.is_nan()).then_some(v);
    let r: RowResult = match l.name {
        "cross_entropy" => {
            let opts = CrossEntropy {
                ignore_index: p[0] as i64,
                label_smoothing: p[1],
                z_loss: p[2],
                softcap: none_if_nan(p[3]),
            };
            let t = need("target")?;
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
            rows::cross_entropy(&x, classes, target, weight.as_deref(), &opts, reduction)?
        }
        "nll" => rows::nll(
            &x,
            classes,
            &labels("target")?,
            weight.as_deref(),
            p[0] as i64,
            reduction,
        )?,
        "sparse_categorical_cross_entropy" => rows::sparse_categorical_cross_entropy(
            &x,
            classes,
            &labels("target")?,
            none_if_nan(p[0]).map(|v| v as i64),
            reduction,
        )?,
        "categorical_cross_entropy" => {
            rows::categorical_cross_entropy(&x, classes, &floats("target")?, p[0], reduction)?
        }
        "js_div" => rows::js_div(
            &x,
            classes,
            &floats("target")?,
            p[0],
            p[1] != 0.0,
            reduction,
        )?,
        "cosine_similarity" => {
            rows::cosine_similarity(&x, classes, &floats("target")?, p[0], reduction)?
        }
        "dice" => rows::dice(&x, classes, &floats("target")?, reduction)?,
        "cosine_embedding" => rows::cosine_embedding(
            &x,
            &floats("input2")?,
            classes,
            &floats("target")?,
            p[0],
            reduction,
        )?,
        "triplet_margin" => rows::triplet_margin(
            &x,
            &floats("positive")?,
            &floats("negative")?,
            classes,
            p[0],
            p[1],
            p[2],
            p[3] != 0.0,
            reduction,
        )?,
        other => return Err(LossError::UnknownLoss(other.to_string())),
    };
    let rows_shape = x_arr.shape[..x_arr.shape.len() - 1].to_vec();
    Ok(NamedResult {
        value: r.value,
        out: r.rows.map(|v| (rows_shape, v)),
        grads: l.grad_tensors().zip(r.grads).collect(),
        terms: Vec::new(),
    })
}
