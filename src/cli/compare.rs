//! `gpu-loss compare A B`: two images (PNG or `.npy`) on the GPU: mse, psnr, ssim and ms_ssim
//! as a table or one JSON object, and the SSIM map as a colour picture.

use super::eval::{context, number};
use super::heatmap;
use super::staged::Staged;
use gpu_loss::catalogue;
use gpu_loss::npy::Array;
use gpu_loss::{GpuContext, LossError, ParamValue, Reduction, Result, Tensor};
use serde_json::json;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "PNG pixels are code values / (2^bits - 1), no gamma decoding; \
    an alpha channel is dropped. Gray, gray+alpha, RGB, RGBA and palette PNGs of 1 to 16 \
    bits are read; .npy arrays are [C, H, W] or [H, W] floats, taken as they are. ssim and \
    ms_ssim are pytorch_msssim's (padding valid); the heatmap is the SSIM map with padding \
    same (H x W), averaged over channels, from 0 or less (dark purple) to 1 (yellow)."
)]
pub struct CompareArgs {
    /// The first image: a PNG or a .npy file.
    a: PathBuf,
    /// The second image, of the same size and channels.
    b: PathBuf,
    /// auto, vulkan, gl, metal or dx12.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Only an adapter whose name contains this.
    #[arg(long, value_name = "NAME")]
    adapter: Option<String>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Write the SSIM map (padding same) as a colour-mapped PNG.
    #[arg(long, value_name = "FILE.png")]
    heatmap: Option<PathBuf>,
    /// The Gaussian window of ssim and ms_ssim (odd, 3 to 15).
    #[arg(long, value_name = "N", default_value_t = 11)]
    window: usize,
    /// The pixels' range, for psnr, ssim and ms_ssim (PNGs are read into [0, 1]).
    #[arg(long, value_name = "L", default_value_t = 1.0)]
    data_range: f64,
}

/// Why two files cannot be compared, beyond what the readers say.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{a} is {a_size} but {b} is {b_size}: compare needs two images of one size")]
    Sizes {
        a: String,
        a_size: String,
        b: String,
        b_size: String,
    },
    #[error("{path}: {why}")]
    Unreadable { path: String, why: String },
}

impl From<CompareError> for LossError {
    fn from(e: CompareError) -> LossError {
        match e {
            CompareError::Unreadable { path, why } => LossError::File { path, why },
            sizes => LossError::Usage(sizes.to_string()),
        }
    }
}

/// An image as planes: `channels × height × width`, row-major.
pub struct Image {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<f32>,
}

