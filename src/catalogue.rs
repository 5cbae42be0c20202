//! The loss catalogue: one entry per loss of LOSSES.md, naming its WGSL function, its float64
//! twin, its parameters and its tensors. Adding an elementwise loss is one function in
//! shaders/regression.wgsl or shaders/binary.wgsl, one in src/cpu/elementwise.rs, one entry
//! here, and its tests; nothing else changes.

use crate::cpu::elementwise::{self as cpu, ElementFn};
use crate::params::{ParamSpec, Rule};

/// The WGSL file that holds a loss's element function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Section A: shaders/regression.wgsl
    Regression,
    /// Section B: shaders/binary.wgsl
    Binary,
    /// Section C's divergences whose terms are elementwise: shaders/divergence.wgsl
    Divergence,
    /// The terms of section E's objectives: shaders/adversarial.wgsl (after binary.wgsl,
    /// whose functions they use)
    Adversarial,
}

impl Family {
    pub fn wgsl(self) -> &'static str {
        match self {
            Family::Regression => include_str!("../shaders/regression.wgsl"),
            Family::Binary => include_str!("../shaders/binary.wgsl"),
            Family::Divergence => include_str!("../shaders/divergence.wgsl"),
            Family::Adversarial => concat!(
                include_str!("../shaders/binary.wgsl"),
                include_str!("../shaders/adversarial.wgsl")
            ),
        }
    }
}

/// A closed interval a tensor's values must lie in; anything else (NaN too) is an error.
#[derive(Clone, Copy, Debug)]
pub struct Domain {
    pub lo: f32,
    pub hi: f32,
    pub text: &'static str,
}

/// How an extra tensor (gaussian_nll's `var`, bce_with_logits's `pos_weight`) may be shaped
/// when it is not the input's own shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broadcast {
    /// One value per row, `[..., 1]` or the input's shape without its last axis (PyTorch's
    /// heteroscedastic `var`), or a single value.
    PerRow,
    /// One value per class, `[C]` along the last axis (PyTorch's `pos_weight`), or a single value.
    PerColumn,
}

#[derive(Clone, Copy, Debug)]
pub struct Aux {
    pub name: &'static str,
    pub required: bool,
    /// The value the loss sees when the tensor is absent.
    pub default: f32,
    pub broadcast: Broadcast,
    pub domain: Option<Domain>,
}

/// How to draw valid random inputs for a loss (report, tests, benches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// input and target ~ N(0, 2²)
    Real,
    /// input and target >= 0, spread over decades
    Positive,
    /// input in (0, 1), target in [0, 1] (mostly 0 or 1)
    Probability,
    /// input ~ N(0, 3²) logits, target in [0, 1] (mostly 0 or 1)
    Logit,
    /// input ~ N(0, 1.5²), target in {-1, 1}
    Sign,
    /// input ~ N(0, 1) log-rates, target small counts
    Count,
    /// input log-probabilities, target probabilities (some exactly 0)
    LogProbability,
}

/// An elementwise loss (sections A and B, and kl_div of C): `input` and `target` of one shape,
/// optional `weight` of the same shape, maybe one extra tensor.
#[derive(Debug)]
pub struct Elementwise {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub family: Family,
    /// The function in the family's WGSL file.
    pub wgsl_fn: &'static str,
    /// Its float64 twin.
    pub cpu: ElementFn,
    /// In the order the WGSL reads them: p.x, p.y, p.z, p.w.
    pub params: &'static [ParamSpec],
    pub aux: Option<Aux>,
    pub input_domain: Option<Domain>,
    pub sampling: Sampling,
    /// Takes `batchmean` (the sum over the rows' count): kl_div.
    pub batchmean: bool,
    pub follows: &'static str,
}

const UNIT: Domain = Domain {
    lo: 0.0,
    hi: 1.0,
    text: "[0, 1]",
};

const NON_NEGATIVE: Domain = Domain {
    lo: 0.0,
    hi: f32::MAX,
    text: "the finite values >= 0",
};

