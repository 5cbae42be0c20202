//! Objectives of the caller's own (`ctx.weighted_sum()`): custom and catalogue losses as
//! weighted terms, one gradient per distinct input (later terms add to it), on every adapter
//! and launch setting, against float64 sums written here.

mod common;

use common::{normwise_error, seed, targets};
use gpu_loss::{LossError, Reduction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn draw(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| f64::from(a)).collect()
}

/// 0.7·mean log(1 + (x − y)²) [a formula] + 0.2·mean |x − z| [mae] + 1.5·sum (w − y)² [mse,
/// sum]: x's gradient is the first two terms' together, w's the third's.
#[test]
fn custom_and_catalogue_terms_sum_and_share_a_gradient() {
    let mut rng = StdRng::seed_from_u64(seed());
    for t in targets() {
        let ctx = &t.ctx;
        for n in [1usize, 3, 257, 4099] {
            let (x, y, z, w) = (
                draw(&mut rng, n),
                draw(&mut rng, n),
                draw(&mut rng, n),
                draw(&mut rng, n),
            );
            let up = |v: &[f32]| ctx.upload(v, &[n]).unwrap();
            let (xt, yt, zt, wt) = (up(&x), up(&y), up(&z), up(&w));
            let got = ctx
                .weighted_sum()
                .term(
                    "fit",
                    0.7,
                    ctx.custom("cauchy1", "log(1 + (x - y)^2)")
                        .unwrap()
                        .input(&xt)
                        .target(&yt),
                )
                .term("l1", 0.2, ctx.loss("mae").unwrap().input(&xt).target(&zt))
                .term(
                    "anchor",
                    1.5,
                    ctx.loss("mse")
                        .unwrap()
                        .input(&wt)
                        .target(&yt)
                        .reduction(Reduction::Sum),
                )
                .with_grad()
                .run()
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));

            let (x, y, z, w) = (f64s(&x), f64s(&y), f64s(&z), f64s(&w));
            let nf = n as f64;
            let fit: f64 = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (1.0 + (a - b).powi(2)).ln())
                .sum::<f64>()
                / nf;
            let l1: f64 = x.iter().zip(&z).map(|(a, b)| (a - b).abs()).sum::<f64>() / nf;
            let anchor: f64 = w.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum();
            let want = [
                ("fit", 0.7 * fit),
                ("l1", 0.2 * l1),
                ("anchor", 1.5 * anchor),
            ];
            let label = format!("n={n} on {}", t.name);
            for ((name, v), (want_name, w)) in got.terms.iter().zip(want) {
                assert_eq!(name, want_name);
                let err = (f64::from(*v) - w).abs() / w.abs().max(1e-30);
                assert!(err <= 1e-5, "{label}: term {name} {v} vs {w}");
            }
            let total: f64 = want.iter().map(|p| p.1).sum();
            assert!(
                (f64::from(got.value) - total).abs() <= 1e-5 * total.abs(),
                "{label}: total"
            );

            assert_eq!(
                got.grads.len(),
                2,
                "{label}: one gradient per distinct input"
            );
            let gx = ctx.download(&got.grads[0].1).unwrap();
            let want_gx: Vec<f64> = (0..n)
                .map(|i| {
                    let e = x[i] - y[i];
                    let s = x[i] - z[i];
                    // mae's convention: no slope where x = z (f64::signum would say 1).
                    let sign = if s == 0.0 { 0.0 } else { s.signum() };
                    0.7 * 2.0 * e / (1.0 + e * e) / nf + 0.2 * sign / nf
                })
                .collect();
            let err = normwise_error(&gx, &want_gx);
            assert!(err <= 2e-6, "{label}: d/dx error {err:.1e}");
            let gw = ctx.download(&got.grads[1].1).unwrap();
            let want_gw: Vec<f64> = w.iter().zip(&y).map(|(a, b)| 1.5 * 2.0 * (a - b)).collect();
            let err = normwise_error(&gw, &want_gw);
            assert!(err <= 2e-6, "{label}: d/dw error {err:.1e}");
        }
    }
}

/// Terms that cannot be: a reduction without one value, an objective as a term, a row loss
/// adding to another term's gradient; each a typed error, and the context goes on.
#[test]
fn a_term_that_cannot_be_is_a_typed_error() {
    let t = &targets()[0];
    let ctx = &t.ctx;
    let x = ctx.upload(&[0.5, -1.0, 2.0, 0.0], &[2, 2]).unwrap();
    let labels = ctx.upload_i32(&[1, 0], &[2]).unwrap();
    let none = ctx
        .weighted_sum()
        .term(
            "per element",
            1.0,
            ctx.loss("mse")
                .unwrap()
                .input(&x)
                .target(&x)
                .reduction(Reduction::None),
        )
        .run();
    assert!(
        matches!(none, Err(LossError::Reduction { .. })),
        "{:?}",
        none.err()
    );
    let objective = ctx
        .weighted_sum()
        .term(
            "gan",
            1.0,
            ctx.loss("gan_generator").unwrap().tensor("fake", &x),
        )
        .run();
    assert!(
        matches!(objective, Err(LossError::Usage(_))),
        "{:?}",
        objective.err()
    );
    // mse then cross_entropy on the same logits: the second term would have to add to the
    // first's gradient, which no row kernel does.
    let both = || {
        ctx.weighted_sum()
            .term("l2", 1.0, ctx.loss("mse").unwrap().input(&x).target(&x))
            .term(
                "ce",
                1.0,
                ctx.loss("cross_entropy").unwrap().input(&x).target(&labels),
            )
    };
    match both().with_grad().run() {
        Err(LossError::Gpu(why)) => assert!(why.contains("second term"), "{why}"),
        other => panic!("a row loss cannot add to a gradient: {:?}", other.err()),
    }
    // Without gradients the same terms are fine; and the context still works.
    let ok = both().run().unwrap();
    let ce = ((0.5f64.exp() + (-1.0f64).exp()).ln() + 1.0 + (2f64.exp() + 1.0).ln() - 2.0) / 2.0;
    assert!(
        (f64::from(ok.value) - ce).abs() < 1e-6,
        "{} vs {ce}",
        ok.value
    );
}
