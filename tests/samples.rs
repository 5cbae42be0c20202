//! wasserstein_1d_samples on every adapter and launch profile against its float64 twin
//! (cpu::structured::wasserstein_1d_samples, which follows scipy.stats.wasserstein_distance):
//! sets of different sizes, with and without weights, with ties within and across the sets;
//! scipy's own examples; the twin's gradient against finite differences; and the errors.

mod common;

use common::{defaults, normwise_error, seed, targets, Target};
use gpu_loss::cpu::structured::wasserstein_1d_samples as reference;
use gpu_loss::sample::normal;
use gpu_loss::{LossError, Reduction, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Out {
    value: f32,
    grad_u: Vec<f32>,
    grad_v: Vec<f32>,
}

fn run(t: &Target, u: &[f32], v: &[f32], w: Option<(&[f32], &[f32])>) -> gpu_loss::Result<Out> {
    let up = |x: &[f32]| t.ctx.upload(x, &[x.len()]);
    let (ut, vt) = (up(u)?, up(v)?);
    let weights: Option<(Tensor, Tensor)> = match w {
        Some((a, b)) => Some((up(a)?, up(b)?)),
        None => None,
    };
    let mut call = t
        .ctx
        .loss("wasserstein_1d_samples")?
        .tensor("u_values", &ut)
        .tensor("v_values", &vt)
        .with_grad();
    if let Some((a, b)) = &weights {
        call = call.tensor("u_weights", a).tensor("v_weights", b);
    }
    let out = call.run()?;
    Ok(Out {
        value: out.value.unwrap_or(f32::NAN),
        grad_u: t.ctx.download(out.grad.as_ref().unwrap())?,
        grad_v: t.ctx.download(&out.other_grads[0].1)?,
    })
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Whether `n + m` sorted samples fit this profile's storage bindings (else a Limit error):
/// whole vec4s, and for the bitonic sort (below 4096 samples) a power of two, at least its
/// block of two per invocation.
fn fits(t: &Target, n: usize, m: usize) -> bool {
    let block = 2 * t.ctx.tuning().workgroup_size as usize;
    let padded = if n + m >= 4096 {
        (n + m).next_multiple_of(4)
    } else {
        (n + m).next_power_of_two().max(block)
    };
    4 * padded as u64 + 256 <= t.ctx.tuning().max_binding_bytes
}

#[test]
fn matches_the_reference_with_and_without_weights_and_ties() {
    let sizes = [
        (1usize, 1usize),
        (3, 5),
        (255, 257),
        (4099, 1000),
        (100_000, 70_001),
    ];
    let base = seed();
    for (s, &(n, m)) in sizes.iter().enumerate() {
        // Continuous values; values on a few levels (ties within and across the sets, −0 and
        // +0 among them).
        for ties in [false, true] {
            let mut rng = StdRng::seed_from_u64(base + 10 * s as u64 + u64::from(ties));
            let mut draw = |len: usize, shift: f32| -> Vec<f32> {
                (0..len)
                    .map(|_| {
                        let x = shift + 2.0 * normal(&mut rng);
                        if ties {
                            (x * 2.0).round() / 2.0
                        } else {
                            x
                        }
                    })
                    .collect()
            };
            let (u, v) = (draw(n, 0.0), draw(m, 0.7));
            let uw: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..2.0)).collect();
            let vw: Vec<f32> = (0..m).map(|_| rng.random_range(0.1..1.0)).collect();
            for weighted in [false, true] {
                let w = weighted.then_some((uw.as_slice(), vw.as_slice()));
                let (want, want_gu, want_gv) = reference(
                    &f64s(&u),
                    &f64s(&v),
                    w.map(|w| f64s(w.0)).as_deref(),
                    w.map(|w| f64s(w.1)).as_deref(),
                )
                .unwrap();
                let profiles: Vec<&Target> = if n > 10_000 {
                    defaults().collect()
                } else {
                    targets().iter().collect()
                };
                for t in profiles {
                    let label = format!("{n} vs {m} ties={ties} weighted={weighted} on {}", t.name);
                    let got = run(t, &u, &v, w);
                    if !fits(t, n, m) {
                        assert!(matches!(got, Err(LossError::Limit { .. })), "{label}");
                        continue;
                    }
                    let got = got.unwrap_or_else(|e| panic!("{label}: {e}"));
                    let err = (got.value as f64 - want).abs() / want.abs().max(1e-30);
                    assert!(err <= 1e-5, "{label}: {} vs {want} ({err:.1e})", got.value);
                    // Ties sort by position on both sides, so even they agree.
                    for (name, g, w) in [("u", &got.grad_u, &want_gu), ("v", &got.grad_v, &want_gv)]
                    {
                        let e = normwise_error(g, w);
                        assert!(e <= 2e-6, "{label}: gradient {name} {e:.1e}");
                    }
                }
            }
        }
    }
}