const fn entry(
    name: &'static str,
    family: Family,
    cpu: ElementFn,
    params: &'static [ParamSpec],
    sampling: Sampling,
    follows: &'static str,
) -> Elementwise {
    Elementwise {
        name,
        aliases: &[],
        family,
        wgsl_fn: name,
        cpu,
        params,
        aux: None,
        input_domain: None,
        sampling,
        batchmean: false,
        follows,
    }
}

use Family::{Binary, Regression};

pub static ELEMENTWISE: &[Elementwise] = &[
    // A. Elementwise regression
    Elementwise {
        // Section F's content loss is mse between one layer's features.
        aliases: &["content_loss"],
        ..entry(
            "mse",
            Regression,
            cpu::mse,
            &[],
            Sampling::Real,
            "PyTorch MSELoss",
        )
    },
    Elementwise {
        aliases: &["l1"],
        ..entry(
            "mae",
            Regression,
            cpu::mae,
            &[],
            Sampling::Real,
            "PyTorch L1Loss",
        )
    },
    entry(
        "smooth_l1",
        Regression,
        cpu::smooth_l1,
        &[ParamSpec::new("beta", 1.0, Rule::NonNegative)],
        Sampling::Real,
        "PyTorch SmoothL1Loss",
    ),
    entry(
        "huber",
        Regression,
        cpu::huber,
        &[ParamSpec::new("delta", 1.0, Rule::Positive)],
        Sampling::Real,
        "PyTorch HuberLoss",
    ),
    entry(
        "charbonnier",
        Regression,
        cpu::charbonnier,
        &[ParamSpec::new("eps", 1e-3, Rule::Positive)],
        Sampling::Real,
        "LapSRN",
    ),
    entry(
        "msle",
        Regression,
        cpu::msle,
        &[],
        Sampling::Positive,
        "Keras MeanSquaredLogarithmicError",
    ),
    entry(
        "log_cosh",
        Regression,
        cpu::log_cosh,
        &[],
        Sampling::Real,
        "Keras LogCosh",
    ),
    entry(
        "cauchy",
        Regression,
        cpu::cauchy,
        &[ParamSpec::new("c", 1.0, Rule::Positive)],
        Sampling::Real,
        "log(1 + (e/c)^2)",
    ),
    entry(
        "mape",
        Regression,
        cpu::mape,
        &[],
        Sampling::Real,
        "Keras MeanAbsolutePercentageError",
    ),
    Elementwise {
        aux: Some(Aux {
            name: "var",
            required: true,
            default: 1.0,
            broadcast: Broadcast::PerRow,
            domain: Some(NON_NEGATIVE),
        }),
        ..entry(
            "gaussian_nll",
            Regression,
            cpu::gaussian_nll,
            &[
                ParamSpec::new("eps", 1e-6, Rule::Positive),
                ParamSpec::new("full", 0.0, Rule::Bool),
            ],
            Sampling::Real,
            "PyTorch GaussianNLLLoss",
        )
    },
    entry(
        "poisson_nll",
        Regression,
        cpu::poisson_nll,
        &[
            ParamSpec::new("log_input", 1.0, Rule::Bool),
            ParamSpec::new("full", 0.0, Rule::Bool),
            ParamSpec::new("eps", 1e-8, Rule::Positive),
        ],
        Sampling::Count,
        "PyTorch PoissonNLLLoss",
    ),
    // B. Binary classification
    Elementwise {
        input_domain: Some(UNIT),
        ..entry(
            "bce",
            Binary,
            cpu::bce,
            &[],
            Sampling::Probability,
            "PyTorch BCELoss",
        )
    },
    Elementwise {
        aux: Some(Aux {
            name: "pos_weight",
            required: false,
            default: 1.0,
            broadcast: Broadcast::PerColumn,
            domain: None,
        }),
        ..entry(
            "bce_with_logits",
            Binary,
            cpu::bce_with_logits,
            &[],
            Sampling::Logit,
            "PyTorch BCEWithLogitsLoss",
        )
    },
    entry(
        "hinge",
        Binary,
        cpu::hinge,
        &[],
        Sampling::Sign,
        "Keras Hinge",
    ),
    entry(
        "squared_hinge",
        Binary,
        cpu::squared_hinge,
        &[],
        Sampling::Sign,
        "Keras SquaredHinge",
    ),
    entry(
        "focal",
        Binary,
        cpu::focal,
        &[
            ParamSpec::new("alpha", 0.25, Rule::Finite),
            ParamSpec::new("gamma", 2.0, Rule::NonNegative),
        ],
        Sampling::Logit,
        "torchvision sigmoid_focal_loss",
    ),
    entry(
        "soft_margin",
        Binary,
        cpu::soft_margin,
        &[],
        Sampling::Sign,
        "PyTorch SoftMarginLoss",
    ),
    // C. Divergences with elementwise terms
    Elementwise {
        batchmean: true,
        ..entry(
            "kl_div",
            Family::Divergence,
            cpu::kl_div,
            &[
                ParamSpec::new("log_input", 1.0, Rule::Bool),
                ParamSpec::new("log_target", 0.0, Rule::Bool),
            ],
            Sampling::LogProbability,
            "PyTorch KLDivLoss (log_input) / Keras KLDivergence (probabilities)",
        )
    },
];

