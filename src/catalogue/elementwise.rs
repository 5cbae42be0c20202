//! The elementwise losses (sections A and B, and kl_div of C) and the terms of section E's
//! objectives. Adding one is a function in its WGSL file, its float64 twin in
//! src/cpu/elementwise.rs, an entry here, and its tests; nothing else changes.

use super::tensors::{Draw, Extent, TensorSpec};
use crate::cpu::elementwise::{self as cpu, ElementFn};
use crate::params::{ParamSpec, Rule};

/// The WGSL file that holds a loss's element function (the kernel is the elementwise one for
/// all of them).
///
/// ```
/// use gpu_loss::catalogue::{elementwise, WgslFile};
/// assert_eq!(elementwise("huber").unwrap().wgsl_file, WgslFile::Regression);
/// assert_eq!(elementwise("focal").unwrap().wgsl_file, WgslFile::Binary);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WgslFile {
    /// Section A: shaders/regression.wgsl
    Regression,
    /// Section B: shaders/binary.wgsl
    Binary,
    /// Section C's divergences whose terms are elementwise: shaders/divergence.wgsl
    Divergence,
    /// The terms of section E's objectives: shaders/adversarial.wgsl (after binary.wgsl,
    /// whose functions they use)
    Adversarial,
    /// A custom loss's generated (or given) WGSL (catalogue/custom.rs).
    Custom(&'static str),
}

impl WgslFile {
    /// The file's WGSL source.
    ///
    /// ```
    /// let huber = gpu_loss::catalogue::elementwise("huber").unwrap();
    /// assert!(huber.wgsl_file.wgsl().contains(huber.wgsl_fn)); // its element function is there
    /// ```
    pub fn wgsl(self) -> &'static str {
        match self {
            WgslFile::Regression => include_str!("../../shaders/regression.wgsl"),
            WgslFile::Binary => include_str!("../../shaders/binary.wgsl"),
            WgslFile::Divergence => include_str!("../../shaders/divergence.wgsl"),
            WgslFile::Adversarial => concat!(
                include_str!("../../shaders/binary.wgsl"),
                include_str!("../../shaders/adversarial.wgsl")
            ),
            WgslFile::Custom(source) => source,
        }
    }
}

/// A closed interval a tensor's values must lie in; anything else (NaN too) is an error.
///
/// ```
/// let bce = gpu_loss::catalogue::elementwise("bce").unwrap();
/// let d = bce.input_domain.unwrap(); // probabilities
/// assert_eq!((d.lo, d.hi, d.text), (0.0, 1.0, "[0, 1]"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Domain {
    /// The lowest value allowed.
    pub lo: f32,
    /// The highest value allowed.
    pub hi: f32,
    /// The interval as errors quote it.
    pub text: &'static str,
}

/// How an extra tensor (gaussian_nll's `var`, bce_with_logits's `pos_weight`) may be shaped
/// when it is not the input's own shape.
///
/// ```
/// use gpu_loss::catalogue::{elementwise, Broadcast};
/// assert_eq!(elementwise("gaussian_nll").unwrap().aux.unwrap().broadcast, Broadcast::PerRow);
/// assert_eq!(elementwise("bce_with_logits").unwrap().aux.unwrap().broadcast, Broadcast::PerColumn);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broadcast {
    /// One value per row, `[..., 1]` or the input's shape without its last axis (PyTorch's
    /// heteroscedastic `var`), or a single value.
    PerRow,
    /// One value per class, `[C]` along the last axis (PyTorch's `pos_weight`), or a single value.
    PerColumn,
}

#[derive(Clone, Copy, Debug)]
/// An elementwise loss's extra tensor (gaussian_nll's `var`, bce_with_logits's `pos_weight`).
///
/// ```
/// let var = gpu_loss::catalogue::elementwise("gaussian_nll").unwrap().aux.unwrap();
/// assert_eq!((var.name, var.required), ("var", true));
/// let pos_weight = gpu_loss::catalogue::elementwise("bce_with_logits").unwrap().aux.unwrap();
/// assert_eq!((pos_weight.required, pos_weight.default), (false, 1.0)); // absent: weight 1
/// ```
pub struct Aux {
    /// Its name.
    pub name: &'static str,
    /// Whether the call must give it.
    pub required: bool,
    /// The value the loss sees when the tensor is absent.
    pub default: f32,
    /// The shapes it may have besides the input's.
    pub broadcast: Broadcast,
    /// The interval its values must lie in, if any.
    pub domain: Option<Domain>,
}

