//! Section F's Gram-matrix losses, recorded: `gram` (G = F·Fᵀ / (C·M) per batch item) and
//! `style_loss` for one layer (mse(gram(F), gram(S))), with the gradient for F. The products
//! are shaders/matmul.wgsl; the reduction over G and its gradient come from the elementwise
//! kernel (mse, or `identity` for gram's own value), so each piece is a kernel already tested.
//!
//! For the style loss, d L / d F = (dG + dGᵀ)·F / (C·M) = 2·dG·F / (C·M), dG = d L / d G
//! (symmetric), another tiled product.

use crate::call::{read_recorded, LossCall};
use crate::catalogue::{self, Loss, Structured};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::matmul::{self, Matrix};
use crate::params::Reduction;
use crate::tensor::Tensor;

/// Feature maps [C, M] or [B, C, M]: (batch, channels, positions).
pub(crate) fn feature_dims(
    loss: &'static Structured,
    t: &Tensor,
    name: &'static str,
) -> Result<(usize, usize, usize)> {
    t.dtype().expect_f32(loss.name, name)?;
    match *t.shape() {
        [c, m] => Ok((1, c, m)),
        [b, c, m] => Ok((b, c, m)),
        _ => Err(LossError::ShapeMismatch {
            loss: loss.name,
            tensor: name,
            got: t.shape().to_vec(),
            expected: "[C, M] or [B, C, M] (M = H·W)".into(),
        }),
    }
}

/// G_b = F_b·F_bᵀ / (C·M) for every batch item, into `g` ([B, C, C]).
fn grams(
    call: &LossCall<'_>,
    pass: &mut wgpu::ComputePass<'_>,
    f: &Tensor,
    g: &Tensor,
    (b, c, m): (usize, usize, usize),
) -> Result<()> {
    let alpha = 1.0 / (c * m).max(1) as f32;
    for i in 0..b {
        let fb = Matrix {
            tensor: f,
            first: i * c * m,
            rows: c,
            cols: m,
        };
        let gb = Matrix {
            tensor: g,
            first: i * c * c,
            rows: c,
            cols: c,
        };
        matmul::record(call.ctx, pass, fb, fb, true, gb, alpha)?;
    }
    Ok(())
}

/// What a Gram-matrix call recorded: the reduction's call (its status words say whether
/// the data was good) and the outputs.
pub(crate) struct Recorded {
    pub term: crate::Recorded,
    pub elements: Option<Tensor>,
    pub grad: Option<Tensor>,
}

/// The tensors of one call; `elements` and `grad` are the outputs to write, if any.
pub(crate) struct Bound<'a> {
    pub input: &'a Tensor,
    pub target: Option<&'a Tensor>,
    pub elements: Option<Tensor>,
    pub grad: Option<Tensor>,
    pub result: &'a Tensor,
}

/// Records `gram` or `style_loss` into `enc`, the reduced value into `result`.
pub(crate) fn record(
    call: &LossCall<'_>,
    loss: &'static Structured,
    t: Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Recorded> {
    let Bound {
        input,
        target,
        elements: elements_into,
        grad,
        result,
    } = t;
    let ctx = call.ctx;
    let dims = feature_dims(loss, input, "input")?;
    let (b, c, m) = dims;
    if let Some(s) = target {
        let sd = feature_dims(loss, s, "target")?;
        if sd != dims {
            return Err(LossError::ShapeMismatch {
                loss: loss.name,
                tensor: "target",
                got: s.shape().to_vec(),
                expected: format!("{:?}, the shape of `input`", input.shape()),
            });
        }
    }
    let g_shape = if input.shape().len() == 3 {
        vec![b, c, c]
    } else {
        vec![c, c]
    };
    let gram_is_output = loss.name == "gram" && call.reduction == Reduction::None;
    let g_f = match (&elements_into, gram_is_output) {
        (Some(e), true) => e.clone(),
        _ => ctx.scratch_tensor(g_shape.clone())?,
    };
    let g_s = target
        .map(|_| ctx.scratch_tensor(g_shape.clone()))
        .transpose()?;
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(loss.name),
            timestamp_writes: None,
        });
        grams(call, &mut pass, input, &g_f, dims)?;
        if let (Some(s), Some(gs)) = (target, &g_s) {
            grams(call, &mut pass, s, gs, dims)?;
        }
    }
    // The reduction over G, and d L / d G when the gradient is asked for.
    let d_g = grad
        .as_ref()
        .map(|_| ctx.scratch_tensor(g_shape.clone()))
        .transpose()?;
    let term = match &g_s {
        Some(gs) => ctx
            .call(Loss::Elementwise(
                catalogue::elementwise("mse").expect("mse"),
            ))
            .input(&g_f)
            .target(gs),
        None => ctx
            .call(Loss::Elementwise(
                catalogue::elementwise("identity").expect("identity"),
            ))
            .input(&g_f)
            .target(&g_f),
    };
    // The call's weight (a layer's w_l) scales the value and d L / d G alike.
    let mut term = term.scaled(call.scale).reduction(if gram_is_output {
        Reduction::Sum
    } else {
        call.reduction
    });
    if let Some(d) = &d_g {
        term = term.grad_into(d);
    }
    if let (Some(e), false) = (&elements_into, gram_is_output) {
        term = term.elements_into(e);
    }
    let recorded = term.value_into(result).record(enc)?;
    if let (Some(gf), Some(d)) = (&grad, &d_g) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(loss.name),
            timestamp_writes: None,
        });
        let alpha = 2.0 / (c * m).max(1) as f32;
        for i in 0..b {
            let db = Matrix {
                tensor: d,
                first: i * c * c,
                rows: c,
                cols: c,
            };
            let fb = Matrix {
                tensor: input,
                first: i * c * m,
                rows: c,
                cols: m,
            };
            let out = Matrix {
                tensor: gf,
                first: i * c * m,
                rows: c,
                cols: m,
            };
            matmul::record(ctx, &mut pass, db, fb, false, out, alpha)?;
        }
    }
    Ok(Recorded {
        term: recorded,
        elements: elements_into.or(gram_is_output.then_some(g_f)),
        grad,
    })
}