/// The sort's hard cases on both sorts (bitonic below 4096 samples, radix above): many ties,
/// ±0, ±inf, subnormals, sorted and reversed input, sizes around powers of two and tiles. The gradient
/// says where each sample landed (ties by position), so it must match the twin's.
#[test]
fn sorts_hard_keys_like_the_reference() {
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x50f7);
    let specials = [
        0.0f32,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE / 8.0,
        -f32::MIN_POSITIVE / 8.0,
        f32::MAX,
        f32::MIN,
        1.0,
        -1.0,
    ];
    for (n, m) in [
        (1usize, 2usize),
        (2, 1),
        (17, 16),
        (2049, 2047),
        (4095, 1),
        (8193, 4095),
        // The radix sort's tails: a last vec4 of three keys, a tile (4096 keys on the gpu
        // layout, 32768 on CPU drivers) and one more.
        (4097, 2),
        (32768, 1),
    ] {
        for kind in ["ties", "specials", "sorted", "reversed"] {
            let mut draw = |len: usize| -> Vec<f32> {
                let mut x: Vec<f32> = (0..len)
                    .map(|_| match kind {
                        "ties" => rng.random_range(0..5) as f32 - 2.0,
                        "specials" => specials[rng.random_range(0..specials.len())],
                        _ => normal(&mut rng),
                    })
                    .collect();
                if kind == "sorted" {
                    x.sort_by(f32::total_cmp);
                } else if kind == "reversed" {
                    x.sort_by(|a, b| b.total_cmp(a));
                }
                x
            };
            let (u, v) = (draw(n), draw(m));
            let (want, want_gu, want_gv) = reference(&f64s(&u), &f64s(&v), None, None).unwrap();
            for t in targets() {
                let label = format!("{n} vs {m} {kind} on {}", t.name);
                let got = run(t, &u, &v, None);
                if !fits(t, n, m) {
                    assert!(matches!(got, Err(LossError::Limit { .. })), "{label}");
                    continue;
                }
                let got = got.unwrap_or_else(|e| panic!("{label}: {e}"));
                // Gaps between samples near ±f32::MAX overflow in float32 (the reference is
                // float64): there the kernel may give inf for a finite distance.
                let overflows = want.abs() > f64::from(f32::MAX) / 4.0 && got.value.is_infinite();
                if want.is_finite() && !overflows {
                    let err = (got.value as f64 - want).abs() / want.abs().max(1e-30);
                    assert!(err <= 1e-5, "{label}: {} vs {want}", got.value);
                } else if !want.is_finite() {
                    assert!(!got.value.is_finite(), "{label}: {} vs {want}", got.value);
                }
                for (name, g, w) in [("u", &got.grad_u, &want_gu), ("v", &got.grad_v, &want_gv)] {
                    let e = normwise_error(g, w);
                    assert!(e <= 2e-6, "{label}: gradient {name} {e:.1e}");
                }
            }
        }
    }
}

