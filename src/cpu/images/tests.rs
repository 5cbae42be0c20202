//! The image twins against the conformance cases (pytorch_msssim, the 3D Gaussian splatting
//! code, float64 from float32 inputs), against central differences, and at their edges.

use super::*;
use crate::error::LossError;
use crate::npy::Array;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

fn case_dir(id: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../shared/conformance/cases/{id}"))
}

struct Case {
    x: Vec<f64>,
    y: Vec<f64>,
    shape: Vec<usize>,
    params: serde_json::Value,
    value: f64,
    grad: Vec<f64>,
}

fn load(id: &str) -> Case {
    let dir = case_dir(id);
    let read = |f: &str| Array::read(&dir.join(f)).unwrap_or_else(|e| panic!("{id}: {e}"));
    let json = std::fs::read_to_string(dir.join("case.json")).expect("case.json");
    let case: serde_json::Value = serde_json::from_str(&json).expect("case.json parses");
    let x = read("input.npy");
    Case {
        y: read("target.npy").floats(),
        grad: read("expected_grad_input.npy").floats(),
        shape: x.shape.clone(),
        x: x.floats(),
        params: case["params"].clone(),
        value: case["expect"]["value"].as_f64().expect("a value"),
    }
}

fn ssim_params(params: &serde_json::Value) -> SsimParams {
    let d = SsimParams::default();
    let num = |name: &str, default: f64| params[name].as_f64().unwrap_or(default);
    SsimParams {
        window: num("window", d.window as f64) as usize,
        sigma: num("sigma", d.sigma),
        k1: num("k1", d.k1),
        k2: num("k2", d.k2),
        data_range: num("data_range", d.data_range),
        same: params["padding"].as_str() == Some("same"),
    }
}

fn norm(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|a| a * a).sum::<f64>().sqrt()
}

/// (value's relative error, gradient's normwise relative error).
fn agreement(c: &Case, r: &RowResult) -> (f64, f64) {
    let value = r.value.expect("mean");
    let g = &r.grads[0];
    assert_eq!(g.len(), c.grad.len());
    let diff = norm(g.iter().zip(&c.grad).map(|(a, b)| a - b));
    (
        (value - c.value).abs() / c.value.abs(),
        diff / norm(c.grad.iter().copied()),
    )
}

fn check_case(id: &str, run: impl Fn(&Case) -> Result<RowResult>) {
    let c = load(id);
    let r = run(&c).unwrap();
    let (value_err, grad_err) = agreement(&c, &r);
    eprintln!("{id}: value rel error {value_err:.2e}, grad normwise error {grad_err:.2e}");
    assert!(value_err < 1e-9, "{id}: value off by {value_err:e}");
    // The expected gradient was stored as float32: ~3e-8 of rounding, normwise.
    assert!(grad_err < 1e-6, "{id}: gradient off by {grad_err:e}");
    // Rounded to float32 ours is the stored one, or a neighbour where it lies near a tie.
    for (i, (a, b)) in r.grads[0].iter().zip(&c.grad).enumerate() {
        let ulps = ((*a as f32).to_bits() as i64 - (*b as f32).to_bits() as i64).abs();
        assert!(ulps <= 1, "{id}: grad[{i}] = {a}, expected {b} (float32)");
    }
}

#[test]
fn conformance_ssim_same() {
    check_case("ssim_same_0", |c| {
        ssim(
            &c.x,
            &c.y,
            &c.shape,
            &ssim_params(&c.params),
            Reduction::Mean,
        )
    });
}

#[test]
fn conformance_ssim_valid() {
    check_case("ssim_valid_1", |c| {
        ssim(
            &c.x,
            &c.y,
            &c.shape,
            &ssim_params(&c.params),
            Reduction::Mean,
        )
    });
}

#[test]
fn conformance_ms_ssim() {
    check_case("ms_ssim_0", |c| {
        ms_ssim(
            &c.x,
            &c.y,
            &c.shape,
            &ssim_params(&c.params),
            Reduction::Mean,
        )
    });
}

#[test]
fn conformance_psnr() {
    check_case("psnr_0", |c| {
        let range = c.params["data_range"].as_f64().unwrap_or(1.0);
        psnr(&c.x, &c.y, &c.shape, range, Reduction::Mean)
    });
}

