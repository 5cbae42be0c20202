//! Section E's objectives: each a weighted sum of named terms, every term an elementwise
//! function of some of the objective's tensors (the GAN terms of `TERMS`, mae) or
//! cross_entropy. The terms are plain data, read alike by the GPU composite
//! (src/call/objective.rs) and the float64 reference (src/cpu/named.rs).

use super::structured::picture;
use super::tensors::{Draw, Extent, Holds, TensorSpec};
use crate::params::{ParamSpec, Rule};

/// One term: `weight · mean(loss(input[, target]))`, or `weight · (1 − mean(..))` when
/// `one_minus` (a similarity made a loss: splatting's D-SSIM).
///
/// ```
/// let o = gpu_loss::catalogue::OBJECTIVES.iter().find(|o| o.name == "pix2pix_generator").unwrap();
/// let terms = (o.terms)(&[100.0, 0.0, 1.0]); // lambda, gan (non_saturating), from_logits
/// let l1 = terms.iter().find(|t| t.loss == "mae").unwrap();
/// assert_eq!((l1.weight, l1.target.is_some()), (100.0, true));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// The term's name (as `Computed::terms` reports it).
    pub name: &'static str,
    /// An elementwise function (`TERMS`, mae), `cross_entropy` or `ssim`.
    pub loss: &'static str,
    /// The objective's tensor the term reads as its input.
    pub input: &'static str,
    /// None: the term reads its input only.
    pub target: Option<&'static str>,
    /// Its weight in the sum.
    pub weight: f64,
    /// Parameters of `loss` other than its defaults, as `--param` would give them.
    pub params: &'static [(&'static str, &'static str)],
    /// Whether the term is `weight · (1 − mean)`.
    pub one_minus: bool,
}

/// An objective: its terms from its resolved parameters (catalogue order).
#[derive(Debug)]
///
/// ```
/// let o = gpu_loss::catalogue::OBJECTIVES.iter().find(|o| o.name == "pix2pix_generator").unwrap();
/// let terms = (o.terms)(&[100.0, 0.0, 1.0]);
/// assert_eq!(terms.len(), 2);
/// ```
pub struct Objective {
    /// The loss's catalogue name.
    pub name: &'static str,
    /// Its tensors, all required, in LOSSES.md's order.
    pub tensors: &'static [TensorSpec],
    /// The tensors that get a gradient (the predictions), in the order `other_grads` follows.
    pub grads: &'static [&'static str],
    /// Its parameters, in catalogue order.
    pub params: &'static [ParamSpec],
    /// Its terms, from its resolved parameters.
    pub terms: fn(&[f64]) -> Vec<Term>,
    /// Whose definition it follows.
    pub follows: &'static str,
}

/// The discriminator's kinds, and the generator's (`kind` or `gan`, by index).
pub const DISCRIMINATOR_KINDS: Rule = Rule::OneOf {
    words: &["standard", "lsgan", "wgan", "hinge"],
    text: "one of standard, lsgan, wgan, hinge",
};
/// The generator's kinds (`kind` of gan_generator, `gan` of the image-to-image objectives).
pub const GENERATOR_KINDS: Rule = Rule::OneOf {
    words: &["non_saturating", "minimax", "lsgan", "wgan", "hinge"],
    text: "one of non_saturating, minimax, lsgan, wgan, hinge",
};
const FROM_LOGITS: ParamSpec = ParamSpec::new("from_logits", 1.0, Rule::Bool);

fn term(name: &'static str, loss: &'static str, input: &'static str, weight: f64) -> Term {
    Term {
        name,
        loss,
        input,
        target: None,
        weight,
        params: &[],
        one_minus: false,
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
/// tensors `real` and `fake`.
fn discriminator(kind: f64, logits: f64, real: &'static str, fake: &'static str) -> [Term; 2] {
    let logits = logits != 0.0;
    match kind as usize {
        // ½·(E −log D(x) + E −log(1 − D(G(z))))
        0 => [
            term("real", neg_log(false, logits), real, 0.5),
            term("fake", neg_log(true, logits), fake, 0.5),
        ],
        // ½·E (r − 1)² + ½·E f²
        1 => [
            term("real", "square_from_one", real, 0.5),
            term("fake", "square", fake, 0.5),
        ],
        // E f − E r
        2 => [
            term("real", "identity", real, -1.0),
            term("fake", "identity", fake, 1.0),
        ],
        // E relu(1 − r) + E relu(1 + f)
        _ => [
            term("real", "relu_one_minus", real, 1.0),
            term("fake", "relu_one_plus", fake, 1.0),
        ],
    }
}

/// The generator's term for `kind` (an index into GENERATOR_KINDS) on `fake`.
fn generator(name: &'static str, kind: f64, logits: f64, fake: &'static str) -> Term {
    let logits = logits != 0.0;
    match kind as usize {
        0 => term(name, neg_log(false, logits), fake, 1.0),
        // E log(1 − D(G(z))) = −E −log(1 − D)
        1 => term(name, neg_log(true, logits), fake, -1.0),
        2 => term(name, "square_from_one", fake, 0.5),
        // wgan and hinge: −E f
        _ => term(name, "identity", fake, -1.0),
    }
}

/// A discriminator's output: a score per sample.
const fn scores(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, "any", Draw::Normal(Extent::Scores))
}

/// Images (generated, targets, reconstructions).
const fn images(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, "any", Draw::Normal(Extent::Image))
}

