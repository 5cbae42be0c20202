//! Sections D and F with kernels of their own (total_variation, gram, style_loss,
//! wasserstein_1d) on every adapter and launch profile against the float64 reference
//! (cpu::structured), on awkward sizes, every option and reduction, every gradient.

mod common;

use common::{normwise_error, seed, targets};
use gpu_loss::cpu::structured as objectives;
use gpu_loss::sample::normal;
use gpu_loss::{LossError, Reduction, StyleLayer};
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn total_variation_matches_the_reference() {
    let shapes: [&[usize]; 7] = [
        &[1, 1],
        &[1, 3],
        &[3, 1],
        &[3, 5, 7],
        &[2, 3, 16, 16],
        &[255, 257],
        &[4, 3, 129, 67],
    ];
    let base = seed();
    for (s, shape) in shapes.iter().enumerate() {
        let n: usize = shape.iter().product();
        let mut rng = StdRng::seed_from_u64(base + s as u64);
        let mut x: Vec<f32> = (0..n).map(|_| normal(&mut rng)).collect();
        // Equal neighbours: |d| = 0 where the slope of power 1 is 0 (PyTorch's sign).
        if n > 2 {
            x[1] = x[0];
        }
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        for power in [1.0, 2.0, 1.5] {
            for reduction in Reduction::ALL {
                let want =
                    objectives::total_variation(&x64, shape, power, reduction).expect("reference");
                for t in targets() {
                    let label = format!(
                        "total_variation {shape:?} p={power} {reduction} on {}",
                        t.name
                    );
                    let xt = t.ctx.upload(&x, shape).unwrap();
                    let plane = 4 * (shape[shape.len() - 2] * shape[shape.len() - 1]) as u64;
                    if too_big(t, plane) {
                        let e = t.ctx.loss("total_variation").unwrap().input(&xt).value();
                        assert!(matches!(e, Err(LossError::Limit { .. })), "{label}: {e:?}");
                        continue;
                    }
                    let out = t
                        .ctx
                        .loss("total_variation")
                        .unwrap()
                        .input(&xt)
                        .param("power", power)
                        .reduction(reduction)
                        .with_grad()
                        .run()
                        .unwrap_or_else(|e| panic!("{label}: {e}"));
                    if let (Some(g), Some(w)) = (out.value, want.value) {
                        let err = (g as f64 - w).abs() / w.abs().max(1e-30);
                        assert!(err <= 1e-5, "{label}: value {g} vs {w} ({err:.1e})");
                    }
                    if let Some(rows) = &want.rows {
                        let got = t.ctx.download(out.elements.as_ref().unwrap()).unwrap();
                        let err = normwise_error(&got, rows);
                        assert!(err <= 2e-6, "{label}: per-pixel error {err:.1e}");
                    }
                    let got = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
                    let err = normwise_error(&got, &want.grads[0]);
                    assert!(err <= 2e-6, "{label}: gradient error {err:.1e}");
                }
            }
        }
    }
}

#[test]
fn total_variation_errors() {
    for t in targets() {
        let ctx = &t.ctx;
        let flat = ctx.upload(&[1.0, 2.0, 3.0], &[3]).unwrap();
        let e = ctx.loss("total_variation").unwrap().input(&flat).value();
        assert!(
            matches!(
                e,
                Err(LossError::ShapeMismatch {
                    tensor: "input",
                    ..
                })
            ),
            "{e:?}"
        );
        let img = ctx.upload(&[1.0, f32::NAN, 3.0, 4.0], &[2, 2]).unwrap();
        let e = ctx.loss("total_variation").unwrap().input(&img).value();
        assert!(
            matches!(
                e,
                Err(LossError::NaN {
                    tensor: "input",
                    index: 1,
                    ..
                })
            ),
            "{e:?}"
        );
        let good = ctx.upload(&[1.0, 2.0, 3.0, 5.0], &[2, 2]).unwrap();
        let e = ctx
            .loss("total_variation")
            .unwrap()
            .input(&good)
            .param("power", 0.0)
            .value();
        assert!(matches!(e, Err(LossError::InvalidParam { .. })), "{e:?}");
        // |2-1| + |3-1| + |5-3| + |5-2| = 8, summed.
        let v = ctx
            .loss("total_variation")
            .unwrap()
            .input(&good)
            .reduction(Reduction::Sum)
            .value()
            .unwrap();
        assert_eq!(v, 8.0, "{}", t.name);
        let empty = ctx.upload(&[], &[0, 4]).unwrap();
        let mean = ctx
            .loss("total_variation")
            .unwrap()
            .input(&empty)
            .value()
            .unwrap();
        assert!(mean.is_nan(), "empty mean {mean}");
    }
}

