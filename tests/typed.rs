//! Typed losses against the float64 reference with parameters away from their defaults (the
//! catalogue test in src/losses/tests.rs checks the types against the entries), and one
//! `GpuContext` shared by 8 threads, each getting its own loss's value.

mod common;

use common::{defaults, seed};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::losses::*;
use gpu_loss::params::ParamValue;
use gpu_loss::sample::{self, Size};
use gpu_loss::{catalogue, GpuContext, Reduction, Tensor, TypedLoss};

/// `loss` on tensors drawn from its entry at `n`: its value through `ctx.call` (and through
/// `ctx.eval` where it takes input and target) against the float64 reference given the same
/// parameters by name.
fn check<L: TypedLoss>(ctx: &GpuContext, loss: &L, n: usize, seed: u64, on: &str) {
    let entry = catalogue::find(loss.name()).expect("a catalogue entry");
    let arrays = sample::named(entry, Size::Elements(n), seed);
    let tensors: Vec<(String, Tensor)> = arrays
        .iter()
        .map(|(name, a)| {
            let t = match a.ints() {
                Some(ints) => ctx.upload_i64(ints, &a.shape),
                None => ctx.upload(&a.f32s(), &a.shape),
            };
            (name.clone(), t.expect("upload"))
        })
        .collect();
    let given: Vec<(String, ParamValue)> = loss
        .params()
        .into_iter()
        .map(|(name, v)| (name.to_string(), v))
        .collect();
    let want = evaluate_named(loss.name(), &arrays, &given, Reduction::Mean)
        .expect("reference")
        .value
        .expect("a mean");
    let what = format!("{loss:?} [{n}] on {on}", loss = loss.name());
    let call = tensors
        .iter()
        .fold(ctx.call(loss), |c, (name, t)| c.tensor(name, t));
    let got = call.value().unwrap_or_else(|e| panic!("{what}: {e}"));
    let err = (f64::from(got) - want).abs() / want.abs().max(1e-3);
    assert!(
        err < 1e-4,
        "{what}: {got} against the float64 {want} ({err:.1e})"
    );
    let tensor = |name: &str| tensors.iter().find(|(n, _)| n == name).map(|t| &t.1);
    if let (Some(x), Some(y), 2) = (tensor("input"), tensor("target"), tensors.len()) {
        let evaluated = ctx
            .eval(loss, x, y)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            evaluated.to_bits(),
            got.to_bits(),
            "{what}: eval against call"
        );
    }
}

type Case = Box<dyn Fn(&GpuContext, u64, &str) + Send + Sync>;

/// Typed losses of every kind of entry, most parameters away from their defaults.
fn cases() -> Vec<Case> {
    vec![
        Box::new(|c, s, on| check(c, &Mse, 4099, s, on)),
        Box::new(|c, s, on| check(c, &Huber { delta: 0.5 }, 4099, s, on)),
        Box::new(|c, s, on| check(c, &SmoothL1 { beta: 0.25 }, 257, s, on)),
        Box::new(|c, s, on| {
            let focal = Focal {
                alpha: 0.5,
                gamma: 1.0,
            };
            check(c, &focal, 4099, s, on)
        }),
        Box::new(|c, s, on| {
            let ce = CrossEntropy {
                ignore_index: 1,
                label_smoothing: 0.1,
                z_loss: 1e-3,
                softcap: Some(5.0),
            };
            check(c, &ce, 4099, s, on)
        }),
        Box::new(|c, s, on| {
            check(
                c,
                &JsDiv {
                    beta: 0.3,
                    log_input: false,
                },
                4099,
                s,
                on,
            )
        }),
        Box::new(|c, s, on| {
            let triplet = TripletMargin {
                margin: 0.5,
                p: 1.0,
                swap: true,
                ..Default::default()
            };
            check(c, &triplet, 4099, s, on)
        }),
        Box::new(|c, s, on| {
            let g = GanGenerator {
                kind: GeneratorKind::Hinge,
                ..Default::default()
            };
            check(c, &g, 257, s, on)
        }),
        Box::new(|c, s, on| {
            let cycle = CycleGanGenerator {
                lambda: 5.0,
                rho: 1.0,
                gan: GeneratorKind::NonSaturating,
                from_logits: true,
            };
            check(c, &cycle, 257, s, on)
        }),
        Box::new(|c, s, on| check(c, &TotalVariation { power: 2.0 }, 4099, s, on)),
        Box::new(|c, s, on| check(c, &Psnr { data_range: 2.0 }, 4099, s, on)),
    ]
}

#[test]
fn typed_losses_give_the_reference_with_their_parameters() {
    let seed = seed();
    for t in defaults() {
        for (i, case) in cases().iter().enumerate() {
            case(&t.ctx, seed.wrapping_add(i as u64), &t.name);
        }
    }
}

/// `GpuContext` is `Send + Sync` and a clone is one `Arc`: 8 threads, half on clones and half
/// on the shared original, each run their own losses on one device and get their own values.
#[test]
fn eight_threads_on_one_context_each_get_their_own_value() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    send_sync_clone::<GpuContext>();
    let seed = seed();
    let cases = cases();
    for t in defaults() {
        let ctx = &t.ctx;
        std::thread::scope(|s| {
            for i in 0..8 {
                let (cases, on) = (&cases, &t.name);
                let own = (i % 2 == 0).then(|| ctx.clone());
                s.spawn(move || {
                    let ctx = own.as_ref().unwrap_or(ctx);
                    for rep in 0..3 {
                        let case = (i + 3 * rep) % cases.len();
                        cases[case](ctx, seed.wrapping_add((8 * rep + i) as u64), on);
                    }
                });
            }
        });
        // Clones share the device's state: what one compiled, the other has.
        let clone = ctx.clone();
        assert_eq!(clone.pipelines_compiled(), ctx.pipelines_compiled());
        assert_eq!(clone.adapter_name(), ctx.adapter_name());
    }
}
