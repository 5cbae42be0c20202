//! What `report` and `bench` run: valid random tensors for any loss of the catalogue at a
//! given size, by the loss's own tensor names (as `eval` takes them), and one measurement of
//! a loss on them: GPU time, bytes moved, the float64 reference's time, and (when asked) the
//! errors against that reference.

use super::eval::upload_named;
use gpu_loss::catalogue::Loss;
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::sample::{sample, AuxForm};
use gpu_loss::{timing, GpuContext, LossError, Reduction, Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Classes per row when a size is a plain element count.
const ROW_WIDTH: usize = 1024;

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
}

fn array(shape: &[usize], values: impl Iterator<Item = f64>) -> Array {
    let values: Vec<f64> = values.map(|v| v as f32 as f64).collect();
    Array {
        shape: shape.to_vec(),
        values: Values::Float(values),
        dtype: "<f4".into(),
    }
}

/// Valid random tensors for `loss` at `size`: elementwise losses on `[n]` (or `[rows, cols]`)
/// drawn from each loss's domain; row losses on `[rows, cols]`; gram and style_loss on
/// features `[C, M]` = `[64, n/64]` (or `[rows, cols]`); total_variation on one plane;
/// objectives on discriminator outputs of n/64 and images of n elements; sample sets of n
/// and n/2 + 1.
pub fn inputs(loss: Loss, size: Size, seed: u64) -> Vec<(String, Array)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = size.elements();
    let (rows, c) = size.rows_cols();
    let normal = |shape: &[usize], rng: &mut StdRng| {
        let len = shape.iter().product();
        array(
            shape,
            (0..len).map(|_| 2.0 * f64::from(gpu_loss::sample::normal(rng))),
        )
    };
    let uniform = |shape: &[usize], lo: f64, hi: f64, rng: &mut StdRng| {
        let len = shape.iter().product();
        array(shape, (0..len).map(|_| rng.random_range(lo..hi)))
    };
    let labels = |len: usize, classes: usize, rng: &mut StdRng| Array {
        shape: vec![len],
        values: Values::Int(
            (0..len)
                .map(|_| rng.random_range(0..classes as i64))
                .collect(),
        ),
        dtype: "<i8".into(),
    };
    let named = |pairs: Vec<(&str, Array)>| {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Vec<_>>()
    };
    let rc = [rows, c];
    let features = match size {
        Size::Elements(n) => [64, (n / 64).max(1)],
        Size::Matrix(r, c) => [r, c],
    };
    match loss {
        Loss::Elementwise(l) => {
            let shape = match size {
                Size::Elements(n) => vec![n],
                Size::Matrix(r, c) => vec![r, c],
            };
            let s = sample(l, &shape, false, AuxForm::Default, seed);
            let float = |v: &[f32], shape: &[usize]| array(shape, v.iter().map(|&x| x as f64));
            let mut t = vec![
                ("input", float(&s.input, &s.shape)),
                ("target", float(&s.target, &s.shape)),
            ];
            if let (Some((v, shape)), Some(spec)) = (&s.aux, l.aux) {
                t.push((spec.name, float(v, shape)));
            }
            named(t)
        }
        _ => match loss.name() {
            "cross_entropy" | "nll" => named(vec![
                ("input", normal(&rc, &mut rng)),
                ("target", labels(rows, c, &mut rng)),
            ]),
            "sparse_categorical_cross_entropy" => named(vec![
                ("input", uniform(&rc, 0.01, 2.0, &mut rng)),
                ("target", labels(rows, c, &mut rng)),
            ]),
            "categorical_cross_entropy" | "js_div" | "dice" => named(vec![
                ("input", uniform(&rc, 0.01, 1.0, &mut rng)),
                ("target", uniform(&rc, 0.0, 1.0, &mut rng)),
            ]),
            "cosine_similarity" => named(vec![
                ("input", normal(&rc, &mut rng)),
                ("target", normal(&rc, &mut rng)),
            ]),
            "cosine_embedding" => {
                let signs = array(
                    &[rows],
                    (0..rows).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }),
                );
                named(vec![
                    ("input1", normal(&rc, &mut rng)),
                    ("input2", normal(&rc, &mut rng)),
                    ("target", signs),
                ])
            }
            "triplet_margin" => named(vec![
                ("anchor", normal(&rc, &mut rng)),
                ("positive", normal(&rc, &mut rng)),
                ("negative", normal(&rc, &mut rng)),
            ]),
            "total_variation" => named(vec![("input", normal(&[1, rows, c], &mut rng))]),
            "gram" => named(vec![("input", normal(&features, &mut rng))]),
            "style_loss" => named(vec![
                ("input", normal(&features, &mut rng)),
                ("target", normal(&features, &mut rng)),
            ]),
            // u's mass leans to the first bins and v's to the last, so the CDFs' difference
            // stays clear of 0 until both reach 1. Where it is within rounding of 0 the
            // subgradient is anyone's (tests/structured.rs allows for that); a report should
            // measure the kernel, not that coin.
            "wasserstein_1d" => {
                let ramp = |first: bool, rng: &mut StdRng| {
                    array(
                        &rc,
                        (0..rows * c).map(|k| {
                            let i = k % c;
                            let w = if first { c - i } else { i + 1 };
                            rng.random_range(0.5..1.0) * w as f64
                        }),
                    )
                };
                named(vec![
                    ("u", ramp(true, &mut rng)),
                    ("v", ramp(false, &mut rng)),
                ])
            }
            // Two sample sets of different sizes, weighted.
            "wasserstein_1d_samples" => {
                let m = n / 2 + 1;
                named(vec![
                    ("u_values", normal(&[n.max(1)], &mut rng)),
                    ("v_values", normal(&[m], &mut rng)),
                    ("u_weights", uniform(&[n.max(1)], 0.1, 1.0, &mut rng)),
                    ("v_weights", uniform(&[m], 0.1, 1.0, &mut rng)),
                ])
            }
            objective => {
                let d = (n / 64).max(1);
                let tensors: &[&str] = match loss {
                    Loss::Objective(o) => o.tensors,
                    _ => unreachable!("{objective} has inputs above"),
                };
                tensors
                    .iter()
                    .map(|&t| {
                        let a = match t {
                            "real" | "fake" | "d_y_fake" | "d_x_fake" | "real_src" | "fake_src" => {
                                normal(&[d], &mut rng)
                            }
                            "fake_cls" | "real_cls" => normal(&[256, 8], &mut rng),
                            "target_domain" | "original_domain" => labels(256, 8, &mut rng),
                            _ => normal(&[n], &mut rng),
                        };
                        (t.to_string(), a)
                    })
                    .collect()
            }
        },
    }
}

