//! The async API: `value_async`, `run_async`, `Recorded::check_async` / `read_value_async`
//! and `download_async` give the float64 reference's values and the blocking calls' errors,
//! under pollster, a thread pool with many calls in flight on one context, and a
//! single-threaded executor on which a call that blocked would hold every other one back.

mod common;

use common::{defaults, normwise_error, seed};
use futures::executor::{LocalPool, ThreadPool};
use futures::task::{LocalSpawnExt, SpawnExt};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::Array;
use gpu_loss::sample::{self, Size};
use gpu_loss::{catalogue, GpuContext, LossError, Reduction, Tensor};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

/// A loss's tensors drawn from its catalogue entry, uploaded, with the arrays for the twin.
struct Drawn {
    arrays: Vec<(String, Array)>,
    tensors: Vec<(String, Tensor)>,
}

fn draw(ctx: &GpuContext, loss: &str, n: usize, seed: u64) -> Drawn {
    let entry = catalogue::find(loss).expect("in the catalogue");
    let arrays = sample::named(entry, Size::Elements(n), seed);
    let tensors = arrays
        .iter()
        .map(|(name, a)| {
            let t = match a.ints() {
                Some(ints) => ctx.upload_i64(ints, &a.shape),
                None => ctx.upload(&a.f32s(), &a.shape),
            };
            (name.clone(), t.expect("upload"))
        })
        .collect();
    Drawn { arrays, tensors }
}

impl Drawn {
    fn call<'a>(&'a self, ctx: &'a GpuContext, loss: &str) -> gpu_loss::LossCall<'a> {
        let call = ctx.loss(loss).expect("loss");
        self.tensors
            .iter()
            .fold(call, |c, (name, t)| c.tensor(name, t))
    }

    fn want(&self, loss: &str, reduction: Reduction) -> gpu_loss::cpu::named::NamedResult {
        evaluate_named(loss, &self.arrays, &[], reduction).expect("reference")
    }
}

fn close(got: f32, want: f64, what: &str) {
    let err = (f64::from(got) - want).abs() / want.abs().max(1e-3);
    assert!(
        err < 1e-4,
        "{what}: {got} against the float64 {want} (relative {err:.2e})"
    );
}

#[test]
fn async_calls_give_the_reference_under_pollster() {
    let seed = seed();
    for t in defaults() {
        let ctx = &t.ctx;
        for (loss, n) in [("mse", 1), ("huber", 257), ("bce_with_logits", 4099)] {
            let d = draw(ctx, loss, n, seed ^ n as u64);
            let want = d.want(loss, Reduction::Mean);
            let what = format!("{loss} [{n}] on {}", t.name);
            let v = pollster::block_on(d.call(ctx, loss).value_async()).expect("value_async");
            close(v, want.value.unwrap(), &what);

            let out = pollster::block_on(d.call(ctx, loss).with_grad().run_async()).expect("run");
            close(out.value.unwrap(), want.value.unwrap(), &what);
            let grad = pollster::block_on(ctx.download_async(out.grad.as_ref().unwrap()))
                .expect("download_async");
            let e = normwise_error(&grad, &want.grads[0].1);
            assert!(e < 1e-5, "{what}: gradient off by {e:.2e}");

            let mut enc = ctx.device().create_command_encoder(&Default::default());
            let rec = d.call(ctx, loss).record(&mut enc).expect("record");
            ctx.queue().submit([enc.finish()]);
            pollster::block_on(rec.check_async()).expect("check_async");
            let v = pollster::block_on(rec.read_value_async()).expect("read_value_async");
            close(v, want.value.unwrap(), &what);
        }
        let empty = ctx.upload(&[], &[0]).unwrap();
        let none = pollster::block_on(ctx.download_async(&empty)).unwrap();
        assert!(none.is_empty());
    }
}

