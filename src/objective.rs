//! Section E's objectives: each a weighted sum of named terms, every term an elementwise
//! function of some of the objective's tensors (shaders/adversarial.wgsl's GAN terms, mae) or
//! cross_entropy. All terms are recorded into one encoder, each writing its weighted value and
//! (when asked) the gradient of the total for its prediction tensor, and read back together:
//! one submission, one readback.

use crate::call::{read_recorded, LossCall, Output, Recorded};
use crate::catalogue::{self, Loss, Objective};
use crate::error::{LossError, Result};
use crate::params::{self, Reduction};
use crate::tensor::Tensor;
use crate::Computed;

/// One term: `weight · mean(loss(input[, target]))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub name: &'static str,
    /// An elementwise function (catalogue::TERMS, mae) or `cross_entropy`.
    pub loss: &'static str,
    pub input: &'static str,
    /// None: the term reads its input only.
    pub target: Option<&'static str>,
    pub weight: f64,
}

fn term(name: &'static str, loss: &'static str, input: &'static str, weight: f64) -> Term {
    Term {
        name,
        loss,
        input,
        target: None,
        weight,
    }
}

fn pair(
    name: &'static str,
    loss: &'static str,
    input: &'static str,
    target: &'static str,
    weight: f64,
) -> Term {
    Term {
        target: Some(target),
        ..term(name, loss, input, weight)
    }
}

/// −log D or −log(1 − D), on logits or probabilities.
fn neg_log(of_one_minus: bool, from_logits: bool) -> &'static str {
    match (of_one_minus, from_logits) {
        (false, true) => "neg_log_d_logits",
        (true, true) => "neg_log_1m_d_logits",
        (false, false) => "neg_log_d_probs",
        (true, false) => "neg_log_1m_d_probs",
    }
}

/// The discriminator's two terms for `kind` (an index into DISCRIMINATOR_KINDS), on the
/// tensors `real` and `fake`, weighted by `w`.
fn discriminator(
    kind: usize,
    logits: bool,
    real: &'static str,
    fake: &'static str,
    w: f64,
) -> [Term; 2] {
    match kind {
        // ½·(E −log D(x) + E −log(1 − D(G(z))))
        0 => [
            term("real", neg_log(false, logits), real, 0.5 * w),
            term("fake", neg_log(true, logits), fake, 0.5 * w),
        ],
        // ½·E (r − 1)² + ½·E f²
        1 => [
            term("real", "square_from_one", real, 0.5 * w),
            term("fake", "square", fake, 0.5 * w),
        ],
        // E f − E r
        2 => [
            term("real", "identity", real, -w),
            term("fake", "identity", fake, w),
        ],
        // E relu(1 − r) + E relu(1 + f)
        _ => [
            term("real", "relu_one_minus", real, w),
            term("fake", "relu_one_plus", fake, w),
        ],
    }
}

/// The generator's term for `kind` (an index into GENERATOR_KINDS) on `fake`.
fn generator(name: &'static str, kind: usize, logits: bool, fake: &'static str) -> Term {
    match kind {
        0 => term(name, neg_log(false, logits), fake, 1.0),
        // E log(1 − D(G(z))) = −E −log(1 − D)
        1 => term(name, neg_log(true, logits), fake, -1.0),
        2 => term(name, "square_from_one", fake, 0.5),
        // wgan and hinge: −E f
        _ => term(name, "identity", fake, -1.0),
    }
}

/// The terms of `o` with its resolved parameters (catalogue order).
pub fn terms(o: &Objective, p: &[f64]) -> Vec<Term> {
    let kind = |i: usize| p[i] as usize;
    let logits = |i: usize| p[i] != 0.0;
    match o.name {
        "gan_discriminator" => discriminator(kind(0), logits(1), "real", "fake", 1.0).to_vec(),
        "gan_generator" => vec![generator("adversarial", kind(0), logits(1), "fake")],
        "pix2pix_generator" => vec![
            generator("adversarial", kind(1), logits(2), "fake"),
            pair("l1", "mae", "generated", "target", p[0]),
        ],
        "cyclegan_generator" => {
            let (lambda, rho) = (p[0], p[1]);
            vec![
                generator("adversarial_y", kind(2), logits(3), "d_y_fake"),
                generator("adversarial_x", kind(2), logits(3), "d_x_fake"),
                pair("cycle_x", "mae", "x_cycled", "x", lambda),
                pair("cycle_y", "mae", "y_cycled", "y", lambda),
                pair("identity_x", "mae", "x_identity", "x", rho),
                pair("identity_y", "mae", "y_identity", "y", rho),
            ]
        }
        "stargan_generator" => vec![
            generator("adversarial", kind(2), logits(3), "fake_src"),
            pair(
                "classification",
                "cross_entropy",
                "fake_cls",
                "target_domain",
                p[0],
            ),
            pair("reconstruction", "mae", "x_reconstructed", "x", p[1]),
        ],
        "stargan_discriminator" => {
            let mut t = discriminator(kind(1), logits(2), "real_src", "fake_src", 1.0).to_vec();
            t.push(pair(
                "classification",
                "cross_entropy",
                "real_cls",
                "original_domain",
                p[0],
            ));
            t
        }
        other => unreachable!("objective {other} has no terms"),
    }
}