/// One layer of a style loss over several layers: the generated image's features `input`
/// ([C, M] or [B, C, M]), the style image's `target` (same shape) and the layer's weight w_l.
#[derive(Clone, Copy, Debug)]
pub struct StyleLayer<'a> {
    pub input: &'a Tensor,
    pub target: &'a Tensor,
    pub weight: f64,
}

/// What [`GpuContext::style_loss`] returns.
#[derive(Debug)]
pub struct StyleLosses {
    /// Σ_l w_l·mse(gram(F_l), gram(S_l)).
    pub value: f32,
    /// Each layer's weighted term w_l·mse(gram(F_l), gram(S_l)), in the layers' order.
    pub layers: Vec<f32>,
    /// d value / d F_l for each layer (empty unless asked for).
    pub grads: Vec<Tensor>,
}

impl GpuContext {
    /// LOSSES.md's style_loss over several layers, Σ_l w_l·mse(gram(F_l), gram(S_l)): every
    /// layer recorded into one encoder, one submission, one readback. An error in a layer's
    /// tensors or data is `LossError::Layer` naming the layer.
    pub fn style_loss(&self, layers: &[StyleLayer<'_>], with_grad: bool) -> Result<StyleLosses> {
        if layers.is_empty() {
            return Err(LossError::Usage(
                "style_loss: no layers given (it needs at least one)".into(),
            ));
        }
        let in_layer = |layer: usize| {
            move |e| LossError::Layer {
                layer,
                source: Box::new(e),
            }
        };
        for (i, l) in layers.iter().enumerate() {
            if !(l.weight.is_finite() && l.weight >= 0.0) {
                return Err(in_layer(i)(LossError::InvalidParam {
                    loss: "style_loss",
                    name: "weight",
                    value: l.weight.to_string(),
                    rule: "finite and >= 0",
                }));
            }
        }
        let _serial = self.gl_lock();
        self.scoped(|| {
            let mut enc = self.encoder();
            let mut recorded = Vec::with_capacity(layers.len());
            let mut grads = Vec::new();
            for (i, l) in layers.iter().enumerate() {
                let grad = with_grad
                    .then(|| self.scratch_tensor(l.input.shape().to_vec()))
                    .transpose()?;
                let mut c = self
                    .loss("style_loss")?
                    .input(l.input)
                    .target(l.target)
                    .scaled(l.weight);
                if let Some(g) = &grad {
                    c = c.grad_into(g);
                }
                recorded.push(c.record(&mut enc).map_err(in_layer(i))?);
                grads.extend(grad);
            }
            let mut values = Vec::with_capacity(layers.len());
            for (i, v) in read_recorded(self, enc, &recorded)?.into_iter().enumerate() {
                values.push(v.map_err(in_layer(i))?);
            }
            let total: f64 = values.iter().map(|&v| f64::from(v)).sum();
            Ok(StyleLosses {
                value: total as f32,
                layers: values,
                grads,
            })
        })
    }
}
