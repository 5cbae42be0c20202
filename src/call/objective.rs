//! Section E's objectives as composites of the family adapters: each term of the catalogue's
//! `terms` is recorded into one encoder, writing its weighted value into one element of a
//! terms tensor and (when asked) the gradient of the total for its prediction tensor; then
//! read back together (one submission, one readback) or summed on the GPU.

use super::family;
use super::readback::{submit_recorded, Computed, Recorded};
use super::request::{Output, Request};
use crate::catalogue::{self, Loss, Objective, Term};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::mapping::Drive;
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::Tensor;

/// An objective's terms recorded into one encoder: each term's call (its weighted value in
/// `values[i]`), and the gradients by tensor name.
struct RecordedTerms {
    terms: Vec<Term>,
    /// One element per term.
    values: Tensor,
    calls: Vec<Recorded>,
    grads: Vec<(&'static str, Tensor)>,
}

/// Checks the request and records every term of `o` into `enc`.
fn record_terms(
    ctx: &GpuContext,
    req: &Request<'_>,
    o: &'static Objective,
    enc: &mut wgpu::CommandEncoder,
) -> Result<RecordedTerms> {
    req.checked()?;
    req.own_tensors(ctx)?;
    if req.reduction != Reduction::Mean {
        return Err(LossError::Reduction {
            loss: o.name,
            reduction: req.reduction.name().into(),
            why: "an objective is a weighted sum of means",
        });
    }
    let takes = |name: &str| o.tensors.iter().any(|t| t.name == name);
    for (name, t) in [("input", req.input), ("target", req.target)] {
        if t.is_some() && !takes(name) {
            return Err(LossError::UnexpectedTensor {
                loss: o.name,
                tensor: name.into(),
                takes: catalogue::names(o.tensors).join(", "),
            });
        }
    }
    let tensor = |name: &'static str| {
        req.named_tensor(name)
            .or(req.input.filter(|_| name == "input"))
            .or(req.target.filter(|_| name == "target"))
            .ok_or(LossError::MissingTensor {
                loss: o.name,
                tensor: name,
            })
    };
    for t in o.tensors {
        tensor(t.name)?;
    }
    let p = params::resolve(o.name, o.params, &req.params)?;
    let terms = (o.terms)(&p);
    let want_grads = !matches!(req.grad, Output::No);
    let values = ctx.scratch_tensor(vec![terms.len()])?;
    let mut calls = Vec::with_capacity(terms.len());
    let mut grads: Vec<(&'static str, Tensor)> = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let input = tensor(t.input)?;
        let target = match t.target {
            Some(name) => tensor(name)?,
            None => input,
        };
        let loss = catalogue::elementwise(t.loss)
            .map(Loss::Elementwise)
            .or_else(|| catalogue::find(t.loss))
            .expect("terms name catalogue entries");
        // A tensor's first term writes its gradient; a later one (splatting's dssim) adds.
        let earlier = grads
            .iter()
            .find(|(n, _)| *n == t.input)
            .map(|g| g.1.clone());
        let grad = match (want_grads && o.grads.contains(&t.input), earlier) {
            (false, _) => None,
            (true, Some(g)) => Some((g, true)),
            (true, None) => {
                let g = match req.grad {
                    Output::Into(g) if t.input == o.grads[0] => g.clone(),
                    _ => ctx.scratch_tensor(input.shape().to_vec())?,
                };
                grads.push((t.input, g.clone()));
                Some((g, false))
            }
        };
        let mut term = Request::new(loss);
        term.input = Some(input);
        term.target = Some(target);
        term.scale = t.weight;
        term.one_minus = t.one_minus;
        term.params = t
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), ParamValue::parse(v)))
            .collect();
        term.grad = match &grad {
            Some((g, true)) => Output::AddTo(g),
            Some((g, false)) => Output::Into(g),
            None => Output::No,
        };
        let slot = values.element(i)?;
        let words = Names::composite(o.name, t.input, t.target.unwrap_or(t.input));
        let mut r =
            family::record(ctx, &term, enc, slot).map_err(|e| words.reword(loss.name(), e))?;
        // What the GPU's checks find is said in the objective's words.
        r.names.loss = words.loss;
        r.names.input = words.input;
        r.names.target = words.target;
        calls.push(r);
    }
    Ok(RecordedTerms {
        terms,
        values,
        calls,
        grads,
    })
}

/// The gradients in the objective's order: the first, and the rest by name.
fn ordered_grads(
    o: &'static Objective,
    grads: &[(&'static str, Tensor)],
) -> (Option<Tensor>, Vec<(&'static str, Tensor)>) {
    let mut ordered = o
        .grads
        .iter()
        .filter_map(|name| grads.iter().find(|(n, _)| n == name).cloned());
    let first = ordered.next().map(|g| g.1);
    (first, ordered.collect())
}

/// Runs an objective: every term recorded into one encoder, one submission, one readback.
pub(crate) async fn run(
    ctx: &GpuContext,
    req: &Request<'_>,
    o: &'static Objective,
    drive: Drive,
) -> Result<Computed> {
    let (r, reading) = {
        let _serial = drive.gl_lock(ctx).await;
        ctx.scoped(|| {
            let mut enc = ctx.encoder();
            let r = record_terms(ctx, req, o, &mut enc)?;
            // One submission, one readback: each term's value and status words.
            let reading = submit_recorded(ctx, enc, &r.calls)?;
            Ok((r, reading))
        })?
    };
    let mut values = Vec::with_capacity(r.terms.len());
    for (t, v) in r
        .terms
        .iter()
        .zip(reading.values(ctx, &r.calls, drive).await?)
    {
        values.push((t.name, v?));
    }
    let total: f64 = values.iter().map(|(_, v)| f64::from(*v)).sum();
    let (grad, other_grads) = ordered_grads(o, &r.grads);
    Ok(Computed {
        value: Some(total as f32),
        elements: None,
        grad,
        other_grads,
        terms: values,
    })
}

/// Records an objective into the caller's encoder, nothing read back: each term's weighted
/// value in `Recorded::terms`, their sum in `value` (summed on the GPU, compensated), the
/// gradients as `run` gives them. `Recorded::check` reads every term's checks.
pub(crate) fn record(
    ctx: &GpuContext,
    req: &Request<'_>,
    o: &'static Objective,
    enc: &mut wgpu::CommandEncoder,
    value: Tensor,
) -> Result<Recorded> {
    let r = record_terms(ctx, req, o, enc)?;
    let identity = catalogue::elementwise("identity").expect("identity");
    let mut sum = Request::new(Loss::Elementwise(identity));
    sum.input = Some(&r.values);
    sum.target = Some(&r.values);
    sum.reduction = Reduction::Sum;
    let mut total = family::record(ctx, &sum, enc, value)?;
    // A NaN among the term values (a mean over an empty tensor) is the objective's.
    total.names.loss = o.name;
    total.names.input = "terms";
    let (grad, other_grads) = ordered_grads(o, &r.grads);
    total.grad = grad;
    total.other_grads = other_grads;
    total.terms = r
        .terms
        .iter()
        .enumerate()
        .map(|(i, t)| Ok((t.name, r.values.element(i)?)))
        .collect::<Result<_>>()?;
    total.parts = r.calls;
    Ok(total)
}
