//! Style transfer without a network: an image's pixels optimised by gradient descent (Adam) on
//! content + style + total variation, every loss and its gradient computed on the GPU.
//!
//! The "features" are fixed filters (the pixel itself, horizontal and vertical differences, a
//! Laplacian) of each colour channel, at full and at half resolution: layer 1 and layer 2.
//! content_loss compares layer 1 with the content image's; style_loss compares the Gram
//! matrices of both layers with the style image's (one call over the two layers, weighted);
//! total_variation smooths the pixels. The filters' backward pass (their transposes) runs on
//! the host. The terms are printed as they fall and the result is written as a PNG.
//!
//! `cargo run --release --example style_transfer [-- OUT.png]`

use gpu_loss::{GpuContext, Result, StyleLayer, Tensor};

const SIZE: usize = 64;
const CHANNELS: usize = 3;
const STEPS: usize = 300;
const LEARNING_RATE: f32 = 0.02;
const CONTENT_WEIGHT: f64 = 1.0;
const STYLE_WEIGHTS: [f64; 2] = [5000.0, 5000.0];
const TV_WEIGHT: f64 = 0.01;

/// The fixed 3×3 filters: the pixel, d/dx, d/dy, a Laplacian.
const FILTERS: [[f32; 9]; 4] = [
    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, -0.5, 0.0, 0.5, 0.0, 0.0, 0.0],
    [0.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0],
    [0.0, 0.25, 0.0, 0.25, -1.0, 0.25, 0.0, 0.25, 0.0],
];

/// An image: CHANNELS planes of side × side, row-major.
#[derive(Clone)]
struct Image {
    side: usize,
    pixels: Vec<f32>,
}

impl Image {
    fn at(&self, c: usize, i: isize, j: isize) -> f32 {
        let s = self.side as isize;
        if i < 0 || j < 0 || i >= s || j >= s {
            return 0.0;
        }
        self.pixels[(c * self.side + i as usize) * self.side + j as usize]
    }

    /// 2×2 average pooling.
    fn half(&self) -> Image {
        let side = self.side / 2;
        let mut pixels = vec![0.0; CHANNELS * side * side];
        for c in 0..CHANNELS {
            for i in 0..side {
                for j in 0..side {
                    let (a, b) = (2 * i as isize, 2 * j as isize);
                    pixels[(c * side + i) * side + j] = 0.25
                        * (self.at(c, a, b)
                            + self.at(c, a + 1, b)
                            + self.at(c, a, b + 1)
                            + self.at(c, a + 1, b + 1));
                }
            }
        }
        Image { side, pixels }
    }

    /// Features [CHANNELS·4, side²]: every filter on every channel (zero padding).
    fn features(&self) -> Vec<f32> {
        let m = self.side * self.side;
        let mut f = vec![0.0; CHANNELS * FILTERS.len() * m];
        for c in 0..CHANNELS {
            for (k, w) in FILTERS.iter().enumerate() {
                let row = (c * FILTERS.len() + k) * m;
                for i in 0..self.side {
                    for j in 0..self.side {
                        let mut acc = 0.0;
                        for (t, wt) in w.iter().enumerate() {
                            let (di, dj) = (t as isize / 3 - 1, t as isize % 3 - 1);
                            acc += wt * self.at(c, i as isize + di, j as isize + dj);
                        }
                        f[row + i * self.side + j] = acc;
                    }
                }
            }
        }
        f
    }
}

/// The filters' backward pass: d loss / d pixels from d loss / d features.
fn features_backward(side: usize, d_f: &[f32]) -> Vec<f32> {
    let m = side * side;
    let mut d_x = vec![0.0; CHANNELS * m];
    for c in 0..CHANNELS {
        for (k, w) in FILTERS.iter().enumerate() {
            let row = (c * FILTERS.len() + k) * m;
            for i in 0..side {
                for j in 0..side {
                    let g = d_f[row + i * side + j];
                    for (t, wt) in w.iter().enumerate() {
                        let (ii, jj) = (
                            i as isize + t as isize / 3 - 1,
                            j as isize + t as isize % 3 - 1,
                        );
                        if ii >= 0 && jj >= 0 && (ii as usize) < side && (jj as usize) < side {
                            d_x[(c * side + ii as usize) * side + jj as usize] += wt * g;
                        }
                    }
                }
            }
        }
    }
    d_x
}

/// The pooling's backward pass: each half-resolution gradient spread over its 2×2 block.
fn half_backward(side: usize, d_half: &[f32]) -> Vec<f32> {
    let h = side / 2;
    let mut d = vec![0.0; CHANNELS * side * side];
    for c in 0..CHANNELS {
        for i in 0..side {
            for j in 0..side {
                d[(c * side + i) * side + j] = 0.25 * d_half[(c * h + i / 2) * h + j / 2];
            }
        }
    }
    d
}

/// The content image: a soft disc on a diagonal gradient.
fn content_image() -> Image {
    let mut pixels = vec![0.0; CHANNELS * SIZE * SIZE];
    for c in 0..CHANNELS {
        for i in 0..SIZE {
            for j in 0..SIZE {
                let (y, x) = (i as f32 / SIZE as f32 - 0.5, j as f32 / SIZE as f32 - 0.5);
                let disc = if x * x + y * y < 0.09 { 0.6 } else { 0.0 };
                let ramp = 0.2 + 0.3 * (x + y + 1.0) * (c as f32 + 1.0) / 3.0;
                pixels[(c * SIZE + i) * SIZE + j] = (ramp + disc).min(1.0);
            }
        }
    }
    Image { side: SIZE, pixels }
}