/// Whether `bytes` exceed what one binding of this profile holds (the small-bindings profile
/// refuses one image plane, one feature matrix or one row larger than that, with an error).
fn too_big(t: &common::Target, bytes: u64) -> bool {
    bytes + 256 > t.ctx.tuning().max_binding_bytes
}

/// How far f32 rounding may move row r's gradient for tensor k (0: u, 1: v): where the CDF
/// difference D_c is within the scan's rounding of 0, its sign is anyone's, and each such
/// position moves every entry by at most 2·(1 + 1)/S (the suffix sum and the Σ s·U term).
fn sign_slack(u: &[f32], v: &[f32], r: usize, c: usize, k: usize) -> f64 {
    let row = |x: &[f32]| {
        x[r * c..(r + 1) * c]
            .iter()
            .map(|&w| w as f64)
            .collect::<Vec<_>>()
    };
    let (ur, vr) = (row(u), row(v));
    let (su, sv): (f64, f64) = (ur.iter().sum(), vr.iter().sum());
    // The kernel's scans carry twice f32's precision: signs must agree with float64 wherever
    // |D| is above 1e-10 (f32 alone would need about 1e-5 here).
    let tol = 1e-10;
    let mut d = 0.0;
    let mut ambiguous = 0.0;
    for j in 0..c {
        d += ur[j] / su - vr[j] / sv;
        if d.abs() <= tol {
            ambiguous += 1.0;
        }
    }
    4.0 * ambiguous / if k == 0 { su } else { sv }
}

fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..n).map(|_| normal(rng)).collect()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn gram_and_style_loss_match_the_reference() {
    // [C, M] and [B, C, M], C not a multiple of the 64-wide tile; several tiles (the mirror
    // of the symmetric Gram), K split over workgroups (M long beside few tiles).
    let shapes: [&[usize]; 9] = [
        &[1, 1],
        &[3, 64],
        &[17, 1000],
        &[2, 5, 33],
        &[40, 7],
        &[31, 4099],
        &[130, 301],
        &[70, 5001],
        &[2, 65, 1100],
    ];
    let base = seed();
    for (s, shape) in shapes.iter().enumerate() {
        let n: usize = shape.iter().product();
        let mut rng = StdRng::seed_from_u64(base + 7 * s as u64);
        let (f, st) = (random(n, &mut rng), random(n, &mut rng));
        let want_g = objectives::gram(&f64s(&f), shape).expect("reference gram");
        let want_gs = objectives::gram(&f64s(&st), shape).expect("reference gram");
        for reduction in Reduction::ALL {
            let want = objectives::style_loss(&f64s(&f), &f64s(&st), shape, reduction)
                .expect("reference style");
            for t in targets() {
                let label = format!("{shape:?} {reduction} on {}", t.name);
                let ft = t.ctx.upload(&f, shape).unwrap();
                let stt = t.ctx.upload(&st, shape).unwrap();
                let matrix = 4 * (shape[shape.len() - 2] * shape[shape.len() - 1]) as u64;
                if too_big(t, matrix) {
                    let e = t.ctx.loss("gram").unwrap().input(&ft).value();
                    assert!(matches!(e, Err(LossError::Limit { .. })), "{label}: {e:?}");
                    continue;
                }
                // gram: `none` gives G itself.
                let g = t
                    .ctx
                    .loss("gram")
                    .unwrap()
                    .input(&ft)
                    .reduction(Reduction::None)
                    .run()
                    .unwrap_or_else(|e| panic!("gram {label}: {e}"));
                let got = t.ctx.download(g.elements.as_ref().unwrap()).unwrap();
                let err = normwise_error(&got, &want_g);
                assert!(err <= 2e-6, "gram {label}: {err:.1e}");
                let out = t
                    .ctx
                    .loss("style_loss")
                    .unwrap()
                    .input(&ft)
                    .target(&stt)
                    .reduction(reduction)
                    .with_grad()
                    .run()
                    .unwrap_or_else(|e| panic!("style {label}: {e}"));
                if let (Some(got), Some(w)) = (out.value, want.value) {
                    let got = got as f64;
                    assert!(
                        (got - w).abs() <= 1e-5 * w.abs().max(1e-30),
                        "style {label}: {got} vs {w}"
                    );
                }
                if let Some(rows) = &want.rows {
                    // (G_F − G_S)² cancels: its error is relative to the Gram entries'
                    // size, (|G_F| + |G_S|)², not to the (far smaller) squared difference.
                    let got = t.ctx.download(out.elements.as_ref().unwrap()).unwrap();
                    let scale = want_g
                        .iter()
                        .zip(&want_gs)
                        .fold(0f64, |m, (a, b)| m.max((a.abs() + b.abs()).powi(2)));
                    let worst = got
                        .iter()
                        .zip(rows)
                        .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
                    let err = worst / scale.max(1e-300);
                    assert!(err <= 1e-5, "style {label}: entries {err:.1e}");
                }
                let grad = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
                let err = normwise_error(&grad, &want.grads[0]);
                assert!(err <= 1e-5, "style {label}: gradient {err:.1e}");
            }
        }
    }
}

