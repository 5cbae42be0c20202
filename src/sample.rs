//! Random valid inputs for each loss, drawn from the domain its catalogue entry names. The
//! report, the tests and the benches all draw from here, so "random data" means the same
//! thing everywhere.

use crate::catalogue::{Broadcast, Draw, Elementwise, Extent, Loss, Sampling};
use crate::error::{LossError, Result};
use crate::npy::{Array, Values};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The tensors of one elementwise call, on the host.
///
/// ```
/// use gpu_loss::{catalogue, sample::{sample, AuxForm}};
/// let s = sample(catalogue::elementwise("gaussian_nll").unwrap(), &[4, 3], true, AuxForm::Full, 7);
/// assert_eq!((s.input.len(), s.target.len(), s.weight.unwrap().len()), (12, 12, 12));
/// assert_eq!(s.aux.unwrap().1, [4, 3]); // var, of the input's shape
/// ```
#[derive(Clone, Debug)]
pub struct Sample {
    /// The input's shape.
    pub shape: Vec<usize>,
    /// The predictions.
    pub input: Vec<f32>,
    /// The targets.
    pub target: Vec<f32>,
    /// Per-element weights, if drawn.
    pub weight: Option<Vec<f32>>,
    /// The loss's extra tensor and its shape (full, or broadcast as the loss allows).
    pub aux: Option<(Vec<f32>, Vec<usize>)>,
}

/// Which form of the extra tensor to draw, for losses that have one.
///
/// ```
/// use gpu_loss::{catalogue, sample::{sample, AuxForm}};
/// let var = |form| sample(catalogue::elementwise("gaussian_nll").unwrap(), &[4, 3], false, form, 7).aux;
/// assert!(var(AuxForm::Absent).is_none());
/// assert!(var(AuxForm::Broadcast).unwrap().1.iter().product::<usize>() < 12);
/// ```
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

/// A standard normal draw.
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let draws: Vec<f32> = (0..10_000).map(|_| gpu_loss::sample::normal(&mut rng)).collect();
/// let mean = draws.iter().sum::<f32>() / 10_000.0;
/// assert!(mean.abs() < 0.05); // a standard normal's mean is 0, within 5 standard errors
/// ```
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
///
/// ```
/// use gpu_loss::{catalogue, sample::{sample, AuxForm}};
/// let bce = catalogue::elementwise("bce").unwrap();
/// let s = sample(bce, &[100], false, AuxForm::Default, 42);
/// assert!(s.input.iter().all(|p| (0.0..=1.0).contains(p))); // bce's domain: probabilities
/// assert_eq!(s.input, sample(bce, &[100], false, AuxForm::Default, 42).input); // same seed
/// ```
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

/// A workload's size: `N` elements, `ROWSxCOLS`, or an image stack `CxHxW` / `NxCxHxW`
/// (section G's pictures; the other losses take it as its shape or its element count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
///
/// ```
/// use gpu_loss::sample::Size;
/// assert_eq!(Size::parse("3x64x64").unwrap().elements(), 3 * 64 * 64);
/// ```
pub enum Size {
    /// An element count.
    Elements(usize),
    /// Rows and columns.
    Matrix(usize, usize),
    /// A stack of images.
    Images {
        /// `None` for `CxHxW` (a rank-3 tensor), else the batch of `NxCxHxW`.
        batch: Option<usize>,
        /// Channels per image.
        channels: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
}

impl Size {
    /// Reads a size as the command line writes it.
    ///
    /// ```
    /// use gpu_loss::sample::Size;
    /// assert_eq!(Size::parse("512x1024").unwrap(), Size::Matrix(512, 1024));
    /// assert!(Size::parse("0").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Size> {
        let number = |t: &str| {
            t.trim()
                .replace('_', "")
                .parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
        };
        let dims: Option<Vec<usize>> = s.split(['x', 'X']).map(number).collect();
        let parsed = match dims.as_deref() {
            Some(&[n]) => Some(Size::Elements(n)),
            Some(&[r, c]) => Some(Size::Matrix(r, c)),
            Some(&[c, h, w]) => Some(Size::Images {
                batch: None,
                channels: c,
                height: h,
                width: w,
            }),
            Some(&[n, c, h, w]) => Some(Size::Images {
                batch: Some(n),
                channels: c,
                height: h,
                width: w,
            }),
            _ => None,
        };
        // Every count must fit a usize (and so a tensor's element count) as a product.
        let fits = |p: &Size| {
            p.dims()
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .is_some()
        };
        parsed.filter(fits).ok_or_else(|| {
            LossError::Usage(format!(
                "size {s:?}: expected a positive element count (65536), ROWSxCOLS (512x32768), \
                 CxHxW (3x1080x1920) or NxCxHxW (5x3x1080x1920)"
            ))
        })
    }

    /// The dimensions as written.
    fn dims(self) -> Vec<usize> {
        match self {
            Size::Elements(n) => vec![n],
            Size::Matrix(r, c) => vec![r, c],
            Size::Images {
                batch,
                channels,
                height,
                width,
            } => batch.into_iter().chain([channels, height, width]).collect(),
        }
    }

