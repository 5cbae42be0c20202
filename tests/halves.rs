//! f16 and bf16 tensors (issue 14): the packing (every bit pattern through upload, the cast
//! kernel and download; f32 rounded to nearest even), and every elementwise loss on half
//! inputs against the float64 reference evaluated on the same rounded inputs: the value within
//! the f32 tolerance, outputs within one ulp of their dtype (plus the f32 tolerance).

mod common;

use common::{defaults, seed, targets, Target};
use gpu_loss::catalogue::{self, Elementwise};
use gpu_loss::cpu::{self, CpuResult};
use gpu_loss::half::{bf16, f16};
use gpu_loss::problem::{Problem, Shapes};
use gpu_loss::sample::{sample, AuxForm, Sample};
use gpu_loss::{DType, GpuContext, LossError, Reduction, Tensor};
use rand::{Rng, SeedableRng};

const HALVES: [DType; 2] = [DType::F16, DType::BF16];
/// The f32 tolerances of tests/elementwise.rs: value against the terms' mass, outputs
/// normwise and per element.
const VALUE_TOL: f64 = 1e-5;
const NORM_TOL: f64 = 2e-6;
const ELEMENT_TOL: f64 = 1e-4;

fn round(v: &[f32], d: DType) -> Vec<f32> {
    match d {
        DType::F16 => v.iter().map(|&x| f16::from_f32(x).to_f32()).collect(),
        DType::BF16 => v.iter().map(|&x| bf16::from_f32(x).to_f32()).collect(),
        _ => v.to_vec(),
    }
}

/// One unit in the last place of `dtype` at |w| (0 for f32: its error is in the tolerance).
fn ulp(d: DType, w: f64) -> f64 {
    let e = w.abs().log2().floor();
    match d {
        DType::F16 => 2f64.powf(e.max(-14.0) - 10.0),
        DType::BF16 => 2f64.powf(e.max(-126.0) - 7.0),
        _ => 0.0,
    }
}

/// `values` rounded to `dtype` in a new buffer after `offset` elements of filler, as a
/// tensor wrapped at that offset (so element offsets not a multiple of 2 or 8 are run).
fn place(ctx: &GpuContext, values: &[f32], shape: &[usize], d: DType, offset: usize) -> Tensor {
    let mut all = vec![7.0f32; offset];
    all.extend_from_slice(values);
    let t = ctx.upload_as(&all, &[all.len()], d).unwrap();
    let bytes = offset as u64 * d.size();
    ctx.wrap_typed(t.buffer(), bytes, shape, d).unwrap()
}

/// The dtypes of input, target, weight and extra tensor, and of the outputs.
#[derive(Clone, Copy, Debug)]
struct Dtypes {
    x: DType,
    y: DType,
    w: DType,
    aux: DType,
    grad: Option<DType>,
    offset: usize,
}

impl Dtypes {
    fn all(d: DType) -> Dtypes {
        Dtypes {
            x: d,
            y: d,
            w: d,
            aux: d,
            grad: None,
            offset: 0,
        }
    }
}

