//! `gpu-loss compare` end to end: PNGs and .npy files this test writes, compared on every
//! backend found against the float64 twins on the same pixels; the heatmap's size and colours;
//! PNG formats; and bad input (exit 2, one line, no heatmap left behind).

use gpu_loss::cpu::named::evaluate_named;
use gpu_loss::npy::{self, Array, Values};
use gpu_loss::{ParamValue, Reduction};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gpu_loss(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-loss"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the gpu-loss binary runs")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-loss-compare-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a PNG of `samples` (row-major, interleaved; 16-bit ones as u16) and returns its path.
fn write_png(
    path: &Path,
    (w, h): (usize, usize),
    color: png::ColorType,
    depth: png::BitDepth,
    samples: &[u16],
) -> String {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(color);
    enc.set_depth(depth);
    if color == png::ColorType::Indexed {
        // A grey ramp: index k is (k, k, k).
        enc.set_palette((0..=255u8).flat_map(|k| [k, k, k]).collect::<Vec<u8>>());
    }
    let bytes: Vec<u8> = match depth {
        png::BitDepth::Sixteen => samples.iter().flat_map(|s| s.to_be_bytes()).collect(),
        _ => samples.iter().map(|&s| s as u8).collect(),
    };
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(&bytes).unwrap();
    writer.finish().unwrap();
    path.display().to_string()
}

/// A picture with edges and a noisy render of it, as code values up to `max`: equal in the
/// top-left quarter, so the SSIM map is 1 there and lower elsewhere.
fn pictures(w: usize, h: usize, channels: usize, max: f32) -> (Vec<u16>, Vec<u16>) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..h {
        for j in 0..w {
            for c in 0..channels {
                let edge = if (i / 20 + j / 25) % 2 == 0 { 0.2 } else { 0.0 };
                let v = 0.4 + 0.3 * ((0.09 * i as f32) + c as f32).sin() + edge;
                let same = i < h / 4 && j < w / 4;
                let u = if same { v } else { v + 0.15 * noise() };
                a.push((v.clamp(0.0, 1.0) * max).round() as u16);
                b.push((u.clamp(0.0, 1.0) * max).round() as u16);
            }
        }
    }
    (a, b)
}

/// Interleaved code values as the float64 twin's `[1, C, H, W]` array of code / max, where
/// each value is the float32 the command uploads.
fn planes(
    samples: &[u16],
    (w, h): (usize, usize),
    per_pixel: usize,
    keep: usize,
    max: f32,
) -> Array {
    let mut v = vec![0f64; keep * w * h];
    for p in 0..w * h {
        for c in 0..keep {
            v[c * w * h + p] = f64::from(samples[p * per_pixel + c] as f32 / max);
        }
    }
    Array {
        shape: vec![1, keep, h, w],
        values: Values::Float(v),
        dtype: "<f4".into(),
    }
}

fn twin(loss: &str, a: &Array, b: &Array) -> f64 {
    let tensors = [
        ("input".to_string(), a.clone()),
        ("target".to_string(), b.clone()),
    ];
    let none: [(String, ParamValue); 0] = [];
    evaluate_named(loss, &tensors, &none, Reduction::Mean)
        .unwrap()
        .value
        .unwrap()
}

fn run_json(args: &[&str]) -> Value {
    let out = gpu_loss(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Each metric of `json` against the twin's, relative to the value (mse: to its scale).
fn check_metrics(json: &Value, a: &Array, b: &Array, label: &str) {
    for loss in ["mse", "psnr", "ssim", "ms_ssim"] {
        if json[loss].is_null() {
            assert!(
                json["reasons"][loss].is_string(),
                "{label}: {loss} without a reason"
            );
            continue;
        }
        let got = json[loss]
            .as_f64()
            .unwrap_or_else(|| panic!("{label}: {loss}"));
        let want = twin(loss, a, b);
        let err = (got - want).abs() / want.abs().max(1e-12);
        assert!(
            err <= 1e-5,
            "{label}: {loss} {got} vs float64 {want} ({err:.1e})"
        );
    }
}

/// The backends to test: vulkan and gl where found (those named in GPU_LOSS_REQUIRE_BACKENDS
/// must be), at least one.
fn backends() -> Vec<&'static str> {
    let found = |b: &str| {
        gpu_loss::adapters()
            .iter()
            .any(|a| format!("{:?}", a.get_info().backend).eq_ignore_ascii_case(b))
    };
    let required = std::env::var("GPU_LOSS_REQUIRE_BACKENDS").unwrap_or_default();
    for want in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        assert!(
            found(want),
            "GPU_LOSS_REQUIRE_BACKENDS asks for {want}, not found"
        );
    }
    let list: Vec<&str> = ["vulkan", "gl"].into_iter().filter(|b| found(b)).collect();
    assert!(
        !list.is_empty(),
        "{}",
        gpu_loss::LossError::NoAdapter(String::new())
    );
    list
}

