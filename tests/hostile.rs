//! Issue 12's hostile inputs and edge shapes: shapes whose element count overflows, zero
//! classes, tensors from another device, and objectives' errors in their own words. Each is a
//! typed error or the reference's value on every adapter, never a panic.

mod common;

use common::defaults;
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::problem::rows::{CrossEntropyProblem, TensorShape};
use gpu_loss::problem::structured::TvProblem;
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::tensor::DType;
use gpu_loss::{catalogue, GpuContext, LossError, Reduction, Tensor};

/// 2 · HUGE wraps to 2 in usize: a shape that claims two elements' worth of data.
const HUGE: usize = (1 << (usize::BITS - 1)) + 1;

fn floats(shape: &[usize], values: Vec<f64>) -> Array {
    Array {
        shape: shape.to_vec(),
        values: Values::Float(values),
        dtype: "<f4".into(),
    }
}

fn ints(shape: &[usize], values: Vec<i64>) -> Array {
    Array {
        shape: shape.to_vec(),
        values: Values::Int(values),
        dtype: "<i8".into(),
    }
}

fn overflows(e: &LossError, tensor: &str) -> bool {
    matches!(e, LossError::ShapeOverflow { tensor: t, .. } if t.contains(tensor))
}

#[test]
fn overflowing_shapes_are_typed_errors() {
    let ctx = &defaults().next().unwrap().ctx;
    let e = ctx.upload(&[0.0; 2], &[2, HUGE]).unwrap_err();
    assert!(overflows(&e, "upload"), "{e}");
    assert!(ctx.zeros(&[2, HUGE]).is_err());
    let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let e = Tensor::wrap(&buffer, 0, &[2, HUGE]).unwrap_err();
    assert!(overflows(&e, "wrapped"), "{e}");
    let t = ctx.upload(&[0.0; 2], &[2]).unwrap();
    assert!(t.reshape(&[2, HUGE]).is_err());

    let mse = catalogue::elementwise("mse").unwrap();
    let shapes = Shapes {
        input: &[2, HUGE],
        target: &[2, HUGE],
        weight: None,
        aux: None,
    };
    let e = Problem::new(mse, shapes, &[], Reduction::Mean).unwrap_err();
    assert!(overflows(&e, "mse: input"), "{e}");
    let Some(catalogue::Loss::Row(ce)) = catalogue::find("cross_entropy") else {
        panic!("cross_entropy is a row loss")
    };
    let f32s = |shape| TensorShape {
        shape,
        dtype: DType::F32,
    };
    let labels = TensorShape {
        shape: &[2, HUGE],
        dtype: DType::I64,
    };
    let e = CrossEntropyProblem::new(ce, f32s(&[2, HUGE, 3]), labels, None, &[], Reduction::Sum)
        .unwrap_err();
    assert!(overflows(&e, "cross_entropy: input"), "{e}");
    let Some(catalogue::Loss::Structured(tv)) = catalogue::find("total_variation") else {
        panic!("total_variation is structured")
    };
    let e = TvProblem::new(tv, &[2, HUGE], DType::F32, &[], Reduction::Sum).unwrap_err();
    assert!(overflows(&e, "total_variation: input"), "{e}");

    // The float64 twins take arrays whose shape claims more than their values.
    for (loss, shape) in [
        ("total_variation", vec![2, HUGE]),
        ("gram", vec![2, HUGE, 1]),
        ("style_loss", vec![2, HUGE, 1]),
        ("cross_entropy", vec![2, HUGE]),
        ("mse", vec![2, HUGE]),
    ] {
        let x = floats(&shape, vec![0.5, 1.0]);
        let tensors = match loss {
            "cross_entropy" => vec![
                ("input".into(), x),
                ("target".into(), ints(&[2], vec![0; 2])),
            ],
            "gram" | "total_variation" => vec![("input".into(), x)],
            _ => vec![("input".into(), x.clone()), ("target".into(), x)],
        };
        let e = evaluate_named(loss, &tensors, &[], Reduction::Mean).unwrap_err();
        assert!(overflows(&e, "input"), "{loss}: {e}");
    }
}

#[test]
fn int64_labels_wrap_as_int64() {
    let ctx = &defaults().next().unwrap().ctx;
    let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let t = Tensor::wrap_typed(&buffer, 0, &[2], DType::I64).unwrap();
    assert_eq!((t.dtype(), t.byte_len()), (DType::I64, 16));
    let e = Tensor::wrap_typed(&buffer, 0, &[3], DType::I64).unwrap_err();
    assert!(e.to_string().contains("need 24 bytes"), "{e}");
    assert!(Tensor::wrap_typed(&buffer, 4, &[1], DType::I64).is_err());
}

