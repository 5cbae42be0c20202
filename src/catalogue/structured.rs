//! Sections D and F: losses with a kernel of their own over structured tensors (images,
//! feature maps, distributions).

use super::tensors::{Draw, Extent, TensorSpec};
use crate::cpu::twins::{self, Twin};
use crate::params::{ParamSpec, Reduction, Rule};

/// Which kernel evaluates a structured loss.
///
/// ```
/// use gpu_loss::catalogue::{StructuredKernel, STRUCTURED};
/// let psnr = STRUCTURED.iter().find(|s| s.name == "psnr").unwrap();
/// assert_eq!(psnr.kernel, StructuredKernel::Psnr);
/// ```
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
    /// shaders/ssim.wgsl: moments, map and partials per tile; the adjoint filtering.
    Ssim,
    /// shaders/ssim.wgsl at five scales, shaders/pool.wgsl between them.
    MsSsim,
    /// shaders/psnr.wgsl: a sum of squares per image, then the per-image value.
    Psnr,
}

#[derive(Debug)]
/// A loss with a kernel of its own (sections D, F and G).
///
/// ```
/// let ssim = gpu_loss::catalogue::STRUCTURED.iter().find(|s| s.name == "ssim").unwrap();
/// assert!(ssim.takes("input"));
/// ```
pub struct Structured {
    /// The loss's catalogue name.
    pub name: &'static str,
    /// The kernel that runs it.
    pub kernel: StructuredKernel,
    /// Its tensors, required first, in LOSSES.md's order.
    pub tensors: &'static [TensorSpec],
    /// The tensors that get a gradient, in order.
    pub grads: &'static [&'static str],
    /// Its parameters, in the order the kernel reads them.
    pub params: &'static [ParamSpec],
    /// The reductions it takes.
    pub reductions: &'static [Reduction],
    /// Its float64 twin.
    pub twin: Twin,
    /// Whose definition it follows.
    pub follows: &'static str,
}

impl Structured {
    /// Whether it takes a tensor of this name.
    ///
    /// ```
    /// let samples = gpu_loss::catalogue::STRUCTURED.iter().find(|s| s.name == "wasserstein_1d_samples").unwrap();
    /// assert!(samples.takes("u_weights") && !samples.takes("u"));
    /// ```
    pub fn takes(&self, tensor: &str) -> bool {
        self.tensors.iter().any(|t| t.name == tensor)
    }
}

/// Section G's images: `[N, C, H, W]`, `[C, H, W]` or `[H, W]`, drawn as a picture and a
/// render of it.
pub(super) const fn picture(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, "[N, C, H, W]", Draw::Picture)
}

/// Section G's images give a value per image (or an SSIM map) or their mean.
const IMAGE_REDUCTIONS: &[Reduction] = &[Reduction::None, Reduction::Mean];

/// ssim's and ms_ssim's window and constants (LOSSES.md section G), in the order their twins
/// and kernels read them.
const WINDOW: ParamSpec = ParamSpec::new("window", 11.0, Rule::Window);
const SIGMA: ParamSpec = ParamSpec::new("sigma", 1.5, Rule::Positive);
const K1: ParamSpec = ParamSpec::new("k1", 0.01, Rule::Positive);
const K2: ParamSpec = ParamSpec::new("k2", 0.03, Rule::Positive);
const DATA_RANGE: ParamSpec = ParamSpec::new("data_range", 1.0, Rule::Positive);

/// ssim's paddings: pytorch_msssim's `valid`, or the 3DGS code's zero padding `same`.
pub const PADDINGS: Rule = Rule::OneOf {
    words: &["valid", "same"],
    text: "valid or same",
};

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

/// Sections D, F and G, in LOSSES.md's order.
///
/// ```
/// assert!(gpu_loss::catalogue::STRUCTURED.iter().any(|s| s.name == "ssim"));
/// ```
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
        reductions: &Reduction::ALL,
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
        reductions: &Reduction::ALL,
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
        reductions: &Reduction::ALL,
        twin: twins::wasserstein_1d_samples,
        follows: "scipy.stats.wasserstein_distance: both sample sets sorted together on the GPU",
    },
    Structured {
        name: "gram",
        kernel: StructuredKernel::Gram,
        tensors: &[features("input")],
        grads: &["input"],
        params: &[],
        reductions: &Reduction::ALL,
        twin: twins::gram,
        follows: "Gatys et al.: G = F·Fᵀ / (C·M); `none` gives G, sum/mean reduce its entries",
    },
    Structured {
        name: "style_loss",
        kernel: StructuredKernel::StyleLoss,
        tensors: &[features("input"), features("target")],
        grads: &["input"],
        params: &[],
        reductions: &Reduction::ALL,
        twin: twins::style_loss,
        follows: "Gatys et al.: mse(gram(F), gram(S)) for one layer",
    },
    Structured {
        name: "ssim",
        kernel: StructuredKernel::Ssim,
        tensors: &[picture("input"), picture("target")],
        grads: &["input"],
        params: &[
            WINDOW,
            SIGMA,
            K1,
            K2,
            DATA_RANGE,
            ParamSpec::new("padding", 0.0, PADDINGS),
        ],
        reductions: IMAGE_REDUCTIONS,
        twin: twins::ssim,
        follows: "SSIM (Wang et al.): pytorch_msssim (valid) or 3DGS / fused-ssim (same)",
    },
    Structured {
        name: "ms_ssim",
        kernel: StructuredKernel::MsSsim,
        tensors: &[picture("input"), picture("target")],
        grads: &["input"],
        params: &[WINDOW, SIGMA, K1, K2, DATA_RANGE],
        reductions: IMAGE_REDUCTIONS,
        twin: twins::ms_ssim,
        follows: "pytorch_msssim.ms_ssim: five scales, valid windows",
    },
    Structured {
        name: "psnr",
        kernel: StructuredKernel::Psnr,
        tensors: &[picture("input"), picture("target")],
        grads: &["input"],
        params: &[DATA_RANGE],
        reductions: IMAGE_REDUCTIONS,
        twin: twins::psnr,
        follows: "10·log10(data_range² / mse) per image",
    },
];