/// scipy.stats.wasserstein_distance's documented examples.
#[test]
fn scipy_examples() {
    type Case<'a> = (&'a [f32], &'a [f32], Option<(&'a [f32], &'a [f32])>, f64);
    let cases: [Case; 3] = [
        (&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0], None, 5.0),
        (&[0.0, 1.0], &[0.0, 1.0], None, 0.0),
        (
            &[3.4, 3.9, 7.5, 7.8],
            &[4.5, 1.4],
            Some((&[1.4, 0.9, 3.1, 7.2], &[3.2, 3.5])),
            4.078_133_143_804_786,
        ),
    ];
    for (u, v, w, want) in cases {
        let twin = reference(
            &f64s(u),
            &f64s(v),
            w.map(|w| f64s(w.0)).as_deref(),
            w.map(|w| f64s(w.1)).as_deref(),
        )
        .unwrap()
        .0;
        assert!(
            (twin - want).abs() <= 1e-6 * want.max(1.0),
            "{twin} vs {want}"
        );
        for t in targets() {
            let got = run(t, u, v, w).unwrap().value as f64;
            assert!(
                (got - want).abs() <= 1e-5 * want.max(1.0),
                "{u:?} {v:?}: {got} vs {want} on {}",
                t.name
            );
        }
    }
}