/// One loss measured on one adapter.
pub struct Measured {
    /// Median GPU time of one call (recorded into an encoder; objectives, which run blocking
    /// with one readback, by wall time).
    pub gpu: Duration,
    /// Bytes every call must move: each tensor read once, each gradient written once.
    pub bytes: u64,
    /// The float64 reference's time for the value and every gradient.
    pub cpu: Duration,
    /// |GPU - float64| of the mean over what rounding can move it by (the terms' or the rows'
    /// mean magnitude), and the gradients' normwise error; with `check` only.
    pub errors: Option<(f64, f64)>,
}

/// Runs `loss` on `tensors` (mean reduction), `reps` timed calls after one warm-up.
pub fn measure(
    ctx: &GpuContext,
    loss: Loss,
    tensors: &[(String, Array)],
    grad: bool,
    reps: usize,
    check: bool,
) -> Result<Measured> {
    let uploaded = upload_named(ctx, loss, tensors)?;
    // The first gradient goes into a tensor allocated once, so the timed calls allocate
    // nothing of their own.
    let first_grad = loss.grad_tensors()[0];
    let grad_out: Option<Tensor> = match uploaded.iter().find(|(n, _)| *n == first_grad) {
        Some((_, t)) if grad => Some(ctx.zeros(t.shape())?),
        _ => None,
    };
    let call = || {
        let mut c = ctx.loss(loss.name())?;
        for (name, t) in &uploaded {
            c = c.tensor(name, t);
        }
        if let Some(g) = &grad_out {
            c = c.with_grad().grad_into(g);
        }
        Ok::<_, LossError>(c)
    };
    let got = call()?.run()?;
    let gpu = match loss {
        Loss::Objective(_) => {
            let mut times: Vec<Duration> = (0..reps.max(1))
                .map(|_| {
                    let start = Instant::now();
                    call()?.run()?;
                    Ok(start.elapsed())
                })
                .collect::<Result<_>>()?;
            times.sort();
            times[times.len() / 2]
        }
        _ => timing::median_time(ctx, reps, |enc| call()?.record(enc).map(|_| ()))?,
    };
    let read: u64 = uploaded.iter().map(|(_, t)| t.byte_len()).sum();
    let mut got_grads: Vec<&Tensor> = Vec::new();
    if grad {
        got_grads.extend(got.grad.as_ref());
        got_grads.extend(got.other_grads.iter().map(|g| &g.1));
    }
    let written: u64 = got_grads.iter().map(|g| g.byte_len()).sum();

    let no_params = [];
    let start = Instant::now();
    let want = evaluate_named(loss.name(), tensors, &no_params, Reduction::Mean)?;
    let cpu = start.elapsed();

    let errors = if check {
        // What rounding can move the value by: the terms' or the elements' magnitudes.
        let mass = match loss {
            Loss::Objective(_) => want.terms.iter().map(|(_, v)| v.abs()).sum(),
            _ => {
                let none = evaluate_named(loss.name(), tensors, &no_params, Reduction::None)?;
                let out = none.out.map(|o| o.1).unwrap_or_default();
                out.iter().map(|v| v.abs()).sum::<f64>() / out.len().max(1) as f64
            }
        };
        let want_value = want.value.unwrap_or(f64::NAN);
        let value_err = (got.value.unwrap_or(f32::NAN) as f64 - want_value).abs()
            / want_value.abs().max(mass).max(f64::MIN_POSITIVE);
        let mut grad_err = 0f64;
        for (g, (_, w)) in got_grads.iter().zip(&want.grads) {
            let g = ctx.download(g)?;
            let scale = w.iter().fold(0f64, |m, v| m.max(v.abs()));
            let worst = g
                .iter()
                .zip(w)
                .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
            grad_err = grad_err.max(worst / scale.max(f64::MIN_POSITIVE));
        }
        let finite = |e: f64| if e.is_nan() { f64::INFINITY } else { e };
        Some((finite(value_err), finite(grad_err)))
    } else {
        None
    };
    Ok(Measured {
        gpu,
        bytes: read + written,
        cpu,
        errors,
    })
}