/// An objective's terms recorded into one encoder: each term's call (its weighted value in
/// `values[i]`), and the gradients by tensor name.
struct RecordedTerms {
    terms: Vec<Term>,
    /// One element per term.
    values: Tensor,
    calls: Vec<Recorded>,
    grads: Vec<(&'static str, Tensor)>,
}

/// Checks the call and records every term of `o` into `enc`.
fn record_terms(
    call: &LossCall<'_>,
    o: &'static Objective,
    enc: &mut wgpu::CommandEncoder,
) -> Result<RecordedTerms> {
    if let Some(e) = &call.error {
        return Err(e.clone());
    }
    if call.reduction != Reduction::Mean {
        return Err(LossError::Reduction {
            loss: o.name,
            reduction: call.reduction.name().into(),
            why: "an objective is a weighted sum of means",
        });
    }
    for (name, t) in [("input", call.input), ("target", call.target)] {
        if t.is_some() && !o.tensors.contains(&name) {
            return Err(LossError::UnexpectedTensor {
                loss: o.name,
                tensor: name.into(),
                takes: o.tensors.join(", "),
            });
        }
    }
    let given = |name: &str| {
        call.named_tensor(name)
            .or(call.target.filter(|_| name == "target"))
    };
    let tensor = |name: &'static str| {
        given(name).ok_or(LossError::MissingTensor {
            loss: o.name,
            tensor: name,
        })
    };
    for &name in o.tensors {
        tensor(name)?;
    }
    let p = params::resolve(o.name, o.params, &call.params)?;
    let terms = terms(o, &p);
    let ctx = call.ctx;
    let want_grads = !matches!(call.grad, Output::No);
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
        let slot = values.element(i)?;
        let mut c = ctx
            .call(loss)
            .input(input)
            .target(target)
            .scaled(t.weight)
            .value_into(&slot);
        let grad = if want_grads && o.grads.contains(&t.input) {
            let g = match call.grad {
                Output::Into(g) if t.input == o.grads[0] => g.clone(),
                _ => ctx.scratch_tensor(input.shape().to_vec())?,
            };
            grads.push((t.input, g.clone()));
            Some(g)
        } else {
            None
        };
        if let Some(g) = &grad {
            c = c.grad_into(g);
        }
        let mut r = c.record(enc).map_err(|e| rename(e, o, t))?;
        // What the GPU's checks find is said in the objective's words.
        r.names.loss = o.name;
        r.names.input = t.input;
        r.names.target = t.target.unwrap_or(t.input);
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
pub(crate) fn run(call: &LossCall<'_>, o: &'static Objective) -> Result<Computed> {
    let ctx = call.ctx;
    let _serial = ctx.gl_lock();
    let (values, grads) = ctx.scoped(|| {
        let mut enc = ctx.encoder();
        let r = record_terms(call, o, &mut enc)?;
        // One submission, one readback: each term's value and status words.
        let mut values = Vec::with_capacity(r.terms.len());
        for (t, v) in r.terms.iter().zip(read_recorded(ctx, enc, &r.calls)?) {
            values.push((t.name, v?));
        }
        Ok((values, r.grads))
    })?;
    let total: f64 = values.iter().map(|(_, v)| f64::from(*v)).sum();
    let (grad, other_grads) = ordered_grads(o, &grads);
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
    call: &LossCall<'_>,
    o: &'static Objective,
    enc: &mut wgpu::CommandEncoder,
    value: &Tensor,
) -> Result<Recorded> {
    let ctx = call.ctx;
    let r = record_terms(call, o, enc)?;
    let identity = catalogue::elementwise("identity").expect("identity");
    let mut total = ctx
        .call(Loss::Elementwise(identity))
        .input(&r.values)
        .target(&r.values)
        .reduction(Reduction::Sum)
        .value_into(value)
        .record(enc)?;
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

/// A term's error in the objective's words: its loss and its tensors' names.
fn rename(e: LossError, o: &'static Objective, t: &Term) -> LossError {
    let tensor = |name: &str| match name {
        "input" => t.input,
        "target" => t.target.unwrap_or(t.input),
        _ => t.input,
    };
    match e {
        LossError::NaN {
            tensor: n, index, ..
        } => LossError::NaN {
            loss: o.name,
            tensor: tensor(n),
            index,
        },
        LossError::OutOfDomain {
            tensor: n,
            index,
            domain,
            ..
        } => LossError::OutOfDomain {
            loss: o.name,
            tensor: tensor(n),
            index,
            domain,
        },
        LossError::ShapeMismatch {
            tensor: n,
            got,
            expected,
            ..
        } => LossError::ShapeMismatch {
            loss: o.name,
            tensor: tensor(n),
            got,
            expected,
        },
        LossError::LabelOutOfRange {
            row,
            label,
            classes,
            ..
        } => LossError::LabelOutOfRange {
            loss: o.name,
            row,
            label,
            classes,
        },
        other => other,
    }
}