#[test]
fn a_tensor_from_another_device_is_an_error() {
    for t in defaults() {
        let other = GpuContext::from_adapter(&adapter_of(&t.ctx)).unwrap();
        let x = t.ctx.upload(&[0.5, 1.0], &[2]).unwrap();
        let y = other.upload(&[0.5, 2.0], &[2]).unwrap();
        let e = t.ctx.loss("mse").unwrap().input(&x).target(&y).value();
        assert!(
            matches!(&e, Err(LossError::ForeignTensor { tensor, .. }) if tensor.contains("target")),
            "{}: {e:?}",
            t.name
        );
        let mut enc = t.ctx.device().create_command_encoder(&Default::default());
        let e = t
            .ctx
            .loss("mse")
            .unwrap()
            .input(&x)
            .target(&y)
            .record(&mut enc);
        assert!(e.is_err(), "{}", t.name);
        let buffer = other.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let wrapped = other.wrap(&buffer, 0, &[2]).unwrap();
        let e = t
            .ctx
            .loss("mse")
            .unwrap()
            .input(&wrapped)
            .target(&x)
            .value();
        assert!(
            matches!(&e, Err(LossError::ForeignTensor { tensor, .. }) if tensor.contains("input")),
            "{}: {e:?}",
            t.name
        );
        assert!(t.ctx.download(&y).is_err());
    }
}

fn adapter_of(ctx: &GpuContext) -> wgpu::Adapter {
    let info = ctx.adapter_info();
    gpu_loss::adapters()
        .into_iter()
        .find(|a| {
            let i = a.get_info();
            (i.name.as_str(), i.backend) == (info.name.as_str(), info.backend)
        })
        .expect("the context's adapter")
}

/// What a call gave: the value, the per-row (per-entry) output, each gradient's length.
type Outcome = gpu_loss::Result<(Option<f64>, Option<Vec<f64>>, Vec<usize>)>;

fn on_gpu(ctx: &GpuContext, loss: &str, tensors: &[(String, Array)], r: Reduction) -> Outcome {
    let mut uploaded = Vec::new();
    for (name, a) in tensors {
        let t = match &a.values {
            Values::Float(v) => {
                ctx.upload(&v.iter().map(|&x| x as f32).collect::<Vec<_>>(), &a.shape)?
            }
            Values::Int(v) => ctx.upload_i64(v, &a.shape)?,
        };
        uploaded.push((name.as_str(), t));
    }
    let mut call = ctx.loss(loss)?.reduction(r).with_grad();
    for (name, t) in &uploaded {
        call = call.tensor(name, t);
    }
    let got = call.run()?;
    let out = match (r, &got.elements) {
        (Reduction::None, Some(e)) => Some(ctx.download(e)?.into_iter().map(f64::from).collect()),
        _ => None,
    };
    let grads = got.grad.iter().chain(got.other_grads.iter().map(|g| &g.1));
    Ok((
        got.value.map(f64::from),
        out,
        grads.map(Tensor::len).collect(),
    ))
}

fn on_cpu(loss: &str, tensors: &[(String, Array)], r: Reduction) -> Outcome {
    let want = evaluate_named(loss, tensors, &[], r)?;
    let out = want.out.filter(|_| r == Reduction::None).map(|o| o.1);
    Ok((
        want.value,
        out,
        want.grads.iter().map(|g| g.1.len()).collect(),
    ))
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

#[test]
fn zero_classes_and_positions_agree_with_the_reference() {
    let empty = |name: &str, shape: &[usize]| (name.to_string(), floats(shape, vec![]));
    let labels = ("target".to_string(), ints(&[3], vec![0; 3]));
    let signs = ("target".to_string(), floats(&[3], vec![1.0, -1.0, 1.0]));
    let pair = |shape: &[usize]| vec![empty("input", shape), empty("target", shape)];
    let cases: Vec<(&str, Vec<(String, Array)>)> = vec![
        (
            "cross_entropy",
            vec![empty("input", &[3, 0]), labels.clone()],
        ),
        ("cross_entropy", pair(&[3, 0])),
        ("nll", vec![empty("input", &[3, 0]), labels.clone()]),
        (
            "sparse_categorical_cross_entropy",
            vec![empty("input", &[3, 0]), labels],
        ),
        ("categorical_cross_entropy", pair(&[3, 0])),
        ("js_div", pair(&[3, 0])),
        ("cosine_similarity", pair(&[3, 0])),
        ("dice", pair(&[3, 0])),
        (
            "cosine_embedding",
            vec![empty("input1", &[3, 0]), empty("input2", &[3, 0]), signs],
        ),
        (
            "triplet_margin",
            ["anchor", "positive", "negative"]
                .map(|n| empty(n, &[3, 0]))
                .into(),
        ),
        ("gram", vec![empty("input", &[3, 0])]),
        ("gram", vec![empty("input", &[2, 3, 0])]),
        ("gram", vec![empty("input", &[0, 5])]),
        ("style_loss", pair(&[3, 0])),
        ("style_loss", pair(&[0, 5])),
    ];
    for t in defaults() {
        for (loss, tensors) in &cases {
            for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                let what = format!("{}: {loss} {:?} {r:?}", t.name, tensors[0].1.shape);
                match (on_gpu(&t.ctx, loss, tensors, r), on_cpu(loss, tensors, r)) {
                    (Err(g), Err(c)) => assert_eq!(g, c, "{what}"),
                    (Ok((gv, go, gg)), Ok((cv, co, cg))) => {
                        assert_eq!(gv.is_some(), cv.is_some(), "{what}: value");
                        if let (Some(g), Some(c)) = (gv, cv) {
                            assert!(same(g, c), "{what}: value {g} against {c}");
                        }
                        let (go, co) = (go.unwrap_or_default(), co.unwrap_or_default());
                        assert_eq!(go.len(), co.len(), "{what}: output");
                        assert!(
                            go.iter().zip(&co).all(|(&g, &c)| same(g, c)),
                            "{what}: {go:?} against {co:?}"
                        );
                        assert_eq!(gg, cg, "{what}: gradients");
                    }
                    (g, c) => panic!("{what}: GPU {g:?}, reference {c:?}"),
                }
            }
        }
    }
}