/// style_loss over several layers with weights (the library form): layers of different shapes
/// (each within the small-bindings profile's 8 KiB), C not a multiple of the tile, a batch
/// axis; the total, each layer's term and each layer's gradient against the float64 twin; and
/// the errors, naming the layer.
#[test]
fn style_loss_over_layers_with_weights() {
    let shapes: [&[usize]; 3] = [&[5, 37], &[17, 100], &[2, 3, 50]];
    let weights = [1.0, 0.5, 2.0];
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x57e1);
    let data: Vec<(Vec<f32>, Vec<f32>)> = shapes
        .iter()
        .map(|s| {
            let n = s.iter().product();
            (random(n, &mut rng), random(n, &mut rng))
        })
        .collect();
    let f64_data: Vec<(Vec<f64>, Vec<f64>)> =
        data.iter().map(|(f, s)| (f64s(f), f64s(s))).collect();
    let layers: Vec<objectives::StyleLayer> = f64_data
        .iter()
        .zip(shapes.iter().zip(weights))
        .map(|((f, s), (shape, weight))| objectives::StyleLayer {
            input: f,
            target: s,
            shape,
            weight,
        })
        .collect();
    let (want, want_terms, want_grads) = objectives::style_loss_layers(&layers).unwrap();
    for t in targets() {
        let tensors: Vec<(gpu_loss::Tensor, gpu_loss::Tensor)> = data
            .iter()
            .zip(shapes)
            .map(|((f, s), shape)| {
                (
                    t.ctx.upload(f, shape).unwrap(),
                    t.ctx.upload(s, shape).unwrap(),
                )
            })
            .collect();
        let layers: Vec<StyleLayer> = tensors
            .iter()
            .zip(weights)
            .map(|((f, s), weight)| StyleLayer {
                input: f,
                target: s,
                weight,
            })
            .collect();
        let out = t.ctx.style_loss(&layers, true).unwrap();
        let scale: f64 = want_terms.iter().map(|v| v.abs()).sum();
        let label = &t.name;
        assert!(
            (out.value as f64 - want).abs() <= 1e-5 * scale,
            "{label}: {} vs {want}",
            out.value
        );
        for (l, (got, w)) in out.layers.iter().zip(&want_terms).enumerate() {
            let err = (*got as f64 - w).abs() / w.abs();
            assert!(err <= 1e-5, "{label}: layer {l}: {got} vs {w}");
        }
        assert_eq!(out.grads.len(), shapes.len());
        for (l, (g, w)) in out.grads.iter().zip(&want_grads).enumerate() {
            let err = normwise_error(&t.ctx.download(g).unwrap(), w);
            assert!(err <= 1e-5, "{label}: layer {l} gradient {err:.1e}");
        }
        // The value alone, without gradients, is the same.
        let alone = t.ctx.style_loss(&layers, false).unwrap();
        assert!(alone.grads.is_empty());
        assert_eq!(alone.value.to_bits(), out.value.to_bits(), "{label}");

        // Errors name the layer.
        assert!(matches!(
            t.ctx.style_loss(&[], false),
            Err(LossError::Usage(_))
        ));
        let mut bad = layers.clone();
        bad[1].weight = -1.0;
        let e = t.ctx.style_loss(&bad, false);
        assert!(
            matches!(&e, Err(LossError::Layer { layer: 1, source }) if matches!(**source, LossError::InvalidParam { .. })),
            "{label}: {e:?}"
        );
        let mut bad = layers.clone();
        bad[2].target = &tensors[0].1;
        let e = t.ctx.style_loss(&bad, true);
        assert!(
            matches!(&e, Err(LossError::Layer { layer: 2, source }) if matches!(**source, LossError::ShapeMismatch { .. })),
            "{label}: {e:?}"
        );
        let nan = t.ctx.upload(&vec![f32::NAN; 5 * 37], &[5, 37]).unwrap();
        let mut bad = layers.clone();
        bad[0].target = &nan;
        let e = t.ctx.style_loss(&bad, false);
        assert!(
            matches!(&e, Err(LossError::Layer { layer: 0, .. })),
            "{label}: {e:?}"
        );
    }
}

