//! `gpu-loss report`: every loss on every adapter at one size, against the float64 reference,
//! with its time and bandwidth beside the adapter's own buffer copy measured in the same run.

use super::eval::upload_named;
use gpu_loss::catalogue::{self, Elementwise, Loss};
use gpu_loss::cpu;
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::sample::{sample, AuxForm};
use gpu_loss::{timing, GpuContext, Reduction, Result};
use gpu_loss::{LossError, ParamValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A reduced value passes within this of the reference, relative to the terms' mass.
const VALUE_TOL: f64 = 1e-5;
/// A gradient passes within this normwise error (relative to its largest element).
const GRAD_TOL: f64 = 2e-6;
/// The same for the row losses, objectives and image losses.
const NAMED_GRAD_TOL: f64 = 1e-5;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Elements per tensor.
    #[arg(long, default_value_t = 1 << 20)]
    size: usize,
    /// Timed repetitions per loss (the median is reported).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Only these losses (default: all).
    losses: Vec<String>,
}

impl Default for ReportArgs {
    fn default() -> Self {
        ReportArgs {
            size: 1 << 20,
            reps: 7,
            losses: Vec::new(),
        }
    }
}

struct Row {
    loss: &'static str,
    grad_tol: f64,
    value_err: f64,
    grad_err: f64,
    gpu: Duration,
    cpu: Duration,
    bytes: u64,
}

