//! NaN in the row losses (issue 12): every float tensor a loss reads is checked on every
//! backend, and a NaN is the same typed error everywhere, naming the tensor and its first flat
//! index. nll, a gather, checks only what it reads (x[n, y_n], w[y_n] of kept rows), as
//! PyTorch's value depends on nothing else. +inf logits give the reference's value.

mod common;

use common::targets;
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::{GpuContext, LossError, ParamValue, Reduction, Tensor};

const NAN: f64 = f64::NAN;

fn floats(name: &str, shape: &[usize], values: Vec<f64>) -> (String, Array) {
    let array = Array {
        shape: shape.to_vec(),
        values: Values::Float(values),
        dtype: "<f4".into(),
    };
    (name.to_string(), array)
}

fn labels(values: Vec<i64>) -> (String, Array) {
    let array = Array {
        shape: vec![values.len()],
        values: Values::Int(values),
        dtype: "<i8".into(),
    };
    ("target".to_string(), array)
}

/// `rows × classes` values k/7 − 1 (finite, varied), with NaN at `nans`.
fn rows(name: &str, r: usize, c: usize, nans: &[usize]) -> (String, Array) {
    let mut v: Vec<f64> = (0..r * c).map(|k| (k % 11) as f64 / 7.0 - 0.6).collect();
    nans.iter().for_each(|&i| v[i] = NAN);
    floats(name, &[r, c], v)
}

/// Probabilities in (0, 1], with NaN at `nans`.
fn probs(name: &str, r: usize, c: usize, nans: &[usize]) -> (String, Array) {
    let mut v: Vec<f64> = (0..r * c).map(|k| ((k % 9) + 1) as f64 / 10.0).collect();
    nans.iter().for_each(|&i| v[i] = NAN);
    floats(name, &[r, c], v)
}

/// What a call gave: the value, the per-row losses, and every gradient.
type Outcome = gpu_loss::Result<(Option<f64>, Vec<f64>, Vec<Vec<f64>>)>;

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
    let down = |t: &Tensor| -> gpu_loss::Result<Vec<f64>> {
        Ok(ctx.download(t)?.into_iter().map(f64::from).collect())
    };
    let out = match &got.elements {
        Some(e) if r == Reduction::None => down(e)?,
        _ => Vec::new(),
    };
    let mut grads = Vec::new();
    for g in got.grad.iter().chain(got.other_grads.iter().map(|g| &g.1)) {
        grads.push(down(g)?);
    }
    Ok((got.value.map(f64::from), out, grads))
}

fn on_cpu(loss: &str, tensors: &[(String, Array)], r: Reduction) -> Outcome {
    let no_params: &[(String, ParamValue)] = &[];
    let want = evaluate_named(loss, tensors, no_params, r)?;
    let out = want.out.filter(|_| r == Reduction::None).map(|o| o.1);
    let grads = want.grads.into_iter().map(|g| g.1).collect();
    Ok((want.value, out.unwrap_or_default(), grads))
}

fn close(g: f64, c: f64) -> bool {
    (g.is_nan() && c.is_nan()) || g == c || (g - c).abs() <= 1e-5 * c.abs().max(1.0)
}

/// The GPU (every adapter and launch setting) and the reference agree: the same error, or
/// values, per-row losses and gradients within f32's reach (NaN where the other has NaN).
fn agree(loss: &str, tensors: &[(String, Array)]) -> Outcome {
    let mut want = None;
    for r in [Reduction::Mean, Reduction::None] {
        let c = on_cpu(loss, tensors, r);
        for t in targets() {
            let what = format!("{}: {loss} {r:?}", t.name);
            match (on_gpu(&t.ctx, loss, tensors, r), &c) {
                (Err(g), Err(c)) => assert_eq!(&g, c, "{what}"),
                (Ok((gv, go, gg)), Ok((cv, co, cg))) => {
                    let all = |a: &[f64], b: &[f64]| {
                        a.len() == b.len() && a.iter().zip(b).all(|(&g, &c)| close(g, c))
                    };
                    assert!(gv.is_some() == cv.is_some(), "{what}: value");
                    if let (Some(g), Some(c)) = (gv, cv) {
                        assert!(close(g, *c), "{what}: value {g} against {c}");
                    }
                    assert!(all(&go, co), "{what}: rows {go:?} against {co:?}");
                    assert_eq!(gg.len(), cg.len(), "{what}: gradients");
                    for (g, c) in gg.iter().zip(cg) {
                        assert!(all(g, c), "{what}: gradient {g:?} against {c:?}");
                    }
                }
                (g, c) => panic!("{what}: GPU {g:?}, reference {c:?}"),
            }
        }
        want.get_or_insert(c);
    }
    want.unwrap()
}

