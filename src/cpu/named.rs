//! The float64 reference of any loss of the catalogue, from tensors given by their LOSSES.md
//! names (as `gpu-loss eval --backend cpu` and the conformance cases give them): the entry
//! says which tensors it takes and which twin computes it.

use super::rows::{self, ClassTarget, CrossEntropy};
use super::twins::{dtype_name, TwinCall, TwinResult};
use super::{evaluate, Compensated, Inputs};
use crate::catalogue::{self, Elementwise, Loss, Objective, Term};
use crate::error::{LossError, Result};
use crate::npy::Array;
use crate::params::{self, ParamValue, Reduction};
use crate::problem::{Problem, Shapes};
use crate::status::Names;

/// What the reference gives: the reduced value (None for `none`), the per-element or per-row
/// losses for `none` with their shape, and each gradient by its tensor's name.
///
/// ```
/// # use gpu_loss::{cpu::named::evaluate_named, npy::{Array, Values}, Reduction};
/// # let a = |n: &str, v: Vec<f64>| (n.to_string(), Array { shape: vec![v.len()], values: Values::Float(v), dtype: "<f4".into() });
/// let t = [a("input", vec![1.0, 2.0]), a("target", vec![0.0, 0.0])];
/// let r = evaluate_named("mse", &t, &[], Reduction::None)?;
/// assert_eq!((r.value, r.out), (None, Some((vec![2], vec![1.0, 4.0]))));
/// assert_eq!(r.grads, [("input", vec![2.0, 4.0])]); // of the sum, for `none`
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct NamedResult {
    /// The reduced value; None for `none`.
    pub value: Option<f64>,
    /// For `none`: the per-element or per-row losses, with their shape.
    pub out: Option<(Vec<usize>, Vec<f64>)>,
    /// Each gradient, by its tensor's name.
    pub grads: Vec<(&'static str, Vec<f64>)>,
    /// An objective's terms: each one's contribution to `value`.
    pub terms: Vec<(&'static str, f64)>,
}

/// Evaluates `loss` on `tensors` (name, array) with the given parameters and reduction.
///
/// ```
/// use gpu_loss::{cpu::named::evaluate_named, npy::{Array, Values}, params::ParamValue, Reduction};
/// let a = |n: &str, v: Vec<f64>| (n.to_string(), Array { shape: vec![v.len()], values: Values::Float(v), dtype: "<f4".into() });
/// let t = [a("input", vec![3.0, 0.5]), a("target", vec![0.0, 0.0])];
/// let delta = [("delta".to_string(), ParamValue::Number(1.0))];
/// // huber: δ(|e| − δ/2) = 2.5 and e²/2 = 0.125
/// assert_eq!(evaluate_named("huber", &t, &delta, Reduction::Sum)?.value, Some(2.625));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn evaluate_named(
    loss: &str,
    tensors: &[(String, Array)],
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    let found = catalogue::find(loss).ok_or_else(|| LossError::UnknownLoss(loss.to_string()))?;
    evaluate_loss(found, tensors, given, reduction)
}

/// Evaluates `found` (a catalogue entry or a custom loss) as `evaluate_named` does.
///
/// ```
/// use gpu_loss::{catalogue::custom, catalogue::Loss, cpu::named::evaluate_loss, npy::{Array, Values}, Reduction};
/// let a = |n: &str, v: Vec<f64>| (n.to_string(), Array { shape: vec![v.len()], values: Values::Float(v), dtype: "<f4".into() });
/// let cube = Loss::Elementwise(custom::formula("cube", "(x - y)^3")?);
/// let t = [a("input", vec![2.0]), a("target", vec![0.0])];
/// let r = evaluate_loss(cube, &t, &[], Reduction::Mean)?;
/// assert_eq!((r.value, &r.grads[0].1), (Some(8.0), &vec![12.0])); // e³, 3e²
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn evaluate_loss(
    found: Loss,
    tensors: &[(String, Array)],
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    let takes = found.tensors();
    if let Some((name, _)) = tensors
        .iter()
        .find(|(n, _)| !takes.iter().any(|t| t.name == n))
    {
        return Err(LossError::UnexpectedTensor {
            loss: found.name(),
            tensor: name.clone(),
            takes: takes.iter().map(|t| t.name).collect::<Vec<_>>().join(", "),
        });
    }
    let twin = |twin: super::twins::Twin, structured: bool| {
        let p = params::resolve(found.name(), found.params(), given)?;
        if structured {
            params::no_batchmean(found.name(), reduction)?;
        }
        let r = twin(&TwinCall {
            loss: found.name(),
            tensors,
            params: &p,
            reduction,
        })?;
        Ok(named(found, r))
    };
    match found {
        Loss::Elementwise(l) => elementwise(l, tensors, given, reduction),
        Loss::Row(l) => twin(l.twin, false),
        Loss::Structured(s) => twin(s.twin, true),
        Loss::Objective(o) => objective(o, tensors, given, reduction),
    }
}

/// A twin's result with its gradients named as the entry names them.
fn named(loss: Loss, r: TwinResult) -> NamedResult {
    NamedResult {
        value: r.value,
        out: r.out,
        grads: loss.grad_tensors().into_iter().zip(r.grads).collect(),
        terms: Vec::new(),
    }
}

fn get<'a>(tensors: &'a [(String, Array)], name: &str) -> Option<&'a Array> {
    tensors.iter().find(|(n, _)| n == name).map(|t| &t.1)
}