/// Runs `loss` on `s` (values already rounded to `d`) and checks it against the reference.
fn check(t: &Target, loss: &'static Elementwise, s: &Sample, d: Dtypes, reduction: Reduction) {
    let ctx = &t.ctx;
    let label = format!(
        "{} n={} {reduction} {d:?} on {}",
        loss.name,
        s.input.len(),
        t.name
    );
    let x = place(ctx, &s.input, &s.shape, d.x, d.offset);
    let y = place(ctx, &s.target, &s.shape, d.y, d.offset);
    let w = (s.weight.as_ref()).map(|w| place(ctx, w, &s.shape, d.w, d.offset));
    let a = (s.aux.as_ref()).map(|(v, sh)| place(ctx, v, sh, d.aux, d.offset));
    let mut call = ctx.loss(loss.name).unwrap().input(&x).target(&y);
    call = call.reduction(reduction).with_elements();
    if reduction != Reduction::None {
        call = call.with_grad();
    }
    if let Some(w) = &w {
        call = call.weight(w);
    }
    if let (Some(a), Some(spec)) = (&a, loss.aux) {
        call = call.tensor(spec.name, a);
    }
    if let Some(g) = d.grad {
        call = call.grad_dtype(g);
    }
    let out = call.run().unwrap_or_else(|e| panic!("{label}: {e}"));

    let problem = |reduction| {
        let shapes = Shapes {
            input: &s.shape,
            target: &s.shape,
            weight: s.weight.as_ref().map(|_| s.shape.as_slice()),
            aux: s.aux.as_ref().map(|a| a.1.as_slice()),
        };
        Problem::new(loss, shapes, &[], reduction).unwrap()
    };
    let inputs = cpu::Inputs {
        input: &s.input,
        target: &s.target,
        weight: s.weight.as_deref(),
        aux: s.aux.as_ref().map(|a| a.0.as_slice()),
    };
    let p = problem(reduction);
    let want: CpuResult = cpu::evaluate(&p, &inputs, true).unwrap();
    let terms = cpu::evaluate(&problem(Reduction::None), &inputs, false).unwrap();
    let elements = terms.elements.unwrap();
    // Terms that are differences of larger parts (poisson_nll: e^x − y·x; kl_div:
    // y·(log y − x)) are judged against those parts, as tests/elementwise.rs does.
    let parts: Vec<f64> = (0..s.input.len())
        .map(|i| {
            let (x, y) = (s.input[i] as f64, s.target[i] as f64);
            let w = s.weight.as_ref().map_or(1.0, |w| w[i] as f64).abs();
            let p = w * match loss.name {
                "poisson_nll" => x.exp() + y.abs() * (1.0 + x.abs()),
                "kl_div" => y.abs() * (y.abs().ln().abs() + x.abs()),
                _ => 0.0,
            };
            // y = 0: kl_div's term is 0, with no parts (0 · ∞ is not one).
            if p.is_finite() {
                p
            } else {
                0.0
            }
        })
        .collect();
    let mass: f64 = (elements.iter().map(|v| v.abs()).sum::<f64>() + parts.iter().sum::<f64>())
        * p.grad_scale();
    if let (Some(got), Some(want)) = (out.value, want.value) {
        if want.is_nan() {
            assert!(got.is_nan(), "{label}: value {got}, expected NaN");
            return;
        }
        let err = (got as f64 - want).abs() / want.abs().max(mass).max(f64::MIN_POSITIVE);
        assert!(
            err <= VALUE_TOL,
            "{label}: value {got} vs {want} ({err:.2e})"
        );
    }
    let out_dtype = d.grad.unwrap_or(d.x);
    let scaled: Vec<f64>;
    let want_elements = match reduction {
        Reduction::None => &elements,
        _ => {
            // Per-element losses of a reduced call are the terms, unscaled.
            scaled = elements.clone();
            &scaled
        }
    };
    for (what, got, want) in [
        ("elements", out.elements.as_ref(), Some(want_elements)),
        ("grad", out.grad.as_ref(), want.grad.as_ref()),
    ] {
        let (Some(got), Some(want)) = (got, want) else {
            continue;
        };
        assert_eq!(got.dtype(), out_dtype, "{label}: {what} dtype");
        let got = ctx.download(got).unwrap();
        let largest = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let scale = if what == "grad" { p.grad_scale() } else { 1.0 };
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let tol = ulp(out_dtype, w)
                + NORM_TOL * largest
                + ELEMENT_TOL * w.abs()
                + 1e-6 * parts[i] * scale;
            let ok = (g as f64 - w).abs() <= tol
                || (w.is_nan() && g.is_nan())
                || (g.is_infinite() && w.abs() >= 65504.0 && out_dtype == DType::F16);
            assert!(
                ok,
                "{label}: {what}[{i}] = {g} vs {w} (tolerance {tol:.2e})"
            );
        }
    }
}

