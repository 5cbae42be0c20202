//! Section G (ssim, ms_ssim, psnr, the splatting objective) on every adapter against the
//! float64 twins (cpu::images): awkward sizes and ranks, both paddings, every window size's
//! corners, both reductions, the gradients, and the errors both paths share.

mod common;

use common::{defaults, normwise_error, seed, targets, Target};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::{LossError, ParamValue, Reduction, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A picture and a noisy render of it in [0, 1]: SSIM well away from 0 and 1.
fn pair(shape: &[usize], rng: &mut StdRng) -> (Vec<f32>, Vec<f32>) {
    let n: usize = shape.iter().product();
    let w = *shape.last().unwrap_or(&1);
    let x: Vec<f32> = (0..n)
        .map(|e| {
            let (i, j) = ((e / w) as f32, (e % w) as f32);
            let smooth = 0.5 + 0.3 * (0.3 * i).sin() * (0.2 * j).cos();
            (smooth + rng.random_range(-0.15f32..0.15)).clamp(0.0, 1.0)
        })
        .collect();
    let y = x
        .iter()
        .map(|v| (v + rng.random_range(-0.1f32..0.1)).clamp(0.0, 1.0))
        .collect();
    (x, y)
}

fn array(v: &[f32], shape: &[usize]) -> Array {
    Array {
        shape: shape.to_vec(),
        values: Values::Float(v.iter().map(|&x| x as f64).collect()),
        dtype: "<f4".into(),
    }
}

type Params = Vec<(String, ParamValue)>;

fn params(list: &[(&str, ParamValue)]) -> Params {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Runs `loss` on the GPU and the twin and compares value, per-element output and gradient.
#[allow(clippy::too_many_arguments)]
fn check(
    t: &Target,
    loss: &str,
    shape: &[usize],
    x: &[f32],
    y: &[f32],
    p: &Params,
    reduction: Reduction,
    label: &str,
) {
    let arrays = [
        ("input".to_string(), array(x, shape)),
        ("target".to_string(), array(y, shape)),
    ];
    let want = evaluate_named(loss, &arrays, p, reduction)
        .unwrap_or_else(|e| panic!("{label}: reference: {e}"));
    let (xt, yt) = (
        t.ctx.upload(x, shape).unwrap(),
        t.ctx.upload(y, shape).unwrap(),
    );
    let mut call = t
        .ctx
        .loss(loss)
        .unwrap()
        .input(&xt)
        .target(&yt)
        .reduction(reduction)
        .with_grad();
    for (k, v) in p {
        call = call.param(k, v.clone());
    }
    let out = match call.run() {
        Err(LossError::Limit { .. }) if t.name.contains("small bindings") => return,
        r => r.unwrap_or_else(|e| panic!("{label}: {e}")),
    };
    if let (Some(g), Some(w)) = (out.value, want.value) {
        let err = (g as f64 - w).abs() / w.abs().max(1e-3);
        assert!(err <= 1e-5, "{label}: value {g} vs {w} ({err:.1e})");
    }
    if let Some((wshape, rows)) = &want.out {
        let e = out.elements.as_ref().expect("none gives its values");
        assert_eq!(e.shape(), wshape.as_slice(), "{label}");
        let err = normwise_error(&t.ctx.download(e).unwrap(), rows);
        assert!(err <= 1e-5, "{label}: per-element error {err:.1e}");
    }
    let got = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
    let err = normwise_error(&got, &want.grads[0].1);
    assert!(err <= 1e-4, "{label}: gradient error {err:.1e}");
}

#[test]
fn ssim_matches_the_reference() {
    // Rank 2, 3 and 4; one tile, tile edges, several tiles; planes split across bindings on
    // the small-binding target.
    let shapes: [&[usize]; 5] = [
        &[11, 11],
        &[3, 17, 16],
        &[2, 3, 33, 29],
        &[1, 1, 1, 40],
        &[4, 2, 20, 47],
    ];
    let base = seed();
    for (s, shape) in shapes.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(base + s as u64);
        let (x, y) = pair(shape, &mut rng);
        let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let window = if h.min(w) >= 11 { 11 } else { 3 };
        for padding in ["valid", "same"] {
            if padding == "valid" && h.min(w) < window {
                continue;
            }
            let p = params(&[
                ("padding", ParamValue::Word(padding.into())),
                ("window", ParamValue::Number(window as f64)),
            ]);
            for reduction in [Reduction::Mean, Reduction::None] {
                for t in targets() {
                    let label = format!(
                        "ssim {shape:?} {padding} w{window} {reduction} on {}",
                        t.name
                    );
                    check(t, "ssim", shape, &x, &y, &p, reduction, &label);
                }
            }
        }
    }
}

#[test]
fn ssim_windows_constants_and_ranges() {
    let shape = [2, 1, 37, 31];
    let mut rng = StdRng::seed_from_u64(seed() + 7);
    let (x, y) = pair(&shape, &mut rng);
    // Pixel values of 0..255 with data_range 255 (pytorch_msssim's convention).
    let (x255, y255): (Vec<f32>, Vec<f32>) = (
        x.iter().map(|v| (v * 255.0).round()).collect(),
        y.iter().map(|v| (v * 255.0).round()).collect(),
    );
    for window in [3, 7, 15] {
        for (padding, sigma) in [("valid", 1.5), ("same", 0.8)] {
            let p = params(&[
                ("window", ParamValue::Number(window as f64)),
                ("sigma", ParamValue::Number(sigma)),
                ("padding", ParamValue::Word(padding.into())),
                ("data_range", ParamValue::Number(255.0)),
                ("k2", ParamValue::Number(0.05)),
            ]);
            for t in defaults() {
                let label = format!("ssim w{window} {padding} σ{sigma} 0..255 on {}", t.name);
                check(t, "ssim", &shape, &x255, &y255, &p, Reduction::Mean, &label);
            }
        }
    }
}

#[test]
fn ms_ssim_matches_the_reference() {
    // Odd sides pool with padding; window 3 lets small images reach the fifth scale.
    let cases: [(&[usize], f64); 2] = [(&[2, 2, 35, 41], 3.0), (&[3, 177, 161], 11.0)];
    let base = seed();
    for (s, (shape, window)) in cases.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(base + 20 + s as u64);
        let (x, y) = pair(shape, &mut rng);
        let p = params(&[("window", ParamValue::Number(*window))]);
        for reduction in [Reduction::Mean, Reduction::None] {
            for t in targets() {
                let label = format!("ms_ssim {shape:?} w{window} {reduction} on {}", t.name);
                check(t, "ms_ssim", shape, &x, &y, &p, reduction, &label);
            }
        }
    }
}

