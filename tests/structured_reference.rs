//! The float64 twins of sections D, E and F (cpu::structured, and the objectives composed in
//! cpu::named) against central finite differences, every option, on small random inputs; and
//! their errors. (Their values against PyTorch, Keras and SciPy are the conformance cases:
//! `run_cases.py BINARY --backend cpu`.) No GPU here.

use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::cpu::structured;
use gpu_loss::npy::{Array, Values};
use gpu_loss::{LossError, ParamValue, Reduction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const H: f64 = 1e-6;

/// max |analytic − central difference| / max(1, max |analytic|).
fn fd_error(x: &[f64], analytic: &[f64], f: impl Fn(&[f64]) -> f64) -> f64 {
    let mut worst = 0f64;
    let scale = analytic.iter().fold(1f64, |m, v| m.max(v.abs()));
    let mut y = x.to_vec();
    for i in 0..x.len() {
        y[i] = x[i] + H;
        let up = f(&y);
        y[i] = x[i] - H;
        let down = f(&y);
        y[i] = x[i];
        worst = worst.max(((up - down) / (2.0 * H) - analytic[i]).abs());
    }
    worst / scale
}

fn random(n: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
}

#[test]
fn total_variation_gradients() {
    let mut rng = StdRng::seed_from_u64(1);
    let shape = [2, 4, 5];
    let x = random(40, &mut rng);
    for power in [1.0, 2.0, 1.5] {
        for reduction in [Reduction::Sum, Reduction::Mean] {
            let r = structured::total_variation(&x, &shape, power, reduction).unwrap();
            let value = |y: &[f64]| {
                structured::total_variation(y, &shape, power, reduction)
                    .unwrap()
                    .value
                    .unwrap()
            };
            let err = fd_error(&x, &r.grads[0], value);
            assert!(err < 1e-6, "p={power} {reduction}: {err:.1e}");
        }
    }
    // The definition on a 2x2 image: |2-1| + |3-1| + |5-3| + |5-2|.
    let r =
        structured::total_variation(&[1.0, 2.0, 3.0, 5.0], &[2, 2], 1.0, Reduction::None).unwrap();
    assert_eq!(r.rows.unwrap(), vec![3.0, 3.0, 2.0, 0.0]);
}

#[test]
fn wasserstein_1d_gradients() {
    let mut rng = StdRng::seed_from_u64(2);
    let (n, c) = (3, 6);
    let u: Vec<f64> = (0..n * c).map(|_| rng.random_range(0.1..1.0)).collect();
    let v: Vec<f64> = (0..n * c).map(|_| rng.random_range(0.1..1.0)).collect();
    for dx in [1.0, 0.25] {
        for reduction in [Reduction::Sum, Reduction::Mean] {
            let r = structured::wasserstein_1d(&u, &v, c, dx, reduction).unwrap();
            let of_u = |y: &[f64]| {
                structured::wasserstein_1d(y, &v, c, dx, reduction)
                    .unwrap()
                    .value
                    .unwrap()
            };
            let of_v = |y: &[f64]| {
                structured::wasserstein_1d(&u, y, c, dx, reduction)
                    .unwrap()
                    .value
                    .unwrap()
            };
            assert!(
                fd_error(&u, &r.grads[0], of_u) < 1e-6,
                "u dx={dx} {reduction}"
            );
            assert!(
                fd_error(&v, &r.grads[1], of_v) < 1e-6,
                "v dx={dx} {reduction}"
            );
        }
    }
    // A point mass moved by two bins costs 2·dx.
    let r = structured::wasserstein_1d(&[1.0, 0.0, 0.0], &[0.0, 0.0, 3.0], 3, 0.5, Reduction::Sum)
        .unwrap();
    assert!((r.value.unwrap() - 1.0).abs() < 1e-15);
    // Not distributions: a zero row, a negative weight.
    assert!(matches!(
        structured::wasserstein_1d(&[0.0, 0.0], &[1.0, 1.0], 2, 1.0, Reduction::Sum),
        Err(LossError::OutOfDomain { index: 0, .. })
    ));
    assert!(matches!(
        structured::wasserstein_1d(&[1.0, -1.0], &[1.0, 1.0], 2, 1.0, Reduction::Sum),
        Err(LossError::OutOfDomain {
            tensor: "u",
            index: 1,
            ..
        })
    ));
}

#[test]
fn gram_and_style_gradients() {
    let mut rng = StdRng::seed_from_u64(3);
    for shape in [vec![3usize, 7], vec![2, 3, 5]] {
        let n: usize = shape.iter().product();
        let (f, s) = (random(n, &mut rng), random(n, &mut rng));
        for reduction in [Reduction::Sum, Reduction::Mean] {
            let r = structured::style_loss(&f, &s, &shape, reduction).unwrap();
            let value = |y: &[f64]| {
                structured::style_loss(y, &s, &shape, reduction)
                    .unwrap()
                    .value
                    .unwrap()
            };
            assert!(fd_error(&f, &r.grads[0], value) < 1e-6, "style {shape:?}");
            let g = structured::gram_loss(&f, &shape, reduction).unwrap();
            let value = |y: &[f64]| {
                structured::gram_loss(y, &shape, reduction)
                    .unwrap()
                    .value
                    .unwrap()
            };
            assert!(fd_error(&f, &g.grads[0], value) < 1e-6, "gram {shape:?}");
        }
    }
    // G = F·Fᵀ / (C·M) by hand: F = [[1, 2], [3, 4]].
    let g = structured::gram(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    assert_eq!(g, vec![5.0 / 4.0, 11.0 / 4.0, 11.0 / 4.0, 25.0 / 4.0]);
}

fn array(shape: &[usize], v: Vec<f64>) -> Array {
    Array {
        shape: shape.to_vec(),
        values: Values::Float(v),
        dtype: "<f8".into(),
    }
}

/// Every objective, every kind, logits and probabilities: its gradients (composed from the
/// terms) against central differences of its value.
#[test]
fn objective_gradients() {
    let mut rng = StdRng::seed_from_u64(4);
    let kinds_d = ["standard", "lsgan", "wgan", "hinge"];
    let kinds_g = ["non_saturating", "minimax", "lsgan", "wgan", "hinge"];
    let cases: [(&str, &str, &[&str]); 6] = [
        ("gan_discriminator", "kind", &kinds_d),
        ("gan_generator", "kind", &kinds_g),
        ("pix2pix_generator", "gan", &kinds_g),
        ("cyclegan_generator", "gan", &kinds_g),
        ("stargan_generator", "gan", &kinds_g),
        ("stargan_discriminator", "kind", &kinds_d),
    ];
    for (name, kind_param, kinds) in cases {
        let objective = gpu_loss::catalogue::OBJECTIVES
            .iter()
            .find(|o| o.name == name)
            .unwrap();
        for kind in kinds {
            for from_logits in [true, false] {
                let mut tensors: Vec<(String, Array)> = objective
                    .tensors
                    .iter()
                    .map(|spec| {
                        let t = spec.name;
                        let a = match t {
                            "target_domain" | "original_domain" => Array {
                                shape: vec![3],
                                values: Values::Int(vec![0, 2, 1]),
                                dtype: "<i8".into(),
                            },
                            "fake_cls" | "real_cls" => array(&[3, 4], random(12, &mut rng)),
                            // Discriminator outputs: probabilities away from 0 and 1, or
                            // logits away from hinge kinks (|x| ≠ 1).
                            t if t.contains("fake") || t.contains("real") => {
                                let v = (0..5)
                                    .map(|_| {
                                        if from_logits {
                                            rng.random_range(1.2..2.5)
                                                * if rng.random::<bool>() { 1.0 } else { -1.0 }
                                        } else {
                                            rng.random_range(0.1..0.9)
                                        }
                                    })
                                    .collect();
                                array(&[5], v)
                            }
                            _ => array(&[2, 3], random(6, &mut rng)),
                        };
                        (t.to_string(), a)
                    })
                    .collect();
                let params = vec![
                    (kind_param.to_string(), ParamValue::Word(kind.to_string())),
                    ("from_logits".to_string(), ParamValue::Bool(from_logits)),
                ];
                let r = evaluate_named(name, &tensors, &params, Reduction::Mean).unwrap();
                let total: f64 = r.terms.iter().map(|t| t.1).sum();
                assert!(
                    (total - r.value.unwrap()).abs() < 1e-12,
                    "{name}: terms add up"
                );
                for (grad_name, grad) in &r.grads {
                    let at = tensors.iter().position(|(n, _)| n == grad_name).unwrap();
                    let x = tensors[at].1.floats();
                    let value = |y: &[f64]| {
                        let mut t = tensors.clone();
                        t[at].1 = array(&tensors[at].1.shape, y.to_vec());
                        evaluate_named(name, &t, &params, Reduction::Mean)
                            .unwrap()
                            .value
                            .unwrap()
                    };
                    let err = fd_error(&x, grad, value);
                    assert!(
                        err < 1e-6,
                        "{name} {kind} logits={from_logits} d/d {grad_name}: {err:.1e}"
                    );
                }
                tensors.clear();
            }
        }
    }
}
