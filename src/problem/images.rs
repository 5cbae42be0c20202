//! Section G, validated: two images of one shape, the window and constants of ssim and
//! ms_ssim, PSNR's data range. The shape and window rules are the float64 twins'
//! (`cpu::images`), so both paths refuse the same input with the same error.

use crate::catalogue::Structured;
use crate::catalogue::StructuredKernel;
use crate::cpu::images::{
    check_scales, check_window, gaussian_window, image_dims, mean_or_none, ImageDims, SsimParams,
};
use crate::error::{LossError, Result};
use crate::params::{self, ParamValue, Reduction};
use crate::status::Names;
use crate::tensor::Tensor;

/// The two images of a section G call, checked: float32, one shape, a known rank.
fn images(loss: &'static Structured, x: &Tensor, y: &Tensor) -> Result<ImageDims> {
    for (name, t) in [("input", x), ("target", y)] {
        t.dtype().expect_f32(loss.name, name)?;
    }
    if x.shape() != y.shape() {
        return Err(LossError::ShapeMismatch {
            loss: loss.name,
            tensor: "target",
            got: y.shape().to_vec(),
            expected: format!("{:?}, the shape of `input`", x.shape()),
        });
    }
    image_dims(loss.name, "input", x.shape())
}

/// One call of ssim (or one scale of ms_ssim): planes of `height × width`, the map's size,
/// the window's taps in float32 (as pytorch_msssim builds them) and the constants.
///
/// ```no_run
/// use gpu_loss::{catalogue::{self, Loss}, problem::images::SsimProblem, GpuContext, Reduction};
/// let Some(Loss::Structured(ssim)) = catalogue::find("ssim") else { unreachable!() };
/// let ctx = GpuContext::new()?;
/// let x = ctx.upload(&vec![0.5; 2 * 3 * 32 * 32], &[2, 3, 32, 32])?;
/// let p = SsimProblem::new(ssim, &x, &x, &[], Reduction::Mean)?;
/// assert_eq!((p.planes(), p.map_size(), p.taps.len()), (6, (22, 22), 11));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SsimProblem {
    /// The catalogue entry.
    pub loss: &'static Structured,
    /// The image planes' dimensions.
    pub dims: ImageDims,
    /// The resolved parameters.
    pub params: SsimParams,
    /// The Gaussian window's taps.
    pub taps: Vec<f32>,
    /// (k1 · data_range)².
    pub c1: f32,
    /// (k2 · data_range)².
    pub c2: f32,
    /// The reduction.
    pub reduction: Reduction,
}

