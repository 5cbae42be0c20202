//! ms_ssim as pytorch_msssim computes it: five scales of the valid SSIM, a 2 × 2 average pool
//! between them, the contrast-structure mean at the first four and the SSIM mean at the last,
//! each clamped at 0, combined as a weighted geometric product per image and channel.

use super::plane::{
    adjoint, check_window, cs_partials, image_pair, no_nans, ssim_partials, term_maps, weighted,
    Constants, Geometry, ImageDims, SsimParams,
};
use crate::cpu::rows::{sum, Reducer, RowResult};
use crate::error::{LossError, Result};
use crate::params::Reduction;

/// pytorch_msssim's scale weights, finest first.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// One scale of one plane: its images, its filter, its mean term and that mean's partials per
/// map position, weighted once the product over the scales is known.
struct Scale {
    x: Vec<f64>,
    y: Vec<f64>,
    geo: Geometry,
    mean: f64,
    partials: [Vec<f64>; 3],
}

fn scale(x: Vec<f64>, y: Vec<f64>, geo: Geometry, k: Constants, last: bool) -> Scale {
    let term = if last { ssim_partials } else { cs_partials };
    let (map, partials) = term_maps(&geo, &x, &y, k, term);
    let count = map.len() as f64;
    Scale {
        mean: sum(map) / count,
        partials: weighted(partials, 1.0 / count),
        x,
        y,
        geo,
    }
}

/// torch.relu: NaN stays NaN (f64::max would hide it).
fn relu(v: f64) -> f64 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

/// F.avg_pool2d(kernel 2, stride 2, padding (h mod 2, w mod 2), count_include_pad): an odd
/// axis gains a zero on each side, and the pooled size is floor((n + 2p − 2) / 2) + 1.
///
/// ```
/// use gpu_loss::cpu::images::pooled_size;
/// assert_eq!((pooled_size(4), pooled_size(5)), (2, 3)); // an odd side is padded first
/// ```
pub fn pooled_size(n: usize) -> usize {
    (n + 2 * (n % 2) - 2) / 2 + 1
}

/// The pool's parent of pixel `i` along an axis of size `n`: each pixel lies in one window.
fn parent(i: usize, n: usize) -> usize {
    (i + n % 2) / 2
}

fn avg_pool(plane: &[f64], h: usize, w: usize) -> Vec<f64> {
    let (oh, ow) = (pooled_size(h), pooled_size(w));
    let mut out = vec![0.0; oh * ow];
    for r in 0..h {
        for c in 0..w {
            out[parent(r, h) * ow + parent(c, w)] += plane[r * w + c] / 4.0;
        }
    }
    out
}

/// The pool's adjoint: each pixel takes a quarter of its parent's gradient.
fn avg_pool_adjoint(pooled: &[f64], h: usize, w: usize) -> Vec<f64> {
    let ow = pooled_size(w);
    (0..h * w)
        .map(|e| pooled[parent(e / w, h) * ow + parent(e % w, w)] / 4.0)
        .collect()
}

/// Images large enough for five scales: min(H, W) > (window − 1)·16 (the GPU path checks
/// this too).
///
/// ```
/// use gpu_loss::cpu::images::{check_scales, image_dims, SsimParams};
/// let p = SsimParams::default(); // an 11-tap window: sides must exceed 10 · 16
/// let fits = |side| check_scales("ms_ssim", &[1, 1, side, side], &image_dims("ms_ssim", "input", &[1, 1, side, side]).unwrap(), &p);
/// assert!(fits(160).is_err() && fits(161).is_ok());
/// ```
pub fn check_scales(
    loss: &'static str,
    shape: &[usize],
    dims: &ImageDims,
    p: &SsimParams,
) -> Result<()> {
    let least = (p.window - 1) * 16 + 1;
    if dims.height.min(dims.width) < least {
        return Err(LossError::ShapeMismatch {
            loss,
            tensor: "input",
            got: shape.to_vec(),
            expected: format!("H and W at least {least}: 5 scales of window {}", p.window),
        });
    }
    Ok(())
}

