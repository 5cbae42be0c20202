//! The row losses on every adapter and launch profile (tests/common), against the float64
//! reference of src/cpu/rows.rs: every cross_entropy option alone and combined, on rows from
//! one class to vocabulary size, int32 and int64 labels; and its errors and numerical edges.

mod common;

use common::{
    defaults, elementwise_error, normwise_error, seed, targets, triplet_distances, Target,
};
use gpu_loss::cpu::rows::{self, ClassTarget, CrossEntropy, RowResult};
use gpu_loss::sample::normal;
use gpu_loss::{LossError, Reduction, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One cross_entropy configuration: the options LOSSES.md names.
#[derive(Clone, Copy, Debug)]
struct Options {
    weight: bool,
    ignore: bool,
    smoothing: f64,
    z_loss: f64,
    softcap: Option<f64>,
    probs: bool,
}

const PLAIN: Options = Options {
    weight: false,
    ignore: false,
    smoothing: 0.0,
    z_loss: 0.0,
    softcap: None,
    probs: false,
};

/// Every option alone, then combined.
const OPTIONS: [Options; 9] = [
    PLAIN,
    Options {
        weight: true,
        ..PLAIN
    },
    Options {
        ignore: true,
        ..PLAIN
    },
    Options {
        smoothing: 0.1,
        ..PLAIN
    },
    Options {
        z_loss: 1e-3,
        ..PLAIN
    },
    Options {
        softcap: Some(5.0),
        ..PLAIN
    },
    Options {
        probs: true,
        ..PLAIN
    },
    Options {
        weight: true,
        ignore: true,
        smoothing: 0.2,
        z_loss: 1e-2,
        softcap: Some(3.0),
        probs: false,
    },
    Options {
        weight: true,
        ignore: false,
        smoothing: 0.2,
        z_loss: 1e-2,
        softcap: Some(3.0),
        probs: true,
    },
];

/// Rows × classes: one class, two, a few, a workgroup's worth, a prime past 4096, a large
/// vocabulary with few rows and many rows with few classes.
const SHAPES: [(usize, usize); 9] = [
    (1, 1),
    (1, 2),
    (2, 7),
    (7, 1000),
    (256, 7),
    (1000, 256),
    (7, 4099),
    (4099, 2),
    (3, 50_000),
];
const LARGE_SHAPES: [(usize, usize); 1] = [(100_000, 3)];

/// Reduced values and normwise errors, as for the elementwise losses; per-row losses each
/// relative to itself above 1e-3 of the largest.
const VALUE_TOL: f64 = 1e-5;
const NORM_TOL: f64 = 1e-5;
const ROW_TOL: f64 = 1e-4;

struct Case {
    n: usize,
    c: usize,
    logits: Vec<f32>,
    labels: Vec<i64>,
    probs: Vec<f32>,
    weight: Vec<f32>,
    options: Options,
    /// ignore_index: -100, or a real class (0) to check that it is compared as a label.
    ignore_index: i64,
    int64: bool,
}

impl Case {
    fn new(n: usize, c: usize, options: Options, seed: u64) -> Case {
        let mut rng = StdRng::seed_from_u64(seed);
        let logits = (0..n * c).map(|_| 3.0 * normal(&mut rng)).collect();
        let ignore_index = if seed.is_multiple_of(2) { -100 } else { 0 };
        let labels = (0..n)
            .map(|i| {
                if options.ignore && i % 3 == 1 {
                    ignore_index
                } else {
                    rng.random_range(0..c as i64)
                }
            })
            .collect();
        let mut probs: Vec<f32> = (0..n * c).map(|_| rng.random::<f32>()).collect();
        for row in probs.chunks_mut(c.max(1)) {
            let s: f32 = row.iter().sum();
            row.iter_mut().for_each(|p| *p /= s);
        }
        let weight = (0..c).map(|_| rng.random_range(0.2f32..2.0)).collect();
        Case {
            n,
            c,
            logits,
            labels,
            probs,
            weight,
            options,
            ignore_index,
            int64: !seed.is_multiple_of(3),
        }
    }

    fn reference(&self, reduction: Reduction) -> RowResult {
        let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        let (x, probs, weight) = (f64s(&self.logits), f64s(&self.probs), f64s(&self.weight));
        let target = if self.options.probs {
            ClassTarget::Probs(&probs)
        } else {
            ClassTarget::Index(&self.labels)
        };
        let p = CrossEntropy {
            ignore_index: self.ignore_index,
            label_smoothing: self.options.smoothing,
            z_loss: self.options.z_loss,
            softcap: self.options.softcap,
        };
        let w = self.options.weight.then_some(&weight[..]);
        rows::cross_entropy(&x, self.c, target, w, &p, reduction).expect("reference")
    }

    fn labels(&self, t: &Target) -> Tensor {
        if self.int64 {
            t.ctx.upload_i64(&self.labels, &[self.n]).unwrap()
        } else {
            let l: Vec<i32> = self.labels.iter().map(|&v| v as i32).collect();
            t.ctx.upload_i32(&l, &[self.n]).unwrap()
        }
    }

    fn check(&self, t: &Target, reduction: Reduction, want: &RowResult) {
        let ctx = &t.ctx;
        let label = format!(
            "cross_entropy {}x{} {reduction} {:?} ignore_index={} int64={} on {}",
            self.n, self.c, self.options, self.ignore_index, self.int64, t.name
        );
        let x = ctx.upload(&self.logits, &[self.n, self.c]).unwrap();
        let target = if self.options.probs {
            ctx.upload(&self.probs, &[self.n, self.c]).unwrap()
        } else {
            self.labels(t)
        };
        let w = ctx.upload(&self.weight, &[self.c]).unwrap();
        let mut call = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&x)
            .target(&target)
            .reduction(reduction)
            .param("ignore_index", self.ignore_index as f64)
            .param("label_smoothing", self.options.smoothing)
            .param("z_loss", self.options.z_loss)
            .with_grad();
        if let Some(s) = self.options.softcap {
            call = call.param("softcap", s);
        }
        if self.options.weight {
            call = call.weight(&w);
        }
        // A row must fit one storage binding (the small-binding profile's is 8 KiB).
        if 4 * self.c as u64 + 256 > ctx.tuning().max_binding_bytes {
            let e = call.run().unwrap_err();
            assert!(matches!(e, LossError::Limit { .. }), "{label}: {e}");
            return;
        }
        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
        match (out.value, want.value) {
            (None, None) => {}
            (Some(g), Some(w)) if w.is_nan() => assert!(g.is_nan(), "{label}: {g} vs NaN"),
            (Some(g), Some(w)) => {
                let err = (g as f64 - w).abs() / w.abs().max(1e-30);
                assert!(err <= VALUE_TOL, "{label}: value {g} vs {w} ({err:.2e})");
            }
            (g, w) => panic!("{label}: value {g:?} vs {w:?}"),
        }
        if let Some(want_rows) = &want.rows {
            let got = ctx.download(out.elements.as_ref().unwrap()).unwrap();
            let (err, at) = elementwise_error(&got, want_rows, 1e-3);
            assert!(
                err <= ROW_TOL,
                "{label}: row {at}: {} vs {} ({err:.2e})",
                got[at],
                want_rows[at]
            );
        }
        let got = ctx.download(out.grad.as_ref().unwrap()).unwrap();
        let err = normwise_error(&got, &want.grads[0]);
        // A gradient that cancels to ~0 (one class) is compared to the scale of its terms.
        let scale = want.grads[0].iter().fold(0f64, |m, v| m.max(v.abs()));
        let floor = 1e-7 / scale.max(1e-30) / self.n.max(1) as f64;
        assert!(
            err <= NORM_TOL.max(floor),
            "{label}: gradient normwise error {err:.2e}"
        );
    }
}

