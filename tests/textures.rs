//! A renderer's textures read in place: every format a loss takes, the channels picked, the
//! image losses and the plain elementwise ones, against the same values in buffers (whose
//! path tests/images.rs and tests/elementwise.rs check against the float64 twins); and the
//! refusals: formats, usage, channels, textures where a buffer is needed.

mod common;

use common::{defaults, normwise_error, seed, Target};
use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{Array, Values};
use gpu_loss::{LossError, ParamValue, Reduction, Tensor};
use half::f16;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgpu::TextureFormat as F;

/// A `w × h` texture of `format` holding `texels` (4 values each, or 1 for r32float) as the
/// format stores them; returns it and the f32 values a shader reads, [4 (or 1), H, W].
fn texture(t: &Target, format: F, w: u32, h: u32, texels: &[f32]) -> (wgpu::Texture, Vec<f32>) {
    let channels = if format == F::R32Float { 1 } else { 4 };
    let tex = t.ctx.device().create_texture(&wgpu::TextureDescriptor {
        label: Some("test image"),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let srgb = |v: f32| {
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let (bytes, read): (Vec<u8>, Vec<f32>) = match format {
        F::Rgba8Unorm | F::Rgba8UnormSrgb | F::Bgra8Unorm | F::Bgra8UnormSrgb => {
            let codes: Vec<u8> = texels.iter().map(|v| (v * 255.0).round() as u8).collect();
            let mut stored = codes.clone();
            if matches!(format, F::Bgra8Unorm | F::Bgra8UnormSrgb) {
                stored.chunks_mut(4).for_each(|p| p.swap(0, 2));
            }
            let linear = matches!(format, F::Rgba8UnormSrgb | F::Bgra8UnormSrgb);
            let read = codes
                .iter()
                .map(|&c| c as f32 / 255.0)
                .map(|v| if linear { srgb(v) } else { v })
                .collect();
            (stored, read)
        }
        F::Rgba16Float => {
            let halves: Vec<f16> = texels.iter().map(|&v| f16::from_f32(v)).collect();
            let read = halves.iter().map(|h| h.to_f32()).collect();
            let bytes = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
            (bytes, read)
        }
        _ => (bytemuck::cast_slice(texels).to_vec(), texels.to_vec()),
    };
    let texel_bytes = (bytes.len() / (w * h) as usize) as u32;
    t.ctx.queue().write_texture(
        tex.as_image_copy(),
        &bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(w * texel_bytes),
            rows_per_image: Some(h),
        },
        tex.size(),
    );
    // Texel-major [H, W, C] to plane-major [C, H, W].
    let plane = (w * h) as usize;
    let planes = (0..channels * plane)
        .map(|e| read[(e % plane) * channels + e / plane])
        .collect();
    (tex, planes)
}

/// A picture and a render of it, as texels in [0, 1].
fn pictures(w: usize, h: usize, channels: usize, rng: &mut StdRng) -> (Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = (0..w * h * channels)
        .map(|e| {
            let (i, j) = ((e / channels / w) as f32, (e / channels % w) as f32);
            (0.5 + 0.3 * (0.3 * i).sin() * (0.2 * j + e as f32 % 3.0).cos()
                + rng.random_range(-0.1f32..0.1))
            .clamp(0.0, 1.0)
        })
        .collect();
    let y = x
        .iter()
        .map(|v| (v + rng.random_range(-0.08f32..0.08)).clamp(0.0, 1.0))
        .collect();
    (x, y)
}

/// The planes `pick` of `[C, H, W]` values.
fn planes(values: &[f32], plane: usize, pick: &[u32]) -> Vec<f32> {
    pick.iter()
        .flat_map(|&c| values[c as usize * plane..(c as usize + 1) * plane].to_vec())
        .collect()
}

/// `loss` on the texture tensors and on buffers holding what they read: value, per-element
/// output and gradient agree; and the texture's value and gradient agree with the float64
/// twin on those values (to the sRGB decode's precision, `tol`, where that is looser).
#[allow(clippy::too_many_arguments)]
fn same_as_buffers(
    t: &Target,
    loss: &str,
    (x, y): (&Tensor, &Tensor),
    (bx, by): (&Tensor, &Tensor),
    params: &[(&str, &str)],
    reduction: Reduction,
    (label, tol): (&str, f64),
) {
    let run = |a: &Tensor, b: &Tensor| {
        let mut call = t
            .ctx
            .loss(loss)
            .unwrap()
            .input(a)
            .target(b)
            .reduction(reduction)
            .with_grad();
        for (k, v) in params {
            call = call.param(k, gpu_loss::ParamValue::parse(v));
        }
        call.run().unwrap_or_else(|e| panic!("{label}: {e}"))
    };
    let (tex, buf) = (run(x, y), run(bx, by));
    let array = |b: &Tensor| Array {
        shape: b.shape().to_vec(),
        values: Values::Float(
            t.ctx
                .download(b)
                .unwrap()
                .iter()
                .map(|&v| v as f64)
                .collect(),
        ),
        dtype: "<f4".into(),
    };
    let given: Vec<(String, ParamValue)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::parse(v)))
        .collect();
    let tensors = [
        ("input".to_string(), array(bx)),
        ("target".to_string(), array(by)),
    ];
    let want = evaluate_named(loss, &tensors, &given, reduction).expect("the twin");
    if let (Some(a), Some(w)) = (tex.value, want.value) {
        let err = (a as f64 - w).abs() / w.abs().max(1e-3);
        assert!(
            err <= tol.max(1e-5),
            "{label}: texture {a} vs float64 {w} ({err:.1e})"
        );
    }
    let grad = t.ctx.download(tex.grad.as_ref().unwrap()).unwrap();
    let err = normwise_error(&grad, &want.grads[0].1);
    assert!(
        err <= (5.0 * tol).max(1e-4),
        "{label}: gradient vs float64 {err:.1e}"
    );
    if let (Some(a), Some(b)) = (tex.value, buf.value) {
        assert!(
            ((a - b).abs() as f64) <= tol * b.abs().max(1e-3) as f64,
            "{label}: texture {a} vs buffer {b}"
        );
    }
    let pairs = [
        (tex.grad.as_ref(), buf.grad.as_ref()),
        (tex.elements.as_ref(), buf.elements.as_ref()),
    ];
    for (a, b) in pairs {
        if let (Some(a), Some(b)) = (a, b) {
            let b: Vec<f64> = t
                .ctx
                .download(b)
                .unwrap()
                .iter()
                .map(|&v| v as f64)
                .collect();
            let err = normwise_error(&t.ctx.download(a).unwrap(), &b);
            assert!(err <= 5.0 * tol, "{label}: texture vs buffer {err:.1e}");
        }
    }
}

