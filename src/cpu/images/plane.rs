//! What ssim and ms_ssim share, per plane: the image axes and parameters and their checks,
//! the separable Gaussian filter and its adjoint, the local moments and the map's partials.

use crate::cpu::rows::{no_nan, sum};
use crate::error::{LossError, Result};
use crate::params::{Reduction, Rule};
use crate::tensor::element_count;

/// The image axes of a section G tensor.
///
/// ```
/// use gpu_loss::cpu::images::{image_dims, ImageDims};
/// let d = image_dims("psnr", "input", &[4, 3, 32, 48])?;
/// assert_eq!(d, ImageDims { images: 4, channels: 3, height: 32, width: 48 });
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageDims {
    /// Images (the product of the leading axes).
    pub images: usize,
    /// Channels per image.
    pub channels: usize,
    /// Plane height.
    pub height: usize,
    /// Plane width.
    pub width: usize,
}

impl ImageDims {
    pub(super) fn planes(&self) -> usize {
        self.images * self.channels
    }

    pub(super) fn plane(&self) -> usize {
        self.height * self.width
    }
}

/// `[N, C, H, W]`, `[C, H, W]` (N = 1) or `[H, W]` (N = C = 1); a shape whose count overflows
/// usize is refused too. The GPU path's validation applies this same rule.
///
/// ```
/// use gpu_loss::cpu::images::image_dims;
/// assert_eq!(image_dims("ssim", "input", &[3, 32, 48])?.images, 1); // [C, H, W]: one image
/// assert_eq!(image_dims("ssim", "input", &[32, 48])?.channels, 1); // [H, W]: one plane
/// assert!(image_dims("ssim", "input", &[32]).is_err());
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn image_dims(loss: &'static str, tensor: &'static str, shape: &[usize]) -> Result<ImageDims> {
    element_count(&format!("{loss}: {tensor}"), shape)?;
    let (images, channels, height, width) = match *shape {
        [n, c, h, w] => (n, c, h, w),
        [c, h, w] => (1, c, h, w),
        [h, w] => (1, 1, h, w),
        _ => {
            return Err(LossError::ShapeMismatch {
                loss,
                tensor,
                got: shape.to_vec(),
                expected: "[N, C, H, W], [C, H, W] or [H, W]".into(),
            })
        }
    };
    Ok(ImageDims {
        images,
        channels,
        height,
        width,
    })
}