impl SsimProblem {
    /// ssim's parameters in catalogue order: window, sigma, k1, k2, data_range, padding;
    /// ms_ssim's have no padding (valid).
    ///
    /// ```no_run
    /// use gpu_loss::{catalogue::{self, Loss}, problem::images::SsimProblem, GpuContext, Reduction};
    /// let Some(Loss::Structured(ssim)) = catalogue::find("ssim") else { unreachable!() };
    /// let ctx = GpuContext::new()?;
    /// let x = ctx.upload(&vec![0.5; 8 * 8], &[1, 1, 8, 8])?;
    /// assert!(SsimProblem::new(ssim, &x, &x, &[], Reduction::Mean).is_err()); // 8 × 8 < 11 × 11
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn new(
        loss: &'static Structured,
        x: &Tensor,
        y: &Tensor,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<SsimProblem> {
        let p = params::resolve(loss.name, loss.params, given)?;
        mean_or_none(loss.name, reduction)?;
        let dims = images(loss, x, y)?;
        let params = SsimParams {
            window: p[0] as usize,
            sigma: p[1],
            k1: p[2],
            k2: p[3],
            data_range: p[4],
            same: p.get(5) == Some(&1.0),
        };
        check_window(loss.name, &dims, &params)?;
        if loss.kernel == StructuredKernel::MsSsim {
            check_scales(loss.name, x.shape(), &dims, &params)?;
        }
        Ok(SsimProblem {
            loss,
            taps: gaussian_window(params.window, params.sigma)
                .into_iter()
                .map(|g| g as f32)
                .collect(),
            c1: (params.k1 * params.data_range).powi(2) as f32,
            c2: (params.k2 * params.data_range).powi(2) as f32,
            dims,
            params,
            reduction,
        })
    }

    /// Image planes: images × channels.
    ///
    /// ```
    /// # use gpu_loss::{catalogue::{self, Loss}, cpu::images::{ImageDims, SsimParams}, problem::images::SsimProblem, Reduction};
    /// # let Some(Loss::Structured(loss)) = catalogue::find("ssim") else { unreachable!() };
    /// # let dims = ImageDims { images: 2, channels: 3, height: 32, width: 48 };
    /// # let p = SsimProblem { loss, dims, params: SsimParams::default(), taps: vec![], c1: 0.0, c2: 0.0, reduction: Reduction::Mean };
    /// // p: 2 images of 3 channels
    /// assert_eq!(p.planes(), 6);
    /// ```
    pub fn planes(&self) -> usize {
        self.dims.images * self.dims.channels
    }

    /// The SSIM map's height and width.
    ///
    /// ```
    /// # use gpu_loss::{catalogue::{self, Loss}, cpu::images::{ImageDims, SsimParams}, problem::images::SsimProblem, Reduction};
    /// # let Some(Loss::Structured(loss)) = catalogue::find("ssim") else { unreachable!() };
    /// # let dims = ImageDims { images: 2, channels: 3, height: 32, width: 48 };
    /// # let p = SsimProblem { loss, dims, params: SsimParams::default(), taps: vec![], c1: 0.0, c2: 0.0, reduction: Reduction::Mean };
    /// // p: 32 × 48 planes, valid 11 × 11 windows
    /// assert_eq!(p.map_size(), (32 - 10, 48 - 10));
    /// ```
    pub fn map_size(&self) -> (usize, usize) {
        self.map_of(self.dims.height, self.dims.width)
    }

    /// The map's height and width for planes of `h × w` (ms_ssim's scales too); the window
    /// fits, as `new` and ms_ssim's size rule checked.
    ///
    /// ```
    /// # use gpu_loss::{catalogue::{self, Loss}, cpu::images::{ImageDims, SsimParams}, problem::images::SsimProblem, Reduction};
    /// # let Some(Loss::Structured(loss)) = catalogue::find("ssim") else { unreachable!() };
    /// # let dims = ImageDims { images: 2, channels: 3, height: 32, width: 48 };
    /// # let p = SsimProblem { loss, dims, params: SsimParams::default(), taps: vec![], c1: 0.0, c2: 0.0, reduction: Reduction::Mean };
    /// // p: valid 11 × 11 windows; ms_ssim's second scale halves each side
    /// assert_eq!(p.map_of(16, 24), (6, 14));
    /// ```
    pub fn map_of(&self, h: usize, w: usize) -> (usize, usize) {
        let shrink = if self.params.same {
            0
        } else {
            self.params.window - 1
        };
        (h - shrink, w - shrink)
    }

    /// The map's shape for `none`: the input's leading axes, then the map's two.
    ///
    /// ```
    /// # use gpu_loss::{catalogue::{self, Loss}, cpu::images::{ImageDims, SsimParams}, problem::images::SsimProblem, Reduction};
    /// # let Some(Loss::Structured(loss)) = catalogue::find("ssim") else { unreachable!() };
    /// # let dims = ImageDims { images: 2, channels: 3, height: 32, width: 48 };
    /// # let p = SsimProblem { loss, dims, params: SsimParams::default(), taps: vec![], c1: 0.0, c2: 0.0, reduction: Reduction::Mean };
    /// // p: [2, 3, 32, 48] images, valid 11 × 11 windows
    /// assert_eq!(p.map_shape(&[2, 3, 32, 48]), [2, 3, 22, 38]);
    /// ```
    pub fn map_shape(&self, input: &[usize]) -> Vec<usize> {
        let (mh, mw) = self.map_size();
        let mut shape = input[..input.len() - 2].to_vec();
        shape.extend([mh, mw]);
        shape
    }

    /// Zero padding before the first pixel, on each axis.
    ///
    /// ```
    /// # use gpu_loss::{catalogue::{self, Loss}, cpu::images::{ImageDims, SsimParams}, problem::images::SsimProblem, Reduction};
    /// # let Some(Loss::Structured(loss)) = catalogue::find("ssim") else { unreachable!() };
    /// # let dims = ImageDims { images: 2, channels: 3, height: 32, width: 48 };
    /// # let p = SsimProblem { loss, dims, params: SsimParams::default(), taps: vec![], c1: 0.0, c2: 0.0, reduction: Reduction::Mean };
    /// // p: 11 × 11 windows
    /// assert_eq!(p.pad(), 0); // valid
    /// let same = SsimProblem { params: SsimParams { same: true, ..p.params }, ..p.clone() };
    /// assert_eq!((same.pad(), same.map_size()), (5, (32, 48)));
    /// ```
    pub fn pad(&self) -> usize {
        match self.params.same {
            true => self.params.window / 2,
            false => 0,
        }
    }

    /// The names its GPU checks report errors in.
    ///
    /// ```
    /// # use gpu_loss::{catalogue::{self, Loss}, cpu::images::{ImageDims, SsimParams}, problem::images::SsimProblem, Reduction};
    /// # let Some(Loss::Structured(loss)) = catalogue::find("ssim") else { unreachable!() };
    /// # let dims = ImageDims { images: 2, channels: 3, height: 32, width: 48 };
    /// # let p = SsimProblem { loss, dims, params: SsimParams::default(), taps: vec![], c1: 0.0, c2: 0.0, reduction: Reduction::Mean };
    /// assert_eq!((p.names().loss, p.names().input), ("ssim", "input"));
    /// ```
    pub fn names(&self) -> Names {
        Names::plain(self.loss.name, 0)
    }
}

/// One call of psnr: `images` of `per_image` elements each.
///
/// ```no_run
/// use gpu_loss::{catalogue::{self, Loss}, problem::images::PsnrProblem, GpuContext, Reduction};
/// let Some(Loss::Structured(psnr)) = catalogue::find("psnr") else { unreachable!() };
/// let ctx = GpuContext::new()?;
/// let x = ctx.upload(&vec![0.5; 4 * 3 * 8 * 8], &[4, 3, 8, 8])?;
/// let p = PsnrProblem::new(psnr, &x, &x, &[], Reduction::None)?;
/// assert_eq!((p.images, p.per_image, p.data_range), (4, 3 * 8 * 8, 1.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PsnrProblem {
    /// The catalogue entry.
    pub loss: &'static Structured,
    /// Images (the leading axes).
    pub images: usize,
    /// Elements per image.
    pub per_image: usize,
    /// One plane's height.
    pub height: usize,
    /// One plane's width.
    pub width: usize,
    /// The values' range (1 for [0, 1], 255 for bytes).
    pub data_range: f64,
    /// The reduction.
    pub reduction: Reduction,
}

