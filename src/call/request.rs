//! A call's request: what the builder collects, as plain data the adapters read.

use crate::catalogue::Loss;
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::params::{ParamValue, Reduction};
use crate::tensor::{DType, Tensor};

/// Where an optional output goes.
#[derive(Clone, Copy)]
pub(crate) enum Output<'a> {
    No,
    New,
    Into(&'a Tensor),
    /// Added to what the tensor holds (an objective's second term on one tensor; only the
    /// image kernels take it).
    AddTo(&'a Tensor),
}

/// What one call asks for, as plain data: the loss, its tensors, parameters, reduction,
/// outputs and weight. The builder fills it; composites (objectives, style layers) build
/// their parts' requests directly.
#[derive(Clone)]
pub(crate) struct Request<'a> {
    pub loss: Loss,
    pub input: Option<&'a Tensor>,
    pub target: Option<&'a Tensor>,
    pub weight: Option<&'a Tensor>,
    /// An elementwise loss's extra tensor (`var`, `pos_weight`).
    pub aux: Option<&'a Tensor>,
    /// A row loss's, structured loss's or objective's own tensors (input1, anchor, u, real).
    pub named: Vec<(&'static str, &'a Tensor)>,
    pub params: Vec<(String, ParamValue)>,
    pub reduction: Reduction,
    pub grad: Output<'a>,
    pub elements: Output<'a>,
    /// A weight on the reduced loss and its gradient: an objective's term's, a style layer's.
    pub scale: f64,
    /// The loss is 1 − the similarity it names (an objective's D-SSIM term; ssim only).
    pub one_minus: bool,
    /// The dtype of the outputs the call allocates (per-element losses, gradients); `None`:
    /// the input's. Only families that write halves read it.
    pub out_dtype: Option<DType>,
    /// The first bad builder step (an unknown tensor name), reported when the call runs.
    pub error: Option<LossError>,
}

impl<'a> Request<'a> {
    pub fn new(loss: Loss) -> Request<'a> {
        Request {
            loss,
            input: None,
            target: None,
            weight: None,
            aux: None,
            named: Vec::new(),
            params: Vec::new(),
            reduction: Reduction::Mean,
            grad: Output::No,
            elements: Output::No,
            scale: 1.0,
            one_minus: false,
            out_dtype: None,
            error: None,
        }
    }

    /// The tensor given by this name (`.tensor(name, ..)`), if any.
    pub fn named_tensor(&self, name: &str) -> Option<&'a Tensor> {
        self.named.iter().find(|(n, _)| *n == name).map(|t| t.1)
    }

    /// The tensor the loss requires by this name, or the error saying it is missing.
    pub fn required(&self, name: &'static str) -> Result<&'a Tensor> {
        self.named_tensor(name).ok_or(LossError::MissingTensor {
            loss: self.loss.name(),
            tensor: name,
        })
    }

    /// Every tensor given, by the name its errors use: inputs, then the caller's outputs.
    pub fn tensors(&self) -> Vec<(&'static str, &'a Tensor)> {
        let aux = match self.loss {
            Loss::Elementwise(l) => l.aux.map_or("aux", |a| a.name),
            _ => "aux",
        };
        let into = |o: Output<'a>| match o {
            Output::Into(t) | Output::AddTo(t) => Some(t),
            _ => None,
        };
        let slots = [
            ("input", self.input),
            ("target", self.target),
            ("weight", self.weight),
            (aux, self.aux),
            ("grad", into(self.grad)),
            ("elements", into(self.elements)),
        ];
        let given = slots.into_iter().filter_map(|(n, t)| t.map(|t| (n, t)));
        given.chain(self.named.iter().copied()).collect()
    }

    /// Fails on a tensor whose buffer belongs to another device than `ctx`'s: wgpu would
    /// panic on it.
    pub fn own_tensors(&self, ctx: &GpuContext) -> Result<()> {
        for (name, t) in self.tensors() {
            ctx.own(t, || format!("{}: {name}", self.loss.name()))?;
        }
        Ok(())
    }

    /// The builder's error, if a step failed.
    pub fn checked(&self) -> Result<()> {
        self.error.clone().map_or(Ok(()), Err)
    }
}