#[test]
fn cross_entropy_matches_the_reference() {
    let base = seed();
    for (s, &(n, c)) in SHAPES.iter().enumerate() {
        for (o, &options) in OPTIONS.iter().enumerate() {
            let case = Case::new(n, c, options, base + (s * 31 + o) as u64);
            // The other launch profiles on the smaller shapes: they cover the code paths;
            // the adapters' own settings take every shape.
            let profiles: Vec<&Target> = if n * c <= 30_000 {
                targets().iter().collect()
            } else {
                defaults().collect()
            };
            for reduction in Reduction::ALL {
                let want = case.reference(reduction);
                for t in &profiles {
                    case.check(t, reduction, &want);
                }
            }
        }
    }
    for &(n, c) in &LARGE_SHAPES {
        for (o, &options) in OPTIONS.iter().enumerate() {
            let case = Case::new(n, c, options, base + 1000 + o as u64);
            let want = case.reference(Reduction::Mean);
            for t in defaults() {
                case.check(t, Reduction::Mean, &want);
            }
        }
    }
}

fn ce_value(t: &Target, x: &[f32], c: usize, labels: &[i64]) -> gpu_loss::Result<f32> {
    let n = labels.len();
    let xt = t.ctx.upload(x, &[n, c])?;
    let lt = t.ctx.upload_i64(labels, &[n])?;
    t.ctx.loss("cross_entropy")?.input(&xt).target(&lt).value()
}