impl PsnrProblem {
    /// Validates the tensors, parameters and reduction: the call, or the typed error.
    ///
    /// ```no_run
    /// use gpu_loss::{catalogue::{self, Loss}, problem::images::PsnrProblem, GpuContext, Reduction};
    /// let Some(Loss::Structured(psnr)) = catalogue::find("psnr") else { unreachable!() };
    /// let ctx = GpuContext::new()?;
    /// let x = ctx.upload(&vec![0.5; 3 * 8 * 8], &[3, 8, 8])?;
    /// assert!(PsnrProblem::new(psnr, &x, &x, &[], Reduction::Sum).is_err()); // none or mean only
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn new(
        loss: &'static Structured,
        x: &Tensor,
        y: &Tensor,
        given: &[(String, ParamValue)],
        reduction: Reduction,
    ) -> Result<PsnrProblem> {
        let p = params::resolve(loss.name, loss.params, given)?;
        mean_or_none(loss.name, reduction)?;
        let d = images(loss, x, y)?;
        Ok(PsnrProblem {
            loss,
            images: d.images,
            per_image: d.channels * d.height * d.width,
            height: d.height,
            width: d.width,
            data_range: p[0],
            reduction,
        })
    }

    /// The names its GPU checks report errors in.
    ///
    /// ```
    /// use gpu_loss::{catalogue::{self, Loss}, problem::images::PsnrProblem, Reduction};
    /// let Some(Loss::Structured(loss)) = catalogue::find("psnr") else { unreachable!() };
    /// let p = PsnrProblem { loss, images: 1, per_image: 3, height: 1, width: 3, data_range: 1.0, reduction: Reduction::Mean };
    /// assert_eq!((p.names().loss, p.names().target), ("psnr", "target"));
    /// ```
    pub fn names(&self) -> Names {
        Names::plain(self.loss.name, 0)
    }
}