/// ms_ssim per image (the mean over its channels of Π_s relu(m_s)^w_s): `mean` over images or
/// `none` (`[N]`). Padding valid only; min(H, W) must exceed (window − 1)·16.
///
/// ```
/// use gpu_loss::{cpu::images::{ms_ssim, SsimParams}, Reduction};
/// // An image against itself: 1 (3-tap windows fit the fifth scale of 48 × 48).
/// let x: Vec<f64> = (0..48 * 48).map(|i| (i % 7) as f64 / 7.0).collect();
/// let p = SsimParams { window: 3, ..Default::default() };
/// let r = ms_ssim(&x, &x, &[1, 1, 48, 48], &p, Reduction::Mean)?;
/// assert!((r.value.unwrap() - 1.0).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn ms_ssim(
    x: &[f64],
    y: &[f64],
    shape: &[usize],
    p: &SsimParams,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "ms_ssim";
    let dims = image_pair(LOSS, x, y, shape, reduction)?;
    if p.same {
        return Err(LossError::InvalidParam {
            loss: LOSS,
            name: "padding",
            value: "same".into(),
            rule: "valid (pytorch_msssim's MS-SSIM)",
        });
    }
    check_window(LOSS, &dims, p)?;
    check_scales(LOSS, shape, &dims, p)?;
    no_nans(LOSS, x, y)?;
    let k = Constants::new(p);
    let red = Reducer::new(reduction, dims.images as f64);
    let plane = dims.plane();
    let channels = dims.channels as f64;
    let mut planes = Vec::with_capacity(dims.planes());
    let mut grad = Vec::with_capacity(x.len());
    for (xp, yp) in x.chunks_exact(plane).zip(y.chunks_exact(plane)) {
        let (v, g) = plane_ms_ssim(xp, yp, dims.height, dims.width, p, k);
        planes.push(v);
        grad.extend(g.into_iter().map(|d| red.scale() / channels * d));
    }
    // The mean over channels; over none it is NaN, as a mean over zero elements.
    let rows = match dims.channels {
        0 => vec![f64::NAN; dims.images],
        c => planes
            .chunks(c)
            .map(|v| sum(v.iter().copied()) / channels)
            .collect(),
    };
    Ok(red.finish(rows, vec![grad]))
}

/// One plane's MS-SSIM and its gradient with respect to the plane of `x`.
fn plane_ms_ssim(
    x: &[f64],
    y: &[f64],
    height: usize,
    width: usize,
    p: &SsimParams,
    k: Constants,
) -> (f64, Vec<f64>) {
    let mut scales: Vec<Scale> = Vec::with_capacity(MS_SSIM_WEIGHTS.len());
    let (mut xs, mut ys, mut h, mut w) = (x.to_vec(), y.to_vec(), height, width);
    for s in 0..MS_SSIM_WEIGHTS.len() {
        if s > 0 {
            (xs, ys) = (avg_pool(&xs, h, w), avg_pool(&ys, h, w));
            (h, w) = (pooled_size(h), pooled_size(w));
        }
        let last = s + 1 == MS_SSIM_WEIGHTS.len();
        let geo = Geometry::new(h, w, p);
        scales.push(scale(xs.clone(), ys.clone(), geo, k, last));
    }
    let f = scales.iter().map(|s| relu(s.mean)).collect::<Vec<_>>();
    let value = f
        .iter()
        .zip(MS_SSIM_WEIGHTS)
        .map(|(f, w)| f.powf(w))
        .product::<f64>();
    // Back from the coarsest scale: d value / d m_s = w_s·f_s^(w_s − 1)·Π_{t≠s} f_t^w_t where
    // m_s > 0, else 0 (the clamp), then the adjoint of the filter and of each pool below.
    let mut grad = Vec::new();
    for (s, sc) in scales.into_iter().enumerate().rev() {
        let others: f64 = (0..MS_SSIM_WEIGHTS.len())
            .filter(|&t| t != s)
            .map(|t| f[t].powf(MS_SSIM_WEIGHTS[t]))
            .product();
        let d_mean = if sc.mean > 0.0 {
            MS_SSIM_WEIGHTS[s] * sc.mean.powf(MS_SSIM_WEIGHTS[s] - 1.0) * others
        } else {
            0.0
        };
        let mut here = adjoint(&sc.geo, &weighted(sc.partials, d_mean), &sc.x, &sc.y);
        if s + 1 < MS_SSIM_WEIGHTS.len() {
            // The coarser scales' gradient, back through this scale's pool.
            let up = avg_pool_adjoint(&grad, sc.geo.height, sc.geo.width);
            here.iter_mut().zip(up).for_each(|(a, b)| *a += b);
        }
        grad = here;
    }
    (value, grad)
}
