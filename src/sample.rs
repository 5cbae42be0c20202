//! Random valid inputs for each loss, drawn from the domain its catalogue entry names. The
//! report, the tests and the benches all draw from here, so "random data" means the same
//! thing everywhere.

use crate::catalogue::{Broadcast, Draw, Elementwise, Extent, Loss, Sampling};
use crate::error::{LossError, Result};
use crate::npy::{Array, Values};
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

/// Classes per row when a size is a plain element count.
const ROW_WIDTH: usize = 1024;

/// The smallest side of a drawn picture: ms_ssim's five scales with the default window need
/// more than 160 pixels.
const MIN_PICTURE: usize = 176;

/// A workload's size: `N` elements, or `ROWSxCOLS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Elements(usize),
    Matrix(usize, usize),
}

impl Size {
    pub fn parse(s: &str) -> Result<Size> {
        let number = |t: &str| {
            t.trim()
                .replace('_', "")
                .parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
        };
        let parsed = match s.split_once(['x', 'X']) {
            Some((r, c)) => number(r).zip(number(c)).map(|(r, c)| Size::Matrix(r, c)),
            None => number(s).map(Size::Elements),
        };
        parsed.ok_or_else(|| {
            LossError::Usage(format!(
                "size {s:?}: expected a positive element count (65536) or ROWSxCOLS (512x32768)"
            ))
        })
    }

    pub fn elements(self) -> usize {
        match self {
            Size::Elements(n) => n,
            Size::Matrix(r, c) => r * c,
        }
    }

    /// Rows and columns for the losses that take a matrix: an element count becomes rows of
    /// 1024.
    pub fn rows_cols(self) -> (usize, usize) {
        match self {
            Size::Elements(n) => ((n / ROW_WIDTH).max(1), ROW_WIDTH.min(n).max(1)),
            Size::Matrix(r, c) => (r, c),
        }
    }

    pub fn label(self) -> String {
        match self {
            Size::Elements(n) => n.to_string(),
            Size::Matrix(r, c) => format!("{r}x{c}"),
        }
    }

    /// A picture's shape: `[1, 3, ROWS, COLS]`, or for an element count a square of about
    /// n/3 pixels, at least MIN_PICTURE on a side.
    fn picture(self) -> Vec<usize> {
        match self {
            Size::Elements(n) => {
                let side = ((n / 3) as f64).sqrt() as usize;
                vec![1, 3, side.max(MIN_PICTURE), side.max(MIN_PICTURE)]
            }
            Size::Matrix(r, c) => vec![1, 3, r, c],
        }
    }

    /// The shape of a tensor of this extent, and the classes its labels range over.
    fn shape(self, extent: Extent) -> (Vec<usize>, usize) {
        let n = self.elements();
        let (rows, cols) = self.rows_cols();
        let shape = match extent {
            Extent::Rows => vec![rows, cols],
            Extent::PerRow => vec![rows],
            Extent::Plane => vec![1, rows, cols],
            Extent::Features => match self {
                Size::Elements(n) => vec![64, (n / 64).max(1)],
                Size::Matrix(r, c) => vec![r, c],
            },
            Extent::Samples => vec![n.max(1)],
            Extent::HalfSamples => vec![n / 2 + 1],
            Extent::Scores => vec![(n / 64).max(1)],
            Extent::ClassScores => vec![256, 8],
            Extent::ClassLabels => return (vec![256], 8),
            Extent::Image => vec![n],
        };
        (shape, cols)
    }
}

fn floats(shape: &[usize], values: impl Iterator<Item = f64>) -> Array {
    let values: Vec<f64> = values.map(|v| v as f32 as f64).collect();
    Array {
        shape: shape.to_vec(),
        values: Values::Float(values),
        dtype: "<f4".into(),
    }
}

/// One tensor drawn as `draw` says, or None for `Draw::Skip`.
fn draw_tensor(draw: Draw, size: Size, rng: &mut StdRng) -> Option<Array> {
    let (rows, cols) = size.rows_cols();
    let sized = |extent| {
        let (shape, classes) = size.shape(extent);
        let len = shape.iter().product::<usize>();
        (shape, len, classes)
    };
    Some(match draw {
        Draw::Normal(extent) => {
            let (shape, len, _) = sized(extent);
            floats(&shape, (0..len).map(|_| 2.0 * f64::from(normal(rng))))
        }
        Draw::Uniform(lo, hi, extent) => {
            let (shape, len, _) = sized(extent);
            floats(&shape, (0..len).map(|_| rng.random_range(lo..hi)))
        }
        Draw::Labels(extent) => {
            let (shape, len, classes) = sized(extent);
            Array {
                shape,
                // No class to draw from: label 0, which the call then refuses.
                values: Values::Int(
                    (0..len)
                        .map(|_| rng.random_range(0..classes.max(1) as i64))
                        .collect(),
                ),
                dtype: "<i8".into(),
            }
        }
        Draw::Signs => floats(
            &[rows],
            (0..rows).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }),
        ),
        Draw::Ramp(first) => floats(
            &[rows, cols],
            (0..rows * cols).map(|k| {
                let i = k % cols;
                let w = if first { cols - i } else { i + 1 };
                rng.random_range(0.5..1.0) * w as f64
            }),
        ),
        Draw::Picture => {
            let shape = size.picture();
            let [_, channels, h, w] = shape[..] else {
                unreachable!("pictures are [1, C, H, W]")
            };
            let plane = h * w;
            floats(
                &shape,
                (0..channels * plane).map(|e| {
                    let (c, i, j) = ((e / plane) as f64, (e % plane / w) as f64, (e % w) as f64);
                    let smooth =
                        0.5 + 0.35 * (0.11 * i + 0.7 * c).sin() * (0.07 * j - 0.3 * c).cos();
                    (smooth + rng.random_range(-0.1..0.1)).clamp(0.0, 1.0)
                }),
            )
        }
        Draw::Skip => return None,
    })
}

/// Valid random tensors for `loss` at `size`, by its tensor names (as `eval` takes them),
/// drawn as its catalogue entry says: elementwise losses on `[n]` (or `[rows, cols]`) from
/// their `Sampling`; the others tensor by tensor from their `Draw`.
pub fn named(loss: Loss, size: Size, seed: u64) -> Vec<(String, Array)> {
    if let Loss::Elementwise(l) = loss {
        let shape = match size {
            Size::Elements(n) => vec![n],
            Size::Matrix(r, c) => vec![r, c],
        };
        let s = sample(l, &shape, false, AuxForm::Default, seed);
        let float = |v: &[f32], shape: &[usize]| floats(shape, v.iter().map(|&x| x as f64));
        let mut t = vec![
            ("input".to_string(), float(&s.input, &s.shape)),
            ("target".to_string(), float(&s.target, &s.shape)),
        ];
        if let (Some((v, shape)), Some(spec)) = (&s.aux, l.aux) {
            t.push((spec.name.to_string(), float(v, shape)));
        }
        return t;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    loss.tensors()
        .into_iter()
        .filter_map(|t| Some((t.name.to_string(), draw_tensor(t.draw, size, &mut rng)?)))
        .collect()
}