#[test]
fn wasserstein_1d_matches_the_reference() {
    let shapes = [
        (1usize, 1usize),
        (2, 7),
        (40, 100),
        (3, 257),
        (257, 3),
        (2, 4099),
        // Spans that end mid-row and row groups that end mid-workgroup.
        (100, 65),
        (9, 1023),
    ];
    let base = seed();
    for (s, &(n, c)) in shapes.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(base + 13 * s as u64);
        // Non-negative weights with exact zeros (empty bins), rows not normalised.
        let mut weights = || {
            (0..n * c)
                .map(|i| {
                    if i % 5 == 2 {
                        0.0
                    } else {
                        normal(&mut rng).abs()
                    }
                })
                .collect::<Vec<f32>>()
        };
        let (u, v) = (weights(), weights());
        for dx in [1.0, 0.5] {
            for reduction in Reduction::ALL {
                let want = objectives::wasserstein_1d(&f64s(&u), &f64s(&v), c, dx, reduction)
                    .expect("reference");
                for t in targets() {
                    let label = format!("wasserstein_1d {n}x{c} dx={dx} {reduction} on {}", t.name);
                    let ut = t.ctx.upload(&u, &[n, c]).unwrap();
                    let vt = t.ctx.upload(&v, &[n, c]).unwrap();
                    if too_big(t, 4 * c as u64) {
                        continue; // a row longer than a binding: refused as the row losses
                    }
                    let out = t
                        .ctx
                        .loss("wasserstein_1d")
                        .unwrap()
                        .tensor("u", &ut)
                        .tensor("v", &vt)
                        .param("dx", dx)
                        .reduction(reduction)
                        .with_grad()
                        .run()
                        .unwrap_or_else(|e| panic!("{label}: {e}"));
                    // Where both CDFs agree (a 1×1 row: W = 0), float64's own rounding of
                    // them, about 1e-16 a bin, is all the reference holds: below this floor a
                    // value is 0 (seed 1796029180667390239 drew 1.8e-15 against 0).
                    let floor = 1e-12 * dx * (n * c) as f64;
                    if let (Some(g), Some(w)) = (out.value, want.value) {
                        let diff = (g as f64 - w).abs();
                        assert!(
                            diff <= 1e-5 * w.abs() + floor,
                            "{label}: value {g} vs {w} ({diff:.1e})"
                        );
                    }
                    if let Some(rows) = &want.rows {
                        let got = t.ctx.download(out.elements.as_ref().unwrap()).unwrap();
                        let largest = rows.iter().fold(0f64, |m, v| m.max(v.abs()));
                        for (r, (g, w)) in got.iter().zip(rows).enumerate() {
                            let diff = (f64::from(*g) - w).abs();
                            assert!(
                                diff <= 1e-5 * largest + floor,
                                "{label}: row {r}: {g} vs {w}"
                            );
                        }
                    }
                    let gu = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
                    let gv = t.ctx.download(&out.other_grads[0].1).unwrap();
                    let scale = if reduction == Reduction::Mean {
                        1.0 / n as f64
                    } else {
                        1.0
                    };
                    for (k, (name, got, want)) in
                        [("u", gu, &want.grads[0]), ("v", gv, &want.grads[1])]
                            .into_iter()
                            .enumerate()
                    {
                        let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
                        for r in 0..n {
                            let slack = sign_slack(&u, &v, r, c, k) * dx * scale;
                            for i in r * c..(r + 1) * c {
                                let diff = (got[i] as f64 - want[i]).abs();
                                assert!(
                                    diff <= 1e-5 * largest + slack,
                                    "{label}: gradient {name}[{i}] {} vs {} (slack {slack:.1e})",
                                    got[i],
                                    want[i]
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn wasserstein_1d_rejects_what_is_no_distribution() {
    for t in targets() {
        let ctx = &t.ctx;
        let u = ctx
            .upload(&[0.2, 0.3, 0.5, 0.0, 0.0, 0.0], &[2, 3])
            .unwrap();
        let v = ctx
            .upload(&[0.1, 0.1, 0.8, 0.3, 0.3, 0.4], &[2, 3])
            .unwrap();
        let run = |u: &gpu_loss::Tensor, v: &gpu_loss::Tensor| {
            ctx.loss("wasserstein_1d")
                .unwrap()
                .tensor("u", u)
                .tensor("v", v)
                .value()
        };
        match run(&u, &v) {
            Err(LossError::OutOfDomain { index: 1, .. }) => {}
            other => panic!("zero-mass row: {other:?} on {}", t.name),
        }
        let negative = ctx
            .upload(&[0.2, -0.3, 0.5, 0.1, 0.1, 0.1], &[2, 3])
            .unwrap();
        match run(&negative, &v) {
            Err(LossError::OutOfDomain {
                tensor: "u",
                index: 1,
                ..
            }) => {}
            other => panic!("negative weight: {other:?} on {}", t.name),
        }
        // In v, behind a NaN: the lower index is named.
        let bad_v = ctx
            .upload(&[0.1, 0.1, 0.8, 0.3, -0.3, f32::NAN], &[2, 3])
            .unwrap();
        match run(&u, &bad_v) {
            Err(LossError::OutOfDomain {
                tensor: "v",
                index: 4,
                ..
            }) => {}
            other => panic!("negative weight in v: {other:?} on {}", t.name),
        }
        let short = ctx.upload(&[0.2, 0.3, 0.5], &[1, 3]).unwrap();
        assert!(matches!(
            run(&u, &short),
            Err(LossError::ShapeMismatch { tensor: "v", .. })
        ));
    }
}

/// A CDF difference of a few f32 ulps of 1 (8e-7, where both CDFs near 1): its sign picks the
/// gradient of every bin before it, so an f32 scan (rounding error ~1e-6 over 100 bins) gets the
/// gradient wrong; the kernel's double-f32 scan must agree with float64.
#[test]
fn wasserstein_1d_signs_hold_within_a_few_ulps() {
    let (n, c) = (40usize, 100usize);
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x3e9);
    // u in [0.5, 1): moving 2^-14 from bin j to bin j + 3 is exact in f32 and keeps the mass.
    let u: Vec<f32> = (0..n * c)
        .map(|_| 0.5 + 0.5 * (normal(&mut rng).abs() % 1.0))
        .collect();
    let mut v = u.clone();
    for r in 0..n {
        let j = r * c + 60 + r % 30;
        v[j] -= 1.0 / 16384.0;
        v[j + 3] += 1.0 / 16384.0;
    }
    let f64s = |x: &[f32]| x.iter().map(|&w| w as f64).collect::<Vec<_>>();
    let want = objectives::wasserstein_1d(&f64s(&u), &f64s(&v), c, 0.5, Reduction::Sum)
        .expect("reference");
    for t in targets() {
        let ut = t.ctx.upload(&u, &[n, c]).unwrap();
        let vt = t.ctx.upload(&v, &[n, c]).unwrap();
        let out = t
            .ctx
            .loss("wasserstein_1d")
            .unwrap()
            .tensor("u", &ut)
            .tensor("v", &vt)
            .param("dx", 0.5)
            .reduction(Reduction::Sum)
            .with_grad()
            .run()
            .unwrap();
        let gu = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
        let gv = t.ctx.download(&out.other_grads[0].1).unwrap();
        for (name, got, want) in [("u", &gu, &want.grads[0]), ("v", &gv, &want.grads[1])] {
            let err = normwise_error(got, want);
            assert!(err <= 1e-6, "d/d{name} on {}: {err:.1e}", t.name);
        }
    }
}