/// A sample of `loss` with every tensor rounded to its dtype.
fn rounded(loss: &Elementwise, shape: &[usize], form: AuxForm, d: Dtypes, seed: u64) -> Sample {
    let mut s = sample(loss, shape, true, form, seed);
    s.input = round(&s.input, d.x);
    s.target = round(&s.target, d.y);
    s.weight = s.weight.map(|w| round(&w, d.w));
    s.aux = s.aux.map(|(a, sh)| (round(&a, d.aux), sh));
    s
}

#[test]
fn every_bit_pattern_round_trips_through_the_kernel() {
    let bits: Vec<u16> = (0..=u16::MAX).collect();
    for t in targets() {
        let ctx = &t.ctx;
        for d in HALVES {
            let (up, widened): (Tensor, Vec<f32>) = match d {
                DType::F16 => {
                    let h: Vec<f16> = bits.iter().map(|&b| f16::from_bits(b)).collect();
                    let w = h.iter().map(|v| v.to_f32()).collect();
                    (ctx.upload_f16(&h, &[h.len()]).unwrap(), w)
                }
                _ => {
                    let h: Vec<bf16> = bits.iter().map(|&b| bf16::from_bits(b)).collect();
                    let w = h.iter().map(|v| v.to_f32()).collect();
                    (ctx.upload_bf16(&h, &[h.len()]).unwrap(), w)
                }
            };
            // At offset 0 (the vector path) and one element in (the scalar path).
            for skip in [0usize, 1] {
                let n = bits.len() - skip;
                let src = ctx
                    .wrap_typed(up.buffer(), skip as u64 * 2, &[n], d)
                    .unwrap();
                let label = format!("{d:?} from element {skip} on {}", t.name);
                let wide = ctx.download(&ctx.cast(&src, DType::F32).unwrap()).unwrap();
                let same = ctx.cast(&src, d).unwrap();
                let back: Vec<u16> = match d {
                    DType::F16 => ctx
                        .download_f16(&same)
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect(),
                    _ => ctx
                        .download_bf16(&same)
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect(),
                };
                for i in 0..n {
                    let (b, want) = (bits[i + skip], widened[i + skip]);
                    if want.is_nan() {
                        assert!(wide[i].is_nan(), "{label}: {b:#06x} widened to {}", wide[i]);
                        let exp_all_ones = if d == DType::F16 { 0x7c00 } else { 0x7f80 };
                        assert!(
                            back[i] & exp_all_ones == exp_all_ones
                                && back[i] & !(exp_all_ones | 0x8000) != 0,
                            "{label}: NaN {b:#06x} came back as {:#06x}",
                            back[i]
                        );
                    } else {
                        assert_eq!(
                            wide[i].to_bits(),
                            want.to_bits(),
                            "{label}: {b:#06x} widened"
                        );
                        assert_eq!(back[i], b, "{label}: {b:#06x} through the identity");
                    }
                }
            }
        }
    }
}