impl Image {
    fn size(&self) -> String {
        let s = if self.channels == 1 { "" } else { "s" };
        format!(
            "{} × {} with {} channel{s}",
            self.width, self.height, self.channels
        )
    }
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
/// Decoded PNGs larger than this are refused before anything is allocated (a header may
/// claim 2^31 × 2^31 pixels).
const MAX_PNG_BYTES: usize = 1 << 30;

fn unreadable(path: &Path, why: impl std::fmt::Display) -> CompareError {
    CompareError::Unreadable {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// Reads a PNG or a `.npy` file, told apart by their first bytes, not by the name.
pub fn load(path: &Path) -> Result<Image, CompareError> {
    let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut head = [0u8; 8];
    let n = file.read(&mut head).map_err(|e| unreadable(path, e))?;
    drop(file);
    if head[..n].starts_with(PNG_MAGIC) {
        let file = File::open(path).map_err(|e| unreadable(path, e))?;
        decode_png(file).map_err(|why| unreadable(path, why))
    } else if head[..n].starts_with(NPY_MAGIC) {
        let array = Array::read(path).map_err(|e| unreadable(path, npy_why(e)))?;
        from_array(&array).map_err(|why| unreadable(path, why))
    } else {
        Err(unreadable(path, "not a PNG or .npy file"))
    }
}

/// The reader's reason without the path it already carries.
fn npy_why(e: LossError) -> String {
    match e {
        LossError::File { why, .. } => why,
        other => other.to_string(),
    }
}

fn from_array(a: &Array) -> Result<Image, String> {
    let (channels, height, width) = match a.shape[..] {
        [h, w] => (1, h, w),
        [c, h, w] => (c, h, w),
        _ => return Err(format!("shape {:?}: expected [C, H, W] or [H, W]", a.shape)),
    };
    if a.is_empty() {
        return Err(format!("shape {:?} holds no pixels", a.shape));
    }
    let pixels = a.f32s();
    // Said here with the pixel's place, rather than by the GPU as an index into `input`.
    if let Some(e) = pixels.iter().position(|v| !v.is_finite()) {
        let (c, i, j) = (e / (height * width), e / width % height, e % width);
        return Err(format!("pixel [{c}, {i}, {j}] is {}", pixels[e]));
    }
    Ok(Image {
        channels,
        height,
        width,
        pixels,
    })
}

fn decode_png(file: File) -> Result<Image, String> {
    let mut decoder = png::Decoder::new(BufReader::new(file));
    // Palettes become RGB(A), 1–4-bit gray becomes 8-bit (scaled), tRNS becomes alpha.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let bytes = reader
        .output_buffer_size()
        .filter(|&b| b <= MAX_PNG_BYTES)
        .ok_or_else(|| {
            let (w, h) = reader.info().size();
            format!("{w} × {h} pixels is more than compare reads")
        })?;
    let mut buf = vec![0u8; bytes];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let (samples, channels) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => return Err("a palette the decoder did not expand".into()),
    };
    let wide = info.bit_depth == png::BitDepth::Sixteen;
    let max = if wide { 65535.0 } else { 255.0 };
    let (width, height) = (info.width as usize, info.height as usize);
    let plane = width * height;
    let mut pixels = vec![0f32; channels * plane];
    for (i, row) in buf.chunks(info.line_size).take(height).enumerate() {
        for j in 0..width {
            for c in 0..channels {
                let s = j * samples + c;
                let code = match wide {
                    true => u16::from_be_bytes([row[2 * s], row[2 * s + 1]]) as f32,
                    false => row[s] as f32,
                };
                pixels[c * plane + i * width + j] = code / max;
            }
        }
    }
    Ok(Image {
        channels,
        height,
        width,
        pixels,
    })
}

/// One row of the result: a value, or why there is none.
struct Metric {
    name: &'static str,
    value: std::result::Result<f32, String>,
}

/// The value as float32 prints it: the GPU's digits, not float64's widening of them.
fn shortest(v: f32) -> serde_json::Value {
    number(v.to_string().parse::<f64>().unwrap_or(f64::NAN))
}

pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    if args.backend == "cpu" {
        return Err(LossError::Usage(
            "--backend cpu: compare runs on a GPU (auto, vulkan, gl, metal or dx12)".into(),
        ));
    }
    // The window and range are checked as ssim checks them, also when no ssim runs.
    let ssim = catalogue::find("ssim").expect("ssim is in the catalogue");
    let given = [
        ("window".to_string(), ParamValue::Number(args.window as f64)),
        (
            "data_range".to_string(),
            ParamValue::Number(args.data_range),
        ),
    ];
    gpu_loss::params::resolve(ssim.name(), ssim.params(), &given)?;
    let mut staged = Staged::open(
        &args
            .heatmap
            .iter()
            .map(PathBuf::as_path)
            .collect::<Vec<_>>(),
    )?;
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    if (a.channels, a.height, a.width) != (b.channels, b.height, b.width) {
        return Err(CompareError::Sizes {
            a: args.a.display().to_string(),
            a_size: a.size(),
            b: args.b.display().to_string(),
            b_size: b.size(),
        }
        .into());
    }
    let ctx = context(&args.backend, args.adapter.as_deref())?;
    let shape = [1, a.channels, a.height, a.width];
    let (x, y) = (
        ctx.upload(&a.pixels, &shape)?,
        ctx.upload(&b.pixels, &shape)?,
    );
    let metrics = metrics(&ctx, &x, &y, &a, &given)?;
    if args.heatmap.is_some() {
        let map = ssim_map(&ctx, &x, &y, &given)?;
        let png = heatmap::png(a.width, a.height, &map).map_err(|why| LossError::File {
            path: args
                .heatmap
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            why,
        })?;
        staged.write_bytes(0, &png)?;
    }
    staged.commit()?;
    let info = ctx.adapter_info();
    let backend = format!("{:?}", info.backend).to_lowercase();
    if args.json {
        let mut report = json!({
            "adapter": {"name": info.name, "backend": backend},
            "files": [args.a.display().to_string(), args.b.display().to_string()],
            "width": a.width,
            "height": a.height,
            "channels": a.channels,
            "window": args.window,
            "data_range": args.data_range,
        });
        let mut reasons = serde_json::Map::new();
        for m in &metrics {
            report[m.name] = match &m.value {
                Ok(v) => shortest(*v),
                Err(why) => {
                    reasons.insert(m.name.to_string(), json!(why));
                    serde_json::Value::Null
                }
            };
        }
        report["reasons"] = serde_json::Value::Object(reasons);
        report["heatmap"] = json!(args.heatmap.as_ref().map(|p| p.display().to_string()));
        println!("{report}");
    } else {
        println!(
            "{} vs {}: {}, on {} ({backend})",
            args.a.display(),
            args.b.display(),
            a.size(),
            info.name
        );
        println!("{:<8} value", "metric");
        for m in &metrics {
            let text = match (&m.value, m.name) {
                (Ok(v), "psnr") => format!("{} dB", text(*v)),
                (Ok(v), _) => text(*v),
                (Err(why), _) => format!("- ({why})"),
            };
            println!("{:<8} {text}", m.name);
        }
        if let Some(p) = &args.heatmap {
            println!("heatmap  {} (SSIM map, padding same)", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// float32's shortest digits; an exponent for the very small or large (a close fit's mse).
fn text(v: f32) -> String {
    match v.abs() {
        a if a != 0.0 && a.is_finite() && !(1e-3..1e6).contains(&a) => format!("{v:e}"),
        _ => v.to_string(),
    }
}

/// mse, psnr, ssim and ms_ssim; the last two only where their windows fit (else why not).
fn metrics(
    ctx: &GpuContext,
    x: &Tensor,
    y: &Tensor,
    img: &Image,
    given: &[(String, ParamValue)],
) -> Result<Vec<Metric>> {
    let window = match given[0].1 {
        ParamValue::Number(w) => w as usize,
        _ => unreachable!("the window is a number"),
    };
    let side = img.height.min(img.width);
    let call = |loss: &str, params: &[(String, ParamValue)]| -> Result<f32> {
        let mut call = ctx.loss(loss)?.input(x).target(y);
        for (k, v) in params {
            call = call.param(k, v.clone());
        }
        call.value()
    };
    // ms_ssim's five scales halve the image four times, each leaving room for the window.
    let fits = |least: usize, what: &str| -> std::result::Result<(), String> {
        match side >= least {
            true => Ok(()),
            false => Err(format!(
                "needs at least {least} px a side{what}, the image is {} × {}",
                img.width, img.height
            )),
        }
    };
    Ok(vec![
        Metric {
            name: "mse",
            value: Ok(call("mse", &[])?),
        },
        Metric {
            name: "psnr",
            value: Ok(call("psnr", &given[1..])?),
        },
        Metric {
            name: "ssim",
            value: match fits(window, "") {
                Ok(()) => Ok(call("ssim", given)?),
                Err(why) => Err(why),
            },
        },
        Metric {
            name: "ms_ssim",
            value: match fits((window - 1) * 16 + 1, " for 5 scales") {
                Ok(()) => Ok(call("ms_ssim", given)?),
                Err(why) => Err(why),
            },
        },
    ])
}

/// The SSIM map with padding same (H × W), averaged over the channels.
fn ssim_map(
    ctx: &GpuContext,
    x: &Tensor,
    y: &Tensor,
    given: &[(String, ParamValue)],
) -> Result<Vec<f32>> {
    let mut call = ctx
        .loss("ssim")?
        .input(x)
        .target(y)
        .param("padding", "same")
        .reduction(Reduction::None);
    for (k, v) in given {
        call = call.param(k, v.clone());
    }
    let out = call.run()?;
    let map = out
        .elements
        .as_ref()
        .ok_or_else(|| LossError::Gpu("ssim gave no map".into()))?;
    let (c, plane) = (x.shape()[1], x.shape()[2] * x.shape()[3]);
    let all = ctx.download(map)?;
    Ok((0..plane)
        .map(|p| (0..c).map(|k| all[k * plane + p]).sum::<f32>() / c as f32)
        .collect())
}
