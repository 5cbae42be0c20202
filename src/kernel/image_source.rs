//! The WGSL of the kernels over images (section G, and the elementwise losses on a texture's
//! planes): where each reads its images (a buffer or a texture, through `load_x`/`load_y`),
//! ssim's layouts, ms_ssim's scales.

use super::source::{loss_pieces, prelude, CodeConfig};
use crate::catalogue::Elementwise;
use crate::tensor::Tensor;

/// One compiled variant of shaders/ssim.wgsl: where it reads each image (buffer or
/// texture), what it writes, its window, its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SsimConfig {
    /// The reduction tree's strategy; the workgroup size is the layout's own.
    pub code: CodeConfig,
    pub x: Source,
    pub y: Source,
    pub write_out: bool,
    pub write_grad: bool,
    /// The window's taps: a constant, so that the filters unroll (7 odd sizes at most).
    pub window: u32,
    /// Strips in registers (CPU drivers) instead of tiles in workgroup memory (GPUs).
    pub strips: bool,
}

/// The side of an ssim tile, whose workgroup has one invocation per position.
pub(crate) const SSIM_TILE: u32 = 16;
const SSIM_TILES: &str = include_str!("../../shaders/ssim_tiles.wgsl");

pub(crate) fn ssim(c: &SsimConfig, template: &str) -> String {
    let code = CodeConfig {
        workgroup_size: match c.strips {
            true => super::ssim_strips::STRIP_GROUP,
            false => SSIM_TILE * SSIM_TILE,
        },
        ..c.code
    };
    let mut s = prelude(&code);
    s.push_str(&format!(
        "const WINDOW: u32 = {}u;\nconst WRITE_OUT: bool = {};\nconst WRITE_GRAD: bool = {};\n",
        c.window, c.write_out, c.write_grad
    ));
    s.push_str(&loader("x", 1, c.x));
    s.push_str(&loader("y", 2, c.y));
    s.push_str(template);
    if c.strips {
        s.push_str(&super::ssim_strips::strips(c.window));
    } else {
        // Three sources with halo (the gradient's P0..P2), or five row-filtered moments.
        let span = SSIM_TILE + c.window - 1;
        let tile_floats = (3 * span * span).max(5 * span * SSIM_TILE);
        s.push_str(&format!("const TILE_FLOATS: u32 = {tile_floats}u;\n"));
        s.push_str(SSIM_TILES);
    }
    s
}

/// One compiled variant of shaders/psnr.wgsl: where it reads each image and what it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ImagePairConfig {
    pub code: CodeConfig,
    pub x: Source,
    pub y: Source,
    pub write_out: bool,
    pub write_grad: bool,
}

pub(crate) fn psnr(c: &ImagePairConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&format!(
        "const WRITE_OUT: bool = {};\nconst WRITE_GRAD: bool = {};\n",
        c.write_out, c.write_grad
    ));
    s.push_str(&loader("x", 1, c.x));
    s.push_str(&loader("y", 2, c.y));
    s.push_str(template);
    s
}

/// One compiled variant of shaders/ms_ssim.wgsl: where `down` reads (the finest scale may be
/// a texture's planes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MsSsimConfig {
    pub code: CodeConfig,
    pub src: Source,
}

/// shaders/ms_ssim.wgsl: the shared pieces, the number of scales, the source's loader.
pub(crate) fn ms_ssim(c: &MsSsimConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&loader("src", 1, c.src));
    s.push_str(&format!(
        "const SCALES: u32 = {}u;\n",
        crate::cpu::images::MS_SSIM_WEIGHTS.len()
    ));
    s.push_str(template);
    s
}

/// Where a kernel reads one of its images: a storage buffer of f32, or a texture's planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    Buffer,
    /// The channels that are the planes, in order (`count` of them).
    Texture {
        channels: [u8; 4],
        count: u8,
    },
}

impl Source {
    pub(crate) fn of(t: &Tensor) -> Source {
        match t.texture() {
            None => Source::Buffer,
            Some(tex) => {
                let mut channels = [0u8; 4];
                for (d, &c) in channels.iter_mut().zip(&tex.channels) {
                    *d = c as u8;
                }
                Source::Texture {
                    channels,
                    count: tex.channels.len() as u8,
                }
            }
        }
    }

    pub(crate) fn is_texture(self) -> bool {
        matches!(self, Source::Texture { .. })
    }
}

/// Declares binding `binding` as image `name`'s source and `load_{name}(i, c, r, plane)`:
/// element `i` of a buffer, or texel (c, r)'s channel for `plane` of a texture.
pub(crate) fn loader(name: &str, binding: u32, source: Source) -> String {
    match source {
        Source::Buffer => format!(
            "@group(0) @binding({binding}) var<storage, read> {name}_buf: array<f32>;\n\
             fn load_{name}(i: u32, c: u32, r: u32, plane: u32) -> f32 {{\n    \
             return {name}_buf[i];\n}}\n"
        ),
        Source::Texture { channels, count } => {
            let mut pick = String::new();
            for (plane, ch) in channels[..count as usize].iter().enumerate() {
                pick.push_str(&format!("    if plane == {plane}u {{ k = {ch}u; }}\n"));
            }
            format!(
                "@group(0) @binding({binding}) var {name}_tex: texture_2d<f32>;\n\
                 fn load_{name}(i: u32, c: u32, r: u32, plane: u32) -> f32 {{\n    \
                 let t = textureLoad({name}_tex, vec2<u32>(c, r), 0);\n    \
                 var k = 0u;\n{pick}    \
                 return select(select(select(t.x, t.y, k == 1u), t.z, k == 2u), t.w, k == 3u);\n}}\n"
            )
        }
    }
}

/// Binding slots (a bit each) that are textures for these sources at bindings 1 and 2.
pub(crate) fn texture_slots(x: Source, y: Source) -> u32 {
    u32::from(x.is_texture()) << 1 | u32::from(y.is_texture()) << 2
}

/// One compiled variant of shaders/texture_elementwise.wgsl: an elementwise loss over a
/// texture's planes (or a buffer's, beside a texture).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TextureElementConfig {
    pub loss: &'static Elementwise,
    pub code: CodeConfig,
    pub x: Source,
    pub y: Source,
    pub write_out: bool,
    pub write_grad: bool,
}

pub(crate) fn texture_elementwise(c: &TextureElementConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&format!(
        "const WRITE_OUT: bool = {};\nconst WRITE_GRAD: bool = {};\n",
        c.write_out, c.write_grad
    ));
    s.push_str(&loss_pieces(c.loss, false, None));
    s.push_str(&loader("x", 1, c.x));
    s.push_str(&loader("y", 2, c.y));
    s.push_str(template);
    s
}