/// Both backends refuse `tensors` with a NaN error naming `tensor` and `index`.
fn refused(loss: &'static str, tensors: &[(String, Array)], tensor: &'static str, index: u64) {
    let e = agree(loss, tensors).expect_err(loss);
    let want = LossError::NaN {
        loss,
        tensor,
        index,
    };
    assert_eq!(e, want, "{loss}");
}

#[test]
fn cross_entropy_refuses_a_nan_logit_anywhere() {
    // A NaN away from the label (row 1's label is 0), a later one, and one in an ignored row;
    // C = 8 runs the vector kernel, C = 5 the scalar one.
    for c in [8, 5] {
        let t = labels(vec![2, 0, -100, 1]);
        refused(
            "cross_entropy",
            &[rows("input", 4, c, &[c + 3, 3 * c]), t.clone()],
            "input",
            c as u64 + 3,
        );
        refused(
            "cross_entropy",
            &[rows("input", 4, c, &[2 * c + 1]), t],
            "input",
            2 * c as u64 + 1,
        );
    }
}

#[test]
fn cross_entropy_refuses_nan_in_probability_targets_and_weights() {
    let x = rows("input", 3, 8, &[]);
    refused(
        "cross_entropy",
        &[x.clone(), probs("target", 3, 8, &[13, 6 + 8])],
        "target",
        13,
    );
    // The input is checked first, as the reference does.
    refused(
        "cross_entropy",
        &[rows("input", 3, 8, &[20]), probs("target", 3, 8, &[1])],
        "input",
        20,
    );
    // A class weight no row's label uses is still read (the smoothing sum).
    let mut w = vec![1.0; 8];
    w[6] = NAN;
    w[5] = NAN;
    let weight = floats("weight", &[8], w);
    refused(
        "cross_entropy",
        &[x, labels(vec![0, 1, 2]), weight],
        "weight",
        5,
    );
}

#[test]
fn nll_checks_what_it_gathers() {
    // NaN where no label points, and in an ignored row: PyTorch's value, on both backends.
    let x = rows("input", 3, 5, &[1, 6, 10]);
    let got = agree("nll", &[x.clone(), labels(vec![0, -100, 2])]).expect("finite");
    assert!(got.0.is_some_and(f64::is_finite), "{got:?}");
    // x[2, 0] = x[10] is gathered; the label of row 0 points at x[1].
    refused("nll", &[x.clone(), labels(vec![1, -100, 0])], "input", 1);
    refused("nll", &[x, labels(vec![0, -100, 0])], "input", 10);
    let mut w = vec![1.0; 5];
    w[4] = NAN;
    w[3] = NAN;
    let weight = floats("weight", &[5], w);
    let clean = rows("input", 3, 5, &[]);
    let ok = agree(
        "nll",
        &[clean.clone(), labels(vec![0, 1, 2]), weight.clone()],
    );
    assert!(ok.is_ok(), "{ok:?}");
    refused("nll", &[clean, labels(vec![4, 3, 0]), weight], "weight", 3);
}

#[test]
fn sparse_categorical_refuses_nan() {
    let x = probs("input", 3, 4, &[7, 9]);
    refused(
        "sparse_categorical_cross_entropy",
        &[x, labels(vec![0, 1, 2])],
        "input",
        7,
    );
}