/// The normalised Gaussian window: g_k ∝ exp(−(k − size/2)² / (2σ²)).
///
/// ```
/// let g = gpu_loss::cpu::images::gaussian_window(3, 1.5);
/// assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
/// assert!(g[0] == g[2] && g[1] > g[0]); // symmetric, peaked in the middle
/// ```
pub fn gaussian_window(size: usize, sigma: f64) -> Vec<f64> {
    let centre = (size / 2) as f64;
    let g: Vec<f64> = (0..size)
        .map(|k| (-(k as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total = sum(g.iter().copied());
    g.into_iter().map(|v| v / total).collect()
}

/// SSIM's parameters. `same`: zero padding of window/2 on each side, an H × W map (3D Gaussian
/// splatting); otherwise valid, an (H − window + 1) × (W − window + 1) map (pytorch_msssim).
///
/// ```
/// use gpu_loss::cpu::images::SsimParams;
/// let p = SsimParams::default(); // LOSSES.md's, as pytorch_msssim's
/// assert_eq!((p.window, p.sigma, p.k1, p.k2, p.data_range, p.same), (11, 1.5, 0.01, 0.03, 1.0, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SsimParams {
    /// The Gaussian window's side (odd).
    pub window: usize,
    /// The Gaussian's standard deviation.
    pub sigma: f64,
    /// SSIM's K1.
    pub k1: f64,
    /// SSIM's K2.
    pub k2: f64,
    /// The values' range.
    pub data_range: f64,
    /// Zero padding (`same`) rather than valid windows.
    pub same: bool,
}

impl Default for SsimParams {
    /// LOSSES.md's defaults.
    fn default() -> Self {
        SsimParams {
            window: 11,
            sigma: 1.5,
            k1: 0.01,
            k2: 0.03,
            data_range: 1.0,
            same: false,
        }
    }
}

pub(super) fn invalid(
    loss: &'static str,
    name: &'static str,
    value: f64,
    rule: &'static str,
) -> LossError {
    LossError::InvalidParam {
        loss,
        name,
        value: value.to_string(),
        rule,
    }
}

/// The window and constants valid, and with padding valid the image no smaller than the window.
///
/// ```
/// use gpu_loss::cpu::images::{check_window, image_dims, SsimParams};
/// let small = image_dims("ssim", "input", &[8, 8])?;
/// assert!(check_window("ssim", &small, &SsimParams::default()).is_err()); // 8 < 11, valid
/// assert!(check_window("ssim", &small, &SsimParams { same: true, ..Default::default() }).is_ok());
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn check_window(loss: &'static str, dims: &ImageDims, p: &SsimParams) -> Result<()> {
    if !(3..=15).contains(&p.window) || p.window.is_multiple_of(2) {
        return Err(invalid(
            loss,
            "window",
            p.window as f64,
            Rule::Window.describe(),
        ));
    }
    if !(p.sigma > 0.0 && p.sigma.is_finite()) {
        return Err(invalid(loss, "sigma", p.sigma, "finite and > 0"));
    }
    for (name, k) in [("k1", p.k1), ("k2", p.k2)] {
        if !k.is_finite() {
            return Err(invalid(loss, name, k, "finite"));
        }
    }
    check_range(loss, p.data_range)?;
    if !p.same && (dims.height < p.window || dims.width < p.window) {
        return Err(LossError::InvalidParam {
            loss,
            name: "window",
            value: format!("{} (image {} × {})", p.window, dims.height, dims.width),
            rule: "at most the image's height and width with padding valid",
        });
    }
    Ok(())
}

pub(super) fn check_range(loss: &'static str, data_range: f64) -> Result<()> {
    if data_range > 0.0 && data_range.is_finite() {
        Ok(())
    } else {
        Err(invalid(loss, "data_range", data_range, "finite and > 0"))
    }
}

/// Only `mean` and `none`: a sum of similarities (or of decibels) means nothing.
///
/// ```
/// use gpu_loss::{cpu::images::mean_or_none, Reduction};
/// assert!(mean_or_none("psnr", Reduction::Mean).is_ok());
/// assert!(mean_or_none("psnr", Reduction::Sum).is_err()); // a sum of decibels means nothing
/// ```
pub fn mean_or_none(loss: &'static str, reduction: Reduction) -> Result<()> {
    match reduction {
        Reduction::Mean | Reduction::None => Ok(()),
        _ => Err(LossError::Reduction {
            loss,
            reduction: reduction.name().into(),
            why: "this loss takes none or mean",
        }),
    }
}

/// The shared prologue: the reduction, `input`'s shape and both tensors' lengths. NaN is
/// checked by the caller, after its parameters.
pub(super) fn image_pair(
    loss: &'static str,
    x: &[f64],
    y: &[f64],
    shape: &[usize],
    reduction: Reduction,
) -> Result<ImageDims> {
    mean_or_none(loss, reduction)?;
    let dims = image_dims(loss, "input", shape)?;
    let n: usize = shape.iter().product(); // image_dims checked it fits
    for (tensor, t) in [("input", x), ("target", y)] {
        if t.len() != n {
            return Err(LossError::ShapeMismatch {
                loss,
                tensor,
                got: vec![t.len()],
                expected: format!("{shape:?} ({n} values, like the input's shape)"),
            });
        }
    }
    Ok(dims)
}

pub(super) fn no_nans(loss: &'static str, x: &[f64], y: &[f64]) -> Result<()> {
    no_nan(loss, "input", x)?;
    no_nan(loss, "target", y)
}

// ---------------------------------------------------------------------------------------------
// The filter, the moments, the partials and the adjoint, per plane

/// One plane's filter: the window, its offset (the padding) and the map it makes.
pub(super) struct Geometry {
    pub(super) g: Vec<f64>,
    pub(super) pad: usize,
    pub(super) height: usize,
    pub(super) width: usize,
    pub(super) map_h: usize,
    pub(super) map_w: usize,
}

impl Geometry {
    pub(super) fn new(height: usize, width: usize, p: &SsimParams) -> Geometry {
        let (pad, map_h, map_w) = if p.same {
            (p.window / 2, height, width)
        } else {
            (0, height + 1 - p.window, width + 1 - p.window)
        };
        Geometry {
            g: gaussian_window(p.window, p.sigma),
            pad,
            height,
            width,
            map_h,
            map_w,
        }
    }

    pub(super) fn map_len(&self) -> usize {
        self.map_h * self.map_w
    }

    /// The map's filtered values of an image plane.
    pub(super) fn filter(&self, plane: &[f64]) -> Vec<f64> {
        let src = (self.height, self.width);
        correlate(plane, src, &self.g, self.pad, (self.map_h, self.map_w))
    }

    /// The filter's adjoint: a map-sized plane back to the image. The window is symmetric, so
    /// this is the same correlation, offset by window − 1 − pad, over the map (0 outside).
    pub(super) fn adjoint(&self, map: &[f64]) -> Vec<f64> {
        let offset = self.g.len() - 1 - self.pad;
        let src = (self.map_h, self.map_w);
        correlate(map, src, &self.g, offset, (self.height, self.width))
    }
}

/// out[r][c] = Σ_ij g_i g_j src[r + i − offset][c + j − offset], 0 outside `src`: along W
/// first, then along H.
pub(super) fn correlate(
    src: &[f64],
    (src_h, src_w): (usize, usize),
    g: &[f64],
    offset: usize,
    (out_h, out_w): (usize, usize),
) -> Vec<f64> {
    // The source index of output index `o` and tap `k`, if inside `len`.
    let at = |o: usize, k: usize, len: usize| (o + k).checked_sub(offset).filter(|&s| s < len);
    let mut rows = vec![0.0; src_h * out_w];
    for r in 0..src_h {
        for c in 0..out_w {
            rows[r * out_w + c] = g
                .iter()
                .enumerate()
                .filter_map(|(k, gk)| at(c, k, src_w).map(|s| gk * src[r * src_w + s]))
                .sum();
        }
    }
    let mut out = vec![0.0; out_h * out_w];
    for r in 0..out_h {
        for c in 0..out_w {
            out[r * out_w + c] = g
                .iter()
                .enumerate()
                .filter_map(|(k, gk)| at(r, k, src_h).map(|s| gk * rows[s * out_w + c]))
                .sum();
        }
    }
    out
}

/// The window's moments over one plane, each map-sized: g∗x, g∗y, g∗x², g∗y², g∗xy.
pub(super) struct Moments {
    pub(super) mx: Vec<f64>,
    pub(super) my: Vec<f64>,
    pub(super) xx: Vec<f64>,
    pub(super) yy: Vec<f64>,
    pub(super) xy: Vec<f64>,
}

pub(super) fn moments(geo: &Geometry, x: &[f64], y: &[f64]) -> Moments {
    let product = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).collect::<Vec<_>>();
    Moments {
        mx: geo.filter(x),
        my: geo.filter(y),
        xx: geo.filter(&product(x, x)),
        yy: geo.filter(&product(y, y)),
        xy: geo.filter(&product(x, y)),
    }
}

/// The SSIM constants C1 = (k1·L)², C2 = (k2·L)².
#[derive(Clone, Copy)]
pub(super) struct Constants {
    pub(super) c1: f64,
    pub(super) c2: f64,
}

impl Constants {
    pub(super) fn new(p: &SsimParams) -> Constants {
        Constants {
            c1: (p.k1 * p.data_range).powi(2),
            c2: (p.k2 * p.data_range).powi(2),
        }
    }
}

/// A map value and its partials with respect to (g∗x, g∗x², g∗xy).
pub(super) type Partials = (f64, [f64; 3]);

/// SSIM at map position `i`: S = A·B / (C·D) with A = 2μxμy + C1, B = 2σxy + C2,
/// C = μx² + μy² + C1, D = σx² + σy² + C2.
pub(super) fn ssim_partials(m: &Moments, i: usize, k: Constants) -> Partials {
    let (mx, my) = (m.mx[i], m.my[i]);
    let (vx, vy, cov) = (m.xx[i] - mx * mx, m.yy[i] - my * my, m.xy[i] - mx * my);
    let a = 2.0 * mx * my + k.c1;
    let b = 2.0 * cov + k.c2;
    let c = mx * mx + my * my + k.c1;
    let d = vx + vy + k.c2;
    let s = a * b / (c * d);
    // μx enters A, C, and (through σx² and σxy) B and D.
    let d_mx = 2.0 * my * (b - a) / (c * d) - 2.0 * mx * s / c + 2.0 * mx * s / d;
    (s, [d_mx, -s / d, 2.0 * a / (c * d)])
}

/// The contrast-structure term at `i`: cs = B / D.
pub(super) fn cs_partials(m: &Moments, i: usize, k: Constants) -> Partials {
    let (mx, my) = (m.mx[i], m.my[i]);
    let (vx, vy, cov) = (m.xx[i] - mx * mx, m.yy[i] - my * my, m.xy[i] - mx * my);
    let b = 2.0 * cov + k.c2;
    let d = vx + vy + k.c2;
    let cs = b / d;
    (cs, [(2.0 * mx * cs - 2.0 * my) / d, -cs / d, 2.0 / d])
}

/// d/dx of Σ_i P0_i·(g∗x)_i + P1_i·(g∗x²)_i + P2_i·(g∗xy)_i.
pub(super) fn adjoint(geo: &Geometry, p: &[Vec<f64>; 3], x: &[f64], y: &[f64]) -> Vec<f64> {
    let [a0, a1, a2] = [0, 1, 2].map(|j| geo.adjoint(&p[j]));
    (0..x.len())
        .map(|e| a0[e] + 2.0 * x[e] * a1[e] + y[e] * a2[e])
        .collect()
}

/// One plane's map of `term` and its partials, per map position.
pub(super) fn term_maps(
    geo: &Geometry,
    x: &[f64],
    y: &[f64],
    k: Constants,
    term: fn(&Moments, usize, Constants) -> Partials,
) -> (Vec<f64>, [Vec<f64>; 3]) {
    let m = moments(geo, x, y);
    let len = geo.map_len();
    let mut map = vec![0.0; len];
    let mut p = [vec![0.0; len], vec![0.0; len], vec![0.0; len]];
    for i in 0..len {
        let (v, d) = term(&m, i, k);
        map[i] = v;
        for j in 0..3 {
            p[j][i] = d[j];
        }
    }
    (map, p)
}

/// The partials times the upstream weight of every map position.
pub(super) fn weighted(p: [Vec<f64>; 3], weight: f64) -> [Vec<f64>; 3] {
    p.map(|v| v.into_iter().map(|d| d * weight).collect())
}