#[test]
fn psnr_matches_the_reference() {
    let shapes: [&[usize]; 4] = [&[1, 1], &[5, 7], &[3, 4, 9], &[6, 3, 31, 33]];
    let base = seed();
    for (s, shape) in shapes.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(base + 40 + s as u64);
        let (x, mut y) = pair(shape, &mut rng);
        if shape.len() == 4 {
            // One image equal to its target: +inf, and no gradient from it.
            let per = y.len() / shape[0];
            y[..per].copy_from_slice(&x[..per]);
        }
        let p = params(&[("data_range", ParamValue::Number(2.0))]);
        for reduction in [Reduction::Mean, Reduction::None] {
            for t in targets() {
                let label = format!("psnr {shape:?} {reduction} on {}", t.name);
                if shape.len() == 4 && reduction == Reduction::Mean {
                    if t.name.contains("small bindings") {
                        continue;
                    }
                    let (xt, yt) = (
                        t.ctx.upload(&x, shape).unwrap(),
                        t.ctx.upload(&y, shape).unwrap(),
                    );
                    let v = t
                        .ctx
                        .loss("psnr")
                        .unwrap()
                        .input(&xt)
                        .target(&yt)
                        .value()
                        .unwrap();
                    assert_eq!(v, f32::INFINITY, "{label}");
                    continue;
                }
                check(t, "psnr", shape, &x, &y, &p, reduction, &label);
            }
        }
    }
}

#[test]
fn splatting_matches_the_reference_and_sums_its_terms() {
    let shape = [2, 3, 21, 34];
    let mut rng = StdRng::seed_from_u64(seed() + 60);
    let (x, y) = pair(&shape, &mut rng);
    let arrays = [
        ("input".to_string(), array(&x, &shape)),
        ("target".to_string(), array(&y, &shape)),
    ];
    for lambda in [0.2, 0.0, 1.0] {
        let p = params(&[("lambda", ParamValue::Number(lambda))]);
        let want = evaluate_named("splatting", &arrays, &p, Reduction::Mean).unwrap();
        for t in targets() {
            let label = format!("splatting λ{lambda} on {}", t.name);
            let (xt, yt) = (
                t.ctx.upload(&x, &shape).unwrap(),
                t.ctx.upload(&y, &shape).unwrap(),
            );
            let out = t
                .ctx
                .loss("splatting")
                .unwrap()
                .input(&xt)
                .target(&yt)
                .param("lambda", lambda)
                .with_grad()
                .run();
            let out = match out {
                Err(LossError::Limit { .. }) if t.name.contains("small bindings") => continue,
                r => r.unwrap_or_else(|e| panic!("{label}: {e}")),
            };
            let w = want.value.unwrap();
            let got = out.value.unwrap() as f64;
            assert!(
                (got - w).abs() <= 1e-5 * w.abs().max(1e-3),
                "{label}: {got} vs {w}"
            );
            let names: Vec<&str> = out.terms.iter().map(|t| t.0).collect();
            assert_eq!(names, ["l1", "dssim"], "{label}");
            for ((_, g), (_, w)) in out.terms.iter().zip(&want.terms) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-5 * w.abs().max(1e-3),
                    "{label}: term {g} vs {w}"
                );
            }
            let grad = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
            let err = normwise_error(&grad, &want.grads[0].1);
            assert!(err <= 1e-4, "{label}: gradient error {err:.1e}");
        }
    }
}