fn random(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random::<f64>()).collect()
}

/// The reduced value, or for `none` the sum of the outputs: what the gradient is of.
fn scalar(r: &RowResult) -> f64 {
    r.value
        .unwrap_or_else(|| r.rows.as_ref().expect("rows").iter().sum())
}

/// The gradient at `coords` against central differences of step `h`.
fn finite_differences(
    seed: u64,
    x: &[f64],
    coords: &[usize],
    h: f64,
    f: impl Fn(&[f64]) -> RowResult,
) {
    let g = f(x).grads[0].clone();
    let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut xp = x.to_vec();
    for &i in coords {
        xp[i] = x[i] + h;
        let up = scalar(&f(&xp));
        xp[i] = x[i] - h;
        let down = scalar(&f(&xp));
        xp[i] = x[i];
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() <= 1e-6 * scale,
            "seed {seed}: d/dx[{i}] = {} analytically, {fd} by differences",
            g[i]
        );
    }
}

#[test]
fn ssim_gradient_matches_finite_differences() {
    let shape = [1, 2, 17, 19];
    for (seed, same, reduction) in [
        (1, false, Reduction::Mean),
        (2, true, Reduction::Mean),
        (3, false, Reduction::None),
        (4, true, Reduction::None),
    ] {
        let mut rng = StdRng::seed_from_u64(seed);
        let (x, y) = (random(&mut rng, 646), random(&mut rng, 646));
        let p = SsimParams {
            window: 5,
            same,
            ..SsimParams::default()
        };
        let all: Vec<usize> = (0..x.len()).collect();
        finite_differences(seed, &x, &all, 1e-5, |x| {
            ssim(x, &y, &shape, &p, reduction).unwrap()
        });
    }
}

#[test]
fn ms_ssim_gradient_matches_finite_differences() {
    // 70 × 66 → 35 × 33 → 18 × 17 → 9 × 9 → 5 × 5: odd sizes, so the pool pads.
    let shape = [1, 1, 70, 66];
    let n = 70 * 66;
    for (seed, reduction) in [(5, Reduction::Mean), (6, Reduction::None)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(&mut rng, n);
        // A target near the input, so every scale's cs stays positive.
        let y: Vec<f64> = x.iter().map(|v| v + 0.3 * rng.random::<f64>()).collect();
        let coords: Vec<usize> = (0..40).map(|_| rng.random_range(0..n)).collect();
        let p = SsimParams {
            window: 5,
            ..SsimParams::default()
        };
        finite_differences(seed, &x, &coords, 1e-5, |x| {
            ms_ssim(x, &y, &shape, &p, reduction).unwrap()
        });
    }
}

#[test]
fn psnr_gradient_matches_finite_differences() {
    let shape = [3, 2, 5, 4];
    for (seed, reduction) in [(7, Reduction::Mean), (8, Reduction::None)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let (x, y) = (random(&mut rng, 120), random(&mut rng, 120));
        let all: Vec<usize> = (0..120).collect();
        finite_differences(seed, &x, &all, 1e-6, |x| {
            psnr(x, &y, &shape, 1.0, reduction).unwrap()
        });
    }
}