/// The twin's gradient against central differences, on tie-free samples.
#[test]
fn reference_gradient_is_the_derivative() {
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x5a);
    let u: Vec<f64> = (0..37).map(|_| 3.0 * f64::from(normal(&mut rng))).collect();
    let v: Vec<f64> = (0..23)
        .map(|_| 3.0 * f64::from(normal(&mut rng)) + 1.0)
        .collect();
    let uw: Vec<f64> = (0..37).map(|_| rng.random_range(0.2..1.0)).collect();
    let vw: Vec<f64> = (0..23).map(|_| rng.random_range(0.2..1.0)).collect();
    let f = |u: &[f64], v: &[f64]| reference(u, v, Some(&uw), Some(&vw)).unwrap().0;
    let (_, gu, gv) = reference(&u, &v, Some(&uw), Some(&vw)).unwrap();
    let h = 1e-6;
    for k in 0..u.len() {
        let (mut a, mut b) = (u.clone(), u.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (f(&a, &v) - f(&b, &v)) / (2.0 * h);
        assert!((fd - gu[k]).abs() <= 1e-6, "u[{k}]: {fd} vs {}", gu[k]);
    }
    for k in 0..v.len() {
        let (mut a, mut b) = (v.clone(), v.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (f(&u, &a) - f(&u, &b)) / (2.0 * h);
        assert!((fd - gv[k]).abs() <= 1e-6, "v[{k}]: {fd} vs {}", gv[k]);
    }
}

#[test]
fn errors_name_the_tensor() {
    let u = [0.5f32, 1.5, -2.0];
    let v = [1.0f32, 0.0];
    for t in targets() {
        let up = |x: &[f32]| t.ctx.upload(x, &[x.len()]).unwrap();
        let call = |tensors: &[(&str, &Tensor)]| {
            let mut c = t.ctx.loss("wasserstein_1d_samples").unwrap();
            for (name, x) in tensors {
                c = c.tensor(name, x);
            }
            c.value()
        };
        let (ut, vt) = (up(&u), up(&v));
        let empty = t.ctx.zeros(&[0]).unwrap();
        let label = &t.name;
        let e = call(&[("u_values", &empty), ("v_values", &vt)]);
        assert!(
            matches!(
                e,
                Err(LossError::ShapeMismatch {
                    tensor: "u_values",
                    ..
                })
            ),
            "{label}: {e:?}"
        );
        let e = call(&[("u_values", &ut)]);
        assert!(
            matches!(
                e,
                Err(LossError::MissingTensor {
                    tensor: "v_values",
                    ..
                })
            ),
            "{label}: {e:?}"
        );
        let nan = up(&[1.0, f32::NAN]);
        let e = call(&[("u_values", &ut), ("v_values", &nan)]);
        assert!(
            matches!(
                e,
                Err(LossError::NaN {
                    tensor: "v_values",
                    index: 1,
                    ..
                })
            ),
            "{label}: {e:?}"
        );
        let negative = up(&[1.0, -0.5, 2.0]);
        let e = call(&[
            ("u_values", &ut),
            ("v_values", &vt),
            ("u_weights", &negative),
        ]);
        assert!(
            matches!(
                e,
                Err(LossError::OutOfDomain {
                    tensor: "u_weights",
                    index: 1,
                    ..
                })
            ),
            "{label}: {e:?}"
        );
        let zeros = up(&[0.0, 0.0]);
        let e = call(&[("u_values", &ut), ("v_values", &vt), ("v_weights", &zeros)]);
        assert!(
            matches!(
                e,
                Err(LossError::OutOfDomain {
                    tensor: "v_weights",
                    index: 0,
                    ..
                })
            ),
            "{label}: {e:?}"
        );
        let short = up(&[1.0]);
        let e = call(&[("u_values", &ut), ("v_values", &vt), ("v_weights", &short)]);
        assert!(
            matches!(
                e,
                Err(LossError::ShapeMismatch {
                    tensor: "v_weights",
                    ..
                })
            ),
            "{label}: {e:?}"
        );
        let e = t
            .ctx
            .loss("wasserstein_1d_samples")
            .unwrap()
            .tensor("u_values", &ut)
            .tensor("v_values", &vt)
            .reduction(Reduction::BatchMean)
            .value();
        assert!(
            matches!(e, Err(LossError::Reduction { .. })),
            "{label}: {e:?}"
        );
    }
}

/// −0 and +0 are one value on both sides (the GPU compares floats; the twin must not order
/// them), so ties among them sort by position alike and the gradients agree.
#[test]
fn signed_zeros_are_one_value() {
    // By position u's +0 comes first and S steps up then back; ordered by sign v's −0 would
    // come first, S would step down, and both zeros' gradients would change sign.
    let u = [0.0f32, 1.0, -0.0];
    let v = [-0.0f32, 2.0];
    let uw = [1.0f32, 2.0, 0.5];
    let vw = [1.0f32, 1.5];
    let (want, want_gu, want_gv) =
        reference(&f64s(&u), &f64s(&v), Some(&f64s(&uw)), Some(&f64s(&vw))).unwrap();
    for t in targets() {
        let got = run(t, &u, &v, Some((&uw, &vw))).unwrap();
        assert!(
            (got.value as f64 - want).abs() <= 1e-6,
            "{} vs {want}",
            got.value
        );
        assert!(
            normwise_error(&got.grad_u, &want_gu) <= 2e-6,
            "{:?} vs {want_gu:?}",
            got.grad_u
        );
        assert!(
            normwise_error(&got.grad_v, &want_gv) <= 2e-6,
            "{:?} vs {want_gv:?}",
            got.grad_v
        );
    }
}

/// Where F_u − F_v changes sign at a sample, its gradient |S_{e−1}| − |S_e| is a difference of
/// two values near 1/2: a lone v sample just past the median of u has gradient (2a − n)/n, as
/// small as 1/n. It must keep its digits (summed at twice f32's precision, not cancelled in
/// f32), on every adapter and setting.
#[test]
fn a_sign_change_keeps_its_gradient() {
    for n in [257usize, 1023, 4095, 8191] {
        let u: Vec<f32> = (0..n).map(|i| i as f32).collect();
        // a = (n + 1) / 2 samples of u below v: the smallest gradient there is, 1/n.
        let v = [(n / 2) as f32 + 0.5];
        let (_, want_gu, want_gv) = reference(&f64s(&u), &f64s(&v), None, None).unwrap();
        assert!(
            (want_gv[0] - 1.0 / n as f64).abs() < 1e-12,
            "{}",
            want_gv[0]
        );
        for t in targets() {
            let label = format!("{n} vs 1 on {}", t.name);
            if !fits(t, n, 1) {
                continue;
            }
            let got = run(t, &u, &v, None).unwrap_or_else(|e| panic!("{label}: {e}"));
            for (name, g, w) in [("u", &got.grad_u, &want_gu), ("v", &got.grad_v, &want_gv)] {
                let e = normwise_error(g, w);
                assert!(e <= 2e-6, "{label}: gradient {name} {e:.1e}");
            }
        }
    }
}