fn need<'a>(
    loss: &'static str,
    tensors: &'a [(String, Array)],
    name: &'static str,
) -> Result<&'a Array> {
    get(tensors, name).ok_or(LossError::MissingTensor { loss, tensor: name })
}

/// Sections A and B: the element function through `cpu::evaluate`, the kernel's twin.
fn elementwise(
    l: &'static Elementwise,
    tensors: &[(String, Array)],
    given: &[(String, ParamValue)],
    reduction: Reduction,
) -> Result<NamedResult> {
    let (input, target) = (
        need(l.name, tensors, "input")?,
        need(l.name, tensors, "target")?,
    );
    let weight = get(tensors, "weight");
    let aux = l.aux.and_then(|a| get(tensors, a.name));
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

/// An objective as the GPU runs it: the catalogue's terms, each by its float64 twin,
/// weighted and summed. `terms` are the weighted contributions.
fn objective(
    o: &'static Objective,
    tensors: &[(String, Array)],
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
    for t in o.tensors {
        need(o.name, tensors, t.name)?;
    }
    let p = params::resolve(o.name, o.params, given)?;
    let mut value = Compensated::default();
    let mut terms = Vec::new();
    let mut grads: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for t in (o.terms)(&p) {
        let x = need(o.name, tensors, t.input)?;
        let y = need(o.name, tensors, t.target.unwrap_or(t.input))?;
        let words = Names::composite(o.name, t.input, t.target.unwrap_or(t.input));
        let (v, g) = term(o, &t, x, y).map_err(|e| words.reword(t.loss, e))?;
        value.add(v);
        terms.push((t.name, v));
        if o.grads.contains(&t.input) {
            // Terms on one tensor (splatting's l1 and dssim) add their gradients.
            match grads.iter_mut().find(|(n, _)| *n == t.input) {
                Some((_, sum)) => sum.iter_mut().zip(&g).for_each(|(s, g)| *s += g),
                None => grads.push((t.input, g)),
            }
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

/// One term's weighted mean (or weighted 1 − mean) and the gradient of that for its input.
fn term(o: &'static Objective, t: &Term, x: &Array, y: &Array) -> Result<(f64, Vec<f64>)> {
    let indices = o
        .tensors
        .iter()
        .any(|s| Some(s.name) == t.target && s.holds.takes_indices());
    if catalogue::elementwise(t.loss).is_none() && indices {
        // The classification terms: cross_entropy on class indices.
        let labels = y.ints().ok_or_else(|| LossError::Buffer {
            tensor: format!("{}: {}", o.name, t.target.unwrap_or("target")),
            why: format!(
                "it holds {}, expected int32 or int64 class indices",
                dtype_name(y)
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
        let g = r.grads[0].iter().map(|g| g * t.weight).collect();
        return Ok((r.value.unwrap_or(f64::NAN) * t.weight, g));
    }
    let Some(l) = catalogue::elementwise(t.loss) else {
        // ssim: the entry's own twin.
        let tensors = [
            ("input".to_string(), x.clone()),
            ("target".to_string(), y.clone()),
        ];
        let params: Vec<_> = t
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), ParamValue::parse(v)))
            .collect();
        let r = evaluate_named(t.loss, &tensors, &params, Reduction::Mean)?;
        let v = r.value.unwrap_or(f64::NAN);
        let (v, sign) = if t.one_minus {
            (1.0 - v, -1.0)
        } else {
            (v, 1.0)
        };
        let g = r.grads.into_iter().next().map(|g| g.1).unwrap_or_default();
        return Ok((
            v * t.weight,
            g.iter().map(|g| sign * g * t.weight).collect(),
        ));
    };
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
    Ok((r.value.unwrap_or(f64::NAN), r.grad.unwrap_or_default()))
}
