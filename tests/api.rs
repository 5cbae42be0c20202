//! The host layer's promises, on every adapter: typed errors for bad input (never a panic or a
//! silently wrong number), LOSSES.md's edge conventions and worked examples on the GPU,
//! determinism, a caller's own device and buffers, the recorded (no readback) path, inputs
//! larger than one storage binding, and a steady stream of calls that compiles and allocates
//! nothing new.

mod common;

use common::{defaults, normwise_error, seed, targets};
use gpu_loss::cpu;
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::sample::{normal, sample, AuxForm};
use gpu_loss::{GpuContext, LossError, Reduction, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| normal(&mut rng)).collect()
}

fn value(ctx: &GpuContext, loss: &str, x: &[f32], y: &[f32]) -> gpu_loss::Result<f32> {
    let a = ctx.upload(x, &[x.len()])?;
    let b = ctx.upload(y, &[y.len()])?;
    ctx.loss(loss)?.input(&a).target(&b).value()
}

fn elements(ctx: &GpuContext, loss: &str, x: &[f32], y: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let a = ctx.upload(x, &[x.len()]).unwrap();
    let b = ctx.upload(y, &[y.len()]).unwrap();
    let out = ctx
        .loss(loss)
        .unwrap()
        .input(&a)
        .target(&b)
        .reduction(Reduction::None)
        .with_grad()
        .run()
        .unwrap();
    (
        ctx.download(&out.elements.unwrap()).unwrap(),
        ctx.download(&out.grad.unwrap()).unwrap(),
    )
}

#[test]
fn worked_examples_of_losses_md() {
    for t in targets() {
        let ctx = &t.ctx;
        let close = |got: f32, want: f64, digits: f64| {
            assert!(
                (got as f64 - want).abs() <= 0.5 * 10f64.powf(-digits) + 1e-6 * want.abs(),
                "{got} vs {want} on {}",
                t.name
            )
        };
        close(value(ctx, "mse", &[6.1], &[6.3]).unwrap(), 0.04, 6.0);
        close(value(ctx, "mae", &[6.1], &[6.3]).unwrap(), 0.2, 6.0);
        close(value(ctx, "l1", &[6.1], &[6.3]).unwrap(), 0.2, 6.0);
        close(value(ctx, "huber", &[6.1], &[6.3]).unwrap(), 0.02, 6.0);
        close(value(ctx, "bce", &[0.8], &[1.0]).unwrap(), 0.2231436, 7.0);
        // focal with p_t = 0.9 (logit ln 9, label 1), α_t = 0.25, γ = 2
        close(
            value(ctx, "focal", &[9f32.ln()], &[1.0]).unwrap(),
            0.0002634,
            7.0,
        );
    }
}