#[test]
fn many_calls_in_flight_on_a_thread_pool_each_get_their_own_value() {
    let seed = seed();
    let pool = ThreadPool::builder()
        .pool_size(4)
        .create()
        .expect("thread pool");
    for t in defaults() {
        let losses = [
            "mse",
            "huber",
            "log_cosh",
            "bce_with_logits",
            "focal",
            "mae",
        ];
        let mut handles = Vec::new();
        let mut wants = Vec::new();
        for i in 0..12 {
            let (loss, n) = (losses[i % losses.len()], 100 + 397 * i);
            let ctx = t.ctx.clone();
            let d = draw(&ctx, loss, n, seed.wrapping_add(i as u64));
            let want = d.want(loss, Reduction::Mean);
            wants.push((format!("{loss} [{n}] on {}", t.name), want));
            let task = async move {
                let value = d.call(&ctx, loss).value_async().await?;
                let out = d.call(&ctx, loss).with_grad().run_async().await?;
                let grad = ctx.download_async(out.grad.as_ref().unwrap()).await?;
                Ok::<_, LossError>((value, grad))
            };
            handles.push(pool.spawn_with_handle(task).expect("spawn"));
        }
        let got = futures::executor::block_on(futures::future::join_all(handles));
        for ((what, want), got) in wants.iter().zip(got) {
            let (value, grad) = got.unwrap_or_else(|e| panic!("{what}: {e}"));
            close(value, want.value.unwrap(), what);
            let e = normwise_error(&grad, &want.grads[0].1);
            assert!(e < 1e-5, "{what}: gradient off by {e:.2e}");
        }
    }
}

/// Whether a submission of this much work is still running when polled right after: where it
/// is not (llvmpipe's GL runs it inside the submit or the first poll), nothing is ever in
/// flight and a future completes in its first poll however it waits.
fn runs_in_the_background(ctx: &GpuContext, d: &Drawn) -> bool {
    let mut enc = ctx.device().create_command_encoder(&Default::default());
    let rec = d.call(ctx, "mse").record(&mut enc).expect("record");
    ctx.queue().submit([enc.finish()]);
    let status = ctx.device().poll(wgpu::PollType::Poll).expect("poll");
    rec.check().expect("check");
    !status.is_queue_empty()
}

/// On one thread, a call that blocked until its GPU work was done would finish before the
/// next one started; these start all (each submits, then yields) before the first finishes,
/// and the executor runs to the end (a watchdog fails the test rather than hang it).
#[test]
fn a_single_threaded_executor_keeps_every_call_in_flight() {
    let seed = seed();
    for t in defaults() {
        let ctx = t.ctx.clone();
        let background = runs_in_the_background(&ctx, &draw(&ctx, "mse", 1 << 20, seed));
        eprintln!(
            "{}: submissions run in the background: {background}",
            t.name
        );
        let name = t.name.clone();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let n = 1 << 20;
            let calls = 4;
            let drawn: Vec<Drawn> = (0..calls).map(|i| draw(&ctx, "mse", n, seed + i)).collect();
            let wants: Vec<f64> = drawn
                .iter()
                .map(|d| d.want("mse", Reduction::Mean).value.unwrap())
                .collect();
            let (started, finished, most) = (
                Rc::new(Cell::new(0)),
                Rc::new(Cell::new(0)),
                Rc::new(Cell::new(0)),
            );
            let mut pool = LocalPool::new();
            let results = Rc::new(std::cell::RefCell::new(vec![f32::NAN; drawn.len()]));
            for (i, d) in drawn.into_iter().enumerate() {
                let (ctx, started, finished, most) =
                    (ctx.clone(), started.clone(), finished.clone(), most.clone());
                let results = results.clone();
                pool.spawner()
                    .spawn_local(async move {
                        started.set(started.get() + 1);
                        most.set(most.get().max(started.get() - finished.get()));
                        let v = d
                            .call(&ctx, "mse")
                            .value_async()
                            .await
                            .expect("value_async");
                        results.borrow_mut()[i] = v;
                        finished.set(finished.get() + 1);
                    })
                    .expect("spawn");
            }
            pool.run();
            let got = results.borrow().clone();
            let _ = done_tx.send((got, wants, most.get()));
        });
        let (got, wants, most) = done_rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("{name}: the single-threaded executor never finished"));
        for (i, (g, w)) in got.iter().zip(&wants).enumerate() {
            close(*g, *w, &format!("call {i} on {name}"));
        }
        assert!(
            most > 1 || !background,
            "{name}: at most {most} call in flight: the futures block"
        );
    }
}