#[test]
fn every_format_reads_as_its_values() {
    let (w, h) = (37u32, 29u32);
    let mut rng = StdRng::seed_from_u64(seed());
    let (xv, yv) = pictures(w as usize, h as usize, 4, &mut rng);
    let plane = (w * h) as usize;
    let formats = [
        F::Rgba8Unorm,
        F::Rgba8UnormSrgb,
        F::Bgra8Unorm,
        F::Bgra8UnormSrgb,
        F::Rgba16Float,
        F::Rgba32Float,
    ];
    for t in defaults() {
        for format in formats {
            let (xt, xr) = texture(t, format, w, h, &xv);
            let (yt, yr) = texture(t, format, w, h, &yv);
            for pick in [&[0u32, 1, 2][..], &[2, 0]] {
                let label = format!("{format:?} channels {pick:?} on {}", t.name);
                // Drivers decode sRGB to about 8 bits of their own (Vulkan allows it), not
                // to the exact curve the buffers hold here.
                let srgb = matches!(format, F::Rgba8UnormSrgb | F::Bgra8UnormSrgb);
                let tol = if srgb { 3e-2 } else { 2e-6 };
                let x = t.ctx.wrap_texture(&xt, pick).unwrap();
                let y = t.ctx.wrap_texture(&yt, pick).unwrap();
                assert_eq!(x.shape(), [pick.len(), h as usize, w as usize], "{label}");
                let shape = x.shape().to_vec();
                let bx = t.ctx.upload(&planes(&xr, plane, pick), &shape).unwrap();
                let by = t.ctx.upload(&planes(&yr, plane, pick), &shape).unwrap();
                for loss in ["mse", "mae", "charbonnier", "psnr"] {
                    let label = format!("{loss} {label}");
                    let (pair, bufs) = ((&x, &y), (&bx, &by));
                    same_as_buffers(t, loss, pair, bufs, &[], Reduction::Mean, (&label, tol));
                }
                let same = [("padding", "same")];
                let at = (label.as_str(), tol);
                same_as_buffers(t, "ssim", (&x, &y), (&bx, &by), &same, Reduction::None, at);
                // The renderer's frame against a reference in a buffer.
                same_as_buffers(t, "ssim", (&x, &by), (&bx, &by), &[], Reduction::Mean, at);
            }
        }
    }
}