    /// Its element count.
    ///
    /// ```
    /// assert_eq!(gpu_loss::sample::Size::parse("2x3x4x5")?.elements(), 120);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn elements(self) -> usize {
        self.dims().iter().product()
    }

    /// Rows and columns for the losses that take a matrix: an element count becomes rows of
    /// 1024, an image stack rows of its width.
    ///
    /// ```
    /// use gpu_loss::sample::Size;
    /// assert_eq!(Size::parse("4096")?.rows_cols(), (4, 1024));
    /// assert_eq!(Size::parse("3x64x32")?.rows_cols(), (3 * 64, 32));
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn rows_cols(self) -> (usize, usize) {
        match self {
            Size::Elements(n) => ((n / ROW_WIDTH).max(1), ROW_WIDTH.min(n).max(1)),
            Size::Matrix(r, c) => (r, c),
            Size::Images { width, .. } => (self.elements() / width, width),
        }
    }

    /// As written: `512x1024`.
    ///
    /// ```
    /// assert_eq!(gpu_loss::sample::Size::parse("512X1_024")?.label(), "512x1024");
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn label(self) -> String {
        let dims: Vec<String> = self.dims().iter().map(|d| d.to_string()).collect();
        dims.join("x")
    }

    /// A picture's shape: an image stack's own; `[1, 3, ROWS, COLS]`; or for an element count
    /// `[1, 3, side, side]` with side² about n/3, at least MIN_PICTURE.
    fn picture(self) -> Vec<usize> {
        match self {
            Size::Elements(n) => {
                let side = ((n / 3) as f64).sqrt() as usize;
                vec![1, 3, side.max(MIN_PICTURE), side.max(MIN_PICTURE)]
            }
            Size::Matrix(r, c) => vec![1, 3, r, c],
            Size::Images { .. } => self.dims(),
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
                // One feature row per image plane.
                Size::Images { height, width, .. } => vec![n / (height * width), height * width],
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
            let [channels, h, w] = shape[shape.len() - 3..] else {
                unreachable!("pictures are [C, H, W] or [N, C, H, W]")
            };
            let plane = h * w;
            floats(
                &shape,
                (0..shape.iter().product::<usize>()).map(|e| {
                    let c = (e / plane % channels) as f64;
                    let (i, j) = ((e % plane / w) as f64, (e % w) as f64);
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
///
/// ```
/// use gpu_loss::{catalogue, sample::{named, Size}};
/// let t = named(catalogue::find("cross_entropy").unwrap(), Size::parse("8x10")?, 1);
/// assert_eq!(t[0].0, "input");
/// assert_eq!(t[0].1.shape, [8, 10]); // 8 rows of 10 classes
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn named(loss: Loss, size: Size, seed: u64) -> Vec<(String, Array)> {
    if let Loss::Elementwise(l) = loss {
        let shape = size.dims();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    fn images(batch: Option<usize>, c: usize, h: usize, w: usize) -> Size {
        Size::Images {
            batch,
            channels: c,
            height: h,
            width: w,
        }
    }

    #[test]
    fn sizes_parse_in_every_form_and_print_as_written() {
        let cases = [
            ("65536", Size::Elements(65536), 65536),
            ("1_048_576", Size::Elements(1 << 20), 1 << 20),
            ("512x32768", Size::Matrix(512, 32768), 512 * 32768),
            ("3x1080x1920", images(None, 3, 1080, 1920), 3 * 1080 * 1920),
            (
                "5X3x1080x1920",
                images(Some(5), 3, 1080, 1920),
                5 * 3 * 1080 * 1920,
            ),
        ];
        for (text, want, n) in cases {
            let got = Size::parse(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.elements(), n, "{text}");
            assert_eq!(Size::parse(&got.label()).unwrap(), got, "{text}");
        }
        assert_eq!(
            Size::parse("5x3x1080x1920").unwrap().label(),
            "5x3x1080x1920"
        );
        assert_eq!(images(None, 3, 4, 5).rows_cols(), (12, 5));
    }

    #[test]
    fn bad_sizes_are_usage_errors() {
        let huge = format!("{0}x{0}x{0}", usize::MAX / 2);
        for text in [
            "",
            "0",
            "3y4",
            "3x0x4",
            "1x2x3x4x5",
            "x3",
            "3x",
            "-1x4",
            &huge,
        ] {
            assert!(
                matches!(Size::parse(text), Err(LossError::Usage(_))),
                "{text:?} parsed"
            );
        }
    }

    #[test]
    fn pictures_take_an_image_size_as_their_shape() {
        let ssim = catalogue::find("ssim").unwrap();
        for (text, shape) in [
            ("3x20x30", vec![3, 20, 30]),
            ("2x3x20x30", vec![2, 3, 20, 30]),
            ("20x30", vec![1, 3, 20, 30]),
            ("3000", vec![1, 3, MIN_PICTURE, MIN_PICTURE]),
        ] {
            let t = named(ssim, Size::parse(text).unwrap(), 1);
            assert_eq!(t.len(), 2, "{text}");
            for (_, a) in &t {
                assert_eq!(a.shape, shape, "{text}");
                let Values::Float(v) = &a.values else {
                    panic!("floats")
                };
                assert!(v.iter().all(|p| (0.0..=1.0).contains(p)), "{text}");
            }
        }
        // A batch's first image is the same picture as the image alone.
        let one = named(ssim, Size::parse("3x20x30").unwrap(), 7);
        let two = named(ssim, Size::parse("2x3x20x30").unwrap(), 7);
        let (Values::Float(a), Values::Float(b)) = (&one[0].1.values, &two[0].1.values) else {
            panic!("floats")
        };
        assert_eq!(a[..], b[..a.len()]);
        // Elementwise losses take the stack as their shape.
        let mse = catalogue::find("mse").unwrap();
        let t = named(mse, Size::parse("2x3x4x5").unwrap(), 1);
        assert_eq!(t[0].1.shape, vec![2, 3, 4, 5]);
    }
}