/// The style image: coloured diagonal stripes with a finer checker.
fn style_image() -> Image {
    let mut pixels = vec![0.0; CHANNELS * SIZE * SIZE];
    for c in 0..CHANNELS {
        for i in 0..SIZE {
            for j in 0..SIZE {
                let stripe = (((i + 2 * j) / 5 + c) % 3) as f32 / 2.0;
                let checker = if (i / 2 + j / 2) % 2 == 0 {
                    0.15
                } else {
                    -0.15
                };
                pixels[(c * SIZE + i) * SIZE + j] = (stripe + checker).clamp(0.0, 1.0);
            }
        }
    }
    Image { side: SIZE, pixels }
}

fn write_png(path: &str, img: &Image) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        img.side as u32,
        img.side as u32,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let m = img.side * img.side;
    let rgb: Vec<u8> = (0..m)
        .flat_map(|p| (0..CHANNELS).map(move |c| (c, p)))
        .map(|(c, p)| (img.pixels[c * m + p].clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .map_err(std::io::Error::other)
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/style_transfer.png".into());
    let ctx = GpuContext::new()?;
    println!("on {}", ctx.adapter_name());
    let (content, style) = (content_image(), style_image());
    let rows = CHANNELS * FILTERS.len();
    let (m1, m2) = (SIZE * SIZE, SIZE * SIZE / 4);
    // The fixed targets, uploaded once; the image's features are rewritten every step.
    let content_f1 = ctx.upload(&content.features(), &[rows, m1])?;
    let style_f1 = ctx.upload(&style.features(), &[rows, m1])?;
    let style_f2 = ctx.upload(&style.half().features(), &[rows, m2])?;
    let f1 = ctx.zeros(&[rows, m1])?;
    let f2 = ctx.zeros(&[rows, m2])?;
    let pixels = ctx.zeros(&[CHANNELS, SIZE, SIZE])?;

    let mut x = content.clone();
    let (mut m_adam, mut v_adam) = (vec![0f32; x.pixels.len()], vec![0f32; x.pixels.len()]);
    println!(
        "{:>5} {:>11} {:>11} {:>11} {:>11}",
        "step", "content", "style", "tv", "total"
    );
    for step in 0..=STEPS {
        ctx.write(&f1, &x.features())?;
        ctx.write(&f2, &x.half().features())?;
        ctx.write(&pixels, &x.pixels)?;
        let content_loss = ctx
            .loss("content_loss")?
            .input(&f1)
            .target(&content_f1)
            .with_grad()
            .run()?;
        let layers = [
            StyleLayer {
                input: &f1,
                target: &style_f1,
                weight: STYLE_WEIGHTS[0],
            },
            StyleLayer {
                input: &f2,
                target: &style_f2,
                weight: STYLE_WEIGHTS[1],
            },
        ];
        let style_loss = ctx.style_loss(&layers, true)?;
        let tv = ctx
            .loss("total_variation")?
            .input(&pixels)
            .with_grad()
            .run()?;
        let values = (
            CONTENT_WEIGHT * f64::from(content_loss.value.unwrap_or(f32::NAN)),
            f64::from(style_loss.value),
            TV_WEIGHT * f64::from(tv.value.unwrap_or(f32::NAN)),
        );
        if step % 30 == 0 {
            println!(
                "{step:>5} {:>11.6} {:>11.6} {:>11.6} {:>11.6}",
                values.0,
                values.1,
                values.2,
                values.0 + values.1 + values.2
            );
        }
        if step == STEPS {
            break;
        }
        // d total / d pixels: the features' gradients through the filters, plus TV's own.
        let download = |t: Option<&Tensor>| ctx.download(t.expect("asked for the gradient"));
        let d_content = download(content_loss.grad.as_ref())?;
        let d_f1: Vec<f32> = d_content
            .iter()
            .zip(ctx.download(&style_loss.grads[0])?)
            .map(|(c, s)| CONTENT_WEIGHT as f32 * c + s)
            .collect();
        let d_f2 = ctx.download(&style_loss.grads[1])?;
        let d_tv = download(tv.grad.as_ref())?;
        let d_full = features_backward(SIZE, &d_f1);
        let d_half = half_backward(SIZE, &features_backward(SIZE / 2, &d_f2));
        let t = (step + 1) as i32;
        for p in 0..x.pixels.len() {
            let g = d_full[p] + d_half[p] + TV_WEIGHT as f32 * d_tv[p];
            m_adam[p] = 0.9 * m_adam[p] + 0.1 * g;
            v_adam[p] = 0.999 * v_adam[p] + 0.001 * g * g;
            let m_hat = m_adam[p] / (1.0 - 0.9f32.powi(t));
            let v_hat = v_adam[p] / (1.0 - 0.999f32.powi(t));
            x.pixels[p] =
                (x.pixels[p] - LEARNING_RATE * m_hat / (v_hat.sqrt() + 1e-8)).clamp(0.0, 1.0);
        }
    }
    write_png(&out, &x).map_err(|e| gpu_loss::LossError::File {
        path: out.clone(),
        why: e.to_string(),
    })?;
    println!("wrote {out}");
    Ok(())
}
