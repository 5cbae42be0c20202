//! A renderer's texture read in place as a loss's image: its planes are a tensor of shape
//! `[C, H, W]` (C the channels the caller picks) that the image losses (section G, and the
//! elementwise losses with no extra tensor, such as mse, mae, charbonnier) read with
//! `textureLoad`, without a copy into a buffer. An sRGB format reads as linear values, as
//! sampling it would.

use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::tensor::{Tensor, TextureSource};

/// The texture formats a loss reads, and how many channels each holds.
pub const FORMATS: [(wgpu::TextureFormat, usize); 7] = [
    (wgpu::TextureFormat::Rgba8Unorm, 4),
    (wgpu::TextureFormat::Rgba8UnormSrgb, 4),
    (wgpu::TextureFormat::Bgra8Unorm, 4),
    (wgpu::TextureFormat::Bgra8UnormSrgb, 4),
    (wgpu::TextureFormat::Rgba16Float, 4),
    (wgpu::TextureFormat::Rgba32Float, 4),
    (wgpu::TextureFormat::R32Float, 1),
];

impl GpuContext {
    /// The planes `channels` of `texture` (a 2-D texture of this context's device, one of
    /// [`FORMATS`], with TEXTURE_BINDING usage) as a tensor of shape `[C, H, W]`, read in
    /// place by the image losses. `&[0, 1, 2]` compares RGB and ignores alpha.
    ///
    /// ```no_run
    /// # fn demo(ctx: &gpu_loss::GpuContext, frame: &wgpu::Texture, reference: &wgpu::Texture)
    /// # -> gpu_loss::Result<()> {
    /// let x = ctx.wrap_texture(frame, &[0, 1, 2])?;
    /// let y = ctx.wrap_texture(reference, &[0, 1, 2])?;
    /// let ssim = ctx.loss("ssim")?.input(&x).target(&y).value()?;
    /// # Ok(()) }
    /// ```
    pub fn wrap_texture(&self, texture: &wgpu::Texture, channels: &[u32]) -> Result<Tensor> {
        let name = format!(
            "{:?} {}x{}",
            texture.format(),
            texture.width(),
            texture.height()
        );
        let fail = |why: String| LossError::Texture {
            texture: name.clone(),
            why,
        };
        let Some(&(format, held)) = FORMATS.iter().find(|(f, _)| *f == texture.format()) else {
            let known: Vec<String> = FORMATS.iter().map(|(f, _)| format!("{f:?}")).collect();
            return Err(fail(format!(
                "its format is not one a loss reads ({})",
                known.join(", ")
            )));
        };
        if !texture
            .usage()
            .contains(wgpu::TextureUsages::TEXTURE_BINDING)
        {
            return Err(fail("it lacks TEXTURE_BINDING usage".into()));
        }
        if texture.dimension() != wgpu::TextureDimension::D2
            || texture.depth_or_array_layers() != 1
            || texture.sample_count() != 1
        {
            return Err(fail(
                "a loss reads a 2-D texture of one layer and one sample".into(),
            ));
        }
        if channels.is_empty() || channels.len() > held {
            return Err(fail(format!(
                "{} channels asked for; it holds {held}",
                channels.len()
            )));
        }
        if let Some(c) = channels.iter().find(|&&c| c as usize >= held) {
            return Err(fail(format!("it has no channel {c} (it holds {held})")));
        }
        let view = texture.create_view(&wgpu::TextureViewDescriptor {
            label: Some("gpu-loss image"),
            base_mip_level: 0,
            mip_level_count: Some(1),
            ..Default::default()
        });
        let source = TextureSource {
            view,
            format,
            channels: channels.to_vec(),
            width: texture.width() as usize,
            height: texture.height() as usize,
        };
        Ok(Tensor::from_texture(source, self.inner.token))
    }
}