/// How to draw valid random inputs for a loss (report, tests, benches).
///
/// ```
/// use gpu_loss::catalogue::{elementwise, Sampling};
/// assert_eq!(elementwise("bce").unwrap().sampling, Sampling::Probability);
/// assert_eq!(elementwise("hinge").unwrap().sampling, Sampling::Sign);
/// ```
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
///
/// An entry is its address (`PartialEq`, `Hash`, and so the kernels' pipeline keys): the
/// catalogue's are statics, a custom loss's is interned once per generated source.
///
/// ```
/// let huber = gpu_loss::catalogue::elementwise("huber").unwrap();
/// assert_eq!(huber.wgsl_fn, "huber");
/// ```
pub struct Elementwise {
    /// The loss's catalogue name.
    pub name: &'static str,
    /// Other names it answers to (`l1` for mae).
    pub aliases: &'static [&'static str],
    /// The WGSL file its function is in.
    pub wgsl_file: WgslFile,
    /// The function in that file.
    pub wgsl_fn: &'static str,
    /// Its float64 twin.
    pub cpu: ElementFn,
    /// In the order the WGSL reads them: p.x, p.y, p.z, p.w.
    pub params: &'static [ParamSpec],
    /// Its extra tensor, if it has one.
    pub aux: Option<Aux>,
    /// The interval `input` must lie in, if any (bce: [0, 1]).
    pub input_domain: Option<Domain>,
    /// How report, bench and tests draw its tensors.
    pub sampling: Sampling,
    /// Takes `batchmean` (the sum over the rows' count): kl_div.
    pub batchmean: bool,
    /// Whose definition it follows (PyTorch, Keras, a paper).
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
    wgsl_file: WgslFile,
    cpu: ElementFn,
    params: &'static [ParamSpec],
    sampling: Sampling,
    follows: &'static str,
) -> Elementwise {
    Elementwise {
        name,
        aliases: &[],
        wgsl_file,
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

use WgslFile::{Binary, Regression};

/// The elementwise losses, in LOSSES.md's order.
///
/// ```
/// assert_eq!(gpu_loss::catalogue::ELEMENTWISE[0].name, "mse");
/// ```
pub static ELEMENTWISE: &[Elementwise] = &[
    // A. Elementwise regression
    Elementwise {
        // Section F's content loss is mse between one layer's features.
        aliases: &["content_loss"],
        ..entry(
            "mse",
            Regression,
            &cpu::mse,
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
            &cpu::mae,
            &[],
            Sampling::Real,
            "PyTorch L1Loss",
        )
    },
    entry(
        "smooth_l1",
        Regression,
        &cpu::smooth_l1,
        &[ParamSpec::new("beta", 1.0, Rule::NonNegative)],
        Sampling::Real,
        "PyTorch SmoothL1Loss",
    ),
    entry(
        "huber",
        Regression,
        &cpu::huber,
        &[ParamSpec::new("delta", 1.0, Rule::Positive)],
        Sampling::Real,
        "PyTorch HuberLoss",
    ),
    entry(
        "charbonnier",
        Regression,
        &cpu::charbonnier,
        &[ParamSpec::new("eps", 1e-3, Rule::Positive)],
        Sampling::Real,
        "LapSRN",
    ),
    entry(
        "msle",
        Regression,
        &cpu::msle,
        &[],
        Sampling::Positive,
        "Keras MeanSquaredLogarithmicError",
    ),
    entry(
        "log_cosh",
        Regression,
        &cpu::log_cosh,
        &[],
        Sampling::Real,
        "Keras LogCosh",
    ),
    entry(
        "cauchy",
        Regression,
        &cpu::cauchy,
        &[ParamSpec::new("c", 1.0, Rule::Positive)],
        Sampling::Real,
        "log(1 + (e/c)^2)",
    ),
    entry(
        "mape",
        Regression,
        &cpu::mape,
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
            &cpu::gaussian_nll,
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
        &cpu::poisson_nll,
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
            &cpu::bce,
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
            &cpu::bce_with_logits,
            &[],
            Sampling::Logit,
            "PyTorch BCEWithLogitsLoss",
        )
    },
    entry(
        "hinge",
        Binary,
        &cpu::hinge,
        &[],
        Sampling::Sign,
        "Keras Hinge",
    ),
    entry(
        "squared_hinge",
        Binary,
        &cpu::squared_hinge,
        &[],
        Sampling::Sign,
        "Keras SquaredHinge",
    ),
    entry(
        "focal",
        Binary,
        &cpu::focal,
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
        &cpu::soft_margin,
        &[],
        Sampling::Sign,
        "PyTorch SoftMarginLoss",
    ),
    // C. Divergences with elementwise terms
    Elementwise {
        batchmean: true,
        ..entry(
            "kl_div",
            WgslFile::Divergence,
            &cpu::kl_div,
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
    term("neg_log_d_logits", &cpu::neg_log_d_logits, None),
    term("neg_log_1m_d_logits", &cpu::neg_log_1m_d_logits, None),
    term("neg_log_d_probs", &cpu::neg_log_d_probs, Some(UNIT)),
    term("neg_log_1m_d_probs", &cpu::neg_log_1m_d_probs, Some(UNIT)),
    term("square_from_one", &cpu::square_from_one, None),
    term("square", &cpu::square, None),
    term("identity", &cpu::identity, None),
    term("relu_one_minus", &cpu::relu_one_minus, None),
    term("relu_one_plus", &cpu::relu_one_plus, None),
];

const fn term(name: &'static str, cpu: ElementFn, input_domain: Option<Domain>) -> Elementwise {
    Elementwise {
        input_domain,
        ..entry(
            name,
            WgslFile::Adversarial,
            cpu,
            &[],
            Sampling::Logit,
            "a term of the GAN objectives",
        )
    }
}

impl PartialEq for Elementwise {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Elementwise {}

impl std::hash::Hash for Elementwise {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self, state)
    }
}

impl std::fmt::Debug for Elementwise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elementwise")
            .field("name", &self.name)
            .field("wgsl_file", &self.wgsl_file)
            .finish_non_exhaustive()
    }
}