#[test]
fn identical_images_are_perfect() {
    let mut rng = StdRng::seed_from_u64(9);
    let x = random(&mut rng, 2 * 3 * 16 * 16);
    for same in [false, true] {
        let p = SsimParams {
            same,
            ..SsimParams::default()
        };
        let r = ssim(&x, &x, &[2, 3, 16, 16], &p, Reduction::Mean).unwrap();
        assert!((r.value.unwrap() - 1.0).abs() < 1e-12, "same = {same}");
        assert!(r.grads[0].iter().all(|g| g.abs() < 1e-12));
    }
    let r = psnr(&x, &x, &[2, 3, 16, 16], 1.0, Reduction::None).unwrap();
    assert_eq!(r.rows.unwrap(), vec![f64::INFINITY; 2]);
    assert!(r.grads[0].iter().all(|&g| g == 0.0));
    let big = random(&mut rng, 161 * 170);
    let r = ms_ssim(
        &big,
        &big,
        &[161, 170],
        &SsimParams::default(),
        Reduction::Mean,
    );
    assert!((r.unwrap().value.unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn a_negative_cs_clamps_ms_ssim_to_zero() {
    // y = 1 − x: σxy = −σx², every cs < 0, the ReLU gives 0 and no gradient.
    let mut rng = StdRng::seed_from_u64(10);
    let x = random(&mut rng, 2 * 161 * 161);
    let y: Vec<f64> = x.iter().map(|v| 1.0 - v).collect();
    let r = ms_ssim(
        &x,
        &y,
        &[2, 161, 161],
        &SsimParams::default(),
        Reduction::None,
    )
    .unwrap();
    assert_eq!(r.rows.unwrap(), vec![0.0]);
    assert!(r.grads[0].iter().all(|&g| g == 0.0));
}

#[test]
fn ms_ssim_keeps_nan_through_the_clamp() {
    // k1 = k2 = 0 on black images: every cs is 0/0, NaN in pytorch_msssim too.
    let x = vec![0.0; 161 * 161];
    let p = SsimParams {
        k1: 0.0,
        k2: 0.0,
        ..SsimParams::default()
    };
    let r = ms_ssim(&x, &x, &[161, 161], &p, Reduction::Mean).unwrap();
    assert!(r.value.unwrap().is_nan());
}

#[test]
fn the_map_has_the_padding_size() {
    let x = vec![0.5; 2 * 17 * 19];
    let y = vec![0.25; 2 * 17 * 19];
    for (same, len) in [(false, 2 * 13 * 15), (true, 2 * 17 * 19)] {
        let p = SsimParams {
            window: 5,
            same,
            ..SsimParams::default()
        };
        let r = ssim(&x, &y, &[2, 17, 19], &p, Reduction::None).unwrap();
        assert_eq!(r.rows.unwrap().len(), len);
    }
}

#[test]
fn avg_pool_matches_pytorch_sizes() {
    // floor((n + 2·(n mod 2) − 2) / 2) + 1
    for (n, pooled) in [(4, 2), (5, 3), (161, 81), (176, 88), (11, 6)] {
        assert_eq!(ms_ssim::pooled_size(n), pooled);
    }
}

#[test]
fn bad_calls_are_typed_errors() {
    let x = vec![0.5; 20 * 20];
    let p = SsimParams::default();
    let ssim_with = |p: SsimParams, shape: &[usize]| ssim(&x, &x, shape, &p, Reduction::Mean);
    let param = |r: Result<RowResult>| match r {
        Err(LossError::InvalidParam { name, .. }) => name,
        other => panic!("expected a parameter error, got {other:?}"),
    };
    assert_eq!(
        param(ssim_with(SsimParams { window: 6, ..p }, &[20, 20])),
        "window"
    );
    assert_eq!(
        param(ssim_with(SsimParams { window: 17, ..p }, &[20, 20])),
        "window"
    );
    assert_eq!(
        param(ssim_with(SsimParams { sigma: 0.0, ..p }, &[20, 20])),
        "sigma"
    );
    for range in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        let q = SsimParams {
            data_range: range,
            ..p
        };
        assert_eq!(param(ssim_with(q, &[20, 20])), "data_range");
        assert_eq!(
            param(psnr(&x, &x, &[20, 20], range, Reduction::Mean)),
            "data_range"
        );
    }
    // A window larger than the image: refused with padding valid, fine with same.
    let small = vec![0.5; 2 * 9 * 30];
    let r = ssim(&small, &small, &[2, 9, 30], &p, Reduction::Mean);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("window` = 11 (image 9 × 30)"), "{e}");
    let same = SsimParams { same: true, ..p };
    assert!(ssim(&small, &small, &[2, 9, 30], &same, Reduction::Mean).is_ok());
    // ms_ssim needs min(H, W) > (window − 1)·16 = 160.
    let r = ms_ssim(&x, &x, &[20, 20], &p, Reduction::Mean);
    match r {
        Err(e @ LossError::ShapeMismatch { .. }) => assert!(e.to_string().contains("161")),
        other => panic!("{other:?}"),
    }
    // Ranks other than 2, 3 and 4.
    for shape in [vec![400], vec![1, 1, 1, 20, 20]] {
        let r = ssim_with(p, &shape);
        assert!(matches!(r, Err(LossError::ShapeMismatch { .. })), "{r:?}");
        let r = image_dims("ssim", "input", &shape);
        assert!(matches!(r, Err(LossError::ShapeMismatch { .. })), "{r:?}");
    }
    assert!(matches!(
        image_dims("ssim", "input", &[usize::MAX, 2, 1, 1]),
        Err(LossError::ShapeOverflow { .. })
    ));
    // Only mean and none.
    let r = ssim_with(p, &[20, 20]);
    assert!(r.is_ok());
    for red in [Reduction::Sum, Reduction::BatchMean] {
        let r = ssim(&x, &x, &[20, 20], &p, red);
        assert!(matches!(r, Err(LossError::Reduction { .. })), "{r:?}");
        let r = psnr(&x, &x, &[20, 20], 1.0, red);
        assert!(matches!(r, Err(LossError::Reduction { .. })), "{r:?}");
        let r = ms_ssim(&x, &x, &[20, 20], &p, red);
        assert!(matches!(r, Err(LossError::Reduction { .. })), "{r:?}");
    }
    // MS-SSIM is pytorch_msssim's, valid padding only.
    let r = ms_ssim(&x, &x, &[20, 20], &same, Reduction::Mean);
    assert_eq!(param(r), "padding");
    // NaN in the target, after the shapes and parameters.
    let mut y = x.clone();
    y[7] = f64::NAN;
    let r = ssim(&x, &y, &[20, 20], &p, Reduction::Mean);
    assert_eq!(
        r,
        Err(LossError::NaN {
            loss: "ssim",
            tensor: "target",
            index: 7
        })
    );
}

#[test]
fn twins_shape_their_outputs() {
    use crate::cpu::twins::{self, TwinCall};
    use crate::npy::Values;
    let array = |shape: &[usize], v: f64| Array {
        shape: shape.to_vec(),
        values: Values::Float(vec![v; shape.iter().product()]),
        dtype: "<f4".into(),
    };
    let pair = |shape: &[usize]| {
        vec![
            ("input".to_string(), array(shape, 0.5)),
            ("target".to_string(), array(shape, 0.25)),
        ]
    };
    let call = |loss, tensors: &[(String, Array)], params: &[f64]| {
        let c = TwinCall {
            loss,
            tensors,
            params,
            reduction: Reduction::None,
        };
        match loss {
            "ssim" => twins::ssim(&c),
            "ms_ssim" => twins::ms_ssim(&c),
            _ => twins::psnr(&c),
        }
    };
    let out = |r: Result<twins::TwinResult>| r.unwrap().out.unwrap().0;
    let valid = [5.0, 1.5, 0.01, 0.03, 1.0, 0.0];
    let same = [5.0, 1.5, 0.01, 0.03, 1.0, 1.0];
    assert_eq!(out(call("ssim", &pair(&[17, 19]), &valid)), [13, 15]);
    assert_eq!(out(call("ssim", &pair(&[2, 17, 19]), &valid)), [2, 13, 15]);
    assert_eq!(
        out(call("ssim", &pair(&[3, 2, 17, 19]), &same)),
        [3, 2, 17, 19]
    );
    let ms = [5.0, 1.5, 0.01, 0.03, 1.0];
    assert_eq!(out(call("ms_ssim", &pair(&[2, 70, 66]), &ms)), [1]);
    assert_eq!(out(call("psnr", &pair(&[4, 2, 5, 6]), &[1.0])), [4]);
    assert_eq!(out(call("psnr", &pair(&[5, 6]), &[1.0])), [1]);
    // A padding that is neither, a window that is no whole number, shapes that differ.
    let bad = [5.0, 1.5, 0.01, 0.03, 1.0, 0.5];
    let r = call("ssim", &pair(&[17, 19]), &bad);
    assert!(matches!(
        r,
        Err(LossError::InvalidParam {
            name: "padding",
            ..
        })
    ));
    let r = call("ssim", &pair(&[17, 19]), &[5.5, 1.5, 0.01, 0.03, 1.0, 0.0]);
    assert!(matches!(
        r,
        Err(LossError::InvalidParam { name: "window", .. })
    ));
    let mut mixed = pair(&[17, 19]);
    mixed[1].1 = array(&[19, 17], 0.25);
    let r = call("psnr", &mixed, &[1.0]);
    assert!(matches!(
        r,
        Err(LossError::ShapeMismatch {
            tensor: "target",
            ..
        })
    ));
}
