//! Sections D and F: losses with a kernel of their own over structured tensors (images,
//! feature maps, distributions).

use super::tensors::{Draw, Extent, TensorSpec};
use crate::cpu::twins::{self, Twin};
use crate::params::{ParamSpec, Rule};

/// Which kernel evaluates a structured loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructuredKernel {
    /// shaders/total_variation.wgsl: neighbour differences over the last two axes.
    TotalVariation,
    /// shaders/wasserstein.wgsl: a workgroup scan per row.
    Wasserstein,
    /// shaders/samples_prep.wgsl, bitonic.wgsl, samples_scan.wgsl: sort, then a chained scan.
    WassersteinSamples,
    /// shaders/matmul.wgsl for G, the elementwise kernel (identity) for its reduction.
    Gram,
    /// shaders/matmul.wgsl for both Gram matrices and the gradient, mse between them.
    StyleLoss,
}

#[derive(Debug)]
pub struct Structured {
    pub name: &'static str,
    pub kernel: StructuredKernel,
    /// Its tensors, required first, in LOSSES.md's order.
    pub tensors: &'static [TensorSpec],
    /// The tensors that get a gradient, in order.
    pub grads: &'static [&'static str],
    pub params: &'static [ParamSpec],
    pub twin: Twin,
    pub follows: &'static str,
}

impl Structured {
    pub fn takes(&self, tensor: &str) -> bool {
        self.tensors.iter().any(|t| t.name == tensor)
    }
}

const FEATURES: &str = "[C, M] or [B, C, M]";

const fn features(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, FEATURES, Draw::Normal(Extent::Features))
}

const fn samples(name: &'static str, extent: Extent) -> TensorSpec {
    TensorSpec::floats(name, "[n]", Draw::Normal(extent))
}

const fn weights(name: &'static str, extent: Extent) -> TensorSpec {
    TensorSpec::floats(name, "[n]", Draw::Uniform(0.1, 1.0, extent)).optional()
}

pub static STRUCTURED: &[Structured] = &[
    Structured {
        name: "total_variation",
        kernel: StructuredKernel::TotalVariation,
        tensors: &[TensorSpec::floats(
            "input",
            "[..., H, W]",
            Draw::Normal(Extent::Plane),
        )],
        grads: &["input"],
        params: &[ParamSpec::new("power", 1.0, Rule::Positive)],
        twin: twins::total_variation,
        follows: "anisotropic total variation over the last two axes (H, W)",
    },
    Structured {
        name: "wasserstein_1d",
        kernel: StructuredKernel::Wasserstein,
        tensors: &[
            TensorSpec::floats("u", "[..., C]", Draw::Ramp(true)),
            TensorSpec::floats("v", "[..., C]", Draw::Ramp(false)),
        ],
        grads: &["u", "v"],
        params: &[ParamSpec::new("dx", 1.0, Rule::Positive)],
        twin: twins::wasserstein_1d,
        follows: "earth mover's distance between histograms on one grid",
    },
    Structured {
        name: "wasserstein_1d_samples",
        kernel: StructuredKernel::WassersteinSamples,
        tensors: &[
            samples("u_values", Extent::Samples),
            samples("v_values", Extent::HalfSamples),
            weights("u_weights", Extent::Samples),
            weights("v_weights", Extent::HalfSamples),
        ],
        grads: &["u_values", "v_values"],
        params: &[],
        twin: twins::wasserstein_1d_samples,
        follows: "scipy.stats.wasserstein_distance: both sample sets sorted together on the GPU",
    },
    Structured {
        name: "gram",
        kernel: StructuredKernel::Gram,
        tensors: &[features("input")],
        grads: &["input"],
        params: &[],
        twin: twins::gram,
        follows: "Gatys et al.: G = F·Fᵀ / (C·M); `none` gives G, sum/mean reduce its entries",
    },
    Structured {
        name: "style_loss",
        kernel: StructuredKernel::StyleLoss,
        tensors: &[features("input"), features("target")],
        grads: &["input"],
        params: &[],
        twin: twins::style_loss,
        follows: "Gatys et al.: mse(gram(F), gram(S)) for one layer",
    },
];
