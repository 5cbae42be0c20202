//! Section E's objectives on every adapter and launch profile, against their float64 twin
//! (src/cpu/named.rs composes the same terms from the CPU reference): every kind, logits and
//! probabilities, discriminator outputs of different sizes; the per-term breakdown, every
//! gradient, and errors named in the objective's words.

mod common;

use common::{normwise_error, seed, targets};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::sample::normal;
use gpu_loss::{LossError, ParamValue, Reduction, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A named tensor for both sides: float values (or labels) and a shape.
struct Named {
    name: &'static str,
    shape: Vec<usize>,
    values: Values,
}

fn floats(name: &'static str, shape: &[usize], rng: &mut StdRng, probs: bool) -> Named {
    let n = shape.iter().product();
    let v = (0..n)
        .map(|_| {
            if probs {
                rng.random_range(0.01..0.99)
            } else {
                2.0 * normal(rng) as f64
            }
        })
        .map(|x: f64| x as f32 as f64)
        .collect();
    Named {
        name,
        shape: shape.to_vec(),
        values: Values::Float(v),
    }
}

fn labels(name: &'static str, n: usize, classes: usize, rng: &mut StdRng) -> Named {
    Named {
        name,
        shape: vec![n],
        values: Values::Int(
            (0..n)
                .map(|_| rng.random_range(0..classes as i64))
                .collect(),
        ),
    }
}

/// The tensors of one objective: discriminator outputs `d` long (of `probs` or logits),
/// images of shape `image`, class logits [n, classes].
fn tensors(objective: &str, d: [usize; 2], probs: bool, rng: &mut StdRng) -> Vec<Named> {
    let image = [2, 3, 5, 7];
    let (n, classes) = (4, 5);
    match objective {
        "gan_discriminator" => vec![
            floats("real", &[d[0]], rng, probs),
            floats("fake", &[d[1]], rng, probs),
        ],
        "gan_generator" => vec![floats("fake", &[d[1]], rng, probs)],
        "pix2pix_generator" => vec![
            floats("fake", &[d[1]], rng, probs),
            floats("generated", &image, rng, false),
            floats("target", &image, rng, false),
        ],
        "cyclegan_generator" => {
            let mut t: Vec<Named> = ["x", "y", "x_cycled", "y_cycled", "x_identity", "y_identity"]
                .into_iter()
                .map(|name| floats(name, &image, rng, false))
                .collect();
            t.push(floats("d_y_fake", &[d[0]], rng, probs));
            t.push(floats("d_x_fake", &[d[1]], rng, probs));
            t
        }
        "stargan_generator" => vec![
            floats("fake_src", &[d[1]], rng, probs),
            floats("fake_cls", &[n, classes], rng, false),
            labels("target_domain", n, classes, rng),
            floats("x", &image, rng, false),
            floats("x_reconstructed", &image, rng, false),
        ],
        _ => vec![
            floats("real_src", &[d[0]], rng, probs),
            floats("fake_src", &[d[1]], rng, probs),
            floats("real_cls", &[n, classes], rng, false),
            labels("original_domain", n, classes, rng),
        ],
    }
}

fn upload(t: &common::Target, named: &Named) -> Tensor {
    match &named.values {
        Values::Float(v) => {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            t.ctx.upload(&v, &named.shape).unwrap()
        }
        Values::Int(v) => t.ctx.upload_i64(v, &named.shape).unwrap(),
    }
}

#[test]
fn objectives_match_their_float64_twin() {
    let discriminator = ["standard", "lsgan", "wgan", "hinge"];
    let generator = ["non_saturating", "minimax", "lsgan", "wgan", "hinge"];
    // (objective, its kind parameter, the kinds)
    let cases: [(&str, &str, &[&str]); 6] = [
        ("gan_discriminator", "kind", &discriminator),
        ("gan_generator", "kind", &generator),
        ("pix2pix_generator", "gan", &generator),
        ("cyclegan_generator", "gan", &generator),
        ("stargan_generator", "gan", &generator),
        ("stargan_discriminator", "kind", &discriminator),
    ];
    let sizes = [[1usize, 3], [257, 100], [4099, 255]];
    let base = seed();
    for (objective, kind_param, kinds) in cases {
        for (k, kind) in kinds.iter().enumerate() {
            for from_logits in [true, false] {
                for (s, &d) in sizes.iter().enumerate() {
                    let mut rng = StdRng::seed_from_u64(base + (100 * k + 10 * s) as u64);
                    let named = tensors(objective, d, !from_logits, &mut rng);
                    let mut params = vec![
                        (kind_param.to_string(), ParamValue::Word(kind.to_string())),
                        ("from_logits".to_string(), ParamValue::Bool(from_logits)),
                    ];
                    if objective == "pix2pix_generator" {
                        params.push(("lambda".into(), ParamValue::Number(7.5)));
                    }
                    let arrays: Vec<(String, Array)> = named
                        .iter()
                        .map(|t| {
                            let array = Array {
                                shape: t.shape.clone(),
                                values: t.values.clone(),
                                dtype: String::new(),
                            };
                            (t.name.to_string(), array)
                        })
                        .collect();
                    let want = evaluate_named(objective, &arrays, &params, Reduction::Mean)
                        .unwrap_or_else(|e| panic!("{objective} {kind}: reference: {e}"));
                    for t in targets() {
                        let label = format!(
                            "{objective} {kind} logits={from_logits} sizes {d:?} on {}",
                            t.name
                        );
                        let uploaded: Vec<Tensor> = named.iter().map(|n| upload(t, n)).collect();
                        let mut call = t.ctx.loss(objective).unwrap().with_grad();
                        for (n, x) in named.iter().zip(&uploaded) {
                            call = call.tensor(n.name, x);
                        }
                        for (k, v) in &params {
                            call = call.param(k, v.clone());
                        }
                        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
                        // Each term to the reference; the total to their sum.
                        let scale: f64 = want.terms.iter().map(|(_, v)| v.abs()).sum();
                        let got = out.value.unwrap() as f64;
                        let w = want.value.unwrap();
                        assert!(
                            (got - w).abs() <= 1e-5 * scale.max(1e-30),
                            "{label}: total {got} vs {w}"
                        );
                        assert_eq!(out.terms.len(), want.terms.len(), "{label}");
                        for ((name, g), (wname, w)) in out.terms.iter().zip(&want.terms) {
                            assert_eq!(name, wname, "{label}");
                            let err = (*g as f64 - w).abs() / w.abs().max(1e-30);
                            assert!(err <= 1e-5, "{label}: term {name} {g} vs {w} ({err:.1e})");
                        }
                        let mut grads = vec![(want.grads[0].0, out.grad.as_ref().unwrap())];
                        grads.extend(out.other_grads.iter().map(|(n, g)| (*n, g)));
                        let names: Vec<&str> = grads.iter().map(|g| g.0).collect();
                        let want_names: Vec<&str> = want.grads.iter().map(|g| g.0).collect();
                        assert_eq!(names, want_names, "{label}");
                        for ((name, got), (_, want)) in grads.into_iter().zip(&want.grads) {
                            let got = t.ctx.download(got).unwrap();
                            let err = normwise_error(&got, want);
                            assert!(err <= 2e-6, "{label}: gradient {name}: {err:.2e}");
                        }
                    }
                }
            }
        }
    }
}

/// The discriminator's worked example of LOSSES.md: D(x) = 0.9, D(G(z)) = 0.1 as
/// probabilities gives 0.1053605 (−½(log 0.9 + log 0.9)).
#[test]
fn discriminator_worked_example() {
    for t in targets() {
        let real = t.ctx.upload(&[0.9], &[1]).unwrap();
        let fake = t.ctx.upload(&[0.1], &[1]).unwrap();
        let v = t
            .ctx
            .loss("gan_discriminator")
            .unwrap()
            .tensor("real", &real)
            .tensor("fake", &fake)
            .param("from_logits", false)
            .value()
            .unwrap();
        assert!((v as f64 - 0.1053605).abs() < 2e-7, "{v} on {}", t.name);
    }
}

#[test]
fn objective_errors_name_the_objective_and_its_tensor() {
    for t in targets() {
        let ctx = &t.ctx;
        let real = ctx.upload(&[0.5, f32::NAN, 0.2], &[3]).unwrap();
        let fake = ctx.upload(&[0.5, 0.3], &[2]).unwrap();
        let run = |kind: &str, real: &Tensor| {
            ctx.loss("gan_discriminator")
                .unwrap()
                .tensor("real", real)
                .tensor("fake", &fake)
                .param("kind", kind)
                .value()
        };
        match run("lsgan", &real) {
            Err(LossError::NaN {
                loss: "gan_discriminator",
                tensor: "real",
                index: 1,
            }) => {}
            other => panic!("{other:?} on {}", t.name),
        }
        let good = ctx.upload(&[0.5, 0.1, 0.2], &[3]).unwrap();
        assert!(matches!(
            run("wasserstein", &good),
            Err(LossError::InvalidParam { name: "kind", .. })
        ));
        // Probabilities outside [0, 1] with from_logits = false.
        let outside = ctx.upload(&[0.5, 1.5, 0.2], &[3]).unwrap();
        let e = ctx
            .loss("gan_discriminator")
            .unwrap()
            .tensor("real", &outside)
            .tensor("fake", &fake)
            .param("from_logits", false)
            .value();
        assert!(
            matches!(
                e,
                Err(LossError::OutOfDomain {
                    tensor: "real",
                    index: 1,
                    ..
                })
            ),
            "{e:?}"
        );
        let missing = ctx
            .loss("gan_discriminator")
            .unwrap()
            .tensor("real", &good)
            .value();
        assert!(matches!(
            missing,
            Err(LossError::MissingTensor { tensor: "fake", .. })
        ));
        let sum = ctx
            .loss("gan_generator")
            .unwrap()
            .tensor("fake", &fake)
            .reduction(Reduction::Sum)
            .value();
        assert!(matches!(sum, Err(LossError::Reduction { .. })), "{sum:?}");
        // Labels out of range in StarGAN's classification term.
        let src = ctx.upload(&[0.1, -0.3], &[2]).unwrap();
        let cls = ctx
            .upload(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3])
            .unwrap();
        let domain = ctx.upload_i64(&[0, 3], &[2]).unwrap();
        let e = ctx
            .loss("stargan_discriminator")
            .unwrap()
            .tensor("real_src", &src)
            .tensor("fake_src", &src)
            .tensor("real_cls", &cls)
            .tensor("original_domain", &domain)
            .value();
        assert!(
            matches!(
                e,
                Err(LossError::LabelOutOfRange {
                    loss: "stargan_discriminator",
                    row: 1,
                    label: 3,
                    ..
                })
            ),
            "{e:?}"
        );
    }
}