/// The terms section E's objectives weigh and sum: elementwise functions of discriminator
/// outputs, run by the elementwise kernel but not offered as losses of their own.
pub static TERMS: &[Elementwise] = &[
    term("neg_log_d_logits", cpu::neg_log_d_logits, None),
    term("neg_log_1m_d_logits", cpu::neg_log_1m_d_logits, None),
    term("neg_log_d_probs", cpu::neg_log_d_probs, Some(UNIT)),
    term("neg_log_1m_d_probs", cpu::neg_log_1m_d_probs, Some(UNIT)),
    term("square_from_one", cpu::square_from_one, None),
    term("square", cpu::square, None),
    term("identity", cpu::identity, None),
    term("relu_one_minus", cpu::relu_one_minus, None),
    term("relu_one_plus", cpu::relu_one_plus, None),
];

const fn term(name: &'static str, cpu: ElementFn, input_domain: Option<Domain>) -> Elementwise {
    Elementwise {
        input_domain,
        ..entry(
            name,
            Family::Adversarial,
            cpu,
            &[],
            Sampling::Logit,
            "a term of the GAN objectives",
        )
    }
}

/// The elementwise loss (or objective term) with this name or alias.
pub fn elementwise(name: &str) -> Option<&'static Elementwise> {
    ELEMENTWISE
        .iter()
        .chain(TERMS)
        .find(|l| l.name == name || l.aliases.contains(&name))
}

/// Which kernel evaluates a row loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKernel {
    /// shaders/cross_entropy.wgsl (with its label pre-pass), MODE 0.
    CrossEntropy,
    /// The same kernel, MODE 1: a gather of log-probabilities.
    Nll,
    /// The same kernel, MODE 2: Keras on probabilities.
    SparseCategorical,
    /// shaders/row_stats.wgsl with this loss's functions from shaders/row_losses.wgsl: `input`
    /// and `target` of one shape, a loss from a few per-row sums (a loss with a `{loss}_pre`
    /// function gets a first sweep whose sums the second one reads).
    Stats,
    /// shaders/row_tuples.wgsl with this loss's functions from shaders/row_tuple_losses.wgsl:
    /// two or three `[N, C]` tensors (and optional per-row `target` labels), a gradient for each.
    Tuples,
}