#[test]
fn async_errors_are_the_blocking_calls_errors() {
    for t in defaults() {
        let ctx = &t.ctx;
        let up = |v: &[f32]| ctx.upload(v, &[v.len()]).unwrap();
        let mut x: Vec<f32> = (0..4099).map(|i| (i % 13) as f32 * 0.1).collect();
        x[2050] = f32::NAN;
        let (xt, yt) = (up(&x), up(&vec![0.5; x.len()]));
        let e = pollster::block_on(
            ctx.loss("mse")
                .unwrap()
                .input(&xt)
                .target(&yt)
                .value_async(),
        );
        let nan = LossError::NaN {
            loss: "mse",
            tensor: "input",
            index: 2050,
        };
        assert_eq!(e.unwrap_err(), nan, "{}", t.name);

        // The bad label is read back from the GPU: an async readback of its own.
        let (rows, classes) = (301, 5);
        let logits = ctx
            .upload(&vec![0.25; rows * classes], &[rows, classes])
            .unwrap();
        let mut labels: Vec<i64> = (0..rows as i64).map(|i| i % 5).collect();
        labels[211] = 7;
        let lt = ctx.upload_i64(&labels, &[rows]).unwrap();
        let call = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&logits)
            .target(&lt);
        let e = pollster::block_on(call.run_async()).unwrap_err();
        let bad = LossError::LabelOutOfRange {
            loss: "cross_entropy",
            row: 211,
            label: 7,
            classes: 5,
        };
        assert_eq!(e, bad, "{}", t.name);
        let mut enc = ctx.device().create_command_encoder(&Default::default());
        let call = ctx
            .loss("cross_entropy")
            .unwrap()
            .input(&logits)
            .target(&lt);
        let rec = call.record(&mut enc).unwrap();
        ctx.queue().submit([enc.finish()]);
        assert_eq!(pollster::block_on(rec.check_async()).unwrap_err(), bad);

        // A bad weight is found by downloading the weights.
        let (u, v, w) = (up(&[0.5, 1.0, 2.0]), up(&[1.0, 3.0]), up(&[1.0, -0.5, 2.0]));
        let call = ctx
            .loss("wasserstein_1d_samples")
            .unwrap()
            .tensor("u_values", &u)
            .tensor("v_values", &v)
            .tensor("u_weights", &w);
        let e = pollster::block_on(call.value_async()).unwrap_err();
        assert!(
            matches!(
                e,
                LossError::OutOfDomain {
                    tensor: "u_weights",
                    index: 1,
                    ..
                }
            ),
            "{}: {e:?}",
            t.name
        );
        let lack = ctx
            .loss("mse")
            .unwrap()
            .input(&xt)
            .reduction(Reduction::None);
        let e = pollster::block_on(lack.target(&yt).value_async()).unwrap_err();
        assert!(matches!(e, LossError::Reduction { .. }), "{e:?}");
    }
}

/// A future dropped while its readback is in flight leaves the context as it was: its
/// staging buffer (whose map is pending) does not go back to the pool to fail a later call.
#[test]
fn a_dropped_future_leaves_the_context_usable() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let seed = seed();
    for t in defaults() {
        let ctx = &t.ctx;
        let d = draw(ctx, "mse", 1 << 18, seed);
        let want = d.want("mse", Reduction::Mean).value.unwrap();
        for _ in 0..3 {
            let mut f = Box::pin(d.call(ctx, "mse").value_async());
            let waker = futures::task::noop_waker();
            let polled = f.as_mut().poll(&mut Context::from_waker(&waker));
            drop(f);
            if let Poll::Ready(v) = polled {
                close(v.unwrap(), want, &t.name);
            }
            close(d.call(ctx, "mse").value().unwrap(), want, &t.name);
        }
        // Every pending map finished: later calls still read their own values.
        ctx.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        for _ in 0..10 {
            close(d.call(ctx, "mse").value().unwrap(), want, &t.name);
        }
    }
}