/// The same refusal from the GPU and the twin, by kind.
fn refused(t: &Target, loss: &str, shape: &[usize], p: &Params, reduction: Reduction) -> LossError {
    let n: usize = shape.iter().product();
    let v = vec![0.5f32; n];
    let arrays = [
        ("input".to_string(), array(&v, shape)),
        ("target".to_string(), array(&v, shape)),
    ];
    let cpu = evaluate_named(loss, &arrays, p, reduction).expect_err("the twin refuses");
    let xt: Tensor = t.ctx.upload(&v, shape).unwrap();
    let mut call = t
        .ctx
        .loss(loss)
        .unwrap()
        .input(&xt)
        .target(&xt)
        .reduction(reduction);
    for (k, v) in p {
        call = call.param(k, v.clone());
    }
    let gpu = call.value().expect_err("the GPU refuses");
    assert_eq!(gpu.to_string(), cpu.to_string(), "{loss} {shape:?} {p:?}");
    gpu
}

#[test]
fn bad_windows_sizes_and_reductions_are_refused_alike() {
    let t = defaults().next().unwrap();
    let number = |k: &str, v: f64| params(&[(k, ParamValue::Number(v))]);
    let e = refused(
        t,
        "ssim",
        &[1, 1, 20, 20],
        &number("window", 4.0),
        Reduction::Mean,
    );
    assert!(
        matches!(e, LossError::InvalidParam { name: "window", .. }),
        "{e}"
    );
    let e = refused(
        t,
        "ssim",
        &[1, 1, 20, 20],
        &number("window", 17.0),
        Reduction::Mean,
    );
    assert!(
        matches!(e, LossError::InvalidParam { name: "window", .. }),
        "{e}"
    );
    let e = refused(t, "ssim", &[1, 1, 9, 20], &Vec::new(), Reduction::Mean);
    assert!(e.to_string().contains("window"), "{e}");
    let e = refused(
        t,
        "psnr",
        &[2, 3],
        &number("data_range", 0.0),
        Reduction::Mean,
    );
    assert!(
        matches!(
            e,
            LossError::InvalidParam {
                name: "data_range",
                ..
            }
        ),
        "{e}"
    );
    let e = refused(t, "ssim", &[1, 1, 20, 20], &Vec::new(), Reduction::Sum);
    assert!(matches!(e, LossError::Reduction { .. }), "{e}");
    let e = refused(
        t,
        "ms_ssim",
        &[1, 1, 160, 300],
        &Vec::new(),
        Reduction::Mean,
    );
    assert!(e.to_string().contains("160"), "{e}");
    let e = refused(t, "ssim", &[2, 2, 2, 20, 20], &Vec::new(), Reduction::Mean);
    assert!(matches!(e, LossError::ShapeMismatch { .. }), "{e}");
}

#[test]
fn nan_pixels_are_named_alike() {
    let shape = [1, 2, 12, 13];
    let mut x = vec![0.25f32; 2 * 12 * 13];
    let y = vec![0.5f32; x.len()];
    x[200] = f32::NAN;
    x[150] = f32::NAN;
    let arrays = [
        ("input".to_string(), array(&x, &shape)),
        ("target".to_string(), array(&y, &shape)),
    ];
    for loss in ["ssim", "psnr"] {
        let p = params(&[("window", ParamValue::Number(3.0))]);
        let p = if loss == "ssim" { p } else { Vec::new() };
        let cpu = evaluate_named(loss, &arrays, &p, Reduction::Mean).expect_err("NaN");
        for t in defaults() {
            let (xt, yt) = (
                t.ctx.upload(&x, &shape).unwrap(),
                t.ctx.upload(&y, &shape).unwrap(),
            );
            let mut call = t.ctx.loss(loss).unwrap().input(&xt).target(&yt);
            for (k, v) in &p {
                call = call.param(k, v.clone());
            }
            let gpu = call.value().expect_err("NaN");
            assert!(
                matches!(gpu, LossError::NaN { index: 150, .. }),
                "{loss} on {}: {gpu}",
                t.name
            );
            assert_eq!(gpu.to_string(), cpu.to_string(), "{loss} on {}", t.name);
        }
    }
}
