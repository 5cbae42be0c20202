//! Random valid inputs for each loss, drawn from the domain its catalogue entry names. The
//! report, the tests and the benches all draw from here, so "random data" means the same
//! thing everywhere.

use crate::catalogue::{Broadcast, Elementwise, Sampling};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The tensors of one elementwise call, on the host.
#[derive(Clone, Debug)]
pub struct Sample {
    pub shape: Vec<usize>,
    pub input: Vec<f32>,
    pub target: Vec<f32>,
    pub weight: Option<Vec<f32>>,
    /// The loss's extra tensor and its shape (full, or broadcast as the loss allows).
    pub aux: Option<(Vec<f32>, Vec<usize>)>,
}

/// Which form of the extra tensor to draw, for losses that have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxForm {
    /// Only when the loss requires it, and then full-shape.
    Default,
    /// The input's shape.
    Full,
    /// The broadcast form the loss allows (per row or per column).
    Broadcast,
    /// None at all.
    Absent,
}

pub fn normal(rng: &mut StdRng) -> f32 {
    // Box-Muller; u1 in (0, 1] so the log is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// A label for binary losses: mostly hard 0/1, sometimes soft.
fn label(rng: &mut StdRng) -> f32 {
    if rng.random::<f32>() < 0.8 {
        if rng.random::<bool>() {
            1.0
        } else {
            0.0
        }
    } else {
        rng.random()
    }
}

fn draw(kind: Sampling, rng: &mut StdRng) -> (f32, f32) {
    match kind {
        Sampling::Real => (2.0 * normal(rng), 2.0 * normal(rng)),
        Sampling::Positive => (
            (1.5 * normal(rng)).exp(),
            if rng.random::<f32>() < 0.05 {
                0.0
            } else {
                (1.5 * normal(rng)).exp()
            },
        ),
        Sampling::Probability => {
            let z = 3.0 * normal(rng);
            ((1.0 / (1.0 + (-z).exp())).clamp(0.0, 1.0), label(rng))
        }
        Sampling::Logit => (3.0 * normal(rng), label(rng)),
        Sampling::Sign => (
            1.5 * normal(rng),
            if rng.random::<bool>() { 1.0 } else { -1.0 },
        ),
        Sampling::Count => (normal(rng), rng.random_range(0..8) as f32),
        Sampling::LogProbability => (
            rng.random_range(0.01f32..1.0).ln(),
            if rng.random::<f32>() < 0.1 {
                0.0
            } else {
                rng.random()
            },
        ),
    }
}

/// Random inputs of `shape` for `loss`, reproducible from `seed`.
pub fn sample(
    loss: &Elementwise,
    shape: &[usize],
    weighted: bool,
    aux: AuxForm,
    seed: u64,
) -> Sample {
    let mut rng = StdRng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let (input, target): (Vec<f32>, Vec<f32>) =
        (0..n).map(|_| draw(loss.sampling, &mut rng)).unzip();
    let weight = weighted.then(|| (0..n).map(|_| 2.0 * rng.random::<f32>()).collect());
    let aux = loss.aux.and_then(|spec| {
        let form = match aux {
            AuxForm::Default if spec.required => AuxForm::Full,
            AuxForm::Default => AuxForm::Absent,
            f => f,
        };
        let aux_shape: Vec<usize> = match (form, spec.broadcast) {
            (AuxForm::Absent, _) => return None,
            (AuxForm::Full | AuxForm::Default, _) => shape.to_vec(),
            (AuxForm::Broadcast, Broadcast::PerRow) => {
                let mut s = shape.to_vec();
                if let Some(last) = s.last_mut() {
                    *last = 1;
                }
                s
            }
            (AuxForm::Broadcast, Broadcast::PerColumn) => vec![*shape.last().unwrap_or(&1)],
        };
        let len = aux_shape.iter().product();
        let values = (0..len).map(|_| rng.random_range(0.1f32..2.0)).collect();
        Some((values, aux_shape))
    });
    Sample {
        shape: shape.to_vec(),
        input,
        target,
        weight,
        aux,
    }
}