#[test]
fn f32_rounds_to_nearest_even() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    // Random bit patterns, and the edges: ties either way, the largest f16 and what rounds
    // past it, f16 subnormals and half their spacing, the smallest f32s, infinities, NaNs.
    let mut v: Vec<f32> = (0..40_000).map(|_| f32::from_bits(rng.random())).collect();
    v.extend((0..20_000).map(|_| rng.random_range(-70000.0f32..70000.0)));
    v.extend((0..20_000).map(|_| rng.random_range(-1e-4f32..1e-4)));
    for b in [
        0x3f80_8000u32,
        0x3f81_8000,
        0x3f80_1000,
        0x3f80_3000,
        0x7f7f_ffff,
        0x0000_0001,
        // f16 subnormal ties (k + 1/2)·2^-24, either way, one just past a tie, and the tie
        // between the largest subnormal and the smallest normal.
        0x3300_0000,
        0x3300_0001,
        0x33c0_0000,
        0x3420_0000,
        0x387f_c000,
        0xb3c0_0000,
    ] {
        v.push(f32::from_bits(b));
    }
    v.extend([
        65504.0,
        65519.99,
        65520.0,
        65536.0,
        5.96e-8,
        2.98e-8,
        2.99e-8,
        8.9e-8,
        6.1e-5,
        6.103e-5,
        0.0,
        -0.0,
        1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::MIN_POSITIVE,
    ]);
    for t in targets() {
        let ctx = &t.ctx;
        for skip in [0usize, 3] {
            let n = v.len() - skip;
            let up = ctx.upload(&v, &[v.len()]).unwrap();
            let src = ctx.wrap(up.buffer(), 4 * skip as u64, &[n]).unwrap();
            let h = ctx
                .download_f16(&ctx.cast(&src, DType::F16).unwrap())
                .unwrap();
            let b = ctx
                .download_bf16(&ctx.cast(&src, DType::BF16).unwrap())
                .unwrap();
            for i in 0..n {
                let x = v[i + skip];
                let label = format!("{x:e} ({:#010x}) on {}", x.to_bits(), t.name);
                if x.is_nan() {
                    assert!(h[i].is_nan() && b[i].is_nan(), "{label}: NaN lost");
                    assert_eq!(b[i].is_sign_negative(), x.is_sign_negative(), "{label}");
                    continue;
                }
                assert_eq!(
                    h[i].to_bits(),
                    f16::from_f32(x).to_bits(),
                    "{label}: to f16"
                );
                assert_eq!(
                    b[i].to_bits(),
                    bf16::from_f32(x).to_bits(),
                    "{label}: to bf16"
                );
            }
        }
    }
}

/// Sizes with tails of every length past the vector body, and one of several dispatches.
const SIZES: [usize; 3] = [1, 3, 4099];

#[test]
fn every_elementwise_loss_on_half_inputs() {
    let seed = seed();
    for (k, loss) in catalogue::ELEMENTWISE.iter().enumerate() {
        for d in HALVES {
            for (i, &n) in SIZES.iter().enumerate() {
                let dt = Dtypes::all(d);
                let s = rounded(loss, &[n], AuxForm::Default, dt, seed + (k * 8 + i) as u64);
                for t in defaults() {
                    for reduction in [Reduction::Sum, Reduction::None] {
                        check(t, loss, &s, dt, reduction);
                    }
                }
            }
        }
    }
}

#[test]
fn mixed_dtypes_offsets_and_f32_outputs() {
    let seed = seed();
    let mixes = [
        // bf16 input, f32 target, f16 weight: vector path in steps of eight, outputs bf16.
        (DType::BF16, DType::F32, DType::F16, DType::BF16, None, 0),
        // Odd element offsets: the scalar path; f32 outputs asked for.
        (
            DType::F16,
            DType::BF16,
            DType::F32,
            DType::F16,
            Some(DType::F32),
            3,
        ),
        // Offsets of 2 halves (4 bytes, not 8): scalar path, bf16 outputs.
        (DType::BF16, DType::BF16, DType::BF16, DType::F32, None, 2),
        // 4 elements in (8 bytes for halves): the vector path in steps of four, off the
        // binding's start; f16 outputs of an f32 input.
        (
            DType::F32,
            DType::F16,
            DType::F16,
            DType::F16,
            Some(DType::F16),
            4,
        ),
    ];
    for name in [
        "mse",
        "huber",
        "bce_with_logits",
        "gaussian_nll",
        "poisson_nll",
    ] {
        let loss = catalogue::elementwise(name).unwrap();
        for (j, &(x, y, w, aux, grad, offset)) in mixes.iter().enumerate() {
            let d = Dtypes {
                x,
                y,
                w,
                aux,
                grad,
                offset,
            };
            for (i, &n) in [0usize, 1, 3, 255, 257, 4099].iter().enumerate() {
                let s = rounded(loss, &[n], AuxForm::Default, d, seed + (j * 8 + i) as u64);
                for t in targets() {
                    check(t, loss, &s, d, Reduction::Mean);
                }
            }
            // The extra tensor broadcast along rows.
            if loss.aux.is_some() {
                let s = rounded(loss, &[37, 113], AuxForm::Broadcast, d, seed + 77);
                for t in defaults() {
                    check(t, loss, &s, d, Reduction::Sum);
                }
            }
        }
    }
}