/// A row loss (section C): `[N, C]` tensors, one loss per row (leading axes are rows).
#[derive(Debug)]
pub struct RowLoss {
    pub name: &'static str,
    pub kernel: RowKernel,
    /// In the order the kernel reads them (seg.params.x, .y, ...).
    pub params: &'static [ParamSpec],
    /// The tensors it reads, required first; `input`-like ones get gradients.
    pub tensors: &'static [&'static str],
    pub follows: &'static str,
}

impl RowLoss {
    /// The tensors that get a gradient, in order (all but the labels and the class weights).
    pub fn grad_tensors(&self) -> impl Iterator<Item = &'static str> {
        let skip = match self.kernel {
            RowKernel::Tuples => &["target"][..],
            _ => &["target", "weight"][..],
        };
        self.tensors
            .iter()
            .copied()
            .filter(move |t| !skip.contains(t))
    }
}

const fn stats(name: &'static str, params: &'static [ParamSpec], follows: &'static str) -> RowLoss {
    RowLoss {
        name,
        kernel: RowKernel::Stats,
        params,
        tensors: &["input", "target"],
        follows,
    }
}

pub static ROWS: &[RowLoss] = &[
    RowLoss {
        name: "cross_entropy",
        kernel: RowKernel::CrossEntropy,
        params: &[
            ParamSpec::new("ignore_index", -100.0, Rule::Integer),
            ParamSpec::new("label_smoothing", 0.0, Rule::Unit),
            ParamSpec::new("z_loss", 0.0, Rule::NonNegative),
            ParamSpec::new("softcap", f64::NAN, Rule::Positive),
        ],
        tensors: &["input", "target", "weight"],
        follows: "PyTorch CrossEntropyLoss; z_loss and softcap as Liger-Kernel",
    },
    RowLoss {
        name: "nll",
        kernel: RowKernel::Nll,
        params: &[ParamSpec::new("ignore_index", -100.0, Rule::Integer)],
        tensors: &["input", "target", "weight"],
        follows: "PyTorch NLLLoss",
    },
    RowLoss {
        name: "sparse_categorical_cross_entropy",
        kernel: RowKernel::SparseCategorical,
        params: &[ParamSpec::new("ignore_class", f64::NAN, Rule::Integer)],
        tensors: &["input", "target"],
        follows: "Keras SparseCategoricalCrossentropy",
    },
    stats(
        "js_div",
        &[
            ParamSpec::new("beta", 0.5, Rule::Unit),
            ParamSpec::new("log_input", 0.0, Rule::Bool),
        ],
        "JSD: β·KL(P‖M) + (1 − β)·KL(Q‖M)",
    ),
    stats(
        "cosine_similarity",
        &[ParamSpec::new("eps", 1e-7, Rule::NonNegative)],
        "Keras CosineSimilarity (cosine proximity)",
    ),
    stats("dice", &[], "Keras dice with the row's axes"),
    stats(
        "categorical_cross_entropy",
        &[ParamSpec::new("label_smoothing", 0.0, Rule::Unit)],
        "Keras CategoricalCrossentropy (on probabilities)",
    ),
    RowLoss {
        name: "cosine_embedding",
        kernel: RowKernel::Tuples,
        params: &[ParamSpec::new("margin", 0.0, Rule::Finite)],
        tensors: &["input1", "input2", "target"],
        follows: "PyTorch CosineEmbeddingLoss",
    },
    RowLoss {
        name: "triplet_margin",
        kernel: RowKernel::Tuples,
        params: &[
            ParamSpec::new("margin", 1.0, Rule::Finite),
            ParamSpec::new("p", 2.0, Rule::Positive),
            ParamSpec::new("eps", 1e-6, Rule::Finite),
            ParamSpec::new("swap", 0.0, Rule::Bool),
        ],
        tensors: &["anchor", "positive", "negative"],
        follows: "PyTorch TripletMarginLoss",
    },
];