#[test]
fn labels_out_of_range_name_the_first_bad_row() {
    for t in targets() {
        let (n, c) = (3001, 5);
        let x: Vec<f32> = (0..n * c).map(|i| (i % 7) as f32 * 0.3).collect();
        let mut labels: Vec<i64> = (0..n as i64).map(|i| i % c as i64).collect();
        labels[2999] = -1;
        labels[2100] = 5;
        labels[2500] = 1 << 40;
        let e = ce_value(t, &x, c, &labels).unwrap_err();
        assert_eq!(
            e,
            LossError::LabelOutOfRange {
                loss: "cross_entropy",
                row: 2100,
                label: 5,
                classes: 5
            },
            "{}",
            t.name
        );
        labels[2100] = -100;
        let e = ce_value(t, &x, c, &labels).unwrap_err();
        assert!(
            matches!(e, LossError::LabelOutOfRange { row: 2500, label, .. } if label == 1 << 40),
            "{e} on {}",
            t.name
        );
        // int32 labels too, and the recorded path reports it at check().
        let l32: Vec<i32> = labels.iter().map(|&v| v.clamp(-100, 7) as i32).collect();
        let xt = t.ctx.upload(&x, &[n, c]).unwrap();
        let lt = t.ctx.upload_i32(&l32, &[n]).unwrap();
        let _gl = t.ctx.gl_lock();
        let mut enc = t.ctx.device().create_command_encoder(&Default::default());
        let rec = t
            .ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&xt)
            .target(&lt)
            .with_grad()
            .record(&mut enc)
            .unwrap();
        t.ctx.queue().submit([enc.finish()]);
        let e = rec.check().unwrap_err();
        assert!(
            matches!(
                e,
                LossError::LabelOutOfRange {
                    row: 2500,
                    label: 7,
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn all_rows_ignored() {
    for t in targets() {
        let x = [0.5f32, 1.0, -2.0, 0.0, 3.0, 1.0];
        let xt = t.ctx.upload(&x, &[3, 2]).unwrap();
        let lt = t.ctx.upload_i64(&[-100, -100, -100], &[3]).unwrap();
        let out = t
            .ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&xt)
            .target(&lt)
            .with_grad()
            .run()
            .unwrap();
        assert!(
            out.value.unwrap().is_nan(),
            "mean over no row on {}",
            t.name
        );
        assert!(t
            .ctx
            .download(&out.grad.unwrap())
            .unwrap()
            .iter()
            .all(|g| *g == 0.0));
        let sum = t
            .ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&xt)
            .target(&lt)
            .reduction(Reduction::Sum)
            .value()
            .unwrap();
        assert_eq!(sum, 0.0);
    }
}

/// Logits of ±1e4 and -inf entries stay finite where PyTorch's result is finite.
#[test]
fn extreme_logits_stay_finite() {
    let inf = f32::INFINITY;
    let x = [1e4f32, -1e4, 0.0, -inf, 5.0, -inf, 2.0, 1e4, -1e4];
    let labels = [0i64, 1, 2];
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for softcap in [None, Some(30.0)] {
        let want = rows::cross_entropy(
            &x64,
            3,
            ClassTarget::Index(&labels),
            None,
            &CrossEntropy {
                softcap,
                ..Default::default()
            },
            Reduction::None,
        )
        .unwrap();
        for t in targets() {
            let xt = t.ctx.upload(&x, &[3, 3]).unwrap();
            let lt = t.ctx.upload_i64(&labels, &[3]).unwrap();
            let mut call = t
                .ctx
                .loss("cross_entropy")
                .unwrap()
                .input(&xt)
                .target(&lt)
                .reduction(Reduction::None)
                .with_grad();
            if let Some(s) = softcap {
                call = call.param("softcap", s);
            }
            let out = call.run().unwrap();
            let rows_got = t.ctx.download(&out.elements.unwrap()).unwrap();
            let grad = t.ctx.download(&out.grad.unwrap()).unwrap();
            for (g, w) in rows_got.iter().zip(want.rows.as_ref().unwrap()) {
                assert!(
                    g.is_finite() && (*g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "{g} vs {w} ({softcap:?}) on {}",
                    t.name
                );
            }
            assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
            assert!(normwise_error(&grad, &want.grads[0]) < 1e-5);
        }
    }
}

/// Masked logits (−inf) in every vec4 lane, a lane that sees nothing else in a row, and a row
/// whose only finite logit comes last: the vector path's running statistics, lane by lane.
#[test]
fn masked_logits_in_every_lane() {
    let m = f32::NEG_INFINITY;
    #[rustfmt::skip]
    let x = [
        m, 1.0, 2.0, m, 3.0, m, 0.5, m,
        m, m, m, m, m, m, m, 4.0,
        0.0, m, m, m, 7.0, m, m, m,
    ];
    let labels = [2i64, 7, 4];
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let want = rows::cross_entropy(
        &x64,
        8,
        ClassTarget::Index(&labels),
        None,
        &CrossEntropy::default(),
        Reduction::None,
    )
    .unwrap();
    for t in targets() {
        let xt = t.ctx.upload(&x, &[3, 8]).unwrap();
        let lt = t.ctx.upload_i64(&labels, &[3]).unwrap();
        let out = t
            .ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&xt)
            .target(&lt)
            .reduction(Reduction::None)
            .with_grad()
            .run()
            .unwrap();
        let got = t.ctx.download(&out.elements.unwrap()).unwrap();
        for (g, w) in got.iter().zip(want.rows.as_ref().unwrap()) {
            assert!(
                (*g as f64 - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{g} vs {w} on {}",
                t.name
            );
        }
        let grad = t.ctx.download(&out.grad.unwrap()).unwrap();
        assert!(grad.iter().all(|g| g.is_finite()), "{grad:?} on {}", t.name);
        assert!(normwise_error(&grad, &want.grads[0]) < 1e-6, "{}", t.name);
    }
}

#[test]
fn bad_calls_are_typed_errors() {
    for t in defaults() {
        let ctx = &t.ctx;
        let x = ctx.upload(&[0.0; 12], &[4, 3]).unwrap();
        let l = ctx.upload_i64(&[0, 1, 2, 0], &[4]).unwrap();
        let float_labels = ctx.upload(&[0.0; 4], &[4]).unwrap();
        let e = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&x)
            .target(&float_labels)
            .value()
            .unwrap_err();
        assert!(matches!(e, LossError::Buffer { .. }), "{e}");
        let short = ctx.upload_i64(&[0, 1, 2], &[3]).unwrap();
        let e = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&x)
            .target(&short)
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
        let w = ctx.upload(&[1.0; 4], &[4]).unwrap();
        let e = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&x)
            .target(&l)
            .weight(&w)
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
        for (name, v) in [
            ("label_smoothing", 1.5),
            ("z_loss", -1.0),
            ("softcap", 0.0),
            ("ignore_index", 0.5),
        ] {
            let e = ctx
                .loss("cross_entropy")
                .unwrap()
                .input(&x)
                .target(&l)
                .param(name, v)
                .value()
                .unwrap_err();
            assert!(
                matches!(e, LossError::InvalidParam { .. }),
                "{name}={v}: {e}"
            );
        }
        // The gradient may overwrite the logits (tested below), not the probability targets.
        let probs = ctx.upload(&[0.25; 12], &[4, 3]).unwrap();
        let e = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&x)
            .target(&probs)
            .grad_into(&probs)
            .run()
            .unwrap_err();
        assert!(matches!(e, LossError::Aliasing { b: "grad", .. }), "{e}");
    }
}