#[test]
fn edge_conventions_of_losses_md() {
    for t in targets() {
        let ctx = &t.ctx;
        // bce: log clamped at -100 at both ends; the gradient stays finite.
        let (v, g) = elements(ctx, "bce", &[0.0, 1.0, 0.0, 1.0], &[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(v, vec![100.0, 100.0, 0.0, 0.0], "{}", t.name);
        assert!(g.iter().all(|g| g.is_finite()), "{g:?} on {}", t.name);
        assert_eq!(g[0], -1e12, "{}", t.name);
        // bce_with_logits at ±100: finite, and exact.
        let (v, g) = elements(
            ctx,
            "bce_with_logits",
            &[100.0, -100.0, 100.0, -100.0, 100.0],
            &[0.0, 1.0, 1.0, 0.0, 0.5],
        );
        assert!(v.iter().chain(&g).all(|v| v.is_finite()), "{v:?} {g:?}");
        assert_eq!(&v[..2], &[100.0, 100.0], "{}", t.name);
        assert!(v[2] < 1e-30 && v[3] < 1e-30, "{v:?}");
        assert!((v[4] - 50.0).abs() < 1e-4, "{v:?}");
        assert_eq!(&g[..2], &[1.0, -1.0], "{}", t.name);
        // huber and smooth_l1 at the switch point |e| = delta (beta): both branches agree.
        let (v, g) = elements(ctx, "huber", &[1.0, -1.0, 0.5], &[0.0, 0.0, 0.0]);
        assert_eq!(v, vec![0.5, 0.5, 0.125]);
        assert_eq!(g, vec![1.0, -1.0, 0.5]);
        let (v, g) = elements(ctx, "smooth_l1", &[1.0, -1.0, 0.5], &[0.0, 0.0, 0.0]);
        assert_eq!(v, vec![0.5, 0.5, 0.125]);
        assert_eq!(g, vec![1.0, -1.0, 0.5]);
        // smooth_l1 with beta = 0 is L1, value and gradient (0 at e = 0).
        let x = random(1001, seed());
        let mut y = random(1001, seed() + 1);
        y[7] = x[7];
        let a = ctx.upload(&x, &[x.len()]).unwrap();
        let b = ctx.upload(&y, &[y.len()]).unwrap();
        let run = |loss: &str, beta: Option<f32>| {
            let mut c = ctx.loss(loss).unwrap().input(&a).target(&b).with_grad();
            if let Some(beta) = beta {
                c = c.param("beta", beta);
            }
            let out = c.run().unwrap();
            (
                out.value.unwrap(),
                ctx.download(&out.grad.unwrap()).unwrap(),
            )
        };
        let (l1, l1_grad) = run("mae", None);
        let (sl1, sl1_grad) = run("smooth_l1", Some(0.0));
        assert_eq!(l1, sl1, "{}", t.name);
        assert_eq!(l1_grad, sl1_grad, "{}", t.name);
        assert_eq!(l1_grad[7], 0.0);
        // hinge reads {0, 1} labels as {-1, 1}.
        let (v01, _) = elements(ctx, "hinge", &[0.3, -2.0], &[0.0, 1.0]);
        let (vpm, _) = elements(ctx, "hinge", &[0.3, -2.0], &[-1.0, 1.0]);
        assert_eq!(v01, vpm);
    }
}

/// msle's log((1+x)/(1+y)) where x and y are close (the two logs cancel) and where they are
/// far apart (the ratio's logarithm is large): each element to a few ulps of float64.
#[test]
fn msle_keeps_its_relative_accuracy_where_the_logs_cancel() {
    let mut rng = StdRng::seed_from_u64(seed());
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..4099 {
        let a = normal(&mut rng).abs() * 10f32.powi(i % 7 - 3);
        let b = match i % 3 {
            0 => a * (1.0 + 1e-3 * normal(&mut rng)),
            1 => a + 1e-4 * normal(&mut rng),
            _ => 1e6 * (1.0 + normal(&mut rng).abs()),
        };
        x.push(a);
        y.push(b.max(0.0));
    }
    for t in targets() {
        let (v, g) = elements(&t.ctx, "msle", &x, &y);
        for i in 0..x.len() {
            let (want, want_grad) = cpu::elementwise::msle(x[i] as f64, y[i] as f64, 0.0, &[]);
            for (what, got, want) in [("value", v[i], want), ("grad", g[i], want_grad)] {
                let err = (got as f64 - want).abs() / want.abs().max(1e-30);
                assert!(
                    err < 4e-6,
                    "msle {what}[{i}] x={} y={}: {got} vs {want} ({err:.1e}) on {}",
                    x[i],
                    y[i],
                    t.name
                );
            }
        }
    }
}

/// Signed sums that cancel: pairs of ±1e6 around O(1) noise. An uncompensated f32 sum drifts
/// by ~0.06 per addition against a total of ~sqrt(n), and ends several times off; the
/// compensated sum stays within 1e-4 of that typical total (typically 1e-7: its error term is
/// itself an f32 sum, rounded at 2^-24 of partials up to 1e11, so one run in ten reaches ~1e-5).
/// Judged against sqrt(n) too, not the total alone, which now and then cancels to near 0 (0.25
/// for n = 262147 on one seed). This also catches a driver folding TwoSum's error term to 0
/// (Mesa's does, unless reduce.wgsl's opaque zero hides the algebra from it).
#[test]
fn signed_sums_are_compensated() {
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x5eed);
    for n in [4099usize, 262_147] {
        let mut x: Vec<f32> = (0..n).map(|_| normal(&mut rng)).collect();
        for i in 0..n / 2 {
            let big = 1e6 * (1.0 + normal(&mut rng).abs());
            x[i] += big;
            x[n - 1 - i] -= big;
        }
        // The wgan generator's loss is -mean(fake): a plain signed mean.
        let want = -x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        for t in targets() {
            let fake = t.ctx.upload(&x, &[n]).unwrap();
            let got = t
                .ctx
                .loss("gan_generator")
                .unwrap()
                .tensor("fake", &fake)
                .param("kind", "wgan")
                .value()
                .unwrap() as f64;
            let typical = (n as f64).sqrt() / n as f64;
            let err = (got - want).abs() / want.abs().max(typical);
            assert!(
                err <= 1e-4,
                "n={n}: {got} vs {want} ({err:.1e}) on {}",
                t.name
            );
        }
    }
}

#[test]
fn empty_input_mean_is_nan_sum_is_zero() {
    for t in targets() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[], &[0]).unwrap();
        let y = ctx.upload(&[], &[0]).unwrap();
        let mean = ctx
            .loss("mse")
            .unwrap()
            .input(&x)
            .target(&y)
            .value()
            .unwrap();
        assert!(mean.is_nan(), "{}", t.name);
        let sum = ctx
            .loss("huber")
            .unwrap()
            .input(&x)
            .target(&y)
            .reduction(Reduction::Sum)
            .value()
            .unwrap();
        assert_eq!(sum, 0.0);
        let out = ctx
            .loss("bce_with_logits")
            .unwrap()
            .input(&x)
            .target(&y)
            .reduction(Reduction::None)
            .with_grad()
            .run()
            .unwrap();
        assert_eq!(out.value, None);
        assert!(out.elements.unwrap().is_empty());
        assert!(ctx.download(&out.grad.unwrap()).unwrap().is_empty());
    }
}