fn read_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info, buf)
}

#[test]
fn compare_agrees_with_the_float64_twins_on_every_backend() {
    let dir = scratch_dir("agree");
    // 170 × 163: large enough for ms_ssim's five scales (161), odd sizes for its pooling.
    let size = (170, 163);
    let (a, b) = pictures(size.0, size.1, 3, 255.0);
    let rgb = (png::ColorType::Rgb, png::BitDepth::Eight);
    let pa = write_png(&dir.join("a.png"), size, rgb.0, rgb.1, &a);
    let pb = write_png(&dir.join("b.png"), size, rgb.0, rgb.1, &b);
    let (xa, xb) = (planes(&a, size, 3, 3, 255.0), planes(&b, size, 3, 3, 255.0));
    for backend in backends() {
        let heat = dir.join(format!("heat_{backend}.png"));
        let heat_s = heat.display().to_string();
        let json = run_json(&[
            "compare",
            &pa,
            &pb,
            "--json",
            "--backend",
            backend,
            "--heatmap",
            &heat_s,
        ]);
        assert_eq!(json["adapter"]["backend"], backend);
        assert_eq!(json["files"], serde_json::json!([pa, pb]));
        assert_eq!(
            (&json["width"], &json["height"], &json["channels"]),
            (&Value::from(170), &Value::from(163), &Value::from(3))
        );
        assert!(json["ms_ssim"].is_number(), "{json}");
        check_metrics(&json, &xa, &xb, backend);

        // The heatmap: W × H RGB; the top of the ramp where the images agree, darker where
        // noise was added.
        let (info, px) = read_png(&heat);
        assert_eq!((info.width, info.height), (170, 163));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let at = |i: usize, j: usize| &px[(i * 170 + j) * 3..(i * 170 + j) * 3 + 3];
        for (i, j) in [(5, 5), (20, 30)] {
            let c = at(i, j);
            let top = [253, 231, 37];
            assert!(
                c.iter().zip(top).all(|(&g, w)| g.abs_diff(w) <= 2),
                "{backend}: heatmap at ({i}, {j}) is {c:?}, not the ramp's top"
            );
        }
        let red = |i: usize, j: usize| at(i, j)[0] as f64;
        let far: f64 = (100..110)
            .flat_map(|i| (100..110).map(move |j| (i, j)))
            .map(|(i, j)| red(i, j))
            .sum();
        assert!(
            far / 100.0 < 200.0,
            "{backend}: the noisy region is not darker"
        );
    }

    // The table names each metric once and says psnr in dB.
    let out = gpu_loss(&["compare", &pa, &pb]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for m in ["mse ", "psnr ", "ssim ", "ms_ssim "] {
        assert_eq!(
            text.lines().filter(|l| l.starts_with(m)).count(),
            1,
            "{m}: {text}"
        );
    }
    assert!(text.contains(" dB"), "{text}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn formats_npy_and_identical_images() {
    let dir = scratch_dir("formats");
    let size = (40, 30);
    // 16-bit gray + alpha: alpha dropped, code / 65535; too small for ms_ssim, which says why.
    let (a, b) = pictures(size.0, size.1, 2, 65535.0);
    let ga = (png::ColorType::GrayscaleAlpha, png::BitDepth::Sixteen);
    let pa = write_png(&dir.join("ga_a.png"), size, ga.0, ga.1, &a);
    let pb = write_png(&dir.join("ga_b.png"), size, ga.0, ga.1, &b);
    let json = run_json(&["compare", &pa, &pb, "--json"]);
    assert_eq!(json["channels"], 1);
    assert!(json["ms_ssim"].is_null());
    let why = json["reasons"]["ms_ssim"].as_str().unwrap();
    assert!(why.contains("needs at least 161 px a side"), "{why}");
    check_metrics(
        &json,
        &planes(&a, size, 2, 1, 65535.0),
        &planes(&b, size, 2, 1, 65535.0),
        "gray+alpha 16",
    );

    // A [H, W] float32 .npy against an 8-bit gray PNG of other values.
    let (a8, b8) = pictures(size.0, size.1, 1, 255.0);
    let x = planes(&a8, size, 1, 1, 255.0);
    let npy_path = dir.join("a.npy");
    let xs: Vec<f32> = x.floats().iter().map(|&v| v as f32).collect();
    npy::write_f32(&npy_path, &[30, 40], &xs).unwrap();
    let g8 = (png::ColorType::Grayscale, png::BitDepth::Eight);
    let pb = write_png(&dir.join("g_b.png"), size, g8.0, g8.1, &b8);
    let json = run_json(&["compare", &npy_path.display().to_string(), &pb, "--json"]);
    check_metrics(&json, &x, &planes(&b8, size, 1, 1, 255.0), "npy vs gray 8");

    // Identical pixels as RGBA and as a palette: mse 0, ssim 1, psnr "inf".
    let rgba: Vec<u16> = a8.iter().flat_map(|&v| [v, v, v, 128]).collect();
    let p1 = write_png(
        &dir.join("rgba.png"),
        size,
        png::ColorType::Rgba,
        png::BitDepth::Eight,
        &rgba,
    );
    let p2 = write_png(
        &dir.join("pal.png"),
        size,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        &a8,
    );
    let json = run_json(&["compare", &p1, &p2, "--json", "--window", "7"]);
    assert_eq!(json["channels"], 3);
    assert_eq!(json["mse"], 0.0);
    assert_eq!(json["psnr"], "inf");
    let ssim = json["ssim"].as_f64().unwrap();
    assert!((ssim - 1.0).abs() <= 1e-6, "ssim of equal images: {ssim}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_input_exits_2_with_one_line_and_no_heatmap() {
    let dir = scratch_dir("errors");
    let size = (24, 20);
    let (a, _) = pictures(size.0, size.1, 3, 255.0);
    let rgb = (png::ColorType::Rgb, png::BitDepth::Eight);
    let good = write_png(&dir.join("good.png"), size, rgb.0, rgb.1, &a);
    let wider = write_png(
        &dir.join("wider.png"),
        (25, 20),
        rgb.0,
        rgb.1,
        &pictures(25, 20, 3, 255.0).0,
    );
    let gray = write_png(
        &dir.join("gray.png"),
        size,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
        &a[..480],
    );
    let text = dir.join("text.png");
    std::fs::write(&text, "not a picture").unwrap();
    let cut = dir.join("cut.png");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let nan = dir.join("nan.npy");
    let mut v = vec![0.5f32; 3 * 20 * 24];
    v[24 * 20 + 24 + 3] = f32::NAN;
    npy::write_f32(&nan, &[3, 20, 24], &v).unwrap();
    let rank4 = dir.join("rank4.npy");
    npy::write_f32(&rank4, &[1, 3, 20, 24], &v).unwrap();
    let (text, cut, nan, rank4) = (
        text.display().to_string(),
        cut.display().to_string(),
        nan.display().to_string(),
        rank4.display().to_string(),
    );
    let missing = dir.join("missing.png").display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![&good, &missing], "missing.png"),
        (vec![&text, &good], "not a PNG or .npy file"),
        (vec![&cut, &good], "cut.png"),
        (vec![&good, &wider], "24 × 20 with 3 channels but"),
        (vec![&good, &gray], "with 1 channel:"),
        (vec![&nan, &good], "pixel [1, 1, 3] is NaN"),
        (vec![&rank4, &good], "expected [C, H, W] or [H, W]"),
        (vec![&good, &good, "--window", "4"], "window"),
        (vec![&good, &good, "--data-range", "0"], "data_range"),
        (vec![&good, &good, "--backend", "cpu"], "runs on a GPU"),
    ];
    let heat = dir.join("heat.png").display().to_string();
    let before: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for (files, says) in cases {
        let mut args = vec!["compare"];
        args.extend(files.iter().copied());
        args.extend(["--heatmap", &heat]);
        let out = gpu_loss(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("gpu-loss: ") && err.contains(says),
            "{args:?}: {err}"
        );
        let after: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(after.len(), before.len(), "{args:?} left {after:?}");
    }
    std::fs::remove_dir_all(dir).ok();
}