impl Row {
    fn pass(&self) -> bool {
        self.value_err <= VALUE_TOL && self.grad_err <= self.grad_tol
    }
}

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let losses: Vec<&'static Elementwise> = if args.losses.is_empty() {
        catalogue::ELEMENTWISE.iter().collect()
    } else {
        args.losses
            .iter()
            .filter_map(|n| match catalogue::find(n) {
                Some(Loss::Elementwise(l)) => Some(Ok(l)),
                Some(_) => None,
                None => Some(Err(LossError::UnknownLoss(n.clone()))),
            })
            .collect::<Result<_>>()?
    };
    let mut failed = 0;
    for ctx in GpuContext::all()? {
        let n = args.size;
        let copy = timing::copy_bandwidth(&ctx, 8 * n as u64, args.reps)?;
        println!(
            "\n{}  ({} elements, times by {}, buffer copy {:.2} GB/s)",
            ctx.adapter_name(),
            n,
            timing::clock(&ctx).name(),
            copy
        );
        println!(
            "{:<33} {:>10} {:>10} {:>6} {:>10} {:>8} {:>7} {:>9}",
            "loss", "value err", "grad err", "", "GPU ms", "GB/s", "/copy", "CPU/GPU"
        );
        let named = others(&args.losses)?;
        let rows = losses
            .iter()
            .map(|loss| measure(&ctx, loss, n, args.reps))
            .chain(
                named
                    .iter()
                    .map(|&loss| measure_named(&ctx, loss, n, args.reps)),
            );
        for row in rows {
            let row = row?;
            let gbps = timing::gbps(row.bytes, row.gpu);
            println!(
                "{:<33} {:>10.2e} {:>10.2e} {:>6} {:>10.3} {:>8.2} {:>7.2} {:>9.1}",
                row.loss,
                row.value_err,
                row.grad_err,
                if row.pass() { "pass" } else { "FAIL" },
                row.gpu.as_secs_f64() * 1e3,
                gbps,
                gbps / copy,
                row.cpu.as_secs_f64() / row.gpu.as_secs_f64(),
            );
            if !row.pass() {
                failed += 1;
            }
        }
    }
    println!(
        "\nvalue err: |GPU - float64| / sum of |terms| (mean, tolerance {VALUE_TOL:.0e}); \
         grad err: max |GPU - float64| / max |float64| (tolerance {GRAD_TOL:.0e}; \
         {NAMED_GRAD_TOL:.0e} for row losses, objectives and images, whose f32 row sums \
         are plain).\n\
         Row losses run on [N, 1024]; objectives on discriminator outputs and images of about \
         the same size.\n\
         GB/s counts bytes read and written (input, target, gradient); the copy counts both too.\n\
         CPU/GPU: the float64 reference's time over the kernel's."
    );
    if failed > 0 {
        println!("{failed} loss(es) FAILED");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(ctx: &GpuContext, loss: &'static Elementwise, n: usize, reps: usize) -> Result<Row> {
    let s = sample(loss, &[n], false, AuxForm::Default, 0x5eed ^ n as u64);
    let x = ctx.upload(&s.input, &s.shape)?;
    let y = ctx.upload(&s.target, &s.shape)?;
    let aux = s
        .aux
        .as_ref()
        .map(|(v, sh)| ctx.upload(v, sh))
        .transpose()?;
    let grad = ctx.zeros(&s.shape)?;
    let call = || {
        let mut c = ctx.loss(loss.name)?.input(&x).target(&y).grad_into(&grad);
        if let (Some(a), Some(spec)) = (&aux, loss.aux) {
            c = c.tensor(spec.name, a);
        }
        Ok(c)
    };
    let got = call()?.run()?;
    let gpu = timing::median_time(ctx, reps, |enc| call()?.record(enc).map(|_| ()))?;

    let p = Problem::new(
        loss,
        Shapes {
            input: &s.shape,
            target: &s.shape,
            weight: None,
            aux: s.aux.as_ref().map(|a| a.1.as_slice()),
        },
        &[],
        Reduction::Mean,
    )?;
    let inputs = cpu::Inputs {
        input: &s.input,
        target: &s.target,
        weight: None,
        aux: s.aux.as_ref().map(|a| a.0.as_slice()),
    };
    let start = Instant::now();
    let want = cpu::evaluate(&p, &inputs, true)?;
    let cpu_time = start.elapsed();
    // The sum of |terms| (scaled like the value) bounds what rounding can do to the value.
    let mut none = p.clone();
    none.reduction = Reduction::None;
    let terms = cpu::evaluate(&none, &inputs, false)?
        .elements
        .unwrap_or_default();
    let abs_mass = terms.iter().map(|v| v.abs()).sum::<f64>() * p.grad_scale();
    let want_value = want.value.unwrap_or(f64::NAN);
    let value_err = (got.value.unwrap_or(f32::NAN) as f64 - want_value).abs()
        / want_value.abs().max(abs_mass).max(f64::MIN_POSITIVE);
    let got_grad = ctx.download(&grad)?;
    let want_grad = want.grad.unwrap_or_default();
    let scale = want_grad.iter().fold(0f64, |m, v| m.max(v.abs()));
    let grad_err = got_grad
        .iter()
        .zip(&want_grad)
        .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()))
        / scale.max(f64::MIN_POSITIVE);
    let aux_bytes = s.aux.as_ref().map_or(0, |a| 4 * a.0.len() as u64);
    Ok(Row {
        loss: loss.name,
        grad_tol: GRAD_TOL,
        value_err: if value_err.is_nan() {
            f64::INFINITY
        } else {
            value_err
        },
        grad_err: if grad_err.is_nan() {
            f64::INFINITY
        } else {
            grad_err
        },
        gpu,
        cpu: cpu_time,
        bytes: 12 * n as u64 + aux_bytes,
    })
}

/// The catalogue's losses beyond the elementwise ones (rows, objectives, images): all of them,
/// or those of `names` among them.
fn others(names: &[String]) -> Result<Vec<Loss>> {
    let all = catalogue::ROWS
        .iter()
        .map(Loss::Row)
        .chain(catalogue::OBJECTIVES.iter().map(Loss::Objective))
        .chain(catalogue::STRUCTURED.iter().map(Loss::Structured));
    if names.is_empty() {
        return Ok(all.collect());
    }
    Ok(all
        .filter(|l| names.iter().any(|n| n == l.name()))
        .collect())
}

fn array(shape: &[usize], values: impl Iterator<Item = f64>) -> Array {
    let values: Vec<f64> = values.map(|v| v as f32 as f64).collect();
    Array {
        shape: shape.to_vec(),
        values: Values::Float(values),
        dtype: "<f4".into(),
    }
}