#[test]
fn half_outputs_at_odd_offsets_keep_their_neighbours() {
    let n = 1029;
    let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let y: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
    let sentinel = bf16::from_bits(0x1234);
    for t in targets() {
        let ctx = &t.ctx;
        let xt = ctx.upload_as(&x, &[n], DType::BF16).unwrap();
        let yt = ctx.upload_as(&y, &[n], DType::BF16).unwrap();
        let (xr, yr) = (ctx.download(&xt).unwrap(), ctx.download(&yt).unwrap());
        for skip in [1usize, 2, 3, 4] {
            let room = ctx.upload_bf16(&vec![sentinel; n + 8], &[n + 8]).unwrap();
            let g = ctx
                .wrap_typed(room.buffer(), 2 * skip as u64, &[n], DType::BF16)
                .unwrap();
            ctx.loss("mse")
                .unwrap()
                .input(&xt)
                .target(&yt)
                .reduction(Reduction::Sum)
                .grad_into(&g)
                .run()
                .unwrap();
            let all = ctx.download_bf16(&room).unwrap();
            for (i, v) in all.iter().enumerate() {
                let label = format!("element {i} with the gradient from {skip} on {}", t.name);
                if i < skip || i >= skip + n {
                    assert_eq!(*v, sentinel, "{label}: a neighbour was overwritten");
                } else {
                    let want = 2.0 * (xr[i - skip] - yr[i - skip]);
                    assert_eq!(v.to_bits(), bf16::from_f32(want).to_bits(), "{label}");
                }
            }
        }
    }
}

#[test]
fn a_half_nan_is_reported_with_its_index() {
    let n = 4099;
    for t in targets() {
        let ctx = &t.ctx;
        for (d, at) in [(DType::BF16, 2050usize), (DType::F16, 4097)] {
            let mut x = vec![0.5f32; n];
            x[at] = f32::NAN;
            let xt = ctx.upload_as(&x, &[n], d).unwrap();
            let yt = ctx.upload_as(&vec![0.25; n], &[n], d).unwrap();
            let e = ctx.loss("huber").unwrap().input(&yt).target(&xt).value();
            assert!(
                matches!(e, Err(LossError::NaN { tensor: "target", index, .. }) if index == at as u64),
                "{d:?} NaN at {at} on {}: {e:?}",
                t.name
            );
        }
    }
}