/// Bad data is found on the GPU and reported with the first offending index, also when the
/// tensor is split across dispatches (the small-binding targets) and in the scalar tail.
#[test]
fn bad_values_are_errors_naming_the_first_index() {
    let n = 4099;
    for t in targets() {
        let ctx = &t.ctx;
        let up = |v: &[f32]| ctx.upload(v, &[v.len()]).unwrap();
        let probs: Vec<f32> = (0..n).map(|i| (i % 97) as f32 / 97.0).collect();
        let labels: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();

        let mut bad = probs.clone();
        bad[3001] = 1.5;
        bad[2000] = -0.25;
        let e = ctx
            .loss("bce")
            .unwrap()
            .input(&up(&bad))
            .target(&up(&labels))
            .value()
            .unwrap_err();
        assert_eq!(
            e,
            LossError::OutOfDomain {
                loss: "bce",
                tensor: "input",
                index: 2000,
                domain: "[0, 1]"
            },
            "{}",
            t.name
        );
        assert!(e.to_string().contains("input[2000]"), "{e}");

        for at in [0, 2050, n - 1] {
            let mut x = probs.clone();
            x[at] = f32::NAN;
            let e = ctx
                .loss("mse")
                .unwrap()
                .input(&up(&x))
                .target(&up(&labels))
                .value()
                .unwrap_err();
            assert!(
                matches!(e, LossError::NaN { tensor: "input", index, .. } if index == at as u64),
                "{e} on {}",
                t.name
            );
            let mut w = vec![1.0; n];
            w[at] = f32::NAN;
            let e = ctx
                .loss("huber")
                .unwrap()
                .input(&up(&probs))
                .target(&up(&labels))
                .weight(&up(&w))
                .with_grad()
                .run()
                .unwrap_err();
            assert!(
                matches!(e, LossError::NaN { tensor: "weight", index, .. } if index == at as u64),
                "{e} on {}",
                t.name
            );
            let mut y = labels.clone();
            y[at] = f32::NAN;
            let e = ctx
                .loss("soft_margin")
                .unwrap()
                .input(&up(&probs))
                .target(&up(&y))
                .reduction(Reduction::None)
                .run()
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    LossError::NaN {
                        tensor: "target",
                        ..
                    }
                ),
                "{e}"
            );
        }

        // gaussian_nll: var must be finite and >= 0; with a per-row var the index is var's own.
        let shape = [n / 11, 11];
        let m = shape[0] * shape[1];
        let x = ctx.upload(&probs[..m], &shape).unwrap();
        let y = ctx.upload(&labels[..m], &shape).unwrap();
        let var_error = |var: &[f32]| {
            let v = ctx.upload(var, &[shape[0], 1]).unwrap();
            ctx.loss("gaussian_nll")
                .unwrap()
                .input(&x)
                .target(&y)
                .tensor("var", &v)
                .value()
                .unwrap_err()
        };
        let mut var = vec![0.5f32; shape[0]];
        var[300] = -1.0;
        var[301] = f32::NAN;
        let e = var_error(&var);
        let nan = LossError::NaN {
            loss: "gaussian_nll",
            tensor: "var",
            index: 301,
        };
        assert_eq!(e, nan, "{}", t.name);
        var[301] = 0.5;
        let e = var_error(&var);
        assert!(
            matches!(
                e,
                LossError::OutOfDomain {
                    tensor: "var",
                    index: 300,
                    ..
                }
            ),
            "{e} on {}",
            t.name
        );
    }
}