/// An auxiliary classifier's logits `[N, C]`.
const fn class_scores(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, "any", Draw::Normal(Extent::ClassScores))
}

/// Domain labels, one per row of the classifier's logits.
const fn domains(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, "[N]", Draw::Labels(Extent::ClassLabels)).holding(Holds::ClassIndices)
}

/// Section E's objectives, in LOSSES.md's order.
///
/// ```
/// assert!(gpu_loss::catalogue::OBJECTIVES.iter().any(|o| o.name == "pix2pix_generator"));
/// ```
pub static OBJECTIVES: &[Objective] = &[
    Objective {
        name: "gan_discriminator",
        tensors: &[scores("real"), scores("fake")],
        grads: &["real", "fake"],
        params: &[
            ParamSpec::new("kind", 0.0, DISCRIMINATOR_KINDS),
            FROM_LOGITS,
        ],
        terms: |p| discriminator(p[0], p[1], "real", "fake").to_vec(),
        follows: "GAN discriminator losses (Goodfellow; LSGAN; WGAN; hinge)",
    },
    Objective {
        name: "gan_generator",
        tensors: &[scores("fake")],
        grads: &["fake"],
        params: &[ParamSpec::new("kind", 0.0, GENERATOR_KINDS), FROM_LOGITS],
        terms: |p| vec![generator("adversarial", p[0], p[1], "fake")],
        follows: "GAN generator losses",
    },
    Objective {
        name: "pix2pix_generator",
        tensors: &[scores("fake"), images("generated"), images("target")],
        grads: &["fake", "generated"],
        params: &[
            ParamSpec::new("lambda", 100.0, Rule::NonNegative),
            ParamSpec::new("gan", 0.0, GENERATOR_KINDS),
            FROM_LOGITS,
        ],
        terms: |p| {
            vec![
                generator("adversarial", p[1], p[2], "fake"),
                pair("l1", "mae", "generated", "target", p[0]),
            ]
        },
        follows: "pix2pix (Isola et al.): adversarial + λ·L1",
    },
    Objective {
        name: "cyclegan_generator",
        tensors: &[
            images("x"),
            images("y"),
            images("x_cycled"),
            images("y_cycled"),
            images("x_identity"),
            images("y_identity"),
            scores("d_y_fake"),
            scores("d_x_fake"),
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
        terms: |p| {
            let (lambda, rho) = (p[0], p[1]);
            vec![
                generator("adversarial_y", p[2], p[3], "d_y_fake"),
                generator("adversarial_x", p[2], p[3], "d_x_fake"),
                pair("cycle_x", "mae", "x_cycled", "x", lambda),
                pair("cycle_y", "mae", "y_cycled", "y", lambda),
                pair("identity_x", "mae", "x_identity", "x", rho),
                pair("identity_y", "mae", "y_identity", "y", rho),
            ]
        },
        follows: "CycleGAN (Zhu et al.): adversarial + λ·cycle + ρ·identity",
    },
    Objective {
        name: "stargan_generator",
        tensors: &[
            scores("fake_src"),
            class_scores("fake_cls"),
            domains("target_domain"),
            images("x"),
            images("x_reconstructed"),
        ],
        grads: &["fake_src", "fake_cls", "x_reconstructed"],
        params: &[
            ParamSpec::new("lambda_cls", 1.0, Rule::NonNegative),
            ParamSpec::new("lambda_rec", 10.0, Rule::NonNegative),
            ParamSpec::new("gan", 0.0, GENERATOR_KINDS),
            FROM_LOGITS,
        ],
        terms: |p| {
            vec![
                generator("adversarial", p[2], p[3], "fake_src"),
                pair(
                    "classification",
                    "cross_entropy",
                    "fake_cls",
                    "target_domain",
                    p[0],
                ),
                pair("reconstruction", "mae", "x_reconstructed", "x", p[1]),
            ]
        },
        follows: "StarGAN (Choi et al.) generator",
    },
    Objective {
        name: "stargan_discriminator",
        tensors: &[
            scores("real_src"),
            scores("fake_src"),
            class_scores("real_cls"),
            domains("original_domain"),
        ],
        grads: &["real_src", "fake_src", "real_cls"],
        params: &[
            ParamSpec::new("lambda_cls", 1.0, Rule::NonNegative),
            ParamSpec::new("kind", 0.0, DISCRIMINATOR_KINDS),
            FROM_LOGITS,
        ],
        terms: |p| {
            let mut t = discriminator(p[1], p[2], "real_src", "fake_src").to_vec();
            t.push(pair(
                "classification",
                "cross_entropy",
                "real_cls",
                "original_domain",
                p[0],
            ));
            t
        },
        follows: "StarGAN (Choi et al.) discriminator",
    },
    Objective {
        name: "splatting",
        tensors: &[picture("input"), picture("target")],
        grads: &["input"],
        params: &[ParamSpec::new("lambda", 0.2, Rule::Unit)],
        // l1 first: its gradient is written, dssim's added to it.
        terms: |p| {
            let lambda = p[0];
            vec![
                pair("l1", "mae", "input", "target", 1.0 - lambda),
                Term {
                    params: &[("padding", "same")],
                    one_minus: true,
                    ..pair("dssim", "ssim", "input", "target", lambda)
                },
            ]
        },
        follows: "3D Gaussian splatting's training loss: (1 − λ)·L1 + λ·(1 − SSIM, same padding)",
    },
];
