//! Section F's Gram-matrix losses: `gram` (G = F·Fᵀ / (C·M) per batch item) and `style_loss`
//! for one layer (mse(gram(F), gram(S))), with the gradient for F; and the style loss over
//! several weighted layers. The products are shaders/matmul.wgsl; the reduction over G and
//! its gradient come from the elementwise adapter (mse, or `identity` for gram's own value),
//! so each piece is a kernel already tested.
//!
//! For the style loss, d L / d F = (dG + dGᵀ)·F / (C·M) = 2·dG·F / (C·M), dG = d L / d G
//! (symmetric), another tiled product.

use super::outputs::{self, outputs};
use super::readback::{submit_recorded, Parts, Recorded};
use super::request::{Output, Request};
use super::{elementwise, structured};
use crate::catalogue::{self, Loss, Structured, StructuredKernel};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::kernel::matmul::{self, Matrix};
use crate::mapping::Drive;
use crate::params::Reduction;
use crate::problem::structured::feature_dims;
use crate::status::{Check, Names, SCRATCH_HEADER_BYTES};
use crate::tensor::Tensor;

/// The matrix of batch item `i` of a `[B, rows, cols]` stack.
fn item(tensor: &Tensor, i: usize, rows: usize, cols: usize) -> Matrix<'_> {
    Matrix {
        tensor,
        first: i * rows * cols,
        rows,
        cols,
    }
}

/// G_b = F_b·F_bᵀ / (C·M) for every batch item, into `g` ([B, C, C]).
fn grams(
    ctx: &GpuContext,
    pass: &mut wgpu::ComputePass<'_>,
    f: &Tensor,
    g: &Tensor,
    (b, c, m): (usize, usize, usize),
) -> Result<()> {
    // No position (M = 0): each entry is 0/0, NaN, as PyTorch's mm(F, Fᵀ).div(C·M).
    let alpha = match c * m {
        0 => f32::NAN,
        n => 1.0 / n as f32,
    };
    for i in 0..b {
        let fb = item(f, i, c, m);
        matmul::record(ctx, pass, fb, fb, true, item(g, i, c, c), alpha)?;
    }
    Ok(())
}