/// The losses of the row-statistics kernel, each against its float64 twin.
#[test]
fn row_stats_losses_match_the_reference() {
    type Reference = fn(&[f64], usize, &[f64], &[f64], Reduction) -> gpu_loss::Result<RowResult>;
    let js: Reference = |x, c, y, p, r| rows::js_div(x, c, y, p[0], p[1] != 0.0, r);
    let cosine: Reference = |x, c, y, p, r| rows::cosine_similarity(x, c, y, p[0], r);
    let dice: Reference = |x, c, y, _, r| rows::dice(x, c, y, r);
    let cce: Reference = |x, c, y, p, r| rows::categorical_cross_entropy(x, c, y, p[0], r);
    // (loss, parameter names, settings, inputs as probabilities?)
    /// A loss, its parameters' names, the settings to run, its float64 twin.
    type StatsCase<'a> = (&'a str, &'a [&'a str], Vec<Vec<f64>>, Reference);
    let cases: [StatsCase; 4] = [
        (
            "js_div",
            &["beta", "log_input"],
            vec![vec![0.5, 0.0], vec![0.3, 1.0], vec![1.0, 0.0]],
            js,
        ),
        (
            "cosine_similarity",
            &["eps"],
            vec![vec![1e-7], vec![0.5]],
            cosine,
        ),
        ("dice", &[], vec![vec![]], dice),
        (
            "categorical_cross_entropy",
            &["label_smoothing"],
            vec![vec![0.0], vec![0.1]],
            cce,
        ),
    ];
    let shapes = [
        (1usize, 1usize),
        (2, 7),
        (7, 1000),
        (256, 8),
        (4099, 2),
        (3, 50_000),
    ];
    let base = seed();
    for (loss, names, settings, reference) in cases {
        for (k, params) in settings.iter().enumerate() {
            for (s, &(n, c)) in shapes.iter().enumerate() {
                let mut rng = StdRng::seed_from_u64(base + (k * 17 + s) as u64);
                let (x, y): (Vec<f32>, Vec<f32>) = (0..n * c)
                    .map(|i| match loss {
                        // Probability rows with exact zeros; Q as log Q when log_input.
                        "js_div" => {
                            let q = if i % 5 == 0 { 0.0 } else { rng.random::<f32>() };
                            let p = if i % 7 == 0 { 0.0 } else { rng.random::<f32>() };
                            (if params[1] != 0.0 { q.ln() } else { q }, p)
                        }
                        // Some rows of zeros, where the norm clamps at ε.
                        "cosine_similarity" if i / c.max(1) % 4 == 3 => (0.0, normal(&mut rng)),
                        "cosine_similarity" => (normal(&mut rng), normal(&mut rng)),
                        // Unnormalized scores (Keras rescales) with zeros, where the clip
                        // holds (one class: q = 1, the upper clip); soft targets with zeros.
                        "categorical_cross_entropy" => (
                            if i % 11 == 5 {
                                0.0
                            } else {
                                rng.random_range(0.01f32..2.0)
                            },
                            if i % 3 == 0 { 0.0 } else { rng.random() },
                        ),
                        _ => (rng.random(), if rng.random::<bool>() { 1.0 } else { 0.0 }),
                    })
                    .unzip();
                let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
                let profiles: Vec<&Target> = if n * c <= 30_000 {
                    targets().iter().collect()
                } else {
                    defaults().collect()
                };
                // The per-row losses' total magnitude: a sum of signed rows (cosine) may
                // cancel to far below it, and float32 rows carry errors relative to it.
                let per_row = reference(&x64, c, &y64, params, Reduction::None).expect("reference");
                let row_mass: f64 = per_row
                    .rows
                    .as_ref()
                    .map_or(0.0, |r| r.iter().map(|v| v.abs()).sum());
                for reduction in Reduction::ALL {
                    let want = reference(&x64, c, &y64, params, reduction).expect("reference");
                    let row_mass = match reduction {
                        Reduction::Mean => row_mass / n.max(1) as f64,
                        _ => row_mass,
                    };
                    for t in &profiles {
                        let label = format!("{loss} {n}x{c} {params:?} {reduction} on {}", t.name);
                        let xt = t.ctx.upload(&x, &[n, c]).unwrap();
                        let yt = t.ctx.upload(&y, &[n, c]).unwrap();
                        let mut call = t
                            .ctx
                            .loss(loss)
                            .unwrap()
                            .input(&xt)
                            .target(&yt)
                            .reduction(reduction)
                            .with_grad();
                        for (name, v) in names.iter().zip(params) {
                            call = call.param(name, *v);
                        }
                        if 4 * c as u64 + 256 > t.ctx.tuning().max_binding_bytes {
                            assert!(
                                matches!(call.run(), Err(LossError::Limit { .. })),
                                "{label}"
                            );
                            continue;
                        }
                        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
                        if let (Some(g), Some(w)) = (out.value, want.value) {
                            let mass = want
                                .rows
                                .as_ref()
                                .map_or(w.abs(), |r| r.iter().map(|v| v.abs()).sum())
                                .max(row_mass);
                            let err = (g as f64 - w).abs() / w.abs().max(mass).max(1e-30);
                            assert!(err <= VALUE_TOL, "{label}: value {g} vs {w} ({err:.2e})");
                        }
                        if let Some(want_rows) = &want.rows {
                            let got = t.ctx.download(out.elements.as_ref().unwrap()).unwrap();
                            let err = normwise_error(&got, want_rows);
                            assert!(err <= ROW_TOL, "{label}: per-row losses, error {err:.2e}");
                        }
                        let got = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
                        let largest = want.grads[0].iter().fold(0f64, |m, v| m.max(v.abs()));
                        if largest < 1e-9 {
                            // A gradient that is 0 in exact arithmetic (one class: cos = ±1)
                            // comes out as f32 rounding of terms of order 1.
                            let worst = got.iter().fold(0f32, |m, v| m.max(v.abs()));
                            assert!(worst < 1e-5, "{label}: gradient {worst:e}, expected ~0");
                        } else {
                            let err = normwise_error(&got, &want.grads[0]);
                            assert!(
                                err <= NORM_TOL,
                                "{label}: gradient normwise error {err:.2e}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// nll and sparse_categorical_cross_entropy (the label modes of the cross-entropy kernel).
#[test]
fn label_losses_match_the_reference() {
    let shapes = [
        (1usize, 1usize),
        (2, 7),
        (7, 1000),
        (256, 8),
        (4099, 2),
        (3, 50_000),
    ];
    let base = seed();
    for (s, &(n, c)) in shapes.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(base + 7 * s as u64);
        // Log-probabilities for nll; positive scores, not normalized, for Keras (it rescales).
        let log_probs: Vec<f32> = (0..n * c).map(|_| -3.0 * rng.random::<f32>()).collect();
        let scores: Vec<f32> = (0..n * c).map(|_| rng.random_range(0.01f32..2.0)).collect();
        let weight: Vec<f32> = (0..c).map(|_| rng.random_range(0.2f32..2.0)).collect();
        for ignore in [None, Some(1i64)] {
            let labels: Vec<i64> = (0..n)
                .map(|i| match ignore {
                    Some(v) if i % 3 == 1 => v,
                    _ => rng.random_range(0..c as i64),
                })
                .collect();
            let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
            let profiles: Vec<&Target> = if n * c <= 30_000 {
                targets().iter().collect()
            } else {
                defaults().collect()
            };
            for weighted in [false, true] {
                for reduction in Reduction::ALL {
                    let w64 = f64s(&weight);
                    let cases = [
                        (
                            "nll",
                            &log_probs,
                            rows::nll(
                                &f64s(&log_probs),
                                c,
                                &labels,
                                weighted.then_some(&w64[..]),
                                ignore.unwrap_or(-100),
                                reduction,
                            ),
                        ),
                        (
                            "sparse_categorical_cross_entropy",
                            &scores,
                            rows::sparse_categorical_cross_entropy(
                                &f64s(&scores),
                                c,
                                &labels,
                                ignore,
                                reduction,
                            ),
                        ),
                    ];
                    for (loss, x, want) in cases {
                        if weighted && loss != "nll" {
                            continue;
                        }
                        let want = want.expect("reference");
                        for t in &profiles {
                            let label = format!(
                                "{loss} {n}x{c} ignore={ignore:?} weight={weighted} {reduction} on {}",
                                t.name
                            );
                            let xt = t.ctx.upload(x, &[n, c]).unwrap();
                            let lt = t.ctx.upload_i64(&labels, &[n]).unwrap();
                            let wt = t.ctx.upload(&weight, &[c]).unwrap();
                            let mut call = t
                                .ctx
                                .loss(loss)
                                .unwrap()
                                .input(&xt)
                                .target(&lt)
                                .reduction(reduction)
                                .with_grad();
                            if let Some(v) = ignore {
                                let name = if loss == "nll" {
                                    "ignore_index"
                                } else {
                                    "ignore_class"
                                };
                                call = call.param(name, v as f64);
                            }
                            if weighted {
                                call = call.weight(&wt);
                            }
                            if 4 * c as u64 + 256 > t.ctx.tuning().max_binding_bytes {
                                assert!(
                                    matches!(call.run(), Err(LossError::Limit { .. })),
                                    "{label}"
                                );
                                continue;
                            }
                            let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
                            match (out.value, want.value) {
                                (Some(g), Some(w)) if w.is_nan() => {
                                    assert!(g.is_nan(), "{label}: {g}")
                                }
                                (Some(g), Some(w)) => {
                                    let err = (g as f64 - w).abs() / w.abs().max(1e-30);
                                    assert!(
                                        err <= VALUE_TOL,
                                        "{label}: value {g} vs {w} ({err:.2e})"
                                    );
                                }
                                (g, w) => assert_eq!(g.is_some(), w.is_some(), "{label}"),
                            }
                            if let Some(want_rows) = &want.rows {
                                let got = t.ctx.download(out.elements.as_ref().unwrap()).unwrap();
                                let err = normwise_error(&got, want_rows);
                                assert!(err <= ROW_TOL, "{label}: per-row losses, error {err:.2e}");
                            }
                            let got = t.ctx.download(out.grad.as_ref().unwrap()).unwrap();
                            let err = normwise_error(&got, &want.grads[0]);
                            assert!(
                                err <= NORM_TOL,
                                "{label}: gradient normwise error {err:.2e}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// cosine_embedding and triplet_margin (the row-tuples kernel): every gradient against the
/// float64 twin, on every adapter.
#[test]
fn tuple_losses_match_the_reference() {
    let shapes = [
        (1usize, 1usize),
        (2, 7),
        (7, 1000),
        (256, 8),
        (4099, 2),
        (3, 50_000),
    ];
    /// A loss, its parameters' names, the settings to run.
    type TupleCase<'a> = (&'a str, &'a [&'a str], Vec<Vec<f64>>);
    let cases: [TupleCase; 2] = [
        (
            "cosine_embedding",
            &["margin"],
            vec![vec![0.0], vec![0.3], vec![-0.2]],
        ),
        (
            "triplet_margin",
            &["margin", "p", "eps", "swap"],
            vec![
                vec![1.0, 2.0, 1e-6, 0.0],
                vec![0.5, 1.0, 1e-6, 1.0],
                vec![2.0, 3.0, 0.0, 1.0],
            ],
        ),
    ];
    let base = seed();
    for (loss, names, settings) in cases {
        for (k, params) in settings.iter().enumerate() {
            for (s, &(n, c)) in shapes.iter().enumerate() {
                let mut rng = StdRng::seed_from_u64(base + (31 * k + s) as u64);
                let mut tensor = || (0..n * c).map(|_| normal(&mut rng)).collect::<Vec<f32>>();
                let xs = [tensor(), tensor(), tensor()];
                let labels: Vec<f32> = (0..n)
                    .map(|i| if (i * 7 + s) % 3 == 0 { 1.0 } else { -1.0 })
                    .collect();
                let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
                // The size of the terms each row's loss is made of: 1 - cos has terms of order
                // 1; triplet_margin's are its two distances.
                let terms: Vec<f64> = match loss {
                    "cosine_embedding" => vec![1.0; n],
                    _ => {
                        triplet_distances(&f64s(&xs[0]), &f64s(&xs[1]), &f64s(&xs[2]), c, params[1])
                    }
                };
                let tensors: &[&str] = match loss {
                    "cosine_embedding" => &["input1", "input2"],
                    _ => &["anchor", "positive", "negative"],
                };
                let profiles: Vec<&Target> = if n * c <= 30_000 {
                    targets().iter().collect()
                } else {
                    defaults().collect()
                };
                for reduction in Reduction::ALL {
                    let want = match loss {
                        "cosine_embedding" => rows::cosine_embedding(
                            &f64s(&xs[0]),
                            &f64s(&xs[1]),
                            c,
                            &f64s(&labels),
                            params[0],
                            reduction,
                        ),
                        _ => rows::triplet_margin(
                            &f64s(&xs[0]),
                            &f64s(&xs[1]),
                            &f64s(&xs[2]),
                            c,
                            params[0],
                            params[1],
                            params[2],
                            params[3] != 0.0,
                            reduction,
                        ),
                    }
                    .expect("reference");
                    for t in &profiles {
                        let label = format!("{loss} {n}x{c} {params:?} {reduction} on {}", t.name);
                        let uploaded: Vec<_> = xs
                            .iter()
                            .map(|x| t.ctx.upload(x, &[n, c]).unwrap())
                            .collect();
                        let lt = t.ctx.upload(&labels, &[n]).unwrap();
                        let mut call = t.ctx.loss(loss).unwrap().reduction(reduction).with_grad();
                        for (name, x) in tensors.iter().zip(&uploaded) {
                            call = call.tensor(name, x);
                        }
                        if loss == "cosine_embedding" {
                            call = call.target(&lt);
                        }
                        for (name, v) in names.iter().zip(params) {
                            call = call.param(name, *v);
                        }
                        if 4 * c as u64 + 256 > t.ctx.tuning().max_binding_bytes {
                            assert!(
                                matches!(call.run(), Err(LossError::Limit { .. })),
                                "{label}"
                            );
                            continue;
                        }
                        let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));
                        if let (Some(g), Some(w)) = (out.value, want.value) {
                            let mass = want
                                .rows
                                .as_ref()
                                .map_or(w.abs(), |r| r.iter().map(|v| v.abs()).sum());
                            let terms_sum: f64 = terms.iter().sum();
                            let floor = if reduction == Reduction::Mean {
                                terms_sum / n as f64
                            } else {
                                terms_sum
                            };
                            let err = (g as f64 - w).abs() / w.abs().max(mass).max(floor);
                            assert!(err <= VALUE_TOL, "{label}: value {g} vs {w} ({err:.2e})");
                        }
                        // The size of the terms each gradient is made of, which cancel to
                        // ~0 in places (one feature: cos = ±1; swap with d(p, n) chosen:
                        // positive's two unit terms): f32 rounding is relative to them.
                        // cosine's are of order 1/‖x‖ per row, triplet's of order 1.
                        let per_row = |k: usize| match loss {
                            "cosine_embedding" => (0..n).fold(0f64, |m, r| {
                                let row = &xs[k][r * c..(r + 1) * c];
                                let norm = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
                                m.max(1.0 / norm.sqrt().max(1e-6))
                            }),
                            _ => 1.0,
                        };
                        let mean = reduction == Reduction::Mean;
                        let scale_of = |k: usize| per_row(k) / if mean { n as f64 } else { 1.0 };
                        let check = |what: &str, got: &[f32], want: &[f64], scale: f64| {
                            let largest = want.iter().fold(scale, |m, v| m.max(v.abs()));
                            let worst = got
                                .iter()
                                .zip(want)
                                .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
                            let err = worst / largest.max(1e-30);
                            assert!(err <= NORM_TOL, "{label}: {what} error {err:.2e}");
                        };
                        if let Some(want_rows) = &want.rows {
                            let got = t.ctx.download(out.elements.as_ref().unwrap()).unwrap();
                            let worst = got
                                .iter()
                                .zip(want_rows)
                                .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
                            let scale = want_rows
                                .iter()
                                .chain(&terms)
                                .fold(0f64, |m, v| m.max(v.abs()));
                            let err = worst / scale;
                            assert!(err <= ROW_TOL, "{label}: per-row losses, error {err:.2e}");
                        }
                        let mut grads = vec![(tensors[0], out.grad.as_ref().unwrap())];
                        grads.extend(out.other_grads.iter().map(|(n, g)| (*n, g)));
                        let names: Vec<&str> = grads.iter().map(|g| g.0).collect();
                        assert_eq!(names, tensors, "{label}");
                        let pairs = grads.into_iter().zip(&want.grads).enumerate();
                        for (k, ((name, got), want)) in pairs {
                            let got = t.ctx.download(got).unwrap();
                            check(&format!("{name} gradient"), &got, want, scale_of(k));
                        }
                    }
                }
            }
        }
    }
}

/// cosine_embedding's labels are ±1: another value is an error naming the first bad row;
/// the tuple losses' tensors go by their own names.
#[test]
fn tuple_losses_reject_bad_labels_and_calls() {
    for t in targets() {
        let ctx = &t.ctx;
        let mut rng = StdRng::seed_from_u64(seed());
        let x: Vec<f32> = (0..40).map(|_| normal(&mut rng)).collect();
        let a = ctx.upload(&x, &[10, 4]).unwrap();
        let b = ctx.upload(&x[..36], &[9, 4]).unwrap();
        let mut labels = vec![1.0f32; 10];
        labels[6] = 0.0;
        labels[8] = 2.0;
        let l = ctx.upload(&labels, &[10]).unwrap();
        let run = |x2: &Tensor, labels: &Tensor| {
            ctx.loss("cosine_embedding")
                .unwrap()
                .tensor("input1", &a)
                .tensor("input2", x2)
                .target(labels)
                .value()
        };
        match run(&a, &l) {
            Err(LossError::OutOfDomain {
                tensor: "target",
                index: 6,
                ..
            }) => {}
            other => panic!("{other:?} on {}", t.name),
        }
        assert!(
            matches!(
                run(&b, &l),
                Err(LossError::ShapeMismatch {
                    tensor: "input2",
                    ..
                })
            ),
            "{}",
            t.name
        );
        let missing = ctx
            .loss("triplet_margin")
            .unwrap()
            .tensor("anchor", &a)
            .value();
        assert!(
            matches!(
                missing,
                Err(LossError::MissingTensor {
                    tensor: "positive",
                    ..
                })
            ),
            "{missing:?}"
        );
        let stray = ctx
            .loss("triplet_margin")
            .unwrap()
            .tensor("anchor", &a)
            .tensor("positive", &a)
            .tensor("negative", &a)
            .input(&a)
            .value();
        assert!(
            matches!(stray, Err(LossError::UnexpectedTensor { .. })),
            "{stray:?}"
        );
        // All labels good: a value, not an error.
        let good = ctx
            .upload(
                &[1.0f32, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0],
                &[10],
            )
            .unwrap();
        assert!(run(&a, &good).unwrap().is_finite());
    }
}

/// `grad_into(&logits)`: the class-label losses write the gradient over their own input, with
/// the same bits as into a separate buffer (each lane reads its elements before writing them).
#[test]
fn gradient_in_place_over_the_logits() {
    let shapes = [(3usize, 5usize), (257, 1000), (4099, 2), (2, 50_000)];
    let base = seed();
    for (s, &(n, c)) in shapes.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(base + 101 * s as u64);
        let logits: Vec<f32> = (0..n * c).map(|_| 3.0 * normal(&mut rng)).collect();
        let scores: Vec<f32> = (0..n * c).map(|_| rng.random_range(0.01f32..2.0)).collect();
        let labels: Vec<i64> = (0..n).map(|_| rng.random_range(0..c as i64)).collect();
        let profiles: Vec<&Target> = if n * c <= 300_000 {
            targets().iter().collect()
        } else {
            defaults().collect()
        };
        /// A loss, its input, its parameters.
        type InPlaceCase<'a> = (&'a str, &'a [f32], &'a [(&'a str, f64)]);
        let cases: [InPlaceCase; 4] = [
            ("cross_entropy", &logits, &[]),
            (
                "cross_entropy",
                &logits,
                &[("label_smoothing", 0.1), ("z_loss", 1e-3)],
            ),
            ("nll", &logits, &[]),
            ("sparse_categorical_cross_entropy", &scores, &[]),
        ];
        for t in &profiles {
            if 4 * c as u64 + 256 > t.ctx.tuning().max_binding_bytes {
                continue; // a row longer than a binding: refused, as tested above
            }
            let lt = t.ctx.upload_i64(&labels, &[n]).unwrap();
            for (loss, x, params) in cases {
                let label = format!("{loss} {params:?} {n}x{c} on {}", t.name);
                let xt = t.ctx.upload(x, &[n, c]).unwrap();
                let call = |grad_into: Option<&Tensor>| {
                    let mut call = t.ctx.loss(loss).unwrap().input(&xt).target(&lt);
                    for (k, v) in params {
                        call = call.param(k, *v);
                    }
                    match grad_into {
                        Some(g) => call.grad_into(g),
                        None => call.with_grad(),
                    }
                    .run()
                    .unwrap_or_else(|e| panic!("{label}: {e}"))
                };
                let apart = call(None);
                let want = t.ctx.download(apart.grad.as_ref().unwrap()).unwrap();
                let in_place = call(Some(&xt));
                let got = t.ctx.download(&xt).unwrap();
                assert_eq!(in_place.value, apart.value, "{label}");
                assert!(got != x, "{label}: the logits were not overwritten");
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{label}: in place differs from apart"
                );
            }
        }
    }
    // A gradient that overlaps the logits without being them is still refused.
    let ctx = &targets()[0].ctx;
    let both = ctx.upload(&[0.5f32; 32], &[32]).unwrap();
    let x = Tensor::wrap(both.buffer(), both.offset(), &[2, 8]).unwrap();
    let shifted = Tensor::wrap(both.buffer(), both.offset() + 16, &[2, 8]).unwrap();
    let labels = ctx.upload_i64(&[1, 2], &[2]).unwrap();
    let r = ctx
        .loss("cross_entropy")
        .unwrap()
        .input(&x)
        .target(&labels)
        .grad_into(&shifted)
        .run();
    assert!(matches!(r, Err(LossError::Aliasing { .. })), "{r:?}");
}

/// The section C worked examples of LOSSES.md, on the GPU.
#[test]
fn worked_examples_of_losses_md() {
    for t in targets() {
        let ctx = &t.ctx;
        let close = |what: &str, got: f32, want: f64| {
            assert!(
                (got as f64 - want).abs() <= 5e-8 + 1e-6 * want.abs(),
                "{what}: {got} vs {want} on {}",
                t.name
            )
        };
        let probs = ctx.upload(&[0.7, 0.2, 0.1], &[1, 3]).unwrap();
        let one_hot = ctx.upload(&[1.0, 0.0, 0.0], &[1, 3]).unwrap();
        let class0 = ctx.upload_i64(&[0], &[1]).unwrap();
        let value = |loss: &str, target: &Tensor| {
            ctx.loss(loss)
                .unwrap()
                .input(&probs)
                .target(target)
                .value()
                .unwrap()
        };
        close(
            "categorical_cross_entropy",
            value("categorical_cross_entropy", &one_hot),
            0.3566749,
        );
        close(
            "sparse_categorical_cross_entropy",
            value("sparse_categorical_cross_entropy", &class0),
            0.3566749,
        );
        // KL(P ‖ Q) = Σ P·log(P / Q): PyTorch's form takes log Q as the input.
        let log_q = ctx.upload(&[0.5f32.ln(), 0.5f32.ln()], &[1, 2]).unwrap();
        let p = ctx.upload(&[0.4, 0.6], &[1, 2]).unwrap();
        let kl = ctx
            .loss("kl_div")
            .unwrap()
            .input(&log_q)
            .target(&p)
            .reduction(Reduction::Sum)
            .value()
            .unwrap();
        close("kl_div", kl, 0.0201355);
        // d(a, p) = 0.5, d(a, n) = 1.0, margin 0.2: max(0.5 - 1.0 + 0.2, 0) = 0.
        let a = ctx.upload(&[0.0, 0.0], &[1, 2]).unwrap();
        let pos = ctx.upload(&[0.5, 0.0], &[1, 2]).unwrap();
        let neg = ctx.upload(&[0.0, 1.0], &[1, 2]).unwrap();
        let triplet = ctx
            .loss("triplet_margin")
            .unwrap()
            .tensor("anchor", &a)
            .tensor("positive", &pos)
            .tensor("negative", &neg)
            .param("margin", 0.2)
            .param("eps", 0.0)
            .value()
            .unwrap();
        assert_eq!(triplet, 0.0, "{}", t.name);
    }
}