impl Elementwise {
    /// `input`, `target`, `weight` and the extra tensor, if any (drawn by `sampling`, which
    /// draws input and target together; the `draw`s here are not read).
    ///
    /// ```
    /// let names = gpu_loss::catalogue::names(&gpu_loss::catalogue::elementwise("gaussian_nll").unwrap().tensors());
    /// assert_eq!(names, ["input", "target", "weight", "var"]);
    /// ```
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let any = Draw::Normal(Extent::Samples);
        let mut t = vec![
            TensorSpec::floats("input", "any", any),
            TensorSpec::floats("target", "input's shape", any),
            TensorSpec::floats("weight", "input's shape", any).optional(),
        ];
        if let Some(a) = self.aux {
            let shape = match a.broadcast {
                Broadcast::PerRow => "input's shape, one per row ([..., 1] or [...]), or [1]",
                Broadcast::PerColumn => "input's shape, one per class ([C]), or [1]",
            };
            t.push(TensorSpec {
                required: a.required,
                ..TensorSpec::floats(a.name, shape, any)
            });
        }
        t
    }
}

/// The elementwise loss (or objective term) with this name or alias.
///
/// ```
/// use gpu_loss::catalogue::elementwise;
/// assert_eq!(elementwise("l1").unwrap().name, "mae"); // an alias
/// assert!(elementwise("cross_entropy").is_none()); // a row loss
/// ```
pub fn elementwise(name: &str) -> Option<&'static Elementwise> {
    ELEMENTWISE
        .iter()
        .chain(TERMS)
        .find(|l| l.name == name || l.aliases.contains(&name))
}