#[test]
fn ms_ssim_splatting_and_one_channel_textures() {
    let (w, h) = (70u32, 66u32);
    let mut rng = StdRng::seed_from_u64(seed() + 1);
    let (xv, yv) = pictures(w as usize, h as usize, 1, &mut rng);
    for t in defaults() {
        let (xt, xr) = texture(t, F::R32Float, w, h, &xv);
        let (yt, yr) = texture(t, F::R32Float, w, h, &yv);
        let (x, y) = (
            t.ctx.wrap_texture(&xt, &[0]).unwrap(),
            t.ctx.wrap_texture(&yt, &[0]).unwrap(),
        );
        let shape = [1, h as usize, w as usize];
        let (bx, by) = (
            t.ctx.upload(&xr, &shape).unwrap(),
            t.ctx.upload(&yr, &shape).unwrap(),
        );
        let label = format!("r32float on {}", t.name);
        let window = [("window", "3")];
        for reduction in [Reduction::Mean, Reduction::None] {
            let at = (label.as_str(), 2e-6);
            same_as_buffers(t, "ms_ssim", (&x, &y), (&bx, &by), &window, reduction, at);
        }
        let at = (label.as_str(), 2e-6);
        same_as_buffers(
            t,
            "splatting",
            (&x, &y),
            (&bx, &by),
            &[],
            Reduction::Mean,
            at,
        );
    }
}

/// A NaN texel is named by its flat index [C, H, W] as a buffer's would be, in the input and
/// in the target, by the elementwise losses and psnr on textures.
#[test]
fn nan_texels_are_named() {
    let (w, h) = (13u32, 11u32);
    let n = (w * h) as usize;
    for t in defaults() {
        for (tensor, at) in [("input", 100usize), ("target", 37)] {
            let mut xv = vec![0.25f32; n];
            let mut yv = vec![0.5f32; n];
            let (bad, other) = if tensor == "input" {
                (&mut xv, 130)
            } else {
                (&mut yv, 120)
            };
            bad[at] = f32::NAN;
            bad[other] = f32::NAN;
            let (xt, _) = texture(t, F::R32Float, w, h, &xv);
            let (yt, _) = texture(t, F::R32Float, w, h, &yv);
            let x = t.ctx.wrap_texture(&xt, &[0]).unwrap();
            let y = t.ctx.wrap_texture(&yt, &[0]).unwrap();
            for loss in ["mse", "psnr"] {
                let e = t.ctx.loss(loss).unwrap().input(&x).target(&y).value();
                let want = LossError::NaN {
                    loss: if loss == "mse" { "mse" } else { "psnr" },
                    tensor: if tensor == "input" { "input" } else { "target" },
                    index: at as u64,
                };
                assert_eq!(e, Err(want), "{loss} {tensor} on {}", t.name);
            }
        }
    }
}

#[test]
fn textures_are_refused_where_they_cannot_be_read() {
    let t = defaults().next().unwrap();
    let make = |format: F, usage: wgpu::TextureUsages| {
        t.ctx.device().create_texture(&wgpu::TextureDescriptor {
            label: None,
            size: wgpu::Extent3d {
                width: 8,
                height: 8,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage,
            view_formats: &[],
        })
    };
    let binding = wgpu::TextureUsages::TEXTURE_BINDING;
    let texture_error = |r: Result<Tensor, LossError>, why: &str| match r {
        Err(LossError::Texture { why: w, .. }) => assert!(w.contains(why), "{w}"),
        other => panic!("expected a texture error ({why}), got {other:?}"),
    };
    texture_error(
        t.ctx.wrap_texture(&make(F::Rgba8Snorm, binding), &[0]),
        "format",
    );
    texture_error(
        t.ctx
            .wrap_texture(&make(F::Rgba8Unorm, wgpu::TextureUsages::COPY_DST), &[0]),
        "TEXTURE_BINDING",
    );
    texture_error(
        t.ctx.wrap_texture(&make(F::R32Float, binding), &[1]),
        "no channel 1",
    );
    texture_error(
        t.ctx.wrap_texture(&make(F::Rgba8Unorm, binding), &[]),
        "0 channels",
    );

    let frame = t
        .ctx
        .wrap_texture(&make(F::Rgba8Unorm, binding), &[0, 1, 2])
        .unwrap();
    let buffer = t.ctx.upload(&vec![0.5; 3 * 64], &[3, 8, 8]).unwrap();
    let labels = t.ctx.upload_i64(&[0, 1, 2], &[3]).unwrap();
    let refused = |e: LossError| assert!(matches!(e, LossError::Texture { .. }), "{e}");
    refused(t.ctx.download(&frame).unwrap_err());
    let ce = t
        .ctx
        .loss("cross_entropy")
        .unwrap()
        .input(&frame)
        .target(&labels);
    refused(ce.value().unwrap_err());
    let weighted = t
        .ctx
        .loss("mse")
        .unwrap()
        .input(&buffer)
        .target(&buffer)
        .weight(&frame);
    refused(weighted.value().unwrap_err());
    let into = t
        .ctx
        .loss("mse")
        .unwrap()
        .input(&buffer)
        .target(&buffer)
        .grad_into(&frame);
    refused(into.run().unwrap_err());
}
