//! One GAN training step's objectives for a small batch: the discriminator's and the generator's
//! losses of every kind, then pix2pix's and CycleGAN's generator objectives, each with its
//! per-term breakdown and the gradients a trainer would back-propagate. Each objective runs as one
//! submission with one readback; the float64 reference (the same terms on the host) is printed
//! beside it.
//!
//! `cargo run --release --example gan_losses`

use gpu_loss::catalogue;
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::sample::normal;
use gpu_loss::{GpuContext, ParamValue, Reduction, Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BATCH: usize = 8;
/// The images of the batch: [BATCH, 3, 32, 32].
const IMAGE: [usize; 4] = [BATCH, 3, 32, 32];

/// One named tensor, on the host (for the reference) and on the GPU.
struct Named {
    name: &'static str,
    host: Array,
    gpu: Tensor,
}

fn named(ctx: &GpuContext, name: &'static str, shape: &[usize], values: Vec<f32>) -> Result<Named> {
    Ok(Named {
        name,
        gpu: ctx.upload(&values, shape)?,
        host: Array {
            shape: shape.to_vec(),
            values: Values::Float(values.into_iter().map(f64::from).collect()),
            dtype: "<f4".into(),
        },
    })
}

/// Runs `objective` with these tensors and parameters; prints the total, each term beside
/// the reference, and the gradients' sizes.
fn show(
    ctx: &GpuContext,
    objective: &str,
    tensors: &[&Named],
    params: &[(&str, ParamValue)],
) -> Result<()> {
    let mut call = ctx.loss(objective)?.with_grad();
    for t in tensors {
        call = call.tensor(t.name, &t.gpu);
    }
    for (k, v) in params {
        call = call.param(k, v.clone());
    }
    let out = call.run()?;

    let host: Vec<(String, Array)> = tensors
        .iter()
        .map(|t| (t.name.to_string(), t.host.clone()))
        .collect();
    let host_params: Vec<(String, ParamValue)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let want = evaluate_named(objective, &host, &host_params, Reduction::Mean)?;

    let mut described: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if described.is_empty() {
        described.push("default parameters".into());
    }
    println!(
        "\n{objective} ({})\n  {:<16} {:>12} {:>14}",
        described.join(", "),
        "term",
        "GPU",
        "float64"
    );
    for ((name, got), (_, w)) in out.terms.iter().zip(&want.terms) {
        println!("  {name:<16} {got:>12.6} {w:>14.8}");
    }
    println!(
        "  {:<16} {:>12.6} {:>14.8}",
        "total",
        out.value.unwrap_or(f32::NAN),
        want.value.unwrap_or(f64::NAN)
    );
    // `grad` is for the objective's first differentiable tensor, `other_grads` name the rest.
    let first = catalogue::find(objective).map(|l| l.grad_tensors()[0]);
    let grads = out
        .grad
        .iter()
        .map(|g| (first.unwrap_or("?"), g))
        .chain(out.other_grads.iter().map(|(n, g)| (*n, g)));
    for (name, g) in grads {
        let v = ctx.download(g)?;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        println!(
            "  d total / d {name:<12} shape {:?}, norm {norm:.6}",
            g.shape()
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let ctx = GpuContext::new()?;
    println!("on {}", ctx.adapter_name());
    let mut rng = StdRng::seed_from_u64(11);
    let mut draw = |n: usize, scale: f32, shift: f32| -> Vec<f32> {
        (0..n).map(|_| shift + scale * normal(&mut rng)).collect()
    };
    // The discriminator's logits: fairly sure of the real batch, unsure of the fakes.
    let real = named(&ctx, "real", &[BATCH], draw(BATCH, 0.5, 1.5))?;
    let fake = named(&ctx, "fake", &[BATCH], draw(BATCH, 0.5, -0.5))?;
    // The generator's output and the paired target (pix2pix), a little apart.
    let n_image: usize = IMAGE.iter().product();
    let target_pixels = draw(n_image, 0.5, 0.0);
    let generated_pixels: Vec<f32> = target_pixels
        .iter()
        .zip(draw(n_image, 0.1, 0.0))
        .map(|(t, e)| t + e)
        .collect();
    let generated = named(&ctx, "generated", &IMAGE, generated_pixels)?;
    let target = named(&ctx, "target", &IMAGE, target_pixels)?;

    let word = |s: &str| ParamValue::Word(s.to_string());
    for kind in ["standard", "lsgan", "wgan", "hinge"] {
        show(
            &ctx,
            "gan_discriminator",
            &[&real, &fake],
            &[("kind", word(kind))],
        )?;
    }
    for kind in ["non_saturating", "minimax", "lsgan", "wgan", "hinge"] {
        show(&ctx, "gan_generator", &[&fake], &[("kind", word(kind))])?;
    }
    show(
        &ctx,
        "pix2pix_generator",
        &[&fake, &generated, &target],
        &[
            ("gan", word("non_saturating")),
            ("lambda", ParamValue::Number(100.0)),
        ],
    )?;

    // CycleGAN: two generators, two discriminators' views, cycles and identities.
    let image = |name: &'static str, base: &[f32], noise: f32, rng: &mut StdRng| {
        let v: Vec<f32> = base.iter().map(|x| x + noise * normal(rng)).collect();
        named(&ctx, name, &IMAGE, v)
    };
    let mut rng = StdRng::seed_from_u64(12);
    let x_pixels: Vec<f32> = (0..n_image).map(|_| normal(&mut rng)).collect();
    let y_pixels: Vec<f32> = (0..n_image).map(|_| normal(&mut rng)).collect();
    let x = image("x", &x_pixels, 0.0, &mut rng)?;
    let y = image("y", &y_pixels, 0.0, &mut rng)?;
    let x_cycled = image("x_cycled", &x_pixels, 0.2, &mut rng)?;
    let y_cycled = image("y_cycled", &y_pixels, 0.2, &mut rng)?;
    let x_identity = image("x_identity", &x_pixels, 0.05, &mut rng)?;
    let y_identity = image("y_identity", &y_pixels, 0.05, &mut rng)?;
    let d_y_fake = named(
        &ctx,
        "d_y_fake",
        &[BATCH],
        (0..BATCH).map(|_| normal(&mut rng)).collect(),
    )?;
    let d_x_fake = named(
        &ctx,
        "d_x_fake",
        &[BATCH],
        (0..BATCH).map(|_| normal(&mut rng)).collect(),
    )?;
    show(
        &ctx,
        "cyclegan_generator",
        &[
            &x,
            &y,
            &x_cycled,
            &y_cycled,
            &x_identity,
            &y_identity,
            &d_y_fake,
            &d_x_fake,
        ],
        &[],
    )?;
    Ok(())
}
