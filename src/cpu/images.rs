//! The float64 twins of LOSSES.md section G: ssim (padding valid or same), ms_ssim and psnr on
//! `[N, C, H, W]` images (`[C, H, W]` and `[H, W]` as one image).
//!
//! SSIM's local moments come from a separable Gaussian window, horizontally then vertically,
//! per plane, as the GPU kernel filters them. The gradients are written out by hand: per map
//! position the partials of the map with respect to the three filtered quantities the input
//! enters (g∗x, g∗x², g∗xy), then the adjoint of the filter carries them back to the pixels.
//! `ms_ssim` (in `images/ms_ssim.rs`) adds the average pooling between scales.
//!
//! Checks, in order: the reduction, the shapes, the parameters, NaN in either tensor.

mod ms_ssim;
mod plane;
#[cfg(test)]
mod tests;

pub use ms_ssim::{check_scales, ms_ssim, pooled_size, MS_SSIM_WEIGHTS};
pub use plane::{check_window, gaussian_window, image_dims, mean_or_none, ImageDims, SsimParams};

use super::rows::{sum, Reducer, RowResult};
use crate::error::Result;
use crate::params::Reduction;
use plane::*;

// ---------------------------------------------------------------------------------------------
// The losses

/// SSIM: `mean` of the map over every image and channel, or `none`, the map
/// `[N, C, H', W']` (its gradient that of the map's sum).
///
/// ```
/// use gpu_loss::{cpu::images::{ssim, SsimParams}, Reduction};
/// let x: Vec<f64> = (0..16).map(|i| i as f64 / 16.0).collect();
/// let p = SsimParams { window: 3, ..Default::default() };
/// let r = ssim(&x, &x, &[1, 1, 4, 4], &p, Reduction::Mean)?;
/// assert!((r.value.unwrap() - 1.0).abs() < 1e-12); // an image against itself
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn ssim(
    x: &[f64],
    y: &[f64],
    shape: &[usize],
    p: &SsimParams,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "ssim";
    let dims = image_pair(LOSS, x, y, shape, reduction)?;
    check_window(LOSS, &dims, p)?;
    no_nans(LOSS, x, y)?;
    let geo = Geometry::new(dims.height, dims.width, p);
    let count = dims.planes() * geo.map_len();
    let red = Reducer::new(reduction, count as f64);
    let mut map = Vec::with_capacity(count);
    let mut grad = Vec::with_capacity(x.len());
    let k = Constants::new(p);
    // An empty plane (H or W = 0) leaves x empty: no chunk, an empty map.
    let plane = dims.plane().max(1);
    for (xp, yp) in x.chunks_exact(plane).zip(y.chunks_exact(plane)) {
        let (m, p) = term_maps(&geo, xp, yp, k, ssim_partials);
        map.extend(m);
        grad.extend(adjoint(&geo, &weighted(p, red.scale()), xp, yp));
    }
    Ok(red.finish(map, vec![grad]))
}

/// PSNR per image, 10·log10(L² / mse) over its C·H·W values: `mean` over images or `none`
/// (`[N]`). mse = 0 gives +inf and a zero gradient for that image.
///
/// ```
/// use gpu_loss::{cpu::images::psnr, Reduction};
/// // Two images; mse 0.5² and 0.1²: 10·log10(1 / mse) = 6.02... and 20.
/// let r = psnr(&[0.0, 0.0, 0.1, 0.1], &[0.5, 0.5, 0.0, 0.0], &[2, 1, 1, 2], 1.0, Reduction::None)?;
/// let rows = r.rows.unwrap();
/// assert!((rows[0] - 20.0 * 2f64.log10()).abs() < 1e-12 && (rows[1] - 20.0).abs() < 1e-12);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn psnr(
    x: &[f64],
    y: &[f64],
    shape: &[usize],
    data_range: f64,
    reduction: Reduction,
) -> Result<RowResult> {
    const LOSS: &str = "psnr";
    let dims = image_pair(LOSS, x, y, shape, reduction)?;
    check_range(LOSS, data_range)?;
    no_nans(LOSS, x, y)?;
    let red = Reducer::new(reduction, dims.images as f64);
    let per_image = dims.channels * dims.plane();
    let mut rows = Vec::with_capacity(dims.images);
    let mut grad = vec![0.0; x.len()];
    for i in 0..dims.images {
        let range = i * per_image..(i + 1) * per_image;
        let (xi, yi) = (&x[range.clone()], &y[range.clone()]);
        let mse = sum(xi.iter().zip(yi).map(|(a, b)| (a - b) * (a - b))) / per_image as f64;
        rows.push(10.0 * (data_range * data_range / mse).log10());
        if mse > 0.0 {
            // d/dx 10·log10(L²/mse) = −(10 / ln 10)·(dmse/dx) / mse.
            let scale = -10.0 / std::f64::consts::LN_10 * 2.0 / (per_image as f64 * mse);
            for (e, (a, b)) in range.zip(xi.iter().zip(yi)) {
                grad[e] = scale * (a - b) * red.scale();
            }
        }
    }
    Ok(red.finish(rows, vec![grad]))
}