/// Section C's tuple losses, D, F and G read float32 alone: a half tensor
/// is a typed error naming the loss, never a misread buffer. Objectives take what their terms
/// take (elementwise terms read halves; image terms refuse them).
#[test]
fn losses_without_half_kernels_refuse_half_tensors() {
    use gpu_loss::catalogue::{all, Loss};
    use gpu_loss::cpu::named::evaluate_named;
    use gpu_loss::npy::Values;
    use gpu_loss::sample::{named, Size};
    let ctx = &defaults().next().unwrap().ctx;
    for loss in all() {
        // The kernels that read halves (tests/halves_rows.rs has the row losses').
        if loss.takes_halves() {
            continue;
        }
        let mut tensors = named(loss, Size::parse("4096").unwrap(), 5);
        let mut uploaded = Vec::new();
        for (name, a) in &mut tensors {
            let t = match &mut a.values {
                Values::Int(v) => ctx.upload_i64(v, &a.shape).unwrap(),
                Values::Float(v) => {
                    v.iter_mut()
                        .for_each(|x| *x = f64::from(bf16::from_f64(*x)));
                    let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                    ctx.upload_as(&f, &a.shape, DType::BF16).unwrap()
                }
            };
            uploaded.push((name.clone(), t));
        }
        let mut call = ctx.loss(loss.name()).unwrap();
        for (name, t) in &uploaded {
            call = call.tensor(name, t);
        }
        match (loss, call.value()) {
            (Loss::Objective(_), Ok(got)) => {
                let want = evaluate_named(loss.name(), &tensors, &[], Reduction::Mean)
                    .unwrap()
                    .value
                    .unwrap();
                let err = (got as f64 - want).abs() / want.abs().max(1.0);
                assert!(err <= 1e-5, "{}: {got} vs {want}", loss.name());
            }
            (_, Err(LossError::Buffer { tensor, why })) => {
                assert!(
                    tensor.contains(loss.name()) || tensor.contains('['),
                    "{tensor}"
                );
                assert!(why.contains("bfloat16"), "{}: {why}", loss.name());
            }
            (_, other) => panic!("{}: {other:?}", loss.name()),
        }
    }
}

#[test]
fn half_api_misuse_is_a_typed_error() {
    let ctx = &defaults().next().unwrap().ctx;
    let b = ctx.upload_as(&[1.0, 2.0, 3.0], &[3], DType::BF16).unwrap();
    let buffer_error = |r: Result<(), LossError>, what: &str| {
        assert!(matches!(r, Err(LossError::Buffer { .. })), "{what}: {r:?}");
    };
    buffer_error(ctx.write(&b, &[0.0; 3]), "an f32 write into bf16");
    buffer_error(ctx.download_f16(&b).map(drop), "bf16 read as f16");
    let l = ctx.upload_i64(&[1, 2, 3], &[3]).unwrap();
    buffer_error(ctx.cast(&l, DType::F32).map(drop), "a cast of labels");
    buffer_error(ctx.cast(&b, DType::I32).map(drop), "a cast to int32");
    let call = ctx.loss("mse").unwrap().input(&b).target(&b).with_grad();
    buffer_error(
        call.grad_dtype(DType::I64).run().map(drop),
        "int64 gradients",
    );
    // A half tensor's last word must lie in the buffer: 3 bf16 at byte 10 end at 16, 4 at 18.
    let room = ctx.upload(&[0.0; 4], &[4]).unwrap();
    assert!(ctx.wrap_typed(room.buffer(), 10, &[3], DType::BF16).is_ok());
    buffer_error(
        ctx.wrap_typed(room.buffer(), 10, &[4], DType::BF16)
            .map(drop),
        "past the buffer",
    );
    buffer_error(
        ctx.wrap_typed(room.buffer(), 3, &[1], DType::F16).map(drop),
        "an odd byte offset",
    );
    assert_eq!(
        ctx.download(&b).unwrap(),
        [1.0, 2.0, 3.0],
        "halves widen on download"
    );
}

#[test]
fn half_results_are_bit_identical_run_to_run() {
    let n = 100_003;
    let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
    let y: Vec<f32> = (0..n)
        .map(|i| (i as f32 * 0.11).cos() * 0.5 + 0.5)
        .collect();
    for t in targets() {
        let ctx = &t.ctx;
        let xt = ctx.upload_as(&x, &[n], DType::BF16).unwrap();
        let yt = ctx.upload_as(&y, &[n], DType::F16).unwrap();
        let run = || {
            let out = (ctx.loss("bce_with_logits").unwrap())
                .input(&xt)
                .target(&yt)
                .with_grad()
                .run()
                .unwrap();
            let grad = ctx.download_bf16(out.grad.as_ref().unwrap()).unwrap();
            (out.value.unwrap().to_bits(), grad)
        };
        let first = run();
        for _ in 0..3 {
            assert!(
                run() == first,
                "bf16 results differ between runs on {}",
                t.name
            );
        }
    }
}