/// An objective of section E: a weighted sum of named terms, each an elementwise term or a
/// row loss over some of its tensors (src/objective.rs builds them from the parameters).
#[derive(Debug)]
pub struct Objective {
    pub name: &'static str,
    /// Its tensors, all required, in LOSSES.md's order.
    pub tensors: &'static [&'static str],
    /// The tensors that get a gradient (the predictions), in the order `other_grads` follows.
    pub grads: &'static [&'static str],
    pub params: &'static [ParamSpec],
    pub follows: &'static str,
}

/// The discriminator's kinds, and the generator's (`kind` or `gan`, by index).
pub const DISCRIMINATOR_KINDS: Rule = Rule::OneOf {
    words: &["standard", "lsgan", "wgan", "hinge"],
    text: "one of standard, lsgan, wgan, hinge",
};
pub const GENERATOR_KINDS: Rule = Rule::OneOf {
    words: &["non_saturating", "minimax", "lsgan", "wgan", "hinge"],
    text: "one of non_saturating, minimax, lsgan, wgan, hinge",
};
const FROM_LOGITS: ParamSpec = ParamSpec::new("from_logits", 1.0, Rule::Bool);

pub static OBJECTIVES: &[Objective] = &[
    Objective {
        name: "gan_discriminator",
        tensors: &["real", "fake"],
        grads: &["real", "fake"],
        params: &[
            ParamSpec::new("kind", 0.0, DISCRIMINATOR_KINDS),
            FROM_LOGITS,
        ],
        follows: "GAN discriminator losses (Goodfellow; LSGAN; WGAN; hinge)",
    },
    Objective {
        name: "gan_generator",
        tensors: &["fake"],
        grads: &["fake"],
        params: &[ParamSpec::new("kind", 0.0, GENERATOR_KINDS), FROM_LOGITS],
        follows: "GAN generator losses",
    },
    Objective {
        name: "pix2pix_generator",
        tensors: &["fake", "generated", "target"],
        grads: &["fake", "generated"],
        params: &[
            ParamSpec::new("lambda", 100.0, Rule::NonNegative),
            ParamSpec::new("gan", 0.0, GENERATOR_KINDS),
            FROM_LOGITS,
        ],
        follows: "pix2pix (Isola et al.): adversarial + λ·L1",
    },
    Objective {
        name: "cyclegan_generator",
        tensors: &[
            "x",
            "y",
            "x_cycled",
            "y_cycled",
            "x_identity",
            "y_identity",
            "d_y_fake",
            "d_x_fake",
        ],
        grads: &[
            "d_y_fake",
            "d_x_fake",
            "x_cycled",
            "y_cycled",
            "x_identity",
            "y_identity",
        ],
        params: &[
            ParamSpec::new("lambda", 10.0, Rule::NonNegative),
            ParamSpec::new("rho", 5.0, Rule::NonNegative),
            ParamSpec::new("gan", 2.0, GENERATOR_KINDS),
            FROM_LOGITS,
        ],
        follows: "CycleGAN (Zhu et al.): adversarial + λ·cycle + ρ·identity",
    },
    Objective {
        name: "stargan_generator",
        tensors: &[
            "fake_src",
            "fake_cls",
            "target_domain",
            "x",
            "x_reconstructed",
        ],
        grads: &["fake_src", "fake_cls", "x_reconstructed"],
        params: &[
            ParamSpec::new("lambda_cls", 1.0, Rule::NonNegative),
            ParamSpec::new("lambda_rec", 10.0, Rule::NonNegative),
            ParamSpec::new("gan", 0.0, GENERATOR_KINDS),
            FROM_LOGITS,
        ],
        follows: "StarGAN (Choi et al.) generator",
    },
    Objective {
        name: "stargan_discriminator",
        tensors: &["real_src", "fake_src", "real_cls", "original_domain"],
        grads: &["real_src", "fake_src", "real_cls"],
        params: &[
            ParamSpec::new("lambda_cls", 1.0, Rule::NonNegative),
            ParamSpec::new("kind", 0.0, DISCRIMINATOR_KINDS),
            FROM_LOGITS,
        ],
        follows: "StarGAN (Choi et al.) discriminator",
    },
];