/// The GPU-resident form: an objective recorded into the caller's encoder, nothing read back
/// until the caller asks. Its terms and gradients are the blocking call's, bit for bit; its
/// total (summed on the GPU) agrees with float64; `check` reports bad data in the objective's
/// words.
#[test]
fn recorded_objectives_match_the_blocking_call() {
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x7ec);
    for (objective, kind_param, kind) in [
        ("cyclegan_generator", "gan", "lsgan"),
        ("stargan_discriminator", "kind", "hinge"),
        ("pix2pix_generator", "gan", "non_saturating"),
    ] {
        let named = tensors(objective, [257, 100], false, &mut rng);
        let arrays: Vec<(String, Array)> = named
            .iter()
            .map(|t| {
                let array = Array {
                    shape: t.shape.clone(),
                    values: t.values.clone(),
                    dtype: String::new(),
                };
                (t.name.to_string(), array)
            })
            .collect();
        let params = vec![(kind_param.to_string(), ParamValue::Word(kind.to_string()))];
        let want = evaluate_named(objective, &arrays, &params, Reduction::Mean).unwrap();
        let scale: f64 = want.terms.iter().map(|(_, v)| v.abs()).sum();
        for t in targets() {
            let label = format!("{objective} on {}", t.name);
            let uploaded: Vec<Tensor> = named.iter().map(|n| upload(t, n)).collect();
            let call = || {
                let mut c = t.ctx.loss(objective).unwrap().with_grad();
                for (n, x) in named.iter().zip(&uploaded) {
                    c = c.tensor(n.name, x);
                }
                c.param(kind_param, kind)
            };
            let blocking = call().run().unwrap_or_else(|e| panic!("{label}: {e}"));
            let mut enc = t.ctx.device().create_command_encoder(&Default::default());
            let rec = call()
                .record(&mut enc)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            t.ctx.queue().submit([enc.finish()]);
            rec.check().unwrap_or_else(|e| panic!("{label}: {e}"));
            let total = t.ctx.download(&rec.value).unwrap()[0] as f64;
            let w = want.value.unwrap();
            assert!((total - w).abs() <= 1e-5 * scale, "{label}: {total} vs {w}");
            assert_eq!(rec.terms.len(), blocking.terms.len(), "{label}");
            for ((name, slot), (bname, b)) in rec.terms.iter().zip(&blocking.terms) {
                assert_eq!(name, bname, "{label}");
                let v = t.ctx.download(slot).unwrap()[0];
                assert_eq!(v.to_bits(), b.to_bits(), "{label}: term {name}");
            }
            let grads = |first: &Option<Tensor>, others: &[(&str, Tensor)]| {
                let mut all = vec![t.ctx.download(first.as_ref().unwrap()).unwrap()];
                all.extend(others.iter().map(|(_, g)| t.ctx.download(g).unwrap()));
                all
            };
            assert_eq!(
                grads(&rec.grad, &rec.other_grads),
                grads(&blocking.grad, &blocking.other_grads),
                "{label}: gradients"
            );
        }
    }
    // Bad data, found when the caller checks.
    for t in targets() {
        let real = t.ctx.upload(&[0.5, f32::NAN, 0.2], &[3]).unwrap();
        let fake = t.ctx.upload(&[0.5, 0.3], &[2]).unwrap();
        let mut enc = t.ctx.device().create_command_encoder(&Default::default());
        let rec = t
            .ctx
            .loss("gan_discriminator")
            .unwrap()
            .tensor("real", &real)
            .tensor("fake", &fake)
            .record(&mut enc)
            .unwrap();
        t.ctx.queue().submit([enc.finish()]);
        let e = rec.check();
        assert!(
            matches!(
                e,
                Err(LossError::NaN {
                    loss: "gan_discriminator",
                    tensor: "real",
                    index: 1
                })
            ),
            "{e:?} on {}",
            t.name
        );
    }
}
