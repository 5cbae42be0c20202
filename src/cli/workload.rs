//! What `report` and `bench` run: one measurement of a loss on the tensors its catalogue
//! entry draws (`sample::named`): GPU time, bytes moved, the float64 reference's time, and
//! (when asked) the errors against that reference.

use super::eval::upload_named;
use gpu_loss::catalogue::Loss;
use gpu_loss::cpu::named::evaluate_loss;
use gpu_loss::half::{bf16, f16};
use gpu_loss::npy::Array;
pub use gpu_loss::sample::{named as inputs, Size};
use gpu_loss::{timing, DType, GpuContext, LossError, Reduction, Result, Tensor};
use std::time::{Duration, Instant};

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
    /// What storing the gradients in their dtype may add to that normwise error: the largest
    /// ulp of a reference gradient in its output's dtype over the largest magnitude (0 for
    /// f32 gradients); with `check` only.
    pub grad_rounding: f64,
}

/// `v` rounded to `dtype` (to nearest even).
fn round_to(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F16 => f16::from_f64(v).to_f64(),
        DType::BF16 => bf16::from_f64(v).to_f64(),
        _ => f64::from(v as f32),
    }
}

/// The spacing of `dtype`'s values at `v` (0 for f32, whose rounding the f32 tolerances hold).
fn half_ulp(dtype: DType, v: f64) -> f64 {
    let e = v.abs().log2().floor();
    match dtype {
        DType::F16 => 2f64.powf(e.max(-14.0) - 10.0),
        DType::BF16 => 2f64.powf(e.max(-126.0) - 7.0),
        _ => 0.0,
    }
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
        Some((_, t)) if grad => Some(ctx.upload_as(&vec![0.0; t.len()], t.shape(), t.dtype())?),
        _ => None,
    };
    let call = || {
        let mut c = ctx.call(loss);
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
    let want = evaluate_loss(loss, tensors, &no_params, Reduction::Mean)?;
    let cpu = start.elapsed();

    let mut grad_rounding = 0f64;
    let errors = if check {
        // What rounding can move the value by: the terms' or the elements' magnitudes.
        let mass = match loss {
            Loss::Objective(_) => want.terms.iter().map(|(_, v)| v.abs()).sum(),
            _ => {
                let none = evaluate_loss(loss, tensors, &no_params, Reduction::None)?;
                let out = none.out.map(|o| o.1).unwrap_or_default();
                out.iter().map(|v| v.abs()).sum::<f64>() / out.len().max(1) as f64
            }
        };
        let want_value = want.value.unwrap_or(f64::NAN);
        let value_err = (got.value.unwrap_or(f32::NAN) as f64 - want_value).abs()
            / want_value.abs().max(mass).max(f64::MIN_POSITIVE);
        let mut grad_err = 0f64;
        for (g, (_, w)) in got_grads.iter().zip(&want.grads) {
            let dtype = g.dtype();
            let g = ctx.download(g)?;
            let scale = w.iter().fold(0f64, |m, v| m.max(v.abs()));
            let ulps = w.iter().fold(0f64, |m, &v| m.max(half_ulp(dtype, v)));
            grad_rounding = grad_rounding.max(ulps / scale.max(f64::MIN_POSITIVE));
            // A gradient beyond the dtype's range is ±inf there and in the reference rounded
            // to it (f16's 65504: bce's 1/(x(1-x)) where x rounds to 1).
            let worst = g.iter().zip(w).fold(0f64, |m, (&g, &w)| {
                let g = f64::from(g);
                let agree = g.is_infinite() && g == round_to(dtype, w);
                m.max(if agree { 0.0 } else { (g - w).abs() })
            });
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
        grad_rounding,
    })
}