#[test]
fn row_statistics_losses_refuse_nan() {
    for loss in [
        "js_div",
        "cosine_similarity",
        "dice",
        "categorical_cross_entropy",
    ] {
        for c in [8, 3] {
            let n = 3 * c;
            refused(
                loss,
                &[probs("input", 3, c, &[n - 1]), probs("target", 3, c, &[])],
                "input",
                n as u64 - 1,
            );
            refused(
                loss,
                &[
                    probs("input", 3, c, &[]),
                    probs("target", 3, c, &[c + 1, 2]),
                ],
                "target",
                2,
            );
        }
    }
}

#[test]
fn row_tuple_losses_name_the_tensor_with_the_nan() {
    for c in [8, 3] {
        let signs = floats("target", &[3], vec![1.0, -1.0, 1.0]);
        refused(
            "cosine_embedding",
            &[
                rows("input1", 3, c, &[]),
                rows("input2", 3, c, &[c + 2]),
                signs,
            ],
            "input2",
            c as u64 + 2,
        );
        // A NaN label is NaN, not "outside {-1, 1}".
        let bad = floats("target", &[3], vec![1.0, NAN, 3.0]);
        let pair = [rows("input1", 3, c, &[]), rows("input2", 3, c, &[])];
        refused(
            "cosine_embedding",
            &[pair[0].clone(), pair[1].clone(), bad],
            "target",
            1,
        );
        refused(
            "triplet_margin",
            &[
                rows("anchor", 3, c, &[]),
                rows("positive", 3, c, &[2 * c]),
                rows("negative", 3, c, &[1]),
            ],
            "positive",
            2 * c as u64,
        );
        refused(
            "triplet_margin",
            &[
                rows("anchor", 3, c, &[]),
                rows("positive", 3, c, &[]),
                rows("negative", 3, c, &[c, 2 * c + 1]),
            ],
            "negative",
            c as u64,
        );
    }
}

#[test]
fn infinite_logits_give_the_reference_value() {
    let inf = f64::INFINITY;
    for c in [8, 5] {
        let mut x = rows("input", 4, c, &[]);
        if let Values::Float(v) = &mut x.1.values {
            v[1] = inf; // row 0: +inf away from the label
            v[c + 2] = inf; // row 1: +inf at the label
            v[2 * c] = -inf; // row 2: one −inf
            v[3 * c..].iter_mut().for_each(|v| *v = -inf); // row 3: all −inf
        }
        let t = labels(vec![0, 2, 1, 0]);
        agree("cross_entropy", &[x.clone(), t.clone()]).ok();
        agree("nll", &[x, t]).ok();
    }
}

#[test]
fn every_other_family_agrees_on_nan() {
    // Whatever each answers (NaN error, or out of domain where NaN is no weight), the GPU and
    // the reference answer the same.
    let cases: Vec<(&str, Vec<(String, Array)>)> = vec![
        (
            "huber",
            vec![rows("input", 2, 4, &[5]), rows("target", 2, 4, &[])],
        ),
        (
            "kl_div",
            vec![probs("input", 2, 4, &[]), probs("target", 2, 4, &[3])],
        ),
        ("total_variation", vec![rows("input", 3, 4, &[6])]),
        ("gram", vec![rows("input", 3, 4, &[7])]),
        (
            "style_loss",
            vec![rows("input", 3, 4, &[]), rows("target", 3, 4, &[2])],
        ),
        (
            "wasserstein_1d",
            vec![probs("u", 2, 4, &[]), probs("v", 2, 4, &[5])],
        ),
        (
            "wasserstein_1d_samples",
            vec![
                floats("u_values", &[3], vec![0.0, NAN, 1.0]),
                floats("v_values", &[2], vec![0.5, 1.5]),
            ],
        ),
    ];
    for (loss, tensors) in &cases {
        let got = agree(loss, tensors);
        assert!(got.is_err(), "{loss}: {got:?}");
    }
    // Infinite features make G infinite, not a NaN input: a value on both.
    let inf = f64::INFINITY;
    let features = floats("input", &[2, 2], vec![inf, 1.0, 2.0, 3.0]);
    let got = agree("gram", &[features]).expect("a value");
    assert_eq!(got.0, Some(inf));
}