#[test]
fn bad_calls_are_typed_errors() {
    for t in defaults() {
        let ctx = &t.ctx;
        let a = ctx.upload(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let b = ctx.upload(&[1.0, 2.0, 3.0, 4.0], &[4]).unwrap();
        let c = ctx.upload(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();

        assert!(matches!(ctx.loss("msee"), Err(LossError::UnknownLoss(_))));
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&b)
            .value()
            .unwrap_err();
        assert!(
            matches!(
                e,
                LossError::ShapeMismatch {
                    tensor: "target",
                    ..
                }
            ),
            "{e}"
        );
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .weight(&b)
            .value()
            .unwrap_err();
        assert!(
            matches!(
                e,
                LossError::ShapeMismatch {
                    tensor: "weight",
                    ..
                }
            ),
            "{e}"
        );
        let e = ctx.loss("mse").unwrap().input(&a).value().unwrap_err();
        assert!(
            matches!(
                e,
                LossError::MissingTensor {
                    tensor: "target",
                    ..
                }
            ),
            "{e}"
        );
        let e = ctx
            .loss("gaussian_nll")
            .unwrap()
            .input(&a)
            .target(&c)
            .value()
            .unwrap_err();
        assert!(
            matches!(e, LossError::MissingTensor { tensor: "var", .. }),
            "{e}"
        );
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .tensor("var", &c)
            .value()
            .unwrap_err();
        assert!(matches!(e, LossError::UnexpectedTensor { .. }), "{e}");
        let e = ctx
            .loss("bce_with_logits")
            .unwrap()
            .input(&a)
            .target(&c)
            .tensor("pos_weight", &ctx.upload(&[1.0, 2.0, 3.0], &[3]).unwrap())
            .value()
            .unwrap_err();
        assert!(
            matches!(
                e,
                LossError::ShapeMismatch {
                    tensor: "pos_weight",
                    ..
                }
            ),
            "{e}"
        );

        for (loss, name, v) in [
            ("huber", "delta", 0.0),
            ("huber", "delta", -1.0),
            ("huber", "delta", f64::NAN),
            ("charbonnier", "eps", 0.0),
            ("smooth_l1", "beta", -0.1),
            ("cauchy", "c", 0.0),
            ("gaussian_nll", "eps", -1.0),
            ("gaussian_nll", "full", 2.0),
            ("focal", "gamma", -1.0),
        ] {
            let e = ctx
                .loss(loss)
                .unwrap()
                .input(&a)
                .target(&c)
                .tensor("var", &c)
                .param(name, v)
                .value();
            let e = e.unwrap_err();
            assert!(
                matches!(
                    e,
                    LossError::InvalidParam { .. } | LossError::UnexpectedTensor { .. }
                ),
                "{loss} {name}={v}: {e}"
            );
            if loss != "gaussian_nll" {
                continue;
            }
            assert!(matches!(e, LossError::InvalidParam { .. }), "{e}");
        }
        let e = ctx
            .loss("huber")
            .unwrap()
            .input(&a)
            .target(&c)
            .param("delta", 0.0)
            .value()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "huber: parameter `delta` = 0 is invalid: it must be a finite number > 0"
        );
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .param("delta", 1.0)
            .value()
            .unwrap_err();
        assert!(matches!(e, LossError::UnknownParam { .. }), "{e}");
        let e = ctx
            .loss("poisson_nll")
            .unwrap()
            .input(&a)
            .target(&c)
            .param("full", "yes")
            .value()
            .unwrap_err();
        assert!(matches!(e, LossError::InvalidParam { .. }), "{e}");
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .reduction(Reduction::None)
            .value()
            .unwrap_err();
        assert!(matches!(e, LossError::Reduction { .. }), "{e}");

        // Outputs: wrong size, or sharing a buffer with an input (wgpu tracks whole buffers).
        let g = ctx.upload(&[0.0; 3], &[3]).unwrap();
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .grad_into(&g)
            .run()
            .unwrap_err();
        assert!(matches!(e, LossError::Buffer { .. }), "{e}");
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .grad_into(&a)
            .run()
            .unwrap_err();
        assert!(
            matches!(
                e,
                LossError::Aliasing {
                    a: "input",
                    b: "grad",
                    ..
                }
            ),
            "{e}"
        );
        let e = ctx
            .loss("mse")
            .unwrap()
            .input(&a)
            .target(&c)
            .reduction(Reduction::None)
            .elements_into(&c)
            .run()
            .unwrap_err();
        assert!(matches!(e, LossError::Aliasing { a: "target", .. }), "{e}");
    }
}