/// Valid random tensors for a loss at about `n` elements per tensor: rows of 1024 classes,
/// discriminator outputs and images for objectives, a stack of planes for images.
fn named_inputs(loss: Loss, n: usize, seed: u64) -> Vec<(String, Array)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let c = 1024;
    let rows = (n / c).max(1);
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
    match loss.name() {
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
        "total_variation" => named(vec![("input", normal(&[4, rows / 4 + 1, 256], &mut rng))]),
        "gram" => named(vec![("input", normal(&[64, (n / 64).max(1)], &mut rng))]),
        "style_loss" => named(vec![
            ("input", normal(&[64, (n / 64).max(1)], &mut rng)),
            ("target", normal(&[64, (n / 64).max(1)], &mut rng)),
        ]),
        "wasserstein_1d" => named(vec![
            ("u", uniform(&rc, 0.0, 1.0, &mut rng)),
            ("v", uniform(&rc, 0.0, 1.0, &mut rng)),
        ]),
        objective => {
            let d = (n / 64).max(1);
            let img = [n.max(1)];
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
                        _ => normal(&img, &mut rng),
                    };
                    (t.to_string(), a)
                })
                .collect()
        }
    }
}

/// One loss beyond the elementwise ones, through its tensors' names as `eval` runs it.
fn measure_named(ctx: &GpuContext, loss: Loss, n: usize, reps: usize) -> Result<Row> {
    let tensors = named_inputs(loss, n, 0x5eed ^ n as u64);
    let params: Vec<(String, ParamValue)> = Vec::new();
    let uploaded = upload_named(ctx, loss, &tensors)?;
    let call = || {
        let mut c = ctx.loss(loss.name())?.with_grad();
        for (name, t) in &uploaded {
            c = c.tensor(name, t);
        }
        Ok::<_, LossError>(c)
    };
    let got = call()?.run()?;
    let gpu = match loss {
        // An objective runs blocking (one submission, one readback): its wall time.
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
    let start = Instant::now();
    let want = evaluate_named(loss.name(), &tensors, &params, Reduction::Mean)?;
    let cpu_time = start.elapsed();
    // What rounding can move the value by: the terms' or the rows' magnitudes.
    let mass = match loss {
        Loss::Objective(_) => want.terms.iter().map(|(_, v)| v.abs()).sum(),
        _ => {
            let none = evaluate_named(loss.name(), &tensors, &params, Reduction::None)?;
            let out = none.out.map(|o| o.1).unwrap_or_default();
            out.iter().map(|v| v.abs()).sum::<f64>() / out.len().max(1) as f64
        }
    };
    let want_value = want.value.unwrap_or(f64::NAN);
    let value_err = (got.value.unwrap_or(f32::NAN) as f64 - want_value).abs()
        / want_value.abs().max(mass).max(f64::MIN_POSITIVE);
    let mut grads = vec![got.grad.clone().expect("a gradient")];
    grads.extend(got.other_grads.iter().map(|g| g.1.clone()));
    let mut grad_err = 0f64;
    let mut grad_bytes = 0;
    for (g, (_, w)) in grads.iter().zip(&want.grads) {
        let g = ctx.download(g)?;
        grad_bytes += 4 * g.len() as u64;
        let scale = w.iter().fold(0f64, |m, v| m.max(v.abs()));
        let worst = g
            .iter()
            .zip(w)
            .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
        grad_err = grad_err.max(worst / scale.max(f64::MIN_POSITIVE));
    }
    let read: u64 = uploaded.iter().map(|(_, t)| t.byte_len()).sum();
    let finite = |e: f64| if e.is_nan() { f64::INFINITY } else { e };
    Ok(Row {
        loss: loss.name(),
        grad_tol: NAMED_GRAD_TOL,
        value_err: finite(value_err),
        grad_err: finite(grad_err),
        gpu,
        cpu: cpu_time,
        bytes: read + grad_bytes,
    })
}