/// The futures can be spawned on multi-threaded executors, and the handles shared.
#[test]
fn futures_and_handles_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<GpuContext>();
    send_sync::<Tensor>();
    send_sync::<gpu_loss::Recorded>();
    send_sync::<gpu_loss::Computed>();
    let ctx = &defaults().next().unwrap().ctx;
    let x = ctx.upload(&[1.0], &[1]).unwrap();
    send(&ctx.loss("mse").unwrap().input(&x).target(&x).value_async());
    send(&ctx.loss("mse").unwrap().input(&x).target(&x).run_async());
    send(&ctx.download_async(&x));
    let mut enc = ctx.device().create_command_encoder(&Default::default());
    let rec = ctx
        .loss("mse")
        .unwrap()
        .input(&x)
        .target(&x)
        .record(&mut enc)
        .unwrap();
    send(&rec.check_async());
    send(&rec.read_value_async());
    send(&ctx.eval_async(&gpu_loss::losses::Mse, &x, &x));
}

/// Half tensors read back asynchronously: every value as the blocking download gives it, at
/// an odd length (the last word holds one half).
#[test]
fn half_downloads_async_match_the_blocking_ones() {
    use gpu_loss::half::{bf16, f16};
    for t in defaults() {
        let ctx = &t.ctx;
        let n = 257;
        let values: Vec<f32> = (0..n).map(|i| (i as f32 - 128.0) / 7.0).collect();
        let h: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
        let b: Vec<bf16> = values.iter().map(|&v| bf16::from_f32(v)).collect();
        let (ht, bt) = (
            ctx.upload_f16(&h, &[n]).unwrap(),
            ctx.upload_bf16(&b, &[n]).unwrap(),
        );
        let got_h = pollster::block_on(ctx.download_f16_async(&ht)).unwrap();
        let got_b = pollster::block_on(ctx.download_bf16_async(&bt)).unwrap();
        assert_eq!(got_h, h, "{}", t.name);
        assert_eq!(got_b, b, "{}", t.name);
        assert_eq!(got_h, ctx.download_f16(&ht).unwrap());
        // A tensor of another dtype is refused, as by the blocking call.
        assert!(pollster::block_on(ctx.download_f16_async(&bt)).is_err());
    }
}

/// A weighted sum and style_loss, awaited: the same bits as their blocking calls, gradients
/// included.
#[test]
fn weighted_sums_and_style_losses_async_give_the_blocking_bits() {
    for t in defaults() {
        let ctx = &t.ctx;
        let n = 1031;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| ((i * 53) % 97) as f32 / 40.0 - 1.2)
            .collect();
        let (xt, yt) = (ctx.upload(&x, &[n]).unwrap(), ctx.upload(&y, &[n]).unwrap());
        let sum = || {
            ctx.weighted_sum()
                .term(
                    "fit",
                    0.5,
                    ctx.custom("c", "log(1 + (x - y)^2)")
                        .unwrap()
                        .input(&xt)
                        .target(&yt),
                )
                .term("l1", 2.0, ctx.loss("mae").unwrap().input(&xt).target(&yt))
                .with_grad()
        };
        let blocking = sum().run().unwrap();
        let awaited = pollster::block_on(sum().run_async()).unwrap();
        assert_eq!(
            blocking.value.to_bits(),
            awaited.value.to_bits(),
            "{}",
            t.name
        );
        let (gb, ga) = (&blocking.grads[0].1, &awaited.grads[0].1);
        assert_eq!(
            ctx.download(gb).unwrap(),
            ctx.download(ga).unwrap(),
            "{}",
            t.name
        );

        let f = ctx.upload(&x[..1024], &[4, 256]).unwrap();
        let s = ctx.upload(&y[..1024], &[4, 256]).unwrap();
        let layers = [gpu_loss::StyleLayer {
            input: &f,
            target: &s,
            weight: 10.0,
        }];
        let blocking = ctx.style_loss(&layers, true).unwrap();
        let awaited = pollster::block_on(ctx.style_loss_async(&layers, true)).unwrap();
        assert_eq!(
            blocking.value.to_bits(),
            awaited.value.to_bits(),
            "{}",
            t.name
        );
        assert_eq!(
            ctx.download(&blocking.grads[0]).unwrap(),
            ctx.download(&awaited.grads[0]).unwrap()
        );
    }
}