#[test]
fn wrapping_a_buffer_checks_usage_size_and_alignment() {
    for t in defaults() {
        let device = t.ctx.device();
        let make = |size, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let storage = make(64, wgpu::BufferUsages::STORAGE);
        assert!(Tensor::wrap(&storage, 0, &[16]).is_ok());
        assert!(Tensor::wrap(&storage, 16, &[12]).is_ok());
        let e = Tensor::wrap(&storage, 16, &[13]).unwrap_err();
        assert!(
            e.to_string().contains("need 68 bytes; the buffer has 64"),
            "{e}"
        );
        assert!(Tensor::wrap(&storage, 2, &[1]).is_err());
        let uniform = make(
            64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        let e = Tensor::wrap(&uniform, 0, &[4]).unwrap_err();
        assert!(e.to_string().contains("STORAGE"), "{e}");
        // No COPY_SRC: the loss runs, but the tensor cannot be read back.
        let t4 = Tensor::wrap(&storage, 0, &[4]).unwrap();
        assert!(t
            .ctx
            .download(&t4)
            .unwrap_err()
            .to_string()
            .contains("COPY_SRC"));
    }
}

/// The same input on the same adapter gives the same bits, every run.
#[test]
fn results_are_bit_identical_run_to_run() {
    let n = (1 << 20) + 3;
    let loss = gpu_loss::catalogue::elementwise("log_cosh").unwrap();
    let s = sample(loss, &[n], true, AuxForm::Default, seed());
    for t in targets() {
        let ctx = &t.ctx;
        let x = ctx.upload(&s.input, &s.shape).unwrap();
        let y = ctx.upload(&s.target, &s.shape).unwrap();
        let w = ctx.upload(s.weight.as_ref().unwrap(), &s.shape).unwrap();
        let run = || {
            let out = ctx
                .loss("log_cosh")
                .unwrap()
                .input(&x)
                .target(&y)
                .weight(&w)
                .with_grad()
                .run()
                .unwrap();
            (
                out.value.unwrap().to_bits(),
                ctx.download(&out.grad.unwrap()).unwrap(),
            )
        };
        let first = run();
        for _ in 0..3 {
            let again = run();
            assert_eq!(first.0, again.0, "value bits differ on {}", t.name);
            assert!(first
                .1
                .iter()
                .zip(&again.1)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}

/// A renderer's or trainer's device: losses on its own buffers, at offsets, without copies;
/// nothing outside the output windows is touched; the recorded path leaves the value in the
/// caller's buffer for the caller to submit and read.
#[test]
fn runs_on_a_callers_device_and_buffers() {
    for adapter in gpu_loss::adapters() {
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .unwrap();
        let ctx = GpuContext::from_device(device.clone(), queue.clone()).unwrap();
        let n = 1027usize;
        let x = random(n, seed() + 7);
        let y = random(n, seed() + 8);
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let buffer = |size: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("caller's"),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        // Inputs packed in one buffer: x at byte 12 (not 16-aligned), y at byte 8192.
        let inputs = buffer(8192 + 4 * n as u64);
        queue.write_buffer(&inputs, 12, bytemuck::cast_slice(&x));
        queue.write_buffer(&inputs, 8192, bytemuck::cast_slice(&y));
        // Gradient between sentinels.
        let sentinel = 7.25f32;
        let out = buffer(4 * (n as u64 + 64));
        queue.write_buffer(&out, 0, bytemuck::cast_slice(&vec![sentinel; n + 64]));
        let xt = Tensor::wrap(&inputs, 12, &[n]).unwrap();
        let yt = Tensor::wrap(&inputs, 8192, &[n]).unwrap();
        let gt = Tensor::wrap(&out, 4 * 5, &[n]).unwrap();
        let value = ctx
            .loss("charbonnier")
            .unwrap()
            .input(&xt)
            .target(&yt)
            .grad_into(&gt)
            .run()
            .unwrap()
            .value
            .unwrap();

        let p = Problem::new(
            gpu_loss::catalogue::elementwise("charbonnier").unwrap(),
            Shapes {
                input: &[n],
                target: &[n],
                weight: None,
                aux: None,
            },
            &[],
            Reduction::Mean,
        )
        .unwrap();
        let want = cpu::evaluate(
            &p,
            &cpu::Inputs {
                input: &x,
                target: &y,
                weight: None,
                aux: None,
            },
            true,
        )
        .unwrap();
        assert!((value as f64 - want.value.unwrap()).abs() <= 1e-5 * want.value.unwrap());
        let whole = ctx
            .download(&Tensor::wrap(&out, 0, &[n + 64]).unwrap())
            .unwrap();
        assert!(whole[..5]
            .iter()
            .chain(&whole[5 + n..])
            .all(|v| *v == sentinel));
        assert!(normwise_error(&whole[5..5 + n], want.grad.as_ref().unwrap()) < 2e-6);

        // Recorded into the caller's encoder, value into element 3 of the caller's buffer.
        let result = buffer(64);
        let rt = Tensor::wrap(&result, 12, &[1]).unwrap();
        let mut enc = device.create_command_encoder(&Default::default());
        let recorded = ctx
            .loss("charbonnier")
            .unwrap()
            .input(&xt)
            .target(&yt)
            .value_into(&rt)
            .record(&mut enc)
            .unwrap();
        queue.submit([enc.finish()]);
        recorded.check().unwrap();
        assert_eq!(ctx.download(&rt).unwrap()[0], value);
        assert_eq!(recorded.read_value().unwrap(), value);
    }
}

/// In the recorded path the data checks run on the GPU and are read after the caller submits.
#[test]
fn recorded_calls_report_bad_data_when_checked() {
    for t in targets() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[0.5, 0.25, 2.0, 0.75, 0.1], &[5]).unwrap();
        let y = ctx.upload(&[1.0, 0.0, 1.0, 0.0, 1.0], &[5]).unwrap();
        let mut enc = ctx.device().create_command_encoder(&Default::default());
        let rec = ctx
            .loss("bce")
            .unwrap()
            .input(&x)
            .target(&y)
            .record(&mut enc)
            .unwrap();
        ctx.queue().submit([enc.finish()]);
        let e = rec.check().unwrap_err();
        assert!(matches!(e, LossError::OutOfDomain { index: 2, .. }), "{e}");
        assert!(rec.read_value().is_err());
    }
}

/// A training loop's steady state: after the first call, the same call compiles nothing and
/// creates no buffer (scratch comes from the pool, uniforms from the cache), and changing a
/// parameter compiles nothing either. Own contexts: other tests would move the counters.
#[test]
fn a_steady_stream_of_calls_compiles_and_allocates_nothing() {
    for t in targets() {
        let ctx = &GpuContext::from_device(t.ctx.device().clone(), t.ctx.queue().clone()).unwrap();
        ctx.set_tuning(t.ctx.tuning());
        let n = 10_007;
        let x = ctx.upload(&random(n, 1), &[n]).unwrap();
        let y = ctx.upload(&random(n, 2), &[n]).unwrap();
        let g = ctx.zeros(&[n]).unwrap();
        let step = |delta: f32| {
            ctx.loss("huber")
                .unwrap()
                .input(&x)
                .target(&y)
                .param("delta", delta)
                .grad_into(&g)
                .run()
                .unwrap()
                .value
                .unwrap()
        };
        let first = step(1.0);
        let (pipelines, uniforms, idle) = (
            ctx.pipelines_compiled(),
            ctx.uniform_buffers(),
            ctx.idle_scratch_buffers(),
        );
        for _ in 0..20 {
            assert_eq!(step(1.0), first);
        }
        assert_eq!(ctx.pipelines_compiled(), pipelines, "{}", t.name);
        assert_eq!(ctx.uniform_buffers(), uniforms, "{}", t.name);
        assert_eq!(ctx.idle_scratch_buffers(), idle, "{}", t.name);
        let other = step(0.25);
        assert_ne!(other, first);
        assert_eq!(
            ctx.pipelines_compiled(),
            pipelines,
            "a parameter compiled a pipeline"
        );
    }
}

/// Tensors larger than one storage binding (128 MiB here) run as several dispatches.
#[test]
fn inputs_larger_than_one_storage_binding() {
    for t in defaults() {
        let ctx = &t.ctx;
        let limits = ctx.limits();
        let n = (limits.max_storage_buffer_binding_size / 4) as usize + 4099;
        if 4 * n as u64 + 16 > limits.max_buffer_size {
            eprintln!(
                "{}: max_buffer_size {} holds no tensor larger than a binding",
                t.name, limits.max_buffer_size
            );
            continue;
        }
        let loss = gpu_loss::catalogue::elementwise("bce_with_logits").unwrap();
        let s = sample(loss, &[n], false, AuxForm::Default, seed() + 11);
        let x = ctx.upload(&s.input, &s.shape).unwrap();
        let y = ctx.upload(&s.target, &s.shape).unwrap();
        let out = ctx
            .loss("bce_with_logits")
            .unwrap()
            .input(&x)
            .target(&y)
            .reduction(Reduction::Sum)
            .with_grad()
            .run()
            .unwrap();
        let p = Problem::new(
            loss,
            Shapes {
                input: &[n],
                target: &[n],
                weight: None,
                aux: None,
            },
            &[],
            Reduction::Sum,
        )
        .unwrap();
        let want = cpu::evaluate(
            &p,
            &cpu::Inputs {
                input: &s.input,
                target: &s.target,
                weight: None,
                aux: None,
            },
            true,
        )
        .unwrap();
        let got = out.value.unwrap() as f64;
        let rel = (got - want.value.unwrap()).abs() / want.value.unwrap();
        assert!(
            rel <= 1e-5,
            "{}: sum {got} vs {} ({rel:.2e})",
            t.name,
            want.value.unwrap()
        );
        let grad = ctx.download(&out.grad.unwrap()).unwrap();
        assert!(
            normwise_error(&grad, want.grad.as_ref().unwrap()) < 2e-6,
            "{}",
            t.name
        );
    }
}

/// With no adapter the command says how to get one, and fails.
#[test]
fn no_adapter_is_an_error_that_says_how_to_get_one() {
    // No DX12 or Metal adapter exists on Linux: the filter leaves nothing.
    let backend = if cfg!(target_os = "macos") {
        "dx12"
    } else {
        "metal"
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .arg("adapters")
        .env("WGPU_BACKEND", backend)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no GPU adapter found"), "{stderr}");
    assert!(stderr.contains("mesa-vulkan-drivers"), "{stderr}");
}