fn gpu_error(ctx: &GpuContext, loss: &str, tensors: &[(String, Array)]) -> LossError {
    on_gpu(ctx, loss, tensors, Reduction::Mean).expect_err(loss)
}

#[test]
fn objectives_errors_name_their_own_tensors() {
    let f = |name: &str, shape: &[usize], v: Vec<f64>| (name.to_string(), floats(shape, v));
    let image = |name: &str, x: f64| f(name, &[2, 2], vec![0.5, x, -1.0, 2.0]);
    let stargan = |target_domain: (String, Array)| {
        vec![
            f("fake_src", &[2], vec![0.3, -0.2]),
            f("fake_cls", &[2, 3], vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
            target_domain,
            image("x", 1.0),
            image("x_reconstructed", 0.0),
        ]
    };
    let pix2pix = |generated| {
        vec![
            f("fake", &[2], vec![0.3, -0.2]),
            generated,
            image("target", 1.0),
        ]
    };
    let cases = [
        (
            "stargan_generator",
            stargan(f("target_domain", &[2], vec![0.0, 1.0])),
        ),
        (
            "stargan_generator",
            stargan(("target_domain".into(), ints(&[2], vec![0, 7]))),
        ),
        ("pix2pix_generator", pix2pix(image("generated", f64::NAN))),
        (
            "pix2pix_generator",
            pix2pix(f("generated", &[4], vec![0.0; 4])),
        ),
    ];
    for t in defaults() {
        for (loss, tensors) in &cases {
            let want = evaluate_named(loss, tensors, &[], Reduction::Mean).expect_err(loss);
            assert_eq!(gpu_error(&t.ctx, loss, tensors), want, "{}: {loss}", t.name);
            let text = want.to_string();
            assert!(text.contains(loss) && !text.contains("`input`"), "{text}");
        }
        let x = t.ctx.upload_i32(&[0, 1, 2, 3], &[2, 2]).unwrap();
        let (fake, target) = (
            t.ctx.upload(&[0.3, -0.2], &[2]).unwrap(),
            t.ctx.zeros(&[2, 2]).unwrap(),
        );
        let call = |generated: &Tensor, grad: Option<&Tensor>| {
            let c = t.ctx.loss("pix2pix_generator").unwrap();
            let c = c
                .tensor("fake", &fake)
                .tensor("generated", generated)
                .tensor("target", &target);
            match grad {
                Some(g) => c.grad_into(g).run(),
                None => c.run(),
            }
        };
        let e = call(&x, None).unwrap_err();
        assert!(
            e.to_string().contains("pix2pix_generator: generated"),
            "{e}"
        );
        let g = t.ctx.zeros(&[2, 2]).unwrap();
        // The first gradient is `fake`'s: into `fake` itself, it would alias its input.
        let e = call(&g, Some(&fake)).unwrap_err();
        let aliasing = LossError::Aliasing {
            loss: "pix2pix_generator",
            a: "fake",
            b: "grad",
        };
        assert_eq!(e, aliasing, "{}", t.name);
    }
}

#[test]
fn sample_weights_errors_name_the_first_bad_weight() {
    let f = |name: &str, v: Vec<f64>| (name.to_string(), floats(&[v.len()], v));
    for (bad, index) in [
        (vec![1.0, f64::NAN, 1.0], 1),
        (vec![1.0, 2.0, f64::INFINITY], 2),
    ] {
        let tensors = vec![
            f("u_values", vec![0.0, 1.0, 2.0]),
            f("v_values", vec![0.5, 1.5, 2.5]),
            f("u_weights", vec![1.0; 3]),
            f("v_weights", bad),
        ];
        let want = evaluate_named("wasserstein_1d_samples", &tensors, &[], Reduction::Mean);
        let want = want.expect_err("a bad weight");
        assert!(
            matches!(want, LossError::OutOfDomain { tensor: "v_weights", index: i, .. } if i == index),
            "{want}"
        );
        for t in defaults() {
            let got = gpu_error(&t.ctx, "wasserstein_1d_samples", &tensors);
            assert_eq!(got, want, "{}", t.name);
        }
    }
}