/// A loss with a kernel of its own over structured tensors (images, feature maps,
/// distributions): sections D and F.
#[derive(Debug)]
pub struct Structured {
    pub name: &'static str,
    /// Its tensors, required first, in LOSSES.md's order.
    pub tensors: &'static [&'static str],
    /// How many of `tensors` are required (the rest are optional).
    pub required: usize,
    /// The tensors that get a gradient, in order.
    pub grads: &'static [&'static str],
    pub params: &'static [ParamSpec],
    pub follows: &'static str,
}

pub static STRUCTURED: &[Structured] = &[
    Structured {
        name: "total_variation",
        tensors: &["input"],
        required: 1,
        grads: &["input"],
        params: &[ParamSpec::new("power", 1.0, Rule::Positive)],
        follows: "anisotropic total variation over the last two axes (H, W)",
    },
    Structured {
        name: "wasserstein_1d",
        tensors: &["u", "v"],
        required: 2,
        grads: &["u", "v"],
        params: &[ParamSpec::new("dx", 1.0, Rule::Positive)],
        follows: "earth mover's distance between histograms on one grid",
    },
    Structured {
        name: "wasserstein_1d_samples",
        tensors: &["u_values", "v_values", "u_weights", "v_weights"],
        required: 2,
        grads: &["u_values", "v_values"],
        params: &[],
        follows: "scipy.stats.wasserstein_distance: both sample sets sorted together on the GPU",
    },
    Structured {
        name: "gram",
        tensors: &["input"],
        required: 1,
        grads: &["input"],
        params: &[],
        follows: "Gatys et al.: G = F·Fᵀ / (C·M); `none` gives G, sum/mean reduce its entries",
    },
    Structured {
        name: "style_loss",
        tensors: &["input", "target"],
        required: 2,
        grads: &["input"],
        params: &[],
        follows: "Gatys et al.: mse(gram(F), gram(S)) for one layer",
    },
];

/// Any loss of the catalogue.
#[derive(Clone, Copy, Debug)]
pub enum Loss {
    Elementwise(&'static Elementwise),
    Row(&'static RowLoss),
    Objective(&'static Objective),
    Structured(&'static Structured),
}

impl Loss {
    pub fn name(self) -> &'static str {
        match self {
            Loss::Elementwise(l) => l.name,
            Loss::Row(l) => l.name,
            Loss::Objective(o) => o.name,
            Loss::Structured(s) => s.name,
        }
    }

    /// The tensors that get a gradient, in order: `grad` is the first's, `other_grads` the
    /// rest's.
    pub fn grad_tensors(self) -> Vec<&'static str> {
        match self {
            Loss::Elementwise(_) => vec!["input"],
            Loss::Row(l) => l.grad_tensors().collect(),
            Loss::Objective(o) => o.grads.to_vec(),
            Loss::Structured(s) => s.grads.to_vec(),
        }
    }
}

/// Every loss of the catalogue, in LOSSES.md's order of sections.
pub fn all() -> impl Iterator<Item = Loss> {
    ELEMENTWISE
        .iter()
        .map(Loss::Elementwise)
        .chain(ROWS.iter().map(Loss::Row))
        .chain(OBJECTIVES.iter().map(Loss::Objective))
        .chain(STRUCTURED.iter().map(Loss::Structured))
}

/// The loss (or objective) with this name or alias.
pub fn find(name: &str) -> Option<Loss> {
    ELEMENTWISE
        .iter()
        .find(|l| l.name == name || l.aliases.contains(&name))
        .map(Loss::Elementwise)
        .or_else(|| ROWS.iter().find(|l| l.name == name).map(Loss::Row))
        .or_else(|| {
            OBJECTIVES
                .iter()
                .find(|o| o.name == name)
                .map(Loss::Objective)
        })
        .or_else(|| {
            STRUCTURED
                .iter()
                .find(|s| s.name == name)
                .map(Loss::Structured)
        })
}