/// Records `gram` or `style_loss` into `enc`, the reduced value into `result`.
pub(crate) fn record(
    ctx: &GpuContext,
    req: &Request<'_>,
    loss: &'static Structured,
    enc: &mut wgpu::CommandEncoder,
    result: &Tensor,
) -> Result<Parts> {
    req.own_tensors(ctx)?;
    let input = structured::input(req, loss)?;
    let target = if loss.takes("target") {
        Some(req.target.ok_or(LossError::MissingTensor {
            loss: loss.name,
            tensor: "target",
        })?)
    } else {
        None
    };
    crate::params::no_batchmean(loss.name, req.reduction)?;
    if let Some(p) = req.params.first() {
        return Err(LossError::UnknownParam {
            loss: loss.name,
            name: p.0.clone(),
            takes: "no parameters".into(),
        });
    }
    let dims = feature_dims(loss, input, "input")?;
    let (b, c, m) = dims;
    let g_shape = if input.shape().len() == 3 {
        vec![b, c, c]
    } else {
        vec![c, c]
    };
    let inputs = [("input", Some(input)), ("target", target)];
    let (elements, grad) = outputs(ctx, req, req.reduction, &g_shape, input.shape(), &inputs)?;
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
    if m == 0 && b * c > 0 {
        let parts = (elements, grad);
        return no_positions(ctx, enc, input, result, parts, dims, loss, req.reduction);
    }
    let gram_is_output = loss.kernel == StructuredKernel::Gram && req.reduction == Reduction::None;
    let g_f = match (&elements, gram_is_output) {
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
        grams(ctx, &mut pass, input, &g_f, dims)?;
        if let (Some(s), Some(gs)) = (target, &g_s) {
            grams(ctx, &mut pass, s, gs, dims)?;
        }
    }
    // The reduction over G, and d L / d G when the gradient is asked for.
    let d_g = grad
        .as_ref()
        .map(|_| ctx.scratch_tensor(g_shape.clone()))
        .transpose()?;
    let term_loss = if g_s.is_some() { "mse" } else { "identity" };
    let term_loss = catalogue::elementwise(term_loss).expect("a catalogue term");
    let mut term = Request::new(Loss::Elementwise(term_loss));
    term.input = Some(&g_f);
    term.target = Some(g_s.as_ref().unwrap_or(&g_f));
    // The call's weight (a layer's w_l) scales the value and d L / d G alike.
    term.scale = req.scale;
    term.reduction = if gram_is_output {
        Reduction::Sum
    } else {
        req.reduction
    };
    if let Some(d) = &d_g {
        term.grad = Output::Into(d);
    }
    if let (Some(e), false) = (&elements, gram_is_output) {
        term.elements = Output::Into(e);
    }
    let mut parts = elementwise::record(ctx, &term, term_loss, enc, result)?;
    if let (Some(gf), Some(d)) = (&grad, &d_g) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(loss.name),
            timestamp_writes: None,
        });
        let alpha = 2.0 / (c * m).max(1) as f32;
        for i in 0..b {
            let (db, fb) = (item(d, i, c, c), item(input, i, c, m));
            matmul::record(ctx, &mut pass, db, fb, false, item(gf, i, c, m), alpha)?;
        }
    }
    // The reduction checks G (and gram's G twice, as input and target): a NaN there is the
    // first NaN of the features it came from.
    parts.nan_sources = vec![
        (Check::NanInput, input.clone()),
        (Check::NanTarget, target.unwrap_or(input).clone()),
    ];
    parts.names.loss = loss.name;
    parts.reduction = req.reduction;
    parts.elements = elements.or(gram_is_output.then_some(g_f));
    parts.grad = grad;
    Ok(parts)
}

/// Features of no position: G's entries are NaN, so are the value and every per-entry loss
/// (the reference's 0/0); the gradient has no element. Written by the product itself, whose
/// sums over nothing are 0, times a NaN alpha.
#[allow(clippy::too_many_arguments)]
fn no_positions(
    ctx: &GpuContext,
    enc: &mut wgpu::CommandEncoder,
    input: &Tensor,
    result: &Tensor,
    (elements, grad): (Option<Tensor>, Option<Tensor>),
    dims: (usize, usize, usize),
    loss: &'static Structured,
    reduction: Reduction,
) -> Result<Parts> {
    let scratch = ctx.scratch(0)?;
    enc.clear_buffer(scratch.buffer(), 0, Some(SCRATCH_HEADER_BYTES));
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(loss.name),
        timestamp_writes: None,
    });
    if let Some(e) = &elements {
        grams(ctx, &mut pass, input, e, dims)?;
    }
    let nothing = Matrix {
        tensor: input,
        first: 0,
        rows: 1,
        cols: 0,
    };
    let value = item(result, 0, 1, 1);
    matmul::record(ctx, &mut pass, nothing, nothing, true, value, f32::NAN)?;
    drop(pass);
    let names = Names::plain(loss.name, 0);
    Ok(Parts::new(names, reduction, (elements, grad), scratch))
}

/// One layer of a style loss over several layers: the generated image's features `input`
/// ([C, M] or [B, C, M]), the style image's `target` (same shape) and the layer's weight w_l.
#[derive(Clone, Copy, Debug)]
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// use gpu_loss::StyleLayer;
/// # let f = ctx.upload(&[1.0; 8], &[2, 4])?;
/// # let s = ctx.upload(&[0.5; 8], &[2, 4])?;
/// let layers = [StyleLayer { input: &f, target: &s, weight: 1.0 }];
/// let out = ctx.style_loss(&layers, true)?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct StyleLayer<'a> {
    /// The generated image's features.
    pub input: &'a Tensor,
    /// The style image's features.
    pub target: &'a Tensor,
    /// The layer's weight w_l.
    pub weight: f64,
}

/// What [`GpuContext::style_loss`] returns.
#[derive(Debug)]
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// # let f = ctx.upload(&[1.0; 8], &[2, 4])?;
/// # let s = ctx.upload(&[0.5; 8], &[2, 4])?;
/// # let layers = [gpu_loss::StyleLayer { input: &f, target: &s, weight: 1.0 }];
/// let out = ctx.style_loss(&layers, false)?;
/// assert_eq!(out.layers.len(), 1);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
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
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// # let f = ctx.upload(&[1.0; 8], &[2, 4])?;
    /// # let s = ctx.upload(&[0.5; 8], &[2, 4])?;
    /// let layers = [gpu_loss::StyleLayer { input: &f, target: &s, weight: 1e3 }];
    /// let out = ctx.style_loss(&layers, true)?;
    /// let (total, grad) = (out.value, &out.grads[0]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn style_loss(&self, layers: &[StyleLayer<'_>], with_grad: bool) -> Result<StyleLosses> {
        pollster::block_on(self.style_loss_with(layers, with_grad, Drive::Block))
    }

    /// [`GpuContext::style_loss`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let f = ctx.upload(&[1.0, 0.0, 0.0, 1.0], &[2, 2])?;
    /// let s = ctx.upload(&[0.0; 4], &[2, 2])?;
    /// let layers = [gpu_loss::StyleLayer { input: &f, target: &s, weight: 1.0 }];
    /// let out = pollster::block_on(ctx.style_loss_async(&layers, false))?;
    /// assert_eq!(out.value, 1.0 / 32.0); // gram(I) = I / 4 against 0: the mean of 2 · (1/4)²
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn style_loss_async(
        &self,
        layers: &[StyleLayer<'_>],
        with_grad: bool,
    ) -> Result<StyleLosses> {
        self.style_loss_with(layers, with_grad, Drive::Yield).await
    }

    async fn style_loss_with(
        &self,
        layers: &[StyleLayer<'_>],
        with_grad: bool,
        drive: Drive,
    ) -> Result<StyleLosses> {
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
        let style_loss = catalogue::STRUCTURED
            .iter()
            .find(|s| s.kernel == StructuredKernel::StyleLoss)
            .expect("style_loss is in the catalogue");
        let (recorded, grads, reading) = {
            let _serial = drive.gl_lock(self).await;
            self.scoped(|| {
                let mut enc = self.encoder();
                let mut recorded = Vec::with_capacity(layers.len());
                let mut grads = Vec::new();
                for (i, l) in layers.iter().enumerate() {
                    let grad = with_grad
                        .then(|| self.scratch_tensor(l.input.shape().to_vec()))
                        .transpose()?;
                    let mut layer = Request::new(Loss::Structured(style_loss));
                    layer.input = Some(l.input);
                    layer.target = Some(l.target);
                    layer.scale = l.weight;
                    if let Some(g) = &grad {
                        layer.grad = Output::Into(g);
                    }
                    let value = outputs::value_tensor(self, None)?;
                    let parts =
                        record(self, &layer, style_loss, &mut enc, &value).map_err(in_layer(i))?;
                    recorded.push(Recorded::new(self, value, parts));
                    grads.extend(grad);
                }
                let reading = submit_recorded(self, enc, &recorded)?;
                Ok((recorded, grads, reading))
            })?
        };
        let mut values = Vec::with_capacity(layers.len());
        let read = reading.values(self, &recorded, drive).await?;
        for (i, v) in read.into_iter().enumerate() {
            values.push(v.map_err(in_layer(i))?);
        }
        let total: f64 = values.iter().map(|&v| f64::from(v)).sum();
        Ok(StyleLosses {
            value: total as f32,
            layers: values,
            grads,
        })
    }
}
